// s3:// addresses, bucket and key checks, and the repository layout
// PREFIX/<device>/<partition>/<UTC time>-<archive id>.hsmar.
#include <gtest/gtest.h>

#include "formats/repo/layout.hpp"
#include "formats/repo/s3/address.hpp"

namespace hsm::repo {
namespace {

using s3::parse_s3_address;

TEST(S3Address, BucketAndPrefix) {
  auto a = parse_s3_address("s3://hsm-backups/site-a/nightly");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->bucket, "hsm-backups");
  EXPECT_EQ(a->key, "site-a/nightly");
  EXPECT_EQ(a->to_string(), "s3://hsm-backups/site-a/nightly");
  auto bare = parse_s3_address("s3://hsm-backups");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->key, "");
  EXPECT_TRUE(parse_s3_address("s3://hsm-backups/").ok());
  EXPECT_FALSE(s3::is_s3_address("/var/backups/x.hsmar"));
}

TEST(S3Address, BadAddressesSayWhatIsWrong) {
  struct Case {
    const char* address;
    const char* says;
  } cases[] = {
      {"/var/backups", "not an s3:// address"},
      {"s3://", "names no bucket"},
      {"s3://ab/x", "3 to 63"},
      {"s3://Hsm-Backups/x", "a-z, 0-9"},
      {"s3://-backups/x", "start and end"},
      {"s3://back..ups/x", "two dots"},
      {"s3://192.168.1.10/x", "IP address"},
      {"s3://backups//x", "starts with '/'"},
      {"s3://backups/a/../b", "'..' segment"},
      {"s3://backups/a/./b", "'.' segment"},
      {"s3://backups/a\tb", "control character"},
      {"s3://backups/\xff\xfe", "UTF-8"},
  };
  for (const auto& c : cases) {
    auto r = parse_s3_address(c.address);
    ASSERT_FALSE(r.ok()) << c.address;
    EXPECT_EQ(r.error().kind, api::ErrorKind::usage) << c.address;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.address << ": " << r.error().message;
  }
}

TEST(S3Address, KeyLimitIs1024Bytes) {
  EXPECT_TRUE(s3::check_key(std::string(1024, 'k')).ok());
  auto r = s3::check_key(std::string(1025, 'k'));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("1025 bytes, over S3's limit of 1,024"), std::string::npos);
  // bytes, not characters: 512 two-byte characters fit, one more does not
  std::string e_acute = "\xc3\xa9";
  std::string k;
  for (int i = 0; i < 512; ++i) k += e_acute;
  EXPECT_TRUE(s3::check_key(k).ok());
  EXPECT_FALSE(s3::check_key(k + "x").ok());
}

ArchiveKey sample() {
  ArchiveKey a;
  a.device = "hsm-a";
  a.partition = "payments";
  a.created_at = 1795000000;  // 2026-11-18T11:06:40Z
  for (std::size_t i = 0; i < a.archive_id.size(); ++i)
    a.archive_id[i] = static_cast<std::uint8_t>(0xa0 + i);
  return a;
}

TEST(RepoLayout, KeyOfAnArchive) {
  auto k = archive_key("backups/site-a/", sample());
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(
      *k, "backups/site-a/hsm-a/payments/20261118T110640Z-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf.hsmar");
  EXPECT_EQ(archive_key("", sample()).value(),
            "hsm-a/payments/20261118T110640Z-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf.hsmar");
  EXPECT_EQ(listing_prefix("backups/site-a", "hsm-a", "payments"),
            "backups/site-a/hsm-a/payments/");
  EXPECT_EQ(listing_prefix("backups", "hsm-a"), "backups/hsm-a/");
  EXPECT_EQ(listing_prefix(""), "");
}

TEST(RepoLayout, NamesAreEscapedSoTheyCannotChangeTheLayout) {
  ArchiveKey a = sample();
  a.device = "../etc";
  a.partition = "pay/ments 100%";
  auto k = archive_key("p", a);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->rfind("p/%2E.%2Fetc/pay%2Fments%20100%25/", 0), 0u) << *k;
  EXPECT_TRUE(s3::check_key(*k).ok());
  auto back = parse_archive_key("p", *k);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->device, "../etc");
  EXPECT_EQ(back->partition, "pay/ments 100%");
  EXPECT_EQ(escape_component("caf\xc3\xa9"), "caf%C3%A9");
  EXPECT_EQ(unescape_component("caf%C3%A9"), "caf\xc3\xa9");
  EXPECT_FALSE(unescape_component("caf%c3%a9"));  // one spelling per name
  EXPECT_FALSE(unescape_component("a/b"));
  EXPECT_FALSE(unescape_component("%4"));
}

TEST(RepoLayout, ParseIsTheInverseAndRejectsOtherKeys) {
  ArchiveKey a = sample();
  auto k = archive_key("backups", a);
  ASSERT_TRUE(k.ok());
  auto back = parse_archive_key("backups/", *k);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->device, a.device);
  EXPECT_EQ(back->partition, a.partition);
  EXPECT_EQ(back->created_at, a.created_at);
  EXPECT_EQ(back->archive_id, a.archive_id);
  for (const char* other : {
           "backups/hsm-a/payments/notes.txt",
           "backups/hsm-a/20261118T110640Z-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf.hsmar",
           "backups/hsm-a/payments/x/20261118T110640Z-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf.hsmar",
           "backups/hsm-a/payments/20261318T110640Z-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf.hsmar",
           "backups/hsm-a/payments/20261118T110640Z-A0A1A2A3A4A5A6A7A8A9AAABACADAEAF.hsmar",
           "backups/hsm-a/payments/20261118T110640Z-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf.hsmar.part",
           "other/hsm-a/payments/20261118T110640Z-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf.hsmar",
           "backups//payments/20261118T110640Z-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf.hsmar",
       })
    EXPECT_FALSE(parse_archive_key("backups", other).has_value()) << other;
}

TEST(RepoLayout, KeysOverTheLimitAreRefused) {
  ArchiveKey a = sample();
  a.partition = std::string(350, '/');  // each '/' escapes to 3 bytes
  auto k = archive_key("backups", a);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().kind, api::ErrorKind::usage);
  EXPECT_NE(k.error().message.find("1,024"), std::string::npos);
  a.partition = "";
  EXPECT_FALSE(archive_key("backups", a).ok());
}

TEST(RepoLayout, UtcStamps) {
  EXPECT_EQ(utc_stamp(0), "19700101T000000Z");
  EXPECT_EQ(parse_utc_stamp("19700101T000000Z"), 0);
  EXPECT_FALSE(parse_utc_stamp("20260230T000000Z"));
  EXPECT_FALSE(parse_utc_stamp("2026-11-18T11:06"));
}

}  // namespace
}  // namespace hsm::repo
