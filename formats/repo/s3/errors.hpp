// One home for turning an S3 reply that is not a success into the
// project's error kinds (plugins/api/status.hpp), with one line that names
// what failed and how to fix it. The S3 error code goes into Error::code so
// callers can branch on it ("ObjectLocked", "NoSuchKey", ...).
//
//   403 (credentials, policy)        usage: names the bucket, the endpoint and
//                                    where the credentials came from (the
//                                    access key id; never the secret)
//   403 on a delete, Object Lock     refused, code "ObjectLocked"
//   404 NoSuchBucket                 usage, fix: repo init / check the name
//   404 NoSuchKey, NoSuchVersion     usage
//   400 BadDigest, XAmzContentSHA256Mismatch, InvalidDigest
//                                    integrity: the server got other bytes
//   412, 416                         integrity: the object is not what we read
//   5xx (after the retries)          other, with the number of attempts
//   anything else                    other
#pragma once

#include "formats/repo/s3/config.hpp"
#include "formats/repo/s3/http.hpp"

namespace hsm::repo::s3 {

api::Error s3_error(const HttpRequest& request, const HttpResponse& response,
                    const S3Config& config);

// "s3://bucket/key" (+ " version V" when the request names one).
std::string describe(const HttpRequest& request);

}  // namespace hsm::repo::s3
