// The foundation, end to end through the built binary: plugin loading,
// persistent devices, the configuration refusals with rule IDs and exit codes.
#include "harness.hpp"

namespace hsm::e2e {
namespace {

class Foundation : public Cli {};

TEST_F(Foundation, PluginsListsTheFiveKinds) {
  auto r = ok({"plugins", "--json"});
  auto j = r.json();
  std::vector<std::string> kinds;
  for (const auto& p : j["loaded"]) kinds.push_back(p["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"backup-g5", "cloud", "luna6", "luna7", "pkcs11"}));
  for (const auto& p : j["loaded"]) EXPECT_EQ(p["version"], "0.1.0");
  EXPECT_TRUE(j["refused"].empty());
}

TEST_F(Foundation, BrokenPluginsAreRefusedWhileTheOthersLoad) {
  const fs::path dir = dir_ / "plugins";
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(HSM_PLUGIN_DIR)) fs::copy(e.path(), dir / e.path().filename());
  for (const auto& e : fs::directory_iterator(HSM_TEST_PLUGIN_DIR)) fs::copy(e.path(), dir / e.path().filename());
  std::ofstream(dir / "libhsm-garbage.so") << "this is not an ELF module\n";
  env_["HSM_MIGRATE_PLUGIN_PATH"] = dir.string();
  auto j = ok({"plugins", "--json"}).json();
  EXPECT_EQ(j["loaded"].size(), 5u);
  std::map<std::string, std::string> refused;
  for (const auto& r : j["refused"])
    refused[fs::path(r["file"].get<std::string>()).filename().string()] = r["reason"];
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_NE(refused["libhsm-garbage.so"].find("not a loadable module"), std::string::npos);
  EXPECT_NE(refused["libhsm-test-bad_abi.so"].find("interface version 999"), std::string::npos);
  EXPECT_NE(refused["libhsm-test-no_entry.so"].find("entry point"), std::string::npos);
  // Other commands still work, and say which module was refused, once each.
  auto r = ok({"device", "create", "a", "--kind", "luna7"});
  EXPECT_NE(r.err.find("libhsm-garbage.so refused"), std::string::npos) << r.err;
  // --plugin-dir overrides the environment.
  auto j2 = ok({"plugins", "--json", "--plugin-dir", HSM_PLUGIN_DIR}).json();
  EXPECT_TRUE(j2["refused"].empty());
}

TEST_F(Foundation, StateSurvivesProcessRestarts) {
  ok({"device", "create", "hsm-a", "--kind", "luna6", "--firmware", "6.10.9"});
  ok({"partition", "create", "hsm-a/p1"});
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--count", "3", "--label", "k"});
  ok({"key", "generate", "hsm-a/p1", "--type", "rsa-2048", "--label", "sig"});
  ok({"device", "clock", "hsm-a", "--skew", "-120"});
  auto j = ok({"object", "list", "hsm-a/p1", "--json"}).json();
  ASSERT_EQ(j["count"], 5);
  EXPECT_EQ(j["objects"][0]["label"], "k-1");
  EXPECT_EQ(j["objects"][3]["class"], "private-key");
  EXPECT_EQ(j["objects"][4]["class"], "public-key");
  auto d = ok({"device", "show", "hsm-a", "--json"}).json();
  EXPECT_EQ(d["firmware"], "6.10.9");
  EXPECT_EQ(d["clock_skew_seconds"], -120);
  EXPECT_EQ(d["partitions"][0]["object_count"], 5);
  auto list = ok({"device", "list", "--json"}).json();
  EXPECT_EQ(list["devices"][0]["name"], "hsm-a");
}

TEST_F(Foundation, DeviceCreateRefusesFirmwareBelowSix) {  // rule P1
  refused({"device", "create", "old", "--kind", "luna6", "--firmware", "5.2.0"}, "P1");
  EXPECT_FALSE(fs::exists(dir_ / "fleet" / "devices" / "old")) << "nothing half-made stays";
  refused({"device", "create", "odd", "--kind", "luna7", "--firmware", "6.10.9"}, "P1");
}

TEST_F(Foundation, UpgradeIsUpwardOnlyAndAddsPolicy42) {  // rule P1, P5
  ok({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.4.0"});
  ok({"partition", "create", "hsm-a/p1"});
  refused({"device", "upgrade", "hsm-a", "--firmware", "7.2.0"}, "P1");
  ok({"device", "upgrade", "hsm-a", "--firmware", "7.7.1"});
  auto p = ok({"partition", "show", "hsm-a/p1", "--json"}).json();
  EXPECT_EQ(p["partition"]["policies"]["42"], 0);
}

TEST_F(Foundation, V1PartitionBefore770Refused) {  // rule X7
  ok({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.4.2"});  // X9: a path to 7.7.0
  refused({"partition", "create", "hsm-a/v1", "--type", "v1"}, "X7");
  ok({"device", "upgrade", "hsm-a", "--firmware", "7.7.0"});
  ok({"partition", "create", "hsm-a/v1", "--type", "v1"});
}

TEST_F(Foundation, Policy42OnFipsOrV1PartitionRefused) {  // rule P5
  ok({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.7.1"});
  ok({"partition", "create", "hsm-a/fips", "--fips"});
  ok({"partition", "create", "hsm-a/sks", "--type", "v1"});
  ok({"partition", "create", "hsm-a/plain"});
  refused({"partition", "policy", "hsm-a/fips", "--set", "42=1"}, "P5");
  refused({"partition", "policy", "hsm-a/sks", "--set", "42=1"}, "P5");
  auto j = ok({"partition", "policy", "hsm-a/plain", "--set", "42=1", "--json"}).json();
  EXPECT_EQ(j["partition"]["policies"]["42"], 1);
}

TEST_F(Foundation, DomainCommandsNeed780AndPolicy44) {  // rule D1
  ok({"device", "create", "old", "--kind", "luna7", "--firmware", "7.7.1"});
  ok({"partition", "create", "old/p1"});
  std::ofstream(dir_ / "second.txt") << "second-domain\n";
  const std::string second = (dir_ / "second.txt").string();
  refused({"partition", "domain", "add", "old/p1", "--domain-file", second, "--label", "b"}, "D1");
  ok({"device", "create", "new", "--kind", "luna7", "--firmware", "7.8.0"});
  ok({"partition", "create", "new/p1"});
  auto r = refused({"partition", "domain", "add", "new/p1", "--domain-file", second, "--label", "b"}, "D1");
  EXPECT_NE(r.err.find("--set 44=1"), std::string::npos) << "names the fix: " << r.err;
  ok({"partition", "policy", "new/p1", "--set", "44=1"});
  ok({"partition", "domain", "add", "new/p1", "--domain-file", second, "--label", "b"});
}

TEST_F(Foundation, FourthDomainAndPrimaryDeletionRefused) {  // rules D1, D3
  ok({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.8.0"});
  ok({"partition", "create", "hsm-a/p1", "--domain-label", "a"});
  ok({"partition", "policy", "hsm-a/p1", "--set", "44=1"});
  ok({"partition", "domain", "add", "hsm-a/p1", "--ped-key", (dir_ / "b.ped").string(), "--label", "b"});
  ok({"partition", "domain", "add", "hsm-a/p1", "--ped-key", (dir_ / "c.ped").string(), "--label", "c",
      "--primary"});
  EXPECT_EQ(fs::status(dir_ / "b.ped").permissions() & fs::perms::others_all, fs::perms::none);
  auto r = refused({"partition", "domain", "add", "hsm-a/p1", "--ped-key", (dir_ / "d.ped").string(),
                    "--label", "d"}, "D1");
  EXPECT_NE(r.err.find("CKR_DOMAIN_MAX_REACHED"), std::string::npos);
  refused({"partition", "domain", "delete", "hsm-a/p1", "--label", "c"}, "D3");
  ok({"partition", "domain", "delete", "hsm-a/p1", "--label", "b"});
  auto j = ok({"partition", "domain", "list", "hsm-a/p1", "--json"}).json();
  ASSERT_EQ(j["domains"].size(), 2u);
  EXPECT_EQ(j["domains"][0]["label"], "a");
  EXPECT_EQ(j["domains"][1]["label"], "c");
  EXPECT_EQ(j["domains"][1]["primary"], true);
}

TEST_F(Foundation, FmEnableBelow740OrTwiceRefused) {  // rule S2
  ok({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.3.0"});
  refused({"device", "enable-fm", "hsm-a"}, "S2");
  ok({"device", "upgrade", "hsm-a", "--firmware", "7.4.0"});
  ok({"device", "policy", "hsm-a", "--set", "50=1"});  // rule X9: FMs need HSM policy 50
  ok({"device", "enable-fm", "hsm-a"});
  refused({"device", "enable-fm", "hsm-a"}, "S2");
  refused({"device", "create", "fm-old", "--kind", "luna7", "--firmware", "7.2.0", "--fm", "enabled"}, "S2");
  auto j = ok({"device", "create", "fm-new", "--kind", "luna7", "--firmware", "7.8.0", "--fm", "enabled",
               "--json"}).json();
  EXPECT_EQ(j["created"]["fm"], "enabled");
}

TEST_F(Foundation, CloudRefusesThe101stObject) {  // rule C1
  ok({"device", "create", "dpod", "--kind", "cloud"});
  ok({"partition", "create", "dpod/svc"});
  ok({"key", "generate", "dpod/svc", "--type", "aes-256", "--count", "100"});
  auto r = refused({"key", "generate", "dpod/svc", "--type", "aes-256"}, "C1");
  EXPECT_NE(r.err.find("CKR_MAX_OBJECT_COUNT_EXCEEDED"), std::string::npos);
  EXPECT_EQ(ok({"object", "list", "dpod/svc", "--json"}).json()["count"], 100);
  refused({"partition", "create", "dpod/second"}, "C1");
}

TEST_F(Foundation, SuitesFrom780) {  // rule U2
  ok({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.8.0"});
  ok({"partition", "create", "hsm-a/p1"});
  auto j = ok({"partition", "suites", "hsm-a/p1", "--disable", "aes-256-gcm", "--json"}).json();
  EXPECT_EQ(j["suites_enabled"], (std::vector<std::string>{"chacha20-poly1305"}));
  ok({"device", "create", "hsm-b", "--kind", "luna7", "--firmware", "7.7.1"});
  ok({"partition", "create", "hsm-b/p1"});
  refused({"partition", "suites", "hsm-b/p1", "--enable", "aes-256-gcm"}, "U2");
}

TEST_F(Foundation, ErrorsAreOneLineWithDocumentedExitCodes) {
  auto r = run({"device", "show", "nope"});
  EXPECT_EQ(r.rc, kUsage);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("no device named nope"), std::string::npos);
  EXPECT_EQ(run({"frobnicate"}).rc, kUsage);
  EXPECT_EQ(run({"key", "generate", "bad-address", "--type", "aes-256"}).rc, kUsage);
  auto j = run({"device", "show", "nope", "--json"});
  EXPECT_EQ(j.json()["error"]["exit_code"], kUsage);
  ok({"device", "create", "hsm-a", "--kind", "luna7"});
  EXPECT_EQ(run({"device", "create", "hsm-a", "--kind", "luna7"}).rc, kUsage);
}

TEST_F(Foundation, SecretsNeverFromArgvAndPinChecked) {
  ok({"device", "create", "hsm-a", "--kind", "luna7"});
  ok({"partition", "create", "hsm-a/p1"});
  // No PIN anywhere and no terminal: a usage error that says how to give one.
  env_["HSM_MIGRATE_PIN"] = "";
  auto r = run({"key", "generate", "hsm-a/p1", "--type", "aes-256"});
  EXPECT_EQ(r.rc, kUsage);
  EXPECT_NE(r.err.find("HSM_MIGRATE_PIN"), std::string::npos) << r.err;
  std::ofstream(dir_ / "wrong.pin") << "not-the-pin\n";
  EXPECT_EQ(run({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--pin-file",
                 (dir_ / "wrong.pin").string()}).rc, kAuth);  // issue 10: a wrong PIN is its own outcome
  std::ofstream(dir_ / "right.pin") << "e2e-partition-pin\n";
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--pin-file", (dir_ / "right.pin").string()});
  // There is no option that takes a secret value.
  EXPECT_EQ(run({"partition", "create", "hsm-a/p2", "--domain", "x"}).rc, kUsage);
}

TEST_F(Foundation, KeyGenerationRulesAtTheCommandLine) {  // rules K1, K3, K4
  ok({"device", "create", "l6", "--kind", "luna6"});
  ok({"partition", "create", "l6/p1"});
  refused({"key", "generate", "l6/p1", "--type", "ed25519"}, "K1");
  // K4: a modern client remaps X9.31 to 186-3; an old one does not.
  auto j = ok({"key", "generate", "l6/p1", "--type", "rsa-2048", "--keygen-mechanism", "x9.31", "--json"}).json();
  EXPECT_EQ(j["created"][0]["keygen_mechanism"], "186-3");
  j = ok({"key", "generate", "l6/p1", "--type", "rsa-2048", "--keygen-mechanism", "x9.31",
          "--client-version", "10.0.0", "--json"}).json();
  EXPECT_EQ(j["created"][0]["keygen_mechanism"], "x9.31");
  ok({"device", "create", "l7", "--kind", "luna7"});
  ok({"partition", "create", "l7/p1"});
  refused({"key", "generate", "l7/p1", "--type", "rsa-2048", "--keygen-mechanism", "x9.31",
           "--client-version", "10.0.0"}, "K3");
  j = ok({"key", "generate", "l7/p1", "--type", "aes-256", "--non-extractable", "--json"}).json();
  EXPECT_EQ(j["created"][0]["extractable"], false);
}

}  // namespace
}  // namespace hsm::e2e
