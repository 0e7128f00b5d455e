// The plan checker: apply_step() simulates one step on descriptions with the
// rule functions of plugins/luna/rules (class Sim, check_sim.hpp), and
// check_plan() runs them all. Problems and bookkeeping live here; the steps
// in check_config.cpp and check_flows.cpp; the reports in check_report.cpp.
#include "migrations/check.hpp"

#include <algorithm>
#include <functional>
#include <unordered_set>

#include "migrations/check_sim.hpp"
#include "migrations/internal.hpp"
#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/ha_rules.hpp"

namespace hsm::plans {

bool StepResult::ok() const {
  return std::none_of(problems.begin(), problems.end(),
                      [](const Problem& p) { return !p.warning; });
}
bool CheckReport::ok() const {
  return refusals() == 0;
}
std::size_t CheckReport::refusals() const {
  return static_cast<std::size_t>(
      std::count_if(problems.begin(), problems.end(), [](const Problem& p) { return !p.warning; }));
}
std::size_t CheckReport::warnings() const {
  return problems.size() - refusals();
}

namespace sim {

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

Endpoint endpoint_with(const FleetState& st, const Address& a, const Revert& r) {
  Endpoint ep = st.endpoint(a);
  if (!r.change) return ep;
  const Change& c = *r.change;
  if (c.device_before && c.key == a.device) {
    ep.device = *c.device_before;
    if (const PartitionState* p = st.partition(a)) {
      ep.partition = p->desc;
      ep.partition.object_count = p->objects.size();
    }
    ep.partition.fips = rules::effective_fips(ep.device, ep.partition.fips);
  }
  if (c.partition_before && c.key == a.str()) {
    ep.partition = *c.partition_before;
    ep.partition.fips = rules::effective_fips(ep.device, ep.partition.fips);
  }
  return ep;
}

// An HA group as the rules see it. Replication carries the primary's
// objects to every member: each member's held_fingerprints names those it
// already holds after earlier steps (rule C1 does not count them).
rules::HaGroupDesc group_view(const FleetState& st, const std::string& name,
                              const std::vector<Address>& members, const Revert& r) {
  rules::HaGroupDesc g;
  g.name = name;
  const PartitionState* primary = members.empty() ? nullptr : st.partition(members.front());
  std::unordered_set<std::string> carried;
  if (primary) {
    g.primary_objects = &primary->objects;
    for (const auto& o : primary->objects) carried.insert(o.fingerprint);
  }
  for (const auto& m : members) {
    Endpoint ep = endpoint_with(st, m, r);
    if (const PartitionState* p = st.partition(m); p && p != primary)
      for (const auto& o : p->objects)
        if (carried.count(o.fingerprint)) ep.partition.held_fingerprints.insert(o.fingerprint);
    g.members.push_back(std::move(ep));
  }
  return g;
}

Sim::Sim(const Plan& plan, std::size_t index, FleetState& st)
    : plan_(plan),
      step_(plan.steps[index]),
      number_(static_cast<int>(index) + 1),
      st_(st),
      changes_before_(st.changes.size()) {
  res_.step = number_;
  res_.line = step_.line;
}

StepResult Sim::run() {
  std::visit([this](const auto& s) { this->on(s); }, step_.body);
  if (res_.summary.empty()) res_.summary = describe(step_);
  return std::move(res_);
}

Problem& Sim::add(std::string rule, std::string code, std::vector<std::string> devices,
                  std::string message, std::string fix, bool warning) {
  Problem p;
  p.step = number_;
  p.line = step_.line;
  p.rule = rule.empty() ? "plan" : std::move(rule);
  p.code = std::move(code);
  p.devices = std::move(devices);
  p.message = std::move(message);
  p.fix = std::move(fix);
  p.warning = warning;
  res_.problems.push_back(std::move(p));
  return res_.problems.back();
}

Problem& Sim::add(const api::Error& e, std::vector<std::string> devices) {
  return add(e.rule, e.code, std::move(devices), e.message, e.fix);
}

Problem& Sim::add(const Verdict& v, std::vector<std::string> devices) {
  return add(v.rule, v.code, std::move(devices), v.message, v.fix, v.allowed);
}

void Sim::explain(Problem& p, const std::vector<std::string>& keys,
                  const std::function<bool(const Revert&)>& passes) {
  int looked = 0;
  const std::size_t oldest = changes_before_ > 4096 ? changes_before_ - 4096 : 0;
  for (std::size_t k = changes_before_; k-- > oldest && looked < 24;) {
    const Change* it = &st_.changes[k];
    if (std::find(keys.begin(), keys.end(), it->key) == keys.end()) continue;
    ++looked;
    if (passes(Revert{it})) {
      p.caused_by = it->step;
      p.cause = it->what;
      p.message += " (since step " + std::to_string(it->step) + ": " + it->what + ")";
      p.fix += std::string(p.fix.empty() ? "" : "; or ") + "run this step before step " +
               std::to_string(it->step) + " (" + it->what + ")";
      return;
    }
  }
}

std::vector<std::string> Sim::keys_of(std::initializer_list<const Address*> addrs) {
  std::vector<std::string> out;
  for (const Address* a : addrs) {
    out.push_back(a->device);
    out.push_back(a->str());
  }
  return out;
}

void Sim::changed_device(const std::string& name) {
  Change c;
  c.step = number_;
  c.what = describe(step_);
  c.key = name;
  c.device_before = st_.device(name)->desc;
  st_.changes.push_back(std::move(c));
}

void Sim::changed_partition(const Address& a) {
  const PartitionState* p = st_.partition(a);
  Change c;
  c.step = number_;
  c.what = describe(step_);
  c.key = a.str();
  c.partition_before = p->desc;
  c.partition_before->object_count = p->objects.size();
  st_.changes.push_back(std::move(c));
}

}  // namespace sim

using api::Version;
using luna::rules::check_ha_group;
using sim::group_view;
using sim::join;

StepResult apply_step(const Plan& plan, std::size_t index, FleetState& state) {
  return sim::Sim(plan, index, state).run();
}

std::vector<Problem> check_at_rest(const Plan& plan, const FleetState& st) {
  std::vector<Problem> out;
  for (const auto& [name, members] : st.groups) {
    std::vector<std::string> newer, older;
    for (const auto& m : members) {
      const DeviceState* d = st.device(m.device);
      if (!d) continue;
      const bool is_new =
          d->desc.kind == api::DeviceKind::luna7 && d->desc.firmware >= Version{7, 7, 0};
      const bool is_old =
          d->desc.kind == api::DeviceKind::luna6 ||
          (d->desc.kind == api::DeviceKind::luna7 && d->desc.firmware < Version{7, 7, 0});
      if (is_new) newer.push_back(m.str());
      if (is_old) older.push_back(m.str());
    }
    if (newer.empty() || older.empty()) continue;
    // The last step that changed the group or one of its members' devices.
    int last = 0;
    if (auto it = st.group_steps.find(name); it != st.group_steps.end()) last = it->second;
    for (const auto& c : st.changes)
      for (const auto& m : members)
        if (c.key == m.device || c.key == m.str()) last = std::max(last, c.step);
    Problem p;
    p.step = last;
    p.line = last > 0 ? plan.steps[static_cast<std::size_t>(last - 1)].line : 0;
    if (last == 0)
      for (const auto& g : plan.groups)
        if (g.name == name) p.line = g.line;
    p.rule = "X8";
    p.code = "CKR_OPERATION_NOT_ALLOWED";
    p.devices.push_back("hagroup:" + name);
    for (const auto& m : members) p.devices.push_back(m.str());
    p.message = "when the plan ends, HA group \"" + name + "\" mixes 7.7.0+ members (" +
                join(newer) + ") and older ones (" + join(older) +
                "); at rest they cannot share a group (rules X8, H7)";
    p.fix = "upgrade " + join(older, " and ") +
            " too (members first, the primary last), or remove them from the group";
    out.push_back(std::move(p));
  }
  return out;
}

CheckReport check_plan(const Plan& plan, const FleetState& initial) {
  CheckReport rep;
  FleetState st = initial;
  rep.problems = st.setup;
  // The groups as they are before the first step (step 0).
  for (const auto& [name, members] : st.groups) {
    bool complete = true;
    for (const auto& m : members) complete = complete && st.partition(m);
    if (!complete) continue;
    const luna::rules::HaGroupDesc g = group_view(st, name, members);
    int line = 0;
    for (const auto& gs : plan.groups)
      if (gs.name == name) line = gs.line;
    for (const auto& v : check_ha_group(g, plan.client)) {
      Problem p;
      p.line = line;
      p.rule = v.rule;
      p.code = v.code;
      p.devices.push_back("hagroup:" + name);
      for (const auto& m : members) p.devices.push_back(m.str());
      p.message = v.message;
      p.fix = v.fix;
      p.warning = v.allowed;
      rep.problems.push_back(std::move(p));
    }
  }
  rep.steps.reserve(plan.steps.size());
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    StepResult r = apply_step(plan, i, st);
    rep.problems.insert(rep.problems.end(), r.problems.begin(), r.problems.end());
    rep.steps.push_back(std::move(r));
  }
  for (auto& p : check_at_rest(plan, st)) rep.problems.push_back(std::move(p));
  std::stable_sort(rep.problems.begin(), rep.problems.end(),
                   [](const Problem& a, const Problem& b) { return a.step < b.step; });
  rep.final_state = std::move(st);
  return rep;
}

}  // namespace hsm::plans
