// backup SRC --archive PATH [--force] [--objects SEL] [--wait S]
// backup SRC --to BACKUPDEV/PART [--add | --replace] [--objects SEL] [--dry-run] [--wait S]
// restore (ARCHIVE | BACKUPDEV/PART) --to DST [--add | --replace] [--objects SEL] [--wait S]
// verify ARCHIVE [--deep --with DEV/PART] [--trusted-root FILE]
// drill ARCHIVE --scratch DEV/PART [--wait S]
// Thin wrappers over tool/archive_ops.hpp: parse, call, print. Cron use: a
// progress bar only when stderr is a terminal, else one summary line;
// --quiet prints only errors; the lock code 5 when the partition is busy.
#include <unistd.h>

#include <iostream>

#include "tool/archive_ops.hpp"
#include "tool/backup_hsm_ops.hpp"
#include "tool/commands/archive_options.hpp"
#include "tool/commands/clone_report.hpp"
#include "tool/display.hpp"
#include "tool/progress.hpp"
#include "tool/repo_ops.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Status;

// One progress line on stderr when it is a terminal (tool/progress.hpp):
// total, percent, rate and ETA; nothing with --quiet or --json.
ProgressOptions bar_options(const Context& ctx) { return ProgressOptions::for_stderr(ctx.opts.quiet || ctx.opts.json); }

void say_notice(const Context& ctx, const std::string& notice) {
  if (!notice.empty() && !ctx.opts.quiet) std::cerr << "hsm-migrate: " << notice << "\n";
}

int wait_of(const po::variables_map& vm) { return vm.count("wait") ? vm["wait"].as<int>() : 0; }



// Version 1 archives restore, with one line saying they are less protected.
void say_protection(const Context& ctx, const json& doc) {
  if (doc.contains("protection_notice") && !ctx.opts.quiet)
    std::cerr << "hsm-migrate: note: " << doc["protection_notice"].get<std::string>() << "\n";
}

// The Backup HSM route is a clone: its report is the clone's (man page,
// "backup --to"), printed as `clone` prints it, led by the route.
Status emit_hsm_route(Context& ctx, const CloneOutcome& out, bool dry_run) {
  const json& doc = out.doc;
  say_notice(ctx, doc.value("lock_taken_over", ""));
  ctx.emit(doc, [&](std::ostream& os) { print_clone_report(os, doc, dry_run); });
  if (out.refused) return Error{api::ErrorKind::refused, "", "", "", ""};  // listed above, with rules and fixes
  return {};
}

Status backup_to_hsm(Context& ctx, const po::variables_map& vm) {
  if (vm.count("archive") || vm.count("force"))
    return Error::usage("--to DEV/PART and --archive/--force exclude each other",
                        "back up either to a Backup HSM partition or to an archive file");
  if (vm.count("add") && vm.count("replace")) return Error::usage("--add and --replace exclude each other");
  HsmBackupRequest req;
  HSM_TRY_ASSIGN(req.source, parse_address(vm["source"].as<std::string>()));
  HSM_TRY_ASSIGN(req.target, parse_address(vm["to"].as<std::string>()));
  ctx.metrics = RunMetrics{"backup", {{"partition", vm["source"].as<std::string>()}, {"to", vm["to"].as<std::string>()}}};
  req.selector = vm["objects"].as<std::string>();
  req.dry_run = vm.count("dry-run") > 0;
  req.replace = vm.count("replace") > 0;
  req.wait_seconds = wait_of(vm);
  Progress bar(std::cerr, bar_options(ctx));
  req.progress = bar.callback();
  HSM_TRY_ASSIGN(CloneOutcome out, run_backup_to_hsm(ctx, req));
  bar.clear();
  if (out.doc.contains("cloned")) ctx.metrics->objects = out.doc["cloned"].size();
  return emit_hsm_route(ctx, out, req.dry_run);
}

// ARCHIVE names a Backup HSM partition when it is no file and parses as
// DEV/PART of a device of this fleet.
bool names_fleet_partition(const Context& ctx, const std::string& arg) {
  std::error_code ec;
  if (std::filesystem::exists(arg, ec)) return false;
  auto a = parse_address(arg);
  return a.ok() && ctx.fleet->kind_of(a->device).ok();
}

void print_objects(std::ostream& os, const json& list, const char* heading);

Status backup(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("backup");
  desc.add_options()("archive", po::value<std::string>(),
                     "archive path or s3://BUCKET/KEY (strftime template, UTC); s3://BUCKET/PREFIX/ names the "
                     "object by the repository layout")(
      "to", po::value<std::string>(), "a Backup HSM partition DEV/PART")("force", "overwrite an existing archive")(
      "objects", po::value<std::string>()->default_value("all"), "a label, #handle, id:HEX, or all")(
      "wait", po::value<int>(), "wait up to SECONDS for the partition lock")(
      "dry-run", "with --to: judge every object, copy nothing")(
      "add", "with --to: add to what the Backup HSM partition holds (default)")(
      "replace", "with --to: delete what the Backup HSM partition holds first (X5)")(
      "portable", "the portable form, which PKCS#11 tokens also restore (only as guess-resistant as the "
                  "domain's own stretch: no per-archive Argon2id)");
  add_repo_options(desc);
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"source"}));
  if (!vm.count("source")) return Error::usage("backup needs a source DEV/PART");
  if (vm.count("portable") && vm.count("to")) return Error::usage("--portable goes with --archive");
  if (vm.count("to")) return backup_to_hsm(ctx, vm);
  for (const char* o : {"dry-run", "add", "replace"})
    if (vm.count(o))
      return Error::usage(std::string("--") + o + " goes with --to BACKUPDEV/PART",
                          "an archive is a new file (--force overwrites one)");
  if (!vm.count("archive")) return Error::usage("backup needs --archive PATH (or --to DEV/PART)");
  BackupRequest req;
  HSM_TRY_ASSIGN(req.source, parse_address(vm["source"].as<std::string>()));
  // One series per partition: an archive's name changes every night.
  ctx.metrics = RunMetrics{"backup", {{"partition", vm["source"].as<std::string>()}}};
  req.archive = vm["archive"].as<std::string>();
  req.repo = repo_options_of(vm);
  req.force = vm.count("force") > 0;
  req.selector = vm["objects"].as<std::string>();
  req.wait_seconds = wait_of(vm);
  req.portable = vm.count("portable") > 0;
  Progress bar(std::cerr, bar_options(ctx));
  req.progress = bar.callback();
  HSM_TRY_ASSIGN(ArchiveOutcome out, run_backup(ctx, req));
  bar.clear();  // the summary starts on its own line
  ctx.metrics->objects = out.doc["objects"].get<std::uint64_t>();
  ctx.metrics->bytes = out.doc["file_bytes"].get<std::uint64_t>();
  say_notice(ctx, out.notice);
  ctx.emit(out.doc, [&](std::ostream& os) {
    os << "backed up " << out.doc["objects"].get<std::uint64_t>() << " object(s) of "
       << out.doc["source"].get<std::string>() << " to " << out.doc["archive"].get<std::string>() << " ("
       << out.doc["file_bytes"].get<std::uint64_t>() << " bytes, "
       << static_cast<std::uint64_t>(out.doc["objects_per_second"].get<double>()) << " objects/s)\n";
    if (out.doc.contains("s3")) {
      const json& u = out.doc["s3"];
      os << "  uploaded in " << u["parts"].get<int>() << " part(s), version " << u["version_id"].get<std::string>()
         << "; read back: " << u["size"].get<std::uint64_t>() << " bytes, ETag " << u["etag"].get<std::string>()
         << " match what was sent (SHA-256 " << u["sha256"].get<std::string>() << ")";
      if (!u["retention"].is_null())
        os << "; retained until " << u["retention"]["until"].get<std::string>() << " ("
           << u["retention"]["mode"].get<std::string>() << ")";
      os << "\n";
    }
    print_objects(os, out.doc["refused"], "not archived");
  });
  if (out.refused_or_failed) {  // archived the others; exit 3 names the first refusal
    if (ctx.opts.json) return Error{api::ErrorKind::refused, "", "", "", ""};
    const json& first = out.doc["refused"][0];
    return Error::refused(first["rule"].get<std::string>(), first["code"].get<std::string>(),
                          std::to_string(out.refused_or_failed) + " object(s) not archived; first: #" +
                              std::to_string(first["handle"].get<std::uint64_t>()) + " " +
                              first["message"].get<std::string>(),
                          first.value("fix", ""));
  }
  return {};
}

void print_objects(std::ostream& os, const json& list, const char* heading) {
  for (const auto& o : list) {
    os << "  " << heading << " #" << o["handle"].get<std::uint64_t>() << " " << escaped(o["label"].get<std::string>());
    if (o.contains("rule"))
      os << ": rule " << o["rule"].get<std::string>() << ": " << o["message"].get<std::string>()
         << (o.contains("fix") ? "; fix: " + o["fix"].get<std::string>() : "");
    if (o.contains("detail")) os << ": " << o["detail"].get<std::string>();
    os << "\n";
  }
}

Status restore(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("restore");
  desc.add_options()("to", po::value<std::string>(), "the target DEV/PART")(
      "add", "add the archive's objects, keep the partition's (default)")(
      "replace", "delete the partition's objects first, then restore")(
      "objects", po::value<std::string>()->default_value("all"), "a label, #handle, id:HEX, or all")(
      "wait", po::value<int>(), "wait up to SECONDS for the partition lock")(
      "dry-run", "judge, open and count every object as the restore would; keep nothing")(
      "trusted-root", po::value<std::vector<std::string>>()->composing(), kTrustedRootHelp);
  add_repo_options(desc);
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"archive"}));
  if (!vm.count("archive") || !vm.count("to")) return Error::usage("restore needs ARCHIVE and --to DEV/PART");
  if (vm.count("add") && vm.count("replace")) return Error::usage("--add and --replace exclude each other");
  if (names_fleet_partition(ctx, vm["archive"].as<std::string>())) {
    HsmRestoreRequest req;
    HSM_TRY_ASSIGN(req.source, parse_address(vm["archive"].as<std::string>()));
    HSM_TRY_ASSIGN(req.target, parse_address(vm["to"].as<std::string>()));
    req.selector = vm["objects"].as<std::string>();
    req.replace = vm.count("replace") > 0;
    req.dry_run = vm.count("dry-run") > 0;
    req.wait_seconds = wait_of(vm);
    Progress bar(std::cerr, bar_options(ctx));
    req.progress = bar.callback();
    HSM_TRY_ASSIGN(CloneOutcome out, run_restore_from_hsm(ctx, req));
    bar.clear();
    return emit_hsm_route(ctx, out, req.dry_run);
  }
  RestoreRequest req;
  req.archive = vm["archive"].as<std::string>();
  req.repo = repo_options_of(vm);
  req.trusted_roots = roots_of(vm);
  HSM_TRY_ASSIGN(req.target, parse_address(vm["to"].as<std::string>()));
  req.mode = vm.count("replace") ? RestoreMode::replace : RestoreMode::add;
  req.selector = vm["objects"].as<std::string>();
  req.dry_run = vm.count("dry-run") > 0;
  req.wait_seconds = wait_of(vm);
  Progress bar(std::cerr, bar_options(ctx));
  req.progress = bar.callback();
  HSM_TRY_ASSIGN(ArchiveOutcome out, run_restore(ctx, req));
  bar.clear();  // the summary starts on its own line
  say_notice(ctx, out.notice);
  say_protection(ctx, out.doc);
  const json& c = out.doc["counts"];
  ctx.emit(out.doc, [&](std::ostream& os) {
    if (out.doc.contains("replace_blocked")) {
      os << "restore into " << out.doc["target"].get<std::string>()
         << " (replace): nothing deleted, nothing restored: " << out.doc["replace_blocked"].get<std::string>()
         << "\n";
    } else if (req.dry_run) {
      os << "dry run: restore into " << out.doc["target"].get<std::string>() << " ("
         << out.doc["mode"].get<std::string>() << ") would create " << c["created"].get<std::uint64_t>()
         << " object(s): " << c["already_present"].get<std::uint64_t>() << " already present, "
         << c["refused"].get<std::uint64_t>() << " refused, " << c["deleted"].get<std::uint64_t>()
         << " deleted first; nothing was changed\n";
    } else {
      os << "restored " << c["created"].get<std::uint64_t>() << " object(s) into "
         << out.doc["target"].get<std::string>() << " (" << out.doc["mode"].get<std::string>() << "): "
         << c["already_present"].get<std::uint64_t>() << " already present, " << c["refused"].get<std::uint64_t>()
         << " refused, " << c["deleted"].get<std::uint64_t>() << " deleted first\n";
    }
    print_objects(os, out.doc["refused"], "refused");
  });
  if (out.refused_or_failed) {
    if (ctx.opts.json) return Error{api::ErrorKind::refused, "", "", "", ""};
    const json& first = out.doc["refused"][0];
    return Error::refused(first["rule"].get<std::string>(), first["code"].get<std::string>(),
                          std::to_string(out.refused_or_failed) + " object(s) refused; first: #" +
                              std::to_string(first["handle"].get<std::uint64_t>()) + " " +
                              first["message"].get<std::string>(),
                          first.value("fix", ""));
  }
  return {};
}

Status verify(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("verify");
  desc.add_options()("deep", "a partition of the domain also opens every blob and checks the archive MAC (needs --with)")(
      "with", po::value<std::string>(), "the DEV/PART that opens the blobs")(
      "trusted-root", po::value<std::vector<std::string>>()->composing(), kTrustedRootHelp)(
      "any-root", "check structure, chain and signature without pinning the root (not authenticated: exit 4)")(
      "accept-unauthenticated", "with --any-root: exit 0 although the root is not trusted");
  add_repo_options(desc);
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"archive"}));
  if (!vm.count("archive")) return Error::usage("verify needs ARCHIVE");
  if (vm.count("deep") != vm.count("with")) return Error::usage("--deep and --with go together");
  if (vm.count("accept-unauthenticated") && !vm.count("any-root"))
    return Error::usage("--accept-unauthenticated goes with --any-root");
  VerifyRequest req;
  req.archive = vm["archive"].as<std::string>();
  ctx.metrics = RunMetrics{"verify", {{"archive", req.archive}}};
  req.repo = repo_options_of(vm);
  if (vm.count("with")) {
    HSM_TRY_ASSIGN(Address a, parse_address(vm["with"].as<std::string>()));
    req.deep_with = a;
  }
  req.trusted_roots = roots_of(vm);
  req.any_root = vm.count("any-root") > 0;
  Progress bar(std::cerr, bar_options(ctx));
  req.progress = bar.callback();
  HSM_TRY_ASSIGN(ArchiveOutcome out, run_verify(ctx, req));
  bar.clear();  // the summary starts on its own line
  ctx.metrics->objects = out.doc["objects"].get<std::uint64_t>();
  ctx.metrics->bytes = out.doc["bytes_checked"].get<std::uint64_t>();
  say_protection(ctx, out.doc);
  ctx.emit(out.doc, [&](std::ostream& os) {
    if (out.unauthenticated)
      os << out.doc["archive"].get<std::string>() << ": structure and signature OK, NOT AUTHENTICATED: " << out.doc["blobs_checked"].get<std::uint64_t>()
         << " blob(s), signed by " << out.doc["hok_subject"].get<std::string>() << " under root "
         << out.doc["root_sha256"].get<std::string>() << " (" << out.doc["root_subject"].get<std::string>()
         << "), which is not trusted here";
    else
      os << out.doc["archive"].get<std::string>() << ": OK, authenticated: " << out.doc["blobs_checked"].get<std::uint64_t>()
         << " blob(s), signed by " << out.doc["hok_subject"].get<std::string>() << " (root trusted as "
         << out.doc.value("trusted_as", "?") << ")";
    if (out.doc.contains("deep"))
      os << "; " << out.doc["deep"]["with"].get<std::string>() << " opened "
         << out.doc["deep"]["blobs_opened"].get<std::uint64_t>() << " blob(s)"
         << (out.doc["deep"]["mac_verified"].get<bool>() ? ", archive MAC verified" : "");
    os << "\n";
    if (out.doc.contains("deep")) print_objects(os, out.doc["deep"]["refused"], "refused");
  });
  if (out.refused_or_failed) {
    if (ctx.opts.json) return Error{api::ErrorKind::refused, "", "", "", ""};
    const json& first = out.doc["deep"]["refused"][0];
    return Error::refused(first["rule"].get<std::string>(), first["code"].get<std::string>(),
                          std::to_string(out.refused_or_failed) + " object(s) would be refused by " +
                              out.doc["deep"]["with"].get<std::string>() + "; first: " +
                              first["message"].get<std::string>(),
                          first.value("fix", ""));
  }
  if (out.unauthenticated && !vm.count("accept-unauthenticated"))
    return Error{api::ErrorKind::integrity,
                 ctx.opts.json ? "" : req.archive + " is not authenticated: its root " +
                                          out.doc["root_sha256"].get<std::string>() + " is not trusted here",
                 {}, {},
                 "trust the root with --trusted-root FILE or HOME/trust/ if you know whose it is; "
                 "--accept-unauthenticated exits 0 anyway"};
  return {};
}

Status drill(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("drill");
  desc.add_options()("scratch", po::value<std::string>(), "a scratch DEV/PART of the archive's domain")(
      "wait", po::value<int>(), "wait up to SECONDS for the partition lock")(
      "trusted-root", po::value<std::vector<std::string>>()->composing(), kTrustedRootHelp);
  add_repo_options(desc);
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"archive"}));
  if (!vm.count("archive") || !vm.count("scratch")) return Error::usage("drill needs ARCHIVE and --scratch DEV/PART");
  DrillRequest req;
  req.archive = vm["archive"].as<std::string>();
  ctx.metrics = RunMetrics{"drill", {{"archive", req.archive}, {"scratch", vm["scratch"].as<std::string>()}}};
  req.repo = repo_options_of(vm);
  req.trusted_roots = roots_of(vm);
  HSM_TRY_ASSIGN(req.scratch, parse_address(vm["scratch"].as<std::string>()));
  req.wait_seconds = wait_of(vm);
  Progress bar(std::cerr, bar_options(ctx));
  req.progress = bar.callback();
  HSM_TRY_ASSIGN(ArchiveOutcome out, run_drill(ctx, req));
  bar.clear();  // the summary starts on its own line
  ctx.metrics->objects = out.doc["counts"]["passed"].get<std::uint64_t>();
  say_notice(ctx, out.notice);
  say_protection(ctx, out.doc);
  const json& c = out.doc["counts"];
  ctx.emit(out.doc, [&](std::ostream& os) {
    os << "drill of " << out.doc["archive"].get<std::string>() << " in " << out.doc["scratch"].get<std::string>() << ": "
       << c["passed"].get<std::uint64_t>() << " passed, " << c["failed"].get<std::uint64_t>() << " failed, "
       << c["refused"].get<std::uint64_t>() << " refused; scratch left as it was ("
       << out.doc["scratch_objects_after"].get<std::uint64_t>() << " object(s))\n";
    json bad = json::array();
    for (const auto& o : out.doc["objects"])
      if (o["status"] != "passed") bad.push_back(o);
    print_objects(os, bad, "not passed");
  });
  if (out.refused_or_failed) {
    if (ctx.opts.json) return Error{api::ErrorKind::integrity, "", "", "", ""};
    for (const auto& o : out.doc["objects"])
      if (o["status"] != "passed")
        return Error::integrity("drill: " + std::to_string(out.refused_or_failed) +
                                " object(s) failed; first: #" + std::to_string(o["handle"].get<std::uint64_t>()) +
                                " " + o["label"].get<std::string>() + ": " +
                                o.value("detail", o.value("message", o["status"].get<std::string>())));
    return Error::integrity("drill failed");
  }
  return {};
}

}  // namespace

void add_archive_commands(std::vector<Command>& out) {
  out.push_back({"backup",
                 "backup SRC (--archive PATH [--force] [--portable] | --to BACKUPDEV/PART [--add|--replace] [--dry-run]) [--objects SEL] [--wait S]",
                 backup});
  out.push_back({"restore",
                 "restore (ARCHIVE | BACKUPDEV/PART) --to DST [--add|--replace] [--objects SEL] [--dry-run] [--trusted-root FILE]... [--wait S]",
                 restore});
  out.push_back({"verify",
                 "verify ARCHIVE [--deep --with DEV/PART] [--trusted-root FILE]... [--any-root [--accept-unauthenticated]]",
                 verify});
  out.push_back({"drill", "drill ARCHIVE --scratch DEV/PART [--trusted-root FILE]... [--wait S]", drill});
  // repo init, archive list, archive show (tool/commands/repo_commands.cpp)
  add_repo_commands(out);
}

}  // namespace hsm::tool
