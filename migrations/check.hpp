// `plan check`: every step simulated on descriptions, in order, with each
// step's effect applied (an upgrade changes what later clones may do). The
// verdicts come from the same rule functions as `check` and `clone`
// (plugins/luna/rules), so a plan never passes what a device would refuse.
//
// apply_step() is the one place that knows what a step does to a fleet; the
// executor reuses it (dry runs, and to keep its own picture of the fleet).
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "migrations/plan.hpp"
#include "plugins/api/types.hpp"

namespace hsm::plans {

// One problem found by the checker. Refusals make a plan fail; warnings do not.
struct Problem {
  int step = 0;                      // 1-based; 0 = the fleet before the first step
  int line = 0;                      // source line of the step (step 0: of the declaration)
  std::string rule;                  // rule ID ("H7", "S1", ...); "plan" for plan-level checks
  std::string code;                  // CKR_ name; "" when none
  // What is involved: "DEV/PART", "DEV", "hagroup:NAME", "archive:PATH", "dir:PATH".
  std::vector<std::string> devices;
  std::string message;
  std::string fix;  // "" when none
  bool warning = false;
  int caused_by = 0;  // an earlier step whose change makes this step fail (0 = none found)
  std::string cause;  // what that step did ("upgrade hsm-a to 7.7.0")
  // Steps that, run just before this one, would fix it (X9: HSM policy 50
  // before enabling FMs; X9/X6: the intermediate releases of an update
  // path). `plan order` inserts them; the fix says so in words.
  std::vector<Step> insert_before;
};

struct PartitionState {
  // desc.fips is the partition's own FIPS flag; endpoint() adds HSM policy 12
  // (X2). desc.object_count is kept equal to objects.size().
  api::PartitionDesc desc;
  std::vector<api::ObjectDesc> objects;
};

struct DeviceState {
  api::DeviceDesc desc;
  std::map<std::string, PartitionState> partitions;  // by partition name
};

// An archive written by a backup step, keyed by the step's `archive` string.
struct ArchiveState {
  int step = 0;                 // the backup step that wrote it
  api::Endpoint source;         // the source partition at backup time
  std::string domain;           // fingerprint of the source's primary domain
  std::vector<api::ObjectDesc> objects;
};

// The checker's record of what each step changed, so that a refusal can name
// the earlier step behind it (see Problem::caused_by).
struct Change {
  int step = 0;
  std::string what;                               // describe(step)
  std::string key;                                // device name, or "DEV/PART"
  std::optional<api::DeviceDesc> device_before;   // set when a device changed
  std::optional<api::PartitionDesc> partition_before;  // set when a partition changed
};

struct FleetState {
  std::map<std::string, DeviceState> devices;
  std::map<std::string, std::vector<Address>> groups;  // HA groups; [0] is the primary
  std::map<std::string, ArchiveState> archives;
  // Plan domain name -> fingerprint. The executor fills it for emulated
  // devices (from the secrets); a name missing here is its own fingerprint.
  std::map<std::string, std::string> domain_fingerprints;
  std::vector<Problem> setup;    // problems met while building the state (step 0)
  std::vector<Change> changes;   // bookkeeping of apply_step
  std::map<std::string, int> group_steps;  // group -> last step that changed it

  const DeviceState* device(const std::string& name) const;
  DeviceState* device(const std::string& name);
  const PartitionState* partition(const Address& a) const;
  PartitionState* partition(const Address& a);
  // The rules' view of a partition: effective FIPS mode and object count set.
  api::Endpoint endpoint(const Address& a) const;
  std::string fingerprint_of(const std::string& domain) const;
};

// The initial state from the plan: `live` holds what exists (the executor
// fills it from the emulated devices in --home); every device, partition and
// HA group of the plan that `live` lacks is added as the plan declares it
// (an emulated one as the plan would create it, with its keys; a described
// one as written). Creation checks (P1, X2, X7, C1, K1...) become
// `setup` problems, reported at step 0.
FleetState fleet_from_plan(const Plan& plan, FleetState live = {});

// What one step did, or would do.
struct StepResult {
  int step = 0;
  int line = 0;
  std::string summary;            // "clone 12 object(s) a/p -> b/p by CPv1"
  std::vector<Problem> problems;  // refusals and warnings of this step
  std::optional<api::Protocol> protocol;  // clone, backup, restore
  std::size_t objects = 0;                // objects moved (clone, backup, restore, drill)
  std::size_t batch_limit = 0;            // C2: most objects per operation
  bool ok() const;                        // no refusal
};

// Checks steps[index] (0-based) against `state` and applies its effect.
// A step the device itself would refuse (check_upgrade, a policy, a domain
// change...) leaves the state as it was; a step that only breaks an HA group
// rule is applied, and the group problem reported; a clone adds the objects
// the rules allow.
StepResult apply_step(const Plan& plan, std::size_t index, FleetState& state);

// Problems of the fleet at rest after the last step: X8 (a 7.7.0+ member and
// an older one cannot share a group at rest), reported at the last step that
// changed the group or one of its members.
std::vector<Problem> check_at_rest(const Plan& plan, const FleetState& state);

struct CheckReport {
  std::vector<StepResult> steps;
  std::vector<Problem> problems;  // every problem, step 0 first, then in step order
  FleetState final_state;
  bool ok() const;  // no refusal anywhere
  std::size_t refusals() const;
  std::size_t warnings() const;
};

// Simulates every step of `plan` from `initial`, reporting every problem.
// The client is plan.client (the tool may override it before calling).
CheckReport check_plan(const Plan& plan, const FleetState& initial);

// Text for people ("step 7 (line 52) clone ...: refused by rule P8 ...") and
// JSON with stable field names for scripts.
std::string render_report(const Plan& plan, const CheckReport& report);
nlohmann::ordered_json report_json(const Plan& plan, const CheckReport& report);
nlohmann::ordered_json to_json(const Problem& p);

}  // namespace hsm::plans
