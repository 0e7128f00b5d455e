#include "tool/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

namespace hsm::tool {

namespace fs = std::filesystem;
using api::Error;

namespace {

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

std::string hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string read_all(int fd) {
  std::string s;
  char buf[1024];
  ::lseek(fd, 0, SEEK_SET);
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

bool parse_owner(const std::string& text, LockOwner& o) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  o.host = j.value("host", "");
  o.boot_id = j.value("boot_id", "");
  o.pid = j.value("pid", 0L);
  o.started = j.value("started", 0LL);
  o.command = j.value("command", "");
  return true;
}

std::string describe(const LockOwner& o) {
  return "pid " + std::to_string(o.pid) + " on " + o.host + " (" + o.command + ")";
}

}  // namespace

LockOwner current_owner(const std::string& command) {
  return {hostname(), boot_id(), static_cast<long>(::getpid()),
          static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count()),
          command};
}

bool owner_alive(const LockOwner& o) {
  // Provably gone only when on this host: another boot, or no such process.
  if (o.host != hostname()) return true;
  if (!o.boot_id.empty() && o.boot_id != boot_id()) return false;
  if (o.pid <= 0) return false;
  return ::kill(static_cast<pid_t>(o.pid), 0) == 0 || errno == EPERM;
}

PartitionLock::PartitionLock(PartitionLock&& o) noexcept
    : fd_(o.fd_), path_(std::move(o.path_)), took_over_(std::move(o.took_over_)) {
  o.fd_ = -1;
}

PartitionLock::~PartitionLock() {
  if (fd_ >= 0) {
    if (::ftruncate(fd_, 0) != 0) {
      // The record stays; the flock below is what matters.
    }
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

api::Result<PartitionLock> PartitionLock::acquire(const fs::path& home, const std::string& device,
                                                  const std::string& partition,
                                                  const std::string& command, int wait_seconds) {
  std::error_code ec;
  fs::create_directories(home / "locks", ec);
  if (ec) return Error::other("cannot create " + (home / "locks").string() + ": " + ec.message());
  PartitionLock lock;
  lock.path_ = home / "locks" / (device + "." + partition + ".lock");
  lock.fd_ = ::open(lock.path_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (lock.fd_ < 0) return Error::other("cannot open lock " + lock.path_.string() + ": " + std::strerror(errno));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return Error::other("cannot lock " + lock.path_.string() + ": " + std::strerror(errno));
    if (std::chrono::steady_clock::now() >= deadline) {
      LockOwner o;
      std::string who = parse_owner(read_all(lock.fd_), o) ? describe(o) : "another process";
      return Error::busy(device + "/" + partition + " is locked by " + who +
                         (wait_seconds ? " (waited " + std::to_string(wait_seconds) + " s)" : ""));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  LockOwner prev;
  if (parse_owner(read_all(lock.fd_), prev) && !owner_alive(prev))
    lock.took_over_ = "took over the stale lock of " + device + "/" + partition + " left by " +
                      describe(prev) + ", which is no longer running";
  LockOwner me = current_owner(command);
  const std::string record = nlohmann::json{{"host", me.host}, {"boot_id", me.boot_id}, {"pid", me.pid},
                                            {"started", me.started}, {"command", me.command}}
                                 .dump() + "\n";
  if (::ftruncate(lock.fd_, 0) != 0 || ::pwrite(lock.fd_, record.data(), record.size(), 0) < 0)
    return Error::other("cannot write lock record " + lock.path_.string());
  return lock;
}

}  // namespace hsm::tool
