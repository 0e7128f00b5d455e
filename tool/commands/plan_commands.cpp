// plan list | check | order | show | run  (man/hsm-migrate-plan.5)
// PLAN is a path or a built-in plan's name (tool/plan_runner.hpp). The
// checker, order search and executor are in migrations/; the tool gives them
// the live fleet and runs the steps (ToolStepRunner).
#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>
#include <utility>

#include "migrations/order.hpp"
#include "migrations/run.hpp"
#include "migrations/show.hpp"
#include "tool/display.hpp"
#include "tool/plan_runner.hpp"
#include "tool/progress.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Status;

// An error whose lines were printed already: only the exit code remains.
Status printed(api::ErrorKind k) { return Error{k, "", "", "", ""}; }

struct Prepared {
  LoadedPlan loaded;
  plans::FleetState initial;
};

api::Result<Prepared> prepare(Context& ctx, const std::string& spec) {
  Prepared p;
  HSM_TRY_ASSIGN(p.loaded, load_plan(spec));
  p.loaded.plan.client = plan_client(ctx, p.loaded.plan);
  ctx.client = p.loaded.plan.client;
  HSM_TRY_ASSIGN(auto live, live_state(ctx, p.loaded.plan));
  p.initial = plans::fleet_from_plan(p.loaded.plan, std::move(live));
  return p;
}

Status check(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("plan check");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"plan"}));
  HSM_TRY_ASSIGN(Prepared p, prepare(ctx, vm["plan"].as<std::string>()));
  const plans::CheckReport rep = plans::check_plan(p.loaded.plan, p.initial);
  ctx.emit(plans::report_json(p.loaded.plan, rep),
           [&](std::ostream& os) { os << plans::render_report(p.loaded.plan, rep); });
  if (rep.ok()) return {};
  if (!ctx.opts.json)
    std::cerr << "hsm-migrate: refused: plan " << p.loaded.plan.name << ": " << rep.refusals()
              << " refusal(s), listed above with their rules and fixes\n";
  return printed(api::ErrorKind::refused);
}

Status order(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("plan order");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"plan"}));
  HSM_TRY_ASSIGN(Prepared p, prepare(ctx, vm["plan"].as<std::string>()));
  const plans::OrderResult o = plans::order_plan(p.loaded.plan, p.initial);
  json doc{{"plan", p.loaded.plan.name}, {"ok", o.ok}, {"changed", o.changed}, {"order", o.order}, {"notes", o.notes}};
  doc["toml"] = o.ok ? json(o.toml) : json(nullptr);
  if (!o.ok) doc["check"] = plans::report_json(o.plan, o.report);
  ctx.emit(doc, [&](std::ostream& os) {
    if (o.ok) {
      // The notes as TOML comments: the output stays a plan file.
      os << "# " << (o.changed ? "reordered" : "already in a safe order") << " by `hsm-migrate plan order` from "
         << p.loaded.plan.source << "\n";
      for (const auto& n : o.notes) os << "# " << n << "\n";
      os << o.toml;
    } else {
      os << "no safe order found for plan " << p.loaded.plan.name << ":\n";
      for (const auto& n : o.notes) os << "  " << n << "\n";
      os << plans::render_report(o.plan, o.report);
    }
  });
  if (o.ok) return {};
  if (!ctx.opts.json)
    std::cerr << "hsm-migrate: refused: no order of plan " << p.loaded.plan.name
              << " passes the rules (reasons listed above)\n";
  return printed(api::ErrorKind::refused);
}

Status show(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("plan show");
  desc.add_options()("dot", "a Graphviz picture of devices, HA groups and flows");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"plan"}));
  HSM_TRY_ASSIGN(LoadedPlan lp, load_plan(vm["plan"].as<std::string>()));
  const bool dot = vm.count("dot") > 0;
  const std::string text = dot ? plans::plan_to_dot(lp.plan) : plans::plan_show(lp.plan);
  ctx.emit({{"plan", lp.plan.name}, {"file", lp.file.string()}, {dot ? "dot" : "text", text}},
           [&](std::ostream& os) { os << text; });
  return {};
}

Status run(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("plan run");
  desc.add_options()("dry-run", "check, and print what each step would do; change nothing")(
      "resume", "finish a run a crash interrupted (its journal)")(
      "again", "run a finished plan once more (cron: nightly-backup)")(
      "domain-file", po::value<std::string>(),
      "the text domain secret for the plan's domains that name no secret source (else $HSM_MIGRATE_DOMAIN)");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"plan"}));
  HSM_TRY_ASSIGN(LoadedPlan lp, load_plan(vm["plan"].as<std::string>()));
  ctx.metrics = RunMetrics{"plan", {{"plan", lp.plan.name}}};
  lp.plan.client = plan_client(ctx, lp.plan);
  ctx.client = lp.plan.client;  // the client every step acts as
  plans::RunOptions opt;
  HSM_TRY(ctx.fleet->ensure_home());  // the journal lives in it (0700)
  opt.journal_dir = ctx.fleet->home() / "journal";
  opt.dry_run = vm.count("dry-run") > 0;
  opt.resume = vm.count("resume") > 0;
  opt.again = vm.count("again") > 0;
  // Each step's work draws one progress line on a terminal (stderr); the
  // step lines (stdout) start on their own line.
  Progress bar(std::cerr, ProgressOptions::for_stderr(ctx.opts.quiet || ctx.opts.json));
  if (!ctx.opts.json && !ctx.opts.quiet)
    opt.progress = [&bar](const std::string& line) {
      bar.clear();
      std::cout << line << std::endl;
    };
  ToolStepRunner runner(ctx, lp.plan);
  runner.set_progress(bar.callback());
  if (vm.count("domain-file")) runner.set_domain_file(vm["domain-file"].as<std::string>());
  HSM_TRY_ASSIGN(plans::RunResult r, plans::run_plan(lp.plan, lp.bytes, runner, opt));
  bar.clear();
  if (r.refused) {
    json doc = r.doc;
    doc["check"] = plans::report_json(lp.plan, r.report);
    ctx.emit(doc, [&](std::ostream& os) { os << plans::render_report(lp.plan, r.report); });
    if (!ctx.opts.json)
      std::cerr << "hsm-migrate: refused: plan " << lp.plan.name << " does not pass `plan check` ("
                << r.report.refusals() << " refusal(s) listed above); nothing was changed\n";
    return printed(api::ErrorKind::refused);
  }
  if (ctx.opts.json) std::cout << r.doc.dump(2) << "\n";
  return {};
}

// The plans a name finds (built-in and found on HSM_MIGRATE_PLAN_PATH), in
// search order: the first file of a name is the one `plan run NAME` takes;
// a later one of the same name is listed as shadowed. A file that does not
// parse is listed with its error: one bad file does not hide the others.
Status list(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("plan list");
  HSM_TRY(parse_options(args, desc, {}));
  json plans_doc = json::array(), path = json::array();
  std::set<std::pair<std::string, std::string>> seen;  // (name, bytes) listed
  std::set<std::string> names;
  for (const auto& dir : plan_search_path()) {
    path.push_back(dir.string());
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().extension() == ".toml" && e.is_regular_file(ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      const std::string name = f.stem().string();
      std::ifstream in(f, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      json j{{"name", json_safe(name)}, {"file", json_safe(f.string())}};
      // The same plan again (the build's copy of the source tree's) is not listed twice.
      if (!seen.emplace(name, ss.str()).second) continue;
      if (!names.insert(name).second) j["shadowed"] = true;
      auto parsed = plans::parse_plan_string(ss.str(), f.string());
      if (parsed.ok()) {
        j["description"] = json_safe(parsed->description);
        j["recurring"] = parsed->recurring;
        j["steps"] = parsed->steps.size();
      } else {
        j["error"] = json_safe(parsed.error().message);
        j["problems"] = problems_json(parsed.error().problems);
      }
      plans_doc.push_back(std::move(j));
    }
  }
  ctx.emit({{"plans", plans_doc}, {"search_path", path}}, [&](std::ostream& os) {
    if (plans_doc.empty()) os << "no plans found (search path: " << path.dump() << ")\n";
    for (const auto& p : plans_doc) {
      os << std::left << std::setw(24) << escaped(p["name"].get<std::string>()) << " ";
      if (p.contains("error")) os << "does not parse: " << escaped(p["error"].get<std::string>());
      else
        os << (p["recurring"].get<bool>() ? "recurring" : "one-shot ") << "  " << std::setw(2)
           << p["steps"].get<std::size_t>() << " step(s)  " << escaped(p["description"].get<std::string>());
      if (p.contains("shadowed")) os << "  (shadowed by an earlier file of that name)";
      os << "\n    " << escaped(p["file"].get<std::string>()) << "\n";
    }
  });
  return {};
}

}  // namespace

void add_plan_commands(std::vector<Command>& out) {
  out.push_back({"plan list", "plan list", list});
  out.push_back({"plan check", "plan check PLAN", check});
  out.push_back({"plan order", "plan order PLAN", order});
  out.push_back({"plan show", "plan show PLAN [--dot]", show});
  out.push_back({"plan run", "plan run PLAN [--dry-run] [--resume] [--again] [--domain-file FILE]", run});
}

}  // namespace hsm::tool
