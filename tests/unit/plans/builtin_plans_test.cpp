// Every built-in plan in migrations/plans parses, checks clean on a fresh
// fleet (emulated devices as the plan creates them), and survives a TOML
// round trip.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>

#include "migrations/order.hpp"
#include "migrations/show.hpp"
#include "plan_test_util.hpp"

namespace hsm::plans {
namespace {

using namespace testing;

class BuiltinPlan : public ::testing::TestWithParam<std::string> {};

TEST_P(BuiltinPlan, ParsesAndChecksClean) {
  const std::filesystem::path file = builtin_dir() + "/" + GetParam();
  auto r = parse_plan(file);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Plan& plan = r.value();
  EXPECT_FALSE(plan.steps.empty());
  // Runnable as-is: emulated devices and tokens the plan makes, nothing described.
  for (const auto& d : plan.devices) EXPECT_NE(d.mode, DeviceMode::described) << d.name;
  const CheckReport rep = check(plan);
  EXPECT_TRUE(rep.ok()) << dump(plan, rep);
  EXPECT_EQ(rep.steps.size(), plan.steps.size());
  // Secrets only from the default environment variables.
  for (const auto& d : plan.domains) EXPECT_TRUE(d.secret.empty()) << d.name;
}

TEST_P(BuiltinPlan, RoundTripsThroughToml) {
  auto r = parse_plan(builtin_dir() + "/" + GetParam());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string text = plan_to_toml(r.value());
  auto again = parse_plan_string(text, "round-trip.toml");
  ASSERT_TRUE(again.ok()) << again.error().message << "\n" << text;
  EXPECT_EQ(plan_to_toml(again.value()), text);
  EXPECT_EQ(again->steps.size(), r->steps.size());
}

TEST_P(BuiltinPlan, OrderKeepsItUnchanged) {
  auto r = parse_plan(builtin_dir() + "/" + GetParam());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const OrderResult o = order_plan(r.value(), fleet_from_plan(r.value()));
  EXPECT_TRUE(o.ok);
  EXPECT_FALSE(o.changed);
}

TEST_P(BuiltinPlan, ShowsAndDraws) {
  auto r = parse_plan(builtin_dir() + "/" + GetParam());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string text = plan_show(r.value());
  EXPECT_TRUE(has(text, r->name)) << text;
  const std::string dot = plan_to_dot(r.value());
  EXPECT_TRUE(dot.starts_with("digraph ")) << dot;
  EXPECT_TRUE(dot.ends_with("}\n")) << dot;
  for (const auto& d : r->devices) EXPECT_TRUE(has(dot, "\"" + d.name + "\"")) << d.name;
}

INSTANTIATE_TEST_SUITE_P(Plans, BuiltinPlan,
                         ::testing::Values("luna6-to-luna7.toml", "ha-upgrade-7.7.toml", "cloud-standby.toml",
                                           "nightly-backup.toml", "restore-drill.toml",
                                           "softhsm-to-luna7.toml"),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.size() - 5);
                           for (auto& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(BuiltinPlans, EveryFileInTheFolderIsCovered) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(builtin_dir()))
    if (e.path().extension() == ".toml") ++n;
  EXPECT_EQ(n, 6u);
}

TEST(BuiltinPlans, Luna6ToLuna7ReachesTheFipsMemberThroughTheBackupHsm) {
  auto r = parse_plan(builtin_dir() + "/luna6-to-luna7.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const CheckReport rep = check(r.value());
  ASSERT_TRUE(rep.ok()) << dump(r.value(), rep);
  // Step 3: Luna 6 -> luna7-a by CPv1 (policy 42 on); step 5: G5 -> FIPS member by CPv3.
  ASSERT_TRUE(rep.steps[2].protocol.has_value());
  EXPECT_EQ(*rep.steps[2].protocol, api::Protocol::cpv1);
  ASSERT_TRUE(rep.steps[4].protocol.has_value());
  EXPECT_EQ(*rep.steps[4].protocol, api::Protocol::cpv3);
  // Every object of the source reaches both Luna 7 members.
  const auto& fs = rep.final_state;
  const auto* src = fs.partition({"luna6-a", "app"});
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->objects.size(), 12u);  // 6 AES + 2 RSA pairs + 1 EC pair
  for (const char* dev : {"luna7-a", "luna7-b"}) {
    const auto* p = fs.partition({dev, "app"});
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->objects.size(), src->objects.size()) << dev;
  }
  EXPECT_EQ(fs.groups.at("modern").size(), 2u);
}

TEST(BuiltinPlans, CloudStandbyStaysWithinC1) {
  auto r = parse_plan(builtin_dir() + "/cloud-standby.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const CheckReport rep = check(r.value());
  ASSERT_TRUE(rep.ok()) << dump(r.value(), rep);
  EXPECT_EQ(*rep.steps[1].protocol, api::Protocol::cpv4);
  EXPECT_EQ(rep.steps[1].objects, 50u);
  EXPECT_EQ(rep.steps[1].batch_limit, 100u);  // C2
  const auto& web = rep.final_state.groups.at("web");
  EXPECT_EQ(web.back().str(), "cloud-svc/svc");  // standby, not primary (H4)
}

}  // namespace
}  // namespace hsm::plans
