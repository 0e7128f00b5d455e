// The rule gaps of issue 14 end to end through the built binary: C1 counts
// only the objects a clone would create (the nightly re-sync of a cloud
// standby), X9 (HSM policy 50 before enable-fm; the documented Luna 7
// update paths) and X6 (the Backup HSM G5 update paths), in `check`,
// `clone`, `device`, `hagroup` and `plan check` / `plan order` alike.
#include "harness.hpp"

namespace hsm::e2e {
namespace {

class RuleGaps : public Cli {
 protected:
  void device(const std::string& name, const std::string& kind, const std::string& firmware = "") {
    std::vector<std::string> d{"device", "create", name, "--kind", kind};
    if (!firmware.empty()) d.insert(d.end(), {"--firmware", firmware});
    ok(d);
  }
  void partition(const std::string& addr) { ok({"partition", "create", addr}); }
  std::uint64_t count(const std::string& part) {
    return ok({"object", "list", part, "--json"}).json()["count"].get<std::uint64_t>();
  }
  std::string firmware(const std::string& dev) {
    return ok({"device", "show", dev, "--json"}).json()["firmware"].get<std::string>();
  }
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  // A Luna 7 7.8.0 partition with `keys` AES keys, and an empty cloud service.
  void cloud_fleet(int keys) {
    device("a", "luna7", "7.8.0");
    partition("a/p");
    device("svc", "cloud");
    partition("svc/p");
    ok({"key", "generate", "a/p", "--type", "aes-256", "--count", std::to_string(keys), "--label",
        "k"});
  }
};

// ---- rule C1 ------------------------------------------------------------------------

TEST_F(RuleGaps, RuleC1_CloneTwiceIntoACloudServiceSecondReportsHundredAlreadyPresent) {
  cloud_fleet(100);
  auto first = ok({"clone", "a/p", "svc/p", "--json"}).json();
  EXPECT_EQ(first["cloned"].size(), 100u);
  EXPECT_TRUE(first["refused"].empty()) << first.dump();
  EXPECT_EQ(count("svc/p"), 100u);

  // The re-sync: check allows every object and says they are present ...
  auto c = ok({"check", "a/p", "svc/p", "--object", "all", "--json"}).json();
  EXPECT_TRUE(c["allowed"]) << c.dump();
  EXPECT_EQ(c["objects_refused"], 0);
  EXPECT_EQ(c["objects_already_present"], 100);
  for (const auto& o : c["objects"]) EXPECT_TRUE(o["already_present"]) << o.dump();
  // ... a dry run would clone nothing ...
  auto dry = ok({"clone", "a/p", "svc/p", "--dry-run", "--json"}).json();
  EXPECT_TRUE(dry["would_clone"].empty()) << dry.dump();
  EXPECT_EQ(dry["already_present"].size(), 100u);
  // ... and the clone reports all 100 as already present, exit 0.
  CliRun again = run({"clone", "a/p", "svc/p", "--json"});
  EXPECT_EQ(again.rc, kOk) << again.err;
  auto j = again.json();
  EXPECT_TRUE(j["cloned"].empty()) << j.dump();
  EXPECT_EQ(j["already_present"].size(), 100u);
  EXPECT_TRUE(j["refused"].empty()) << j.dump();
  EXPECT_EQ(count("svc/p"), 100u) << "a re-sync doubles nothing";
  // The text report says so too.
  auto text = ok({"clone", "a/p", "svc/p"});
  EXPECT_NE(text.out.find("0 cloned, 100 already present, 0 refused"), std::string::npos)
      << text.out;
}

TEST_F(RuleGaps, RuleC1_ANewKeyBeyondTheLimitIsRefusedThePresentOnesAreNot) {
  cloud_fleet(100);
  ok({"clone", "a/p", "svc/p"});
  ok({"key", "generate", "a/p", "--type", "aes-256", "--label", "extra"});
  // check: only the new object is refused, by C1, with the fix.
  CliRun c = run({"check", "a/p", "svc/p", "--object", "all", "--json"});
  EXPECT_EQ(c.rc, kRefused) << c.err;
  auto cj = c.json();
  EXPECT_EQ(cj["objects_refused"], 1);
  EXPECT_EQ(cj["objects_already_present"], 100);
  for (const auto& o : cj["objects"]) {
    if (o["label"] == "extra") {
      EXPECT_FALSE(o["allowed"]);
      EXPECT_EQ(o["rule"], "C1");
      EXPECT_EQ(o["code"], "CKR_MAX_OBJECT_COUNT_EXCEEDED");
      EXPECT_NE(o["fix"].get<std::string>().find("use another cloud service"), std::string::npos);
    } else {
      EXPECT_TRUE(o["allowed"]) << o.dump();
    }
  }
  refused({"check", "a/p", "svc/p", "--object", "all"}, "C1");
  // clone: the same verdict; the service is unchanged.
  CliRun r = run({"clone", "a/p", "svc/p", "--json"});
  EXPECT_EQ(r.rc, kRefused) << r.err;
  auto j = r.json();
  EXPECT_TRUE(j["cloned"].empty());
  EXPECT_EQ(j["already_present"].size(), 100u);
  ASSERT_EQ(j["refused"].size(), 1u);
  EXPECT_EQ(j["refused"][0]["label"], "extra");
  EXPECT_EQ(j["refused"][0]["rule"], "C1");
  EXPECT_EQ(count("svc/p"), 100u);
}

TEST_F(RuleGaps, RuleC1_HaReplicationToACloudStandby) {
  cloud_fleet(100);
  ok({"hagroup", "create", "web", "--primary", "a/p"});
  ok({"clone", "a/p", "svc/p"});
  // The standby holds the primary's 100 objects: replication creates nothing.
  auto added = ok({"hagroup", "add", "web", "svc/p", "--standby", "--json"}).json();
  EXPECT_TRUE(added["group"]["allowed"]) << added.dump();
  ok({"hagroup", "check", "web"});
  // A primary with objects the full standby lacks: refused by C1.
  ok({"key", "generate", "a/p", "--type", "aes-256", "--count", "5", "--label", "new"});
  CliRun r = run({"hagroup", "check", "web"});
  EXPECT_EQ(r.rc, kRefused);
  EXPECT_NE(r.err.find("rule C1 "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lacks 5 of them and 5 would not fit"), std::string::npos) << r.err;
}

// ---- rule X9: HSM policy 50 ---------------------------------------------------------

TEST_F(RuleGaps, RuleX9_EnableFmNeedsHsmPolicy50) {
  device("hsm", "luna7", "7.8.0");
  CliRun r = refused({"device", "enable-fm", "hsm"}, "X9");
  EXPECT_NE(r.err.find("HSM policy 50"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("device policy hsm --set 50=1"), std::string::npos) << r.err;
  EXPECT_EQ(ok({"device", "show", "hsm", "--json"}).json()["fm"], "never");
  ok({"device", "policy", "hsm", "--set", "50=1"});
  ok({"device", "enable-fm", "hsm"});
  EXPECT_EQ(ok({"device", "show", "hsm", "--json"}).json()["fm"], "enabled");
  // A device created with FMs enabled has policy 50 set from the start.
  ok({"device", "create", "fm2", "--kind", "luna7", "--firmware", "7.8.0", "--fm", "enabled"});
  EXPECT_EQ(ok({"device", "show", "fm2", "--json"}).json()["hsm_policies"]["50"], 1);
}

// ---- rules X9 / X6: firmware update paths -----------------------------------------

TEST_F(RuleGaps, RuleX9_UpgradeOutsideTheDocumentedPathRefusedWithThePath) {
  device("hsm", "luna7", "7.0.0");
  CliRun r = refused({"device", "upgrade", "hsm", "--firmware", "7.7.0"}, "X9");
  EXPECT_NE(r.err.find("7.7.0 is reached only from 7.0.1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("update hsm to 7.4.2 first, then to 7.7.0"), std::string::npos) << r.err;
  EXPECT_EQ(firmware("hsm"), "7.0.0") << "a refused upgrade changes nothing";
  ok({"device", "upgrade", "hsm", "--firmware", "7.4.2"});
  ok({"device", "upgrade", "hsm", "--firmware", "7.7.0"});
  EXPECT_EQ(firmware("hsm"), "7.7.0");
  ok({"device", "upgrade", "hsm", "--firmware", "7.8.4"});  // 7.8.4 from 7.0.1 through 7.8.2
  device("late", "luna7", "7.8.3");
  refused({"device", "upgrade", "late", "--firmware", "7.8.4"}, "X9");
}

TEST_F(RuleGaps, RuleX6_BackupHsmUpdatePaths) {
  device("bk", "backup-g5", "6.22.0");
  CliRun r = refused({"device", "upgrade", "bk", "--firmware", "6.28.0"}, "X6");
  EXPECT_NE(r.err.find("6.28.0 is reached only from 6.10.9, 6.26.0 or 6.27.0"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("update bk to 6.27.0 first"), std::string::npos) << r.err;
  ok({"device", "upgrade", "bk", "--firmware", "6.27.0"});
  ok({"device", "upgrade", "bk", "--firmware", "6.28.0"});
  EXPECT_EQ(firmware("bk"), "6.28.0");
}

// ---- plan check / plan order -------------------------------------------------------

TEST_F(RuleGaps, PlanCheckReportsTheStepAndOrderInsertsPolicy50AndThePath) {
  const fs::path plan =
      write("gaps.toml",
            "[plan]\nname = \"gaps\"\n"
            "\n[[device]]\nname = \"a\"\ndescribed = true\nkind = \"luna7\"\nfirmware = \"7.0.0\"\n"
            "[[device.partition]]\nname = \"p\"\ndomain = \"corp\"\n"
            "\n[[device]]\nname = \"b\"\ndescribed = true\nkind = \"luna7\"\nfirmware = \"7.8.0\"\n"
            "[[device.partition]]\nname = \"p\"\ndomain = \"corp\"\n"
            "\n[[step]]\naction = \"upgrade\"\ndevice = \"a\"\nfirmware = \"7.7.0\"\n"
            "\n[[step]]\naction = \"enable-fm\"\ndevice = \"b\"\n");
  CliRun c = run({"plan", "check", plan.string(), "--json"});
  EXPECT_EQ(c.rc, kRefused) << c.err;
  auto doc = c.json();
  EXPECT_FALSE(doc["ok"]);
  ASSERT_EQ(doc["problems"].size(), 2u) << doc.dump();
  EXPECT_EQ(doc["problems"][0]["rule"], "X9");
  EXPECT_EQ(doc["problems"][0]["step"], 1);
  EXPECT_NE(doc["problems"][0]["fix"].get<std::string>().find("update a to 7.4.2 first"),
            std::string::npos);
  EXPECT_EQ(doc["problems"][1]["rule"], "X9");
  EXPECT_EQ(doc["problems"][1]["step"], 2);
  EXPECT_NE(doc["problems"][1]["message"].get<std::string>().find("HSM policy 50"),
            std::string::npos);
  EXPECT_NE(doc["problems"][1]["fix"].get<std::string>().find("set = [\"50=1\"]"),
            std::string::npos);
  // The text report names each step and its fix.
  CliRun text = run({"plan", "check", plan.string()});
  EXPECT_NE(text.out.find("step 1 ("), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("fix: update a to 7.4.2 first, then to 7.7.0"), std::string::npos)
      << text.out;
  // plan order inserts the upgrade to 7.4.2 and the policy-50 step; the
  // printed plan checks clean.
  auto o = ok({"plan", "order", plan.string()});
  EXPECT_NE(o.out.find("firmware = \"7.4.2\""), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("50=1"), std::string::npos) << o.out;
  EXPECT_LT(o.out.find("50=1"), o.out.find("enable-fm")) << o.out;
  const fs::path fixed = write("fixed.toml", o.out);
  CliRun again = run({"plan", "check", fixed.string()});
  EXPECT_EQ(again.rc, kOk) << again.out << again.err;
}

}  // namespace
}  // namespace hsm::e2e
