// partition create | show | policy | domain list|add|label|delete | suites
#include <algorithm>
#include <iostream>

#include "tool/context.hpp"
#include "tool/secrets.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Status;

struct Opened {
  Address addr;
  std::unique_ptr<api::Partition> part;
};

api::Result<Opened> open(Context& ctx, const po::variables_map& vm, bool login) {
  HSM_TRY_ASSIGN(Address a, parse_address(vm["address"].as<std::string>()));
  HSM_TRY_ASSIGN(auto part, ctx.fleet->open_partition(a));
  if (login) HSM_TRY(ctx.login(*part, a));
  return Opened{a, std::move(part)};
}

void print_partition(std::ostream& os, const api::Endpoint& ep) {
  const auto& p = ep.partition;
  os << ep.address() << ": " << api::to_string(p.type) << ", " << api::to_string(p.auth)
     << (p.fips ? ", FIPS" : ", non-FIPS") << ", " << p.object_count << " object(s)\n  policies:";
  for (auto [k, v] : p.policies) os << " " << k << "=" << v;
  os << "\n  domains:\n";
  for (const auto& d : p.domains)
    os << "    " << (d.label.empty() ? "(unlabelled)" : d.label) << " [" << api::to_string(d.kind)
       << "]" << (d.primary ? " primary" : "") << " " << d.fingerprint.substr(0, 16) << "\n";
  if (!p.transport.empty()) {  // a PKCS#11 token: what it was found to move (T3)
    os << "  key transport:";
    for (const auto& c : p.transport) {
      os << " " << api::to_string(c.type);
      if (!c.curves.empty())
        for (std::size_t i = 0; i < c.curves.size(); ++i) os << (i ? "/" : " ") << c.curves[i];
      else
        os << " " << c.min_bits << "-" << c.max_bits;
      os << ";";
    }
    os << "\n";
  }
  if (!p.suites_available.empty()) {
    os << "  CPv4 suites:";
    for (const auto& s : p.suites_available) {
      bool on = std::find(p.suites_enabled.begin(), p.suites_enabled.end(), s) != p.suites_enabled.end();
      os << " " << s << (on ? "(on)" : "(off)");
    }
    os << "\n";
  }
}

Status show_after(Context& ctx, api::Partition& part, const char* what) {
  HSM_TRY_ASSIGN(api::Endpoint ep, part.describe());
  json j = to_json(ep.partition);
  j["device"] = ep.device.name;
  if (!ep.partition.transport.empty()) {
    json t = json::array();
    for (const auto& c : ep.partition.transport)
      t.push_back({{"type", api::to_string(c.type)}, {"min_bits", c.min_bits}, {"max_bits", c.max_bits},
                   {"curves", c.curves}});
    j["transport"] = t;
  }
  ctx.emit({{what, j}}, [&](std::ostream& os) { print_partition(os, ep); });
  return {};
}

Status create(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("partition create");
  desc.add_options()("type", po::value<std::string>()->default_value("v0"), "v0|v1")(
      "auth", po::value<std::string>()->default_value("password"), "password|mfa")(
      "fips", "FIPS mode")("domain-file", po::value<std::string>()->default_value(""), "text domain")(
      "ped-key", po::value<std::string>()->default_value(""), "PED-key domain secret file")(
      "domain-label", po::value<std::string>()->default_value(""), "label of the first domain");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  HSM_TRY_ASSIGN(Address a, parse_address(vm["address"].as<std::string>()));
  api::PartitionCreateRequest req;
  req.name = a.partition;
  auto type = api::parse_partition_type(vm["type"].as<std::string>());
  auto auth = api::parse_auth_kind(vm["auth"].as<std::string>());
  if (!type) return Error::usage("--type is v0 or v1");
  if (!auth) return Error::usage("--auth is password or mfa");
  req.type = *type;
  req.auth = *auth;
  req.fips = vm.count("fips") > 0;
  HSM_TRY_ASSIGN(req.domain, domain_secret(vm["domain-file"].as<std::string>(),
                                           vm["ped-key"].as<std::string>(),
                                           vm["domain-label"].as<std::string>()));
  HSM_TRY_ASSIGN(req.pin, partition_pin(ctx.opts.pin_file, vm["address"].as<std::string>()));
  HSM_TRY_ASSIGN(auto dev, ctx.fleet->open(a.device));
  HSM_TRY_ASSIGN(auto part, dev->create_partition(req));
  return show_after(ctx, *part, "created");
}

Status show(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("partition show");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  HSM_TRY_ASSIGN(Opened o, open(ctx, vm, false));
  return show_after(ctx, *o.part, "partition");
}

Status policy(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("partition policy");
  desc.add_options()("set", po::value<std::vector<std::string>>()->required(), "N=V");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  HSM_TRY_ASSIGN(Opened o, open(ctx, vm, true));
  for (const auto& s : vm["set"].as<std::vector<std::string>>()) {
    HSM_TRY_ASSIGN(auto kv, parse_policy_assignment(s));
    HSM_TRY(o.part->set_policy(kv.first, kv.second));
  }
  return show_after(ctx, *o.part, "partition");
}

Status domain_list(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("partition domain list");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  HSM_TRY_ASSIGN(Opened o, open(ctx, vm, false));
  HSM_TRY_ASSIGN(api::Endpoint ep, o.part->describe());
  json j = to_json(ep.partition)["domains"];
  ctx.emit({{"domains", j}}, [&](std::ostream& os) {
    int i = 1;
    for (const auto& d : ep.partition.domains)
      os << i++ << ". " << (d.label.empty() ? "(unlabelled)" : d.label) << " ["
         << api::to_string(d.kind) << "]" << (d.primary ? " primary" : "") << " " << d.fingerprint
         << "\n";
  });
  return {};
}

Status domain_add(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("partition domain add");
  desc.add_options()("domain-file", po::value<std::string>()->default_value(""), "text domain")(
      "ped-key", po::value<std::string>()->default_value(""), "PED-key file")(
      "label", po::value<std::string>()->required(), "label")("primary", "make it the primary");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  HSM_TRY_ASSIGN(Opened o, open(ctx, vm, true));
  HSM_TRY_ASSIGN(api::DomainSecret d, domain_secret(vm["domain-file"].as<std::string>(),
                                                    vm["ped-key"].as<std::string>(),
                                                    vm["label"].as<std::string>()));
  HSM_TRY(o.part->domain_add(d, vm.count("primary") > 0));
  return show_after(ctx, *o.part, "partition");
}

Status domain_label(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("partition domain label");
  desc.add_options()("label", po::value<std::string>()->default_value(""), "current label")(
      "new-label", po::value<std::string>(), "new label (default: unchanged)")(
      "primary", "make this domain the primary");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  HSM_TRY_ASSIGN(Opened o, open(ctx, vm, true));
  const std::string label = vm["label"].as<std::string>();
  const std::string next = vm.count("new-label") ? vm["new-label"].as<std::string>() : label;
  HSM_TRY(o.part->domain_label(label, next, vm.count("primary") > 0));
  return show_after(ctx, *o.part, "partition");
}

Status domain_delete(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("partition domain delete");
  desc.add_options()("label", po::value<std::string>()->required(), "label of the domain");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  HSM_TRY_ASSIGN(Opened o, open(ctx, vm, true));
  HSM_TRY(o.part->domain_delete(vm["label"].as<std::string>()));
  return show_after(ctx, *o.part, "partition");
}

Status suites(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("partition suites");
  desc.add_options()("enable", po::value<std::vector<std::string>>(), "suite to enable")(
      "disable", po::value<std::vector<std::string>>(), "suite to disable");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  const bool change = vm.count("enable") || vm.count("disable");
  HSM_TRY_ASSIGN(Opened o, open(ctx, vm, change));
  if (vm.count("enable"))
    for (const auto& s : vm["enable"].as<std::vector<std::string>>()) HSM_TRY(o.part->set_suite(s, true));
  if (vm.count("disable"))
    for (const auto& s : vm["disable"].as<std::vector<std::string>>()) HSM_TRY(o.part->set_suite(s, false));
  HSM_TRY_ASSIGN(api::Endpoint ep, o.part->describe());
  ctx.emit({{"suites_available", ep.partition.suites_available},
            {"suites_enabled", ep.partition.suites_enabled}},
           [&](std::ostream& os) {
             if (ep.partition.suites_available.empty())
               os << ep.address() << " has no CPv4 cipher suites (firmware below 7.8.0)\n";
             for (const auto& s : ep.partition.suites_available) {
               bool on = std::find(ep.partition.suites_enabled.begin(), ep.partition.suites_enabled.end(),
                                   s) != ep.partition.suites_enabled.end();
               os << s << (on ? " enabled\n" : " disabled\n");
             }
           });
  return {};
}

// The HSM SO's reset of a partition PIN: after a lockout (ten wrong PINs in
// a row, CKR_PIN_LOCKED) or a lost PIN. The new PIN comes from the PIN paths
// (--pin-file, HSM_MIGRATE_PIN, a prompt); in this emulation the SO is
// whoever holds the fleet folder (man hsm-migrate, "PINs").
Status reset_pin(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("partition reset-pin");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  HSM_TRY_ASSIGN(Opened o, open(ctx, vm, false));
  HSM_TRY_ASSIGN(api::SecretBytes pin,
                 partition_pin(ctx.opts.pin_file, "the NEW PIN of " + o.addr.device + "/" + o.addr.partition));
  HSM_TRY(o.part->reset_pin(pin));
  ctx.emit({{"ok", true}, {"partition", o.addr.device + "/" + o.addr.partition}, {"pin_reset", true}},
           [&](std::ostream& os) {
             os << o.addr.device << "/" << o.addr.partition << ": PIN reset, failed-login count cleared\n";
           });
  return {};
}

}  // namespace

void add_partition_commands(std::vector<Command>& out) {
  out.push_back({"partition create",
                 "partition create DEV/PART [--type v0|v1] [--auth password|mfa] [--fips] "
                 "(--domain-file F | --ped-key F) [--domain-label L]",
                 create});
  out.push_back({"partition show", "partition show DEV/PART", show});
  out.push_back({"partition reset-pin", "partition reset-pin DEV/PART   (the new PIN from --pin-file, HSM_MIGRATE_PIN or a prompt)",
                 reset_pin});
  out.push_back({"partition policy", "partition policy DEV/PART --set N=V [--set N=V ...]", policy});
  out.push_back({"partition domain list", "partition domain list DEV/PART", domain_list});
  out.push_back({"partition domain add",
                 "partition domain add DEV/PART (--domain-file F | --ped-key F) --label L [--primary]",
                 domain_add});
  out.push_back({"partition domain label",
                 "partition domain label DEV/PART --label L [--new-label N] [--primary]", domain_label});
  out.push_back({"partition domain delete", "partition domain delete DEV/PART --label L", domain_delete});
  out.push_back({"partition suites", "partition suites DEV/PART [--enable S] [--disable S]", suites});
}

}  // namespace hsm::tool
