// prune DIR --keep-daily N --keep-weekly N --keep-monthly N [--dry-run]
// A thin wrapper over tool/prune_ops.hpp: parse, call, print.
#include <iostream>

#include "tool/prune_ops.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Status;

void print_list(std::ostream& os, const json& list, const char* verb) {
  for (const auto& a : list) {
    os << "  " << verb << " " << a["file"].get<std::string>() << " (" << a["created"].get<std::string>();
    if (a.contains("reasons")) {
      os << ";";
      for (const auto& [rule, period] : a["periods"].items()) os << " " << rule << " " << period.get<std::string>();
    }
    os << ")\n";
  }
}

Status prune_cmd(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("prune");
  desc.add_options()("keep-daily", po::value<int>()->default_value(0), "keep the newest archive of each of the last N days")(
      "keep-weekly", po::value<int>()->default_value(0), "... of each of the last N ISO weeks")(
      "keep-monthly", po::value<int>()->default_value(0), "... of each of the last N months")(
      "dry-run", "report what would be removed, remove nothing");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"dir"}));
  if (!vm.count("dir")) return Error::usage("prune needs a folder of archives (prune DIR --keep-daily N ...)");
  PruneRequest req;
  req.dir = vm["dir"].as<std::string>();
  req.keep.daily = vm["keep-daily"].as<int>();
  req.keep.weekly = vm["keep-weekly"].as<int>();
  req.keep.monthly = vm["keep-monthly"].as<int>();
  req.dry_run = vm.count("dry-run") > 0;
  HSM_TRY_ASSIGN(PruneOutcome out, run_prune(ctx, req));
  ctx.emit(out.doc, [&](std::ostream& os) {
    os << (req.dry_run ? "prune (dry run) " : "pruned ") << req.dir.string() << ": " << out.kept << " kept, "
       << out.removed << (req.dry_run ? " would be removed, " : " removed, ") << out.skipped
       << " skipped (not archives)\n";
    print_list(os, out.doc["kept"], "keep  ");
    print_list(os, out.doc["removed"], req.dry_run ? "would remove" : "removed");
    for (const auto& s : out.doc["skipped"])
      os << "  skip   " << s["file"].get<std::string>() << ": " << s["reason"].get<std::string>() << "\n";
  });
  return {};
}

}  // namespace

void add_prune_commands(std::vector<Command>& out) {
  out.push_back({"prune", "prune DIR --keep-daily N --keep-weekly N --keep-monthly N [--dry-run]", prune_cmd});
}

}  // namespace hsm::tool
