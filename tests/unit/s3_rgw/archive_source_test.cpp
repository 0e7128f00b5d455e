// The reading source against RGW: the archive reader verifies an archive
// straight from S3 through ranged GETs (formats::ByteSource), reads are
// pinned to the version opened, and the read-ahead keeps requests few.
#include <filesystem>
#include <fstream>
#include <iterator>

#include "formats/archive_reader.hpp"
#include "formats/repo/s3/object_source.hpp"
#include "formats/repo/s3/upload_sink.hpp"
#include "rgw.hpp"

namespace hsm::repo::s3 {
namespace {

using test::RgwTest;

std::vector<std::uint8_t> golden_archive() {
  // written by formats::ArchiveWriter (tests/unit/formats/test_support.hpp)
  std::ifstream in(std::filesystem::path(HSM_TEST_DATA_DIR) / "archive" / "golden-v1.hsmar",
                   std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Trust the archive's own root. (VerifyOptions is being reshaped by a
// parallel change: this compiles against either form.)
template <class Options>
void trust(Options& o, const formats::Digest& root) {
  if constexpr (requires { o.trusted_roots; })
    o.trusted_roots.push_back(root);
  else
    o.trusted_root_sha256 = root;
}

class RgwSource : public RgwTest {
 protected:
  std::string upload(const std::string& b, const std::string& key,
                     const std::vector<std::uint8_t>& bytes) {
    auto sink = UploadSink::open(*client_, b, key);
    EXPECT_TRUE(sink.ok()) << sink.error().message;
    EXPECT_TRUE((*sink)->write(bytes.data(), bytes.size()).ok());
    auto s = (*sink)->commit();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? s->version_id : std::string();
  }
  formats::VerifyOptions options_for(const std::vector<std::uint8_t>& archive) {
    formats::MemorySource mem(archive.data(), archive.size());
    auto header = formats::read_header(mem);
    EXPECT_TRUE(header.ok()) << header.error().message;
    formats::VerifyOptions o;
    trust(o, formats::certificate_sha256(header->certificates.back()));
    return o;
  }
};

TEST_F(RgwSource, TheArchiveReaderVerifiesAnArchiveStraightFromS3) {
  const std::string b = make_bucket();
  const auto archive = golden_archive();
  ASSERT_GT(archive.size(), 1000u);
  const std::string key =
      "repo/hsm-a/payments/20231114T221320Z-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf.hsmar";
  upload(b, key, archive);
  const auto options = options_for(archive);

  formats::MemorySource local(archive.data(), archive.size());
  auto expected = formats::verify(local, options);
  ASSERT_TRUE(expected.ok()) << expected.error().message;

  auto source = ObjectSource::open(*client_, b, key);
  ASSERT_TRUE(source.ok()) << source.error().message;
  EXPECT_EQ((*source)->size(), archive.size());
  auto report = formats::verify(**source, options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->blobs_checked, 3u);
  EXPECT_EQ(report->blobs_checked, expected->blobs_checked);
  EXPECT_EQ(report->bytes_checked, expected->bytes_checked);
  EXPECT_EQ(report->archive_digest, expected->archive_digest);
  EXPECT_TRUE(report->root_trusted);
  // a small archive: one read-ahead serves the reader's many small reads
  EXPECT_LE((*source)->requests(), 3u);

  // restore's iteration from S3 yields the same sealed blobs as the file
  std::vector<formats::Bytes> from_s3, from_file;
  ASSERT_TRUE(formats::for_each_blob(
                  **source,
                  [&](const formats::BlobRecord& r) {
                    from_s3.push_back(r.sealed);
                    return api::Status{};
                  },
                  options)
                  .ok());
  ASSERT_TRUE(formats::for_each_blob(
                  local,
                  [&](const formats::BlobRecord& r) {
                    from_file.push_back(r.sealed);
                    return api::Status{};
                  },
                  options)
                  .ok());
  EXPECT_EQ(from_s3.size(), 3u);
  EXPECT_EQ(from_s3, from_file);
}

TEST_F(RgwSource, ATamperedOrTruncatedArchiveInS3FailsVerification) {
  const std::string b = make_bucket();
  const auto archive = golden_archive();
  const auto options = options_for(archive);
  auto flipped = archive;
  flipped[flipped.size() / 2] ^= 0x01;  // inside the blob records
  upload(b, "flipped.hsmar", flipped);
  auto truncated = archive;
  truncated.resize(archive.size() - 10);
  upload(b, "truncated.hsmar", truncated);

  for (const char* key : {"flipped.hsmar", "truncated.hsmar"}) {
    auto source = ObjectSource::open(*client_, b, key);
    ASSERT_TRUE(source.ok()) << source.error().message;
    auto report = formats::verify(**source, options);
    ASSERT_FALSE(report.ok()) << key;
    EXPECT_EQ(report.error().kind, api::ErrorKind::integrity)
        << key << ": " << report.error().message;
  }
}

TEST_F(RgwSource, ReadAheadServesSmallSequentialReadsAndLargeReadsGoStraightThrough) {
  const std::string b = make_bucket();
  const auto data = test::pattern(3u << 20, 21);
  upload(b, "blob", data);
  auto source = ObjectSource::open(*client_, b, "blob", ObjectSourceOptions{1u << 20, {}});
  ASSERT_TRUE(source.ok()) << source.error().message;
  std::vector<std::uint8_t> got(1000);
  std::size_t reads = 0;
  for (std::size_t off = 0; off + got.size() <= (2u << 20); off += got.size(), ++reads) {
    ASSERT_TRUE((*source)->read_at(off, got.data(), got.size()).ok());
    ASSERT_TRUE(std::equal(got.begin(), got.end(), data.begin() + static_cast<long>(off))) << off;
  }
  EXPECT_EQ(reads, 2097u);
  EXPECT_LE((*source)->requests(), 3u);  // ~2 MiB in 1 MiB read-aheads

  std::vector<std::uint8_t> big(1536u << 10);  // larger than the read-ahead
  auto before = (*source)->requests();
  ASSERT_TRUE((*source)->read_at(data.size() - big.size(), big.data(), big.size()).ok());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), data.end() - static_cast<long>(big.size())));
  EXPECT_EQ((*source)->requests(), before + 1);

  // past the end is refused, not sent
  EXPECT_FALSE((*source)->read_at(data.size() - 5, got.data(), 10).ok());
}

TEST_F(RgwSource, ReadsStayOnTheVersionOpened) {
  const std::string b = make_bucket();
  const auto first = test::pattern(300000, 31);
  const auto second = test::pattern(300000, 32);
  const std::string v1 = upload(b, "k", first);
  auto source = ObjectSource::open(*client_, b, "k", ObjectSourceOptions{4096, {}});
  ASSERT_TRUE(source.ok());
  EXPECT_EQ((*source)->info().version_id, v1);
  upload(b, "k", second);  // replaced between two reads
  std::vector<std::uint8_t> got(1000);
  ASSERT_TRUE((*source)->read_at(200000, got.data(), got.size()).ok());
  EXPECT_TRUE(std::equal(got.begin(), got.end(), first.begin() + 200000));
}

TEST_F(RgwSource, InAnUnversionedBucketAReplacedObjectIsAnIntegrityError) {
  // a plain bucket (no Object Lock, so no versions): reads carry If-Match
  const std::string b = bucket_name();
  HttpRequest create;
  create.method = "PUT";
  create.operation = "CreateBucket";
  create.bucket = b;
  auto made = client_->http().send(create);
  ASSERT_TRUE(made.ok() && made->ok()) << (made.ok() ? made->body : made.error().message);
  const auto first = test::pattern(100000, 41);
  EXPECT_TRUE(upload(b, "k", first).empty());  // no version id
  auto source = ObjectSource::open(*client_, b, "k", ObjectSourceOptions{4096, {}});
  ASSERT_TRUE(source.ok());
  std::vector<std::uint8_t> got(1000);
  ASSERT_TRUE((*source)->read_at(0, got.data(), got.size()).ok());
  upload(b, "k", test::pattern(100000, 42));
  auto st = (*source)->read_at(50000, got.data(), got.size());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, api::ErrorKind::integrity) << st.error().message;
}

}  // namespace
}  // namespace hsm::repo::s3
