// diff A B [--with DEV/PART] [--trusted-root FILE]...   (issue 11 §5)
// A and B are partitions (DEV/PART, a Backup HSM's too) or archives (a path,
// s3://BUCKET/KEY, or a repository prefix: its newest archive). The objects
// each holds are compared by fingerprint (tool/object_diff.hpp).
//
// An archive keeps its objects' fingerprints sealed under the domain: a
// partition of that domain opens its blobs, writing nothing (as `archive
// show --with`). That is --with, or else the partition on the other side.
// An object that cannot be opened is not compared, so the diff fails rather
// than call two sides the same that it could not look at.
#include <iostream>

#include "tool/archive_ops.hpp"
#include "tool/commands/archive_options.hpp"
#include "tool/context.hpp"
#include "tool/display.hpp"
#include "tool/object_diff.hpp"
#include "tool/progress.hpp"
#include "tool/repo_s3.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Status;

struct Side {
  std::string name;             // as given
  std::optional<Address> part;  // a partition; else an archive
  json objects = json::array();
  json notes = json::array();  // e.g. an archive of format 1
};

// A side is a partition when it is no file, no S3 address, and parses as
// DEV/PART of a device of this fleet; else an archive.
api::Result<Side> classify(const Context& ctx, const std::string& arg) {
  Side s;
  s.name = arg;
  std::error_code ec;
  if (is_s3(arg) || std::filesystem::exists(arg, ec)) return s;
  auto a = parse_address(arg);
  if (a.ok() && ctx.fleet->kind_of(a->device).ok()) {
    s.part = *a;
    return s;
  }
  return Error::usage(
      arg + " is neither an archive (no such file) nor a partition of this fleet",
      "give an archive path, s3://BUCKET/KEY, or DEV/PART (hsm-migrate device list)");
}

Status read_partition(Context& ctx, Side& s) {
  HSM_TRY_ASSIGN(auto part, ctx.fleet->open_partition(*s.part));
  HSM_TRY(ctx.login(*part, *s.part));
  return part->for_each_object([&](const api::ObjectDesc& o) {
    s.objects.push_back(to_json(o));
    return true;
  });
}

Status read_archive(Context& ctx, Side& s, const po::variables_map& vm, const Address& opener,
                    const ArchiveProgress& progress) {
  ShowRequest req;
  req.archive = s.name;
  req.repo = repo_options_of(vm);
  req.trusted_roots = roots_of(vm);
  req.with = opener;
  req.progress = progress;
  HSM_TRY_ASSIGN(ArchiveOutcome out, run_archive_show(ctx, req));
  if (out.refused_or_failed) {
    const json& first = out.doc["opened_with"]["refused"][0];
    return Error::refused(first.value("rule", ""), first.value("code", ""),
                          std::to_string(out.refused_or_failed) + " object(s) of " + s.name +
                              " could not be opened by " + opener.device + "/" + opener.partition +
                              ", so they cannot be compared; first: " + first.value("message", ""),
                          "open the archive with a partition of its domain that accepts its "
                          "objects (--with DEV/PART)");
  }
  s.name = out.doc["archive"].get<std::string>();  // a prefix names its newest archive
  if (out.doc.contains("protection_notice")) s.notes.push_back(out.doc["protection_notice"]);
  for (auto& r : out.doc["records"])
    if (r["blob_type"] == "object") {
      r.erase("blob_type");
      r.erase("sealed_bytes");
      r.erase("index");
      s.objects.push_back(std::move(r));
    }
  return {};
}

void print_object(std::ostream& os, const char* mark, const json& o) {
  os << "  " << mark << " #" << o.value("handle", std::uint64_t{0}) << " " << o.value("class", "?")
     << " " << o.value("key_type", "?") << " \"" << escaped(o.value("label", "")) << "\" "
     << o.value("fingerprint", "") << "\n";
}

Status diff(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("diff");
  desc.add_options()(
      "with", po::value<std::string>(),
      "a DEV/PART of the archives' domain that opens their blobs (writing nothing); default: the "
      "partition on the other side")(
      "trusted-root", po::value<std::vector<std::string>>()->composing(), kTrustedRootHelp);
  add_repo_options(desc);
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"a", "b"}));
  if (!vm.count("a") || !vm.count("b"))
    return Error::usage("diff needs A and B (each DEV/PART or an archive)");
  HSM_TRY_ASSIGN(Side a, classify(ctx, vm["a"].as<std::string>()));
  HSM_TRY_ASSIGN(Side b, classify(ctx, vm["b"].as<std::string>()));
  std::optional<Address> opener;
  if (vm.count("with")) {
    HSM_TRY_ASSIGN(Address w, parse_address(vm["with"].as<std::string>()));
    opener = w;
  } else {
    opener = a.part ? a.part : b.part;
  }
  if ((!a.part || !b.part) && !opener)
    return Error::usage(
        "two archives need --with DEV/PART: their fingerprints are sealed under the domain",
        "name a partition of the archives' domain with --with (it writes nothing)");
  Progress bar(std::cerr, ProgressOptions::for_stderr(ctx.opts.quiet || ctx.opts.json));
  for (Side* s : {&a, &b})
    HSM_TRY(s->part ? read_partition(ctx, *s) : read_archive(ctx, *s, vm, *opener, bar.callback()));
  bar.clear();

  const ObjectDiff d = diff_objects(a.objects, b.objects);
  auto side_json = [](const Side& s) {
    return json{{"name", json_safe(s.name)},
                {"kind", s.part ? "partition" : "archive"},
                {"objects", s.objects.size()},
                {"notes", s.notes}};
  };
  json doc{{"a", side_json(a)},   {"b", side_json(b)},        {"identical", d.identical()},
           {"same", d.same},      {"only_in_a", d.only_in_a}, {"only_in_b", d.only_in_b},
           {"changed", d.changed}};
  if (opener && (!a.part || !b.part)) doc["opened_with"] = opener->device + "/" + opener->partition;
  ctx.emit(doc, [&](std::ostream& os) {
    for (const Side* s : {&a, &b})
      for (const auto& n : s->notes)
        os << "note: " << escaped(s->name) << ": " << n.get<std::string>() << "\n";
    os << "A " << escaped(a.name) << " (" << a.objects.size() << " object(s))\n"
       << "B " << escaped(b.name) << " (" << b.objects.size() << " object(s))\n";
    for (const auto& o : d.only_in_a) print_object(os, "only in A", o);
    for (const auto& o : d.only_in_b) print_object(os, "only in B", o);
    for (const auto& c : d.changed) {
      print_object(os, "changed, A", c["a"]);
      print_object(os, "changed, B", c["b"]);
    }
    if (d.identical())
      os << "identical: the same " << d.same << " object(s) by fingerprint\n";
    else
      os << d.same << " the same, " << d.only_in_a.size() << " only in A, " << d.only_in_b.size()
         << " only in B, " << d.changed.size()
         << " changed (same class and label, another fingerprint)\n";
  });
  return {};
}

}  // namespace

void add_diff_commands(std::vector<Command>& out) {
  out.push_back(
      {"diff",
       "diff A B [--with DEV/PART] [--trusted-root FILE]...  (A, B: DEV/PART or an archive)",
       diff});
}

}  // namespace hsm::tool
