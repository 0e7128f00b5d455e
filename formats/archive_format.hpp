// The hsm-migrate blob archive: constants, types and the blob associated data
// shared by the writer (archive_writer.hpp) and the reader
// (archive_reader.hpp). The format is specified in formats/archive-format.md;
// this header follows that document, not the other way round.
//
// The library frames, hashes and checks. It never holds a secret: the sealed
// blobs, the wrapped master key and the HOK signature come from the source
// device.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/api/archive.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::formats {

using api::Bytes;
using api::Error;
using api::ErrorKind;
using api::Result;
using api::Status;

// Format versions. Bump kFormatVersion for any change an older reader could
// misread, keep every old version readable, and add a golden archive for it
// under tests/data/archive/. History:
//   version 1: header (id, created_at, source device and partition, domain
//              fingerprint, wrapped master key, HOK + root certificates) and
//              its SHA-256; blob records; index with a SHA-256 per record and
//              an index SHA-256; trailer with the SHA-256 of every byte
//              before it and the HOK's Ed25519 signature of that digest.
//   version 2: the header says whether the archive is a complete partition
//              backup or a subset (scope, selector); its domain field is a
//              per-archive domain tag (no offline guess test shared across
//              archives); the trailer adds the archive MAC: the device's
//              AES-256-GCM tag, under a key only the domain opens, over the
//              archive id, blob count, header digest and archive digest, so
//              that nobody without the domain secret can drop a blob or edit
//              the header, even with a certificate chain the reader trusts.
//              The HOK key may be Ed25519 or ECDSA P-256 (64-byte r || s).
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::uint32_t kOldestFormatVersion = 1;

// Magic numbers (archive-format.md, "Layout").
inline constexpr std::array<std::uint8_t, 8> kMagic = {0x89, 'H', 'S', 'M', 'A', 'R', '\r', '\n'};
inline constexpr std::array<std::uint8_t, 8> kIndexMagic = {'H', 'S', 'M', 'A', 'R', 'I', 'D', 'X'};
inline constexpr std::array<std::uint8_t, 8> kEndMagic = {'H', 'S', 'M', 'A', 'R', 'E', 'N', 'D'};
// First bytes of every blob's associated data (16 bytes, no terminator).
inline constexpr std::string_view kAdContext = "HSMAR-AD-BLOB-v1";

// Limits. A reader checks each one before it reads or allocates.
inline constexpr std::size_t kMaxHeaderBody = 1u << 20;       // 1 MiB
inline constexpr std::size_t kMaxString = 255;                // header strings, labels (u8 length)
inline constexpr std::size_t kMaxWrappedKey = 64u * 1024;     // wrapped master key
inline constexpr std::size_t kMinCertificates = 2;            // HOK, root
inline constexpr std::size_t kMaxCertificates = 8;
inline constexpr std::size_t kMaxCertificate = 16u * 1024;    // one DER certificate
inline constexpr std::size_t kMaxSealed = 16u << 20;          // one sealed blob: 16 MiB
inline constexpr std::uint64_t kMaxBlobCount = 1ull << 24;    // 16,777,216 blobs

// Fixed sizes in bytes.
inline constexpr std::size_t kPrefixSize = 16;         // magic, version, header body length
inline constexpr std::size_t kDigestSize = 32;         // SHA-256
inline constexpr std::size_t kSignatureSize = 64;      // Ed25519
inline constexpr std::size_t kRecordPrefixSize = 14;   // handle, type, label length, sealed length
inline constexpr std::size_t kIndexHeaderSize = 24;    // magic, count, sealed bytes
inline constexpr std::size_t kIndexEntryFixed = 54;    // entry without its label
inline constexpr std::size_t kMacSize = 28;            // v2 archive MAC: GCM nonce (12) || tag (16)
// Trailer: digest, signature, [v2: MAC,] index offset, end magic.
inline constexpr std::size_t kTrailerSizeV1 = 112;
inline constexpr std::size_t kTrailerSizeV2 = 140;
inline constexpr std::size_t trailer_size(std::uint32_t version) {
  return version >= 2 ? kTrailerSizeV2 : kTrailerSizeV1;
}

// What a blob holds. Persisted as a u8: never renumber.
enum class BlobType : std::uint8_t {
  object = 1,  // one cryptoki object sealed by the device (V0 partitions)
  sim4 = 2,    // one SIM4 SKS blob (V1 partitions; opaque here)
  smk = 3,     // the partition's SKS master key, sealed (V1 partitions)
};
std::string_view to_string(BlobType);
std::optional<BlobType> blob_type_from_u8(std::uint8_t);

// What an archive holds of its partition (v2). Persisted as a u8: never
// renumber. Version 1 archives have no such field and read as `unknown`:
// retention never counts them as a complete backup unless told to.
enum class ArchiveScope : std::uint8_t {
  unknown = 0,   // version 1: not recorded
  complete = 1,  // every object of the partition (selector "all")
  subset = 2,    // the objects one selector matched
};
std::string_view to_string(ArchiveScope);

using ArchiveId = api::ArchiveId;
using Digest = std::array<std::uint8_t, kDigestSize>;

// The archive header: who made the archive, for which domain, and the key
// material the device produced. Strings are UTF-8, at most kMaxString bytes.
struct ArchiveHeader {
  std::uint32_t format_version = kFormatVersion;
  ArchiveId archive_id{};         // random per archive (the writer draws it)
  std::int64_t created_at = 0;    // unix seconds, UTC
  std::string source_device;      // device name, e.g. "hsm-a"
  std::string device_kind;        // "luna6", "luna7", "cloud", "backup-g5"
  std::string firmware;           // e.g. "7.8.4"
  std::string fm_class;           // "never" | "enabled"
  std::string partition_name;
  std::string partition_type;     // "v0" | "v1"
  ArchiveScope scope = ArchiveScope::complete;  // v2
  std::string selector;           // v2: "" when complete, else the selector
  // v1: the cloning domain's fingerprint; v2: the per-archive domain tag.
  // Never the secret.
  Digest domain_fingerprint{};
  Bytes wrapped_master_key;       // opaque: only a partition of the same domain unwraps it
  std::vector<Bytes> certificates;  // DER X.509: [0] the HOK certificate, last the root
  Digest header_digest{};         // SHA-256 of the header; set by writer and reader
};

// The associated data the device must bind into each blob's AEAD
// (archive-format.md, "Blob associated data"):
//   "HSMAR-AD-BLOB-v1" || archive_id (16) || u64le index || u64le handle || u8 type
// 49 bytes. `index` is the blob's 0-based position in the archive. A blob
// moved to another position, another archive, another handle or another type
// fails to open.
Bytes blob_associated_data(const ArchiveId& archive_id, std::uint64_t index, std::uint64_t handle,
                           std::uint8_t type);

// SHA-256 of a certificate's DER: compare the archive's root
// (certificates.back()) with a trusted root's fingerprint.
Digest certificate_sha256(const Bytes& der);

// Lower-case hex, and its inverse (nullopt unless exactly 64 hex digits).
std::string to_hex(const std::uint8_t* data, std::size_t n);
template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& a) {
  return to_hex(a.data(), a.size());
}
inline std::string to_hex(const Bytes& b) { return to_hex(b.data(), b.size()); }
std::optional<Digest> digest_from_hex(std::string_view hex);

}  // namespace hsm::formats
