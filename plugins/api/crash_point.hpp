// A test hook for the crash tests (tests/unit/e2e/crash_test.cpp), as the
// plan journal has its own (migrations/journal.hpp): with
// HSM_MIGRATE_CRASH_POINT=NAME:N in the environment, the Nth time this
// process passes the point NAME it kills itself with SIGKILL, as a power cut
// or `kill -9` would, so a test can stop a backup, restore or clone at an
// exact place and prove that nothing is lost, doubled or left behind.
// Without the variable (always, outside the tests) a point costs one test of
// a cached flag.
//
// Points: backup-blob (after each blob is written), backup-before-commit,
// device-insert (after each object a device inserts, inside its write
// transaction), device-before-commit (a device's clone_in or restore, just
// before it commits), after-write (the tool, after a backup, restore or
// clone is complete and before it reports).
#pragma once

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace hsm::api {

namespace detail {
struct CrashPlan {
  bool armed = false;
  std::string name;
  long at = 0;
  std::atomic<long> seen{0};
  CrashPlan() {
    const char* v = std::getenv("HSM_MIGRATE_CRASH_POINT");
    if (!v || !*v) return;
    const char* colon = std::strrchr(v, ':');
    if (!colon) return;
    name.assign(v, static_cast<std::size_t>(colon - v));
    at = std::strtol(colon + 1, nullptr, 10);
    armed = at > 0;
  }
};
inline CrashPlan& crash_plan() {
  static CrashPlan plan;
  return plan;
}
}  // namespace detail

inline void crash_point(const char* name) {
  detail::CrashPlan& p = detail::crash_plan();
  if (!p.armed || p.name != name) return;
  if (++p.seen == p.at) ::kill(::getpid(), SIGKILL);
}

}  // namespace hsm::api
