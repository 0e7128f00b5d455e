#include "formats/repo/s3/errors.hpp"

#include <algorithm>
#include <cctype>

#include "formats/repo/s3/xml.hpp"

namespace hsm::repo::s3 {

using api::Error;

namespace {

bool mentions(std::string_view text, std::string_view word) {
  auto it = std::search(text.begin(), text.end(), word.begin(), word.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != text.end();
}

std::string query_value(const HttpRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.query)
    if (k == name) return v;
  return {};
}

// Codes for a HEAD (no body) or an empty body, from the status alone.
std::string code_of(long status) {
  switch (status) {
    case 403:
      return "AccessDenied";
    case 404:
      return "NotFound";
    case 412:
      return "PreconditionFailed";
    case 416:
      return "InvalidRange";
    default:
      return "HTTP" + std::to_string(status);
  }
}

Error with_code(Error e, std::string code) {
  e.code = std::move(code);
  return e;
}

}  // namespace

std::string describe(const HttpRequest& r) {
  std::string s = "s3://" + r.bucket;
  if (!r.key.empty()) s += "/" + r.key;
  if (auto v = query_value(r, "versionId"); !v.empty()) s += " version " + v;
  if (auto p = query_value(r, "partNumber"); !p.empty()) s += " part " + p;
  return s;
}

Error s3_error(const HttpRequest& r, const HttpResponse& resp, const S3Config& c) {
  xml::ErrorDoc doc = xml::parse_error(resp.body);
  const std::string code = doc.code.empty() ? code_of(resp.status) : doc.code;
  const std::string op = r.operation.empty() ? r.method : r.operation;
  const std::string detail = code + (doc.message.empty() ? "" : ": " + doc.message);
  const std::string what = op + " " + describe(r);

  if (resp.status == 403 && (r.method == "DELETE" || op == "PutObjectRetention") &&
      (code == "ObjectLocked" || mentions(doc.message, "object lock") ||
       mentions(doc.message, "retention")))
    return Error::refused({}, "ObjectLocked",
                          "S3 Object Lock refuses " + what + " (" + detail + ")",
                          "wait until the retention date (or, under GOVERNANCE, bypass it with the "
                          "permission s3:BypassGovernanceRetention)");
  if (resp.status == 403) {
    std::string why;
    if (code == "SignatureDoesNotMatch") {
      why = "the secret access key does not match the access key id";
    } else if (code == "InvalidAccessKeyId") {
      why = "the server does not know the access key id";
    } else if (code == "RequestTimeTooSkewed") {
      why = "this host's clock is too far from the server's";
    } else if (code == "ExpiredToken" || code == "InvalidToken") {
      why = "the session token is expired or invalid";
    } else if (doc.code.empty()) {
      why = "wrong access key or secret, or no permission (a reply to HEAD gives no reason)";
    } else {
      why = "the credentials are not allowed to do this";
    }
    return with_code(
        Error::usage("S3 denied " + op + " on bucket '" + r.bucket + "' at " + c.endpoint.url() +
                         " (" + detail + "): " + why + "; credentials from " +
                         c.credentials.source + ", access key id " + c.credentials.access_key_id,
                     code == "RequestTimeTooSkewed"
                         ? "set this host's clock (NTP)"
                         : "check the access key and secret (" + c.credentials.source +
                               ") and the bucket's policy"),
        code);
  }
  if (code == "NoSuchBucket")
    return with_code(
        Error::usage(
            "S3 bucket '" + r.bucket + "' does not exist at " + c.endpoint.url() + " (" + op + ")",
            "check the bucket name and the endpoint (" + c.endpoint_source +
                "), or create it with `hsm-migrate repo init s3://" + r.bucket + "/...`"),
        code);
  if (code == "NoSuchKey" || code == "NoSuchVersion" || code == "NotFound")
    return with_code(Error::usage("no such object: " + describe(r) + " (" + op + ")"), code);
  if (code == "NoSuchUpload")
    return with_code(Error::usage("the multipart upload of " + describe(r) +
                                  " no longer exists (completed or aborted elsewhere)"),
                     code);
  if (code == "BucketAlreadyExists")
    return with_code(Error::usage("S3 bucket name '" + r.bucket + "' is taken by another account",
                                  "choose another bucket name"),
                     code);
  if (code == "BucketAlreadyOwnedByYou")
    return with_code(Error::usage("S3 bucket '" + r.bucket + "' already exists (yours)"), code);
  if (code == "BadDigest" || code == "XAmzContentSHA256Mismatch" || code == "InvalidDigest")
    return with_code(Error::integrity("S3 refused " + what +
                                      ": the bytes it received do not match their "
                                      "checksum (" +
                                      detail + ")"),
                     code);
  if (resp.status == 412 || resp.status == 416)
    return with_code(
        Error::integrity("S3 object " + describe(r) + " is not what was read before (" + detail +
                         "): it changed or is shorter"),
        code);
  std::string attempts =
      resp.attempts > 1 ? ", after " + std::to_string(resp.attempts) + " attempts" : "";
  if (resp.status >= 500)
    return with_code(
        Error::other("S3 server error on " + what + " at " + c.endpoint.url() + ": HTTP " +
                     std::to_string(resp.status) + " " + detail + attempts),
        code);
  return with_code(Error::other("S3 " + what + " failed at " + c.endpoint.url() + ": HTTP " +
                                std::to_string(resp.status) + " " + detail + attempts),
                   code);
}

}  // namespace hsm::repo::s3
