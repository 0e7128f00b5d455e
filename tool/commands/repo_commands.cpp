// repo init s3://BUCKET[/PREFIX] --lock-mode COMPLIANCE|GOVERNANCE --lock-days N
// archive list (DIR | s3://BUCKET[/PREFIX]) [--no-verify] [--trusted-root FILE]...
// archive show ARCHIVE [--with DEV/PART] [--any-root] [--trusted-root FILE]...
// Thin wrappers over tool/repo_ops.hpp and tool/archive_ops.hpp: parse, call, print.
#include <iostream>

#include "tool/archive_ops.hpp"
#include "tool/commands/archive_options.hpp"
#include "tool/display.hpp"
#include "tool/repo_ops.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Status;



Status repo_init(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("repo init");
  desc.add_options()("lock-mode", po::value<std::string>(),
                     "the default Object Lock retention: COMPLIANCE (nobody, not even the account's root, deletes "
                     "a version or shortens its retention before the date) or GOVERNANCE (a user with "
                     "s3:BypassGovernanceRetention may)")(
      "lock-days", po::value<int>(), "how many days every new archive is retained (1 to 36500)");
  add_repo_options(desc);
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"address"}));
  if (!vm.count("address") || !vm.count("lock-mode") || !vm.count("lock-days"))
    return Error::usage("repo init needs s3://BUCKET[/PREFIX], --lock-mode COMPLIANCE|GOVERNANCE and --lock-days N");
  RepoInitRequest req;
  req.address = vm["address"].as<std::string>();
  req.repo = repo_options_of(vm);
  std::string mode = vm["lock-mode"].as<std::string>();
  for (char& c : mode) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto m = repo::s3::lock_mode_from(mode);
  if (!m)
    return Error::usage("--lock-mode \"" + vm["lock-mode"].as<std::string>() + "\" is not a lock mode",
                        "give COMPLIANCE or GOVERNANCE");
  req.mode = *m;
  req.days = vm["lock-days"].as<int>();
  HSM_TRY_ASSIGN(json doc, run_repo_init(req));
  ctx.emit(doc, [&](std::ostream& os) {
    os << "created " << doc["repository"].get<std::string>() << " at " << doc["endpoint"].get<std::string>()
       << ": Object Lock on, every new archive retained " << doc["default_retention"]["days"].get<int>()
       << " day(s) in " << doc["default_retention"]["mode"].get<std::string>() << " mode\n";
  });
  return {};
}

Status archive_list(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("archive list");
  desc.add_options()("no-verify",
                     "read only each archive's header (fast): no object count and no verdict")(
      "trusted-root", po::value<std::vector<std::string>>()->composing(), kTrustedRootHelp);
  add_repo_options(desc);
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"where"}));
  if (!vm.count("where")) return Error::usage("archive list needs a folder or s3://BUCKET[/PREFIX]");
  ListRequest req;
  req.where = vm["where"].as<std::string>();
  req.repo = repo_options_of(vm);
  req.trusted_roots = roots_of(vm);
  req.verify = vm.count("no-verify") == 0;
  HSM_TRY_ASSIGN(ListOutcome out, run_archive_list(ctx, req));
  ctx.emit(out.doc, [&](std::ostream& os) {
    const json& c = out.doc["counts"];
    os << req.where << ": " << c["archives"].get<std::size_t>() << " archive(s)";
    if (req.verify)
      os << ", " << c["verified"].get<std::size_t>() << " verified, " << c["damaged_or_untrusted"].get<std::size_t>()
         << " damaged or untrusted";
    os << "\n";
    os << "  created (UTC)         source                       objects  bytes        scope     verifies  name\n";
    for (const auto& a : out.doc["archives"]) {
      auto pad = [](std::string s, std::size_t n) { return s.size() >= n ? s + " " : s + std::string(n - s.size(), ' '); };
      const std::string objects = a["objects"].is_null() ? "-" : std::to_string(a["objects"].get<std::uint64_t>());
      const std::string verdict = a["status"] == "verified" ? "yes" : a["status"] == "unchecked" ? "-" : "NO";
      os << "  " << pad(a.value("created", "?"), 22) << pad(escaped(a.value("source", "?")), 29) << pad(objects, 9)
         << pad(std::to_string(a["size"].get<std::uint64_t>()), 13) << pad(a.value("scope", "?"), 10)
         << pad(verdict, 10) << escaped(a["name"].get<std::string>()) << "\n";
      if (a.contains("reason")) os << "      " << a["status"].get<std::string>() << ": " << a["reason"].get<std::string>() << "\n";
    }
  });
  if (out.damaged) {
    if (ctx.opts.json) return Error{api::ErrorKind::integrity, "", "", "", ""};
    for (const auto& a : out.doc["archives"])
      if (a["status"] == "damaged" || a["status"] == "untrusted")
        return Error{api::ErrorKind::integrity,
                     std::to_string(out.damaged) + " archive(s) in " + req.where +
                         " do not verify or are not trusted; first: " + a["name"].get<std::string>() + ": " +
                         a["reason"].get<std::string>(),
                     {}, {}, "check them with `hsm-migrate verify`"};
  }
  return {};
}

Status archive_show(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("archive show");
  desc.add_options()("with", po::value<std::string>(),
                     "a DEV/PART of the archive's domain opens every blob (writing nothing) to show each object's "
                     "class, key type, size, CKA_ID and fingerprint")(
      "any-root", "show an archive whose root is not trusted here (said so; exit 4 unless --accept-unauthenticated)")(
      "accept-unauthenticated", "with --any-root: exit 0 although the root is not trusted")(
      "trusted-root", po::value<std::vector<std::string>>()->composing(), kTrustedRootHelp);
  add_repo_options(desc);
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"archive"}));
  if (!vm.count("archive")) return Error::usage("archive show needs ARCHIVE (a path or s3://BUCKET/KEY)");
  if (vm.count("accept-unauthenticated") && !vm.count("any-root"))
    return Error::usage("--accept-unauthenticated goes with --any-root");
  ShowRequest req;
  req.archive = vm["archive"].as<std::string>();
  req.repo = repo_options_of(vm);
  req.trusted_roots = roots_of(vm);
  req.any_root = vm.count("any-root") > 0;
  if (vm.count("with")) {
    HSM_TRY_ASSIGN(Address a, parse_address(vm["with"].as<std::string>()));
    req.with = a;
  }
  HSM_TRY_ASSIGN(ArchiveOutcome out, run_archive_show(ctx, req));
  ctx.emit(out.doc, [&](std::ostream& os) {
    const json& h = out.doc["header"];
    os << out.doc["archive"].get<std::string>() << "\n"
       << "  archive id  " << h["archive_id"].get<std::string>() << " (format " << h["format_version"].get<std::uint32_t>()
       << ")\n"
       << "  source      " << escaped(h["source"].get<std::string>()) << " (" << h["device_kind"].get<std::string>() << " "
       << h["firmware"].get<std::string>() << ", " << h["partition_type"].get<std::string>() << ")\n"
       << "  created     " << prune_iso_utc(h["created_at"].get<std::int64_t>()) << "\n"
       << "  scope       " << h["scope"].get<std::string>()
       << (h["selector"].get<std::string>().empty() ? "" : " \"" + escaped(h["selector"].get<std::string>()) + "\"") << "\n"
       << "  domain tag  " << h["domain_fingerprint"].get<std::string>() << "\n"
       << "  signed by   " << out.doc["hok_subject"].get<std::string>() << "\n"
       << "  root        " << out.doc["root_sha256"].get<std::string>()
       << (out.unauthenticated ? " (NOT TRUSTED here)" : " (trusted as " + out.doc.value("trusted_as", "?") + ")") << "\n"
       << "  objects     " << out.doc["objects"].get<std::uint64_t>() << " (" << out.doc["blobs"].get<std::uint64_t>()
       << " blob(s), " << out.doc["file_bytes"].get<std::uint64_t>() << " bytes)\n";
    if (out.doc.contains("opened_with"))
      os << "  opened by   " << out.doc["opened_with"]["partition"].get<std::string>() << ": "
         << out.doc["opened_with"]["blobs_opened"].get<std::uint64_t>() << " blob(s)"
         << (out.doc["opened_with"]["mac_verified"].get<bool>() ? ", archive MAC verified" : "") << "\n";
    else
      os << "  (class, key type, size, id and fingerprint are sealed: add --with DEV/PART of the domain)\n";
    for (const auto& r : out.doc["records"]) {
      os << "  #" << r["handle"].get<std::uint64_t>() << " " << escaped(r["label"].get<std::string>()) << "  "
         << r["blob_type"].get<std::string>() << ", " << r["sealed_bytes"].get<std::uint64_t>() << " sealed bytes";
      if (r.contains("class"))
        os << "; " << r["class"].get<std::string>() << " " << r["key_type"].get<std::string>() << " "
           << r["bits"].get<int>() << " bits" << (r.contains("curve") ? " " + r["curve"].get<std::string>() : "")
           << ", id " << (r["id"].get<std::string>().empty() ? "-" : r["id"].get<std::string>()) << ", fingerprint "
           << r["fingerprint"].get<std::string>();
      os << "\n";
    }
  });
  if (out.refused_or_failed) {
    if (ctx.opts.json) return Error{api::ErrorKind::refused, "", "", "", ""};
    const json& first = out.doc["opened_with"]["refused"][0];
    return Error::refused(first["rule"].get<std::string>(), first["code"].get<std::string>(),
                          std::to_string(out.refused_or_failed) + " object(s) could not be opened by " +
                              out.doc["opened_with"]["partition"].get<std::string>() + "; first: " +
                              first["message"].get<std::string>(),
                          first.value("fix", ""));
  }
  if (out.unauthenticated && !vm.count("accept-unauthenticated"))
    return Error{api::ErrorKind::integrity,
                 ctx.opts.json ? "" : out.doc["archive"].get<std::string>() + " is not authenticated: its root " +
                                          out.doc["root_sha256"].get<std::string>() + " is not trusted here",
                 {}, {},
                 "trust the root with --trusted-root FILE or HOME/trust/ if you know whose it is"};
  return {};
}

}  // namespace

void add_repo_commands(std::vector<Command>& out) {
  out.push_back({"repo init",
                 "repo init s3://BUCKET[/PREFIX] --lock-mode COMPLIANCE|GOVERNANCE --lock-days N [--s3-endpoint URL]",
                 repo_init});
  out.push_back({"archive list",
                 "archive list (DIR | s3://BUCKET[/PREFIX]) [--no-verify] [--trusted-root FILE]... [--s3-endpoint URL]",
                 archive_list});
  out.push_back({"archive show",
                 "archive show ARCHIVE [--with DEV/PART] [--any-root [--accept-unauthenticated]] [--trusted-root FILE]... "
                 "[--s3-endpoint URL]",
                 archive_show});
}

}  // namespace hsm::tool
