// plan check and plan order on the rule gaps of issue 14: C1 counts only
// the objects a step would create (a re-sync of a cloud standby), X9 (HSM
// policy 50 before enabling FMs; the documented Luna 7 update paths) and X6
// (the Backup HSM G5 update paths). Each rule: an allowed plan and a refused
// one, the refusal reported at its step with the fix; plan order inserts
// the missing step where it can.
#include <gtest/gtest.h>

#include "migrations/order.hpp"
#include "plan_test_util.hpp"

namespace hsm::plans {
namespace {

using namespace testing;

const std::string kHeader = "[plan]\nname = \"t\"\n";

std::string step(const std::string& body) {
  return "\n[[step]]\n" + body + "\n";
}
std::string upgrade(const std::string& dev, const std::string& fw) {
  return step("action = \"upgrade\"\ndevice = \"" + dev + "\"\nfirmware = \"" + fw + "\"");
}
std::string clone(const std::string& from, const std::string& to) {
  return step("action = \"clone\"\nfrom = \"" + from + "\"\nto = \"" + to + "\"");
}
std::string enable_fm(const std::string& dev) {
  return step("action = \"enable-fm\"\ndevice = \"" + dev + "\"");
}
std::string hsm_policy(const std::string& dev, const std::string& set) {
  return step("action = \"policy\"\ndevice = \"" + dev + "\"\nset = [\"" + set + "\"]");
}
std::string keys(const std::string& type, int count, const std::string& label) {
  return "[[device.partition.keys]]\ntype = \"" + type + "\"\ncount = " + std::to_string(count) +
         "\nlabel = \"" + label + "\"\n";
}
std::string described(const std::string& name, const std::string& kind, const std::string& fw,
                      const std::string& partition_extra = "",
                      const std::string& device_extra = "") {
  return "\n[[device]]\nname = \"" + name + "\"\ndescribed = true\nkind = \"" + kind +
         "\"\nfirmware = \"" + fw + "\"\n" + device_extra +
         "[[device.partition]]\nname = \"p\"\ndomain = \"corp\"\n" + partition_extra + "\n";
}

std::string notes(const OrderResult& o) {
  std::string s;
  for (const auto& n : o.notes) s += n + "\n";
  return s;
}

// ---- rule C1: the nightly re-sync of a cloud standby ---------------------------

// A Luna 7 7.8.0 partition with 100 keys and an empty cloud service.
const std::string kCloudFleet = kHeader +
                                described("onprem", "luna7", "7.8.0", keys("aes-256", 100, "k")) +
                                described("svc", "cloud", "7.8.0");

TEST(RuleC1Plan, ResyncIntoAFullCloudServiceCountsOnlyNewObjects) {
  const Plan plan = parse_ok(kCloudFleet + clone("onprem/p", "svc/p") + clone("onprem/p", "svc/p"));
  const CheckReport rep = check(plan);
  EXPECT_TRUE(rep.ok()) << dump(plan, rep);
  ASSERT_EQ(rep.steps.size(), 2u);
  EXPECT_EQ(rep.steps[0].objects, 100u);
  EXPECT_EQ(rep.steps[1].objects, 0u);
  EXPECT_TRUE(has(rep.steps[1].summary, "clone 0 object(s)")) << rep.steps[1].summary;
  EXPECT_TRUE(has(rep.steps[1].summary, "100 already present")) << rep.steps[1].summary;
  EXPECT_EQ(rep.final_state.partition({"svc", "p"})->objects.size(), 100u);
}

TEST(RuleC1Plan, ResyncWithNewKeysOnTheSourceRefusesOnlyWhatDoesNotFit) {
  // The service fills up with the first clone; a second source's keys do
  // not fit: refused at step 2 by C1, naming the fix.
  const Plan plan =
      parse_ok(kCloudFleet + described("other", "luna7", "7.8.0", keys("aes-256", 3, "x")) +
               clone("onprem/p", "svc/p") + clone("other/p", "svc/p") + clone("onprem/p", "svc/p"));
  const CheckReport rep = check(plan);
  const auto bad = refusals(rep);
  ASSERT_EQ(bad.size(), 1u) << dump(plan, rep);
  EXPECT_EQ(bad[0].rule, "C1");
  EXPECT_EQ(bad[0].step, 2);
  EXPECT_EQ(bad[0].code, "CKR_MAX_OBJECT_COUNT_EXCEEDED");
  EXPECT_TRUE(has(bad[0].message, "3 objects refused by rule C1")) << bad[0].message;
  EXPECT_TRUE(has(bad[0].fix, "use another cloud service")) << bad[0].fix;
  EXPECT_TRUE(has(bad[0].message, "since step 1")) << bad[0].message;  // the step that filled it
  // Step 3 (the re-sync) is not refused: its 100 objects are all present.
  EXPECT_TRUE(rep.steps[2].ok()) << dump(plan, rep);
}

TEST(RuleC1Plan, HaReplicationToACloudStandbyThatHoldsTheKeys) {
  // The standby joins after the clone (it holds the primary's 100 objects):
  // allowed. Joining before the clone with 120 objects on the primary: the
  // service cannot take them, refused by C1 at the hagroup-add step.
  const std::string group = "\n[[hagroup]]\nname = \"web\"\nmembers = [\"onprem/p\"]\n";
  const std::string join = step("action = \"hagroup-add\"\ngroup = \"web\"\nmember = \"svc/p\"");
  const Plan ok = parse_ok(kCloudFleet + group + clone("onprem/p", "svc/p") + join);
  EXPECT_TRUE(check(ok).ok()) << dump(ok, check(ok));

  const Plan big =
      parse_ok(kHeader + described("onprem", "luna7", "7.8.0", keys("aes-256", 120, "k")) +
               described("svc", "cloud", "7.8.0") + group + join);
  const CheckReport rep = check(big);
  const auto bad = refusals(rep);
  ASSERT_EQ(bad.size(), 1u) << dump(big, rep);
  EXPECT_EQ(bad[0].rule, "C1");
  EXPECT_EQ(bad[0].step, 1);
  EXPECT_TRUE(has(bad[0].message, "lacks 120 of them and 20 would not fit")) << bad[0].message;
}

// ---- rule X9: HSM policy 50 before enabling FMs ---------------------------------

const std::string kFmDevice = kHeader + described("a", "luna7", "7.8.0");

TEST(RuleX9Plan, EnableFmAfterPolicy50Allowed) {
  const Plan plan = parse_ok(kFmDevice + hsm_policy("a", "50=1") + enable_fm("a"));
  const CheckReport rep = check(plan);
  EXPECT_TRUE(rep.ok()) << dump(plan, rep);
  EXPECT_EQ(rep.final_state.device("a")->desc.fm, api::FmState::enabled);
}

TEST(RuleX9Plan, EnableFmWithoutPolicy50RefusedAtTheStepWithTheFix) {
  const Plan plan = parse_ok(kFmDevice + enable_fm("a"));
  const CheckReport rep = check(plan);
  const auto bad = refusals(rep);
  ASSERT_EQ(bad.size(), 1u) << dump(plan, rep);
  EXPECT_EQ(bad[0].rule, "X9");
  EXPECT_EQ(bad[0].step, 1);
  EXPECT_TRUE(has(bad[0].message, "HSM policy 50")) << bad[0].message;
  EXPECT_TRUE(has(bad[0].fix, "set = [\"50=1\"] before this one")) << bad[0].fix;
  EXPECT_EQ(rep.final_state.device("a")->desc.fm, api::FmState::never);
  // A declared policy 50 = 1 is as good as the step.
  const Plan declared =
      parse_ok(kHeader + described("a", "luna7", "7.8.0", "", "hsm_policies = { 50 = 1 }\n") +
               enable_fm("a"));
  EXPECT_TRUE(check(declared).ok()) << dump(declared, check(declared));
}

TEST(RuleX9Plan, OrderInsertsPolicy50BeforeEnableFm) {
  const Plan plan = parse_ok(kFmDevice + enable_fm("a") + upgrade("a", "7.8.4"));
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  ASSERT_TRUE(o.ok) << notes(o);
  EXPECT_TRUE(o.changed);
  ASSERT_EQ(o.plan.steps.size(), 3u);
  const auto* pol = std::get_if<PolicyStep>(&o.plan.steps[0].body);
  ASSERT_NE(pol, nullptr) << o.toml;
  EXPECT_EQ(pol->target.str(), "a");
  EXPECT_EQ(pol->set, (std::vector<std::pair<int, int>>{{50, 1}}));
  EXPECT_EQ(o.order, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(has(notes(o), "plan order inserts before it: HSM policy 50=1 on a")) << notes(o);
  // The printed plan parses and checks clean.
  const Plan again = parse_ok(o.toml, "ordered.toml");
  EXPECT_TRUE(check(again).ok()) << o.toml;
}

TEST(RuleX9Plan, OrderMovesALaterPolicy50StepRatherThanAddingOne) {
  const Plan plan = parse_ok(kFmDevice + enable_fm("a") + hsm_policy("a", "50=1"));
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  ASSERT_TRUE(o.ok) << notes(o);
  EXPECT_EQ(o.order, (std::vector<int>{2, 1}));
}

TEST(RuleX9Plan, OrderCannotHelpBelow740) {
  // Below 7.4.0 policy 50 is not the reason (S2): nothing is inserted.
  const Plan plan = parse_ok(kHeader + described("a", "luna7", "7.2.0") + enable_fm("a"));
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  EXPECT_FALSE(o.ok);
  EXPECT_TRUE(has(notes(o), "rule S2")) << notes(o);
}

// ---- rule X9: documented Luna 7 update paths --------------------------------------

TEST(RuleX9Plan, UpgradeAlongADocumentedPathAllowed) {
  const Plan plan = parse_ok(kHeader + described("a", "luna7", "7.3.3") + upgrade("a", "7.7.0") +
                             upgrade("a", "7.8.4"));
  const CheckReport rep = check(plan);
  EXPECT_TRUE(rep.ok()) << dump(plan, rep);
  EXPECT_EQ(rep.warnings(), 0u) << dump(plan, rep);  // both releases are in the table
  EXPECT_EQ(rep.final_state.device("a")->desc.firmware, (api::Version{7, 8, 4}));
}

TEST(RuleX9Plan, UpgradeOutsideThePathRefusedAtTheStepNamingThePath) {
  const Plan plan = parse_ok(kHeader + described("a", "luna7", "7.0.0") + upgrade("a", "7.7.0"));
  const CheckReport rep = check(plan);
  const auto bad = refusals(rep);
  ASSERT_EQ(bad.size(), 1u) << dump(plan, rep);
  EXPECT_EQ(bad[0].rule, "X9");
  EXPECT_EQ(bad[0].step, 1);
  EXPECT_EQ(bad[0].line, plan.steps[0].line);
  EXPECT_TRUE(has(bad[0].message, "7.7.0 is reached only from 7.0.1")) << bad[0].message;
  EXPECT_TRUE(has(bad[0].fix, "update a to 7.4.2 first, then to 7.7.0")) << bad[0].fix;
  EXPECT_TRUE(has(bad[0].fix, "an upgrade step of a to 7.4.2 before this one")) << bad[0].fix;
  EXPECT_TRUE(has(dump(plan, rep), "step 1 (test.toml:")) << dump(plan, rep);
  EXPECT_EQ(rep.final_state.device("a")->desc.firmware, (api::Version{7, 0, 0}));
}

TEST(RuleX9Plan, OrderInsertsTheIntermediateRelease) {
  const Plan plan = parse_ok(kHeader + described("a", "luna7", "7.0.0") + upgrade("a", "7.7.0"));
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  ASSERT_TRUE(o.ok) << notes(o);
  ASSERT_EQ(o.plan.steps.size(), 2u);
  EXPECT_EQ(std::get<UpgradeStep>(o.plan.steps[0].body).firmware, (api::Version{7, 4, 2}));
  EXPECT_EQ(std::get<UpgradeStep>(o.plan.steps[1].body).firmware, (api::Version{7, 7, 0}));
  EXPECT_TRUE(check(parse_ok(o.toml, "ordered.toml")).ok()) << o.toml;
}

TEST(RuleX9Plan, AReleaseTheTableDoesNotKnowIsAWarningAtTheStep) {
  const Plan plan = parse_ok(kHeader + described("a", "luna7", "7.7.0") + upgrade("a", "7.8.0"));
  const CheckReport rep = check(plan);
  EXPECT_TRUE(rep.ok()) << dump(plan, rep);
  ASSERT_EQ(rep.warnings(), 1u) << dump(plan, rep);
  EXPECT_EQ(rep.problems[0].rule, "X9");
  EXPECT_EQ(rep.problems[0].step, 1);
  EXPECT_TRUE(has(rep.problems[0].message, "no entry for luna7 firmware 7.8.0"))
      << rep.problems[0].message;
}

// ---- rule X6: Backup HSM G5 update paths --------------------------------------------

TEST(RuleX6Plan, G5To6280From6270Allowed) {
  const Plan plan =
      parse_ok(kHeader + described("bk", "backup-g5", "6.27.0") + upgrade("bk", "6.28.0"));
  const CheckReport rep = check(plan);
  EXPECT_TRUE(rep.ok()) << dump(plan, rep);
  EXPECT_EQ(rep.warnings(), 0u) << dump(plan, rep);
}

TEST(RuleX6Plan, G5To6280FromElsewhereRefusedAndOrderInsertsThePath) {
  const Plan plan =
      parse_ok(kHeader + described("bk", "backup-g5", "6.22.0") + upgrade("bk", "6.28.0"));
  const auto bad = refusals(check(plan));
  ASSERT_EQ(bad.size(), 1u) << dump(plan, check(plan));
  EXPECT_EQ(bad[0].rule, "X6");
  EXPECT_EQ(bad[0].step, 1);
  EXPECT_TRUE(has(bad[0].fix, "update bk to 6.27.0 first, then to 6.28.0")) << bad[0].fix;
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  ASSERT_TRUE(o.ok) << notes(o);
  ASSERT_EQ(o.plan.steps.size(), 2u);
  EXPECT_EQ(std::get<UpgradeStep>(o.plan.steps[0].body).firmware, (api::Version{6, 27, 0}));
}

TEST(RuleX6Plan, NoDocumentedPathOrderGivesUp) {
  // 6.27.1 lies above every listed source of 6.28.0: nothing to insert.
  const Plan plan =
      parse_ok(kHeader + described("bk", "backup-g5", "6.27.1") + upgrade("bk", "6.28.0"));
  const OrderResult o = order_plan(plan, fleet_from_plan(plan));
  EXPECT_FALSE(o.ok);
  EXPECT_TRUE(has(notes(o), "rule X6")) << notes(o);
}

}  // namespace
}  // namespace hsm::plans
