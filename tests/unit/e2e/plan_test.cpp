// plan check | order | show | run through the built binary: built-in plans
// by name, every built-in plan checked clean and run to the end on a fresh
// fleet, refusals with rule IDs, the journal's run-once and resume behaviour.
#include <set>

#include "harness.hpp"

namespace hsm::e2e {
namespace {

class Plan : public Cli {
 protected:
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  std::multiset<std::string> fingerprints(const std::string& address) {
    std::multiset<std::string> out;
    const auto doc = ok({"object", "list", address, "--json"}).json();  // kept alive for the loop
    for (const auto& o : doc["objects"]) out.insert(o["fingerprint"].get<std::string>());
    return out;
  }
};

std::string described(const std::string& name, const std::string& fw, const std::string& part_extra = "") {
  return "\n[[device]]\nname = \"" + name + "\"\ndescribed = true\nkind = \"luna7\"\nfirmware = \"" + fw +
         "\"\n[[device.partition]]\nname = \"p\"\ndomain = \"corp\"\n" + part_extra;
}
std::string upgrade(const std::string& dev, const std::string& fw) {
  return "\n[[step]]\naction = \"upgrade\"\ndevice = \"" + dev + "\"\nfirmware = \"" + fw + "\"\n";
}
const std::string kKeys = "[[device.partition.keys]]\ntype = \"aes-256\"\ncount = 3\n";
const std::string kGroup = "\n[[hagroup]]\nname = \"prod\"\nmembers = [\"hsm-a/p\", \"hsm-b/p\", \"hsm-c/p\"]\n";

// ---- plan check / order on described fleets (no emulation) ----------------------

TEST_F(Plan, PrimaryUpgradedFirstIsRefusedNamingH7AndH8AndOrderFixesIt) {
  const fs::path plan =
      write("primary-first.toml", "[plan]\nname = \"pf\"\n" + described("hsm-a", "7.2.0", kKeys) +
                                      described("hsm-b", "7.2.0") + described("hsm-c", "7.2.0") + kGroup +
                                      upgrade("hsm-a", "7.7.0") + upgrade("hsm-b", "7.7.0") + upgrade("hsm-c", "7.7.0"));
  auto r = run({"plan", "check", plan.string()});
  EXPECT_EQ(r.rc, kRefused) << r.err;
  EXPECT_NE(r.out.find("rule H7"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rule H8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("upgrade hsm-b and hsm-c before hsm-a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step 1 (" + plan.string() + ":"), std::string::npos) << r.out;
  auto j = run({"plan", "check", plan.string(), "--json"});
  EXPECT_EQ(j.rc, kRefused);
  auto doc = j.json();
  EXPECT_FALSE(doc["ok"]);
  EXPECT_EQ(doc["problems"][0]["rule"], "H7");
  EXPECT_EQ(doc["problems"][0]["step"], 1);
  // plan order prints a plan that checks clean, the primary upgraded last.
  auto o = ok({"plan", "order", plan.string()});
  const fs::path fixed = write("fixed.toml", o.out);
  EXPECT_EQ(run({"plan", "check", fixed.string()}).rc, kOk);
  const auto a = o.out.find("device = \"hsm-a\""), b = o.out.find("device = \"hsm-b\""),
             c = o.out.find("device = \"hsm-c\"");
  ASSERT_NE(a, std::string::npos);
  EXPECT_LT(b, a);
  EXPECT_LT(c, a);
  EXPECT_TRUE(ok({"plan", "order", plan.string(), "--json"}).json()["changed"]);
  // Nothing was emulated.
  EXPECT_FALSE(fs::exists(dir_ / "fleet" / "devices" / "hsm-a"));
}

TEST_F(Plan, DescribedFleetIsCheckedWithoutEmulation) {
  const std::string fleet =
      "[plan]\nname = \"desc\"\nclient_version = \"10.9.0\"\n"
      "\n[[device]]\nname = \"old\"\ndescribed = true\nkind = \"luna6\"\nfirmware = \"6.10.9\"\n"
      "[[device.partition]]\nname = \"p\"\ndomain = \"corp\"\nobjects = 40\n" +
      described("mid", "7.8.0") + described("new", "7.8.0", "fips = true\n") +
      "\n[[device]]\nname = \"bk\"\ndescribed = true\nkind = \"backup-g5\"\nfirmware = \"6.28.0\"\n"
      "[[device.partition]]\nname = \"p\"\ndomain = \"corp\"\n";
  const std::string steps =
      "\n[[step]]\naction = \"policy\"\npartition = \"mid/p\"\nset = [\"42=1\"]\n"
      "\n[[step]]\naction = \"clone\"\nfrom = \"old/p\"\nto = \"mid/p\"\n"
      "\n[[step]]\naction = \"backup\"\nfrom = \"old/p\"\nto = \"bk/p\"\n"
      "\n[[step]]\naction = \"restore\"\nfrom = \"bk/p\"\nto = \"new/p\"\n";
  auto doc = ok({"plan", "check", write("desc.toml", fleet + steps).string(), "--json"}).json();
  EXPECT_TRUE(doc["ok"]);
  EXPECT_EQ(doc["steps"][1]["protocol"], "CPv1");
  EXPECT_EQ(doc["steps"][1]["objects"], 40);
  EXPECT_EQ(doc["steps"][3]["protocol"], "CPv3");
  // The direct clone to the FIPS member is refused (P8), with the Backup HSM route as the fix.
  auto r = run({"plan", "check",
                write("direct.toml", fleet + "\n[[step]]\naction = \"clone\"\nfrom = \"old/p\"\nto = \"new/p\"\n")
                    .string(),
                "--json"});
  EXPECT_EQ(r.rc, kRefused);
  auto p = r.json()["problems"][0];
  EXPECT_EQ(p["rule"], "P8");
  EXPECT_NE(p["fix"].get<std::string>().find("go through the Backup HSM bk/p"), std::string::npos) << p.dump();
  EXPECT_FALSE(fs::exists(dir_ / "fleet" / "devices"));
  // A described fleet is never run.
  auto run_it = run({"plan", "run", write("desc2.toml", fleet + steps).string()});
  EXPECT_EQ(run_it.rc, kUsage);
  EXPECT_NE(run_it.err.find("described"), std::string::npos) << run_it.err;
}

TEST_F(Plan, Step3BreaksStep7AndStep7SaysWhy) {
  std::string text = "[plan]\nname = \"s7\"\n" + described("hsm-a", "7.2.0", kKeys) +
                     "\n[[device]]\nname = \"old\"\ndescribed = true\nkind = \"luna6\"\nfirmware = \"6.10.9\"\n"
                     "[[device.partition]]\nname = \"p\"\ndomain = \"corp\"\n" +
                     described("other", "7.2.0");
  auto clone = [](const std::string& f, const std::string& t) {
    return "\n[[step]]\naction = \"clone\"\nfrom = \"" + f + "\"\nto = \"" + t + "\"\n";
  };
  text += clone("hsm-a/p", "old/p") + clone("hsm-a/p", "other/p") + upgrade("hsm-a", "7.7.0") +
          "\n[[step]]\naction = \"policy\"\ndevice = \"other\"\nset = [\"57=1\"]\n" + upgrade("other", "7.7.0") +
          clone("hsm-a/p", "other/p") + clone("hsm-a/p", "old/p");
  auto r = run({"plan", "check", write("s7.toml", text).string(), "--json"});
  EXPECT_EQ(r.rc, kRefused) << r.err;
  auto doc = r.json();
  std::vector<nlohmann::json> refusals;
  for (const auto& p : doc["problems"])
    if (p["severity"] == "refusal") refusals.push_back(p);
  ASSERT_EQ(refusals.size(), 1u) << doc.dump(2);
  EXPECT_EQ(refusals[0]["step"], 7);
  EXPECT_EQ(refusals[0]["rule"], "P8");
  EXPECT_EQ(refusals[0]["caused_by"], 3);
  EXPECT_NE(refusals[0]["message"].get<std::string>().find("since step 3: upgrade hsm-a to 7.7.0"), std::string::npos);
}

// ---- built-in plans ---------------------------------------------------------------

TEST_F(Plan, BuiltInPlansAreFoundByNameAndCheckClean) {
  for (const char* name : {"luna6-to-luna7", "ha-upgrade-7.7", "cloud-standby", "nightly-backup", "restore-drill"}) {
    auto r = run({"plan", "check", name});
    EXPECT_EQ(r.rc, kOk) << name << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find("plan OK"), std::string::npos) << r.out;
    auto dot = ok({"plan", "show", name, "--dot"});
    EXPECT_EQ(dot.out.rfind("digraph ", 0), 0u) << dot.out;
  }
  ok({"plan", "show", "luna6-to-luna7.toml"});
  auto missing = run({"plan", "check", "no-such-plan"});
  EXPECT_EQ(missing.rc, kUsage);
  EXPECT_NE(missing.err.find("built-in"), std::string::npos) << missing.err;
  // A check creates nothing.
  EXPECT_FALSE(fs::exists(dir_ / "fleet" / "devices"));
  // The build installs them next to the binary.
  EXPECT_TRUE(fs::exists(fs::path(HSM_BIN_DIR) / ".." / "share" / "hsm-migrate" / "plans" / "luna6-to-luna7.toml"));
  // $HSM_MIGRATE_PLAN_PATH is searched first.
  const fs::path mine = dir_ / "my-plans";
  fs::create_directories(mine);
  std::ofstream(mine / "custom.toml") << "[plan]\nname = \"custom\"\n" + described("x", "7.8.0") + upgrade("x", "7.8.1");
  env_["HSM_MIGRATE_PLAN_PATH"] = mine.string();
  EXPECT_EQ(ok({"plan", "check", "custom", "--json"}).json()["plan"], "custom");
}

TEST_F(Plan, Luna6ToLuna7RunsToTheEndOnAFreshFleetAndOnlyOnce) {
  auto dry = ok({"plan", "run", "luna6-to-luna7", "--dry-run"});
  EXPECT_NE(dry.out.find("would create device luna6-a"), std::string::npos) << dry.out;
  EXPECT_FALSE(fs::exists(dir_ / "fleet" / "devices"));
  EXPECT_FALSE(fs::exists(dir_ / "fleet" / "journal"));
  auto r = run({"plan", "run", "luna6-to-luna7"});
  ASSERT_EQ(r.rc, kOk) << r.out << r.err;
  EXPECT_NE(r.out.find("plan luna6-to-luna7 finished"), std::string::npos) << r.out;
  // Every Luna 7 member (the FIPS one through the Backup HSM) and the Luna 6
  // standby hold exactly the source's objects.
  const auto source = fingerprints("luna6-a/app");
  EXPECT_EQ(source.size(), 12u);
  for (const char* t : {"luna6-b/app", "luna7-a/app", "luna7-b/app", "backup-hsm/app"})
    EXPECT_EQ(fingerprints(t), source) << t;
  auto fips = ok({"partition", "show", "luna7-b/app", "--json"}).json();
  EXPECT_TRUE(fips["partition"]["fips"]);
  auto group = ok({"hagroup", "show", "modern", "--json"}).json();
  EXPECT_EQ(group["group"]["primary"], "luna7-a/app");
  EXPECT_EQ(ok({"hagroup", "check", "modern"}).rc, kOk);
  EXPECT_EQ(ok({"partition", "show", "luna7-a/app", "--json"}).json()["partition"]["policies"]["42"], 0);
  // Run again: nothing to do, and it says so.
  auto again = ok({"plan", "run", "luna6-to-luna7"});
  EXPECT_NE(again.out.find("already finished"), std::string::npos) << again.out;
  for (const char* t : {"luna6-b/app", "luna7-a/app", "luna7-b/app"}) EXPECT_EQ(fingerprints(t), source) << t;
}

TEST_F(Plan, EveryOtherBuiltInPlanRunsToTheEnd) {
  for (const char* name : {"ha-upgrade-7.7", "cloud-standby", "restore-drill", "nightly-backup"}) {
    env_["HSM_MIGRATE_HOME"] = (dir_ / name).string();
    auto r = run({"plan", "run", name, "--json"});
    ASSERT_EQ(r.rc, kOk) << name << "\n" << r.out << r.err;
    auto doc = r.json();
    EXPECT_TRUE(doc["finished"]) << name;
    for (const auto& s : doc["steps"]) EXPECT_EQ(s["status"], "done") << name << " " << s.dump();
  }
}

// ---- run: refusal, journal, resume ---------------------------------------------------

const std::string kUpgradePlan = R"([plan]
name = "members-first"

[[device]]
name = "hsm-a"
emulated = true
kind = "luna7"
firmware = "7.2.0"

[[device.partition]]
name = "p"
domain = "corp"

[[device]]
name = "hsm-b"
emulated = true
kind = "luna7"
firmware = "7.2.0"

[[device.partition]]
name = "p"
domain = "corp"

[[hagroup]]
name = "pair"
members = ["hsm-a/p", "hsm-b/p"]

[[step]]
action = "hagroup-remove"
group = "pair"
member = "hsm-b/p"

[[step]]
action = "upgrade"
device = "hsm-b"
firmware = "7.7.0"

[[step]]
action = "hagroup-add"
group = "pair"
member = "hsm-b/p"

[[step]]
action = "hagroup-remove"
group = "pair"
member = "hsm-a/p"

[[step]]
action = "upgrade"
device = "hsm-a"
firmware = "7.7.0"

[[step]]
action = "hagroup-add"
group = "pair"
member = "hsm-a/p"
primary = true
)";

TEST_F(Plan, RunRefusesAPlanThatDoesNotCheckAndChangesNothing) {
  std::string bad = kUpgradePlan;
  // The primary first: H7.
  bad.insert(bad.find("[[step]]"), "[[step]]\naction = \"upgrade\"\ndevice = \"hsm-a\"\nfirmware = \"7.7.0\"\n\n");
  auto r = run({"plan", "run", write("bad.toml", bad).string()});
  EXPECT_EQ(r.rc, kRefused) << r.err;
  EXPECT_NE(r.out.find("rule H7"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "fleet" / "devices"));
}

TEST_F(Plan, InterruptedRunNeedsResumeAndResumeFinishesIt) {
  const fs::path plan = write("upgrade.toml", kUpgradePlan);
  env_["HSM_MIGRATE_CRASH_AFTER_RECORDS"] = "16";  // SIGKILL after step 3 began (11 setup records first)
  auto crashed = run({"plan", "run", plan.string()});
  EXPECT_EQ(crashed.rc, 128 + 9) << crashed.err;
  env_["HSM_MIGRATE_CRASH_AFTER_RECORDS"] = "";
  auto plain = run({"plan", "run", plan.string()});
  EXPECT_EQ(plain.rc, kUsage);
  EXPECT_NE(plain.err.find("--resume"), std::string::npos) << plain.err;
  auto resumed = ok({"plan", "run", plan.string(), "--resume", "--json"}).json();
  EXPECT_TRUE(resumed["resumed"]);
  EXPECT_TRUE(resumed["finished"]);
  std::size_t before = 0;
  for (const auto& s : resumed["steps"]) before += s["status"] == "done before";
  EXPECT_GT(before, 0u);
  for (const char* d : {"hsm-a", "hsm-b"})
    EXPECT_EQ(ok({"device", "show", d, "--json"}).json()["firmware"], "7.7.0");
  auto g = ok({"hagroup", "show", "pair", "--json"}).json();
  EXPECT_EQ(g["group"]["primary"], "hsm-a/p");
  EXPECT_EQ(g["group"]["members"].size(), 2u);
  auto again = ok({"plan", "run", plan.string()});
  EXPECT_NE(again.out.find("already finished"), std::string::npos);
  // An edited plan is a new run (a new journal): its check sees the fleet as
  // it is now (already upgraded), so the upgrade steps are refused.
  auto edited = run({"plan", "run", write("edited.toml", kUpgradePlan + "\n# edited\n").string()});
  EXPECT_EQ(edited.rc, kRefused) << edited.out;
}

}  // namespace
}  // namespace hsm::e2e
