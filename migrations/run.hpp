// `plan run`: the executor. It checks the plan against the live fleet
// (refusing to start when `plan check` finds a problem), creates what the
// plan declares and the fleet lacks, then runs the steps in order through a
// StepRunner, with every setup item, step and object batch journaled before
// and after (migrations/journal.hpp).
//
// The StepRunner is implemented by the tool (tool/plan_runner.cpp) with the
// same operations the commands use; this library does not depend on the
// tool. Every runner method is idempotent, because --resume redoes the step
// a crash interrupted: an upgrade to the firmware a device already runs, a
// domain already added, a member already in its group are reported done;
// clones match objects by content fingerprint, so nothing is cloned twice.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "migrations/check.hpp"
#include "migrations/plan.hpp"
#include "plugins/api/status.hpp"

namespace hsm::plans {

// Called after each object batch a target committed: batch number (1-based),
// objects created and objects found already present.
using BatchHook = std::function<api::Status(std::size_t batch, std::size_t created, std::size_t already_present)>;
// Called by a backup step with the id of the archive it is about to write,
// before writing it: the journal records it (archive-begin), so that a
// resumed step accepts an archive at its path only if this run wrote it.
using ArchiveIdHook = std::function<api::Status(const std::string& archive_id_hex)>;

// One method per kind of setup item and step. Each returns a one-line summary
// of what it did.
class StepRunner {
 public:
  virtual ~StepRunner() = default;

  // The live fleet, as fleet_from_plan() takes it.
  virtual api::Result<FleetState> live() = 0;

  // Setup (only for what is absent; see HOW plan run CREATES EMULATED DEVICES
  // in man/hsm-migrate-plan.5).
  virtual api::Result<std::string> create_device(const DeviceSpec& d) = 0;
  virtual api::Result<std::string> create_partition(const DeviceSpec& d, const PartitionSpec& p) = 0;
  // Generates a KeySpec's keys unless the partition already holds them (by label).
  virtual api::Result<std::string> generate_keys(const DeviceSpec& d, const PartitionSpec& p, const KeySpec& k) = 0;
  virtual api::Result<std::string> create_group(const GroupSpec& g) = 0;

  virtual api::Result<std::string> upgrade(const UpgradeStep& s) = 0;
  virtual api::Result<std::string> enable_fm(const EnableFmStep& s) = 0;
  virtual api::Result<std::string> policy(const PolicyStep& s) = 0;
  virtual api::Result<std::string> domain_add(const DomainAddStep& s) = 0;
  virtual api::Result<std::string> domain_label(const DomainLabelStep& s) = 0;
  virtual api::Result<std::string> domain_delete(const DomainDeleteStep& s) = 0;
  virtual api::Result<std::string> suites(const SuitesStep& s) = 0;
  virtual api::Result<std::string> hagroup_create(const HaGroupCreateStep& s) = 0;
  virtual api::Result<std::string> hagroup_add(const HaGroupAddStep& s) = 0;
  virtual api::Result<std::string> hagroup_remove(const HaGroupRemoveStep& s) = 0;
  virtual api::Result<std::string> clone(const CloneStep& s, const BatchHook& hook) = 0;
  // `archive`: the step's archive path with its date template expanded (the
  // same for every step of one run, resumed or not), relative to --home.
  // `written_ids`: the archive ids earlier attempts of this step journaled;
  // an archive found at `archive` is the interrupted attempt's (written
  // atomically: whole) only if its id is one of them. Anything else there
  // (yesterday's archive under a daily name, another run's) is not this
  // run's backup. `before_write` journals the id of the archive about to be
  // written.
  virtual api::Result<std::string> backup(const BackupStep& s, const std::string& archive,
                                          const std::set<std::string>& written_ids,
                                          const ArchiveIdHook& before_write, const BatchHook& hook) = 0;
  virtual api::Result<std::string> restore(const RestoreStep& s, const std::string& archive,
                                           const BatchHook& hook) = 0;
  virtual api::Result<std::string> verify(const VerifyStep& s, const std::string& archive) = 0;
  virtual api::Result<std::string> drill(const DrillStep& s, const std::string& archive) = 0;
  virtual api::Result<std::string> prune(const PruneStep& s) = 0;
};

struct RunOptions {
  std::filesystem::path journal_dir;  // HOME/journal
  bool dry_run = false;
  bool resume = false;
  bool again = false;  // run a finished plan once more (keeps the old journal)
  // Progress lines for people ("step 3/7: clone ... done"); may be empty.
  std::function<void(const std::string&)> progress;
};

struct RunResult {
  bool already_finished = false;  // nothing was done
  bool refused = false;           // the check found problems; nothing was done
  CheckReport report;             // the check made before starting
  nlohmann::ordered_json doc;     // the run's report (fields in man/hsm-migrate-plan.5)
};

// plan_bytes: the plan file as read (its SHA-256 is the journal id).
// Errors: usage (an unfinished journal without --resume; a described
// device), busy (the journal is held by another run), the first step error
// (the journal keeps the step unfinished, so --resume retries it).
api::Result<RunResult> run_plan(const Plan& plan, std::string_view plan_bytes, StepRunner& runner,
                                const RunOptions& options);

// Expands a strftime template (UTC) in an archive path; plain paths unchanged.
std::string expand_template(const std::string& templ, std::int64_t unix_seconds);

}  // namespace hsm::plans
