// plan check: simulated steps, every problem reported at the step that
// fails, with the rule, the devices, the fix and the earlier step behind it.
#include <gtest/gtest.h>

#include "migrations/order.hpp"
#include "migrations/show.hpp"
#include "plan_test_util.hpp"

namespace hsm::plans {
namespace {

using namespace testing;

const std::string kHeader = "[plan]\nname = \"t\"\n";

std::string step(const std::string& body) { return "\n[[step]]\n" + body + "\n"; }
std::string upgrade(const std::string& dev, const std::string& fw) {
  return step("action = \"upgrade\"\ndevice = \"" + dev + "\"\nfirmware = \"" + fw + "\"");
}
std::string clone(const std::string& from, const std::string& to, const std::string& extra = "") {
  return step("action = \"clone\"\nfrom = \"" + from + "\"\nto = \"" + to + "\"\n" + extra);
}
std::string policy(const std::string& part, const std::string& set) {
  return step("action = \"policy\"\npartition = \"" + part + "\"\nset = [\"" + set + "\"]");
}
std::string keys(const std::string& type, int count, const std::string& extra = "") {
  return "[[device.partition.keys]]\ntype = \"" + type + "\"\ncount = " + std::to_string(count) + "\n" + extra + "\n";
}
std::string described(const std::string& name, const std::string& kind, const std::string& fw,
                      const std::string& part = "p", const std::string& partition_extra = "") {
  return "\n[[device]]\nname = \"" + name + "\"\ndescribed = true\nkind = \"" + kind + "\"\nfirmware = \"" + fw +
         "\"\n[[device.partition]]\nname = \"" + part + "\"\ndomain = \"corp\"\n" + partition_extra + "\n";
}

// ---- H7 / H8: the primary is upgraded last --------------------------------

const std::string kThreeMemberGroup =
    kHeader + described("hsm-a", "luna7", "7.2.0", "p", keys("aes-256", 3)) + described("hsm-b", "luna7", "7.2.0") +
    described("hsm-c", "luna7", "7.2.0") + "\n[[hagroup]]\nname = \"prod\"\nmembers = [\"hsm-a/p\", \"hsm-b/p\", \"hsm-c/p\"]\n";

TEST(PlanCheck, PrimaryUpgradedFirstIsRefusedNamingH7AndH8) {
  const Plan plan = parse_ok(kThreeMemberGroup + upgrade("hsm-a", "7.7.0") + upgrade("hsm-b", "7.7.0") +
                             upgrade("hsm-c", "7.7.0"));
  const CheckReport rep = check(plan);
  EXPECT_FALSE(rep.ok());
  const auto bad = refusals(rep);
  ASSERT_FALSE(bad.empty()) << dump(plan, rep);
  // Every refusal is at step 1, and names H7 with the H8 reason.
  for (const auto& p : bad) EXPECT_EQ(p.step, 1) << dump(plan, rep);
  const Problem& p = bad.front();
  EXPECT_EQ(p.rule, "H7") << dump(plan, rep);
  EXPECT_EQ(p.line, plan.steps[0].line);
  EXPECT_TRUE(has(p.message, "rule H8")) << p.message;
  EXPECT_TRUE(has(p.message, "primary")) << p.message;
  EXPECT_TRUE(has(p.message, "CPv3")) << p.message;  // the protocols of the pair
  EXPECT_TRUE(has(p.fix, "upgrade hsm-b and hsm-c before hsm-a")) << p.fix;
  EXPECT_NE(std::find(p.devices.begin(), p.devices.end(), "hagroup:prod"), p.devices.end());
  EXPECT_NE(std::find(p.devices.begin(), p.devices.end(), "hsm-a/p"), p.devices.end());
  // Both members are named (one refusal per member the primary cannot reach).
  EXPECT_EQ(bad.size(), 2u) << dump(plan, rep);
}

TEST(PlanOrder, FixesThePrimaryFirstPlan) {
  const Plan plan = parse_ok(kThreeMemberGroup + upgrade("hsm-a", "7.7.0") + upgrade("hsm-b", "7.7.0") +
                             upgrade("hsm-c", "7.7.0"));
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  ASSERT_TRUE(o.ok) << [&] {
    std::string s;
    for (const auto& n : o.notes) s += n + "\n";
    return s;
  }();
  EXPECT_TRUE(o.changed);
  EXPECT_EQ(o.order, (std::vector<int>{2, 3, 1}));
  EXPECT_TRUE(o.report.ok()) << dump(o.plan, o.report);
  ASSERT_EQ(o.plan.steps.size(), 3u);
  EXPECT_EQ(std::get<UpgradeStep>(o.plan.steps[2].body).device, "hsm-a");
  bool explained = false;
  for (const auto& n : o.notes) explained = explained || (has(n, "step 1 (upgrade hsm-a to 7.7.0) now runs after") && has(n, "H7"));
  EXPECT_TRUE(explained) << o.notes.size();
  // The printed plan is a plan: it parses and checks clean.
  const Plan again = parse_ok(o.toml, "ordered.toml");
  EXPECT_TRUE(check(again).ok()) << o.toml;
}

TEST(PlanCheck, MembersFirstThenThePrimaryIsClean) {
  const Plan plan = parse_ok(kThreeMemberGroup + upgrade("hsm-c", "7.7.0") + upgrade("hsm-b", "7.7.0") +
                             upgrade("hsm-a", "7.7.0"));
  const CheckReport rep = check(plan);
  EXPECT_TRUE(rep.ok()) << dump(plan, rep);
  EXPECT_GT(rep.warnings(), 0u);  // H8: upgraded members cannot clone back to the 7.2 primary meanwhile
}

TEST(PlanCheck, PlanEndingWithAMixedGroupIsRefusedAtRest) {
  // Only two of the three members upgraded: H8 holds at every step, but X8
  // says 7.7.0+ and older members cannot share a group at rest.
  const Plan plan = parse_ok(kThreeMemberGroup + upgrade("hsm-c", "7.7.0") + upgrade("hsm-b", "7.7.0"));
  const CheckReport rep = check(plan);
  const auto bad = refusals(rep);
  ASSERT_EQ(bad.size(), 1u) << dump(plan, rep);
  EXPECT_EQ(bad[0].rule, "X8");
  EXPECT_EQ(bad[0].step, 2);
  EXPECT_TRUE(has(bad[0].fix, "upgrade hsm-a/p")) << bad[0].fix;
}

// ---- a described fleet, no emulation ------------------------------------------

const std::string kDescribedFleet = kHeader + "client_version = \"10.9.0\"\n" +
                                    described("old", "luna6", "6.10.9", "p", keys("aes-256", 10) + keys("rsa-2048", 5)) +
                                    described("new", "luna7", "7.8.0", "p", "fips = true\n") +
                                    described("mid", "luna7", "7.8.0", "p") +
                                    described("svc", "cloud", "7.8.0", "p", "objects = 70\n") +
                                    described("bk", "backup-g5", "6.28.0", "p");

TEST(PlanCheck, DescribedFleetIsCheckedWithoutEmulation) {
  const Plan plan = parse_ok(kDescribedFleet + policy("mid/p", "42=1") + clone("old/p", "mid/p") +
                             step("action = \"backup\"\nfrom = \"old/p\"\nto = \"bk/p\"") +
                             step("action = \"restore\"\nfrom = \"bk/p\"\nto = \"new/p\"") + policy("mid/p", "42=0") +
                             step("action = \"hagroup-create\"\ngroup = \"g\"\nmembers = [\"mid/p\", \"new/p\"]"));
  for (const auto& d : plan.devices) EXPECT_EQ(d.mode, DeviceMode::described);
  const FleetState fs = fleet_from_plan(plan);
  EXPECT_TRUE(fs.setup.empty());
  EXPECT_EQ(fs.partition({"svc", "p"})->objects.size(), 70u);
  EXPECT_EQ(fs.partition({"old", "p"})->objects.size(), 20u);
  const CheckReport rep = check_plan(plan, fs);
  EXPECT_TRUE(rep.ok()) << dump(plan, rep);
  EXPECT_EQ(rep.final_state.partition({"new", "p"})->objects.size(), 20u);
  EXPECT_EQ(*rep.steps[1].protocol, api::Protocol::cpv1);
  EXPECT_EQ(*rep.steps[3].protocol, api::Protocol::cpv3);
}

TEST(PlanCheck, DescribedFleetProblemsAreAllReported) {
  // Step 1: Luna 6 -> a FIPS 7.8 partition directly (P8: 42 cannot be ON in FIPS mode).
  // Step 2: fine. Step 3: the target shares no domain (S1). Step 4: fine.
  std::string far = described("far", "luna7", "7.8.0");
  far.replace(far.find("corp"), 4, "elsewhere");
  const Plan plan = parse_ok(kDescribedFleet + described("src", "luna7", "7.8.0", "p", keys("aes-128", 5)) + far +
                             clone("old/p", "new/p") + clone("src/p", "svc/p") + clone("src/p", "far/p") +
                             clone("src/p", "mid/p"));
  const CheckReport rep = check(plan);
  EXPECT_FALSE(rep.ok());
  std::set<int> steps;
  for (const auto& p : refusals(rep)) steps.insert(p.step);
  EXPECT_EQ(steps, (std::set<int>{1, 3})) << dump(plan, rep);
  const auto s1 = refusals(rep, 1);
  ASSERT_EQ(s1.size(), 1u);
  EXPECT_EQ(s1[0].rule, "P8") << dump(plan, rep);
  EXPECT_TRUE(has(s1[0].message, "CPv1")) << s1[0].message;
  // The FIPS target cannot turn policy 42 on: the fix is the Backup HSM route.
  EXPECT_TRUE(has(s1[0].fix, "go through the Backup HSM bk/p")) << s1[0].fix;
  const auto s3 = refusals(rep, 3);
  ASSERT_EQ(s3.size(), 1u);
  EXPECT_EQ(s3[0].rule, "S1");
  EXPECT_EQ(s3[0].code, "CKR_CERTIFICATE_INVALID");
  EXPECT_TRUE(has(s3[0].fix, "--primary")) << s3[0].fix;
  EXPECT_EQ(rep.steps[1].objects, 5u);
  EXPECT_EQ(rep.steps[3].objects, 5u);
}

TEST(PlanCheck, CapacityThroughLaterSteps) {
  // C1: the service holds 70; step 1 adds 20 (90); step 2 would add 20 more.
  const Plan plan = parse_ok(kDescribedFleet + described("src1", "luna7", "7.8.0", "p", keys("aes-256", 20)) +
                             described("src2", "luna7", "7.8.0", "p", keys("aes-128", 20)) + clone("src1/p", "svc/p") +
                             clone("src2/p", "svc/p"));
  const CheckReport rep = check(plan);
  const auto bad = refusals(rep);
  ASSERT_EQ(bad.size(), 1u) << dump(plan, rep);
  EXPECT_EQ(bad[0].step, 2);
  EXPECT_EQ(bad[0].rule, "C1");
  EXPECT_EQ(bad[0].code, "CKR_MAX_OBJECT_COUNT_EXCEEDED");
  EXPECT_EQ(bad[0].caused_by, 1) << bad[0].message;
  EXPECT_TRUE(has(bad[0].message, "10 objects refused by rule C1")) << bad[0].message;
  EXPECT_EQ(rep.steps[1].objects, 10u);  // what still fits lands
  EXPECT_EQ(rep.final_state.partition({"svc", "p"})->objects.size(), 100u);
}

// ---- a problem caused by an earlier step ---------------------------------------

TEST(PlanCheck, Step3BreaksStep7AndStep7SaysWhy) {
  const Plan plan = parse_ok(kHeader + described("hsm-a", "luna7", "7.2.0", "p", keys("aes-256", 4)) +
                             described("old", "luna6", "6.10.9") + described("other", "luna7", "7.2.0") +
                             clone("hsm-a/p", "old/p") +                                      // 1
                             clone("hsm-a/p", "other/p") +                                    // 2
                             upgrade("hsm-a", "7.7.0") +                                      // 3
                             step("action = \"prune\"\ndir = \"x\"\nkeep_daily = 1") +        // 4
                             upgrade("other", "7.7.0") +                                      // 5
                             clone("hsm-a/p", "other/p") +                                    // 6
                             clone("hsm-a/p", "old/p"));                                      // 7
  const CheckReport rep = check(plan);
  const auto bad = refusals(rep);
  ASSERT_EQ(bad.size(), 1u) << dump(plan, rep);
  const Problem& p = bad[0];
  EXPECT_EQ(p.step, 7);
  EXPECT_EQ(p.line, plan.steps[6].line);
  EXPECT_EQ(p.rule, "P8") << p.message;
  EXPECT_EQ(p.caused_by, 3);
  EXPECT_EQ(p.cause, "upgrade hsm-a to 7.7.0");
  EXPECT_TRUE(has(p.message, "since step 3: upgrade hsm-a to 7.7.0")) << p.message;
  EXPECT_TRUE(has(p.message, "CPv3") && has(p.message, "CPv1")) << p.message;
  EXPECT_TRUE(has(p.fix, "run this step before step 3")) << p.fix;
  EXPECT_EQ(p.devices, (std::vector<std::string>{"hsm-a/p", "old/p"}));
  EXPECT_TRUE(rep.steps[2].ok());  // step 3 itself is fine
  // Step 6 finds the objects of step 2 already present.
  EXPECT_TRUE(has(rep.steps[5].summary, "4 already present")) << rep.steps[5].summary;
}

TEST(PlanCheck, PolicyFixIsNamedAndOrderMovesThePolicyStep) {
  // A 7.8 source clones out by CPv3 (42 off); the Luna 6 takes only CPv1.
  const Plan plan = parse_ok(kHeader + described("src", "luna7", "7.8.0", "p", keys("aes-256", 2)) +
                             described("old", "luna6", "6.10.9") + clone("src/p", "old/p") +
                             policy("src/p", "42=1"));
  const CheckReport rep = check(plan);
  const auto bad = refusals(rep);
  ASSERT_EQ(bad.size(), 1u) << dump(plan, rep);
  EXPECT_EQ(bad[0].rule, "P5");
  EXPECT_TRUE(has(bad[0].fix, "set partition policy 42 on src/p (non-FIPS only")) << bad[0].fix;
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.order, (std::vector<int>{2, 1}));
  bool explained = false;
  for (const auto& n : o.notes) explained = explained || has(n, "now runs before step 1");
  EXPECT_TRUE(explained);
}

TEST(PlanOrder, MovesAnUpgradeAfterTheCloneItWouldBreak) {
  // Step 1 upgrades the source to 7.7.0 (CPv3 out only); step 2 needs CPv1 to a Luna 6.
  const Plan plan = parse_ok(kHeader + described("src", "luna7", "7.2.0", "p", keys("aes-256", 2)) +
                             described("old", "luna6", "6.10.9") + upgrade("src", "7.7.0") + clone("src/p", "old/p") +
                             step("action = \"prune\"\ndir = \"x\"\nkeep_daily = 2"));
  const CheckReport rep = check(plan);
  const auto bad = refusals(rep);
  ASSERT_EQ(bad.size(), 1u) << dump(plan, rep);
  EXPECT_EQ(bad[0].caused_by, 1);
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.order, (std::vector<int>{2, 1, 3}));
  EXPECT_TRUE(o.report.ok()) << dump(o.plan, o.report);
}

TEST(PlanOrder, RoutesAFipsTargetThroughTheBackupHsm) {
  const Plan plan = parse_ok(kHeader + described("old", "luna6", "6.10.9", "p", keys("aes-256", 3)) +
                             described("new", "luna7", "7.8.0", "p", "fips = true\n") +
                             described("bk", "backup-g5", "6.28.0") + clone("old/p", "new/p"));
  EXPECT_FALSE(check(plan).ok());
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  ASSERT_TRUE(o.ok) << [&] {
    std::string s;
    for (const auto& n : o.notes) s += n + "\n";
    return s;
  }();
  ASSERT_EQ(o.plan.steps.size(), 2u);
  EXPECT_EQ(o.plan.steps[0].action(), Action::backup);
  EXPECT_EQ(o.plan.steps[1].action(), Action::restore);
  EXPECT_EQ(o.order, (std::vector<int>{1, 0}));
  EXPECT_EQ(o.report.final_state.partition({"new", "p"})->objects.size(), 3u);
  EXPECT_TRUE(has(o.notes.front(), "Backup HSM bk/p")) << o.notes.front();
  EXPECT_TRUE(parse_plan_string(o.toml, "routed.toml").ok()) << o.toml;
}

TEST(PlanOrder, ExplainsWhyNoOrderWorks) {
  // K3: an X9.31 RSA key never goes to Luna 7, whatever the order.
  const Plan plan = parse_ok(kHeader + described("old", "luna6", "6.10.9", "p", keys("rsa-2048", 1, "keygen = \"x9.31\"")) +
                             described("new", "luna7", "7.2.0") + upgrade("new", "7.4.0") + clone("old/p", "new/p"));
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  EXPECT_FALSE(o.ok);
  std::string all;
  for (const auto& n : o.notes) all += n + "\n";
  EXPECT_TRUE(has(all, "no order of the upgrade and policy steps makes every step pass")) << all;
  EXPECT_TRUE(has(all, "rule K3")) << all;
  EXPECT_TRUE(has(all, "step 2 (clone old/p -> new/p")) << all;
}

// ---- configuration steps ---------------------------------------------------------

TEST(PlanCheck, UpgradeAddsPoliciesAndSuites) {
  const Plan plan = parse_ok(kHeader + described("a", "luna7", "7.4.0") + upgrade("a", "7.8.0") +
                             policy("a/p", "44=1") +
                             step("action = \"domain-add\"\npartition = \"a/p\"\ndomain = \"second\"\nlabel = \"two\"") +
                             step("action = \"suites\"\npartition = \"a/p\"\ndisable = [\"aes-256-gcm\"]"));
  const CheckReport rep = check(plan);
  EXPECT_TRUE(rep.ok()) << dump(plan, rep);
  const auto* p = rep.final_state.partition({"a", "p"});
  EXPECT_EQ(p->desc.policies.at(api::policy::part_allow_cpv1), 0);  // P5: added OFF
  EXPECT_EQ(p->desc.policies.at(api::policy::part_domain_management), 1);
  EXPECT_EQ(p->desc.domains.size(), 2u);
  EXPECT_EQ(p->desc.suites_enabled, (std::vector<std::string>{"chacha20-poly1305"}));
}

TEST(PlanCheck, DeviceRefusalsLeaveTheStateAsItWas) {
  const Plan plan = parse_ok(kHeader + described("a", "luna7", "7.2.0") +
                             step("action = \"domain-add\"\npartition = \"a/p\"\ndomain = \"x\"\nlabel = \"x\"") +  // D1
                             upgrade("a", "7.1.0") +                                                                // P1
                             step("action = \"enable-fm\"\ndevice = \"a\"") +                                        // S2
                             policy("a/p", "42=1"));                                                                 // P5
  const CheckReport rep = check(plan);
  std::vector<std::string> rules;
  for (const auto& p : refusals(rep)) rules.push_back(std::to_string(p.step) + ":" + p.rule);
  EXPECT_EQ(rules, (std::vector<std::string>{"1:D1", "2:P1", "3:S2", "4:P5"})) << dump(plan, rep);
  EXPECT_EQ(rep.final_state.device("a")->desc.firmware, (api::Version{7, 2, 0}));
  EXPECT_EQ(rep.final_state.partition({"a", "p"})->desc.domains.size(), 1u);
}

TEST(PlanCheck, CloudJoinsAsStandbyOnly) {
  const std::string fleet = kHeader + described("a", "luna7", "7.8.0") + described("svc", "cloud", "7.8.0");
  const Plan plan = parse_ok(fleet + step("action = \"hagroup-create\"\ngroup = \"g\"\nmembers = [\"svc/p\", \"a/p\"]"));
  const auto bad = refusals(check(plan));
  ASSERT_FALSE(bad.empty());
  EXPECT_EQ(bad[0].rule, "H4");
  // With lunacm_cv_ha_ui = 0 the service may be primary.
  const Plan ok = parse_ok("[plan]\nname = \"t\"\nlunacm_cv_ha_ui = 0\n" + fleet.substr(kHeader.size()) +
                           step("action = \"hagroup-create\"\ngroup = \"g\"\nmembers = [\"svc/p\", \"a/p\"]"));
  EXPECT_TRUE(check(ok).ok()) << dump(ok, check(ok));
}

TEST(PlanCheck, MixedFipsGroupNeedsClient1040) {
  const std::string fleet = described("a", "luna7", "7.8.0") + described("b", "luna7", "7.8.0", "p", "fips = true\n") +
                            step("action = \"hagroup-create\"\ngroup = \"g\"\nmembers = [\"a/p\", \"b/p\"]");
  const Plan old = parse_ok("[plan]\nname = \"t\"\nclient_version = \"10.3.0\"\n" + fleet);
  const auto bad = refusals(check(old));
  ASSERT_FALSE(bad.empty());
  bool h2 = false;
  for (const auto& p : bad) h2 = h2 || p.rule == "H2";
  EXPECT_TRUE(h2) << dump(old, check(old));
  EXPECT_TRUE(check(parse_ok("[plan]\nname = \"t\"\nclient_version = \"10.4.0\"\n" + fleet)).ok());
}

// ---- archives ------------------------------------------------------------------------

TEST(PlanCheck, ArchiveRestoreNeedsTheDomainAndNewerFirmware) {
  std::string far = described("far", "luna7", "7.8.0");
  far.replace(far.find("corp"), 4, "elsewhere");
  const Plan plan = parse_ok(kHeader + described("src", "luna7", "7.7.1", "p", keys("aes-256", 2)) +
                             described("old", "luna6", "6.10.9") + far +
                             step("action = \"backup\"\nfrom = \"src/p\"\narchive = \"a.hsmar\"") +      // 1
                             step("action = \"restore\"\narchive = \"a.hsmar\"\nto = \"old/p\"") +       // 2: X6
                             step("action = \"drill\"\narchive = \"a.hsmar\"\nscratch = \"far/p\"") +    // 3: S1
                             step("action = \"verify\"\narchive = \"b.hsmar\"") +                        // 4: warning
                             step("action = \"prune\"\ndir = \".\"\nkeep_daily = 0"));                  // 5: plan
  const CheckReport rep = check(plan);
  std::vector<std::string> rules;
  for (const auto& p : refusals(rep)) rules.push_back(std::to_string(p.step) + ":" + p.rule);
  EXPECT_EQ(rules, (std::vector<std::string>{"2:X6", "3:S1", "5:plan"})) << dump(plan, rep);
  bool warned = false;
  for (const auto& p : rep.problems) warned = warned || (p.step == 4 && p.warning);
  EXPECT_TRUE(warned);
}

// ---- the executor's view: apply_step one at a time -----------------------------------

TEST(PlanApply, StepByStepEqualsCheckPlan) {
  auto r = parse_plan(builtin_dir() + "/luna6-to-luna7.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  FleetState st = fleet_from_plan(r.value());
  for (std::size_t i = 0; i < r->steps.size(); ++i) {
    StepResult s = apply_step(r.value(), i, st);
    EXPECT_TRUE(s.ok()) << s.summary;
    EXPECT_EQ(s.step, static_cast<int>(i + 1));
  }
  const CheckReport rep = check(r.value());
  for (const auto& [name, dev] : rep.final_state.devices)
    for (const auto& [pname, part] : dev.partitions)
      EXPECT_EQ(st.partition({name, pname})->objects.size(), part.objects.size()) << name << "/" << pname;
}

TEST(PlanApply, LiveDevicesTakePrecedence) {
  auto r = parse_plan(builtin_dir() + "/ha-upgrade-7.7.toml");
  ASSERT_TRUE(r.ok());
  FleetState live;
  live.devices["hsm-a"].desc.name = "hsm-a";
  live.devices["hsm-a"].desc.kind = api::DeviceKind::luna7;
  live.devices["hsm-a"].desc.firmware = {7, 4, 0};
  live.domain_fingerprints["corp"] = "0123abcd";
  const FleetState fs = fleet_from_plan(r.value(), live);
  EXPECT_EQ(fs.device("hsm-a")->desc.firmware, (api::Version{7, 4, 0}));
  ASSERT_NE(fs.partition({"hsm-a", "app"}), nullptr);  // the plan creates the missing partition
  EXPECT_EQ(fs.partition({"hsm-b", "app"})->desc.domains[0].fingerprint, "0123abcd");
  ASSERT_EQ(fs.setup.size(), 1u);
  EXPECT_TRUE(fs.setup[0].warning);
  EXPECT_TRUE(has(fs.setup[0].message, "runs firmware 7.4.0")) << fs.setup[0].message;
}

TEST(PlanSetup, EmulatedCreationChecks) {
  // X2: a FIPS partition before 7.7.1 needs HSM policy 12 = 0; X7: V1 needs 7.7.0; C1.
  const Plan plan = parse_ok(kHeader +
                             "[[device]]\nname = \"a\"\nemulated = true\nkind = \"luna7\"\nfirmware = \"7.2.0\"\n"
                             "[[device.partition]]\nname = \"f\"\nfips = true\ndomain = \"corp\"\n"
                             "[[device.partition]]\nname = \"v\"\ntype = \"v1\"\ndomain = \"corp\"\n"
                             "[[device]]\nname = \"svc\"\nemulated = true\nkind = \"cloud\"\n"
                             "[[device.partition]]\nname = \"s\"\ndomain = \"corp\"\n" +
                             keys("rsa-2048", 60));
  const CheckReport rep = check(plan);
  std::set<std::string> rules;
  for (const auto& p : refusals(rep, 0)) rules.insert(p.rule);
  EXPECT_EQ(rules, (std::set<std::string>{"X2", "X7", "C1"})) << dump(plan, rep);
}

TEST(PlanReport, JsonAndText) {
  const Plan plan = parse_ok(kThreeMemberGroup + upgrade("hsm-a", "7.7.0"));
  const CheckReport rep = check(plan);
  const auto j = report_json(plan, rep);
  EXPECT_FALSE(j["ok"].get<bool>());
  ASSERT_FALSE(j["problems"].empty());
  EXPECT_EQ(j["problems"][0]["rule"], "H7");
  EXPECT_EQ(j["problems"][0]["step"], 1);
  EXPECT_EQ(j["problems"][0]["severity"], "refusal");
  EXPECT_EQ(j["steps"][0]["action"], "upgrade");
  const std::string text = render_report(plan, rep);
  EXPECT_TRUE(has(text, "test.toml:")) << text;
  EXPECT_TRUE(has(text, "REFUSED")) << text;
  EXPECT_TRUE(has(text, "plan refused")) << text;
}

TEST(PlanShow, DotHasClustersAndNumberedFlows) {
  auto r = parse_plan(builtin_dir() + "/luna6-to-luna7.toml");
  ASSERT_TRUE(r.ok());
  const std::string dot = plan_to_dot(r.value());
  EXPECT_TRUE(has(dot, "label=\"HA group legacy\"")) << dot;
  EXPECT_TRUE(has(dot, "label=\"HA group modern\\ncreated (step 7)\"")) << dot;
  EXPECT_TRUE(has(dot, "\"luna6-a\" -> \"luna7-a\" [label=\"3: clone app -> app\"")) << dot;
  EXPECT_TRUE(has(dot, "\"backup-hsm\" -> \"luna7-b\" [label=\"5: restore -> app\"")) << dot;
  EXPECT_TRUE(has(dot, "luna6 6.10.9")) << dot;
  const std::string text = plan_show(r.value());
  EXPECT_TRUE(has(text, " 5. restore backup-hsm/app -> luna7-b/app")) << text;
}

}  // namespace
}  // namespace hsm::plans

namespace hsm::plans {
namespace {

using namespace testing;

// The man page's example: in luna6-to-luna7.toml, a direct clone to the FIPS
// member instead of the Backup HSM route is refused with the route as fix,
// and plan order puts the route back.
TEST(PlanCheck, Luna6ToLuna7WithADirectCloneToTheFipsMember) {
  auto r = parse_plan(builtin_dir() + "/luna6-to-luna7.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  Plan plan = r.value();
  ASSERT_EQ(plan.steps[4].action(), Action::restore);
  CloneStep direct;
  direct.from = {"luna6-a", "app"};
  direct.to = {"luna7-b", "app"};
  plan.steps[4].body = direct;
  const CheckReport rep = check(plan);
  const auto bad = refusals(rep);
  ASSERT_FALSE(bad.empty()) << dump(plan, rep);
  EXPECT_EQ(bad[0].step, 5);
  EXPECT_EQ(bad[0].rule, "P8");
  EXPECT_TRUE(has(bad[0].fix, "go through the Backup HSM backup-hsm/app")) << bad[0].fix;
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  ASSERT_TRUE(o.ok);
  EXPECT_TRUE(o.report.ok()) << dump(o.plan, o.report);
  EXPECT_EQ(o.report.final_state.partition({"luna7-b", "app"})->objects.size(), 12u);
}

}  // namespace
}  // namespace hsm::plans
