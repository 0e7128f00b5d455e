// One writer per partition at a time (cron-driven backups overlap, two clones
// into one target must not double an object).
//
// A lock is a file HOME/locks/DEV.PART.lock held with flock(2): the kernel
// releases it when the holder dies, so a crashed backup never blocks the next
// one forever. DEV and PART are percent-encoded (every byte outside
// [A-Za-z0-9_-], '.' included), so two addresses never share a file
// ("a.b/c" -> a%2Eb.c.lock, "a/b.c" -> a.b%2Ec.lock). The file also records
// the holder (host, boot id, pid, command, start time) so a waiting caller can
// say who holds it, and a taker can say that it took over from a dead process
// (the record is left behind; flock is free).
//
// Within one process a lock is re-entrant: an operation that holds a
// partition's lock (the Backup HSM route, a plan step) can call another that
// takes the same lock (run_clone) without blocking itself. flock(2) would
// otherwise treat the second open file description as a stranger.
#pragma once

#include <filesystem>
#include <string>

#include "plugins/api/status.hpp"

namespace hsm::tool {

struct LockOwner {
  std::string host;
  std::string boot_id;
  long pid = 0;
  long long started = 0;
  std::string command;
};

class PartitionLock {
 public:
  PartitionLock() = default;
  PartitionLock(PartitionLock&& o) noexcept;
  PartitionLock& operator=(PartitionLock&&) = delete;
  ~PartitionLock();

  // Waits up to wait_seconds (0 = do not wait). Busy error names the holder.
  // `took_over` is set when the previous record belonged to a process that is
  // gone (a stale lock), with a sentence describing it. HOME/locks is created
  // 0700 when absent.
  static api::Result<PartitionLock> acquire(const std::filesystem::path& home, const std::string& device,
                                            const std::string& partition, const std::string& command,
                                            int wait_seconds);
  const std::string& took_over() const { return took_over_; }

 private:
  std::string key_;  // the lock file's path; "" when moved from
  std::string took_over_;
};

// The lock file's name for DEV/PART (see above).
std::string lock_file_name(const std::string& device, const std::string& partition);

LockOwner current_owner(const std::string& command);
bool owner_alive(const LockOwner& o);

}  // namespace hsm::tool
