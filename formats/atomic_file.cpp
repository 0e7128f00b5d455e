#include "formats/atomic_file.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE (glibc >= 2.28)
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cerrno>
#include <climits>
#include <cstring>

namespace hsm::formats {

using api::Error;
using api::Result;
using api::Status;

namespace {

std::string errno_text(int e) { return std::strerror(e); }

Error io_error(const std::string& what, int e) {
  if (e == ENOSPC || e == EDQUOT)
    return Error::other("no space left on device writing " + what +
                        " (the partial file was removed)");
  return Error::other(what + ": " + errno_text(e));
}

// Temporary files a signal handler may remove. A slot is published (state 2)
// only after its path is complete; the handler reads nothing else.
struct TempSlot {
  std::atomic<int> state{0};  // 0 free, 1 being written, 2 published
  char path[PATH_MAX];
};
std::array<TempSlot, 32> g_slots;

int register_temp(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  for (std::size_t i = 0; i < g_slots.size(); ++i) {
    int expected = 0;
    if (g_slots[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].state.store(2);
      return static_cast<int>(i);
    }
  }
  return -1;  // more than 32 at once: not removed on a signal
}

void unregister_temp(int slot) {
  if (slot >= 0) g_slots[static_cast<std::size_t>(slot)].state.store(0);
}

// SIGINT, SIGTERM and SIGHUP held for a scope (a name made and registered
// for cleanup as one step).
class HeldSignals {
 public:
  HeldSignals() {
    sigset_t hold;
    sigemptyset(&hold);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&hold, sig);
    ::pthread_sigmask(SIG_BLOCK, &hold, &old_);
  }
  ~HeldSignals() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  HeldSignals(const HeldSignals&) = delete;
  HeldSignals& operator=(const HeldSignals&) = delete;

 private:
  sigset_t old_;
};

// Links an O_TMPFILE descriptor in under `name` (EEXIST if it exists).
int link_in(int fd, const std::filesystem::path& name) {
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  return ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW);
}

}  // namespace

void remove_temp_files_on_signal() noexcept {
  for (auto& s : g_slots)
    if (s.state.load() == 2) ::unlink(s.path);
}

Status write_all(int fd, const void* data, std::size_t n, const std::string& what) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_error(what, errno);
    }
    if (w == 0) return io_error(what, ENOSPC);
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return {};
}

Status fsync_directory(const std::filesystem::path& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::other("cannot open folder " + folder.string() + ": " + errno_text(errno));
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  // Some file systems cannot fsync a folder (EINVAL): nothing more to do there.
  if (rc != 0 && e != EINVAL) return Error::other("fsync of folder " + folder.string() + ": " + errno_text(e));
  return {};
}

Result<std::unique_ptr<AtomicFile>> AtomicFile::create(const std::filesystem::path& destination,
                                                       AtomicFileOptions options) {
  if (destination.empty() || !destination.has_filename())
    return Error::usage("not a file path: \"" + destination.string() + "\"");
  std::filesystem::path folder = destination.parent_path();
  if (folder.empty()) folder = ".";
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Error::usage("folder " + folder.string() + " does not exist",
                        "create the folder first or choose another path");
  if (::lstat(destination.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Error::usage(destination.string() + " is a folder");
    // Overwriting replaces an old file, never a FIFO, a device node or a
    // link (as root, /dev/null would become a regular file).
    if (!S_ISREG(st.st_mode))
      return Error::usage(destination.string() + " exists and is not a regular file; it is never replaced",
                          "choose the path of a new file");
    if (!options.overwrite)
      return Error::usage(destination.string() + " already exists",
                          "choose another name, or ask to overwrite it");
  }
  std::unique_ptr<AtomicFile> f(new AtomicFile());
  f->destination_ = destination;
  f->options_ = options;
  // Unnamed first: nothing can be left behind, whatever kills the writer.
  f->fd_ = ::open(folder.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (f->fd_ >= 0 && ::access("/proc/self/fd", X_OK) == 0) {
    f->unnamed_ = true;
  } else {
    if (f->fd_ >= 0) ::close(f->fd_);  // no /proc to link it in with
    std::string tmpl = (folder / ("." + destination.filename().string() + ".tmp-XXXXXX")).string();
    // The file is created and registered for signal cleanup with the
    // terminating signals held: a ^C between the two would leave it behind.
    HeldSignals held;
    f->fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);  // created 0600
    if (f->fd_ >= 0) f->slot_ = register_temp(tmpl);
    if (f->fd_ >= 0) f->temp_ = tmpl;
  }
  if (f->fd_ < 0) {
    int e = errno;
    if (e == EACCES || e == EROFS)
      return Error::usage("cannot create a file in " + folder.string() + ": " + errno_text(e));
    return Error::other("cannot create a temporary file in " + folder.string() + ": " + errno_text(e));
  }
  if (options.mode != 0600 && ::fchmod(f->fd_, options.mode) != 0) {
    int e = errno;
    f->abort();
    return Error::other("chmod of the new " + destination.string() + ": " + errno_text(e));
  }
  return f;
}

AtomicFile::~AtomicFile() {
  if (!committed_) abort();
}

void AtomicFile::abort() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!committed_ && !temp_.empty()) {
    ::unlink(temp_.c_str());
    temp_.clear();
  }
  unregister_temp(slot_);
  slot_ = -1;
}

Status AtomicFile::write(const void* data, std::size_t n) {
  if (fd_ < 0) return Error::other("write to " + destination_.string() + " after it was closed");
  Status s = write_all(fd_, data, n, destination_.string());
  if (!s.ok()) {
    abort();
    return s;
  }
  written_ += n;
  return {};
}

Status AtomicFile::commit() {
  if (committed_) return {};
  if (fd_ < 0) return Error::other("commit of " + destination_.string() + " after it was abandoned");
  if (::fsync(fd_) != 0) {
    Error e = io_error("fsync " + destination_.string(), errno);
    abort();
    return e;
  }
  if (options_.overwrite) {
    struct stat st {};
    if (::lstat(destination_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      abort();
      return Error::usage(destination_.string() + " became something other than a regular file while it was "
                          "being written; it is never replaced");
    }
  }
  int rc = 0;
  if (unnamed_ && !options_.overwrite) {
    rc = link_in(fd_, destination_);  // refuses an existing name, atomically
  } else if (unnamed_) {
    // To replace a file: a name of our own first, then rename over.
    std::filesystem::path folder = destination_.parent_path();
    if (folder.empty()) folder = ".";
    const std::string base = (folder / ("." + destination_.filename().string() + ".tmp-")).string();
    if (sodium_init() < 0) {
      abort();
      return Error::other("libsodium failed to initialise");
    }
    for (int attempt = 0; attempt < 100; ++attempt) {
      unsigned char r[6];
      randombytes_buf(r, sizeof r);
      std::string name = base;
      for (unsigned char c : r) name += "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[c % 62];
      HeldSignals held;
      rc = link_in(fd_, name);
      if (rc == 0) {
        temp_ = name;
        slot_ = register_temp(name);
        break;
      }
      if (errno != EEXIST) break;
    }
    if (rc == 0) rc = ::rename(temp_.c_str(), destination_.c_str());
  } else if (options_.overwrite) {
    rc = ::rename(temp_.c_str(), destination_.c_str());
  } else {
    rc = ::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, destination_.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
      // No RENAME_NOREPLACE on this file system: link() also refuses an
      // existing name; then drop the temporary name.
      rc = ::link(temp_.c_str(), destination_.c_str());
      if (rc == 0) ::unlink(temp_.c_str());
    }
  }
  if (rc != 0) {
    int e = errno;
    abort();
    if (e == EEXIST)
      return Error::usage(destination_.string() + " appeared while it was being written",
                          "choose another name, or ask to overwrite it");
    return Error::other("rename into " + destination_.string() + ": " + errno_text(e));
  }
  rc = ::close(fd_);
  fd_ = -1;
  committed_ = true;
  temp_.clear();
  unregister_temp(slot_);
  slot_ = -1;
  if (rc != 0) return io_error("close " + destination_.string(), errno);
  std::filesystem::path folder = destination_.parent_path();
  return fsync_directory(folder.empty() ? std::filesystem::path(".") : folder);
}

Status write_file_atomic(const std::filesystem::path& destination, const void* data, std::size_t n,
                         AtomicFileOptions options) {
  HSM_TRY_ASSIGN(std::unique_ptr<AtomicFile> f, AtomicFile::create(destination, options));
  HSM_TRY(f->write(data, n));
  return f->commit();
}

}  // namespace hsm::formats
