// The Backup HSM route: `backup SRC --to BACKUPDEV/PART` and
// `restore BACKUPDEV/PART --to DST`. A partition backup to a Luna Backup HSM G5
// is a clone (rules P8, P9 and S3 of luna-rules.md): the same protocols and
// per-object rules as `clone`, with a backup-g5 partition as the target (backup)
// or the source (restore). Nothing here prints: the command prints the
// returned document (fields in man/hsm-migrate.1, "backup --to").
#pragma once

#include <string>

#include "tool/clone_ops.hpp"
#include "tool/context.hpp"

namespace hsm::tool {

struct HsmBackupRequest {
  Address source;                // any partition of the fleet
  Address target;                // a partition of a backup-g5 device
  std::string selector = "all";  // a label, #handle, id:HEX, or all
  bool dry_run = false;          // decide and report, change nothing
  bool replace = false;          // lunacm -replace (X5): wipe the backup partition first (all or nothing, X4)
  int wait_seconds = 0;          // wait for the source partition's lock (0: busy at once)
  CloneProgress progress;        // as for clone: objects copied so far, after each batch
};

struct HsmRestoreRequest {
  Address source;                // a partition of a backup-g5 device
  Address target;                // any partition of the fleet
  std::string selector = "all";  // a label, #handle, id:HEX, or all
  bool replace = false;          // lunacm -replace: delete the target's objects first (all or nothing, X4)
  bool dry_run = false;
  int wait_seconds = 0;          // wait for the target partition's lock (0: busy at once)
  CloneProgress progress;
};

// The outcome is the clone's (CloneOutcome: doc + per-object refusals), with
// doc["route"] = "backup-hsm" and doc["operation"] = "backup" | "restore".
//
// Errors: usage when the target (backup) / source (restore) is not a
// partition of a backup-g5 device (the other side may be any partition,
// another Backup HSM included); otherwise run_clone's (refused with the pair rule, integrity,
// busy, other). Per-object refusals (S3, ...) are counted in `refused`.
api::Result<CloneOutcome> run_backup_to_hsm(Context& ctx, const HsmBackupRequest& req,
                                            const CloneBatchHook& hook = {});
api::Result<CloneOutcome> run_restore_from_hsm(Context& ctx, const HsmRestoreRequest& req,
                                               const CloneBatchHook& hook = {});

}  // namespace hsm::tool
