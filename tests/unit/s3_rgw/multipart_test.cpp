// The streaming upload sink against RGW: parts with their checksums, commit
// only on commit(), abort leaving nothing behind, a corrupted part refused by
// the server, and a network error on one part retried by the HTTP wrapper.
#include "formats/repo/s3/digest.hpp"
#include "formats/repo/s3/upload_sink.hpp"
#include "rgw.hpp"

namespace hsm::repo::s3 {
namespace {

using test::RgwTest;

constexpr std::size_t kPart = kMinPartSize;  // 5 MiB: S3's minimum, RGW enforces it

std::string query_of(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.query)
    if (k == name) return v;
  return {};
}

class RgwSink : public RgwTest {
 protected:
  // Writes `data` through a sink in uneven chunks.
  static api::Status write_all(UploadSink& sink, const std::vector<std::uint8_t>& data) {
    for (std::size_t off = 0; off < data.size();) {
      std::size_t n = std::min<std::size_t>(777777, data.size() - off);
      HSM_TRY(sink.write(data.data() + off, n));
      off += n;
    }
    return {};
  }
  // Nothing under `key`: no object, no version, no pending upload.
  void expect_nothing_left(const std::string& b, const std::string& key) {
    auto objects = client_->list_objects(b, key);
    ASSERT_TRUE(objects.ok()) << objects.error().message;
    EXPECT_TRUE(objects->empty());
    EXPECT_TRUE(client_->list_object_versions(b, key)->empty());
    auto uploads = client_->list_multipart_uploads(b, key);
    ASSERT_TRUE(uploads.ok()) << uploads.error().message;
    EXPECT_TRUE(uploads->empty()) << uploads->size() << " pending upload(s) left";
  }
};

TEST_F(RgwSink, PartsGoUpAsTheyFillAndTheObjectAppearsOnlyOnCommit) {
  const std::string b = make_bucket();
  const auto data = test::pattern(2 * kPart + 123457, 7);
  auto sink = UploadSink::open(*client_, b, "a/archive.hsmar", UploadSinkOptions{kPart});
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  ASSERT_TRUE(write_all(**sink, data).ok());
  EXPECT_EQ((*sink)->bytes_written(), data.size());

  // two full parts are up, the rest waits in memory; nothing is visible
  EXPECT_FALSE((*sink)->upload_id().empty());
  auto pending = client_->list_multipart_uploads(b, "a/");
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].upload_id, (*sink)->upload_id());
  EXPECT_TRUE(client_->list_objects(b, "a/")->empty());

  auto summary = (*sink)->commit();
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->size, data.size());  // read back by HEAD
  EXPECT_EQ(summary->parts, 3);
  EXPECT_EQ(summary->sha256, hex(sha256(data.data(), data.size())));
  EXPECT_EQ(summary->etag.substr(summary->etag.size() - 2), "-3");
  EXPECT_FALSE(summary->version_id.empty());
  // RGW ignores lock headers on CreateMultipartUpload: the bucket's default applies
  ASSERT_TRUE(summary->retention.has_value());
  EXPECT_EQ(summary->retention->mode, LockMode::governance);

  // the bytes, across both part boundaries
  for (std::size_t at : {kPart - 10, 2 * kPart - 10}) {
    std::vector<std::uint8_t> got(20);
    ASSERT_TRUE(client_->get_range(b, "a/archive.hsmar", at, got.data(), got.size()).ok());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin() + static_cast<long>(at)));
  }
  EXPECT_TRUE(client_->list_multipart_uploads(b, "a/")->empty());
}

TEST_F(RgwSink, AnObjectSmallerThanAPartIsOnePut) {
  const std::string b = make_bucket();
  const auto data = test::pattern(1000, 8);
  auto sink = UploadSink::open(*client_, b, "small", UploadSinkOptions{kPart});
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  ASSERT_TRUE((*sink)->write(data.data(), data.size()).ok());
  EXPECT_TRUE((*sink)->upload_id().empty());  // nothing sent yet
  auto summary = (*sink)->commit();
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->parts, 0);
  EXPECT_EQ(summary->size, 1000u);
  EXPECT_EQ(summary->etag, hex(md5(data.data(), data.size())));
}

TEST_F(RgwSink, AbortLeavesNoObjectAndNoPendingUpload) {
  const std::string b = make_bucket();
  const auto data = test::pattern(kPart + 1000, 9);
  {
    auto sink = UploadSink::open(*client_, b, "aborted", UploadSinkOptions{kPart});
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE(write_all(**sink, data).ok());
    ASSERT_FALSE((*sink)->upload_id().empty());  // one part is up
    (*sink)->abort();
    EXPECT_FALSE((*sink)->commit().ok());  // nothing to commit after an abort
  }
  expect_nothing_left(b, "aborted");
}

TEST_F(RgwSink, AWriterDestroyedWithoutCommitLeavesNothing) {
  const std::string b = make_bucket();
  const auto data = test::pattern(kPart + 1000, 10);
  {
    auto sink = UploadSink::open(*client_, b, "interrupted", UploadSinkOptions{kPart});
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE(write_all(**sink, data).ok());
    ASSERT_FALSE((*sink)->upload_id().empty());
  }  // e.g. the backup failed half-way: the sink goes out of scope
  expect_nothing_left(b, "interrupted");
}

TEST_F(RgwSink, APartCorruptedOnTheWireIsRefusedByTheServer) {
  const std::string b = make_bucket();
  const auto data = test::pattern(2 * kPart + 10, 11);
  // part 2 leaves with one bit flipped after signing: its x-amz-content-sha256
  // and Content-MD5 no longer match the bytes the server receives
  client_->http().options().fault = [](const HttpRequest& r, int) -> std::optional<Fault> {
    if (r.operation == "UploadPart" && query_of(r, "partNumber") == "2") return Fault{{}, 4242};
    return std::nullopt;
  };
  auto sink = UploadSink::open(*client_, b, "corrupt", UploadSinkOptions{kPart});
  ASSERT_TRUE(sink.ok());
  auto st = write_all(**sink, data);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, api::ErrorKind::integrity) << st.error().message;
  EXPECT_TRUE(st.error().code == "XAmzContentSHA256Mismatch" || st.error().code == "BadDigest")
      << st.error().code;
  EXPECT_NE(st.error().message.find("UploadPart s3://" + b + "/corrupt part 2"), std::string::npos)
      << st.error().message;
  EXPECT_FALSE((*sink)->commit().ok());
  client_->http().options().fault = nullptr;
  expect_nothing_left(b, "corrupt");
}

TEST_F(RgwSink, ANetworkErrorOnOnePartIsRetried) {
  const std::string b = make_bucket();
  const auto data = test::pattern(2 * kPart + 99, 12);
  int cut = 0;
  client_->http().options().fault = [&cut](const HttpRequest& r,
                                           int attempt) -> std::optional<Fault> {
    if (r.operation == "UploadPart" && query_of(r, "partNumber") == "2" && attempt == 1) {
      ++cut;
      return Fault{1u << 20, {}};  // the connection drops after 1 MiB of the part
    }
    return std::nullopt;
  };
  auto sink = UploadSink::open(*client_, b, "retried", UploadSinkOptions{kPart});
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE(write_all(**sink, data).ok());
  auto summary = (*sink)->commit();
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(cut, 1);
  const auto& stats = client_->http().stats();
  EXPECT_EQ(stats.retries, 1u);
  ASSERT_EQ(stats.retry_log.size(), 1u);
  EXPECT_NE(stats.retry_log[0].find("UploadPart s3://" + b + "/retried part 2"), std::string::npos)
      << stats.retry_log[0];
  EXPECT_NE(stats.retry_log[0].find("connection dropped after 1048576 body bytes"),
            std::string::npos)
      << stats.retry_log[0];
  // what the server holds is exactly what was written
  EXPECT_EQ(summary->size, data.size());
  std::vector<std::uint8_t> back(data.size());
  ASSERT_TRUE(client_->get_range(b, "retried", 0, back.data(), back.size()).ok());
  EXPECT_EQ(hex(sha256(back.data(), back.size())), summary->sha256);
  EXPECT_EQ(back, data);
}

TEST_F(RgwSink, ANetworkThatStaysDownFailsCleanlyAfterTheRetries) {
  const std::string b = make_bucket();
  const auto data = test::pattern(2 * kPart, 13);
  client_->http().options().fault = [](const HttpRequest& r, int) -> std::optional<Fault> {
    if (r.operation == "UploadPart" && query_of(r, "partNumber") == "2") return Fault{1000, {}};
    return std::nullopt;
  };
  auto sink = UploadSink::open(*client_, b, "down", UploadSinkOptions{kPart});
  ASSERT_TRUE(sink.ok());
  auto st = write_all(**sink, data);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, api::ErrorKind::other);
  EXPECT_NE(st.error().message.find("cannot reach S3"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("4 attempts"), std::string::npos) << st.error().message;
  EXPECT_EQ(client_->http().stats().retries, 3u);
  client_->http().options().fault = nullptr;
  expect_nothing_left(b, "down");
}

}  // namespace
}  // namespace hsm::repo::s3
