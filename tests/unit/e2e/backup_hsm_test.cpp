// `backup SRC --to BACKUPDEV/PART` and `restore BACKUPDEV/PART --to DST`
// end to end: a partition backup to a Luna Backup HSM G5 is a clone under
// rules P8, P9 and S3 of ../shared/spec/luna-rules.md. Each restore is proved
// by using the key on both sides (a signature made on the source verifies on
// the restored partition; a ciphertext made on one decrypts on the other).
#include <fcntl.h>
#include <sys/file.h>

#include "harness.hpp"

namespace hsm::e2e {
namespace {

class BackupHsm : public Cli {
 protected:
  void device(const std::string& name, const std::string& kind, const std::string& firmware) {
    ok({"device", "create", name, "--kind", kind, "--firmware", firmware});
    ok({"partition", "create", name + "/p"});
  }
  std::string file(const std::string& name, const std::string& content) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  void same_signing_key(const std::string& a, const std::string& b, const std::string& label) {
    const std::string data = file("data", "signed on " + a);
    const std::string sig = (dir_ / "sig").string();
    ok({"key", "sign", a, "--object", label, "--in", data, "--out", sig});
    EXPECT_TRUE(ok({"key", "verify", b, "--object", label, "--in", data, "--signature", sig, "--json"})
                    .json()["verified"]);
  }
  void same_secret_key(const std::string& a, const std::string& b, const std::string& label) {
    const std::string in = file("plain", "encrypted on " + a);
    const std::string ct = (dir_ / "ct").string(), back = (dir_ / "back").string();
    ok({"key", "encrypt", a, "--object", label, "--in", in, "--out", ct});
    ok({"key", "decrypt", b, "--object", label, "--in", ct, "--out", back});
    EXPECT_EQ(slurp(back), slurp(in));
  }
  std::size_t count(const std::string& part) {
    return ok({"object", "list", part, "--json"}).json()["objects"].size();
  }
};

// P9: a Luna 6 (CPv1 only) backs up to a G5 by CPv1; a rerun doubles nothing;
// the G5 restores into a Luna 7 7.7.0 (P8 exception: a Backup HSM clones out
// by CPv3 or CPv1, whichever the target accepts) and the keys work there.
TEST_F(BackupHsm, RuleP9_Luna6BacksUpByCpv1AndRestoresInto770WithTheSameKeys) {
  device("l6", "luna6", "6.10.9");
  device("bk", "backup-g5", "6.28.0");
  device("l77", "luna7", "7.7.0");
  ok({"key", "generate", "l6/p", "--type", "aes-256", "--label", "aes"});
  ok({"key", "generate", "l6/p", "--type", "rsa-2048", "--label", "rsa"});

  auto b = ok({"backup", "l6/p", "--to", "bk/p", "--json"}).json();
  EXPECT_EQ(b["route"], "backup-hsm");
  EXPECT_EQ(b["operation"], "backup");
  EXPECT_EQ(b["protocol"], "CPv1");
  EXPECT_EQ(b["cloned"].size(), 3u);  // AES key, RSA private and public
  EXPECT_EQ(count("bk/p"), 3u);
  auto again = ok({"backup", "l6/p", "--to", "bk/p", "--json"}).json();
  EXPECT_EQ(again["cloned"].size(), 0u);
  EXPECT_EQ(again["already_present"].size(), 3u);
  EXPECT_EQ(count("bk/p"), 3u);

  auto r = ok({"restore", "bk/p", "--to", "l77/p", "--json"}).json();
  EXPECT_EQ(r["operation"], "restore");
  EXPECT_EQ(r["backup_hsm"], "bk/p");
  EXPECT_EQ(r["cloned"].size(), 3u);
  EXPECT_EQ(count("l77/p"), 3u);
  same_signing_key("l6/p", "l77/p", "rsa");
  same_secret_key("l6/p", "l77/p", "aes");
  same_secret_key("l77/p", "l6/p", "aes");
  // Add mode: a second restore reports the objects, does not double them.
  auto r2 = ok({"restore", "bk/p", "--to", "l77/p", "--add", "--json"}).json();
  EXPECT_EQ(r2["already_present"].size(), 3u);
  EXPECT_EQ(count("l77/p"), 3u);
}

// P9 + S3: a 7.8 partition backs up by CPv3 (the G5 has no CPv4). An object
// that came in by CPv3 never leaves by CPv1: restoring into a Luna 6 copies
// the CPv1 objects and refuses that one by rule S3, with the refused code.
TEST_F(BackupHsm, RuleS3_ObjectInByCpv3NeverLeavesByCpv1) {
  device("l6", "luna6", "6.10.9");
  device("l78", "luna7", "7.8.4");
  device("bk", "backup-g5", "6.28.0");
  device("l6b", "luna6", "6.10.9");
  ok({"key", "generate", "l6/p", "--type", "aes-256", "--label", "old"});
  ok({"key", "generate", "l78/p", "--type", "aes-256", "--label", "new"});
  EXPECT_EQ(ok({"backup", "l6/p", "--to", "bk/p", "--json"}).json()["protocol"], "CPv1");
  auto dry = ok({"backup", "l78/p", "--to", "bk/p", "--dry-run", "--json"}).json();
  EXPECT_EQ(dry["protocol"], "CPv3");
  EXPECT_EQ(dry["would_clone"].size(), 1u);
  EXPECT_EQ(count("bk/p"), 1u) << "a dry run copies nothing";
  EXPECT_EQ(ok({"backup", "l78/p", "--to", "bk/p", "--json"}).json()["protocol"], "CPv3");

  auto r = run({"restore", "bk/p", "--to", "l6b/p", "--json"});
  EXPECT_EQ(r.rc, kRefused) << r.err;
  auto j = r.json();
  EXPECT_EQ(j["protocol"], "CPv1");
  ASSERT_EQ(j["cloned"].size(), 1u);
  EXPECT_EQ(j["cloned"][0]["label"], "old");
  ASSERT_EQ(j["refused"].size(), 1u);
  EXPECT_EQ(j["refused"][0]["label"], "new");
  EXPECT_EQ(j["refused"][0]["rule"], "S3");
  EXPECT_FALSE(j["refused"][0]["fix"].get<std::string>().empty());
  EXPECT_EQ(count("l6b/p"), 1u);
  same_secret_key("l6/p", "l6b/p", "old");
  // The text report names the rule and the fix for the refused object.
  auto t = run({"restore", "bk/p", "--to", "l6b/p"});
  EXPECT_EQ(t.rc, kRefused);
  EXPECT_NE(t.out.find("rule S3"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("fix:"), std::string::npos) << t.out;
}

TEST_F(BackupHsm, TheBackupHsmSideMustBeABackupG5) {
  device("l6", "luna6", "6.10.9");
  device("l77", "luna7", "7.7.0");
  device("bk", "backup-g5", "6.28.0");
  ok({"key", "generate", "l6/p", "--type", "aes-256", "--label", "k"});
  auto not_g5 = run({"backup", "l6/p", "--to", "l77/p"});
  EXPECT_EQ(not_g5.rc, kUsage);
  EXPECT_NE(not_g5.err.find("not on a Luna Backup HSM G5"), std::string::npos) << not_g5.err;
  EXPECT_EQ(count("l77/p"), 0u);
  EXPECT_EQ(run({"backup", "l6/p", "--to", "bk/p", "--archive", (dir_ / "a.hsmar").string()}).rc, kUsage);
  EXPECT_EQ(run({"backup", "l6/p", "--to", "bk/p", "--add", "--replace"}).rc, kUsage);
  EXPECT_EQ(count("bk/p"), 0u);
}

// X5: lunacm's -replace wipes the partition first, the source is never
// touched; to a Backup HSM and from one.
TEST_F(BackupHsm, RuleX5_ReplaceWipesTheTargetFirstBothWays) {
  device("l6", "luna6", "6.10.9");
  device("l6b", "luna6", "6.10.9");
  device("bk", "backup-g5", "6.28.0");
  device("l77", "luna7", "7.7.0");
  ok({"key", "generate", "l6/p", "--type", "aes-256", "--label", "first"});
  ok({"key", "generate", "l6b/p", "--type", "aes-256", "--label", "second"});
  ok({"key", "generate", "l77/p", "--type", "aes-256", "--label", "local"});
  ok({"backup", "l6/p", "--to", "bk/p"});
  // To the Backup HSM: what it held (first) goes, the new source's key comes.
  auto dry = ok({"backup", "l6b/p", "--to", "bk/p", "--replace", "--dry-run", "--json"}).json();
  EXPECT_EQ(dry["would_delete"], 1);
  EXPECT_EQ(count("bk/p"), 1u);
  auto b = ok({"backup", "l6b/p", "--to", "bk/p", "--replace", "--json"}).json();
  EXPECT_EQ(b["deleted"], 1);
  EXPECT_EQ(b["cloned"].size(), 1u);
  auto held = ok({"object", "list", "bk/p", "--json"}).json()["objects"];
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0]["label"], "second");
  EXPECT_EQ(count("l6/p"), 1u) << "the source is never touched";
  // From the Backup HSM: the target's own key goes, the backup's comes.
  auto r = ok({"restore", "bk/p", "--to", "l77/p", "--replace", "--json"}).json();
  EXPECT_EQ(r["mode"], "replace");
  EXPECT_EQ(r["deleted"], 1);
  auto after = ok({"object", "list", "l77/p", "--json"}).json()["objects"];
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0]["label"], "second");
  same_secret_key("l6b/p", "l77/p", "second");
  // Again: the same end state, not doubled.
  ok({"restore", "bk/p", "--to", "l77/p", "--replace"});
  EXPECT_EQ(count("l77/p"), 1u);
}

// X4 (model): a replace is all or nothing. One object S3 refuses, so the
// target keeps what it had: not emptied, not half restored.
TEST_F(BackupHsm, RuleX4_ReplaceWithARefusedObjectChangesNothing) {
  device("l6", "luna6", "6.10.9");
  device("l78", "luna7", "7.8.4");
  device("bk", "backup-g5", "6.28.0");
  device("l6b", "luna6", "6.10.9");
  ok({"key", "generate", "l6/p", "--type", "aes-256", "--label", "old"});
  ok({"key", "generate", "l78/p", "--type", "aes-256", "--label", "new"});
  ok({"key", "generate", "l6b/p", "--type", "aes-256", "--label", "mine"});
  ok({"backup", "l6/p", "--to", "bk/p"});
  ok({"backup", "l78/p", "--to", "bk/p"});
  auto r = run({"restore", "bk/p", "--to", "l6b/p", "--replace", "--json"});
  EXPECT_EQ(r.rc, kRefused) << r.err;
  auto j = r.json();
  ASSERT_EQ(j["refused"].size(), 1u);
  EXPECT_EQ(j["refused"][0]["rule"], "S3");
  EXPECT_TRUE(j.contains("replace_blocked"));
  EXPECT_EQ(j["deleted"], 0);
  EXPECT_EQ(j["cloned"].size(), 0u);
  auto kept = ok({"object", "list", "l6b/p", "--json"}).json()["objects"];
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0]["label"], "mine");
  // Only the restorable object, selected, replaces.
  auto sel = ok({"restore", "bk/p", "--to", "l6b/p", "--replace", "--objects", "old", "--json"}).json();
  EXPECT_EQ(sel["deleted"], 1);
  auto now = ok({"object", "list", "l6b/p", "--json"}).json()["objects"];
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0]["label"], "old");
}

// One backup per source partition at a time, whichever the destination.
TEST_F(BackupHsm, ABusySourcePartitionExitsWithTheLockCode) {
  device("l6", "luna6", "6.10.9");
  device("bk", "backup-g5", "6.28.0");
  ok({"key", "generate", "l6/p", "--type", "aes-256", "--label", "k"});
  const fs::path locks = dir_ / "fleet" / "locks";
  fs::create_directories(locks);
  const int fd = ::open((locks / "l6.p.lock").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  auto r = run({"backup", "l6/p", "--to", "bk/p"});
  EXPECT_EQ(r.rc, kBusy) << r.err;
  EXPECT_EQ(count("bk/p"), 0u);
  ::close(fd);
  ok({"backup", "l6/p", "--to", "bk/p"});
  EXPECT_EQ(count("bk/p"), 1u);
}

}  // namespace
}  // namespace hsm::e2e
