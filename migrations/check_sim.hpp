// The plan checker's step simulator (internal to migrations/): one Sim
// checks one step on the simulated fleet and applies its effect. Its
// definitions are split by concern: check.cpp (problems, bookkeeping and the
// drivers), check_config.cpp (configuration and HA group steps),
// check_flows.cpp (clone, backup, restore, drill, verify and prune).
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "migrations/check.hpp"
#include "plugins/luna/rules/ha_rules.hpp"

namespace hsm::plans::sim {

namespace rules = luna::rules;
using api::Endpoint;
using api::Verdict;
using api::Version;

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ");

// Descriptions with one earlier value put back: the counterfactual behind
// Problem::caused_by ("would this step pass without that change?").
struct Revert {
  const Change* change = nullptr;
};

Endpoint endpoint_with(const FleetState& st, const Address& a, const Revert& r);

// An HA group as the rules see it. Replication carries the primary's
// objects to every member: each member's held_fingerprints names those it
// already holds after earlier steps (rule C1 does not count them).
rules::HaGroupDesc group_view(const FleetState& st, const std::string& name,
                              const std::vector<Address>& members, const Revert& r = {});

class Sim {
 public:
  Sim(const Plan& plan, std::size_t index, FleetState& st);
  StepResult run();

 private:
  // ---- problems -----------------------------------------------------------
  Problem& add(std::string rule, std::string code, std::vector<std::string> devices,
               std::string message, std::string fix = {}, bool warning = false);
  Problem& add(const api::Error& e, std::vector<std::string> devices);
  Problem& add(const Verdict& v, std::vector<std::string> devices);
  // The most recent earlier change to one of `keys` that, undone alone,
  // makes `passes` true. Looks back over a bounded number of changes made
  // before this step (steps may be applied out of plan order by plan order).
  void explain(Problem& p, const std::vector<std::string>& keys,
               const std::function<bool(const Revert&)>& passes);
  static std::vector<std::string> keys_of(std::initializer_list<const Address*> addrs);

  // ---- bookkeeping --------------------------------------------------------
  void changed_device(const std::string& name);
  void changed_partition(const Address& a);

  // ---- HA groups ----------------------------------------------------------
  rules::HaGroupDesc group_desc(const std::string& name, const Revert& r = {}) const;
  std::vector<std::string> member_names(const std::string& group) const;
  // Groups with a member on `device` (partition empty) or at the address.
  std::vector<std::string> groups_touching(const Address& a) const;
  using Verdicts = std::map<std::string, std::vector<Verdict>>;
  Verdicts group_verdicts(const std::vector<std::string>& groups) const;
  static std::string key_of(const Verdict& v) {
    return v.rule + "|" + (v.allowed ? "w|" : "r|") + v.message;
  }
  // Reports what the groups say after the change that `before` did not.
  // `upgraded`: the device this step upgraded (rule H7 reporting).
  void report_groups(const Verdicts& before, const std::vector<std::string>& groups,
                     const std::string& upgraded = {});

  // ---- configuration steps ------------------------------------------------
  void on(const UpgradeStep& s);
  void on(const EnableFmStep& s);
  void on(const PolicyStep& s);
  void on(const DomainAddStep& s);
  void on(const DomainLabelStep& s);
  void on(const DomainDeleteStep& s);
  void on(const SuitesStep& s);
  void on(const HaGroupCreateStep& s);
  void on(const HaGroupAddStep& s);
  void on(const HaGroupRemoveStep& s);

  // ---- object flows -------------------------------------------------------
  std::vector<api::ObjectDesc> select(const Address& from, const std::string& selector);
  // Object refusals grouped by rule, so 1,000 refusals of one kind are one problem.
  void report_objects(const Endpoint& src, const Endpoint& dst,
                      const std::vector<api::ObjectDesc>& objs,
                      const std::vector<Verdict>& verdicts, const std::string& from,
                      const Address& to, CopyMode mode);
  // A protocol refusal (a CPv1-only source and a target that cannot take
  // CPv1, such as a FIPS 7.8 partition) that a Backup HSM G5 of the fleet
  // could bridge: it takes CPv1 and clones out by CPv3 (P8's exception, S3).
  void suggest_backup_route(Problem& p, const Endpoint& src, const Endpoint& dst,
                            const Address& from, const Address& to);
  // The rules' view of a target about to take `incoming`: emptied first by
  // a replace (X5); else with held_fingerprints set to the incoming objects
  // it already holds (after earlier steps), which rule C1 does not count.
  Endpoint target_view(const Address& to, CopyMode mode,
                       const std::vector<api::ObjectDesc>& incoming) const;
  // The allowed objects land in `dpart`, as a device creates them: an object
  // whose content the target already holds is not doubled. Returns (created,
  // already present); a null `dpart` only counts. `protocol` is recorded as
  // provenance (S3) when set.
  static std::pair<std::size_t, std::size_t> land(PartitionState* dpart, const Endpoint& dst,
                                                  const std::vector<api::ObjectDesc>& objs,
                                                  const std::vector<Verdict>& verdicts,
                                                  std::optional<api::Protocol> protocol);
  // A clone-like flow between two partitions (clone, backup to and restore
  // from a Backup HSM G5): evaluate_clone, then the allowed objects land.
  void transfer(const Address& from, const Address& to, const std::string& selector, CopyMode mode,
                const std::string& verb);
  void on(const CloneStep& s) { transfer(s.from, s.to, s.objects, CopyMode::add, "clone"); }
  void on(const BackupStep& s);
  // What an archive restore would refuse, pair first then per object.
  // Model (rules S1, S2, X6, U4; then evaluate_object as the target's
  // firmware would unwrap: CPv4 rules on 7.8.0+ and cloud, CPv3 rules on
  // 7.7.x and a G5 6.28.0+, else CPv1 rules; then C1).
  struct ArchiveVerdict {
    Verdict pair;
    std::vector<Verdict> objects;
  };
  ArchiveVerdict judge_archive(const ArchiveState& a, const Endpoint& dst,
                               const std::vector<api::ObjectDesc>& objs) const;
  const ArchiveState* archive_of(const std::string& path, const std::string& verb);
  // Restore or drill from an archive; `apply` false for drills (they remove what they restored).
  void from_archive(const std::string& path, const Address& to, CopyMode mode,
                    const std::string& selector, bool apply, const std::string& verb);
  void on(const RestoreStep& s);
  void on(const DrillStep& s) {
    from_archive(s.archive, s.scratch, CopyMode::add, "all", false, "drill");
  }
  void on(const VerifyStep& s);
  void on(const PruneStep& s);

  const Plan& plan_;
  const Step& step_;
  int number_;
  FleetState& st_;
  std::size_t changes_before_;  // st_.changes made by earlier steps
  StepResult res_;
};

}  // namespace hsm::plans::sim
