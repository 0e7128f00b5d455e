// plan order. The algorithm, kept simple on purpose:
//
// 1. Movable steps are `upgrade` and `policy`. Every other step is fixed: the
//    fixed steps keep their relative order. Movable steps that act on the
//    same device keep their relative order too (7.2 -> 7.7.0 stays before
//    7.7.0 -> 7.8.0; "42=1" stays before "42=0").
// 2. One greedy pass with apply_step() as the oracle. At each point, with F
//    the next fixed step: try the free movable steps that come before F in
//    the plan (in plan order), then F, then - only when F is refused - the
//    free movable steps after F that act on a device F's refusal names
//    (a step on another device cannot change F's verdict). The first one
//    that raises no refusal on the simulated state is placed. When all fixed
//    steps are placed, the remaining movable steps follow in plan order,
//    each as soon as it passes. An already safe plan comes out unchanged.
// 3. At a dead end (every candidate refused) the pass learns from the
//    refusals: a refusal whose cause is an earlier movable step K ("since
//    step K", see Problem::caused_by) adds the constraint "K after the
//    refused step", and the pass starts again. Each constraint is learned
//    once, so there are at most a few dozen passes.
// 4. If nothing can be learned and a refused step's problem names steps
//    that would fix it (Problem::insert_before: HSM policy 50 before
//    enable-fm, rule X9; the intermediate releases of a firmware update
//    path, rules X9/X6), they are inserted just before it and the pass
//    starts again; an insertion that does not make the step pass is undone.
//    Otherwise, if the dead end is a clone refused for its
//    protocol (P4, P5, P7, P8: e.g. a CPv1-only source and a FIPS target
//    that cannot turn policy 42 on), the clone is replaced by `backup` to a
//    Backup HSM G5 partition of the plan and `restore` from it (the G5
//    clones out by CPv3 or CPv1, whichever the target takes: P8's
//    exception), and the pass starts again; a route whose own steps are
//    refused is undone and the next Backup HSM partition tried.
// 5. The H7/X8 at-rest check must pass at the end, and the result is checked
//    as a whole with check_plan(). The search is bounded (kMaxTries simulated
//    steps); when it fails, the notes say which steps every order refuses.
#include "migrations/order.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace hsm::plans {

namespace {

constexpr std::size_t kMaxTries = 5000;
constexpr int kMaxPasses = 64;

bool movable(const Step& s) { return s.action() == Action::upgrade || s.action() == Action::policy; }

std::string device_of(const Step& s) {
  if (const auto* u = std::get_if<UpgradeStep>(&s.body)) return u->device;
  if (const auto* p = std::get_if<PolicyStep>(&s.body)) return p->target.device;
  return {};
}

// Device names a problem involves ("dev/part" -> "dev"; groups and archives skipped).
std::set<std::string> devices_of(const Problem& p) {
  std::set<std::string> out;
  for (const auto& d : p.devices) {
    if (d.starts_with("hagroup:") || d.starts_with("archive:") || d.starts_with("dir:")) continue;
    out.insert(d.substr(0, d.find('/')));
  }
  return out;
}

const Problem* first_refusal(const StepResult& r) {
  for (const auto& p : r.problems)
    if (!p.warning) return &p;
  return nullptr;
}

struct Refused {
  std::size_t index;  // plan index; == steps.size() for the at-rest check
  Problem problem;
};

struct Pass {
  bool ok = false;
  std::vector<std::size_t> order;  // placed indices (all of them when ok)
  std::vector<Refused> refused;    // at the dead end: every candidate's first refusal
};

class Scheduler {
 public:
  Scheduler(const Plan& plan, const FleetState& initial, std::size_t& tries)
      : plan_(plan), initial_(initial), tries_(tries) {
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      if (!movable(plan.steps[i])) {
        fixed_.push_back(i);
        continue;
      }
      auto& pre = after_[i];
      for (std::size_t j = 0; j < i; ++j)
        if (movable(plan.steps[j]) && device_of(plan.steps[j]) == device_of(plan.steps[i])) pre.insert(j);
    }
  }

  // Constraint: movable step k runs after step f. False when it would make a cycle.
  bool learn(std::size_t k, std::size_t f) {
    if (!movable(plan_.steps[k]) || k == f || after_[k].count(f)) return false;
    if (depends_on(f, k)) return false;
    after_[k].insert(f);
    return true;
  }

  Pass run() {
    Pass pass;
    FleetState st = initial_;
    std::vector<bool> placed(plan_.steps.size(), false);
    std::size_t next_fixed = 0;
    auto free = [&](std::size_t i) {
      if (placed[i]) return false;
      for (std::size_t j : after_[i])
        if (!placed[j]) return false;
      return true;
    };
    auto attempt = [&](std::size_t i, std::vector<Refused>& why) {
      ++tries_;
      FleetState copy = st;
      StepResult r = apply_step(plan_, i, copy);
      if (const Problem* p = first_refusal(r)) {
        why.push_back({i, *p});
        return false;
      }
      st = std::move(copy);
      placed[i] = true;
      pass.order.push_back(i);
      if (!movable(plan_.steps[i])) ++next_fixed;
      return true;
    };
    while (pass.order.size() < plan_.steps.size()) {
      if (tries_ >= kMaxTries) {
        pass.refused.clear();
        return pass;
      }
      std::vector<Refused> why;
      bool progressed = false;
      if (next_fixed < fixed_.size()) {
        const std::size_t f = fixed_[next_fixed];
        for (std::size_t i = 0; i < f && !progressed; ++i)
          if (movable(plan_.steps[i]) && free(i)) progressed = attempt(i, why);
        if (!progressed) progressed = attempt(f, why);
        if (!progressed) {
          const std::set<std::string> related = devices_of(why.back().problem);
          for (std::size_t i = f + 1; i < plan_.steps.size() && !progressed; ++i)
            if (movable(plan_.steps[i]) && free(i) && related.count(device_of(plan_.steps[i])))
              progressed = attempt(i, why);
        }
      } else {
        for (std::size_t i = 0; i < plan_.steps.size() && !progressed; ++i)
          if (movable(plan_.steps[i]) && free(i)) progressed = attempt(i, why);
      }
      if (!progressed) {
        pass.refused = std::move(why);
        return pass;
      }
    }
    for (const auto& p : check_at_rest(plan_, st))
      if (!p.warning) {
        pass.refused.push_back({plan_.steps.size(), p});
        return pass;
      }
    pass.ok = true;
    return pass;
  }

 private:
  // Whether step a must (transitively) wait for step b.
  bool depends_on(std::size_t a, std::size_t b) const {
    std::vector<std::size_t> todo{a};
    std::set<std::size_t> seen;
    while (!todo.empty()) {
      const std::size_t x = todo.back();
      todo.pop_back();
      if (x == b) return true;
      if (!seen.insert(x).second) continue;
      if (auto it = after_.find(x); it != after_.end())
        for (std::size_t y : it->second) todo.push_back(y);
      // Fixed steps wait for the fixed steps before them.
      if (!movable(plan_.steps[x]))
        for (std::size_t y = 0; y < x; ++y)
          if (!movable(plan_.steps[y])) todo.push_back(y);
    }
    return false;
  }

  const Plan& plan_;
  const FleetState& initial_;
  std::size_t& tries_;
  std::vector<std::size_t> fixed_;
  std::map<std::size_t, std::set<std::size_t>> after_;  // step -> steps it must follow
};

// Backup HSM G5 partitions of the plan.
std::vector<Address> backup_partitions(const Plan& plan) {
  std::vector<Address> out;
  for (const auto& d : plan.devices)
    if (d.kind == api::DeviceKind::backup_g5)
      for (const auto& p : d.partitions) out.push_back({d.name, p.name});
  return out;
}

bool protocol_rule(const std::string& r) { return r == "P4" || r == "P5" || r == "P7" || r == "P8"; }

std::string name_of(const Plan& work, const std::vector<int>& origin, std::size_t i) {
  if (i >= work.steps.size()) return "the end of the plan";
  return "step " + (origin[i] ? std::to_string(origin[i]) : std::string("(added)")) + " (" +
         describe(work.steps[i]) + ")";
}

}  // namespace

OrderResult order_plan(const Plan& plan, const FleetState& initial) {
  OrderResult res;
  res.plan = plan;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) res.order.push_back(static_cast<int>(i + 1));
  CheckReport base = check_plan(plan, initial);
  if (base.ok()) {
    res.ok = true;
    res.toml = plan_to_toml(plan);
    res.notes.push_back("the plan's order is already safe; nothing moved");
    res.report = std::move(base);
    return res;
  }
  for (const auto& p : base.problems)
    if (p.step == 0 && !p.warning) {
      res.notes.push_back("no order of the steps can help: the fleet as declared is refused before step 1 (rule " +
                          p.rule + "): " + p.message);
      res.report = std::move(base);
      return res;
    }

  Plan work = plan;
  std::vector<int> origin = res.order;  // work step -> original number (0 = added by a route)
  std::vector<std::string> notes;
  std::set<std::pair<int, std::string>> tried_routes;
  std::size_t tries = 0;
  // Constraints learned so far, as (original number of K, original number of F):
  // re-applied to each new Scheduler (indices shift when a route adds a step).
  std::vector<std::pair<int, int>> learned;
  Pass pass;
  std::vector<std::string> last_dead;  // the refusals of the last dead end, as notes
  struct Route {
    Plan plan;  // the plan before the change, to undo it
    std::vector<int> origin;
    std::size_t at;    // first step of the change
    std::size_t span;  // steps after `at` whose refusal undoes it
    std::string note;
  };
  std::optional<Route> pending;  // a route tried in the last pass, kept if its steps pass

  for (int round = 0; round < kMaxPasses && tries < kMaxTries; ++round) {
    Scheduler sched(work, initial, tries);
    auto index_of = [&](int orig) -> std::optional<std::size_t> {
      for (std::size_t i = 0; i < origin.size(); ++i)
        if (origin[i] == orig) return i;
      return std::nullopt;
    };
    for (auto [k, f] : learned) {
      auto ki = index_of(k), fi = index_of(f);
      if (ki && fi) sched.learn(*ki, *fi);
    }
    pass = sched.run();
    if (!pass.refused.empty()) {
      last_dead.clear();
      for (const auto& r : pass.refused)
        last_dead.push_back("  " + name_of(work, origin, r.index) + ": rule " + r.problem.rule + ": " +
                            r.problem.message);
    }
    if (pending) {
      bool route_refused = false;
      for (const auto& r : pass.refused)
        route_refused =
            route_refused || (r.index >= pending->at && r.index <= pending->at + pending->span);
      if (route_refused && !pass.ok) {
        work = std::move(pending->plan);  // undo the route
        origin = std::move(pending->origin);
        pending.reset();
        continue;
      }
      notes.push_back(pending->note);
      pending.reset();
    }
    if (pass.ok) break;
    if (pass.refused.empty()) break;  // out of budget

    // Step 3: learn "K after F" from refusals an earlier movable step causes.
    bool learned_now = false;
    for (const auto& r : pass.refused) {
      if (r.index >= work.steps.size() || r.problem.caused_by <= 0) continue;
      const std::size_t k = static_cast<std::size_t>(r.problem.caused_by - 1);
      if (k >= work.steps.size() || !movable(work.steps[k])) continue;
      if (sched.learn(k, r.index)) {
        learned.emplace_back(origin[k], origin[r.index]);
        learned_now = true;
      }
    }
    if (learned_now) continue;

    // Step 4: insert the steps a refusal names as its fix.
    bool inserted = false;
    for (const auto& r : pass.refused) {
      if (r.index >= work.steps.size() || r.problem.insert_before.empty()) continue;
      std::string what;
      for (const auto& st : r.problem.insert_before)
        what += (what.empty() ? "" : ", then ") + describe(st);
      if (!tried_routes.insert({origin[r.index], "insert:" + what}).second) continue;
      Route saved{work, origin, r.index, r.problem.insert_before.size(), ""};
      saved.note = name_of(work, origin, r.index) + " is refused (rule " + r.problem.rule + ": " +
                   r.problem.message + "); plan order inserts before it: " + what;
      const auto at = static_cast<std::ptrdiff_t>(r.index);
      work.steps.insert(work.steps.begin() + at, r.problem.insert_before.begin(),
                        r.problem.insert_before.end());
      origin.insert(origin.begin() + at, r.problem.insert_before.size(), 0);
      pending = std::move(saved);
      inserted = true;
      break;
    }
    if (inserted) continue;

    // Step 5: route a protocol-refused clone through a Backup HSM G5.
    bool rewrote = false;
    for (const auto& r : pass.refused) {
      if (r.index >= work.steps.size() || !protocol_rule(r.problem.rule)) continue;
      const auto* c = std::get_if<CloneStep>(&work.steps[r.index].body);
      if (!c) continue;
      for (const Address& bk : backup_partitions(work)) {
        if (bk == c->from || bk == c->to) continue;
        if (!tried_routes.insert({origin[r.index], bk.str()}).second) continue;
        Route saved{work, origin, r.index, 1, ""};
        Step b, rs;
        BackupStep bs;
        bs.from = c->from;
        bs.to = bk;
        b.body = bs;
        b.note = "route of step " + std::to_string(origin[r.index]) + " through the Backup HSM " + bk.str();
        b.line = work.steps[r.index].line;
        RestoreStep rst;
        rst.from = bk;
        rst.to = c->to;
        rst.objects = c->objects;
        rs.body = rst;
        rs.note = b.note;
        rs.line = b.line;
        saved.note = name_of(work, origin, r.index) + " is refused in every order (rule " + r.problem.rule + ": " +
                     r.problem.message + "); it now goes through the Backup HSM " + bk.str() + ": backup " +
                     c->from.str() + " -> " + bk.str() + ", then restore " + bk.str() + " -> " + c->to.str();
        work.steps[r.index] = b;
        work.steps.insert(work.steps.begin() + static_cast<std::ptrdiff_t>(r.index) + 1, rs);
        origin.insert(origin.begin() + static_cast<std::ptrdiff_t>(r.index) + 1, 0);
        pending = std::move(saved);
        rewrote = true;
        break;
      }
      if (rewrote) break;
    }
    if (!rewrote) break;
  }

  if (!pass.ok) {
    res.report = std::move(base);
    res.notes = notes;
    std::string placed;
    for (std::size_t i : pass.order)
      placed += (placed.empty() ? "" : ", ") +
                (origin[i] ? std::to_string(origin[i]) : std::string("(added)"));
    if (pass.refused.empty()) {
      res.notes.push_back("no safe order found within the search bound (" + std::to_string(kMaxTries) +
                          " simulated steps)" + (last_dead.empty() ? "" : "; the last dead end:"));
      res.notes.insert(res.notes.end(), last_dead.begin(), last_dead.end());
      return res;
    }
    res.notes.push_back("no order of the upgrade and policy steps makes every step pass; the furthest order found runs " +
                        (placed.empty() ? std::string("no step") : "steps " + placed) +
                        " and then every candidate is refused:");
    for (const auto& r : pass.refused)
      res.notes.push_back("  " + name_of(work, origin, r.index) + ": rule " + r.problem.rule + ": " +
                          r.problem.message + (r.problem.fix.empty() ? "" : "; fix: " + r.problem.fix));
    return res;
  }

  Plan out = work;
  out.steps.clear();
  res.order.clear();
  for (std::size_t i : pass.order) {
    out.steps.push_back(work.steps[i]);
    res.order.push_back(origin[i]);
  }
  res.report = check_plan(out, initial);
  res.ok = res.report.ok();
  res.changed = out.steps.size() != plan.steps.size();
  for (std::size_t k = 0; k < res.order.size(); ++k) res.changed = res.changed || res.order[k] != static_cast<int>(k + 1);
  res.notes = notes;
  // Each movable step that moved: after which step it now runs and why the
  // original order failed there; or before which step, which needs it.
  for (std::size_t k = 0; k < pass.order.size(); ++k) {
    const std::size_t i = pass.order[k];
    const int orig = origin[i];
    if (orig == 0 || !movable(work.steps[i])) continue;
    bool later = false;
    for (std::size_t m = 0; m < k; ++m) later = later || origin[pass.order[m]] > orig;
    if (later) {
      std::string why;
      for (const auto& p : base.problems)
        if (p.step == orig && !p.warning) {
          why = " (in the original order it was refused: rule " + p.rule + ": " + p.message + ")";
          break;
        }
      res.notes.push_back(name_of(work, origin, i) + " now runs after " + name_of(work, origin, pass.order[k - 1]) +
                          why);
      continue;
    }
    for (std::size_t m = k + 1; m < pass.order.size(); ++m) {
      const int o = origin[pass.order[m]];
      if (o != 0 && o < orig && !movable(work.steps[pass.order[m]])) {
        res.notes.push_back(name_of(work, origin, i) + " now runs before " + name_of(work, origin, pass.order[m]) +
                            ", which needs it");
        break;
      }
    }
  }
  if (res.ok) {
    res.plan = std::move(out);
    res.toml = plan_to_toml(res.plan);
  } else {
    res.notes.push_back("the order found passes step by step, but the plan as a whole still has refusals");
  }
  return res;
}

}  // namespace hsm::plans
