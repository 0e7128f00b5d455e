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

// Both directions: the clone under the lock of the partition being backed
// up (backup) or written (restore), as for archive files; one at a time.
api::Result<CloneOutcome> clone_via_backup_hsm(Context& ctx, const CloneRequest& clone, const char* operation,
                                               const Address& backup_hsm, const Address& locked,
                                               int wait_seconds, const CloneBatchHook& hook) {
  auto lock = PartitionLock::acquire(ctx.fleet->home(), locked.device, locked.partition,
                                     std::string(operation) + " (Backup HSM)", wait_seconds);
  if (!lock.ok()) return lock.error();
  HSM_TRY_ASSIGN(CloneOutcome out, run_clone(ctx, clone, hook));
  out.doc = route_doc(operation, backup_hsm, std::move(out.doc));
  if (!lock->took_over().empty()) out.doc["lock_taken_over"] = lock->took_over();
  return out;
}

}  // namespace

api::Result<CloneOutcome> run_backup_to_hsm(Context& ctx, const HsmBackupRequest& req,
                                            const CloneBatchHook& hook) {
  HSM_TRY(require_backup_hsm(ctx, req.target, "backup --to: the target", "name a partition of a backup-g5 device "
                             "(`device create NAME --kind backup-g5`), or write an archive file with --archive PATH"));
  return clone_via_backup_hsm(ctx, CloneRequest{req.source, req.target, req.selector, req.dry_run, req.replace, 0, req.progress},
                              "backup", req.target, req.source, req.wait_seconds, hook);
}

api::Result<CloneOutcome> run_restore_from_hsm(Context& ctx, const HsmRestoreRequest& req,
                                               const CloneBatchHook& hook) {
  HSM_TRY(require_backup_hsm(ctx, req.source, "restore: the source", "name a partition of a backup-g5 device, "
                             "or an archive file"));
  return clone_via_backup_hsm(ctx, CloneRequest{req.source, req.target, req.selector, req.dry_run, req.replace, 0, req.progress},
                              "restore", req.source, req.target, req.wait_seconds, hook);
}

}  // namespace hsm::tool
