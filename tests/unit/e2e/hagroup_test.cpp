// HA groups outside plans: `hagroup create|add|remove|list|show|check`, the
// store in HOME/hagroups.json, and the verdicts (H1-H8) that come from the
// primary's backend.
#include <sys/stat.h>

#include "harness.hpp"

namespace hsm::e2e {
namespace {

class HaGroup : public Cli {
 protected:
  void device(const std::string& name, const std::string& kind, const std::string& fw,
              const std::vector<std::string>& part_flags = {}) {
    std::vector<std::string> args{"device", "create", name, "--kind", kind};
    if (!fw.empty()) args.insert(args.end(), {"--firmware", fw});
    ok(args);
    std::vector<std::string> p{"partition", "create", name + "/p"};
    p.insert(p.end(), part_flags.begin(), part_flags.end());
    ok(p);
  }
};

TEST_F(HaGroup, CreateAddRemoveListShowAndTheStoreIs0600) {
  device("a", "luna7", "7.8.0");
  device("b", "luna7", "7.8.0");
  device("c", "luna7", "7.8.0");
  auto created = ok({"hagroup", "create", "prod", "--primary", "a/p", "--json"}).json();
  EXPECT_EQ(created["created"]["primary"], "a/p");
  EXPECT_TRUE(created["created"]["allowed"]);
  ok({"hagroup", "add", "prod", "b/p"});
  ok({"hagroup", "add", "prod", "c/p", "--standby"});
  auto show = ok({"hagroup", "show", "prod", "--json"}).json();
  ASSERT_EQ(show["group"]["members"].size(), 3u);
  EXPECT_EQ(show["group"]["members"][0]["address"], "a/p");
  EXPECT_TRUE(show["group"]["members"][0]["primary"]);
  EXPECT_FALSE(show["group"]["members"][1]["standby"]);
  EXPECT_TRUE(show["group"]["members"][2]["standby"]);
  auto list = ok({"hagroup", "list", "--json"}).json();
  ASSERT_EQ(list["groups"].size(), 1u);
  EXPECT_EQ(list["groups"][0]["name"], "prod");

  const fs::path store = dir_ / "fleet" / "hagroups.json";
  struct stat st {};
  ASSERT_EQ(::stat(store.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // The same member twice is refused (H3); an unknown group is a usage error.
  refused({"hagroup", "add", "prod", "b/p"}, "H3");
  EXPECT_EQ(run({"hagroup", "add", "nope", "b/p"}).rc, kUsage);

  // The primary leaves: the next member takes over (H3).
  ok({"hagroup", "remove", "prod", "a/p"});
  show = ok({"hagroup", "show", "prod", "--json"}).json();
  EXPECT_EQ(show["group"]["primary"], "b/p");
  EXPECT_EQ(show["group"]["members"].size(), 2u);
  EXPECT_EQ(ok({"hagroup", "check", "prod"}).rc, kOk);
  // The last member leaves: the group is dissolved.
  ok({"hagroup", "remove", "prod", "b/p"});
  auto last = ok({"hagroup", "remove", "prod", "c/p", "--json"}).json();
  EXPECT_TRUE(last["group"]["dissolved"]);
  EXPECT_TRUE(ok({"hagroup", "list", "--json"}).json()["groups"].empty());
}

TEST_F(HaGroup, CloudJoinsAsStandbyOnlyUnlessCvHaUiIsZero) {
  device("a", "luna7", "7.8.0");
  device("svc", "cloud", "");
  ok({"hagroup", "create", "web", "--primary", "a/p"});
  // rule H4: an active cloud member is refused; as a standby it is fine.
  auto r = refused({"hagroup", "add", "web", "svc/p"}, "H4");
  EXPECT_NE(r.err.find("standby"), std::string::npos) << r.err;
  ok({"hagroup", "add", "web", "svc/p", "--standby"});
  // The cloud service as the primary: refused while lunacm_cv_ha_ui = 1 ...
  refused({"hagroup", "create", "cloudfirst", "--primary", "svc/p"}, "H4");
  // ... allowed with lunacm_cv_ha_ui = 0, by option or environment.
  ok({"hagroup", "create", "cloudfirst", "--primary", "svc/p", "--cv-ha-ui", "0"});
  env_["HSM_MIGRATE_CV_HA_UI"] = "0";
  ok({"hagroup", "add", "cloudfirst", "a/p"});
  EXPECT_EQ(run({"hagroup", "list", "--cv-ha-ui", "2"}).rc, kUsage);
}

TEST_F(HaGroup, MixedFipsNeedsClient1040AndCheckListsEveryProblem) {
  device("a", "luna7", "7.8.0");
  device("f", "luna7", "7.8.0", {"--fips"});
  // rule H2: mixed FIPS / non-FIPS members need client 10.4.0.
  ok({"hagroup", "create", "mix", "--primary", "a/p", "--client-version", "10.3.0"});
  refused({"hagroup", "add", "mix", "f/p", "--client-version", "10.3.0"}, "H2");
  ok({"hagroup", "add", "mix", "f/p"});  // the default client is 10.9.0
  // The group is stored; checked with an old client, H2 is reported (exit 3).
  auto r = run({"hagroup", "check", "mix", "--client-version", "10.3.0", "--json"});
  EXPECT_EQ(r.rc, kRefused) << r.err;
  auto j = r.json();
  EXPECT_FALSE(j["group"]["allowed"]);
  bool h2 = false;
  for (const auto& v : j["group"]["verdicts"]) h2 = h2 || (v["rule"] == "H2" && !v["allowed"].get<bool>());
  EXPECT_TRUE(h2) << j.dump(2);
}

TEST_F(HaGroup, PrimaryThatCannotCloneToAMemberIsRefusedH8) {
  // A 7.7.0 primary clones out by CPv3 only (P4), which a 7.2.0 member cannot
  // take: the primary could not replicate to it (H8, why H7 upgrades it last).
  device("new", "luna7", "7.7.0");
  device("old", "luna7", "7.2.0");
  ok({"hagroup", "create", "g", "--primary", "new/p"});
  auto r = refused({"hagroup", "add", "g", "old/p"}, "H8");
  EXPECT_NE(r.err.find("CPv3"), std::string::npos) << r.err;
  // Nothing was stored.
  auto show = ok({"hagroup", "show", "g", "--json"}).json();
  EXPECT_EQ(show["group"]["members"].size(), 1u);
  // The other way round (the old primary, the new member) is allowed, with
  // the H8 one-way warning.
  ok({"hagroup", "create", "g2", "--primary", "old/p"});
  auto w = ok({"hagroup", "add", "g2", "new/p", "--json"}).json();
  EXPECT_TRUE(w["group"]["allowed"]);
  EXPECT_FALSE(w["group"]["verdicts"].empty()) << w.dump(2);
}

}  // namespace
}  // namespace hsm::e2e

namespace hsm::e2e {
namespace {

// Issue 11 §5: `hagroup check` says which members are out of sync with the
// primary ("needs sync", as lunacm shows it) instead of "ok".
TEST_F(HaGroup, CheckReportsMembersThatNeedSync) {
  device("a", "luna7", "7.8.0");
  device("b", "luna7", "7.8.0");
  ok({"key", "generate", "a/p", "--type", "aes-256", "--count", "3"});
  ok({"hagroup", "create", "prod", "--primary", "a/p"});
  ok({"hagroup", "add", "prod", "b/p"});
  auto j = ok({"hagroup", "check", "prod", "--json"}).json();
  ASSERT_EQ(j["group"]["sync"].size(), 1u);
  EXPECT_EQ(j["group"]["sync"][0]["status"], "needs sync");
  EXPECT_EQ(j["group"]["sync"][0]["missing"], 3);
  EXPECT_FALSE(j["group"]["in_sync"].get<bool>());
  auto t = ok({"hagroup", "check", "prod"});
  EXPECT_NE(t.out.find("b/p: needs sync (3 of the primary's object(s) missing"), std::string::npos) << t.out;
  ok({"clone", "a/p", "b/p"});
  auto after = ok({"hagroup", "check", "prod", "--json"}).json();
  EXPECT_EQ(after["group"]["sync"][0]["status"], "in sync");
  EXPECT_TRUE(after["group"]["in_sync"].get<bool>());
}

}  // namespace
}  // namespace hsm::e2e
