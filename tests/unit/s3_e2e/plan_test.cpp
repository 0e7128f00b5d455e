// Plan steps with s3:// addresses (issue 13): backup into a repository
// prefix, then verify, drill and restore that very archive, then prune the
// prefix, through `plan run`.
#include "s3_harness.hpp"

namespace hsm::e2e {
namespace {

class S3Plan : public S3Cli {};

TEST_F(S3Plan, BackupVerifyDrillRestorePruneStepsTakeS3Addresses) {
  const std::string b = init_bucket();
  const std::string repo = "s3://" + b + "/plans/";
  const fs::path p = dir_ / "nightly.toml";
  std::ofstream(p) << "[plan]\nname = \"nightly-s3\"\n"
                      "[[device]]\nname = \"prod\"\nemulated = true\nkind = \"luna7\"\nfirmware = \"7.8.0\"\n"
                      "[[device.partition]]\nname = \"app\"\ndomain = \"corp\"\n"
                      "[[device.partition.keys]]\ntype = \"aes-256\"\ncount = 3\nlabel = \"k\"\n"
                      "[[device.partition]]\nname = \"scratch\"\ndomain = \"corp\"\n"
                      "[[device.partition]]\nname = \"copy\"\ndomain = \"corp\"\n"
                      "[[step]]\naction = \"backup\"\nfrom = \"prod/app\"\narchive = \""
                   << repo
                   << "\"\n"
                      "[[step]]\naction = \"verify\"\narchive = \""
                   << repo
                   << "\"\n"
                      "[[step]]\naction = \"drill\"\narchive = \""
                   << repo
                   << "\"\nscratch = \"prod/scratch\"\n"
                      "[[step]]\naction = \"restore\"\narchive = \""
                   << repo
                   << "\"\nto = \"prod/copy\"\n"
                      "[[step]]\naction = \"prune\"\ndir = \""
                   << repo << "\"\nkeep_daily = 7\n";
  ok({"plan", "check", p.string()});
  auto r = ok({"plan", "run", p.string()});
  auto listed = objects(b, "plans/");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].key.rfind("plans/prod/app/", 0), 0u) << listed[0].key;
  EXPECT_NE(r.out.find("s3://" + b + "/" + listed[0].key), std::string::npos) << r.out;
  EXPECT_EQ(ok({"object", "list", "prod/copy", "--json"}).json()["count"], 3);
  EXPECT_EQ(ok({"object", "list", "prod/scratch", "--json"}).json()["count"], 0);
  // Run again: a second archive the same day. keep_daily keeps the newest;
  // the older is still under the bucket's 1-day lock: reported, not deleted.
  ok({"plan", "run", p.string(), "--again"});
  EXPECT_EQ(objects(b, "plans/").size(), 2u);
}

}  // namespace
}  // namespace hsm::e2e
