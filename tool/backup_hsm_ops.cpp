// The Backup HSM route as a clone (backup_hsm_ops.hpp). The tool adds only
// the check that one side really is a Luna Backup HSM G5 and names the route;
// the protocol (P8, P9) and the per-object provenance checks (S3) are the
// source backend's, through run_clone, exactly as for `clone`.
#include "tool/backup_hsm_ops.hpp"

#include "tool/lock.hpp"

namespace hsm::tool {
namespace {

using api::Error;

constexpr const char* kBackupKind = "backup-g5";

std::string str(const Address& a) { return a.device + "/" + a.partition; }

// A usage error unless `a` is a partition address on a backup-g5 device.
api::Status require_backup_hsm(const Context& ctx, const Address& a, const std::string& role,
                               const std::string& fix) {
  HSM_TRY_ASSIGN(std::string kind, ctx.fleet->kind_of(a.device));
  if (kind != kBackupKind)
    return Error::usage(role + " " + str(a) + " is on a " + kind +
                            " device, not on a Luna Backup HSM G5 (kind backup-g5)",
                        fix);
  return {};
}

// The clone's report, led by the route's own fields.
json route_doc(const char* operation, const Address& backup_hsm, json clone_doc) {
  json doc{{"route", "backup-hsm"}, {"operation", operation}, {"backup_hsm", str(backup_hsm)}};
  for (auto& [k, v] : clone_doc.items()) doc[k] = std::move(v);
  return doc;
}

}  // namespace

api::Result<CloneOutcome> run_backup_to_hsm(Context& ctx, const HsmBackupRequest& req,
                                            const CloneBatchHook& hook) {
  HSM_TRY(require_backup_hsm(ctx, req.target, "backup --to: the target", "name a partition of a backup-g5 device "
                             "(`device create NAME --kind backup-g5`), or write an archive file with --archive PATH"));
  // One backup per source partition at a time, as for archive files.
  auto lock = PartitionLock::acquire(ctx.fleet->home(), req.source.device, req.source.partition, "backup --to",
                                     req.wait_seconds);
  if (!lock.ok()) return lock.error();
  HSM_TRY_ASSIGN(CloneOutcome out,
                 run_clone(ctx, CloneRequest{req.source, req.target, req.selector, req.dry_run, req.replace}, hook));
  out.doc = route_doc("backup", req.target, std::move(out.doc));
  if (!lock->took_over().empty()) out.doc["lock_taken_over"] = lock->took_over();
  return out;
}

api::Result<CloneOutcome> run_restore_from_hsm(Context& ctx, const HsmRestoreRequest& req,
                                               const CloneBatchHook& hook) {
  HSM_TRY(require_backup_hsm(ctx, req.source, "restore: the source", "name a partition of a backup-g5 device, "
                             "or an archive file"));
  // One restore into a partition at a time, as for archive files.
  auto lock = PartitionLock::acquire(ctx.fleet->home(), req.target.device, req.target.partition, "restore",
                                     req.wait_seconds);
  if (!lock.ok()) return lock.error();
  HSM_TRY_ASSIGN(CloneOutcome out,
                 run_clone(ctx, CloneRequest{req.source, req.target, req.selector, req.dry_run, req.replace}, hook));
  out.doc = route_doc("restore", req.source, std::move(out.doc));
  if (!lock->took_over().empty()) out.doc["lock_taken_over"] = lock->took_over();
  return out;
}

}  // namespace hsm::tool
