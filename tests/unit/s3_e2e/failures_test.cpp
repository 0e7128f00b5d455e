// What goes wrong with a repository (issue 13): wrong credentials, a missing
// bucket, a backup killed mid-upload, a gateway killed under a running
// backup, a network error on a part (retried), a refused delete. Each: one
// clear line, the documented exit code, nothing half-written.
#include <sys/wait.h>

#include "s3_harness.hpp"

namespace hsm::e2e {
namespace {

class S3Failures : public S3Cli {};

TEST_F(S3Failures, WrongCredentialsFailBeforeAnythingIsSealedAndNameTheSourceNotTheSecret) {
  make_fleet(1);
  const std::string b = init_bucket();
  env_["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-0123456789";
  auto r = run({"backup", "hsm-6/src", "--archive", "s3://" + b + "/x/"});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  expect_one_line(r);
  EXPECT_NE(r.err.find("'" + b + "'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("AWS_ACCESS_KEY_ID"), std::string::npos) << "names where the credentials came from: " << r.err;
  EXPECT_EQ(r.err.find("not-the-secret"), std::string::npos) << "never the secret: " << r.err;
  EXPECT_TRUE(objects(b).empty());
  EXPECT_TRUE(uploads(b).empty());
  auto v = run({"archive", "list", "s3://" + b});
  EXPECT_EQ(v.rc, kUsage) << v.err;
  expect_one_line(v);
}

TEST_F(S3Failures, AMissingBucketIsAUsageErrorThatSaysRepoInit) {
  make_fleet(1);
  const std::string b = bucket_name("missing");
  auto r = run({"backup", "hsm-6/src", "--archive", "s3://" + b + "/x/"});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  expect_one_line(r);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("repo init"), std::string::npos) << r.err;
  auto v = run({"verify", "s3://" + b + "/x/a.hsmar"});
  EXPECT_EQ(v.rc, kUsage) << v.err;
  expect_one_line(v);
  // repo init refuses a bucket that exists: its retention is never changed.
  const std::string made = init_bucket();
  auto again = run({"repo", "init", "s3://" + made, "--lock-mode", "COMPLIANCE", "--lock-days", "30"});
  EXPECT_EQ(again.rc, kUsage) << again.err;
  expect_one_line(again);
  auto bad = run({"repo", "init", "s3://" + b, "--lock-mode", "FOREVER", "--lock-days", "1"});
  EXPECT_EQ(bad.rc, kUsage) << bad.err;
}

TEST_F(S3Failures, ABackupKilledMidUploadLeavesNoObjectAndPruneAbortsItsUpload) {
  // The writer hands the upload 1 MiB at a time: 4,000 keys (~1.4 MB) so
  // parts are up when the backup dies.
  make_fleet(4000);
  const std::string b = init_bucket();
  const std::string repo = "s3://" + b + "/nightly/";
  ok({"backup", "hsm-6/src", "--archive", repo});  // one good archive
  env_["HSM_MIGRATE_S3_PART_SIZE"] = "64K";
  env_["HSM_MIGRATE_CRASH_POINT"] = "backup-blob:3900";  // after the first MiB went up
  auto killed = run({"backup", "hsm-6/src", "--archive", repo});
  EXPECT_EQ(killed.rc, 128 + SIGKILL) << killed.err;
  env_["HSM_MIGRATE_CRASH_POINT"] = "";
  EXPECT_EQ(objects(b).size(), 1u) << "no visible object of the killed backup";
  auto pending = uploads(b);
  ASSERT_EQ(pending.size(), 1u) << "the killed backup's parts are a pending upload, not an object";
  // A prune by default leaves an upload younger than a day alone (a backup
  // may be running) ...
  auto p1 = ok({"prune", "s3://" + b + "/nightly", "--keep-last", "1", "--json"}).json();
  EXPECT_EQ(p1["counts"]["uploads_aborted"], 0);
  EXPECT_EQ(uploads(b).size(), 1u);
  // ... and aborts it when told it is stale.
  auto p2 = ok({"prune", "s3://" + b + "/nightly", "--keep-last", "1", "--abort-uploads-older-than", "0", "--json"})
                .json();
  EXPECT_EQ(p2["counts"]["uploads_aborted"], 1);
  EXPECT_EQ(p2["uploads_aborted"][0]["upload_id"], pending[0].upload_id);
  EXPECT_TRUE(uploads(b).empty());
  EXPECT_EQ(p2["counts"]["kept"], 1);
}

TEST_F(S3Failures, ANetworkErrorOnAPartUploadIsRetried) {
  make_fleet(600);
  const std::string b = init_bucket();
  env_["HSM_MIGRATE_S3_PART_SIZE"] = "64K";
  env_["HSM_MIGRATE_S3_FAULT"] = "UploadPart:2";  // its connection drops after 1 byte
  auto bk = ok({"backup", "hsm-6/src", "--archive", "s3://" + b + "/r/", "--json"}).json();
  EXPECT_GE(bk["s3"]["retries"].get<int>(), 1) << bk.dump();
  EXPECT_GT(bk["s3"]["parts"].get<int>(), 2);
  env_["HSM_MIGRATE_S3_FAULT"] = "";
  auto v = ok({"verify", bk["archive"].get<std::string>(), "--json"}).json();
  EXPECT_EQ(v["bytes_checked"], bk["file_bytes"]);
  // A malformed hook is refused, never ignored.
  env_["HSM_MIGRATE_S3_FAULT"] = "UploadPart";
  auto bad = run({"backup", "hsm-6/src", "--archive", "s3://" + b + "/r/"});
  EXPECT_EQ(bad.rc, kUsage) << bad.err;
}

TEST_F(S3Failures, AGatewayKilledUnderARunningBackupFailsItCleanly) {
  make_fleet(600);
  const std::string b = init_bucket();
  // A private gateway on the same cluster: killing it disturbs no other test.
  const fs::path gw_env = dir_ / "gateway.env";
  const std::string cmd = std::string(HSM_RGW_FIXTURE) + " gateway " + HSM_RGW_ENV_FILE + " " + gw_env.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto gw = read_env_file(gw_env.string());
  ASSERT_TRUE(gw.count("RGW_PID") && gw.count("S3_ENDPOINT"));
  const pid_t gw_pid = static_cast<pid_t>(std::stol(gw.at("RGW_PID")));
  env_["HSM_MIGRATE_S3_PART_SIZE"] = "64K";
  // The backup stops itself before its 3rd part; the gateway dies; it goes on.
  env_["HSM_MIGRATE_S3_FAULT"] = "UploadPart:3:stop";
  const pid_t p = spawn({"backup", "hsm-6/src", "--archive", "s3://" + b + "/k/", "--s3-endpoint",
                         gw.at("S3_ENDPOINT")},
                        "bk");
  int status = 0;
  ASSERT_EQ(::waitpid(p, &status, WUNTRACED), p);
  ASSERT_TRUE(WIFSTOPPED(status)) << "the backup should have stopped at its 3rd part";
  ASSERT_EQ(::kill(gw_pid, SIGKILL), 0);
  for (int i = 0; i < 100 && ::kill(gw_pid, 0) == 0; ++i) ::usleep(20000);  // reaped by init: gone
  ::kill(p, SIGCONT);
  const CliRun r = finish(p, "bk");
  EXPECT_EQ(r.rc, kOther) << r.err;
  expect_one_line(r);
  EXPECT_NE(r.err.find(gw.at("S3_ENDPOINT").substr(7)), std::string::npos) << "names the server: " << r.err;
  // Through the fixture's own gateway: no object; the parts that went up are
  // a pending upload (the abort could not reach the dead gateway either),
  // which a prune aborts.
  EXPECT_TRUE(objects(b).empty());
  ASSERT_EQ(uploads(b).size(), 1u);
  env_["HSM_MIGRATE_S3_FAULT"] = "";
  auto pr = ok({"prune", "s3://" + b, "--keep-last", "1", "--abort-uploads-older-than", "0", "--json"}).json();
  EXPECT_EQ(pr["counts"]["uploads_aborted"], 1);
  EXPECT_TRUE(uploads(b).empty());
}

}  // namespace
}  // namespace hsm::e2e
