// Input and environment hardening (issue 10 §5 and §6), through the binary:
// labels, escaping, --force and FIFOs, the fleet folder, wrong PINs and the
// lockout, secret files others can read, signals during a backup.
#include <sys/stat.h>
#include <sys/types.h>

#include <csignal>
#include <thread>

#include "harness.hpp"

namespace hsm::e2e {
namespace {

class Hardening : public Cli {
 protected:
  void make_partition(const std::string& dev = "hsm-a") {
    ok({"device", "create", dev, "--kind", "luna7", "--firmware", "7.8.0"});
    ok({"partition", "create", dev + "/p1"});
  }
  fs::path db(const std::string& dev = "hsm-a") { return dir_ / "fleet" / "devices" / dev / "state.db"; }
  // Gives an existing object a label no check let through (made by another
  // tool, or before labels were checked): written into the device's store.
  void set_label_hex(const std::string& hex_label, std::uint64_t handle) {
    const std::string sql = "UPDATE object SET label = CAST(X'" + hex_label + "' AS TEXT) WHERE handle = " +
                            std::to_string(handle) + ";";
    ASSERT_EQ(std::system(("sqlite3 '" + db().string() + "' \"" + sql + "\"").c_str()), 0);
  }
  void expect_one_line(const CliRun& r) { EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err; }
};

TEST_F(Hardening, X10LabelsAreCheckedWhenKeysAreGenerated) {
  make_partition();
  const std::string long_label(10000, 'x');
  for (const std::string& bad : {std::string(33, 'a'), long_label, std::string("bad\xff\xfe"), std::string("tab\there"),
                                 std::string("esc\x1b[2J")}) {
    auto r = run({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--label", bad});
    EXPECT_EQ(r.rc, kUsage) << r.err;
    EXPECT_NE(r.err.find("X10"), std::string::npos) << r.err;
    expect_one_line(r);
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << "the error line is escaped";
  }
  // --count appends -N: the longest label counts.
  EXPECT_EQ(run({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--label", std::string(30, 'a'), "--count", "10"}).rc,
            kUsage);
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--label", std::string(29, 'a'), "--count", "10"});
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--label", "caf\xc3\xa9-\xe2\x82\xac-32-characters-long-ok"});
  auto j = ok({"object", "list", "hsm-a/p1", "--json"}).json();
  EXPECT_EQ(j["count"], 11);
}

// Objects that already carry such labels still back up, list and restore;
// output escapes them and --json stays valid JSON.
TEST_F(Hardening, ObjectsWithBadLabelsStillBackUpAndListEscaped) {
  make_partition();
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--count", "3", "--label", "k"});
  set_label_hex("1b5b324a6869", 1);                                  // ESC[2J hi: a terminal control sequence
  set_label_hex("6261" + std::string("ff") + "fe", 2);               // not UTF-8
  set_label_hex(std::string(20000, '6').substr(0, 20000), 3);        // 10,000 bytes of 'f'
  auto text = ok({"object", "list", "hsm-a/p1"});
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos) << "no raw escape reaches the terminal";
  EXPECT_NE(text.out.find("\\x1B[2Jhi"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("ba\\xFF\\xFE"), std::string::npos) << text.out;
  auto list = run({"object", "list", "hsm-a/p1", "--json"});
  ASSERT_EQ(list.rc, kOk);
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(list.out)) << list.out.substr(0, 200);
  EXPECT_EQ(j["objects"][1]["label_hex"], "6261fffe");
  // They back up (the record's visible label is escaped and cut at 255
  // bytes; the object's own label travels sealed) and restore byte for byte.
  const fs::path a = dir_ / "a.hsmar";
  auto b = ok({"backup", "hsm-a/p1", "--archive", a.string(), "--json"});
  EXPECT_EQ(b.json()["objects"], 3);
  ok({"verify", a.string()});
  ok({"partition", "create", "hsm-a/p2"});
  ok({"restore", a.string(), "--to", "hsm-a/p2"});
  auto j2 = ok({"object", "list", "hsm-a/p2", "--json"}).json();
  EXPECT_EQ(j2["objects"][1]["label_hex"], "6261fffe");
  EXPECT_EQ(j2["objects"][2]["label"].get<std::string>().size(), 10000u);
}

TEST_F(Hardening, ForceReplacesOnlyARegularFileAndFifosAreRefusedAsArchives) {
  make_partition();
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256"});
  // As root, --archive /dev/null --force would have replaced /dev/null.
  auto r = run({"backup", "hsm-a/p1", "--archive", "/dev/null", "--force"});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  const fs::path fifo = dir_ / "pipe.hsmar";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(run({"backup", "hsm-a/p1", "--archive", fifo.string(), "--force"}).rc, kUsage);
  // A FIFO given as an archive is refused at once, not waited on forever.
  ok({"partition", "create", "hsm-a/p2"});
  for (const std::vector<std::string>& args : {std::vector<std::string>{"verify", fifo.string()},
                                               {"restore", fifo.string(), "--to", "hsm-a/p2"},
                                               {"drill", fifo.string(), "--scratch", "hsm-a/p2"}}) {
    const auto t0 = std::chrono::steady_clock::now();
    auto v = run(args);
    EXPECT_EQ(v.rc, kUsage) << args[0] << ": " << v.err;
    EXPECT_NE(v.err.find("a FIFO"), std::string::npos) << v.err;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20)) << args[0];
  }
}

TEST_F(Hardening, TheFleetFolderIsNeverLoosenedNorTakenFromOthers) {
  // Absent: created 0700, its locks folder too.
  make_partition();
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256"});
  EXPECT_EQ(fs::status(dir_ / "fleet").permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(dir_ / "fleet" / "locks").permissions() & fs::perms::all, fs::perms::owner_all);
  // An existing folder others can write to (as /tmp): refused, mode unchanged.
  const fs::path shared = dir_ / "shared";
  fs::create_directories(shared);
  ::chmod(shared.c_str(), 01777);
  auto r = run({"--home", shared.string(), "device", "list"});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  EXPECT_NE(r.err.find("can be written by others"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chmod go-w"), std::string::npos) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat(shared.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u) << "never chmod'ed";
  // An existing 0755 folder of ours is used as it is (never tightened either).
  const fs::path mine = dir_ / "mine";
  fs::create_directories(mine);
  ::chmod(mine.c_str(), 0755);
  ok({"--home", mine.string(), "device", "create", "x", "--kind", "luna6", "--firmware", "6.10.9"});
  ASSERT_EQ(::stat(mine.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  // HOME unset and no --home: a clear error, never a ./.local folder.
  env_["HSM_MIGRATE_HOME"] = "";
  env_["HOME"] = "";
  env_["XDG_STATE_HOME"] = "";
  const fs::path cwd = fs::current_path();
  auto n = run({"device", "list"});
  EXPECT_EQ(n.rc, kUsage) << n.err;
  EXPECT_NE(n.err.find("--home"), std::string::npos) << n.err;
  EXPECT_FALSE(fs::exists(cwd / ".local" / "state" / "hsm-migrate"));
}

// A wrong PIN is its own outcome (exit 6, CKR_PIN_INCORRECT); ten in a row
// lock the partition (CKR_PIN_LOCKED) even for the right PIN, across
// processes, until the SO's reset.
TEST_F(Hardening, WrongPinsCountAndLockThePartitionUntilReset) {
  make_partition();
  env_["HSM_MIGRATE_PIN"] = "not-the-pin";
  for (int i = 1; i <= 9; ++i) {
    auto r = run({"key", "generate", "hsm-a/p1", "--type", "aes-256"});
    ASSERT_EQ(r.rc, kAuth) << r.err;
    EXPECT_NE(r.err.find("CKR_PIN_INCORRECT"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(std::to_string(i) + " of 10"), std::string::npos) << r.err;
  }
  // A right PIN in between clears the count.
  env_["HSM_MIGRATE_PIN"] = "e2e-partition-pin";
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256"});
  env_["HSM_MIGRATE_PIN"] = "not-the-pin";
  for (int i = 1; i <= 10; ++i) EXPECT_EQ(run({"key", "generate", "hsm-a/p1", "--type", "aes-256"}).rc, kAuth);
  env_["HSM_MIGRATE_PIN"] = "e2e-partition-pin";
  auto locked = run({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--json"});
  EXPECT_EQ(locked.rc, kAuth) << locked.err;
  EXPECT_NE(locked.err.find("CKR_PIN_LOCKED"), std::string::npos) << locked.err;
  EXPECT_NE(locked.err.find("partition reset-pin"), std::string::npos) << locked.err;
  EXPECT_EQ(locked.json()["error"]["exit_code"], 6);
  // The SO's reset sets the new PIN (from the PIN paths) and unlocks.
  env_["HSM_MIGRATE_PIN"] = "a-new-pin";
  ok({"partition", "reset-pin", "hsm-a/p1"});
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256"});
  env_["HSM_MIGRATE_PIN"] = "e2e-partition-pin";
  EXPECT_EQ(run({"key", "generate", "hsm-a/p1", "--type", "aes-256"}).rc, kAuth);
}

// Issue 10 §6: as in PKCS#11, a partition's private objects are listed only
// after the login; without it, only public objects.
TEST_F(Hardening, ListingPrivateObjectsNeedsTheLogin) {
  make_partition();
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--label", "secret"});
  ok({"key", "generate", "hsm-a/p1", "--type", "ec-p256", "--label", "pair"});
  EXPECT_EQ(ok({"object", "list", "hsm-a/p1", "--json"}).json()["count"], 3);
  env_["HSM_MIGRATE_PIN"] = "";
  auto r = run({"object", "list", "hsm-a/p1"});
  EXPECT_EQ(r.rc, kUsage) << r.err;  // no PIN, no terminal
  EXPECT_NE(r.err.find("PIN"), std::string::npos) << r.err;
  auto pub = ok({"object", "list", "hsm-a/p1", "--public", "--json"}).json();
  ASSERT_EQ(pub["count"], 1);
  EXPECT_EQ(pub["objects"][0]["class"], "public-key");
  env_["HSM_MIGRATE_PIN"] = "not-the-pin";
  EXPECT_EQ(run({"object", "list", "hsm-a/p1"}).rc, kAuth);
}

TEST_F(Hardening, SecretFilesOthersCanReadAreRefused) {
  ok({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.8.0"});
  const fs::path domain = dir_ / "domain.txt";
  std::ofstream(domain) << "e2e-domain\n";
  ::chmod(domain.c_str(), 0644);
  auto r = run({"partition", "create", "hsm-a/p1", "--domain-file", domain.string()});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  EXPECT_NE(r.err.find("chmod 600 " + domain.string()), std::string::npos) << r.err;
  ::chmod(domain.c_str(), 0600);
  ok({"partition", "create", "hsm-a/p1", "--domain-file", domain.string()});
  const fs::path pin = dir_ / "pin.txt";
  std::ofstream(pin) << "e2e-partition-pin\n";
  ::chmod(pin.c_str(), 0640);
  auto p = run({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--pin-file", pin.string()});
  EXPECT_EQ(p.rc, kUsage) << p.err;
  EXPECT_NE(p.err.find("mode 0640"), std::string::npos) << p.err;
  ::chmod(pin.c_str(), 0400);
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--pin-file", pin.string()});
}

TEST_F(Hardening, AWriteErrorOnStandardOutputFails) {
  make_partition();
  // As a shell's `> /dev/full` does.
  pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [k, v] : env_) ::setenv(k.c_str(), v.c_str(), 1);
    std::freopen("/dev/full", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    std::string bin = std::string(HSM_BIN_DIR) + "/hsm-migrate";
    ::execl(bin.c_str(), bin.c_str(), "object", "list", "hsm-a/p1", "--json", nullptr);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), kOther);
}

// SIGINT, SIGTERM and SIGHUP during a backup: the temporary file goes, the
// exit code is 128 + the signal, the destination never appears.
TEST_F(Hardening, SignalsDuringABackupLeaveNoTemporaryFile) {
  make_partition();
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--count", "60000", "--label", "k"});
  const fs::path out = dir_ / "out";
  fs::create_directories(out);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    const fs::path dest = out / ("sig" + std::to_string(sig) + ".hsmar");
    pid_t pid = spawn({"backup", "hsm-a/p1", "--archive", dest.string()}, "sig");
    // Wait until the writer holds its (unnamed, O_TMPFILE) file in `out`,
    // then interrupt.
    bool seen = false;
    for (int i = 0; i < 20000 && !seen; ++i) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        const auto target = fs::read_symlink(e.path(), ec).string();
        if (target.rfind(out.string() + "/", 0) == 0) seen = true;
      }
      if (!seen) std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    ASSERT_TRUE(seen) << "the backup never started writing";
    ::kill(pid, sig);
    CliRun r = finish(pid, "sig");
    EXPECT_EQ(r.rc, 128 + sig) << r.err;
    EXPECT_TRUE(fs::is_empty(out)) << "signal " << sig << " left " << fs::directory_iterator(out)->path();
    EXPECT_FALSE(fs::exists(dest));
  }
  // SIGKILL cannot be caught: the writer's file has no name until commit, so
  // nothing is left either.
  {
    const fs::path dest = out / "killed.hsmar";
    pid_t pid = spawn({"backup", "hsm-a/p1", "--archive", dest.string()}, "kill");
    bool seen = false;
    for (int i = 0; i < 20000 && !seen; ++i) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec))
        if (fs::read_symlink(e.path(), ec).string().rfind(out.string() + "/", 0) == 0) seen = true;
      if (!seen) std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    ASSERT_TRUE(seen);
    ::kill(pid, SIGKILL);
    EXPECT_EQ(finish(pid, "kill").rc, 128 + SIGKILL);
    EXPECT_TRUE(fs::is_empty(out));
  }
  ok({"backup", "hsm-a/p1", "--archive", (out / "whole.hsmar").string()});
}

}  // namespace
}  // namespace hsm::e2e
