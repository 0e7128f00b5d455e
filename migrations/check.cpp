// The plan checker: apply_step() simulates one step on descriptions with the
// rule functions of plugins/luna/rules, check_plan() runs them all.
#include "migrations/check.hpp"

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>
#include <unordered_set>

#include "migrations/internal.hpp"
#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/evaluation.hpp"
#include "plugins/luna/rules/ha_rules.hpp"
#include "plugins/luna/rules/kind_profile.hpp"

namespace hsm::plans {

namespace rules = luna::rules;
using api::Endpoint;
using api::Verdict;
using api::Version;

bool StepResult::ok() const {
  return std::none_of(problems.begin(), problems.end(), [](const Problem& p) { return !p.warning; });
}
bool CheckReport::ok() const { return refusals() == 0; }
std::size_t CheckReport::refusals() const {
  return static_cast<std::size_t>(
      std::count_if(problems.begin(), problems.end(), [](const Problem& p) { return !p.warning; }));
}
std::size_t CheckReport::warnings() const { return problems.size() - refusals(); }

namespace {

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// Descriptions with one earlier value put back: the counterfactual behind
// Problem::caused_by ("would this step pass without that change?").
struct Revert {
  const Change* change = nullptr;
};

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

class Sim {
 public:
  Sim(const Plan& plan, std::size_t index, FleetState& st)
      : plan_(plan),
        step_(plan.steps[index]),
        number_(static_cast<int>(index) + 1),
        st_(st),
        changes_before_(st.changes.size()) {
    res_.step = number_;
    res_.line = step_.line;
  }

  StepResult run() {
    std::visit([this](const auto& s) { this->on(s); }, step_.body);
    if (res_.summary.empty()) res_.summary = describe(step_);
    return std::move(res_);
  }

 private:
  // ---- problems -----------------------------------------------------------

  Problem& add(std::string rule, std::string code, std::vector<std::string> devices, std::string message,
               std::string fix = {}, bool warning = false) {
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
  Problem& add(const api::Error& e, std::vector<std::string> devices) {
    return add(e.rule, e.code, std::move(devices), e.message, e.fix);
  }
  Problem& add(const Verdict& v, std::vector<std::string> devices) {
    return add(v.rule, v.code, std::move(devices), v.message, v.fix, v.allowed);
  }

  // The most recent earlier change to one of `keys` that, undone alone,
  // makes `passes` true. Looks back over a bounded number of changes made
  // before this step (steps may be applied out of plan order by plan order).
  void explain(Problem& p, const std::vector<std::string>& keys, const std::function<bool(const Revert&)>& passes) {
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
  static std::vector<std::string> keys_of(std::initializer_list<const Address*> addrs) {
    std::vector<std::string> out;
    for (const Address* a : addrs) {
      out.push_back(a->device);
      out.push_back(a->str());
    }
    return out;
  }

  // ---- bookkeeping --------------------------------------------------------

  void changed_device(const std::string& name) {
    Change c;
    c.step = number_;
    c.what = describe(step_);
    c.key = name;
    c.device_before = st_.device(name)->desc;
    st_.changes.push_back(std::move(c));
  }
  void changed_partition(const Address& a) {
    const PartitionState* p = st_.partition(a);
    Change c;
    c.step = number_;
    c.what = describe(step_);
    c.key = a.str();
    c.partition_before = p->desc;
    c.partition_before->object_count = p->objects.size();
    st_.changes.push_back(std::move(c));
  }

  // ---- HA groups ----------------------------------------------------------

  rules::HaGroupDesc group_desc(const std::string& name, const Revert& r = {}) const {
    rules::HaGroupDesc g;
    g.name = name;
    for (const auto& m : st_.groups.at(name)) g.members.push_back(endpoint_with(st_, m, r));
    return g;
  }
  std::vector<std::string> member_names(const std::string& group) const {
    std::vector<std::string> out;
    auto it = st_.groups.find(group);
    if (it != st_.groups.end())
      for (const auto& m : it->second) out.push_back(m.str());
    return out;
  }
  // Groups with a member on `device` (partition empty) or at the address.
  std::vector<std::string> groups_touching(const Address& a) const {
    std::vector<std::string> out;
    for (const auto& [name, members] : st_.groups)
      for (const auto& m : members)
        if (m.device == a.device && (a.partition.empty() || m.partition == a.partition)) {
          out.push_back(name);
          break;
        }
    return out;
  }
  using Verdicts = std::map<std::string, std::vector<Verdict>>;
  Verdicts group_verdicts(const std::vector<std::string>& groups) const {
    Verdicts out;
    for (const auto& g : groups)
      if (st_.groups.count(g)) out[g] = rules::check_ha_group(group_desc(g), plan_.client);
    return out;
  }
  static std::string key_of(const Verdict& v) { return v.rule + "|" + (v.allowed ? "w|" : "r|") + v.message; }

  // Reports what the groups say after the change that `before` did not.
  // `upgraded`: the device this step upgraded (rule H7 reporting).
  void report_groups(const Verdicts& before, const std::vector<std::string>& groups,
                     const std::string& upgraded = {}) {
    for (const auto& g : groups) {
      if (!st_.groups.count(g)) continue;
      std::set<std::string> old;
      if (auto it = before.find(g); it != before.end())
        for (const auto& v : it->second) old.insert(key_of(v));
      const auto now = rules::check_ha_group(group_desc(g), plan_.client);
      for (const auto& v : now) {
        if (old.count(key_of(v))) continue;
        std::vector<std::string> devs{"hagroup:" + g};
        for (const auto& m : member_names(g)) devs.push_back(m);
        const auto& members = st_.groups.at(g);
        if (!v.allowed && v.rule == "H8" && !upgraded.empty() && members.front().device == upgraded) {
          // rule H7: the primary is upgraded last.
          std::vector<std::string> behind, stuck;  // Luna 7 members to upgrade first; others to remove
          const DeviceState& up = *st_.device(upgraded);
          const Version fw = up.desc.firmware;
          for (const auto& m : members) {
            const DeviceState& d = *st_.device(m.device);
            if (m.device == upgraded || d.desc.firmware >= fw) continue;
            auto& list = d.desc.kind == up.desc.kind ? behind : stuck;
            if (std::find(list.begin(), list.end(), m.device) == list.end()) list.push_back(m.device);
          }
          if (!behind.empty() || !stuck.empty()) {
            std::string fix;
            if (!behind.empty())
              fix = "upgrade " + join(behind, " and ") + " before " + upgraded +
                    " (members first, the primary last, rule H7)";
            if (!stuck.empty())
              fix += std::string(fix.empty() ? "" : "; ") + "remove " + join(stuck, " and ") +
                     " from the group before upgrading " + upgraded + " (they cannot reach " + fw.str() + ")";
            add("H7", v.code, devs,
                "upgrading " + upgraded + ", the primary of HA group \"" + g + "\", to " + fw.str() +
                    " before its members breaks replication (rule H8): " + v.message,
                fix);
            continue;
          }
        }
        Problem& p = add(v, devs);
        if (!v.allowed) {
          std::vector<std::string> keys;
          for (const auto& m : members) {
            keys.push_back(m.device);
            keys.push_back(m.str());
          }
          const std::string rule = v.rule;
          explain(p, keys, [&](const Revert& r) {
            for (const auto& x : rules::check_ha_group(group_desc(g, r), plan_.client))
              if (!x.allowed && x.rule == rule) return false;
            return true;
          });
        }
      }
    }
  }

  // ---- configuration steps ------------------------------------------------

  void on(const UpgradeStep& s) {
    DeviceState& dev = *st_.device(s.device);
    const Version from = dev.desc.firmware;
    if (auto r = rules::check_upgrade(dev.desc, s.firmware); !r) {
      add(r.error(), {s.device});
      return;
    }
    const auto groups = groups_touching({s.device, ""});
    const auto before = group_verdicts(groups);
    changed_device(s.device);
    for (const auto& [name, part] : dev.partitions) changed_partition({s.device, name});
    dev.desc.firmware = s.firmware;
    // rules P5, D1 (and X2's policy 43), as the device applies them.
    const auto added = rules::policies_added_by_upgrade(from, s.firmware);
    std::vector<std::string> note;
    for (auto& [name, part] : dev.partitions) {
      auto policies = added;
      if (dev.desc.kind == api::DeviceKind::luna7 && from < Version{7, 7, 1} && s.firmware >= Version{7, 7, 1})
        policies[api::policy::part_allow_non_fips] = part.desc.fips ? 0 : 1;
      for (auto [id, v] : policies) part.desc.policies.emplace(id, v);
      // rule U2: a partition reaching 7.8.0 lists every suite, enabled.
      if (dev.desc.kind == api::DeviceKind::luna7 && s.firmware >= Version{7, 8, 0})
        for (const auto& suite : luna::cpv4_suites())
          if (std::find(part.desc.suites_available.begin(), part.desc.suites_available.end(), suite) ==
              part.desc.suites_available.end()) {
            part.desc.suites_available.push_back(suite);
            part.desc.suites_enabled.push_back(suite);
          }
    }
    for (auto [id, v] : added) note.push_back(std::to_string(id) + "=" + std::to_string(v));
    res_.summary = "upgrade " + s.device + " " + from.str() + " -> " + s.firmware.str() +
                   (note.empty() ? "" : " (partition policies added: " + join(note) + ")");
    report_groups(before, groups, s.device);
  }

  void on(const EnableFmStep& s) {
    DeviceState& dev = *st_.device(s.device);
    if (auto r = rules::check_enable_fm(dev.desc); !r) {
      add(r.error(), {s.device});
      return;
    }
    const auto groups = groups_touching({s.device, ""});
    const auto before = group_verdicts(groups);
    changed_device(s.device);
    dev.desc.fm = api::FmState::enabled;
    report_groups(before, groups);
  }

  void on(const PolicyStep& s) {
    DeviceState& dev = *st_.device(s.target.device);
    const auto groups = groups_touching(s.target);
    const auto before = group_verdicts(groups);
    if (s.target.partition.empty()) {
      changed_device(s.target.device);
      for (auto [id, value] : s.set) {
        std::vector<api::PartitionDesc> parts;
        for (const auto& [n, p] : dev.partitions) parts.push_back(p.desc);
        if (auto r = rules::check_hsm_policy(dev.desc, parts, id, value); !r) add(r.error(), {s.target.device});
        else dev.desc.hsm_policies[id] = value;
      }
    } else {
      changed_partition(s.target);
      PartitionState& part = *st_.partition(s.target);
      for (auto [id, value] : s.set) {
        const Endpoint ep = st_.endpoint(s.target);
        if (auto r = rules::check_partition_policy(ep.device, ep.partition, id, value); !r)
          add(r.error(), {s.target.str()});
        else part.desc.policies[id] = value;
      }
    }
    report_groups(before, groups);
  }

  void on(const DomainAddStep& s) {
    const Endpoint ep = st_.endpoint(s.partition);
    const std::string fp = st_.fingerprint_of(s.domain);
    if (auto r = rules::check_domain_add(ep.device, ep.partition, s.label, fp); !r) {
      add(r.error(), {s.partition.str()});
      return;
    }
    const auto groups = groups_touching(s.partition);
    const auto before = group_verdicts(groups);
    changed_partition(s.partition);
    auto& domains = st_.partition(s.partition)->desc.domains;
    if (s.primary)
      for (auto& d : domains) d.primary = false;
    api::DomainDesc d;
    d.label = s.label;
    d.primary = s.primary;
    const DomainSpec* spec = plan_.domain(s.domain);
    d.kind = spec ? spec->kind : api::DomainKind::text;
    d.fingerprint = fp;
    domains.push_back(std::move(d));
    report_groups(before, groups);
  }

  void on(const DomainLabelStep& s) {
    const Endpoint ep = st_.endpoint(s.partition);
    if (auto r = rules::check_domain_label(ep.device, ep.partition, s.label, s.new_label); !r) {
      add(r.error(), {s.partition.str()});
      return;
    }
    const auto groups = groups_touching(s.partition);
    const auto before = group_verdicts(groups);
    changed_partition(s.partition);
    auto& domains = st_.partition(s.partition)->desc.domains;
    for (auto& d : domains)
      if (d.label == s.label) {
        d.label = s.new_label;
        if (s.primary) {
          for (auto& o : domains) o.primary = false;
          d.primary = true;
        }
        break;
      }
    report_groups(before, groups);
  }

  void on(const DomainDeleteStep& s) {
    const Endpoint ep = st_.endpoint(s.partition);
    if (auto r = rules::check_domain_delete(ep.device, ep.partition, s.label); !r) {
      add(r.error(), {s.partition.str()});
      return;
    }
    const auto groups = groups_touching(s.partition);
    const auto before = group_verdicts(groups);
    changed_partition(s.partition);
    auto& domains = st_.partition(s.partition)->desc.domains;
    domains.erase(std::remove_if(domains.begin(), domains.end(),
                                 [&](const api::DomainDesc& d) { return d.label == s.label; }),
                  domains.end());
    report_groups(before, groups);
  }

  void on(const SuitesStep& s) {
    const auto groups = groups_touching(s.partition);
    const auto before = group_verdicts(groups);
    changed_partition(s.partition);
    PartitionState& part = *st_.partition(s.partition);
    std::set<std::string> enabled(part.desc.suites_enabled.begin(), part.desc.suites_enabled.end());
    auto change = [&](const std::string& suite, bool on) {
      const Endpoint ep = st_.endpoint(s.partition);
      if (auto r = rules::check_suite_change(ep.device, ep.partition, suite); !r) {
        add(r.error(), {s.partition.str()});
        return;
      }
      if (on) enabled.insert(suite);
      else enabled.erase(suite);
    };
    for (const auto& x : s.enable) change(x, true);
    for (const auto& x : s.disable) change(x, false);
    part.desc.suites_enabled.clear();
    for (const auto& suite : luna::cpv4_suites())
      if (enabled.count(suite)) part.desc.suites_enabled.push_back(suite);
    if (part.desc.suites_enabled.empty() && !s.disable.empty())
      add("U2", "", {s.partition.str()},
          "no CPv4 cipher suite stays enabled on " + s.partition.str() + ", which disables CPv4 there", "",
          true);
    report_groups(before, groups);
  }

  void on(const HaGroupCreateStep& s) {
    st_.groups[s.group] = s.members;
    st_.group_steps[s.group] = number_;
    res_.summary = describe(step_);
    report_groups({}, {s.group});
  }

  void on(const HaGroupAddStep& s) {
    auto& members = st_.groups[s.group];
    if (std::find(members.begin(), members.end(), s.member) != members.end()) {
      add("H3", "CKR_TEMPLATE_INCONSISTENT", {"hagroup:" + s.group, s.member.str()},
          s.member.str() + " is already a member of HA group \"" + s.group + "\"", "drop this step");
      return;
    }
    const auto before = group_verdicts({s.group});
    if (s.primary) members.insert(members.begin(), s.member);
    else members.push_back(s.member);
    st_.group_steps[s.group] = number_;
    report_groups(before, {s.group});
  }

  void on(const HaGroupRemoveStep& s) {
    auto& members = st_.groups[s.group];
    auto it = std::find(members.begin(), members.end(), s.member);
    if (it == members.end()) {
      add("H3", "", {"hagroup:" + s.group, s.member.str()},
          s.member.str() + " is not a member of HA group \"" + s.group + "\" at this step");
      return;
    }
    const auto before = group_verdicts({s.group});
    const bool was_primary = it == members.begin();
    members.erase(it);
    st_.group_steps[s.group] = number_;
    if (members.empty()) {
      st_.groups.erase(s.group);
      res_.summary = describe(step_) + " (the group is now empty and dissolved)";
      return;
    }
    if (was_primary)
      res_.summary = describe(step_) + "; " + members.front().str() + " becomes the primary (H3)";
    report_groups(before, {s.group});
  }

  // ---- object flows -------------------------------------------------------

  std::vector<api::ObjectDesc> select(const Address& from, const std::string& selector) {
    const PartitionState* p = st_.partition(from);
    std::vector<api::ObjectDesc> out;
    for (const auto& o : p->objects)
      if (selector == "all" || o.label == selector) out.push_back(o);
    if (selector != "all" && out.empty())
      add("plan", "", {from.str()}, "objects = \"" + selector + "\" selects no object on " + from.str() +
                                        " at this step (objects are selected by label, or \"all\")");
    return out;
  }

  // Object refusals grouped by rule, so 1,000 refusals of one kind are one problem.
  void report_objects(const Endpoint& src, const Endpoint& dst, const std::vector<api::ObjectDesc>& objs,
                      const std::vector<Verdict>& verdicts, const std::string& from, const Address& to) {
    struct Group {
      const Verdict* first;
      std::vector<std::string> labels;
    };
    std::map<std::string, Group> by;
    std::vector<std::string> order;
    std::set<std::string> warned;
    for (std::size_t i = 0; i < verdicts.size(); ++i) {
      const Verdict& v = verdicts[i];
      for (const auto& w : v.warnings)
        if (warned.insert(w).second) add(v.rule.empty() ? "plan" : v.rule, "", {from, to.str()}, w, "", true);
      if (v.allowed) continue;
      const std::string k = v.rule + "|" + v.code + "|" + v.fix;
      auto [it, fresh] = by.try_emplace(k, Group{&v, {}});
      if (fresh) order.push_back(k);
      it->second.labels.push_back(objs[i].label.empty() ? "#" + std::to_string(objs[i].handle) : objs[i].label);
    }
    for (const auto& k : order) {
      const Group& g = by[k];
      std::string msg = g.first->message;
      if (g.labels.size() > 1) {
        std::vector<std::string> shown(g.labels.begin(), g.labels.begin() + std::min<std::size_t>(5, g.labels.size()));
        msg += " (" + std::to_string(g.labels.size()) + " objects refused by rule " + g.first->rule + ": " +
               join(shown) + (g.labels.size() > 5 ? ", ..." : "") + ")";
      }
      Problem& p = add(g.first->rule, g.first->code, {src.address(), dst.address()}, msg, g.first->fix);
      if (g.first->rule == "C1") {
        const std::size_t want = objs.size();
        explain(p, keys_of({&to}), [&](const Revert& r) {
          const Endpoint d2 = endpoint_with(st_, to, r);
          auto limit = luna::profile(d2.device.kind).max_objects;
          return !limit || d2.partition.object_count + want <= *limit;
        });
      }
    }
  }

  // A protocol refusal (a CPv1-only source and a target that cannot take
  // CPv1, such as a FIPS 7.8 partition) that a Backup HSM G5 of the fleet
  // could bridge: it takes CPv1 and clones out by CPv3 (P8's exception, S3).
  void suggest_backup_route(Problem& p, const Endpoint& src, const Endpoint& dst, const Address& from,
                            const Address& to) {
    if (p.rule != "P4" && p.rule != "P5" && p.rule != "P7" && p.rule != "P8") return;
    if (src.device.kind == api::DeviceKind::backup_g5 || dst.device.kind == api::DeviceKind::backup_g5) return;
    for (const auto& [dname, dev] : st_.devices) {
      if (dev.desc.kind != api::DeviceKind::backup_g5) continue;
      for (const auto& [pname, part] : dev.partitions) {
        const Address bk{dname, pname};
        const Endpoint b = st_.endpoint(bk);
        if (!rules::evaluate_pair(src, b, plan_.client).allowed) continue;
        // What the target would see from the G5 once the objects are in it.
        if (!rules::evaluate_pair(b, dst, plan_.client).allowed) continue;
        p.fix += std::string(p.fix.empty() ? "" : "; or ") + "go through the Backup HSM " + bk.str() +
                 ": a backup step (from = \"" + from.str() + "\", to = \"" + bk.str() +
                 "\") then a restore step (from = \"" + bk.str() + "\", to = \"" + to.str() +
                 "\"); `plan order` makes this change";
        return;
      }
    }
  }

  // A clone-like flow between two partitions (clone, backup to and restore
  // from a Backup HSM G5): evaluate_clone, then the allowed objects land.
  void transfer(const Address& from, const Address& to, const std::string& selector, CopyMode mode,
                const std::string& verb) {
    auto selected = select(from, selector);
    PartitionState& dpart = *st_.partition(to);
    std::unordered_set<std::string> present;
    if (mode == CopyMode::add)
      for (const auto& o : dpart.objects) present.insert(o.fingerprint);
    std::vector<api::ObjectDesc> fresh;
    std::size_t already = 0;
    for (auto& o : selected) {
      if (!o.fingerprint.empty() && present.count(o.fingerprint)) ++already;
      else fresh.push_back(std::move(o));
    }
    const Endpoint src = st_.endpoint(from);
    Endpoint dst = st_.endpoint(to);
    if (mode == CopyMode::replace) dst.partition.object_count = 0;  // X5: replace wipes the target first
    const api::Evaluation ev = rules::evaluate_clone(src, dst, fresh, plan_.client);
    res_.batch_limit = ev.batch_limit;
    if (!ev.pair.allowed) {
      Problem& p = add(ev.pair, {from.str(), to.str()});
      explain(p, keys_of({&from, &to}), [&](const Revert& r) {
        return rules::evaluate_pair(endpoint_with(st_, from, r), endpoint_with(st_, to, r), plan_.client).allowed;
      });
      if (p.caused_by == 0) suggest_backup_route(p, src, dst, from, to);
      res_.summary = verb + " " + from.str() + " -> " + to.str() + ": refused";
      return;
    }
    res_.protocol = ev.pair.protocol;
    for (const auto& w : ev.pair.warnings) add(ev.pair.rule, "", {from.str(), to.str()}, w, "", true);
    report_objects(src, dst, fresh, ev.objects, from.str(), to);
    changed_partition(to);
    if (mode == CopyMode::replace) dpart.objects.clear();
    std::uint64_t handle = 1;
    for (const auto& o : dpart.objects) handle = std::max(handle, o.handle + 1);
    std::size_t moved = 0;
    for (std::size_t i = 0; i < fresh.size(); ++i) {
      if (!ev.objects[i].allowed) continue;
      api::ObjectDesc o = fresh[i];
      o.handle = handle++;
      o.travelled.push_back(*ev.pair.protocol);  // S3: provenance travels with the object
      dpart.objects.push_back(std::move(o));
      ++moved;
    }
    dpart.desc.object_count = dpart.objects.size();
    res_.objects = moved;
    std::string sum = verb + " " + std::to_string(moved) + " object(s) " + from.str() + " -> " + to.str() + " by " +
                      std::string(api::to_string(*ev.pair.protocol));
    if (already) sum += ", " + std::to_string(already) + " already present";
    if (ev.batch_limit < rules::kUnlimitedBatch && moved > ev.batch_limit)
      sum += ", in batches of at most " + std::to_string(ev.batch_limit) + " (C2)";
    res_.summary = sum;
  }

  void on(const CloneStep& s) { transfer(s.from, s.to, s.objects, CopyMode::add, "clone"); }

  void on(const BackupStep& s) {
    if (s.to) {
      transfer(s.from, *s.to, "all", s.mode, "backup");
      return;
    }
    // An archive: the source device seals every object for its own domain.
    const Endpoint src = st_.endpoint(s.from);
    const PartitionState& part = *st_.partition(s.from);
    // rule X1: HSM policy 7 must be 1 for any cloning or backup; policies 0
    // and 4 gate private and secret keys.
    if (src.device.hsm_policies.count(api::policy::hsm_allow_cloning) &&
        src.device.hsm_policies.at(api::policy::hsm_allow_cloning) != 1) {
      Problem& p = add("X1", "CKR_OPERATION_NOT_ALLOWED", {s.from.str()},
                       "HSM policy 7 (allow cloning) is 0 on " + s.from.device + ", so " + s.from.str() +
                           " cannot be backed up",
                       "set HSM policy 7 to 1 on " + s.from.device + " (a policy step with device = \"" +
                           s.from.device + "\", set = [\"7=1\"])");
      explain(p, keys_of({&s.from}), [&](const Revert& r) {
        const Endpoint e = endpoint_with(st_, s.from, r);
        auto it = e.device.hsm_policies.find(api::policy::hsm_allow_cloning);
        return it == e.device.hsm_policies.end() || it->second == 1;
      });
      return;
    }
    const api::DomainDesc* primary = nullptr;
    for (const auto& d : src.partition.domains)
      if (d.primary) primary = &d;
    if (!primary && !src.partition.domains.empty()) primary = &src.partition.domains.front();
    if (!primary) {
      add("S1", "CKR_DOMAIN_NO_PRIMARY", {s.from.str()}, s.from.str() + " has no cloning domain to seal an archive for");
      return;
    }
    ArchiveState a;
    a.step = number_;
    a.source = src;
    a.domain = primary->fingerprint;
    std::size_t refused = 0;
    for (const auto& o : part.objects) {
      auto pol = [&](int id) {
        auto it = src.partition.policies.find(id);
        return it == src.partition.policies.end() ? 1 : it->second;
      };
      if ((o.cls == api::ObjectClass::private_key && pol(api::policy::part_private_key_cloning) != 1) ||
          (o.cls == api::ObjectClass::secret_key && pol(api::policy::part_secret_key_cloning) != 1)) {
        ++refused;
        continue;
      }
      a.objects.push_back(o);
    }
    if (refused)
      add("X1", "CKR_OPERATION_NOT_ALLOWED", {s.from.str()},
          std::to_string(refused) + " object(s) of " + s.from.str() +
              " stay out of the archive: partition policy 0 or 4 (private / secret key cloning) is 0",
          "set partition policies 0 and 4 to 1 on " + s.from.str());
    if (a.objects.empty())
      add("plan", "", {s.from.str()},
          "the archive of " + s.from.str() + " would hold no object; a verify of it checks nothing", "", true);
    res_.objects = a.objects.size();
    res_.summary = "backup " + std::to_string(a.objects.size()) + " object(s) of " + s.from.str() + " -> archive " +
                   s.archive;
    st_.archives[s.archive] = std::move(a);
  }

  // What an archive restore would refuse, pair first then per object.
  // Model (rules S1, S2, X6, U4; then evaluate_object as the target's
  // firmware would unwrap: CPv4 rules on 7.8.0+ and cloud, CPv3 rules on
  // 7.7.x and a G5 6.28.0+, else CPv1 rules; then C1).
  struct ArchiveVerdict {
    Verdict pair;
    std::vector<Verdict> objects;
  };
  ArchiveVerdict judge_archive(const ArchiveState& a, const Endpoint& dst,
                               const std::vector<api::ObjectDesc>& objs) const {
    ArchiveVerdict out;
    auto refuse = [&](std::string rule, std::string code, std::string msg, std::string fix = {}) {
      out.pair = Verdict{false, std::nullopt, std::move(rule), std::move(code), std::move(msg), std::move(fix)};
      return out;
    };
    const std::string t = dst.address();
    bool holds = false;
    for (const auto& d : dst.partition.domains) holds = holds || d.fingerprint == a.domain;
    if (!holds)
      return refuse("S1", "CKR_CERTIFICATE_INVALID",
                    t + " does not hold the cloning domain of the archive (from " + a.source.address() + ")",
                    "restore into a partition of " + a.source.address() + "'s domain, or add that domain to " + t +
                        " with a domain-add step (firmware 7.8.0 and policy 44)");
    auto fm_class = [](const api::DeviceDesc& d) {
      if (d.kind == api::DeviceKind::luna6 || d.kind == api::DeviceKind::backup_g5) return api::FmState::never;
      if (d.kind == api::DeviceKind::luna7 && d.firmware < Version{7, 4, 0}) return api::FmState::never;
      return d.fm;
    };
    if (fm_class(a.source.device) == api::FmState::never && fm_class(dst.device) == api::FmState::enabled)
      return refuse("S2", "CKR_FM_NEVER_ENABLED",
                    "the archive comes from " + a.source.address() + " on an HSM that never enabled Functionality "
                    "Modules and " + t + " is on an FM-enabled HSM",
                    "restore into a partition on an HSM that never enabled FMs");
    const bool src_new = a.source.device.kind == api::DeviceKind::luna7 && a.source.device.firmware >= Version{7, 7, 0};
    const bool dst_old = dst.device.kind == api::DeviceKind::luna6 ||
                         (dst.device.kind == api::DeviceKind::luna7 && dst.device.firmware < Version{7, 7, 0});
    if (src_new && dst_old)
      return refuse("X6", "CKR_OPERATION_NOT_ALLOWED",
                    "the archive comes from " + a.source.address() + " (firmware " + a.source.device.firmware.str() +
                        ") and objects of 7.7.0+ partitions never restore to the pre-7.7.0 partition " + t,
                    "restore into a Luna 7 partition at firmware 7.7.0 or newer");
    if (a.source.partition.type == api::PartitionType::v1 && dst.partition.type != api::PartitionType::v1)
      return refuse("U4", "CKR_OPERATION_NOT_ALLOWED",
                    "the archive holds the SKS master key and blobs of the V1 partition " + a.source.address() +
                        "; " + t + " is not a V1 partition",
                    "restore into a V1 partition (firmware 7.7.0 or newer)");
    api::Protocol proto = api::Protocol::cpv1;
    if (rules::at_7_8(dst.device)) proto = api::Protocol::cpv4;
    else if ((dst.device.kind == api::DeviceKind::luna7 && dst.device.firmware >= Version{7, 7, 0}) ||
             (dst.device.kind == api::DeviceKind::backup_g5 && dst.device.firmware >= Version{6, 28, 0}))
      proto = api::Protocol::cpv3;
    out.pair.allowed = true;
    out.pair.protocol = proto;
    auto limit = luna::profile(dst.device.kind).max_objects;
    std::uint64_t count = dst.partition.object_count;
    for (const auto& o : objs) {
      Verdict v = rules::evaluate_object(a.source, dst, o, proto, plan_.client);
      if (v.allowed && limit && count + 1 > *limit)
        v = Verdict{false, proto, "C1", "CKR_MAX_OBJECT_COUNT_EXCEEDED",
                    t + " would hold more than " + std::to_string(*limit) + " objects with \"" + o.label + "\"",
                    "restore fewer objects, or delete objects on " + t};
      if (v.allowed) ++count;
      out.objects.push_back(std::move(v));
    }
    return out;
  }

  const ArchiveState* archive_of(const std::string& path, const std::string& verb) {
    auto it = st_.archives.find(path);
    if (it != st_.archives.end()) return &it->second;
    add("plan", "", {"archive:" + path},
        "archive " + path + " is not written by an earlier backup step of this plan; " + verb +
            " is checked against its contents at run time",
        "", true);
    return nullptr;
  }

  // Restore or drill from an archive; `apply` false for drills (they remove what they restored).
  void from_archive(const std::string& path, const Address& to, CopyMode mode, const std::string& selector,
                    bool apply, const std::string& verb) {
    const ArchiveState* a = archive_of(path, verb);
    if (!a) return;
    PartitionState& dpart = *st_.partition(to);
    std::unordered_set<std::string> present;
    if (mode == CopyMode::add)
      for (const auto& o : dpart.objects) present.insert(o.fingerprint);
    std::vector<api::ObjectDesc> fresh;
    std::size_t already = 0;
    for (const auto& o : a->objects) {
      if (selector != "all" && o.label != selector) continue;
      if (!o.fingerprint.empty() && present.count(o.fingerprint)) ++already;
      else fresh.push_back(o);
    }
    if (selector != "all" && fresh.empty() && already == 0)
      add("plan", "", {"archive:" + path}, "objects = \"" + selector + "\" selects no object of archive " + path);
    Endpoint dst = st_.endpoint(to);
    if (mode == CopyMode::replace) dst.partition.object_count = 0;
    const ArchiveVerdict v = judge_archive(*a, dst, fresh);
    const std::vector<std::string> devs{"archive:" + path, to.str()};
    if (!v.pair.allowed) {
      Problem& p = add(v.pair, devs);
      explain(p, keys_of({&to}), [&](const Revert& r) {
        Endpoint d2 = endpoint_with(st_, to, r);
        if (mode == CopyMode::replace) d2.partition.object_count = 0;
        return judge_archive(*a, d2, {}).pair.allowed;
      });
      return;
    }
    report_objects(a->source, dst, fresh, v.objects, "archive:" + path, to);
    std::size_t ok = 0;
    for (const auto& x : v.objects) ok += x.allowed;
    res_.objects = ok;
    if (!apply && already)
      add("plan", "", devs,
          to.str() + " already holds " + std::to_string(already) + " of the archive's objects; the drill does not "
                                                                    "restore (or test) those",
          "drill into an empty scratch partition of the same domain", true);
    res_.summary = verb + " " + std::to_string(ok) + " object(s) of archive " + path + " -> " + to.str() +
                   (already ? ", " + std::to_string(already) + " already present" : "");
    if (!apply) return;
    changed_partition(to);
    if (mode == CopyMode::replace) dpart.objects.clear();
    std::uint64_t handle = 1;
    for (const auto& o : dpart.objects) handle = std::max(handle, o.handle + 1);
    for (std::size_t i = 0; i < fresh.size(); ++i) {
      if (!v.objects[i].allowed) continue;
      api::ObjectDesc o = fresh[i];
      o.handle = handle++;
      dpart.objects.push_back(std::move(o));
    }
    dpart.desc.object_count = dpart.objects.size();
  }

  void on(const RestoreStep& s) {
    if (s.from) transfer(*s.from, s.to, s.objects, s.mode, "restore");
    else from_archive(s.archive, s.to, s.mode, s.objects, true, "restore");
  }

  void on(const DrillStep& s) { from_archive(s.archive, s.scratch, CopyMode::add, "all", false, "drill"); }

  void on(const VerifyStep& s) {
    const ArchiveState* a = archive_of(s.archive, "verify");
    if (!a) return;
    res_.objects = a->objects.size();
    res_.summary = "verify archive " + s.archive + " (" + std::to_string(a->objects.size()) + " object(s), from step " +
                   std::to_string(a->step) + ")";
    if (!s.with) return;
    const Endpoint w = st_.endpoint(*s.with);
    bool holds = false;
    for (const auto& d : w.partition.domains) holds = holds || d.fingerprint == a->domain;
    if (!holds) {
      Problem& p = add("S1", "CKR_CERTIFICATE_INVALID", {"archive:" + s.archive, s.with->str()},
                       s.with->str() + " does not hold the cloning domain of archive " + s.archive +
                           ", so it cannot open its blobs",
                       "verify with a partition of " + a->source.address() + "'s domain");
      explain(p, keys_of({&*s.with}), [&](const Revert& r) {
        for (const auto& d : endpoint_with(st_, *s.with, r).partition.domains)
          if (d.fingerprint == a->domain) return true;
        return false;
      });
    }
  }

  void on(const PruneStep& s) {
    if (s.keep_daily + s.keep_weekly + s.keep_monthly == 0)
      add("plan", "", {"dir:" + s.dir}, "prune with every keep_* at 0 would delete every archive in " + s.dir,
          "keep at least one archive (keep_daily = 1)");
  }

  const Plan& plan_;
  const Step& step_;
  int number_;
  FleetState& st_;
  std::size_t changes_before_;  // st_.changes made by earlier steps
  StepResult res_;
};

}  // namespace

StepResult apply_step(const Plan& plan, std::size_t index, FleetState& state) {
  return Sim(plan, index, state).run();
}

std::vector<Problem> check_at_rest(const Plan& plan, const FleetState& st) {
  std::vector<Problem> out;
  for (const auto& [name, members] : st.groups) {
    std::vector<std::string> newer, older;
    for (const auto& m : members) {
      const DeviceState* d = st.device(m.device);
      if (!d) continue;
      const bool is_new = d->desc.kind == api::DeviceKind::luna7 && d->desc.firmware >= Version{7, 7, 0};
      const bool is_old = d->desc.kind == api::DeviceKind::luna6 ||
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
    p.message = "when the plan ends, HA group \"" + name + "\" mixes 7.7.0+ members (" + join(newer) +
                ") and older ones (" + join(older) + "); at rest they cannot share a group (rules X8, H7)";
    p.fix = "upgrade " + join(older, " and ") + " too (members first, the primary last), or remove them from the group";
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
    rules::HaGroupDesc g;
    g.name = name;
    bool complete = true;
    for (const auto& m : members) {
      if (!st.partition(m)) complete = false;
      g.members.push_back(st.endpoint(m));
    }
    if (!complete) continue;
    int line = 0;
    for (const auto& gs : plan.groups)
      if (gs.name == name) line = gs.line;
    for (const auto& v : rules::check_ha_group(g, plan.client)) {
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

// ---- output -------------------------------------------------------------------

nlohmann::ordered_json to_json(const Problem& p) {
  nlohmann::ordered_json j;
  j["step"] = p.step;
  j["line"] = p.line;
  j["severity"] = p.warning ? "warning" : "refusal";
  j["rule"] = p.rule;
  j["code"] = p.code.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(p.code);
  j["devices"] = p.devices;
  j["message"] = p.message;
  j["fix"] = p.fix.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(p.fix);
  j["caused_by"] = p.caused_by ? nlohmann::ordered_json(p.caused_by) : nlohmann::ordered_json();
  return j;
}

nlohmann::ordered_json report_json(const Plan& plan, const CheckReport& rep) {
  nlohmann::ordered_json j;
  j["plan"] = plan.name;
  j["source"] = plan.source;
  j["ok"] = rep.ok();
  j["refusals"] = rep.refusals();
  j["warnings"] = rep.warnings();
  auto steps = nlohmann::ordered_json::array();
  for (const auto& s : rep.steps) {
    nlohmann::ordered_json e;
    e["step"] = s.step;
    e["line"] = s.line;
    e["action"] = std::string(to_string(plan.steps[static_cast<std::size_t>(s.step - 1)].action()));
    e["ok"] = s.ok();
    e["summary"] = s.summary;
    e["protocol"] = s.protocol ? nlohmann::ordered_json(std::string(api::to_string(*s.protocol)))
                               : nlohmann::ordered_json();
    e["objects"] = s.objects;
    steps.push_back(std::move(e));
  }
  j["steps"] = std::move(steps);
  auto problems = nlohmann::ordered_json::array();
  for (const auto& p : rep.problems) problems.push_back(to_json(p));
  j["problems"] = std::move(problems);
  return j;
}

std::string render_report(const Plan& plan, const CheckReport& rep) {
  std::ostringstream os;
  auto problem = [&](const Problem& p) {
    os << "    " << (p.warning ? "warning" : "refused") << " (rule " << p.rule << (p.code.empty() ? "" : ", " + p.code)
       << "): " << p.message << "\n";
    if (!p.fix.empty()) os << "      fix: " << p.fix << "\n";
  };
  bool setup = false;
  for (const auto& p : rep.problems)
    if (p.step == 0) {
      if (!setup) os << "before step 1 (the fleet as declared):\n";
      setup = true;
      problem(p);
    }
  for (const auto& s : rep.steps) {
    os << "step " << s.step << " (" << plan.source << ":" << s.line << ") " << (s.ok() ? "ok" : "REFUSED") << ": "
       << s.summary << "\n";
    for (const auto& p : rep.problems)
      if (p.step == s.step) problem(p);
  }
  os << (rep.ok() ? "plan OK" : "plan refused") << ": " << rep.steps.size() << " step(s), " << rep.refusals()
     << " refusal(s), " << rep.warnings() << " warning(s)\n";
  return os.str();
}

}  // namespace hsm::plans
