// Archives end to end (issue 4): backup, verify, restore, drill, corruption,
// the S1 refusal across domains and the partition lock, through the binary.
#include <sys/file.h>
#include <fcntl.h>

#include <cstdint>
#include <cstdlib>
#include <set>

#include "harness.hpp"

namespace hsm::e2e {
namespace {

std::string bytes_of_file(const fs::path& p) { return slurp(p); }
void write_file(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

std::uint64_t le(const std::string& s, std::size_t off, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[off + static_cast<std::size_t>(i)]);
  return v;
}

class Archive : public Cli {
 protected:
  // hsm-6 (Luna 6) /src with 3 AES keys and an RSA pair; hsm-7 (Luna 7
  // 7.7.0) /dst and /scratch, all in the same domain.
  void make_fleet() {
    ok({"device", "create", "hsm-6", "--kind", "luna6", "--firmware", "6.10.9"});
    ok({"partition", "create", "hsm-6/src"});
    ok({"key", "generate", "hsm-6/src", "--type", "aes-256", "--count", "3", "--label", "k"});
    ok({"key", "generate", "hsm-6/src", "--type", "rsa-2048", "--label", "sig"});
    ok({"device", "create", "hsm-7", "--kind", "luna7", "--firmware", "7.7.0"});
    ok({"partition", "create", "hsm-7/dst"});
    ok({"partition", "create", "hsm-7/scratch"});
  }
  fs::path backup(const std::string& name = "a.hsmar") {
    const fs::path p = dir_ / name;
    ok({"backup", "hsm-6/src", "--archive", p.string()});
    return p;
  }
  nlohmann::json objects(const std::string& part) { return ok({"object", "list", part, "--json"}).json(); }
  std::uint64_t count(const std::string& part) { return objects(part)["count"].get<std::uint64_t>(); }
};

TEST_F(Archive, LunaSixToLunaSevenSameDomainRestoresTheSameKeys) {
  make_fleet();
  const std::string templ = (dir_ / "nightly-%Y%m%d-%H%M%S.hsmar").string();
  auto b = ok({"backup", "hsm-6/src", "--archive", templ, "--json"}).json();
  const fs::path path = b["archive"].get<std::string>();
  EXPECT_EQ(path.filename().string().find('%'), std::string::npos) << path;  // template expanded
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(b["objects"], 5);
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  // The archive holds no key material in clear: no key's fingerprint... and
  // verify needs no secret at all.
  env_["HSM_MIGRATE_PIN"] = "";
  env_["HSM_MIGRATE_DOMAIN"] = "";
  auto v = ok({"verify", path.string(), "--json"}).json();
  EXPECT_EQ(v["blobs_checked"], 5);
  EXPECT_EQ(v["header"]["device_kind"], "luna6");
  EXPECT_EQ(v["header"]["source"], "hsm-6/src");
  env_["HSM_MIGRATE_PIN"] = "e2e-partition-pin";
  env_["HSM_MIGRATE_DOMAIN"] = "e2e-domain";

  auto r = ok({"restore", path.string(), "--to", "hsm-7/dst", "--json"}).json();
  EXPECT_EQ(r["counts"]["created"], 5);
  EXPECT_EQ(r["counts"]["refused"], 0);
  // Same keys: equal content fingerprints (HMAC of the secret for AES, the
  // public key for RSA) and the attributes.
  auto src = objects("hsm-6/src")["objects"], dst = objects("hsm-7/dst")["objects"];
  ASSERT_EQ(src.size(), dst.size());
  for (std::size_t i = 0; i < src.size(); ++i) {
    EXPECT_EQ(src[i]["fingerprint"], dst[i]["fingerprint"]);
    EXPECT_EQ(src[i]["label"], dst[i]["label"]);
    EXPECT_EQ(src[i]["class"], dst[i]["class"]);
  }
  // lunacm --add again: duplicates reported, not doubled.
  auto again = ok({"restore", path.string(), "--to", "hsm-7/dst", "--add", "--json"}).json();
  EXPECT_EQ(again["counts"]["created"], 0);
  EXPECT_EQ(again["counts"]["already_present"], 5);
  EXPECT_EQ(count("hsm-7/dst"), 5u);
  // --replace: the partition's objects go first (an extra key disappears).
  ok({"key", "generate", "hsm-7/dst", "--type", "aes-128", "--label", "extra"});
  auto rep = ok({"restore", path.string(), "--to", "hsm-7/dst", "--replace", "--json"}).json();
  EXPECT_EQ(rep["counts"]["deleted"], 6);
  EXPECT_EQ(rep["counts"]["created"], 5);
  EXPECT_EQ(count("hsm-7/dst"), 5u);
  // --objects: only the selected ones.
  ok({"partition", "create", "hsm-7/sel"});
  auto sel = ok({"restore", path.string(), "--to", "hsm-7/sel", "--objects", "k-2", "--json"}).json();
  EXPECT_EQ(sel["counts"]["created"], 1);
  EXPECT_EQ(objects("hsm-7/sel")["objects"][0]["label"], "k-2");
}

TEST_F(Archive, RestoreIntoAnotherDomainFailsS1AndWritesNothing) {
  make_fleet();
  const fs::path path = backup();
  env_["HSM_MIGRATE_DOMAIN"] = "another-domain";
  ok({"partition", "create", "hsm-7/other"});
  // The archive does not open there: an integrity failure naming rule S1,
  // in one line.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"restore", path.string(), "--to", "hsm-7/other"},
        std::vector<std::string>{"verify", path.string(), "--deep", "--with", "hsm-7/other"}}) {
    auto r = run(args);
    EXPECT_EQ(r.rc, kIntegrity) << r.err;
    EXPECT_NE(r.err.find("rule S1 "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("archive of domain"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(count("hsm-7/other"), 0u);
  env_["HSM_MIGRATE_DOMAIN"] = "e2e-domain";
  auto d = ok({"verify", path.string(), "--deep", "--with", "hsm-7/dst", "--json"}).json();
  EXPECT_EQ(d["deep"]["blobs_opened"], 5);
  EXPECT_EQ(count("hsm-7/dst"), 0u);  // --deep writes nothing
}

TEST_F(Archive, DrillPassesAndLeavesTheScratchPartitionAsItWas) {
  make_fleet();
  ok({"key", "generate", "hsm-7/scratch", "--type", "aes-256", "--label", "resident"});
  const fs::path path = backup();
  auto d = ok({"drill", path.string(), "--scratch", "hsm-7/scratch", "--json"}).json();
  EXPECT_TRUE(d["ok"].get<bool>());
  EXPECT_EQ(d["counts"]["passed"], 5);
  EXPECT_EQ(d["counts"]["failed"], 0);
  ASSERT_EQ(d["objects"].size(), 5u);
  for (const auto& o : d["objects"]) EXPECT_EQ(o["status"], "passed") << o.dump();
  auto left = objects("hsm-7/scratch");
  ASSERT_EQ(left["count"], 1);
  EXPECT_EQ(left["objects"][0]["label"], "resident");
  auto text = ok({"drill", path.string(), "--scratch", "hsm-7/scratch"});
  EXPECT_NE(text.out.find("5 passed, 0 failed"), std::string::npos) << text.out;
}

TEST_F(Archive, DrillFailsWhenAKeyInTheScratchPartitionWasTamperedWith) {
  make_fleet();
  const fs::path path = backup();
  // A different AES key in the scratch partition, whose fingerprint column
  // claims to be the archived k-2: dedup takes it for k-2, the drill uses it.
  ok({"key", "generate", "hsm-7/scratch", "--type", "aes-256", "--label", "impostor"});
  const std::string fp = objects("hsm-6/src")["objects"][1]["fingerprint"];
  const fs::path db = dir_ / "fleet" / "devices" / "hsm-7" / "state.db";
  const std::string sql = "UPDATE object SET fingerprint = '" + fp + "' WHERE label = 'impostor';";
  ASSERT_EQ(std::system(("sqlite3 '" + db.string() + "' \"" + sql + "\"").c_str()), 0);
  auto r = run({"drill", path.string(), "--scratch", "hsm-7/scratch", "--json"});
  EXPECT_EQ(r.rc, kIntegrity) << r.err;
  auto d = r.json();
  EXPECT_FALSE(d["ok"].get<bool>());
  EXPECT_EQ(d["counts"]["failed"], 1);
  EXPECT_EQ(d["counts"]["passed"], 4);
  bool seen = false;
  for (const auto& o : d["objects"])
    if (o["label"] == "k-2") {
      seen = true;
      EXPECT_EQ(o["status"], "failed");
      EXPECT_NE(o["detail"].get<std::string>().find("key check value"), std::string::npos) << o.dump();
    }
  EXPECT_TRUE(seen);
  EXPECT_EQ(count("hsm-7/scratch"), 1u);
  auto t = run({"drill", path.string(), "--scratch", "hsm-7/scratch"});
  EXPECT_EQ(t.rc, kIntegrity);
  EXPECT_NE(t.err.find("#2 k-2"), std::string::npos) << t.err;
}

// Every corruption, a file that is not an archive, a future version and an
// archive of another domain are refused with their own message and the
// integrity code (4), and the target is unchanged.
TEST_F(Archive, CorruptionIsRefusedAndNothingIsWritten) {
  make_fleet();
  const fs::path good = backup();
  const std::string bytes = bytes_of_file(good);
  const std::size_t header_end = 16 + le(bytes, 12, 4) + 32;
  const std::size_t rec0 = header_end;
  const std::size_t rec0_len = 14 + static_cast<unsigned char>(bytes[rec0 + 9]) + le(bytes, rec0 + 10, 4);
  const std::size_t rec1 = rec0 + rec0_len;
  const std::size_t rec1_len = 14 + static_cast<unsigned char>(bytes[rec1 + 9]) + le(bytes, rec1 + 10, 4);
  ASSERT_EQ(rec0_len, rec1_len);  // k-1 and k-2: same sizes, so they can swap
  ASSERT_EQ(le(bytes, 8, 4), 2u);                      // format version 2
  const std::size_t trailer = bytes.size() - 140;     // digest, signature, MAC, index offset, magic
  const std::size_t index = le(bytes, trailer + 96 + 28, 8);

  struct Case {
    std::string name;
    std::string data;
    int rc;
    std::string message;
  };
  auto flip = [&](std::size_t at) {
    std::string s = bytes;
    s[at] = static_cast<char>(s[at] ^ 0x10);
    return s;
  };
  std::string swapped = bytes;
  swapped.replace(rec0, rec0_len, bytes.substr(rec1, rec1_len));
  swapped.replace(rec1, rec1_len, bytes.substr(rec0, rec0_len));
  std::string future = bytes;
  future[8] = 9;
  std::vector<Case> cases = {
      {"header", flip(40), kIntegrity, "header"},
      {"blob", flip(rec1 + 30), kIntegrity, "blob"},
      {"index", flip(index + 30), kIntegrity, "index"},
      {"trailer", flip(trailer + 40), kIntegrity, "signature"},
      {"truncated-prefix", bytes.substr(0, 10), kIntegrity, "truncated"},
      {"truncated-header", bytes.substr(0, 100), kIntegrity, ""},
      {"truncated-blobs", bytes.substr(0, rec1 + 5), kIntegrity, ""},
      {"truncated-trailer", bytes.substr(0, bytes.size() - 20), kIntegrity, ""},
      {"swapped", swapped, kIntegrity, "blob"},
      {"not-an-archive", "this is a shopping list\n", kIntegrity, "not an"},
      {"future-version", future, kIntegrity, "newer than this hsm-migrate understands"},
  };
  std::set<std::string> messages;
  for (const auto& c : cases) {
    const fs::path p = dir_ / ("bad-" + c.name);
    write_file(p, c.data);
    auto v = run({"verify", p.string()});
    EXPECT_EQ(v.rc, c.rc) << c.name << ": " << v.err;
    EXPECT_NE(v.err.find(c.message), std::string::npos) << c.name << ": " << v.err;
    auto r = run({"restore", p.string(), "--to", "hsm-7/dst"});
    EXPECT_EQ(r.rc, c.rc) << c.name << ": " << r.err;
    EXPECT_EQ(count("hsm-7/dst"), 0u) << c.name;
    messages.insert(v.err);
  }
  // Each case its own message (the two header truncations may share one).
  EXPECT_GE(messages.size(), cases.size() - 2);

  // An archive from another domain, restored into this one: S1 (refused).
  env_["HSM_MIGRATE_DOMAIN"] = "another-domain";
  ok({"partition", "create", "hsm-6/foreign"});
  ok({"key", "generate", "hsm-6/foreign", "--type", "aes-256"});
  const fs::path foreign = dir_ / "foreign.hsmar";
  ok({"backup", "hsm-6/foreign", "--archive", foreign.string()});
  env_["HSM_MIGRATE_DOMAIN"] = "e2e-domain";
  auto f = run({"restore", foreign.string(), "--to", "hsm-7/dst"});
  EXPECT_EQ(f.rc, kIntegrity) << f.err;
  EXPECT_NE(f.err.find("rule S1 "), std::string::npos) << f.err;
  messages.insert(f.err);
  EXPECT_GE(messages.size(), cases.size() - 1);
  EXPECT_EQ(count("hsm-7/dst"), 0u);
}

// Rule X4 (issue 10 §2): restore --replace is all or nothing. An archive
// holding an RSA-1024 key restored into a FIPS partition used to delete the
// partition's objects and commit a partial restore (exit 3, "3 deleted
// first", 2 of 4 restored).
// The source is a non-FIPS Luna 7.8 (named hsm-6 for backup()): a Luna 6
// archive would be refused as a whole by P5/P8 (CPv1 into a FIPS 7.8
// partition), and X4 is about refusals object by object.
TEST_F(Archive, X4ReplaceWithARefusedObjectDeletesNothingAndWritesNothing) {
  ok({"device", "create", "hsm-6", "--kind", "luna7", "--firmware", "7.8.0"});
  ok({"partition", "create", "hsm-6/src"});
  ok({"key", "generate", "hsm-6/src", "--type", "aes-256", "--count", "2", "--label", "k"});
  ok({"key", "generate", "hsm-6/src", "--type", "rsa-1024", "--label", "weak"});
  ok({"device", "create", "hsm-7", "--kind", "luna7", "--firmware", "7.8.0"});  // X2: FIPS per partition from 7.7.1
  ok({"partition", "create", "hsm-7/fips", "--fips"});
  ok({"key", "generate", "hsm-7/fips", "--type", "aes-256", "--count", "3", "--label", "resident"});
  const auto before = objects("hsm-7/fips")["objects"];
  const fs::path a = backup();
  auto r = run({"restore", a.string(), "--to", "hsm-7/fips", "--replace", "--json"});
  EXPECT_EQ(r.rc, kRefused) << r.err;
  auto j = r.json();
  EXPECT_TRUE(j.contains("replace_blocked")) << j.dump();
  EXPECT_EQ(j["counts"]["deleted"], 0);
  EXPECT_EQ(j["counts"]["created"], 0);
  EXPECT_TRUE(j["created"].empty());
  EXPECT_EQ(j["refused"].size(), 2u);  // the RSA-1024 pair, with rule and fix
  EXPECT_EQ(j["refused"][0]["rule"], "K2");
  EXPECT_EQ(objects("hsm-7/fips")["objects"], before) << "the partition is exactly as it was";
  auto t = run({"restore", a.string(), "--to", "hsm-7/fips", "--replace"});
  EXPECT_EQ(t.rc, kRefused);
  EXPECT_NE(t.out.find("nothing deleted, nothing restored"), std::string::npos) << t.out;
  // --add restores what the rules allow, as before.
  auto add = run({"restore", a.string(), "--to", "hsm-7/fips", "--json"});
  EXPECT_EQ(add.rc, kRefused);
  EXPECT_EQ(add.json()["counts"]["created"], 2);
  EXPECT_EQ(count("hsm-7/fips"), 5u);
}

TEST_F(Archive, AnExistingArchiveIsNeverOverwrittenWithoutForce) {
  make_fleet();
  const fs::path p = backup();
  const std::string before = bytes_of_file(p);
  auto r = run({"backup", "hsm-6/src", "--archive", p.string()});
  EXPECT_EQ(r.rc, kUsage);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(bytes_of_file(p), before);
  ok({"backup", "hsm-6/src", "--archive", p.string(), "--force"});
  EXPECT_NE(bytes_of_file(p), before);  // a new archive id and master key
  auto q = run({"backup", "hsm-6/src", "--archive", (dir_ / "q.hsmar").string(), "--quiet"});
  EXPECT_EQ(q.rc, kOk);
  EXPECT_TRUE(q.out.empty()) << q.out;
  EXPECT_TRUE(q.err.empty()) << q.err;
  auto t = ok({"backup", "hsm-6/src", "--archive", (dir_ / "t.hsmar").string()});
  EXPECT_NE(t.out.find("backed up 5 object(s)"), std::string::npos) << t.out;
}

TEST_F(Archive, TwoBackupsOfOnePartitionAtOnceOneExitsWithTheLockCode) {
  make_fleet();
  const fs::path locks = dir_ / "fleet" / "locks";
  fs::create_directories(locks);
  const fs::path lock = locks / "hsm-6.src.lock";
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string boot = [] {
    std::string b = slurp("/proc/sys/kernel/random/boot_id");
    while (!b.empty() && b.back() == '\n') b.pop_back();
    return b;
  }();
  auto record = [&](long pid) {
    return nlohmann::json{{"host", std::string(host)}, {"boot_id", boot}, {"pid", pid},
                          {"started", 1}, {"command", "backup"}}
        .dump();
  };
  {
    // A live holder (this test process) holds the flock: busy, exit 5.
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    write_file(lock, record(::getpid()));
    auto r = run({"backup", "hsm-6/src", "--archive", (dir_ / "busy.hsmar").string()});
    EXPECT_EQ(r.rc, kBusy) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "busy.hsmar"));
    auto w = run({"backup", "hsm-6/src", "--archive", (dir_ / "busy.hsmar").string(), "--wait", "1"});
    EXPECT_EQ(w.rc, kBusy) << w.err;
    ::close(fd);
  }
  {
    // A live holder that finishes within the wait: the second backup waits.
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t holder = ::fork();
    if (holder == 0) {
      const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0600);
      if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
      write_file(lock, record(::getpid()));
      (void)!::write(ready[1], "x", 1);
      ::usleep(800 * 1000);
      ::_exit(0);  // the kernel releases the flock
    }
    char c;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ::close(ready[0]);
    ::close(ready[1]);
    auto w = run({"backup", "hsm-6/src", "--archive", (dir_ / "waited.hsmar").string(), "--wait", "20"});
    ::waitpid(holder, nullptr, 0);
    EXPECT_EQ(w.rc, kOk) << w.err;
    EXPECT_TRUE(fs::exists(dir_ / "waited.hsmar"));
  }
  // A stale record of a dead process, flock free: taken over, and said so.
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  write_file(lock, record(dead));
  auto r = ok({"backup", "hsm-6/src", "--archive", (dir_ / "after.hsmar").string()});
  EXPECT_NE(r.err.find("took over"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "after.hsmar"));
}

}  // namespace
}  // namespace hsm::e2e
