// The plan language: the model of a parsed plan (spec: man/hsm-migrate-plan.5).
//
// A plan names domains, devices (emulated in --home, or described: a real
// device written down), HA groups that exist before it runs, and ordered
// steps. Every step is a typed struct in Step::body, so an executor can
// std::visit it; Step::line is the source line of its [[step]] header for
// messages ("PLAN.toml:LINE: ...").
//
// Names are resolved when the plan is parsed: every device, partition and HA
// group a step names exists in the plan (a group may also be created by an
// earlier hagroup-create step), so later stages never meet a dangling name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::plans {

// Environment variables a built-in plan takes its secrets from by default.
inline constexpr const char* kDefaultPinEnv = "HSM_MIGRATE_PIN";
inline constexpr const char* kDefaultDomainEnv = "HSM_MIGRATE_DOMAIN";

// "DEVICE/PARTITION", or "DEVICE" alone where a step acts on the HSM itself.
struct Address {
  std::string device;
  std::string partition;  // empty: the device
  std::string str() const { return partition.empty() ? device : device + "/" + partition; }
  auto operator<=>(const Address&) const = default;
};

// Where a secret comes from at run time (never the plan itself). At most one
// of the three is set; none set means the default environment variable.
struct SecretSource {
  std::string env;      // environment variable name
  std::string file;     // a file holding the secret (one trailing newline dropped)
  std::string ped_key;  // PED-key file (PED domains only; created when absent)
  bool empty() const { return env.empty() && file.empty() && ped_key.empty(); }
};

// [[domain]]: a cloning domain by name. Equal names are the same domain; for
// described devices the name is also the domain's fingerprint.
struct DomainSpec {
  std::string name;
  api::DomainKind kind = api::DomainKind::text;
  SecretSource secret;    // empty: $HSM_MIGRATE_DOMAIN
  bool declared = false;  // false: implied by a use, with the defaults
  int line = 0;
};

// One entry of a partition's `domains`.
struct DomainUse {
  std::string name;
  std::string label;  // "" = unlabelled (only the first domain, D2)
  bool primary = false;
  int line = 0;
};

// [[device.partition.keys]]: keys an emulated partition generates when the
// plan creates it, or objects a described partition holds. An asymmetric
// type (rsa-*, ec-*, ed25519) makes a private and a public object per key.
struct KeySpec {
  std::string type;   // aes-128|aes-192|aes-256, des3, rsa-1024..4096, ec-p256|p384|p521, ed25519
  int count = 1;
  std::string label;  // base label (default: the type); "-N" suffix when count > 1
  bool extractable = true;
  api::KeygenMechanism keygen = api::KeygenMechanism::none;  // RSA only (K3/K4)
  // Described devices only: attributes of objects that already exist.
  bool per_key_auth = false;
  bool assigned = false;
  bool key_ring = false;
  bool des3_counters = false;
  bool unknown_attribute = false;
  std::optional<api::FmState> origin_fm;  // default: the device's FM state
  std::vector<api::Protocol> travelled;   // protocols the objects came in by (S3)
  int line = 0;
};

// [[device.partition]]
struct PartitionSpec {
  std::string name;
  api::PartitionType type = api::PartitionType::v0;
  api::AuthKind auth = api::AuthKind::password;
  bool fips = false;
  std::map<int, int> policies;     // on top of the defaults a new partition has
  std::vector<DomainUse> domains;  // exactly one primary after parsing
  std::optional<std::vector<std::string>> suites;  // enabled CPv4 suites; default all (7.8.0+)
  std::optional<std::uint64_t> objects;  // described: total object count (rest checked as AES-256)
  std::vector<KeySpec> keys;
  SecretSource pin;  // emulated: default $HSM_MIGRATE_PIN
  int line = 0;
};

// emulated: a Luna device emulated in --home, created when absent.
// described: a real Luna device written down (plan check only).
// token: a PKCS#11 token (kind = "pkcs11"), registered in --home when absent
// (`device add`), its domains joined and its keys generated on it; with
// softhsm2_folder the plan initialises the token itself.
enum class DeviceMode { emulated, described, token };

// A PKCS#11 token's registration (kind = "pkcs11" only).
struct TokenSpec {
  std::string module;  // path of the PKCS#11 library
  std::string label;   // the token's label (default: its partition's name)
  std::map<std::string, std::string> module_env;  // variables the module reads
  // A folder of --home (relative) where SoftHSM2 keeps this plan's tokens
  // under its own configuration; the plan initialises the token there when
  // absent. Empty: the token exists already and is only registered.
  std::string softhsm2_folder;
  int line = 0;
};

// [[device]]
struct DeviceSpec {
  std::string name;
  DeviceMode mode = DeviceMode::emulated;
  api::DeviceKind kind = api::DeviceKind::luna7;
  api::Version firmware;        // emulated default: the kind's default firmware
  bool fm = false;              // Functionality Modules enabled
  std::map<int, int> hsm_policies;  // on top of the defaults (7, 12, 16 = 1; 50 = fm; 57 = 0)
  bool safexcel = false;            // described: Luna 6 SafeXcel 1746 enabled (H6)
  std::int64_t clock_offset_s = 0;  // described: clock skew against host time (U3)
  TokenSpec token;                  // mode token only
  std::vector<PartitionSpec> partitions;
  int line = 0;
};

// [[hagroup]]: an HA group that exists before the plan runs.
struct GroupSpec {
  std::string name;
  std::vector<Address> members;  // members[0] is the primary (H3)
  int line = 0;
};

// ---- steps --------------------------------------------------------------
// The order of the alternatives in StepBody is the order of Action: never
// reorder one without the other.
enum class Action {
  upgrade,
  enable_fm,
  policy,
  domain_add,
  domain_label,
  domain_delete,
  suites,
  hagroup_create,
  hagroup_add,
  hagroup_remove,
  clone,
  backup,
  restore,
  verify,
  drill,
  prune,
};
std::string_view to_string(Action a);  // "upgrade", "enable-fm", "domain-add", ...
std::optional<Action> parse_action(std::string_view text);

enum class CopyMode { add, replace };  // X5: add is non-destructive, replace wipes the target first
std::string_view to_string(CopyMode m);

struct UpgradeStep {
  std::string device;
  api::Version firmware;
};
struct EnableFmStep {
  std::string device;
};
// HSM policies when target.partition is empty, else partition policies.
// Applied in the order given.
struct PolicyStep {
  Address target;
  std::vector<std::pair<int, int>> set;
};
struct DomainAddStep {
  Address partition;
  std::string domain;  // a domain name of the plan
  std::string label;
  bool primary = false;
};
struct DomainLabelStep {
  Address partition;
  std::string label;  // current label ("" = the unlabelled domain)
  std::string new_label;
  bool primary = false;  // also make it the primary (D3)
};
struct DomainDeleteStep {
  Address partition;
  std::string label;
};
struct SuitesStep {
  Address partition;
  std::vector<std::string> enable;
  std::vector<std::string> disable;
};
struct HaGroupCreateStep {
  std::string group;
  std::vector<Address> members;  // [0] is the primary
};
struct HaGroupAddStep {
  std::string group;
  Address member;
  bool primary = false;  // join as the new primary (else as a standby, at the end)
};
struct HaGroupRemoveStep {
  std::string group;
  Address member;
};
struct CloneStep {
  Address from;
  Address to;
  std::string objects = "all";  // "all" or a label
};
// To a Backup HSM G5 partition (`to`) or to an archive file (`archive`).
struct BackupStep {
  Address from;
  std::optional<Address> to;
  std::string archive;  // may hold a date template (%Y%m%d-%H%M%S)
  CopyMode mode = CopyMode::add;  // backup-g5 targets
  bool force = false;             // archives: overwrite an existing file
};
// From a Backup HSM G5 partition (`from`) or an archive.
struct RestoreStep {
  std::optional<Address> from;
  std::string archive;
  Address to;
  CopyMode mode = CopyMode::add;
  std::string objects = "all";
};
struct VerifyStep {
  std::string archive;
  std::optional<Address> with;  // deep verify: a partition of the archive's domain opens every blob
};
struct DrillStep {
  std::string archive;
  Address scratch;
};
struct PruneStep {
  std::string dir;
  int keep_daily = 0;
  int keep_weekly = 0;
  int keep_monthly = 0;
};

using StepBody = std::variant<UpgradeStep, EnableFmStep, PolicyStep, DomainAddStep, DomainLabelStep,
                              DomainDeleteStep, SuitesStep, HaGroupCreateStep, HaGroupAddStep,
                              HaGroupRemoveStep, CloneStep, BackupStep, RestoreStep, VerifyStep,
                              DrillStep, PruneStep>;

struct Step {
  StepBody body;
  std::string note;  // optional free text (`note = "..."`)
  int line = 0;      // line of the [[step]] header; 0 for steps made by order_plan
  Action action() const { return static_cast<Action>(body.index()); }
};

// One line describing a step: "upgrade hsm-a to 7.7.0", "clone a/p -> b/p (all)".
std::string describe(const Step& s);

struct Plan {
  std::string source;  // the file name used in messages
  std::string name;
  std::string description;
  api::ClientDesc client;  // [plan] client_version, lunacm_cv_ha_ui
  bool client_version_given = false;
  bool cv_ha_ui_given = false;
  // [plan] recurring = true: a plan cron runs every night (nightly-backup).
  // `plan run` then starts a new run when the last one finished, and first
  // finishes (resumes) a run a crash interrupted. A one-shot plan (the
  // default) run again says it already finished; --again and --resume ask.
  bool recurring = false;
  std::vector<DomainSpec> domains;  // declared ones first, then those implied by a use
  std::vector<DeviceSpec> devices;
  std::vector<GroupSpec> groups;
  std::vector<Step> steps;

  const DeviceSpec* device(std::string_view name) const;
  const PartitionSpec* partition(const Address& a) const;
  const DomainSpec* domain(std::string_view name) const;
};

// Parse and validate. Errors are Error::usage with one line per problem, each
// "PLAN.toml:LINE: what is wrong; expected ...", sorted by line.
api::Result<Plan> parse_plan(const std::filesystem::path& file);
api::Result<Plan> parse_plan_string(std::string_view text, std::string_view name);

// Canonical TOML for a plan: parse_plan_string(plan_to_toml(p)) gives p back
// (lines aside). Comments of the original file are not kept.
std::string plan_to_toml(const Plan& plan);

}  // namespace hsm::plans
