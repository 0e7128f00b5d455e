// Names of actions and modes, plan lookups, and describe(): a step as one
// line of text (plan show, plan check, the journal).
#include <string>

#include "migrations/internal.hpp"
#include "migrations/plan.hpp"

namespace hsm::plans {

// ---- names ----------------------------------------------------------------

namespace {
constexpr std::pair<Action, std::string_view> kActions[] = {
    {Action::upgrade, "upgrade"},
    {Action::enable_fm, "enable-fm"},
    {Action::policy, "policy"},
    {Action::domain_add, "domain-add"},
    {Action::domain_label, "domain-label"},
    {Action::domain_delete, "domain-delete"},
    {Action::suites, "suites"},
    {Action::hagroup_create, "hagroup-create"},
    {Action::hagroup_add, "hagroup-add"},
    {Action::hagroup_remove, "hagroup-remove"},
    {Action::clone, "clone"},
    {Action::backup, "backup"},
    {Action::restore, "restore"},
    {Action::verify, "verify"},
    {Action::drill, "drill"},
    {Action::prune, "prune"},
};
}  // namespace

std::string detail::action_names() {
  std::string names;
  for (auto [a, n] : kActions) names += (names.empty() ? "" : ", ") + std::string(n);
  return names;
}

std::string_view to_string(Action a) {
  for (auto [act, name] : kActions)
    if (act == a) return name;
  return "?";
}

std::optional<Action> parse_action(std::string_view text) {
  for (auto [act, name] : kActions)
    if (name == text) return act;
  return std::nullopt;
}

std::string_view to_string(CopyMode m) { return m == CopyMode::add ? "add" : "replace"; }

const DeviceSpec* Plan::device(std::string_view n) const {
  for (const auto& d : devices)
    if (d.name == n) return &d;
  return nullptr;
}

const PartitionSpec* Plan::partition(const Address& a) const {
  const DeviceSpec* d = device(a.device);
  if (!d) return nullptr;
  for (const auto& p : d->partitions)
    if (p.name == a.partition) return &p;
  return nullptr;
}

const DomainSpec* Plan::domain(std::string_view n) const {
  for (const auto& d : domains)
    if (d.name == n) return &d;
  return nullptr;
}

std::string describe(const Step& step) {
  struct V {
    std::string operator()(const UpgradeStep& s) const {
      return "upgrade " + s.device + " to " + s.firmware.str();
    }
    std::string operator()(const EnableFmStep& s) const {
      return "enable Functionality Modules on " + s.device;
    }
    std::string operator()(const PolicyStep& s) const {
      std::string out = std::string(s.target.partition.empty() ? "HSM policy " : "partition policy ");
      for (std::size_t i = 0; i < s.set.size(); ++i)
        out += (i ? ", " : "") + std::to_string(s.set[i].first) + "=" + std::to_string(s.set[i].second);
      return out + " on " + s.target.str();
    }
    std::string operator()(const DomainAddStep& s) const {
      return "add domain " + s.domain + (s.label.empty() ? "" : " (label " + s.label + ")") + " to " +
             s.partition.str() + (s.primary ? " as primary" : "");
    }
    std::string operator()(const DomainLabelStep& s) const {
      return "relabel domain " + (s.label.empty() ? std::string("(unlabelled)") : s.label) + " as " +
             s.new_label + " on " + s.partition.str() + (s.primary ? " and make it primary" : "");
    }
    std::string operator()(const DomainDeleteStep& s) const {
      return "delete domain " + s.label + " from " + s.partition.str();
    }
    std::string operator()(const SuitesStep& s) const {
      std::string out = "cipher suites on " + s.partition.str() + ":";
      for (const auto& e : s.enable) out += " +" + e;
      for (const auto& e : s.disable) out += " -" + e;
      return out;
    }
    std::string operator()(const HaGroupCreateStep& s) const {
      std::string out = "create HA group " + s.group + " (";
      for (std::size_t i = 0; i < s.members.size(); ++i) out += (i ? ", " : "") + s.members[i].str();
      return out + ")";
    }
    std::string operator()(const HaGroupAddStep& s) const {
      return "add " + s.member.str() + " to HA group " + s.group + (s.primary ? " as primary" : " as standby");
    }
    std::string operator()(const HaGroupRemoveStep& s) const {
      return "remove " + s.member.str() + " from HA group " + s.group;
    }
    std::string operator()(const CloneStep& s) const {
      return "clone " + s.from.str() + " -> " + s.to.str() + " (objects: " + s.objects + ")";
    }
    std::string operator()(const BackupStep& s) const {
      return "backup " + s.from.str() + " -> " + (s.to ? s.to->str() : "archive " + s.archive) +
             (s.to ? " (" + std::string(to_string(s.mode)) + ")" : "");
    }
    std::string operator()(const RestoreStep& s) const {
      return "restore " + (s.from ? s.from->str() : "archive " + s.archive) + " -> " + s.to.str() + " (" +
             std::string(to_string(s.mode)) + ", objects: " + s.objects + ")";
    }
    std::string operator()(const VerifyStep& s) const {
      return "verify archive " + s.archive + (s.with ? " (deep, with " + s.with->str() + ")" : "");
    }
    std::string operator()(const DrillStep& s) const {
      return "restore drill of archive " + s.archive + " in " + s.scratch.str();
    }
    std::string operator()(const PruneStep& s) const {
      return "prune " + s.dir + " (keep daily " + std::to_string(s.keep_daily) + ", weekly " +
             std::to_string(s.keep_weekly) + ", monthly " + std::to_string(s.keep_monthly) + ")";
    }
  };
  return std::visit(V{}, step.body);
}

}  // namespace hsm::plans
