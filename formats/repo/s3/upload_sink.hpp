// The writer side of an archive in S3: takes bytes as they come, in bounded
// memory (one part buffer), and makes the object visible only on commit().
//
//   auto sink = UploadSink::open(client, bucket, key);   // checks the bucket
//   sink->write(bytes, n); ...                           // parts go up as they fill
//   auto summary = sink->commit();                       // last part, complete, HEAD
//
// Up to one part (part_size, 8 MiB by default; S3's minimum is 5 MiB) is held
// in memory. The multipart upload starts when the first part is full; an
// object smaller than one part goes up with one PutObject at commit(). Every
// part carries its SHA-256 (x-amz-content-sha256, signed) and its MD5
// (Content-MD5); the server refuses a part whose bytes do not match.
//
// Nothing is visible before commit(): abort(), the destructor and any failed
// write() abort the multipart upload. A process killed outright leaves a
// pending upload, which is no object; a repository prune aborts those
// (list_multipart_uploads + abort_multipart_upload).
//
// After completing, commit() reads the object back with a HEAD: its size
// must be the bytes written and its ETag the one S3 computes for these parts
// (MD5, or MD5 of the part MD5s + "-N"; skipped for SSE-KMS / SSE-C, whose
// ETags are not MD5s). A mismatch is an integrity error.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "formats/repo/s3/client.hpp"
#include "formats/repo/s3/digest.hpp"

namespace hsm::repo::s3 {

inline constexpr std::size_t kMinPartSize = 5u << 20;  // S3's minimum (all parts but the last)
inline constexpr std::size_t kMaxPartSize = std::size_t{5} << 30;  // S3's maximum
inline constexpr int kMaxParts = 10000;

struct UploadSinkOptions {
  std::size_t part_size = 8u << 20;
  // Parts below S3's 5 MiB minimum (down to 4 KiB): only for a server that
  // takes them (the test gateway sets `rgw multipart min part size`), so the
  // tests see many parts without megabytes of data. AWS S3 refuses them at
  // completion (EntityTooSmall).
  bool allow_small_parts = false;
};

struct UploadSummary {
  std::string bucket;
  std::string key;
  std::string version_id;  // empty in an unversioned bucket
  std::string etag;
  std::uint64_t size = 0;              // as read back by HEAD
  std::string sha256;                  // hex SHA-256 of every byte written
  int parts = 0;                       // 0: one PutObject
  std::optional<Retention> retention;  // as read back (the bucket's default, under Object Lock)
};

class UploadSink {
 public:
  // Checks the names, the part size and that the bucket answers (so wrong
  // credentials or a missing bucket fail before any byte is produced).
  static api::Result<std::unique_ptr<UploadSink>> open(Client& client, std::string bucket,
                                                       std::string key,
                                                       UploadSinkOptions options = {});
  ~UploadSink();  // abort() unless committed
  UploadSink(const UploadSink&) = delete;
  UploadSink& operator=(const UploadSink&) = delete;

  // After an error the upload is aborted, and every later call returns it.
  api::Status write(const void* data, std::size_t size);
  api::Result<UploadSummary> commit();
  // Abandons the upload (aborts the multipart upload). Idempotent.
  void abort() noexcept;

  std::uint64_t bytes_written() const { return written_; }
  const std::string& upload_id() const { return upload_id_; }  // empty until the first part goes up

 private:
  UploadSink(Client& client, std::string bucket, std::string key, UploadSinkOptions options);
  api::Status flush_part();
  api::Error fail(api::Error e);

  Client& client_;
  std::string bucket_, key_;
  UploadSinkOptions options_;
  std::vector<std::uint8_t> buffer_;
  std::string upload_id_;
  std::vector<CompletedPart> parts_;
  std::string part_md5s_;  // binary MD5 of each part, for the expected ETag
  StreamingDigest sha256_{StreamingDigest::Kind::sha256};
  std::uint64_t written_ = 0;
  std::optional<api::Error> failed_;
  bool done_ = false;  // committed or aborted
};

}  // namespace hsm::repo::s3
