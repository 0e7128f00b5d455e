// The executor of `plan run` (see run.hpp): check, setup, steps, journaled.
#include "migrations/run.hpp"

#include <ctime>

#include "migrations/journal.hpp"

namespace hsm::plans {

using api::Error;
using api::Result;
using api::Status;
using json = nlohmann::ordered_json;

std::string expand_template(const std::string& templ, std::int64_t unix_seconds) {
  if (templ.find('%') == std::string::npos) return templ;
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[4096];
  const std::size_t n = std::strftime(buf, sizeof buf, templ.c_str(), &tm);
  return n ? std::string(buf, n) : templ;
}

namespace {

// The check of a resumed run: the steps recorded done are in the live fleet
// already, so only the others are simulated, from the live state. The step a
// crash interrupted may be partly done on the devices (an upgrade made, a
// domain added): its own problems are reported as warnings, and the runner
// redoes it idempotently, the devices judging it again.
CheckReport check_remaining(const Plan& plan, const FleetState& initial, const JournalState& js) {
  CheckReport rep;
  FleetState st = initial;
  rep.problems = st.setup;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const int n = static_cast<int>(i) + 1;
    if (js.steps_done.count(n)) continue;
    StepResult r = apply_step(plan, i, st);
    if (js.steps_begun.count(n))
      for (auto& p : r.problems)
        if (!p.warning) {
          p.warning = true;
          p.message += " (step " + std::to_string(n) + " was interrupted and may be partly done; it is redone)";
        }
    rep.problems.insert(rep.problems.end(), r.problems.begin(), r.problems.end());
    rep.steps.push_back(std::move(r));
  }
  for (auto& p : check_at_rest(plan, st)) rep.problems.push_back(std::move(p));
  std::stable_sort(rep.problems.begin(), rep.problems.end(),
                   [](const Problem& a, const Problem& b) { return a.step < b.step; });
  rep.final_state = std::move(st);
  return rep;
}

class Executor {
 public:
  Executor(const Plan& plan, StepRunner& runner, const RunOptions& opt, Journal* journal, const JournalState& js)
      : plan_(plan), runner_(runner), opt_(opt), journal_(journal), js_(js) {}

  Result<json> run(const FleetState& live, std::int64_t run_time) {
    run_time_ = run_time;
    setup_ = json::array();
    steps_ = json::array();
    HSM_TRY(setup(live));
    for (std::size_t i = 0; i < plan_.steps.size(); ++i) HSM_TRY(step(i));
    return json{{"setup", setup_}, {"steps", steps_}};
  }

 private:
  void say(const std::string& line) const {
    if (opt_.progress) opt_.progress(line);
  }
  Status record(json rec) { return journal_ ? journal_->append(std::move(rec)) : Status{}; }

  // One setup item, journaled before and after.
  Status item(const std::string& id, const std::function<Result<std::string>()>& work) {
    if (js_.setup_done.count(id)) return {};
    HSM_TRY(record({{"event", "setup-begin"}, {"item", id}}));
    HSM_TRY_ASSIGN(std::string summary, work());
    HSM_TRY(record({{"event", "setup-done"}, {"item", id}, {"summary", summary}}));
    setup_.push_back({{"item", id}, {"summary", summary}});
    say("setup: " + summary);
    return {};
  }

  Status setup(const FleetState& live) {
    for (const auto& d : plan_.devices) {
      const DeviceState* have = live.device(d.name);
      const std::string dev_item = "device:" + d.name;
      // Created by this run (now or before a crash): its keys are ours to make.
      if (!have || js_.setup_begun.count(dev_item))
        HSM_TRY(item(dev_item, [&] { return runner_.create_device(d); }));
      for (const auto& p : d.partitions) {
        const std::string addr = d.name + "/" + p.name;
        const std::string part_item = "partition:" + addr;
        const bool existed = have && have->partitions.count(p.name) && !js_.setup_begun.count(part_item);
        if (existed) continue;  // used as it is (man/hsm-migrate-plan.5)
        HSM_TRY(item(part_item, [&] { return runner_.create_partition(d, p); }));
        for (std::size_t k = 0; k < p.keys.size(); ++k)
          HSM_TRY(item("keys:" + addr + ":" + std::to_string(k + 1),
                       [&] { return runner_.generate_keys(d, p, p.keys[k]); }));
      }
    }
    for (const auto& g : plan_.groups) {
      const std::string id = "hagroup:" + g.name;
      if (live.groups.count(g.name) && !js_.setup_begun.count(id)) continue;
      HSM_TRY(item(id, [&] { return runner_.create_group(g); }));
    }
    return {};
  }

  Result<std::string> dispatch(const Step& s, const BatchHook& hook) {
    return std::visit(
        [&](const auto& b) -> Result<std::string> {
          using T = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<T, UpgradeStep>) return runner_.upgrade(b);
          else if constexpr (std::is_same_v<T, EnableFmStep>) return runner_.enable_fm(b);
          else if constexpr (std::is_same_v<T, PolicyStep>) return runner_.policy(b);
          else if constexpr (std::is_same_v<T, DomainAddStep>) return runner_.domain_add(b);
          else if constexpr (std::is_same_v<T, DomainLabelStep>) return runner_.domain_label(b);
          else if constexpr (std::is_same_v<T, DomainDeleteStep>) return runner_.domain_delete(b);
          else if constexpr (std::is_same_v<T, SuitesStep>) return runner_.suites(b);
          else if constexpr (std::is_same_v<T, HaGroupCreateStep>) return runner_.hagroup_create(b);
          else if constexpr (std::is_same_v<T, HaGroupAddStep>) return runner_.hagroup_add(b);
          else if constexpr (std::is_same_v<T, HaGroupRemoveStep>) return runner_.hagroup_remove(b);
          else if constexpr (std::is_same_v<T, CloneStep>) return runner_.clone(b, hook);
          else if constexpr (std::is_same_v<T, BackupStep>)
            return runner_.backup(b, expand_template(b.archive, run_time_), written_ids_, archive_hook_, hook);
          else if constexpr (std::is_same_v<T, RestoreStep>)
            return runner_.restore(b, expand_template(b.archive, run_time_), hook);
          else if constexpr (std::is_same_v<T, VerifyStep>)
            return runner_.verify(b, expand_template(b.archive, run_time_));
          else if constexpr (std::is_same_v<T, DrillStep>)
            return runner_.drill(b, expand_template(b.archive, run_time_));
          else return runner_.prune(b);
        },
        s.body);
  }

  Status step(std::size_t i) {
    const Step& s = plan_.steps[i];
    const int n = static_cast<int>(i) + 1;
    const std::string head = "step " + std::to_string(n) + "/" + std::to_string(plan_.steps.size());
    if (js_.steps_done.count(n)) {
      steps_.push_back({{"step", n}, {"action", std::string(to_string(s.action()))}, {"status", "done before"},
                        {"summary", describe(s)}});
      say(head + " already done: " + describe(s));
      return {};
    }
    const bool redo = js_.steps_begun.count(n) > 0;
    written_ids_ = js_.archive_ids.count(n) ? js_.archive_ids.at(n) : std::set<std::string>{};
    const std::string archive_path =
        std::holds_alternative<BackupStep>(s.body) ? expand_template(std::get<BackupStep>(s.body).archive, run_time_) : "";
    archive_hook_ = [this, n, archive_path](const std::string& id) -> Status {
      return record({{"event", "archive-begin"}, {"step", n}, {"archive", archive_path}, {"archive_id", id}});
    };
    HSM_TRY(record({{"event", "step-begin"},
                    {"step", n},
                    {"action", std::string(to_string(s.action()))},
                    {"what", describe(s)},
                    {"redo", redo}}));
    std::size_t batches = 0, created = 0, present = 0;
    BatchHook hook = [&](std::size_t batch, std::size_t c, std::size_t p) -> Status {
      ++batches;
      created += c;
      present += p;
      return record({{"event", "batch-done"}, {"step", n}, {"batch", batch}, {"created", c}, {"already_present", p}});
    };
    auto r = dispatch(s, hook);
    if (!r.ok()) {
      Error e = r.error();
      e.message = head + " (" + plan_.source + ":" + std::to_string(s.line) + ", " + describe(s) + "): " + e.message;
      e.fix += std::string(e.fix.empty() ? "" : "; then ") + "run `hsm-migrate plan run " + plan_.source +
               " --resume` to retry it";
      return e;
    }
    HSM_TRY(record({{"event", "step-done"}, {"step", n}, {"summary", r.value()}}));
    json j{{"step", n},
           {"action", std::string(to_string(s.action()))},
           {"status", redo ? "redone" : "done"},
           {"summary", r.value()}};
    if (batches) {
      j["batches"] = batches;
      j["created"] = created;
      j["already_present"] = present;
    }
    steps_.push_back(std::move(j));
    say(head + (redo ? " redone: " : ": ") + r.value());
    return {};
  }

  const Plan& plan_;
  StepRunner& runner_;
  const RunOptions& opt_;
  Journal* journal_;
  const JournalState& js_;
  std::int64_t run_time_ = 0;
  std::set<std::string> written_ids_;  // the current step's journaled archive ids
  ArchiveIdHook archive_hook_;
  json setup_, steps_;
};

// What a dry run would do: the setup items and each step's summary from the check.
json dry_run_doc(const Plan& plan, const FleetState& live, const CheckReport& rep, const JournalState& js,
                 const RunOptions& opt) {
  auto say = [&](const std::string& s) {
    if (opt.progress) opt.progress(s);
  };
  json setup = json::array();
  for (const auto& d : plan.devices) {
    const DeviceState* have = live.device(d.name);
    if (!have) {
      const std::string s =
          d.mode == DeviceMode::token
              ? "would register token \"" + d.token.label + "\" as device " + d.name +
                    (d.token.softhsm2_folder.empty() ? "" : " (a SoftHSM2 token made in HOME/" + d.token.softhsm2_folder + ")")
              : "would create device " + d.name + " (" + std::string(api::to_string(d.kind)) + " " +
                    d.firmware.str() + (d.fm ? ", FM enabled" : "") + ")";
      setup.push_back(s);
      say("setup: " + s);
    }
    for (const auto& p : d.partitions) {
      if (have && have->partitions.count(p.name)) continue;
      int keys = 0;
      for (const auto& k : p.keys) keys += k.count;
      const std::string s = (d.mode == DeviceMode::token ? "would set up token partition " : "would create partition ") + d.name + "/" + p.name +
                            (p.fips ? " (FIPS)" : "") + (keys ? " with " + std::to_string(keys) + " key(s)" : "");
      setup.push_back(s);
      say("setup: " + s);
    }
  }
  for (const auto& g : plan.groups)
    if (!live.groups.count(g.name)) {
      setup.push_back("would create HA group " + g.name);
      say("setup: would create HA group " + g.name);
    }
  json steps = json::array();
  std::size_t k = 0;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const int n = static_cast<int>(i) + 1;
    const std::string head = "step " + std::to_string(n) + "/" + std::to_string(plan.steps.size());
    if (js.steps_done.count(n)) {
      steps.push_back({{"step", n}, {"status", "done before"}, {"summary", describe(plan.steps[i])}});
      say(head + " already done: " + describe(plan.steps[i]));
      continue;
    }
    const std::string summary = k < rep.steps.size() ? rep.steps[k++].summary : describe(plan.steps[i]);
    steps.push_back({{"step", n}, {"status", "would run"}, {"summary", summary}});
    say(head + " would: " + summary);
  }
  return json{{"setup", setup}, {"steps", steps}};
}

}  // namespace

Result<RunResult> run_plan(const Plan& plan, std::string_view plan_bytes, StepRunner& runner,
                           const RunOptions& opt) {
  for (const auto& d : plan.devices)
    if (d.mode == DeviceMode::described)
      return Error::usage("plan run works on emulated devices and tokens; " + d.name + " is described (line " +
                              std::to_string(d.line) + ")",
                          "check it with `hsm-migrate plan check`, or declare it emulated = true");
  const std::string id = plan_id(plan_bytes);
  RunResult res;
  std::unique_ptr<Journal> journal;
  JournalState js;
  if (opt.dry_run) {
    HSM_TRY_ASSIGN(js, Journal::peek(opt.journal_dir, id));
  } else {
    HSM_TRY_ASSIGN(journal, Journal::open(opt.journal_dir, id));
    js = journal->state();
  }
  const std::string jpath = (opt.journal_dir / (id + ".jsonl")).string();
  res.doc["plan"] = plan.name;
  res.doc["source"] = plan.source;
  res.doc["id"] = id;
  res.doc["journal"] = jpath;
  res.doc["dry_run"] = opt.dry_run;
  // A recurring plan (cron) needs no flag: an interrupted run is resumed,
  // then a new one started; a finished one is followed by a new one.
  const bool auto_resume = plan.recurring && js.started && !js.finished && !opt.resume && !opt.dry_run;
  if (js.started && !js.finished && !opt.resume && !plan.recurring) {
    Error e = Error::usage("plan " + plan.name + " has an unfinished run (" + std::to_string(js.steps_done.size()) +
                           " of " + std::to_string(plan.steps.size()) + " step(s) done; journal " + jpath + ")");
    e.fix = "finish it with `hsm-migrate plan run " + plan.source + " --resume`";
    return e;
  }
  if (js.finished) {
    if (!opt.again && !plan.recurring) {
      res.already_finished = true;
      res.doc["already_finished"] = true;
      if (opt.progress)
        opt.progress("plan " + plan.name + " already finished (journal " + jpath +
                     "); nothing to do (--again runs it once more)");
      return res;
    }
    if (journal) HSM_TRY(journal->start_over());
    js = JournalState{};
  }
  const bool resumed = js.started;
  res.doc["resumed"] = resumed;

  // The check, on the live fleet: a run never starts what `plan check` refuses.
  HSM_TRY_ASSIGN(FleetState live, runner.live());
  FleetState initial = fleet_from_plan(plan, live);
  res.report = resumed ? check_remaining(plan, initial, js) : check_plan(plan, initial);
  if (!res.report.ok()) {
    res.refused = true;
    res.doc["refused"] = true;
    return res;
  }
  if (opt.dry_run) {
    json d = dry_run_doc(plan, live, res.report, js, opt);
    res.doc["setup"] = d["setup"];
    res.doc["steps"] = d["steps"];
    return res;
  }
  std::int64_t run_time = js.run_time;
  if (!resumed) {
    run_time = static_cast<std::int64_t>(std::time(nullptr));
    HSM_TRY(journal->append({{"event", "run-start"},
                             {"plan", plan.name},
                             {"source", plan.source},
                             {"id", id},
                             {"steps", plan.steps.size()},
                             {"time", run_time}}));
  } else if (opt.progress) {
    opt.progress("resuming plan " + plan.name + ": " + std::to_string(js.steps_done.size()) + " of " +
                 std::to_string(plan.steps.size()) + " step(s) done before");
  }
  Executor ex(plan, runner, opt, journal.get(), js);
  HSM_TRY_ASSIGN(json done, ex.run(live, run_time));
  HSM_TRY(journal->append({{"event", "run-done"}, {"steps", plan.steps.size()}}));
  res.doc["setup"] = done["setup"];
  res.doc["steps"] = done["steps"];
  res.doc["finished"] = true;
  if (opt.progress) opt.progress("plan " + plan.name + " finished: " + std::to_string(plan.steps.size()) + " step(s)");
  if (auto_resume) {
    // The interrupted run is finished; tonight's run starts now (the
    // journal's lock is let go first: the new run takes it again).
    journal.reset();
    RunOptions next = opt;
    next.again = true;
    HSM_TRY_ASSIGN(RunResult again, run_plan(plan, plan_bytes, runner, next));
    again.doc["resumed_run"] = std::move(res.doc);
    return again;
  }
  return res;
}

}  // namespace hsm::plans
