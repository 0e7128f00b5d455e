// Wrong credentials and a missing bucket against RGW: one clear line each,
// the documented error kind, nothing written.
#include "formats/repo/s3/upload_sink.hpp"
#include "rgw.hpp"

namespace hsm::repo::s3 {
namespace {

using test::RgwTest;

TEST_F(RgwTest, AWrongSecretIsAClear403NamingBucketAndCredentialSource) {
  const std::string b = make_bucket();
  S3Config c = config();
  c.credentials.secret_access_key = api::secret_from("not-the-secret-xyz");
  c.credentials.source = "profile 'backup' in /root/.aws/credentials";
  auto wrong = Client::create(c, fast_retries());
  ASSERT_TRUE(wrong.ok());
  const std::string body = "x";
  auto put = (*wrong)->put_object(b, "k", reinterpret_cast<const std::uint8_t*>(body.data()), 1);
  ASSERT_FALSE(put.ok());
  const api::Error& e = put.error();
  EXPECT_EQ(e.kind, api::ErrorKind::usage);  // exit code 2: fix the input
  EXPECT_EQ(e.code, "SignatureDoesNotMatch");
  for (const std::string& part :
       {"bucket '" + b + "'", env_.at("S3_ENDPOINT"),
        std::string("profile 'backup' in /root/.aws/credentials"), env_.at("AWS_ACCESS_KEY_ID")})
    EXPECT_NE(e.message.find(part), std::string::npos) << part << " in: " << e.message;
  EXPECT_EQ(e.message.find("not-the-secret-xyz"), std::string::npos);
  EXPECT_EQ(e.message.find(env_.at("AWS_SECRET_ACCESS_KEY")), std::string::npos);
  EXPECT_EQ(e.message.find('\n'), std::string::npos);  // one line
  EXPECT_EQ((*wrong)->http().stats().retries, 0u);     // a 403 is not retried
  EXPECT_TRUE(client_->list_objects(b, "")->empty());
}

TEST_F(RgwTest, AnUnknownAccessKeyIsAClear403) {
  const std::string b = make_bucket();
  S3Config c = config();
  c.credentials.access_key_id = "NOSUCHKEY00000000000";
  auto wrong = Client::create(c, fast_retries());
  ASSERT_TRUE(wrong.ok());
  auto st = (*wrong)->head_bucket(b);  // a HEAD: no error document to read
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, api::ErrorKind::usage);
  EXPECT_NE(st.error().message.find("NOSUCHKEY00000000000"), std::string::npos)
      << st.error().message;
  auto list = (*wrong)->list_objects(b, "");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.error().code, "InvalidAccessKeyId");
  EXPECT_NE(list.error().message.find("does not know the access key id"), std::string::npos);
  // the sink refuses at open, before any byte is produced
  auto sink = UploadSink::open(**wrong, b, "k");
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.error().kind, api::ErrorKind::usage);
}

TEST_F(RgwTest, AMissingBucketIsAClearErrorForEveryVerb) {
  const std::string b = bucket_name("-missing");  // never created
  const std::string body = "x";
  auto put = client_->put_object(b, "k", reinterpret_cast<const std::uint8_t*>(body.data()), 1);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().kind, api::ErrorKind::usage);
  EXPECT_EQ(put.error().code, "NoSuchBucket");
  EXPECT_NE(
      put.error().message.find("S3 bucket '" + b + "' does not exist at " + env_.at("S3_ENDPOINT")),
      std::string::npos)
      << put.error().message;
  EXPECT_NE(put.error().fix.find("repo init s3://" + b), std::string::npos) << put.error().fix;

  auto head = client_->head_object(b, "k");  // HEAD: told apart from a missing key
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.error().code, "NoSuchBucket");
  auto list = client_->list_objects(b, "p/");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.error().code, "NoSuchBucket");
  auto sink = UploadSink::open(*client_, b, "k");
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.error().code, "NoSuchBucket");

  // and a missing key in a bucket that exists is not a missing bucket
  const std::string real = make_bucket();
  auto key = client_->head_object(real, "no/such/key");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().kind, api::ErrorKind::usage);
  EXPECT_EQ(key.error().code, "NoSuchKey");
}

}  // namespace
}  // namespace hsm::repo::s3
