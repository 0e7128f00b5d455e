// Buckets with Object Lock and the single-object verbs, against RGW:
// put, ranged get, head, list (with versions), delete by version id,
// retention (read, extend, refused delete), both addressing styles.
#include <ctime>

#include "formats/repo/s3/digest.hpp"
#include "rgw.hpp"

namespace hsm::repo::s3 {
namespace {

using test::RgwTest;

const std::uint8_t* bytes(const std::string& s) {
  return reinterpret_cast<const std::uint8_t*>(s.data());
}

TEST_F(RgwTest, BucketIsCreatedWithObjectLockAndDefaultRetention) {
  const std::string b = make_bucket(LockMode::compliance, 3);
  auto lock = client_->get_object_lock_configuration(b);
  ASSERT_TRUE(lock.ok()) << lock.error().message;
  EXPECT_TRUE(lock->enabled);
  ASSERT_TRUE(lock->mode.has_value());
  EXPECT_EQ(*lock->mode, LockMode::compliance);
  EXPECT_EQ(lock->days, 3);

  // an object put with no lock header gets the bucket's default
  const std::string body = "archive bytes";
  std::int64_t before = std::time(nullptr);
  auto put = client_->put_object(b, "k", bytes(body), body.size());
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_FALSE(put->version_id.empty());  // Object Lock implies versioning
  auto info = client_->head_object(b, "k");
  ASSERT_TRUE(info.ok()) << info.error().message;
  ASSERT_TRUE(info->retention.has_value());
  EXPECT_EQ(info->retention->mode, LockMode::compliance);
  EXPECT_GE(info->retention->retain_until, before + 3 * 86400 - 5);
  EXPECT_LE(info->retention->retain_until, std::time(nullptr) + 3 * 86400 + 5);

  // a second create is refused and changes nothing
  auto again = client_->create_bucket(b, LockMode::governance, 1);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, api::ErrorKind::usage);
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
  EXPECT_EQ(*client_->get_object_lock_configuration(b)->mode, LockMode::compliance);
}

TEST_F(RgwTest, PutHeadRangedGetAndList) {
  const std::string b = make_bucket();
  auto data = test::pattern(100000, 1);
  // a key that needs escaping in the URL and in the signature
  const std::string key = "repo/hsm a/p&q+r/caf\xc3\xa9 100%.hsmar";
  auto put = client_->put_object(b, key, data.data(), data.size());
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_EQ(put->etag, hex(md5(data.data(), data.size())));

  auto info = client_->head_object(b, key);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->size, data.size());
  EXPECT_EQ(info->etag, put->etag);
  EXPECT_EQ(info->version_id, put->version_id);

  for (auto [off, n] :
       {std::pair<std::size_t, std::size_t>{0, 1}, {0, 100000}, {99999, 1}, {4096, 12345}}) {
    std::vector<std::uint8_t> got(n);
    auto st = client_->get_range(b, key, off, got.data(), n);
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin() + static_cast<long>(off)))
        << off << "+" << n;
  }
  // past the end: the object is shorter than asked
  std::vector<std::uint8_t> past(10);
  auto short_read = client_->get_range(b, key, 99995, past.data(), past.size());
  ASSERT_FALSE(short_read.ok());
  EXPECT_EQ(short_read.error().kind, api::ErrorKind::integrity);

  ASSERT_TRUE(client_->put_object(b, "repo/other", bytes("x"), 1).ok());
  ASSERT_TRUE(client_->put_object(b, "elsewhere/x", bytes("x"), 1).ok());
  auto list = client_->list_objects(b, "repo/");
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].key, key);
  EXPECT_EQ((*list)[0].size, data.size());
  EXPECT_EQ((*list)[1].key, "repo/other");
}

TEST_F(RgwTest, ListingsFollowTheirContinuationPages) {
  const std::string b = make_bucket();
  for (const char* k : {"p/1", "p/2", "p/3", "p/4", "p/5"})
    ASSERT_TRUE(client_->put_object(b, k, bytes(k), 3).ok());
  ASSERT_TRUE(client_->put_object(b, "p/2", bytes("again"), 5).ok());  // a second version
  auto before = client_->http().stats().requests;
  auto list = client_->list_objects(b, "p/", /*page_size=*/2);
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ((*list)[i].key, "p/" + std::to_string(i + 1));
  EXPECT_EQ(client_->http().stats().requests - before, 3u);  // pages of 2, 2, 1

  before = client_->http().stats().requests;
  auto versions = client_->list_object_versions(b, "p/", /*page_size=*/2);
  ASSERT_TRUE(versions.ok()) << versions.error().message;
  EXPECT_EQ(versions->size(), 6u);
  EXPECT_GE(client_->http().stats().requests - before, 3u);
}

TEST_F(RgwTest, VersionsAndDeleteByVersionIdUnderGovernance) {
  const std::string b = make_bucket(LockMode::governance, 1);
  auto v1 = client_->put_object(b, "k", bytes("one"), 3);
  auto v2 = client_->put_object(b, "k", bytes("two!"), 4);
  ASSERT_TRUE(v1.ok() && v2.ok());
  auto versions = client_->list_object_versions(b, "k");
  ASSERT_TRUE(versions.ok()) << versions.error().message;
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version_id, v2->version_id);
  EXPECT_TRUE((*versions)[0].is_latest);
  EXPECT_EQ((*versions)[1].version_id, v1->version_id);
  EXPECT_EQ((*versions)[1].size, 3u);

  // locked: refused with a clear line saying until when
  auto refused = client_->delete_version(b, "k", v1->version_id);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, api::ErrorKind::refused);
  EXPECT_EQ(refused.error().code, "ObjectLocked");
  EXPECT_NE(refused.error().message.find("until 20"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("GOVERNANCE"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("s3://" + b + "/k version " + v1->version_id),
            std::string::npos);
  EXPECT_EQ(client_->list_object_versions(b, "k")->size(), 2u);

  // GOVERNANCE: deleted when the caller asks for the bypass
  auto deleted = client_->delete_version(b, "k", v1->version_id, /*bypass_governance=*/true);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  auto after = client_->list_object_versions(b, "k");
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].version_id, v2->version_id);
  auto gone = client_->head_object(b, "k", v1->version_id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().kind, api::ErrorKind::usage);

  // a delete without a version id would only hide the object: refused here
  EXPECT_FALSE(client_->delete_version(b, "k", "").ok());
}

TEST_F(RgwTest, ComplianceLockHoldsEvenWithTheBypass) {
  const std::string b = make_bucket(LockMode::compliance, 1);
  auto v = client_->put_object(b, "k", bytes("kept"), 4);
  ASSERT_TRUE(v.ok());
  auto refused = client_->delete_version(b, "k", v->version_id, /*bypass_governance=*/true);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, api::ErrorKind::refused);
  EXPECT_NE(refused.error().message.find("COMPLIANCE"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(client_->head_object(b, "k", v->version_id).ok());
}

TEST_F(RgwTest, RetentionIsExtendedNeverShortened) {
  const std::string b = make_bucket(LockMode::compliance, 1);
  auto v = client_->put_object(b, "k", bytes("kept"), 4);
  ASSERT_TRUE(v.ok());
  auto r = client_->get_retention(b, "k", v->version_id);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->mode, LockMode::compliance);

  Retention longer{LockMode::compliance, r->retain_until + 10 * 86400};
  auto ext = client_->put_retention(b, "k", v->version_id, longer);
  ASSERT_TRUE(ext.ok()) << ext.error().message;
  auto r2 = client_->get_retention(b, "k", v->version_id);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->retain_until, longer.retain_until);
  EXPECT_EQ(client_->head_object(b, "k", v->version_id)->retention->retain_until,
            longer.retain_until);

  Retention shorter{LockMode::compliance, r->retain_until};
  auto cut = client_->put_retention(b, "k", v->version_id, shorter);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(client_->get_retention(b, "k", v->version_id)->retain_until, longer.retain_until);
}

TEST_F(RgwTest, VirtualHostAddressing) {
  const std::string b = make_bucket();
  // *.localhost resolves to loopback (curl does it itself); the fixture's
  // gateway has `rgw dns name = localhost`
  S3Config c = config(Addressing::virtual_host);
  c.endpoint.host = "localhost" + c.endpoint.host.substr(c.endpoint.host.find(':'));
  auto vh = Client::create(c, fast_retries());
  ASSERT_TRUE(vh.ok());
  EXPECT_EQ((*vh)->http().target(HttpRequest{"GET", "", b, "k"}).host, b + "." + c.endpoint.host);
  auto put = (*vh)->put_object(b, "dir/k v", bytes("virtual"), 7);
  ASSERT_TRUE(put.ok()) << put.error().message;
  std::string got(7, '\0');
  ASSERT_TRUE(
      (*vh)->get_range(b, "dir/k v", 0, reinterpret_cast<std::uint8_t*>(got.data()), 7).ok());
  EXPECT_EQ(got, "virtual");
  auto list = (*vh)->list_objects(b, "dir/");
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 1u);
  // the same object through path style
  EXPECT_EQ(client_->head_object(b, "dir/k v")->version_id, put->version_id);
}

}  // namespace
}  // namespace hsm::repo::s3
