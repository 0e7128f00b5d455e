// Reader and verifier of hsm-migrate archives. The format, what each hash and
// the signature cover, and the limits are in formats/archive-format.md.
//
// Everything here works without any secret: it checks structure, lengths
// (each one before it is used), hashes, the HOK's signature and the
// certificate chain. Opening a blob is the target device's business.
//
// Errors: usage (not an archive, a path that cannot be opened, a format
// version newer than this build), integrity (anything corrupt, truncated or
// not authentic; each failure mode has its own message), other (I/O).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/archive_format.hpp"

namespace hsm::formats {

// Where archive bytes come from: a file, or memory (tests, the fuzzer).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual std::uint64_t size() const = 0;
  // Reads exactly n bytes at offset; offset + n <= size(). Errors: other.
  virtual Status read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) const = 0;
};

class FileSource final : public ByteSource {
 public:
  // Errors: usage (missing, a folder, not readable), other.
  static Result<std::unique_ptr<FileSource>> open(const std::filesystem::path& path);
  ~FileSource() override;
  std::uint64_t size() const override { return size_; }
  Status read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) const override;

 private:
  FileSource() = default;
  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

class MemorySource final : public ByteSource {
 public:
  MemorySource(const std::uint8_t* data, std::size_t n) : data_(data), size_(n) {}
  explicit MemorySource(const Bytes& b) : MemorySource(b.data(), b.size()) {}
  std::uint64_t size() const override { return size_; }
  Status read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) const override;

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

// The header alone, its own SHA-256 checked; the rest of the file is not
// read (no signature check: use verify() before trusting anything).
Result<ArchiveHeader> read_header(const std::filesystem::path& path);
Result<ArchiveHeader> read_header(const ByteSource& source);

// Trust (archive-format.md, "Certificate chain and trust"): a consistent
// chain proves nothing about whose root it is. By default an archive is
// accepted only when its root certificate's SHA-256 is one of
// `trusted_roots`; an empty list trusts nothing.
struct VerifyOptions {
  std::vector<Digest> trusted_roots;
  // Skips the pin: structure, chain and signature are still checked, but the
  // report says root_trusted = false ("not authenticated"). Only for looking
  // at an archive of an unknown fleet (`verify --any-root`).
  bool any_root = false;
};

struct VerifyReport {
  ArchiveHeader header;
  std::uint64_t blobs_checked = 0;   // records whose hash matched their index entry
  std::uint64_t objects = 0;         // blobs of type object
  std::uint64_t sim4_blobs = 0;      // blobs of type sim4
  std::uint64_t smk_blobs = 0;       // blobs of type smk
  std::uint64_t sealed_bytes = 0;    // sum of the sealed sizes checked
  std::uint64_t bytes_checked = 0;   // file bytes covered by the archive digest (+ trailer)
  Digest archive_digest{};           // the digest the HOK signed
  Bytes archive_mac;                 // v2: the device's MAC (checked only by a partition of the domain)
  Digest root_sha256{};              // fingerprint of the root certificate
  bool root_trusted = false;         // the root is one of VerifyOptions::trusted_roots
  std::string hok_subject;           // subject of the HOK certificate
  std::string root_subject;
};

// Checks the whole archive; OK only when every byte was checked and at
// least one blob was (an empty archive is refused as corrupt), and the root
// is trusted (or any_root). Errors: integrity for all of these.
Result<VerifyReport> verify(const std::filesystem::path& path, const VerifyOptions& options = {});
Result<VerifyReport> verify(const ByteSource& source, const VerifyOptions& options = {});

struct BlobRecord {
  std::uint64_t index = 0;   // 0-based position: the `index` of the associated data
  std::uint64_t handle = 0;
  BlobType type = BlobType::object;
  std::string label;
  Bytes sealed;              // the device's AEAD output, to be opened with
                             // blob_associated_data(header.archive_id, index, handle, type)
};

// An archive verified once (as verify()), whose blobs can then be read
// again in order, each re-hashed and compared with the digest verified in
// the first pass (32 bytes kept per blob), so a file changed between the
// passes stops with an integrity error before the changed blob is yielded.
// The report (header, digests, MAC) is known before any blob is yielded: a
// restore hands the device what the MAC covers first.
class VerifiedArchive {
 public:
  // The source must outlive the VerifiedArchive.
  static Result<std::unique_ptr<VerifiedArchive>> open(const ByteSource& source, const VerifyOptions& options);
  static Result<std::unique_ptr<VerifiedArchive>> open(const std::filesystem::path& path,
                                                        const VerifyOptions& options);
  ~VerifiedArchive();
  const VerifyReport& report() const;
  // An error returned by `fn` stops the iteration and is returned as is.
  Status for_each_blob(const std::function<Status(const BlobRecord&)>& fn) const;

 private:
  struct State;
  explicit VerifiedArchive(std::unique_ptr<State> s);
  std::unique_ptr<State> state_;
};

// Restore's iteration. Verify first, then yield: the whole archive is
// verified (as verify()) BEFORE the first call of `fn`, so a caller that
// writes only from `fn` writes nothing for an archive that does not verify.
// Blobs are then read again in order and each is re-hashed and compared
// with the digest verified in the first pass (32 bytes kept per blob), so a
// file changed between the passes stops with an integrity error before the
// changed blob is yielded. An error returned by `fn` stops the iteration and
// is returned as is.
Status for_each_blob(const std::filesystem::path& path,
                     const std::function<Status(const BlobRecord&)>& fn,
                     const VerifyOptions& options = {});
Status for_each_blob(const ByteSource& source, const std::function<Status(const BlobRecord&)>& fn,
                     const VerifyOptions& options = {});

}  // namespace hsm::formats
