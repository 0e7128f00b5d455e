// backup -> archive list -> verify -> restore -> drill -> archive show, all
// from s3:// (issue 13), through the binary; and two hosts' backups at once.
#include "s3_harness.hpp"

namespace hsm::e2e {
namespace {

class S3RoundTrip : public S3Cli {};

TEST_F(S3RoundTrip, BackupListVerifyRestoreDrillShowFromTheBucket) {
  make_fleet();
  const std::string b = init_bucket();
  const std::string repo = "s3://" + b + "/backups/";
  auto bk = ok({"backup", "hsm-6/src", "--archive", repo, "--json"}).json();
  const std::string archive = bk["archive"].get<std::string>();
  const std::string id = bk["archive_id"].get<std::string>();
  // The layout: PREFIX/<device>/<partition>/<UTC time>-<archive id>.hsmar
  ASSERT_EQ(archive.rfind(repo + "hsm-6/src/", 0), 0u) << archive;
  EXPECT_NE(archive.find("Z-" + id + ".hsmar"), std::string::npos) << archive;
  // Read back: the bucket holds exactly the bytes of the archive.
  const auto& u = bk["s3"];
  EXPECT_EQ(u["size"], bk["file_bytes"]);
  EXPECT_EQ(u["sha256"].get<std::string>().size(), 64u);
  EXPECT_FALSE(u["version_id"].get<std::string>().empty());
  ASSERT_FALSE(u["retention"].is_null()) << "the bucket's default retention applies";
  EXPECT_EQ(u["retention"]["mode"], "GOVERNANCE");
  const std::string key = archive.substr(5 + b.size() + 1);
  auto listed = objects(b, "backups/");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].key, key);
  EXPECT_EQ(listed[0].size, bk["file_bytes"].get<std::uint64_t>());

  // archive list: the listing is the catalogue.
  auto ls = ok({"archive", "list", "s3://" + b + "/backups", "--json"}).json();
  ASSERT_EQ(ls["archives"].size(), 1u);
  const auto& a = ls["archives"][0];
  EXPECT_EQ(a["name"], key);
  EXPECT_EQ(a["source"], "hsm-6/src");
  EXPECT_EQ(a["objects"], 5);  // 3 AES keys and an RSA pair
  EXPECT_EQ(a["scope"], "complete");
  EXPECT_EQ(a["verifies"], true);
  EXPECT_EQ(a["archive_id"], id);
  EXPECT_EQ(a["retention"]["mode"], "GOVERNANCE");
  auto text = ok({"archive", "list", "s3://" + b + "/backups"});
  EXPECT_NE(text.out.find("1 archive(s), 1 verified"), std::string::npos) << text.out;

  // verify needs no secret; streamed with ranged GETs, fetched once.
  env_["HSM_MIGRATE_PIN"] = "";
  auto v = ok({"verify", archive, "--json"}).json();
  EXPECT_EQ(v["ok"], true);
  EXPECT_EQ(v["blobs_checked"], 5);
  EXPECT_EQ(v["archive"], archive);
  const auto size = v["s3"]["size"].get<std::uint64_t>();
  EXPECT_GT(v["s3"]["get_requests"].get<std::uint64_t>(), 0u);
  EXPECT_LT(v["s3"]["bytes_fetched"].get<std::uint64_t>(), 2 * size) << "downloaded twice";
  // A repository prefix names its newest archive.
  auto vp = ok({"verify", "s3://" + b + "/backups/hsm-6/src/", "--json"}).json();
  EXPECT_EQ(vp["archive"], archive);
  env_["HSM_MIGRATE_PIN"] = "e2e-partition-pin";

  // restore: same keys as the source.
  auto r = ok({"restore", archive, "--to", "hsm-7/dst", "--json"}).json();
  EXPECT_EQ(r["counts"]["created"], 5);
  EXPECT_LT(r["s3"]["bytes_fetched"].get<std::uint64_t>(), 2 * size) << "two passes, one download (spooled)";
  auto src = ok({"object", "list", "hsm-6/src", "--json"}).json()["objects"];
  auto dst = ok({"object", "list", "hsm-7/dst", "--json"}).json()["objects"];
  ASSERT_EQ(src.size(), dst.size());
  for (std::size_t i = 0; i < src.size(); ++i) EXPECT_EQ(src[i]["fingerprint"], dst[i]["fingerprint"]);

  // drill: every key used in the scratch partition, left as it was.
  auto d = ok({"drill", archive, "--scratch", "hsm-7/scratch", "--json"}).json();
  EXPECT_EQ(d["ok"], true);
  EXPECT_EQ(d["counts"]["passed"], 5);
  EXPECT_EQ(d["scratch_objects_after"], 0);

  // archive show: handles and labels in the clear; the rest only with a
  // partition of the domain, and never a secret.
  auto sh = ok({"archive", "show", archive, "--json"}).json();
  ASSERT_EQ(sh["records"].size(), 5u);
  EXPECT_EQ(sh["records"][0]["label"], "k-1");
  EXPECT_FALSE(sh["records"][0].contains("fingerprint"));
  EXPECT_TRUE(sh.contains("sealed_fields"));
  auto shw = ok({"archive", "show", archive, "--with", "hsm-7/scratch", "--json"}).json();
  EXPECT_EQ(shw["opened_with"]["blobs_opened"], 5);
  EXPECT_EQ(shw["opened_with"]["mac_verified"], true);
  std::set<std::string> fps;
  for (const auto& o : src) fps.insert(o["fingerprint"].get<std::string>());
  int with_fp = 0;
  for (const auto& rec : shw["records"])
    if (rec.contains("fingerprint")) {
      EXPECT_TRUE(fps.count(rec["fingerprint"].get<std::string>())) << rec.dump();
      ++with_fp;
    }
  EXPECT_EQ(with_fp, 5);
  EXPECT_EQ(ok({"object", "list", "hsm-7/scratch", "--json"}).json()["count"], 0) << "show writes nothing";
  auto show_text = ok({"archive", "show", archive});
  EXPECT_NE(show_text.out.find("sealed: add --with"), std::string::npos) << show_text.out;
}

TEST_F(S3RoundTrip, ANamedKeyTakesATemplateAndIsNeverOverwrittenWithoutForce) {
  make_fleet(1);
  const std::string b = init_bucket();
  auto bk = ok({"backup", "hsm-6/src", "--archive", "s3://" + b + "/nightly/src-%Y%m%d.hsmar", "--json"}).json();
  const std::string archive = bk["archive"].get<std::string>();
  EXPECT_EQ(archive.find('%'), std::string::npos) << archive;
  auto again = run({"backup", "hsm-6/src", "--archive", archive});
  EXPECT_EQ(again.rc, kUsage) << again.err;
  EXPECT_NE(again.err.find("never overwritten without --force"), std::string::npos) << again.err;
  expect_one_line(again);
  ok({"verify", archive});
  // Files and folders still work with the same commands.
  auto f = ok({"backup", "hsm-6/src", "--archive", (dir_ / "local.hsmar").string(), "--json"}).json();
  EXPECT_FALSE(f.contains("s3"));
  auto ls = ok({"archive", "list", dir_.string(), "--json"}).json();
  ASSERT_EQ(ls["archives"].size(), 1u);
  EXPECT_EQ(ls["archives"][0]["verifies"], true);
}

TEST_F(S3RoundTrip, TwoHostsBackUpTwoPartitionsIntoOneRepositoryAtOnce) {
  make_fleet(400);
  ok({"partition", "create", "hsm-7/other"});
  ok({"key", "generate", "hsm-7/other", "--type", "aes-256", "--count", "400", "--label", "o"});
  const std::string b = init_bucket();
  const std::string repo = "s3://" + b + "/fleet/";
  // Small parts: both uploads are multipart and interleave on the server.
  env_["HSM_MIGRATE_S3_PART_SIZE"] = "64K";
  const pid_t p1 = spawn({"backup", "hsm-6/src", "--archive", repo, "--json"}, "a");
  const pid_t p2 = spawn({"backup", "hsm-7/other", "--archive", repo, "--json"}, "b");
  const CliRun r1 = finish(p1, "a"), r2 = finish(p2, "b");
  ASSERT_EQ(r1.rc, kOk) << r1.err;
  ASSERT_EQ(r2.rc, kOk) << r2.err;
  EXPECT_GT(r1.json()["s3"]["parts"].get<int>(), 1);
  EXPECT_GT(r2.json()["s3"]["parts"].get<int>(), 1);
  auto listed = objects(b, "fleet/");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_NE(listed[0].key, listed[1].key);
  EXPECT_TRUE(uploads(b).empty());
  auto ls = ok({"archive", "list", repo, "--json"}).json();
  ASSERT_EQ(ls["counts"]["verified"], 2);
  std::set<std::string> sources;
  for (const auto& a : ls["archives"]) sources.insert(a["source"].get<std::string>());
  EXPECT_EQ(sources, (std::set<std::string>{"hsm-6/src", "hsm-7/other"}));
  // The whole repository names two partitions: "newest" is ambiguous.
  auto amb = run({"verify", repo});
  EXPECT_EQ(amb.rc, kUsage) << amb.err;
  EXPECT_NE(amb.err.find("2 partitions"), std::string::npos) << amb.err;
}

}  // namespace
}  // namespace hsm::e2e
