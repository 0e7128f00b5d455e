// The XML of S3 replies and request bodies, over tinyxml2 (Debian's
// libtinyxml2). Parsers accept elements with or without the S3 namespace and
// ignore elements they do not know (servers add their own, RGW its <Type>).
// A reply that is not what the operation returns is an error naming the
// operation (kind other: the server said something we cannot use).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/repo/s3/types.hpp"
#include "plugins/api/status.hpp"

namespace hsm::repo::s3::xml {

using api::Result;

struct ErrorDoc {
  std::string code;     // "NoSuchBucket", "AccessDenied", ...
  std::string message;  // the server's words, may be empty
  std::string bucket;   // <BucketName>, when the server names it
  std::string key;
  std::string request_id;
};
// nullopt-like: an empty `code` when the body is not an <Error> document.
ErrorDoc parse_error(std::string_view body);

struct ListObjectsPage {
  std::vector<ObjectEntry> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_continuation_token;
};
Result<ListObjectsPage> parse_list_objects_v2(std::string_view body);

struct ListVersionsPage {
  std::vector<ObjectVersion> versions;  // versions and delete markers, in the server's order
  bool truncated = false;
  std::string next_key_marker;
  std::string next_version_id_marker;
};
Result<ListVersionsPage> parse_list_object_versions(std::string_view body);

struct ListUploadsPage {
  std::vector<PendingUpload> uploads;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};
Result<ListUploadsPage> parse_list_multipart_uploads(std::string_view body);

// InitiateMultipartUploadResult: the upload id.
Result<std::string> parse_initiate_multipart_upload(std::string_view body);

struct CompleteResult {
  std::string bucket, key, etag, location;
};
// CompleteMultipartUploadResult. S3 may answer 200 with an <Error> document
// (the failure comes after the headers): the caller checks parse_error()
// first; here an <Error> is a malformed reply.
Result<CompleteResult> parse_complete_multipart_upload(std::string_view body);

Result<Retention> parse_retention(std::string_view body);

struct LockConfiguration {
  bool enabled = false;
  std::optional<LockMode> mode;  // the default retention, when there is one
  int days = 0;
  int years = 0;
};
Result<LockConfiguration> parse_object_lock_configuration(std::string_view body);

// Request bodies.
std::string complete_multipart_upload(const std::vector<CompletedPart>& parts);
std::string object_lock_configuration(LockMode mode, int days);
std::string retention(const Retention& r);

}  // namespace hsm::repo::s3::xml
