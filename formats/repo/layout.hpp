// The layout of an archive repository (formats/repo/README.md): one object
// per archive, keyed
//
//   PREFIX/<device>/<partition>/<UTC time>-<archive id>.hsmar
//   e.g. backups/hsm-a/payments/20261122T020000Z-a0a1...af.hsmar
//
// The archive id is random (16 bytes, 32 hex digits), so hosts writing at
// once never collide and need no lock; the time first makes a listing sort
// by age. Device and partition names are escaped: bytes other than
// A-Z a-z 0-9 '-' '_' and a non-leading '.' become %XX, so a name can hold
// neither a '/' nor a dot segment. No manifest: the listing is the catalogue,
// and keys that do not parse are not archives of this layout.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "plugins/api/status.hpp"

namespace hsm::repo {

using ArchiveIdBytes = std::array<std::uint8_t, 16>;

inline constexpr std::string_view kArchiveSuffix = ".hsmar";

std::string escape_component(std::string_view name);
// nullopt: not an escape_component() output.
std::optional<std::string> unescape_component(std::string_view escaped);

// "20261122T020000Z"; nullopt when `text` is not one (or not a valid time).
std::string utc_stamp(std::int64_t unix_seconds);
std::optional<std::int64_t> parse_utc_stamp(std::string_view text);

struct ArchiveKey {
  std::string device;
  std::string partition;
  std::int64_t created_at = 0;  // unix seconds, UTC (second precision)
  ArchiveIdBytes archive_id{};
};

// The key of an archive under `prefix` (a trailing '/' is ignored; empty: the
// bucket's root). Errors: usage (empty device or partition name, a key over
// S3's 1,024 bytes).
api::Result<std::string> archive_key(std::string_view prefix, const ArchiveKey& archive);

// The prefix that lists one partition's archives (or one device's, when
// partition is empty; or all, when both are).
std::string listing_prefix(std::string_view prefix, std::string_view device = {},
                           std::string_view partition = {});

// Parses a key of this layout under `prefix`; nullopt for anything else.
std::optional<ArchiveKey> parse_archive_key(std::string_view prefix, std::string_view key);

}  // namespace hsm::repo
