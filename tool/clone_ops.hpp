// Clone as an operation: the `clone` command and `plan run` both call this,
// so a plan step does exactly what the command does.
#pragma once

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tool/context.hpp"

namespace hsm::tool {

// Objects copied so far of all to copy ("clone" phase), after each batch.
using CloneProgress = std::function<void(std::string_view phase, std::uint64_t done, std::uint64_t total)>;

struct CloneRequest {
  Address source;
  Address target;
  std::string selector = "all";  // a label, #handle, id:HEX, or all
  bool dry_run = false;
  // lunacm's -replace (rule X5): the target's objects are deleted in the
  // transaction of the first batch. All or nothing (X4): when any object
  // would be refused, nothing is deleted or copied.
  bool replace = false;
  // The target's lock (tool/lock.hpp) is held for the whole clone: a second
  // writer waits up to this many seconds, then fails busy (exit 5).
  int wait_seconds = 0;
  CloneProgress progress;
};

// Called after each batch the target committed (plan run journals it).
using CloneBatchHook = std::function<api::Status(std::size_t batch, std::size_t created,
                                                 std::size_t already_present)>;

struct CloneOutcome {
  json doc;                  // the report (fields in man/hsm-migrate.1, "clone")
  std::size_t refused = 0;   // objects refused by a rule (listed in doc["refused"])
};

// Errors: a pair refusal (refused, with rule), usage, integrity, other.
// Per-object refusals are not errors: they are counted in `refused`.
api::Result<CloneOutcome> run_clone(Context& ctx, const CloneRequest& req, const CloneBatchHook& hook = {});

// The content fingerprints among `objects` that `target` already holds
// (streamed; memory bounded by `objects`). The tool hands them to the
// backend in PartitionDesc::held_fingerprints: the capacity rule (C1) counts
// only objects that would be created, and decides so itself.
api::Result<std::set<std::string>> held_fingerprints(api::Partition& target, const api::Endpoint& target_ep,
                                                     const std::vector<api::ObjectDesc>& objects);

}  // namespace hsm::tool
