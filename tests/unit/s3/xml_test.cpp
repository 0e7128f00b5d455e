// XML replies of S3 as Ceph RGW 16 sent them (tests/data/s3-replies/), and
// the request bodies the client builds.
#include <gtest/gtest.h>

#include "formats/repo/s3/xml.hpp"
#include "test_util.hpp"

namespace hsm::repo::s3 {
namespace {

using test::reply;

TEST(S3Xml, ListObjectsV2PagesWithContinuation) {
  auto p1 = xml::parse_list_objects_v2(reply("list-objects-v2-page1.xml"));
  ASSERT_TRUE(p1.ok()) << p1.error().message;
  ASSERT_EQ(p1->objects.size(), 2u);
  EXPECT_EQ(p1->objects[0].key, "p/a one");
  EXPECT_EQ(p1->objects[0].size, 25u);
  EXPECT_EQ(p1->objects[0].etag, "05568aa3bf01b7da5594b0bcaf72b6c0");  // quotes removed
  EXPECT_EQ(p1->objects[0].last_modified, *parse_iso8601("2026-12-01T05:00:37Z"));
  EXPECT_EQ(p1->objects[1].key, "p/b&two");  // entity decoded
  EXPECT_TRUE(p1->truncated);
  EXPECT_EQ(p1->next_continuation_token, "p/b&two");

  auto p2 = xml::parse_list_objects_v2(reply("list-objects-v2-page2.xml"));
  ASSERT_TRUE(p2.ok()) << p2.error().message;
  ASSERT_EQ(p2->objects.size(), 1u);
  EXPECT_EQ(p2->objects[0].key, "p/d\xc3\xa9");
  EXPECT_EQ(p2->objects[0].size, 13u);
  EXPECT_FALSE(p2->truncated);
}

TEST(S3Xml, ListObjectVersionsKeepsDeleteMarkersApart) {
  auto page = xml::parse_list_object_versions(reply("list-object-versions.xml"));
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->versions.size(), 6u);
  const auto& v = page->versions;
  EXPECT_EQ(v[0].key, "p/a one");
  EXPECT_TRUE(v[0].is_latest);
  EXPECT_EQ(v[0].size, 25u);
  EXPECT_EQ(v[1].key, "p/a one");
  EXPECT_FALSE(v[1].is_latest);
  EXPECT_EQ(v[1].size, 15u);
  EXPECT_NE(v[0].version_id, v[1].version_id);
  int markers = 0;
  for (const auto& x : v) {
    EXPECT_FALSE(x.version_id.empty());
    if (x.delete_marker) {
      ++markers;
      EXPECT_EQ(x.key, "p/c-three");
      EXPECT_TRUE(x.is_latest);
      EXPECT_EQ(x.size, 0u);
    }
  }
  EXPECT_EQ(markers, 1);
  EXPECT_FALSE(page->truncated);
}

TEST(S3Xml, ListMultipartUploads) {
  auto page = xml::parse_list_multipart_uploads(reply("list-multipart-uploads.xml"));
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->uploads.size(), 2u);
  EXPECT_EQ(page->uploads[0].key, "big");
  EXPECT_EQ(page->uploads[1].key, "big2");
  auto initiated = xml::parse_initiate_multipart_upload(reply("initiate-multipart-upload.xml"));
  ASSERT_TRUE(initiated.ok());
  EXPECT_EQ(page->uploads[0].upload_id, *initiated);
  EXPECT_GT(page->uploads[0].initiated, *parse_iso8601("2026-01-01T00:00:00Z"));
}

TEST(S3Xml, CompleteMultipartUploadWithRgwsEmptyEtag) {
  auto done = xml::parse_complete_multipart_upload(reply("complete-multipart-upload.xml"));
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->key, "big");
  EXPECT_TRUE(done->etag.empty());  // RGW 16: the caller HEADs the object
  // an <Error> in a 200 is not a result
  EXPECT_FALSE(xml::parse_complete_multipart_upload(reply("error-no-such-bucket.xml")).ok());
}

TEST(S3Xml, RetentionAndLockConfiguration) {
  auto r = xml::parse_retention(reply("get-object-retention.xml"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->mode, LockMode::governance);
  EXPECT_EQ(r->retain_until, *parse_iso8601("2026-12-02T05:00:36Z"));  // fraction dropped
  auto c = xml::parse_object_lock_configuration(reply("get-object-lock-configuration.xml"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->enabled);
  ASSERT_TRUE(c->mode.has_value());
  EXPECT_EQ(*c->mode, LockMode::governance);
  EXPECT_EQ(c->days, 1);
}

TEST(S3Xml, ErrorDocuments) {
  auto locked = xml::parse_error(reply("error-delete-locked.xml"));
  EXPECT_EQ(locked.code, "AccessDenied");
  EXPECT_EQ(locked.message, "forbidden by object lock");
  auto missing = xml::parse_error(reply("error-no-such-bucket.xml"));
  EXPECT_EQ(missing.code, "NoSuchBucket");
  EXPECT_EQ(missing.bucket.rfind("no-such-bucket-", 0), 0u);
  EXPECT_EQ(xml::parse_error(reply("error-signature-does-not-match.xml")).code,
            "SignatureDoesNotMatch");
  // not an error document: no code
  EXPECT_TRUE(xml::parse_error(reply("list-object-versions.xml")).code.empty());
  EXPECT_TRUE(xml::parse_error("").code.empty());
  EXPECT_TRUE(xml::parse_error("<Error><Code>").code.empty());
}

TEST(S3Xml, MalformedRepliesAreErrorsNamingTheOperation) {
  auto not_xml = xml::parse_list_objects_v2("<html>502 Bad Gateway");
  ASSERT_FALSE(not_xml.ok());
  EXPECT_NE(not_xml.error().message.find("ListObjectsV2"), std::string::npos);
  auto wrong_root = xml::parse_list_object_versions(reply("list-multipart-uploads.xml"));
  ASSERT_FALSE(wrong_root.ok());
  EXPECT_NE(wrong_root.error().message.find("<ListVersionsResult>"), std::string::npos);
  // truncated without a way to go on would loop for ever
  EXPECT_FALSE(xml::parse_list_objects_v2(
                   "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")
                   .ok());
  // a size that is not a number
  EXPECT_FALSE(
      xml::parse_list_objects_v2("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
                                 "<LastModified>2026-12-01T05:00:37.077Z</LastModified></Contents>"
                                 "</ListBucketResult>")
          .ok());
}

TEST(S3Xml, RequestBodiesRoundTrip) {
  std::string complete = xml::complete_multipart_upload({{1, "aa"}, {2, "bb"}});
  EXPECT_NE(complete.find("<PartNumber>1</PartNumber><ETag>\"aa\"</ETag>"), std::string::npos)
      << complete;
  EXPECT_NE(complete.find("<PartNumber>2</PartNumber><ETag>\"bb\"</ETag>"), std::string::npos)
      << complete;

  auto lock = xml::parse_object_lock_configuration(
      xml::object_lock_configuration(LockMode::compliance, 30));
  ASSERT_TRUE(lock.ok()) << lock.error().message;
  EXPECT_TRUE(lock->enabled);
  EXPECT_EQ(*lock->mode, LockMode::compliance);
  EXPECT_EQ(lock->days, 30);

  Retention r{LockMode::governance, 1795000000};
  auto back = xml::parse_retention(xml::retention(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->mode, r.mode);
  EXPECT_EQ(back->retain_until, r.retain_until);
}

TEST(S3Xml, Dates) {
  EXPECT_EQ(parse_iso8601("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_iso8601("2026-12-02T05:00:36.465384775Z"),
            parse_iso8601("2026-12-02T05:00:36+00:00"));
  EXPECT_EQ(iso8601(1795000000), "2026-11-18T11:06:40Z");
  EXPECT_FALSE(parse_iso8601("2026-02-30T00:00:00Z"));
  EXPECT_FALSE(parse_iso8601("2026-12-02 05:00:36Z"));
  EXPECT_FALSE(parse_iso8601("2026-12-02T05:00:36+02:00"));
  EXPECT_EQ(parse_http_date("Tue, 01 Dec 2026 04:50:21 GMT"),
            parse_iso8601("2026-12-01T04:50:21Z"));
  EXPECT_FALSE(parse_http_date("Tue, 01 Foo 2026 04:50:21 GMT"));
}

}  // namespace
}  // namespace hsm::repo::s3
