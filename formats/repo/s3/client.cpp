#include "formats/repo/s3/client.hpp"

#include <charconv>
#include <set>

#include "formats/repo/s3/address.hpp"
#include "formats/repo/s3/digest.hpp"
#include "formats/repo/s3/errors.hpp"

namespace hsm::repo::s3 {

using api::Error;
using api::Result;
using api::Status;

namespace {

HttpRequest request(std::string method, std::string operation, const std::string& bucket,
                    const std::string& key = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.operation = std::move(operation);
  r.bucket = bucket;
  r.key = key;
  return r;
}

// Body from the caller's memory, with its Content-MD5.
void with_body(HttpRequest& r, const std::uint8_t* data, std::size_t size) {
  r.body = data;
  r.body_size = size;
  r.headers.emplace_back(
      "Content-MD5", base64(md5(data ? data : reinterpret_cast<const std::uint8_t*>(""), size)));
}
void with_body(HttpRequest& r, const std::string& text) {
  with_body(r, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

Status check(const std::string& bucket, const std::string& key) {
  HSM_TRY(check_bucket_name(bucket));
  return check_key(key);
}

std::string unquoted(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return etag;
}

}  // namespace

Result<std::unique_ptr<Client>> Client::create(S3Config config, HttpOptions options) {
  HSM_TRY_ASSIGN(auto http, Http::create(std::move(config), std::move(options)));
  return std::make_unique<Client>(std::move(http));
}

Result<HttpResponse> Client::call(const HttpRequest& r) {
  HSM_TRY_ASSIGN(HttpResponse resp, http_->send(r));
  // a 200 can carry an <Error> (CompleteMultipartUpload): a failure all the same
  if (!resp.ok() || (!r.out && !xml::parse_error(resp.body).code.empty()))
    return s3_error(r, resp, http_->config());
  return resp;
}

// --- buckets ---

Status Client::head_bucket(const std::string& bucket) {
  HSM_TRY(check_bucket_name(bucket));
  auto r = request("HEAD", "HeadBucket", bucket);
  HSM_TRY_ASSIGN(HttpResponse resp, http_->send(r));
  if (resp.status == 404) {  // a HEAD has no body to say NoSuchBucket
    resp.body = "<Error><Code>NoSuchBucket</Code></Error>";
    return s3_error(r, resp, http_->config());
  }
  if (!resp.ok()) return s3_error(r, resp, http_->config());
  return {};
}

Status Client::create_bucket(const std::string& bucket, LockMode mode, int days) {
  HSM_TRY(check_bucket_name(bucket));
  if (days < 1 || days > 36500)
    return Error::usage("retention of " + std::to_string(days) + " days: give 1 to 36500 days");
  if (auto exists = head_bucket(bucket); exists.ok()) {
    return Error::usage("S3 bucket '" + bucket + "' already exists at " + config().endpoint.url(),
                        "choose a new bucket name: an existing bucket's retention is not changed");
  } else if (exists.error().code != "NoSuchBucket") {
    return exists.error();
  }
  auto r = request("PUT", "CreateBucket", bucket);
  r.headers.emplace_back("x-amz-bucket-object-lock-enabled", "true");
  std::string location;
  if (config().region != "us-east-1")
    location =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        config().region + "</LocationConstraint></CreateBucketConfiguration>";
  if (!location.empty()) with_body(r, location);
  HSM_TRY(call(r));

  auto lock = request("PUT", "PutObjectLockConfiguration", bucket);
  lock.query = {{"object-lock", ""}};
  const std::string body = xml::object_lock_configuration(mode, days);
  with_body(lock, body);
  HSM_TRY(call(lock));
  return {};
}

Result<xml::LockConfiguration> Client::get_object_lock_configuration(const std::string& bucket) {
  HSM_TRY(check_bucket_name(bucket));
  auto r = request("GET", "GetObjectLockConfiguration", bucket);
  r.query = {{"object-lock", ""}};
  HSM_TRY_ASSIGN(HttpResponse resp, call(r));
  return xml::parse_object_lock_configuration(resp.body);
}

// --- objects ---

Result<PutResult> Client::put_object(const std::string& bucket, const std::string& key,
                                     const std::uint8_t* data, std::size_t size) {
  HSM_TRY(check(bucket, key));
  auto r = request("PUT", "PutObject", bucket, key);
  with_body(r, data, size);
  HSM_TRY_ASSIGN(HttpResponse resp, call(r));
  return PutResult{unquoted(resp.header("etag")), resp.header("x-amz-version-id")};
}

Result<ObjectInfo> Client::head_object(const std::string& bucket, const std::string& key,
                                       const std::string& version_id) {
  HSM_TRY(check(bucket, key));
  auto r = request("HEAD", "HeadObject", bucket, key);
  if (!version_id.empty()) r.query = {{"versionId", version_id}};
  HSM_TRY_ASSIGN(HttpResponse resp, http_->send(r));
  if (resp.status == 404) {
    // no body to tell a missing key from a missing bucket: ask the bucket
    HSM_TRY(head_bucket(bucket));
    resp.body = "<Error><Code>" + std::string(version_id.empty() ? "NoSuchKey" : "NoSuchVersion") +
                "</Code></Error>";
  }
  if (!resp.ok()) return s3_error(r, resp, http_->config());
  ObjectInfo info;
  const std::string length = resp.header("content-length");
  auto [p, ec] = std::from_chars(length.data(), length.data() + length.size(), info.size);
  if (length.empty() || ec != std::errc() || p != length.data() + length.size())
    return Error::other("S3 HeadObject " + describe(r) + ": no usable Content-Length");
  info.etag = unquoted(resp.header("etag"));
  info.version_id = resp.header("x-amz-version-id");
  info.last_modified = parse_http_date(resp.header("last-modified")).value_or(0);
  auto mode = lock_mode_from(resp.header("x-amz-object-lock-mode"));
  auto until = parse_iso8601(resp.header("x-amz-object-lock-retain-until-date"));
  if (mode && until) info.retention = Retention{*mode, *until};
  info.server_side_encryption = resp.header("x-amz-server-side-encryption");
  if (!resp.header("x-amz-server-side-encryption-customer-algorithm").empty())
    info.server_side_encryption = "customer";
  return info;
}

Status Client::get_range(const std::string& bucket, const std::string& key, std::uint64_t offset,
                         std::uint8_t* out, std::size_t size, const std::string& version_id,
                         const std::string& if_match) {
  HSM_TRY(check(bucket, key));
  if (size == 0) return {};
  auto r = request("GET", "GetObject", bucket, key);
  if (!version_id.empty()) r.query = {{"versionId", version_id}};
  r.headers.emplace_back(
      "Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + size - 1));
  if (!if_match.empty()) r.headers.emplace_back("If-Match", "\"" + if_match + "\"");
  r.out = out;
  r.out_size = size;
  HSM_TRY_ASSIGN(HttpResponse resp, call(r));
  if (resp.out_written != size)
    return Error::integrity("S3 GetObject " + describe(r) + ": " +
                            std::to_string(resp.out_written) + " bytes at offset " +
                            std::to_string(offset) + " where " + std::to_string(size) +
                            " were asked for (the object is shorter than expected)");
  return {};
}

Result<std::vector<ObjectEntry>> Client::list_objects(const std::string& bucket,
                                                      const std::string& prefix, int page_size) {
  HSM_TRY(check(bucket, prefix));
  std::vector<ObjectEntry> all;
  std::set<std::string> seen_tokens;
  std::string token;
  for (;;) {
    auto r = request("GET", "ListObjectsV2", bucket);
    r.query = {{"list-type", "2"}, {"prefix", prefix}, {"max-keys", std::to_string(page_size)}};
    if (!token.empty()) r.query.emplace_back("continuation-token", token);
    HSM_TRY_ASSIGN(HttpResponse resp, call(r));
    HSM_TRY_ASSIGN(auto page, xml::parse_list_objects_v2(resp.body));
    for (auto& o : page.objects) all.push_back(std::move(o));
    if (!page.truncated) return all;
    if (!seen_tokens.insert(page.next_continuation_token).second)
      return Error::other("S3 ListObjectsV2 s3://" + bucket + "/" + prefix +
                          ": the server repeats a page");
    token = page.next_continuation_token;
  }
}

Result<std::vector<ObjectVersion>> Client::list_object_versions(const std::string& bucket,
                                                                const std::string& prefix,
                                                                int page_size) {
  HSM_TRY(check(bucket, prefix));
  std::vector<ObjectVersion> all;
  std::set<std::pair<std::string, std::string>> seen;
  std::string key_marker, version_marker;
  for (;;) {
    auto r = request("GET", "ListObjectVersions", bucket);
    r.query = {{"versions", ""}, {"prefix", prefix}, {"max-keys", std::to_string(page_size)}};
    if (!key_marker.empty()) r.query.emplace_back("key-marker", key_marker);
    if (!version_marker.empty()) r.query.emplace_back("version-id-marker", version_marker);
    HSM_TRY_ASSIGN(HttpResponse resp, call(r));
    HSM_TRY_ASSIGN(auto page, xml::parse_list_object_versions(resp.body));
    for (auto& v : page.versions) all.push_back(std::move(v));
    if (!page.truncated) return all;
    if (!seen.emplace(page.next_key_marker, page.next_version_id_marker).second)
      return Error::other("S3 ListObjectVersions s3://" + bucket + "/" + prefix +
                          ": the server repeats a page");
    key_marker = page.next_key_marker;
    version_marker = page.next_version_id_marker;
  }
}

Status Client::delete_version(const std::string& bucket, const std::string& key,
                              const std::string& version_id, bool bypass_governance) {
  HSM_TRY(check(bucket, key));
  if (version_id.empty())
    return Error::usage("deleting " + key +
                        " needs a version id (a delete without one only hides the object)");
  auto r = request("DELETE", "DeleteObject", bucket, key);
  r.query = {{"versionId", version_id}};
  if (bypass_governance) r.headers.emplace_back("x-amz-bypass-governance-retention", "true");
  auto resp = call(r);
  if (resp.ok()) return {};
  Error e = resp.error();
  if (e.code == "ObjectLocked") {
    // say until when: prune reports "locked until DATE"
    if (auto ret = get_retention(bucket, key, version_id); ret.ok())
      e.message = "S3 Object Lock keeps " + describe(r) + " until " + iso8601(ret->retain_until) +
                  " (" + std::string(to_string(ret->mode)) + ")";
  }
  return e;
}

Result<Retention> Client::get_retention(const std::string& bucket, const std::string& key,
                                        const std::string& version_id) {
  HSM_TRY(check(bucket, key));
  auto r = request("GET", "GetObjectRetention", bucket, key);
  r.query = {{"retention", ""}};
  if (!version_id.empty()) r.query.emplace_back("versionId", version_id);
  HSM_TRY_ASSIGN(HttpResponse resp, call(r));
  return xml::parse_retention(resp.body);
}

Status Client::put_retention(const std::string& bucket, const std::string& key,
                             const std::string& version_id, const Retention& retention,
                             bool bypass_governance) {
  HSM_TRY(check(bucket, key));
  auto r = request("PUT", "PutObjectRetention", bucket, key);
  r.query = {{"retention", ""}};
  if (!version_id.empty()) r.query.emplace_back("versionId", version_id);
  if (bypass_governance) r.headers.emplace_back("x-amz-bypass-governance-retention", "true");
  const std::string body = xml::retention(retention);
  with_body(r, body);
  HSM_TRY(call(r));
  return {};
}

// --- multipart uploads ---

Result<std::string> Client::create_multipart_upload(const std::string& bucket,
                                                    const std::string& key) {
  HSM_TRY(check(bucket, key));
  auto r = request("POST", "CreateMultipartUpload", bucket, key);
  r.query = {{"uploads", ""}};
  HSM_TRY_ASSIGN(HttpResponse resp, call(r));
  return xml::parse_initiate_multipart_upload(resp.body);
}

Result<CompletedPart> Client::upload_part(const std::string& bucket, const std::string& key,
                                          const std::string& upload_id, int part_number,
                                          const std::uint8_t* data, std::size_t size) {
  HSM_TRY(check(bucket, key));
  if (part_number < 1 || part_number > 10000)
    return Error::usage("part number " + std::to_string(part_number) +
                        ": S3 allows 1 to 10,000 parts");
  auto r = request("PUT", "UploadPart", bucket, key);
  r.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  with_body(r, data, size);  // + x-amz-content-sha256 (Http): the server checks both
  HSM_TRY_ASSIGN(HttpResponse resp, call(r));
  std::string etag = unquoted(resp.header("etag"));
  if (etag.empty()) return Error::other("S3 UploadPart " + describe(r) + ": no ETag in the reply");
  return CompletedPart{part_number, etag};
}

Result<PutResult> Client::complete_multipart_upload(const std::string& bucket,
                                                    const std::string& key,
                                                    const std::string& upload_id,
                                                    const std::vector<CompletedPart>& parts) {
  HSM_TRY(check(bucket, key));
  auto r = request("POST", "CompleteMultipartUpload", bucket, key);
  r.query = {{"uploadId", upload_id}};
  const std::string body = xml::complete_multipart_upload(parts);
  with_body(r, body);
  HSM_TRY_ASSIGN(HttpResponse resp, http_->send(r));
  const xml::ErrorDoc doc = xml::parse_error(resp.body);
  if (resp.attempts > 1 && doc.code == "NoSuchUpload") {
    // an earlier attempt completed it and its reply was lost: the object
    // is there (the caller checks its size and ETag)
    HSM_TRY_ASSIGN(ObjectInfo info, head_object(bucket, key));
    return PutResult{info.etag, info.version_id};
  }
  if (!resp.ok() || !doc.code.empty()) return s3_error(r, resp, http_->config());
  HSM_TRY_ASSIGN(auto done, xml::parse_complete_multipart_upload(resp.body));
  return PutResult{done.etag, resp.header("x-amz-version-id")};
}

Status Client::abort_multipart_upload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) {
  HSM_TRY(check(bucket, key));
  auto r = request("DELETE", "AbortMultipartUpload", bucket, key);
  r.query = {{"uploadId", upload_id}};
  auto resp = call(r);
  if (!resp.ok() && resp.error().code != "NoSuchUpload") return resp.error();
  return {};
}

Result<std::vector<PendingUpload>> Client::list_multipart_uploads(const std::string& bucket,
                                                                  const std::string& prefix) {
  HSM_TRY(check(bucket, prefix));
  std::vector<PendingUpload> all;
  std::set<std::pair<std::string, std::string>> seen;
  std::string key_marker, id_marker;
  for (;;) {
    auto r = request("GET", "ListMultipartUploads", bucket);
    r.query = {{"uploads", ""}, {"prefix", prefix}};
    if (!key_marker.empty()) r.query.emplace_back("key-marker", key_marker);
    if (!id_marker.empty()) r.query.emplace_back("upload-id-marker", id_marker);
    HSM_TRY_ASSIGN(HttpResponse resp, call(r));
    HSM_TRY_ASSIGN(auto page, xml::parse_list_multipart_uploads(resp.body));
    for (auto& u : page.uploads) all.push_back(std::move(u));
    if (!page.truncated) return all;
    if (!seen.emplace(page.next_key_marker, page.next_upload_id_marker).second)
      return Error::other("S3 ListMultipartUploads s3://" + bucket + "/" + prefix +
                          ": the server repeats a page");
    key_marker = page.next_key_marker;
    id_marker = page.next_upload_id_marker;
  }
}

}  // namespace hsm::repo::s3
