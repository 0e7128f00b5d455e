// The S3 client: each verb is one small function over Http::send (which
// signs and retries), with its reply parsed (xml.hpp) or its failure mapped
// (errors.hpp). The repository's few verbs (style 17) map onto these:
// Save = put_object, or the multipart verbs through UploadSink
// (upload_sink.hpp); Load = get_range, through ObjectSource
// (object_source.hpp); Stat = head_object; List = list_objects /
// list_object_versions; Remove = delete_version.
//
// Every verb checks the bucket name and the key (address.hpp: S3's 1,024-byte
// limit, no control characters, no dot segments) before sending anything.
// Bodies carry Content-MD5 (AWS requires it with Object Lock; RGW checks it)
// and x-amz-content-sha256, their SHA-256, which is signed and which both
// AWS S3 and Ceph RGW 16 check against the bytes received
// (XAmzContentSHA256Mismatch). RGW 16 ignores x-amz-checksum-sha256, so it is
// not sent.
//
// Not thread-safe (one Http per Client).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "formats/repo/s3/http.hpp"
#include "formats/repo/s3/types.hpp"
#include "formats/repo/s3/xml.hpp"

namespace hsm::repo::s3 {

struct ObjectInfo {
  std::uint64_t size = 0;
  std::string etag;        // unquoted; "<md5 of part md5s>-N" for a multipart object
  std::string version_id;  // empty in an unversioned bucket
  std::optional<Retention> retention;
  std::int64_t last_modified = 0;
  // "AES256", "aws:kms", ... or "customer" (SSE-C); empty: none reported.
  // With aws:kms and SSE-C the ETag is not an MD5 of the bytes.
  std::string server_side_encryption;
};

struct PutResult {
  std::string etag;
  std::string version_id;
};

class Client {
 public:
  // Errors: other (curl).
  static api::Result<std::unique_ptr<Client>> create(S3Config config, HttpOptions options = {});
  explicit Client(std::unique_ptr<Http> http) : http_(std::move(http)) {}

  Http& http() { return *http_; }
  const S3Config& config() const { return http_->config(); }

  // --- buckets ---
  // A new bucket with Object Lock enabled (so versioning too) and a default
  // retention of `days` days in `mode`. An existing bucket is an error
  // (usage): its retention is never changed behind the user's back.
  api::Status create_bucket(const std::string& bucket, LockMode mode, int days);
  // OK when the bucket exists and the credentials may use it.
  api::Status head_bucket(const std::string& bucket);
  api::Result<xml::LockConfiguration> get_object_lock_configuration(const std::string& bucket);

  // --- objects ---
  api::Result<PutResult> put_object(const std::string& bucket, const std::string& key,
                                    const std::uint8_t* data, std::size_t size);
  api::Result<ObjectInfo> head_object(const std::string& bucket, const std::string& key,
                                      const std::string& version_id = {});
  // Exactly `size` bytes at `offset` into `out`. `if_match`: an ETag the
  // object must still have (412 otherwise: integrity).
  api::Status get_range(const std::string& bucket, const std::string& key, std::uint64_t offset,
                        std::uint8_t* out, std::size_t size, const std::string& version_id = {},
                        const std::string& if_match = {});
  // Every object under `prefix` (all pages of up to page_size keys; S3
  // caps a page at 1,000), in key order.
  api::Result<std::vector<ObjectEntry>> list_objects(const std::string& bucket,
                                                     const std::string& prefix,
                                                     int page_size = 1000);
  // Every version and delete marker under `prefix` (all pages).
  api::Result<std::vector<ObjectVersion>> list_object_versions(const std::string& bucket,
                                                               const std::string& prefix,
                                                               int page_size = 1000);
  // Deletes one version for good. bypass_governance sends
  // x-amz-bypass-governance-retention (only when the caller asks). A locked
  // version: refused, code "ObjectLocked", the message saying until when.
  api::Status delete_version(const std::string& bucket, const std::string& key,
                             const std::string& version_id, bool bypass_governance = false);
  api::Result<Retention> get_retention(const std::string& bucket, const std::string& key,
                                       const std::string& version_id);
  // Sets (extends) a version's retention. Shortening is refused by S3 (under
  // GOVERNANCE it needs bypass_governance).
  api::Status put_retention(const std::string& bucket, const std::string& key,
                            const std::string& version_id, const Retention& retention,
                            bool bypass_governance = false);

  // --- multipart uploads ---
  api::Result<std::string> create_multipart_upload(const std::string& bucket,
                                                   const std::string& key);
  api::Result<CompletedPart> upload_part(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, int part_number,
                                         const std::uint8_t* data, std::size_t size);
  api::Result<PutResult> complete_multipart_upload(const std::string& bucket,
                                                   const std::string& key,
                                                   const std::string& upload_id,
                                                   const std::vector<CompletedPart>& parts);
  // Idempotent: an upload that is already gone is not an error.
  api::Status abort_multipart_upload(const std::string& bucket, const std::string& key,
                                     const std::string& upload_id);
  api::Result<std::vector<PendingUpload>> list_multipart_uploads(const std::string& bucket,
                                                                 const std::string& prefix);

 private:
  // Sends and maps a non-2xx reply (and a 200 carrying an <Error>).
  api::Result<HttpResponse> call(const HttpRequest& request);
  std::unique_ptr<Http> http_;
};

}  // namespace hsm::repo::s3
