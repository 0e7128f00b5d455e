// Prune as an operation: the `prune` command and `plan run` (prune steps) both
// call this. It reads the creation time out of each archive's header (never a
// file name or mtime), groups the archives by source partition, applies the
// retention policy (tool/prune_policy.hpp) to each group and deletes the rest.
// Nothing here prints: the command prints the returned document (fields in
// man/hsm-migrate.1, "prune").
#pragma once

#include <cstddef>
#include <filesystem>

#include "tool/context.hpp"
#include "tool/prune_policy.hpp"

namespace hsm::tool {

struct PruneRequest {
  std::filesystem::path dir;  // used as given (plan run resolves it under --home)
  prune::KeepCounts keep;
  bool dry_run = false;       // decide and report, delete nothing
};

struct PruneOutcome {
  json doc;                 // the report: kept (with reasons), removed, skipped
  std::size_t kept = 0;
  std::size_t removed = 0;  // with dry_run: the number that would be removed
  std::size_t skipped = 0;  // files that are not readable archives (never deleted)
};

// Only regular files directly in `dir` are considered; names starting with
// '.' (a writer's temporary files) and anything read_header() refuses are
// skipped and never deleted. An archive is removed only if it is still the
// file that was read (same inode, size and mtime); the removals are durable
// once the folder is fsynced, which happens before this returns.
//
// Errors: usage (every keep count 0: that would remove every archive; dir
// missing or not a folder), other (a removal or the folder's fsync failed:
// the message says how many were removed before).
api::Result<PruneOutcome> run_prune(Context& ctx, const PruneRequest& req);

}  // namespace hsm::tool
