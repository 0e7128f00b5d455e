// Plain values of the S3 API as the client returns them: listings, uploads,
// retention. ETags are kept without their quotes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hsm::repo::s3 {

struct ObjectEntry {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
  std::int64_t last_modified = 0;  // unix seconds
};

struct ObjectVersion {
  std::string key;
  std::string version_id;
  bool is_latest = false;
  bool delete_marker = false;
  std::uint64_t size = 0;  // 0 for a delete marker
  std::string etag;
  std::int64_t last_modified = 0;
};

struct PendingUpload {
  std::string key;
  std::string upload_id;
  std::int64_t initiated = 0;
};

struct CompletedPart {
  int number = 0;  // 1..10000
  std::string etag;
};

// Object Lock retention. COMPLIANCE: nobody shortens it or deletes the
// version before the date, not even the account's root. GOVERNANCE: a
// user with s3:BypassGovernanceRetention may, with the bypass header.
enum class LockMode { governance, compliance };
std::string_view to_string(LockMode);  // "GOVERNANCE" / "COMPLIANCE"
std::optional<LockMode> lock_mode_from(std::string_view);

struct Retention {
  LockMode mode = LockMode::governance;
  std::int64_t retain_until = 0;  // unix seconds
};

// ISO 8601 as S3 writes it ("2026-12-02T04:50:21.674025693Z"; fraction and
// "+00:00" accepted); the fraction is dropped. nullopt when malformed.
std::optional<std::int64_t> parse_iso8601(std::string_view text);
std::string iso8601(std::int64_t unix_seconds);  // "2026-12-02T04:50:21Z"
// RFC 7231 HTTP date ("Tue, 01 Dec 2026 04:50:21 GMT"), for Last-Modified.
std::optional<std::int64_t> parse_http_date(std::string_view text);

}  // namespace hsm::repo::s3
