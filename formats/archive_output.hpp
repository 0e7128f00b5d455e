// Where the archive writer's bytes go: a local file (AtomicFile) or an
// object-store upload (formats/repo/s3/archive_upload.hpp). The writer only
// appends, then commits once after the trailer; whatever the destination,
// nothing is visible under the archive's name before commit() succeeds, and
// abort() (or destruction without commit) leaves nothing behind.
//
// A header-only interface, so a library that implements it (hsm_repo) needs
// no link to hsm_formats.
#pragma once

#include <cstddef>
#include <string>

#include "plugins/api/status.hpp"

namespace hsm::formats {

class ArchiveOutput {
 public:
  virtual ~ArchiveOutput() = default;
  // Appends all n bytes. After an error the output is abandoned (as abort()).
  virtual api::Status write(const void* data, std::size_t n) = 0;
  // Makes the whole archive visible under its name, durably. Called once,
  // after the last write. On error nothing is visible.
  virtual api::Status commit() = 0;
  // Abandons the output: nothing becomes visible. Idempotent.
  virtual void abort() noexcept = 0;
  // The archive's name for messages and reports: a path or s3://BUCKET/KEY.
  virtual std::string name() const = 0;
};

}  // namespace hsm::formats
