#include "tool/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <mutex>
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

namespace {

// The locks this process holds, by file path: one open file description and
// flock per file, shared by nested acquisitions.
struct Held {
  int fd = -1;
  int refs = 0;
  pid_t pid = 0;  // a forked child inherits the map, not the lock's ownership
};
std::mutex& held_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, Held>& held_locks() {
  static std::map<std::string, Held> m;
  return m;
}

std::string encode_component(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '-') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string lock_file_name(const std::string& device, const std::string& partition) {
  return encode_component(device) + "." + encode_component(partition) + ".lock";
}

PartitionLock::PartitionLock(PartitionLock&& o) noexcept
    : key_(std::move(o.key_)), took_over_(std::move(o.took_over_)) {
  o.key_.clear();
}

PartitionLock::~PartitionLock() {
  if (key_.empty()) return;
  std::lock_guard<std::mutex> g(held_mutex());
  auto it = held_locks().find(key_);
  if (it == held_locks().end() || --it->second.refs > 0) return;
  const int fd = it->second.fd;
  held_locks().erase(it);
  if (::ftruncate(fd, 0) != 0) {
    // The record stays; the flock below is what matters.
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
}

api::Result<PartitionLock> PartitionLock::acquire(const fs::path& home, const std::string& device,
                                                  const std::string& partition,
                                                  const std::string& command, int wait_seconds) {
  const fs::path dir = home / "locks";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::other("cannot create " + dir.string() + ": " + std::strerror(errno));
  PartitionLock lock;
  const fs::path path = dir / lock_file_name(device, partition);
  {
    std::lock_guard<std::mutex> g(held_mutex());
    if (auto it = held_locks().find(path.string()); it != held_locks().end() && it->second.pid == ::getpid()) {
      ++it->second.refs;  // re-entrant within this process
      lock.key_ = path.string();
      return lock;
    }
  }
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Error::other("cannot open lock " + path.string() + ": " + std::strerror(errno));
  auto fail = [fd](Error e) -> api::Result<PartitionLock> {
    ::close(fd);
    return e;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return fail(Error::other("cannot lock " + path.string() + ": " + std::strerror(errno)));
    if (std::chrono::steady_clock::now() >= deadline) {
      LockOwner o;
      std::string who = parse_owner(read_all(fd), o) ? describe(o) : "another process";
      return fail(Error::busy(device + "/" + partition + " is locked by " + who +
                              (wait_seconds ? " (waited " + std::to_string(wait_seconds) + " s)" : "")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  LockOwner prev;
  if (parse_owner(read_all(fd), prev) && !owner_alive(prev))
    lock.took_over_ = "took over the stale lock of " + device + "/" + partition + " left by " +
                      describe(prev) + ", which is no longer running";
  LockOwner me = current_owner(command);
  const std::string record = nlohmann::json{{"host", me.host}, {"boot_id", me.boot_id}, {"pid", me.pid},
                                            {"started", me.started}, {"command", me.command}}
                                 .dump() + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, record.data(), record.size(), 0) < 0)
    return fail(Error::other("cannot write lock record " + path.string()));
  std::lock_guard<std::mutex> g(held_mutex());
  held_locks()[path.string()] = Held{fd, 1, ::getpid()};
  lock.key_ = path.string();
  return lock;
}

}  // namespace hsm::tool
