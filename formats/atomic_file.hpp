// Atomic, durable files (ccache core/atomicfile.cpp, LevelDB env_posix.cc):
// write to a temporary file in the destination folder, fsync it, give it its
// name (without `overwrite` the name is refused if it exists), then fsync the
// folder. Readers see the old file or the whole new one, never a half-written
// one, even after a crash.
//
// The temporary file is unnamed where the file system allows (Linux
// O_TMPFILE): it has no name until commit links it in, so even a writer
// killed with SIGKILL leaves nothing behind. Elsewhere it is
// ".<name>.tmp-XXXXXX" (and, to replace an existing file, that name exists
// for the instant between link and rename).
//
// Commit is explicit. A file destroyed without commit(), or whose commit
// failed, is removed. A signal handler may call remove_temp_files_on_signal()
// to remove the named temporary files still open in this process.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "formats/archive_output.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::formats {

struct AtomicFileOptions {
  bool overwrite = false;  // replace an existing destination (never the default)
  mode_t mode = 0600;      // permissions of the new file
};

class AtomicFile final : public ArchiveOutput {
 public:
  // Creates the temporary file ".<name>.tmp-XXXXXX" beside `destination`.
  // Errors: usage (folder missing or not a folder; destination exists and
  // !overwrite; destination is a folder), other (I/O).
  static api::Result<std::unique_ptr<AtomicFile>> create(const std::filesystem::path& destination,
                                                         AtomicFileOptions options = {});
  ~AtomicFile() override;  // removes the temporary file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Writes all n bytes (retrying short writes and EINTR). A full disk is
  // an `other` error naming the file; after any error the file is removed.
  api::Status write(const void* data, std::size_t n) override;
  // fsync, close, rename into place (refusing an existing destination
  // unless overwrite), fsync the folder. Errors as create() and write();
  // on error the temporary file is removed and the destination untouched.
  api::Status commit() override;
  // Removes the temporary file now. Idempotent.
  void abort() noexcept override;
  std::string name() const override { return destination_.string(); }

  int fd() const { return fd_; }
  std::uint64_t bytes_written() const { return written_; }
  const std::filesystem::path& destination() const { return destination_; }
  // The named temporary file; empty while the file is unnamed (O_TMPFILE).
  const std::filesystem::path& temp_path() const { return temp_; }
  bool unnamed() const { return unnamed_; }
  bool committed() const { return committed_; }

 private:
  AtomicFile() = default;
  std::filesystem::path destination_;
  std::filesystem::path temp_;
  AtomicFileOptions options_;
  int fd_ = -1;
  int slot_ = -1;  // signal-cleanup registration
  bool unnamed_ = false;  // an O_TMPFILE: linked in at commit
  std::uint64_t written_ = 0;
  bool committed_ = false;
};

// Writes `data` to `destination` atomically and durably (see AtomicFile).
api::Status write_file_atomic(const std::filesystem::path& destination, const void* data,
                              std::size_t n, AtomicFileOptions options = {});
inline api::Status write_file_atomic(const std::filesystem::path& destination, const api::Bytes& data,
                                     AtomicFileOptions options = {}) {
  return write_file_atomic(destination, data.data(), data.size(), options);
}

// Writes all n bytes to fd, retrying short writes and EINTR. `what` names the
// file in the error (errno text; "no space left on device" for ENOSPC).
api::Status write_all(int fd, const void* data, std::size_t n, const std::string& what);
// fsync(2) on a folder, so that a rename or a new name in it is durable.
api::Status fsync_directory(const std::filesystem::path& folder);

// Async-signal-safe: unlinks every temporary file of a live AtomicFile in
// this process (up to 32 at once are tracked). For SIGINT/SIGTERM handlers.
void remove_temp_files_on_signal() noexcept;

}  // namespace hsm::formats
