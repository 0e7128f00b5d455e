#include "migrations/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "formats/archive_codec.hpp"
#include "formats/atomic_file.hpp"

namespace hsm::plans {

namespace fs = std::filesystem;
using api::Error;
using api::Result;
using api::Status;

std::string plan_id(std::string_view bytes) {
  const auto d = formats::detail::sha256(bytes.data(), bytes.size());
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (auto b : d) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

void apply_record(JournalState& st, const nlohmann::json& rec) {
  ++st.records;
  const std::string ev = rec.value("event", "");
  if (ev == "run-start") {
    st.started = true;
    st.run_time = rec.value("time", std::int64_t{0});
  } else if (ev == "setup-begin") {
    st.setup_begun.insert(rec.value("item", ""));
  } else if (ev == "setup-done") {
    st.setup_done.insert(rec.value("item", ""));
  } else if (ev == "step-begin") {
    st.steps_begun.insert(rec.value("step", 0));
  } else if (ev == "archive-begin") {
    st.archive_ids[rec.value("step", 0)].insert(rec.value("archive_id", ""));
  } else if (ev == "step-done") {
    st.steps_done.insert(rec.value("step", 0));
  } else if (ev == "run-done") {
    st.finished = true;
  }
}

namespace {

// The crash-test hook (see journal.hpp). Counts records this process wrote.
long env_number(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 10) : 0;
}

Result<JournalState> parse(const std::string& text, const fs::path& file, std::size_t* good_bytes) {
  JournalState st;
  std::size_t at = 0;
  std::size_t good = 0;
  while (at < text.size()) {
    const auto nl = text.find('\n', at);
    if (nl == std::string::npos) break;  // a torn last line: the crash hit mid-write
    const std::string line = text.substr(at, nl - at);
    at = nl + 1;
    if (line.empty()) {
      good = at;
      continue;
    }
    nlohmann::json rec = nlohmann::json::parse(line, nullptr, false);
    if (rec.is_discarded() || !rec.is_object()) {
      Error e = Error::integrity("journal " + file.string() + " is damaged at byte " + std::to_string(good));
      e.fix = "move it away to start the plan from the beginning (the steps are idempotent)";
      return e;
    }
    apply_record(st, rec);
    good = at;
  }
  if (good_bytes) *good_bytes = good;
  return st;
}

}  // namespace

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Journal>> Journal::open(const fs::path& dir, const std::string& id) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error::other("cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  std::unique_ptr<Journal> j(new Journal());
  j->path_ = dir / (id + ".jsonl");
  j->fd_ = ::open(j->path_.c_str(), O_CREAT | O_RDWR | O_APPEND | O_CLOEXEC, 0600);
  if (j->fd_ < 0) return Error::other("cannot open journal " + j->path_.string() + ": " + std::strerror(errno));
  if (::flock(j->fd_, LOCK_EX | LOCK_NB) != 0) {
    Error e = Error::busy("another `plan run` of this plan holds its journal " + j->path_.string());
    e.fix = "wait for it to finish";
    return e;
  }
  HSM_TRY(formats::fsync_directory(dir));  // the journal's name is durable too
  HSM_TRY(j->load());
  return j;
}

Status Journal::load() {
  std::ifstream in(path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::size_t good = 0;
  HSM_TRY_ASSIGN(state_, parse(text, path_, &good));
  if (good < text.size()) {
    // Cut the torn tail so that the next record starts on a line of its own.
    if (::ftruncate(fd_, static_cast<off_t>(good)) != 0 || ::fsync(fd_) != 0)
      return Error::other("cannot repair journal " + path_.string() + ": " + std::strerror(errno));
  }
  seq_ = state_.records;
  return {};
}

Result<JournalState> Journal::peek(const fs::path& dir, const std::string& id) {
  const fs::path p = dir / (id + ".jsonl");
  std::error_code ec;
  if (!fs::exists(p, ec)) return JournalState{};
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), p, nullptr);
}

Status Journal::append(nlohmann::ordered_json record) {
  static long written = 0;
  static const long crash_after = env_number("HSM_MIGRATE_CRASH_AFTER_RECORDS");
  static const long crash_before = env_number("HSM_MIGRATE_CRASH_BEFORE_RECORD");
  if (crash_before > 0 && written + 1 == crash_before) ::raise(SIGKILL);  // test hook
  nlohmann::ordered_json rec;
  rec["seq"] = ++seq_;
  rec["at"] = static_cast<std::int64_t>(std::time(nullptr));
  for (auto& [k, v] : record.items()) rec[k] = v;
  const std::string line = rec.dump() + "\n";
  HSM_TRY(formats::write_all(fd_, line.data(), line.size(), path_.string()));
  if (::fsync(fd_) != 0) return Error::other("cannot sync journal " + path_.string() + ": " + std::strerror(errno));
  apply_record(state_, nlohmann::json::parse(line));
  ++written;
  if (crash_after > 0 && written == crash_after) ::raise(SIGKILL);  // test hook
  return {};
}

Status Journal::start_over() {
  const fs::path kept = path_.parent_path() / (path_.stem().string() + "." +
                                               std::to_string(static_cast<long long>(std::time(nullptr))) + ".jsonl");
  std::error_code ec;
  fs::rename(path_, kept, ec);
  if (ec) return Error::other("cannot keep journal as " + kept.string() + ": " + ec.message());
  // Our flock stays on the renamed file; open the new one and lock it.
  const int fd = ::open(path_.c_str(), O_CREAT | O_EXCL | O_RDWR | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Error::other("cannot create journal " + path_.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Error::busy("another `plan run` of this plan holds its journal " + path_.string());
  }
  ::close(fd_);
  fd_ = fd;
  HSM_TRY(formats::fsync_directory(path_.parent_path()));
  state_ = JournalState{};
  seq_ = 0;
  return {};
}

}  // namespace hsm::plans
