// The tool's side of `plan check|order|show|run`: finding a plan file (a path
// or the name of a built-in plan), the live picture of the fleet for the
// checker, and the StepRunner that `plan run` drives (migrations/run.hpp).
//
// The runner does every step by calling what the commands call: the device
// and partition verbs of the plugin API, tool/hagroups.hpp, run_clone
// (tool/clone_ops.hpp) and the archive operations (tool/archive_ops.hpp), so
// a plan step does exactly what the command does.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "migrations/check.hpp"
#include "migrations/plan.hpp"
#include "migrations/run.hpp"
#include "tool/archive_ops.hpp"
#include "tool/context.hpp"

namespace hsm::tool {

// Where built-in plans are looked for, in order: $HSM_MIGRATE_PLAN_PATH
// (folders separated by ':'), <bin>/../share/hsm-migrate/plans (the build
// copies migrations/plans there), then the source tree the binary was built
// from (a development fallback).
std::vector<std::filesystem::path> plan_search_path();

struct LoadedPlan {
  std::filesystem::path file;
  std::string bytes;  // the file as read (its SHA-256 is the run's journal id)
  plans::Plan plan;
};
// `spec` is a path to a file, or a built-in plan's name ("luna6-to-luna7",
// with or without ".toml"). Errors: usage (not found; the plan's own errors).
api::Result<LoadedPlan> load_plan(const std::string& spec);

// The client the checks assume: the plan's [plan] client_version and
// lunacm_cv_ha_ui unless the command line (--client-version, --cv-ha-ui or
// $HSM_MIGRATE_CV_HA_UI) says otherwise.
api::ClientDesc plan_client(const Context& ctx, const plans::Plan& plan);

// What exists now of what the plan names: its emulated devices that are in
// --home (descriptions, partitions, objects), the HA groups of the store
// whose members all are on those devices, and each plan domain's fingerprint
// as a live partition of the plan holds it.
api::Result<plans::FleetState> live_state(Context& ctx, const plans::Plan& plan);

// The StepRunner of `plan run`.
class ToolStepRunner final : public plans::StepRunner {
 public:
  ToolStepRunner(Context& ctx, const plans::Plan& plan) : ctx_(ctx), plan_(plan) {}
  // plan run --domain-file: the text secret of the plan's domains that name
  // no source of their own (else $HSM_MIGRATE_DOMAIN, else a prompt).
  void set_domain_file(std::string file) { domain_file_ = std::move(file); }
  // Where each step's long operation (keys made, objects cloned, blobs
  // written or read) reports its progress: `plan run`'s one progress line.
  void set_progress(ArchiveProgress progress) { progress_ = std::move(progress); }

  api::Result<plans::FleetState> live() override;
  api::Result<std::string> create_device(const plans::DeviceSpec& d) override;
  api::Result<std::string> create_partition(const plans::DeviceSpec& d, const plans::PartitionSpec& p) override;
  api::Result<std::string> generate_keys(const plans::DeviceSpec& d, const plans::PartitionSpec& p,
                                         const plans::KeySpec& k) override;
  api::Result<std::string> create_group(const plans::GroupSpec& g) override;

  api::Result<std::string> upgrade(const plans::UpgradeStep& s) override;
  api::Result<std::string> enable_fm(const plans::EnableFmStep& s) override;
  api::Result<std::string> policy(const plans::PolicyStep& s) override;
  api::Result<std::string> domain_add(const plans::DomainAddStep& s) override;
  api::Result<std::string> domain_label(const plans::DomainLabelStep& s) override;
  api::Result<std::string> domain_delete(const plans::DomainDeleteStep& s) override;
  api::Result<std::string> suites(const plans::SuitesStep& s) override;
  api::Result<std::string> hagroup_create(const plans::HaGroupCreateStep& s) override;
  api::Result<std::string> hagroup_add(const plans::HaGroupAddStep& s) override;
  api::Result<std::string> hagroup_remove(const plans::HaGroupRemoveStep& s) override;
  api::Result<std::string> clone(const plans::CloneStep& s, const plans::BatchHook& hook) override;
  api::Result<std::string> backup(const plans::BackupStep& s, const std::string& archive,
                                  const std::set<std::string>& written_ids, const plans::ArchiveIdHook& before_write,
                                  const plans::BatchHook& hook) override;
  api::Result<std::string> restore(const plans::RestoreStep& s, const std::string& archive,
                                   const plans::BatchHook& hook) override;
  api::Result<std::string> verify(const plans::VerifyStep& s, const std::string& archive) override;
  api::Result<std::string> drill(const plans::DrillStep& s, const std::string& archive) override;
  api::Result<std::string> prune(const plans::PruneStep& s) override;

 private:
  // A plan's PKCS#11 token (tool/plan_token_setup.cpp): registered as
  // `device add` does (initialised first in its SoftHSM2 folder when the plan
  // says so), then joined to the plan's domains it does not hold.
  api::Result<std::string> register_token(const plans::DeviceSpec& d);
  api::Result<std::string> join_token_domains(const plans::DeviceSpec& d, const plans::PartitionSpec& p);
  // Removes a device folder a crashed create of this run left without its
  // `kind` file (tool/fleet.hpp), so the create starts again.
  void discard_interrupted_create(const std::string& device) const;
  api::Result<std::unique_ptr<api::Partition>> open_logged_in(const plans::Address& a);
  api::Result<api::SecretBytes> pin_of(const plans::Address& a) const;
  api::Result<api::DomainSecret> domain_of(const std::string& domain, const std::string& label) const;

  Context& ctx_;
  std::string domain_file_;
  const plans::Plan& plan_;
  ArchiveProgress progress_;  // may be empty
};

}  // namespace hsm::tool
