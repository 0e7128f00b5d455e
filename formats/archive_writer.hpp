// Streaming writer of hsm-migrate archives (spec: formats/archive-format.md).
//
//   auto w = ArchiveWriter::create(path, header, sealer);   // header written
//   for each object:
//     ad = w->next_associated_data(handle, type);            // device seals with ad
//     w->add_blob(handle, type, label, sealed);
//   auto summary = w->commit();     // index; the device signs and MACs; trailer; rename
//
// The archive goes to an ArchiveOutput (formats/archive_output.hpp): a
// temporary file beside `path` (0600) that appears under `path` only on
// commit(), fsynced; or an object-store upload that is completed only after
// the trailer. On any error, and when the writer is destroyed without
// commit(), the output is aborted: nothing is left visible. Memory stays
// constant whatever the number of blobs: index entries are streamed to an
// anonymous scratch file (beside the archive, or in the folder the caller
// names: TMPDIR for an upload) and copied after the blobs on commit().
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

#include "formats/archive_format.hpp"
#include "formats/archive_output.hpp"
#include "formats/atomic_file.hpp"

namespace hsm::formats {

// The source device's side of finishing an archive: the HOK's 64-byte
// signature of the archive digest and (version 2) the 28-byte archive MAC
// over api::archive_mac_message(finish). The library never holds a key.
using ArchiveSealer = std::function<Result<api::ArchiveSeal>(const api::ArchiveFinish& finish)>;

struct ArchiveWriterOptions {
  bool overwrite = false;  // replace an existing file at the destination
  // header.archive_id and header.created_at are written as given: equal
  // inputs give equal bytes (golden vectors, tests), and a caller that drew
  // the id itself (new_archive_id()) can have the device bind to it first.
  // Otherwise the writer draws a random id and takes the current time.
  bool identity_given = false;
  // The format version to write: kFormatVersion, or 1 only to reproduce the
  // version 1 golden vectors (no device writes version 1 any more).
  std::uint32_t format_version = kFormatVersion;
  // Check the certificate chain before writing anything (recommended: an
  // archive with a broken chain never verifies). Tests that build
  // deliberately broken archives turn it off.
  bool check_chain = true;
};

struct WriteSummary {
  std::filesystem::path path;  // the output's name (a path, or s3://BUCKET/KEY)
  ArchiveId archive_id{};
  std::uint64_t blob_count = 0;
  std::uint64_t sealed_bytes = 0;  // sum of the sealed blob sizes
  std::uint64_t file_bytes = 0;
  Digest archive_digest{};         // what the HOK signed
  Bytes archive_mac;               // v2: what the device MAC'd (28 bytes)
};

// A fresh random archive id (libsodium).
Result<ArchiveId> new_archive_id();

class ArchiveWriter {
 public:
  // Validates the header (usage errors name the field), creates the
  // temporary file and writes the header. Errors: usage (bad header, bad
  // path, destination exists), other (I/O).
  static Result<std::unique_ptr<ArchiveWriter>> create(const std::filesystem::path& destination,
                                                       ArchiveHeader header, ArchiveSealer sealer,
                                                       ArchiveWriterOptions options = {});
  // The same into any output (options.overwrite is the output's business).
  // The index scratch file is made in `scratch_folder`. The output is
  // aborted on any error, here or later.
  static Result<std::unique_ptr<ArchiveWriter>> create(std::unique_ptr<ArchiveOutput> output,
                                                       const std::filesystem::path& scratch_folder,
                                                       ArchiveHeader header, ArchiveSealer sealer,
                                                       ArchiveWriterOptions options = {});
  ~ArchiveWriter();  // removes the temporary file unless committed
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  // The header as written: archive id, created_at and header digest filled in.
  const ArchiveHeader& header() const { return header_; }
  // The position the next add_blob() gets, and the associated data the
  // device must bind into that blob's AEAD.
  std::uint64_t next_index() const { return count_; }
  Bytes next_associated_data(std::uint64_t handle, BlobType type) const;

  // Appends one sealed blob. Errors: usage (bad type, label over 255 bytes
  // or not UTF-8, sealed size 0 or over kMaxSealed, too many blobs), other
  // (I/O). After an error the writer is finished and the file removed.
  Status add_blob(std::uint64_t handle, BlobType type, std::string_view label,
                  const std::uint8_t* sealed, std::size_t sealed_size);
  Status add_blob(std::uint64_t handle, BlobType type, std::string_view label, const Bytes& sealed) {
    return add_blob(handle, type, label, sealed.data(), sealed.size());
  }

  // Writes the index, has the sealer sign the archive digest and MAC the
  // archive, checks that signature against the HOK certificate, writes the
  // trailer, then fsyncs and renames into place. Errors: usage (no blobs: an
  // archive that checks nothing is refused), integrity (the signature does
  // not verify, or the MAC has the wrong size), the sealer's own error,
  // other (I/O).
  Result<WriteSummary> commit();
  // Abandons the archive and removes the temporary file. Idempotent.
  void abort() noexcept;

 private:
  struct Impl;
  explicit ArchiveWriter(std::unique_ptr<Impl> impl);
  Error fail(Error e);
  std::unique_ptr<Impl> impl_;
  ArchiveHeader header_;
  std::uint64_t count_ = 0;
};

}  // namespace hsm::formats
