// The plan checker's configuration and HA group steps (class Sim,
// check_sim.hpp): upgrade, enable-fm, policy, domain-add/label/delete,
// suites, hagroup-create/add/remove, each checked with the rule functions a
// device calls before the same change, and the HA group rules after it.
#include <algorithm>
#include <set>

#include "migrations/check_sim.hpp"
#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/kind_profile.hpp"

namespace hsm::plans::sim {

rules::HaGroupDesc Sim::group_desc(const std::string& name, const Revert& r) const {
  return group_view(st_, name, st_.groups.at(name), r);
}

std::vector<std::string> Sim::member_names(const std::string& group) const {
  std::vector<std::string> out;
  auto it = st_.groups.find(group);
  if (it != st_.groups.end())
    for (const auto& m : it->second) out.push_back(m.str());
  return out;
}

std::vector<std::string> Sim::groups_touching(const Address& a) const {
  std::vector<std::string> out;
  for (const auto& [name, members] : st_.groups)
    for (const auto& m : members)
      if (m.device == a.device && (a.partition.empty() || m.partition == a.partition)) {
        out.push_back(name);
        break;
      }
  return out;
}

Sim::Verdicts Sim::group_verdicts(const std::vector<std::string>& groups) const {
  Verdicts out;
  for (const auto& g : groups)
    if (st_.groups.count(g)) out[g] = rules::check_ha_group(group_desc(g), plan_.client);
  return out;
}

void Sim::report_groups(const Verdicts& before, const std::vector<std::string>& groups,
                        const std::string& upgraded) {
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
        std::vector<std::string> behind,
            stuck;  // Luna 7 members to upgrade first; others to remove
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
                   " from the group before upgrading " + upgraded + " (they cannot reach " +
                   fw.str() + ")";
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

void Sim::on(const UpgradeStep& s) {
  DeviceState& dev = *st_.device(s.device);
  const Version from = dev.desc.firmware;
  if (auto r = rules::check_upgrade(dev.desc, s.firmware); !r) {
    Problem& p = add(r.error(), {s.device});
    // rules X9 / X6: a documented path through intermediate releases.
    const auto route = rules::upgrade_route(dev.desc.kind, from, s.firmware);
    if (route.size() > 1 && (p.rule == "X9" || p.rule == "X6")) {
      std::vector<std::string> names;
      for (std::size_t i = 0; i + 1 < route.size(); ++i) {
        Step up;
        up.body = UpgradeStep{s.device, route[i]};
        up.line = step_.line;
        up.note = "inserted by plan order: the update path to " + s.firmware.str() + " (rule " +
                  p.rule + ")";
        p.insert_before.push_back(std::move(up));
        names.push_back(route[i].str());
      }
      p.fix += "; in the plan: an upgrade step of " + s.device + " to " +
               join(names, ", then to ") + " before this one (`plan order` inserts it)";
    }
    return;
  }
  // rules X9 / X6: a release the table of update paths does not know is
  // allowed, and flagged.
  if (auto flag = rules::upgrade_path_flag(dev.desc, s.firmware); !flag.empty())
    add(rules::update_rule(dev.desc.kind), "", {s.device}, flag, "", true);
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
    if (dev.desc.kind == api::DeviceKind::luna7 && from < Version{7, 7, 1} &&
        s.firmware >= Version{7, 7, 1})
      policies[api::policy::part_allow_non_fips] = part.desc.fips ? 0 : 1;
    for (auto [id, v] : policies) part.desc.policies.emplace(id, v);
    // rule U2: a partition reaching 7.8.0 lists every suite, enabled.
    if (dev.desc.kind == api::DeviceKind::luna7 && s.firmware >= Version{7, 8, 0})
      for (const auto& suite : luna::cpv4_suites())
        if (std::find(part.desc.suites_available.begin(), part.desc.suites_available.end(),
                      suite) == part.desc.suites_available.end()) {
          part.desc.suites_available.push_back(suite);
          part.desc.suites_enabled.push_back(suite);
        }
  }
  for (auto [id, v] : added) note.push_back(std::to_string(id) + "=" + std::to_string(v));
  res_.summary = "upgrade " + s.device + " " + from.str() + " -> " + s.firmware.str() +
                 (note.empty() ? "" : " (partition policies added: " + join(note) + ")");
  report_groups(before, groups, s.device);
}

void Sim::on(const EnableFmStep& s) {
  DeviceState& dev = *st_.device(s.device);
  if (auto r = rules::check_enable_fm(dev.desc); !r) {
    Problem& p = add(r.error(), {s.device});
    if (p.rule == "X9") {
      // rule X9: HSM policy 50 first; `plan order` can insert that step.
      Step pol;
      pol.body = PolicyStep{{s.device, ""}, {{api::policy::hsm_allow_fm, 1}}};
      pol.line = step_.line;
      pol.note = "inserted by plan order: FMs need HSM policy 50 (rule X9)";
      p.insert_before.push_back(std::move(pol));
      p.fix += "; in the plan: a policy step with device = \"" + s.device +
               "\", set = [\"50=1\"] before this one (`plan order` inserts it)";
      explain(p, {s.device}, [&](const Revert& rv) {
        const Address a{s.device, ""};
        return rules::check_enable_fm(endpoint_with(st_, a, rv).device).ok();
      });
    }
    return;
  }
  const auto groups = groups_touching({s.device, ""});
  const auto before = group_verdicts(groups);
  changed_device(s.device);
  dev.desc.fm = api::FmState::enabled;
  report_groups(before, groups);
}

void Sim::on(const PolicyStep& s) {
  DeviceState& dev = *st_.device(s.target.device);
  const auto groups = groups_touching(s.target);
  const auto before = group_verdicts(groups);
  if (s.target.partition.empty()) {
    changed_device(s.target.device);
    for (auto [id, value] : s.set) {
      std::vector<api::PartitionDesc> parts;
      for (const auto& [n, p] : dev.partitions) parts.push_back(p.desc);
      if (auto r = rules::check_hsm_policy(dev.desc, parts, id, value); !r)
        add(r.error(), {s.target.device});
      else
        dev.desc.hsm_policies[id] = value;
    }
  } else {
    changed_partition(s.target);
    PartitionState& part = *st_.partition(s.target);
    for (auto [id, value] : s.set) {
      const Endpoint ep = st_.endpoint(s.target);
      if (auto r = rules::check_partition_policy(ep.device, ep.partition, id, value); !r)
        add(r.error(), {s.target.str()});
      else
        part.desc.policies[id] = value;
    }
  }
  report_groups(before, groups);
}

void Sim::on(const DomainAddStep& s) {
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

void Sim::on(const DomainLabelStep& s) {
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

void Sim::on(const DomainDeleteStep& s) {
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

void Sim::on(const SuitesStep& s) {
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
    if (on)
      enabled.insert(suite);
    else
      enabled.erase(suite);
  };
  for (const auto& x : s.enable) change(x, true);
  for (const auto& x : s.disable) change(x, false);
  part.desc.suites_enabled.clear();
  for (const auto& suite : luna::cpv4_suites())
    if (enabled.count(suite)) part.desc.suites_enabled.push_back(suite);
  if (part.desc.suites_enabled.empty() && !s.disable.empty())
    add("U2", "", {s.partition.str()},
        "no CPv4 cipher suite stays enabled on " + s.partition.str() +
            ", which disables CPv4 there",
        "", true);
  report_groups(before, groups);
}

void Sim::on(const HaGroupCreateStep& s) {
  st_.groups[s.group] = s.members;
  st_.group_steps[s.group] = number_;
  res_.summary = describe(step_);
  report_groups({}, {s.group});
}

void Sim::on(const HaGroupAddStep& s) {
  auto& members = st_.groups[s.group];
  if (std::find(members.begin(), members.end(), s.member) != members.end()) {
    add("H3", "CKR_TEMPLATE_INCONSISTENT", {"hagroup:" + s.group, s.member.str()},
        s.member.str() + " is already a member of HA group \"" + s.group + "\"", "drop this step");
    return;
  }
  const auto before = group_verdicts({s.group});
  if (s.primary)
    members.insert(members.begin(), s.member);
  else
    members.push_back(s.member);
  st_.group_steps[s.group] = number_;
  report_groups(before, {s.group});
}

void Sim::on(const HaGroupRemoveStep& s) {
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

}  // namespace hsm::plans::sim
