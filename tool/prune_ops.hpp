// Prune as an operation: the `prune` command and `plan run` (prune steps) both
// call this. It verifies every archive in the folder (structure and the
// signature, pinned to the trusted roots: tool/trust.hpp), groups the
// verified ones by fleet (root fingerprint), source device and partition,
// applies the retention policy (tool/prune_policy.hpp) to each group and
// deletes the rest. Nothing here prints: the command prints the returned
// document (fields in man/hsm-migrate.1, "prune").
//
// Guarantees (man/hsm-migrate.1, "prune"):
//  - Only an archive that verifies AND is a complete partition backup fills
//    a keep slot of its partition. A subset backup (backup --objects) forms
//    its own series (per selector), never the partition's; a format 1
//    archive, whose header does not say, forms its own series too.
//  - Damaged archives (they do not verify) and archives of an untrusted root
//    are reported and never deleted; the run then ends with an integrity
//    error (exit 4) after doing the rest, so a cron job notices.
//  - The newest verified archive of a group is never deleted.
//  - An archive is removed only if it is still the file that was verified
//    (same inode, size and mtime); the removals are durable once the folder
//    is fsynced, which happens before this returns.
//  - Temporary files of interrupted backups, by the writer's own naming
//    (.NAME.tmp-XXXXXX, .hsm-migrate-index.tmp-XXXXXX), older than a day,
//    are removed and listed; younger ones may belong to a running backup.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "formats/archive_reader.hpp"
#include "tool/context.hpp"
#include "tool/prune_policy.hpp"
#include "tool/repo_s3.hpp"

namespace hsm::tool {

struct PruneRequest {
  // A folder, used as given (plan run resolves it under --home), or an S3
  // prefix s3://BUCKET[/PREFIX] (tool/repo_ops.hpp, run_prune_s3).
  std::filesystem::path dir;
  RepoOptions repo;           // S3: --s3-endpoint
  // S3: the tool's own pending multipart uploads older than this are
  // aborted (a killed backup's); younger ones may be running.
  std::int64_t stale_upload_seconds = 86400;
  prune::KeepCounts keep;
  bool dry_run = false;       // decide and report, delete nothing
  std::vector<std::string> trusted_roots;  // --trusted-root FILEs
  std::int64_t now = 0;       // for the age of temporary files; 0: the clock
};

struct PruneOutcome {
  json doc;                  // the report: kept (with reasons), removed, skipped, damaged, temporary files
  std::size_t kept = 0;
  std::size_t removed = 0;   // with dry_run: the number that would be removed
  std::size_t skipped = 0;   // files that are not archives (never deleted)
  std::size_t damaged = 0;   // archives that do not verify or chain to an untrusted root (never deleted)
  std::size_t temp_removed = 0;
  std::size_t locked = 0;    // S3: to be removed, but Object Lock keeps them until a date
};

// Errors: usage (no keep rule given: that would remove every archive; a
// negative count; dir missing or not a folder), other (a removal or the
// folder's fsync failed: the message says how many were removed before).
// Damaged archives are not an error here: the command turns outcome.damaged
// into exit 4.
api::Result<PruneOutcome> run_prune(Context& ctx, const PruneRequest& req);

// Shared with the S3 prune (tool/repo_prune.cpp): one retention series per
// fleet root + DEVICE/PARTITION + scope; a UTC time as 2026-11-22T02:00:00Z;
// the keep rules as reported.
std::string prune_series_of(const formats::VerifyReport& r);
std::string prune_iso_utc(std::int64_t t);
json prune_keep_json(const prune::KeepCounts& k);

// True for the names the archive writer gives its temporary files.
bool is_writer_temp_name(const std::string& name);

}  // namespace hsm::tool
