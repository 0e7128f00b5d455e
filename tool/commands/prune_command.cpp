// prune (DIR | s3://BUCKET[/PREFIX]) [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N]
//           [--keep-monthly N] [--keep-yearly N] [--keep-within DURATION]
//           [--trusted-root FILE]... [--dry-run] [--abort-uploads-older-than DURATION]
//           [--s3-endpoint URL]
// A thin wrapper over tool/prune_ops.hpp: parse, call, print.
#include <ctime>
#include <iostream>

#include "tool/prune_ops.hpp"
#include "tool/repo_s3.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Status;

void print_list(std::ostream& os, const json& list, const char* verb) {
  for (const auto& a : list) {
    os << "  " << verb << " " << a["file"].get<std::string>() << " (" << a["created"].get<std::string>();
    if (a.contains("reasons")) {
      os << ";";
      for (const auto& [rule, period] : a["periods"].items()) {
        os << " " << rule;
        if (!period.get<std::string>().empty()) os << " " << period.get<std::string>();
      }
    }
    os << ")\n";
  }
}

Status prune_cmd(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("prune");
  desc.add_options()("keep-last", po::value<int>()->default_value(0), "keep the N newest archives")(
      "keep-hourly", po::value<int>()->default_value(0), "keep the newest archive of each of the last N hours")(
      "keep-daily", po::value<int>()->default_value(0), "... of each of the last N days")(
      "keep-weekly", po::value<int>()->default_value(0), "... of each of the last N ISO weeks")(
      "keep-monthly", po::value<int>()->default_value(0), "... of each of the last N months")(
      "keep-yearly", po::value<int>()->default_value(0), "... of each of the last N years")(
      "keep-within", po::value<std::string>(), "keep every archive within DURATION (e.g. 1y2m3d4h) of the newest")(
      "trusted-root", po::value<std::vector<std::string>>()->composing(),
      "also trust this manufacturing root (DER/PEM certificate or its SHA-256 in hex); repeatable")(
      "dry-run", "report what would be removed, remove nothing")(
      "abort-uploads-older-than", po::value<std::string>(),
      "S3: abort the tool's own pending multipart uploads (left by a killed backup) older than DURATION "
      "(e.g. 1d, 12h; 0 aborts them all: only when no backup is running); default 1d");
  add_repo_options(desc);
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"dir"}));
  if (!vm.count("dir"))
    return Error::usage("prune needs a folder of archives or an S3 prefix (prune DIR --keep-daily N ...)");
  PruneRequest req;
  req.dir = vm["dir"].as<std::string>();
  ctx.metrics = RunMetrics{"prune", {{"dir", req.dir}}};
  req.keep.last = vm["keep-last"].as<int>();
  req.keep.hourly = vm["keep-hourly"].as<int>();
  req.keep.daily = vm["keep-daily"].as<int>();
  req.keep.weekly = vm["keep-weekly"].as<int>();
  req.keep.monthly = vm["keep-monthly"].as<int>();
  req.keep.yearly = vm["keep-yearly"].as<int>();
  if (vm.count("keep-within")) {
    const std::string text = vm["keep-within"].as<std::string>();
    auto d = prune::parse_duration(text);
    if (!d || d->zero())
      return Error::usage("--keep-within \"" + text + "\" is not a duration",
                          "write years, months, days and hours in that order, e.g. 1y6m, 30d, 2d12h");
    req.keep.within = *d;
  }
  if (vm.count("trusted-root")) req.trusted_roots = vm["trusted-root"].as<std::vector<std::string>>();
  req.dry_run = vm.count("dry-run") > 0;
  req.repo = repo_options_of(vm);
  if (vm.count("abort-uploads-older-than")) {
    const std::string text = vm["abort-uploads-older-than"].as<std::string>();
    if (!is_s3(req.dir.string()))
      return Error::usage("--abort-uploads-older-than goes with an S3 prefix",
                          "a folder's stale temporary files are removed after a day");
    if (text == "0") {
      req.stale_upload_seconds = 0;
    } else {
      auto d = prune::parse_duration(text);
      if (!d || d->zero())
        return Error::usage("--abort-uploads-older-than \"" + text + "\" is not a duration",
                            "write days and hours, e.g. 1d, 12h, or 0");
      const std::int64_t now = std::time(nullptr);
      req.stale_upload_seconds = now - prune::minus(now, *d);
    }
  }
  HSM_TRY_ASSIGN(PruneOutcome out, run_prune(ctx, req));
  ctx.metrics->objects = out.doc["removed"].size();  // archives removed (or that would be, with --dry-run)
  const bool s3 = out.doc.contains("repository");
  ctx.emit(out.doc, [&](std::ostream& os) {
    os << (req.dry_run ? "prune (dry run) " : "pruned ") << req.dir.string() << ": " << out.kept << " kept, "
       << out.removed << (req.dry_run ? " would be removed, " : " removed, ") << out.damaged
       << " damaged or untrusted (kept), ";
    if (s3)
      os << out.locked << " locked, " << out.temp_removed
         << (req.dry_run ? " stale upload(s) would be aborted, " : " stale upload(s) aborted, ");
    else
      os << out.temp_removed
         << (req.dry_run ? " stale temporary file(s) would be removed, " : " stale temporary file(s) removed, ");
    os << out.skipped << " skipped\n";
    print_list(os, out.doc["kept"], "keep  ");
    print_list(os, out.doc["removed"], req.dry_run ? "would remove" : "removed");
    for (const auto& t : out.doc["temporary_files_removed"])
      os << "  " << (req.dry_run ? "would remove" : "removed") << " temporary file " << t["file"].get<std::string>()
         << " (" << t["age_hours"].get<std::int64_t>() << " h old)\n";
    if (s3) {
      for (const auto& l : out.doc["locked"])
        os << "  locked " << l["file"].get<std::string>() << " (" << l["created"].get<std::string>() << "): locked until "
           << (l["until"].is_null() ? std::string("a later date") : l["until"].get<std::string>()) << "\n";
      for (const auto& x : out.doc["retention_extended"])
        os << "  retain " << x["file"].get<std::string>() << " until " << x["until"].get<std::string>() << " ("
           << x["mode"].get<std::string>() << ")\n";
      for (const auto& u : out.doc["uploads_aborted"])
        os << "  " << (req.dry_run ? "would abort" : "aborted") << " pending upload of " << u["key"].get<std::string>()
           << " (" << u["age_hours"].get<std::int64_t>() << " h old)\n";
    }
    for (const auto& d : out.doc["damaged"])
      os << "  KEPT DAMAGED " << d["file"].get<std::string>() << ": " << d["reason"].get<std::string>() << "\n";
    for (const auto& s : out.doc["skipped"])
      os << "  skip   " << s["file"].get<std::string>() << ": " << s["reason"].get<std::string>() << "\n";
  });
  if (out.damaged) {
    const json& first = out.doc["damaged"][0];
    return Error{api::ErrorKind::integrity,
                 ctx.opts.json ? ""
                               : "prune: " + std::to_string(out.damaged) + " archive(s) in " + req.dir.string() +
                                     " do not verify and were kept; first: " + first["file"].get<std::string>() +
                                     ": " + first["reason"].get<std::string>(),
                 {}, {},
                 "check them with `hsm-migrate verify`, keep a good copy, and move the damaged ones out of the folder"};
  }
  return {};
}

}  // namespace

void add_prune_commands(std::vector<Command>& out) {
  out.push_back({"prune",
                 "prune (DIR | s3://BUCKET[/PREFIX]) [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] "
                 "[--keep-yearly N] [--keep-within DURATION] [--trusted-root FILE]... [--dry-run] "
                 "[--abort-uploads-older-than DURATION] [--s3-endpoint URL]",
                 prune_cmd});
}

}  // namespace hsm::tool
