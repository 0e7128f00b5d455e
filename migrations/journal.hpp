// The journal of `plan run`: HOME/journal/<plan-id>.jsonl, one JSON record
// per line, each appended and fsync'ed before the run goes on, so that after
// a crash (kill -9 anywhere) `plan run --resume` knows what was done. The
// plan id is the SHA-256 of the plan file's bytes: an edited plan is a new
// run with a new journal.
//
// Records ("event"): run-start {plan, source, id, steps, time}, setup-begin
// and setup-done {item}, step-begin {step, action, what}, archive-begin
// {step, archive, archive_id} (before a backup step writes its archive),
// batch-done {step, batch, created, already_present}, step-done {step,
// summary}, run-done.
// Every record also has "seq" (1, 2, ...) and "at" (Unix seconds).
//
// Test hook (crash tests only): HSM_MIGRATE_CRASH_AFTER_RECORDS=N raises
// SIGKILL right after this process wrote its Nth record;
// HSM_MIGRATE_CRASH_BEFORE_RECORD=N raises it just before writing the Nth
// (after the work that record reports).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/api/status.hpp"

namespace hsm::plans {

// Lower-case hex SHA-256 of the plan file's bytes.
std::string plan_id(std::string_view bytes);

// What a journal says about a run.
struct JournalState {
  bool started = false;
  bool finished = false;
  std::int64_t run_time = 0;        // "time" of run-start (archive templates expand with it)
  std::set<std::string> setup_begun;  // setup items recorded begun
  std::set<std::string> setup_done;   // setup items recorded done
  std::set<int> steps_begun;
  std::set<int> steps_done;
  // Per backup step: the ids of the archives its attempts began to write
  // (archive-begin). A resumed step accepts an archive at its path only if
  // it carries one of these ids.
  std::map<int, std::set<std::string>> archive_ids;
  std::size_t records = 0;
};

class Journal {
 public:
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Opens (creating) DIR/<id>.jsonl, DIR made 0700. Holds an exclusive flock
  // while open: a second run of the same plan gets Error::busy (exit 5).
  // A torn last line (a crash in the middle of a write) is cut off.
  static api::Result<std::unique_ptr<Journal>> open(const std::filesystem::path& dir, const std::string& id);
  // Reads a journal without locking or changing it (dry runs); a missing
  // file is an empty state.
  static api::Result<JournalState> peek(const std::filesystem::path& dir, const std::string& id);

  const JournalState& state() const { return state_; }
  const std::filesystem::path& path() const { return path_; }

  // Appends one record (adds "seq" and "at"), then fsync. The crash hook
  // fires here.
  api::Status append(nlohmann::ordered_json record);
  // Keeps a finished journal as <id>.<time>.jsonl and starts an empty one
  // (`plan run --again`).
  api::Status start_over();

 private:
  Journal() = default;
  api::Status load();
  std::filesystem::path path_;
  int fd_ = -1;
  JournalState state_;
  std::uint64_t seq_ = 0;
};

// Applies one record to a state (shared by open and peek).
void apply_record(JournalState& st, const nlohmann::json& rec);

}  // namespace hsm::plans
