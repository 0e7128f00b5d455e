// The HTTP layer without a server: URLs for both addressing styles, the
// retry wrapper against a port nobody listens on, and the mapping of S3
// error replies (recorded from RGW) to the project's error kinds.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "formats/repo/s3/errors.hpp"
#include "formats/repo/s3/http.hpp"
#include "scripted_server.hpp"
#include "test_util.hpp"

namespace hsm::repo::s3 {
namespace {

S3Config config_for(const std::string& url, Addressing addressing) {
  S3Config c;
  c.endpoint = parse_endpoint(url).value();
  c.endpoint_source = "test";
  c.addressing = addressing;
  c.credentials.access_key_id = "AKIDTEST";
  c.credentials.secret_access_key = api::secret_from("very-secret-value");
  c.credentials.source = "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY";
  return c;
}

HttpRequest get(const std::string& bucket, const std::string& key) {
  HttpRequest r;
  r.operation = "GetObject";
  r.bucket = bucket;
  r.key = key;
  return r;
}

TEST(S3Http, PathStyleUrls) {
  auto http = Http::create(config_for("http://127.0.0.1:7480", Addressing::path));
  ASSERT_TRUE(http.ok());
  auto r = get("bkt", "a b/c+d\xc3\xa9");
  r.query = {{"versionId", "v/1="}, {"uploads", ""}};
  auto t = (*http)->target(r);
  EXPECT_EQ(t.host, "127.0.0.1:7480");
  EXPECT_EQ(t.path, "/bkt/a b/c+d\xc3\xa9");
  EXPECT_EQ(t.url, "http://127.0.0.1:7480/bkt/a%20b/c%2Bd%C3%A9?versionId=v%2F1%3D&uploads=");
  EXPECT_EQ((*http)->target(get("bkt", "")).url, "http://127.0.0.1:7480/bkt");
}

TEST(S3Http, VirtualHostUrls) {
  auto http =
      Http::create(config_for("https://s3.eu-west-3.amazonaws.com", Addressing::virtual_host));
  ASSERT_TRUE(http.ok());
  auto t = (*http)->target(get("bkt", "k/1"));
  EXPECT_EQ(t.host, "bkt.s3.eu-west-3.amazonaws.com");
  EXPECT_EQ(t.url, "https://bkt.s3.eu-west-3.amazonaws.com/k/1");
  // a dotted bucket would not match the wildcard certificate: path style
  EXPECT_EQ((*http)->target(get("my.bkt", "k")).url, "https://s3.eu-west-3.amazonaws.com/my.bkt/k");
}

int closed_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);  // nobody listens there now
  return ntohs(a.sin_port);
}

TEST(S3Http, ConnectionErrorsAreRetriedWithBackoffThenReported) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  HttpOptions o;
  o.retry.max_attempts = 3;
  o.retry.first_backoff = std::chrono::milliseconds(20);
  std::vector<std::string> seen;
  o.on_retry = [&seen](const std::string& line) { seen.push_back(line); };
  auto http = Http::create(config_for(url, Addressing::path), o);
  ASSERT_TRUE(http.ok());
  auto start = std::chrono::steady_clock::now();
  auto r = (*http)->send(get("bkt", "k"));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, api::ErrorKind::other);
  EXPECT_NE(r.error().message.find("cannot reach S3 at " + url), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("3 attempts"), std::string::npos) << r.error().message;
  EXPECT_EQ((*http)->stats().attempts, 3u);
  EXPECT_EQ((*http)->stats().retries, 2u);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0].find("attempt 2 of 3"), std::string::npos) << seen[0];
  EXPECT_NE(seen[1].find("attempt 3 of 3"), std::string::npos) << seen[1];
  // backoff: at least half of 20 ms, then half of 40 ms
  EXPECT_GE(elapsed, std::chrono::milliseconds(30));
}

HttpOptions quick(int attempts) {
  HttpOptions o;
  o.retry.max_attempts = attempts;
  o.retry.first_backoff = std::chrono::milliseconds(5);
  return o;
}

TEST(S3Http, ServerErrorsAreRetriedUntilASuccess) {
  test::ScriptedServer server(
      {{503, "Slow Down", "<Error><Code>SlowDown</Code></Error>"},
       {500, "Internal Server Error", "<Error><Code>InternalError</Code></Error>"},
       {200, "OK", "<ListBucketResult/>"}});
  auto http = Http::create(config_for(server.url(), Addressing::path), quick(5));
  ASSERT_TRUE(http.ok());
  auto r = (*http)->send(get("bkt", "k"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ((*http)->stats().retries, 2u);
  ASSERT_EQ((*http)->stats().retry_log.size(), 2u);
  EXPECT_NE((*http)->stats().retry_log[0].find("HTTP 503 SlowDown"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(S3Http, AnErrorInsideA200IsRetriedLikeA5xx) {
  // CompleteMultipartUpload may fail after its 200 status line
  test::ScriptedServer server({{200, "OK", "<Error><Code>InternalError</Code></Error>"},
                               {200, "OK", "<CompleteMultipartUploadResult/>"}});
  auto http = Http::create(config_for(server.url(), Addressing::path), quick(5));
  ASSERT_TRUE(http.ok());
  auto r = (*http)->send(get("bkt", "k"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->body, "<CompleteMultipartUploadResult/>");
}

TEST(S3Http, ClientErrorsAreNotRetriedAndServerErrorsStopAtTheLimit) {
  test::ScriptedServer forbidden({{403, "Forbidden", "<Error><Code>AccessDenied</Code></Error>"}});
  auto http = Http::create(config_for(forbidden.url(), Addressing::path), quick(5));
  ASSERT_TRUE(http.ok());
  auto r = (*http)->send(get("bkt", "k"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->attempts, 1);

  test::ScriptedServer down(
      {{503, "Unavailable", ""}, {503, "Unavailable", ""}, {503, "Unavailable", ""}});
  auto http2 = Http::create(config_for(down.url(), Addressing::path), quick(3));
  ASSERT_TRUE(http2.ok());
  auto r2 = (*http2)->send(get("bkt", "k"));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->status, 503);
  EXPECT_EQ(r2->attempts, 3);
  auto e = s3_error(get("bkt", "k"), *r2, (*http2)->config());
  EXPECT_EQ(e.kind, api::ErrorKind::other);
  EXPECT_NE(e.message.find("after 3 attempts"), std::string::npos) << e.message;
}

TEST(S3Http, TheSignedRequestLineCarriesTheEncodedKey) {
  test::ScriptedServer server({{200, "OK", ""}});
  auto http = Http::create(config_for(server.url(), Addressing::path), quick(1));
  ASSERT_TRUE(http.ok());
  auto req = get("bkt", "dir/a b&c");
  req.query = {{"versionId", "v 1"}};
  ASSERT_TRUE((*http)->send(req).ok());
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0], "GET /bkt/dir/a%20b%26c?versionId=v%201 HTTP/1.1");
}

HttpResponse response(long status, const std::string& body, int attempts = 1) {
  HttpResponse r;
  r.status = status;
  r.body = body;
  r.attempts = attempts;
  return r;
}

TEST(S3Errors, ForbiddenNamesBucketEndpointAndCredentialSourceButNeverTheSecret) {
  S3Config c = config_for("http://127.0.0.1:7480", Addressing::path);
  auto e = s3_error(get("bkt", "k"),
                    response(403, test::reply("error-signature-does-not-match.xml")), c);
  EXPECT_EQ(e.kind, api::ErrorKind::usage);
  EXPECT_EQ(e.code, "SignatureDoesNotMatch");
  for (const char* part :
       {"bucket 'bkt'", "http://127.0.0.1:7480", "secret access key does not match",
        "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", "AKIDTEST"})
    EXPECT_NE(e.message.find(part), std::string::npos) << part << " in: " << e.message;
  EXPECT_EQ(e.message.find("very-secret-value"), std::string::npos);
  EXPECT_EQ(e.fix.find("very-secret-value"), std::string::npos);
  EXPECT_FALSE(e.fix.empty());
}

TEST(S3Errors, MissingBucketLockedDeleteBadDigestServerError) {
  S3Config c = config_for("http://127.0.0.1:7480", Addressing::path);
  auto missing = s3_error(get("no-such-bucket", "k"),
                          response(404, test::reply("error-no-such-bucket.xml")), c);
  EXPECT_EQ(missing.kind, api::ErrorKind::usage);
  EXPECT_EQ(missing.code, "NoSuchBucket");
  EXPECT_NE(
      missing.message.find("S3 bucket 'no-such-bucket' does not exist at http://127.0.0.1:7480"),
      std::string::npos)
      << missing.message;
  EXPECT_NE(missing.fix.find("repo init s3://no-such-bucket/"), std::string::npos) << missing.fix;

  HttpRequest del = get("bkt", "k");
  del.method = "DELETE";
  del.operation = "DeleteObject";
  del.query = {{"versionId", "v1"}};
  auto locked = s3_error(del, response(403, test::reply("error-delete-locked.xml")), c);
  EXPECT_EQ(locked.kind, api::ErrorKind::refused);
  EXPECT_EQ(locked.code, "ObjectLocked");
  EXPECT_NE(locked.message.find("s3://bkt/k version v1"), std::string::npos) << locked.message;

  auto digest = s3_error(get("bkt", "k"),
                         response(400, "<Error><Code>XAmzContentSHA256Mismatch</Code></Error>"), c);
  EXPECT_EQ(digest.kind, api::ErrorKind::integrity);
  auto busy =
      s3_error(get("bkt", "k"), response(503, "<Error><Code>SlowDown</Code></Error>", 5), c);
  EXPECT_EQ(busy.kind, api::ErrorKind::other);
  EXPECT_NE(busy.message.find("after 5 attempts"), std::string::npos) << busy.message;
}

}  // namespace
}  // namespace hsm::repo::s3
