// key generate | object list
#include <iomanip>
#include <iostream>

#include "tool/context.hpp"
#include "tool/display.hpp"
#include "tool/lock.hpp"
#include "tool/progress.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Status;

Status generate(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("key generate");
  desc.add_options()("type", po::value<std::string>()->required(), "key type, e.g. aes-256")(
      "count", po::value<int>()->default_value(1), "how many keys")(
      "label", po::value<std::string>()->default_value(""), "label (-N appended when --count > 1)")(
      "non-extractable", "CKA_EXTRACTABLE = false")(
      "keygen-mechanism", po::value<std::string>()->default_value(""), "RSA: pkcs|x9.31|186-3")(
      "wait", po::value<int>(), "wait up to SECONDS for the partition lock");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  HSM_TRY_ASSIGN(Address a, parse_address(vm["address"].as<std::string>()));
  api::KeyGenRequest req;
  req.type = vm["type"].as<std::string>();
  req.count = vm["count"].as<int>();
  req.label = vm["label"].as<std::string>();
  req.extractable = vm.count("non-extractable") == 0;
  req.client = ctx.client;
  if (const auto& m = vm["keygen-mechanism"].as<std::string>(); !m.empty()) {
    auto mech = api::parse_keygen_mechanism(m);
    if (!mech || *mech == api::KeygenMechanism::none)
      return Error::usage("--keygen-mechanism is pkcs, x9.31 or 186-3");
    req.mechanism = *mech;
  }
  // A writer of the partition: its lock, as clone and restore take it.
  auto lock = PartitionLock::acquire(ctx.fleet->home(), a.device, a.partition, "key generate",
                                     vm.count("wait") ? vm["wait"].as<int>() : 0);
  if (!lock.ok()) return lock.error();
  HSM_TRY_ASSIGN(auto part, ctx.fleet->open_partition(a));
  HSM_TRY(ctx.login(*part, a));
  ProgressOptions bar_options = ProgressOptions::for_stderr(ctx.opts.quiet || ctx.opts.json);
  bar_options.unit = "keys";
  Progress bar(std::cerr, bar_options);
  req.progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update("generate", done, total); };
  HSM_TRY_ASSIGN(api::KeyGenResult made, part->generate_keys(req));
  bar.clear();  // the summary starts on its own line
  const auto& created = made.created;
  json objs = json::array();
  for (const auto& o : created) objs.push_back(to_json(o));
  json notices = json::array();
  for (const auto& n : made.notices) notices.push_back(to_json(n));
  ctx.emit({{"ok", true}, {"partition", vm["address"].as<std::string>()}, {"created", objs}, {"notices", notices}},
           [&](std::ostream& os) {
             os << "generated " << created.size() << " object(s) in " << vm["address"].as<std::string>();
             if (!created.empty())
               os << " (handles #" << created.front().handle << "..#" << created.back().handle << ")";
             os << "\n";
             for (const auto& n : made.notices) os << "note: rule " << n.rule << ": " << n.message << "\n";
           });
  return {};
}

// Streams: memory stays flat whatever the object count.
Status list(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("object list");
  desc.add_options()("public", "list only the public objects, without logging in");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  HSM_TRY_ASSIGN(Address a, parse_address(vm["address"].as<std::string>()));
  HSM_TRY_ASSIGN(auto part, ctx.fleet->open_partition(a));
  // A partition's keys are private objects: listing them needs the login,
  // as in PKCS#11 (--public lists what anyone may see, with no PIN).
  if (!vm.count("public")) HSM_TRY(ctx.login(*part, a));
  std::ostream& os = std::cout;
  std::uint64_t n = 0;
  if (ctx.opts.json) {
    os << "{\n  \"ok\": true,\n  \"schema_version\": " << kJsonSchemaVersion
       << ",\n  \"partition\": " << json(vm["address"].as<std::string>()).dump() << ",\n  \"objects\": [";
    HSM_TRY(part->for_each_object([&](const api::ObjectDesc& o) {
      os << (n++ ? ",\n    " : "\n    ") << to_json(o).dump(-1, ' ', false, json::error_handler_t::replace);
      return true;
    }));
    os << (n ? "\n  ]" : "]") << ",\n  \"count\": " << n << "\n}\n";
    return {};
  }
  if (ctx.opts.quiet) return {};
  HSM_TRY(part->for_each_object([&](const api::ObjectDesc& o) {
    os << "#" << std::left << std::setw(7) << o.handle << std::setw(12) << api::to_string(o.cls)
       << std::setw(8) << api::to_string(o.key_type) << std::setw(6) << o.bits
       << (o.extractable ? "extractable     " : "non-extractable ") << o.fingerprint.substr(0, 16)
       << "  " << escaped(o.label) << "\n";
    ++n;
    return true;
  }));
  os << n << " object(s)\n";
  return {};
}

}  // namespace

void add_object_commands(std::vector<Command>& out) {
  out.push_back({"key generate",
                 "key generate DEV/PART --type T [--count N] [--label L] [--non-extractable] "
                 "[--keygen-mechanism pkcs|x9.31|186-3] [--wait S]",
                 generate});
  out.push_back({"object list", "object list DEV/PART [--public]", list});
}

}  // namespace hsm::tool
