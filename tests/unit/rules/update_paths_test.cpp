// Firmware update paths: rule X9 (Luna 7) and rule X6 (Backup HSM G5), from
// the one table in kind_profile (update_paths). Each documented release is
// tested from every listed source (allowed) and from sources outside the
// list (refused, with the path to take); a release the table does not know
// is allowed and flagged.
#include <gtest/gtest.h>

#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/kind_profile.hpp"

namespace hsm::luna::rules {
namespace {

using api::DeviceDesc;
using api::DeviceKind;
using api::Version;

DeviceDesc device(DeviceKind k, Version fw) {
  DeviceDesc d;
  d.name = "hsm";
  d.kind = k;
  d.firmware = fw;
  return d;
}

api::Error refusal(const api::Status& s) {
  EXPECT_FALSE(s.ok());
  return s.ok() ? api::Error{} : s.error();
}

// ---- rule X9: Luna 7 -------------------------------------------------------------

TEST(RuleX9, To770FromEveryListedRelease) {
  for (Version from :
       {Version{7, 0, 1}, Version{7, 0, 2}, Version{7, 0, 3}, Version{7, 1, 0}, Version{7, 2, 0},
        Version{7, 3, 0}, Version{7, 3, 3}, Version{7, 4, 0}, Version{7, 4, 1}, Version{7, 4, 2}})
    EXPECT_TRUE(check_upgrade(device(DeviceKind::luna7, from), {7, 7, 0}).ok()) << from.str();
}

TEST(RuleX9, To770FromAnUnlistedVersionRefusedWithThePathToTake) {
  // 7.0.0 is below the list: the newest listed release is the way through.
  const api::Error e = refusal(check_upgrade(device(DeviceKind::luna7, {7, 0, 0}), {7, 7, 0}));
  EXPECT_EQ(e.kind, api::ErrorKind::refused);
  EXPECT_EQ(e.rule, "X9");
  EXPECT_EQ(e.code, "CKR_OPERATION_NOT_ALLOWED");
  EXPECT_NE(e.message.find("7.7.0 is reached only from 7.0.1, 7.0.2"), std::string::npos)
      << e.message;
  EXPECT_NE(e.message.find("7.4.1 or 7.4.2"), std::string::npos) << e.message;
  EXPECT_EQ(e.fix, "update hsm to 7.4.2 first, then to 7.7.0");
  // 7.3.1 is not a listed release, though inside the span.
  EXPECT_EQ(refusal(check_upgrade(device(DeviceKind::luna7, {7, 3, 1}), {7, 7, 0})).fix,
            "update hsm to 7.4.2 first, then to 7.7.0");
}

TEST(RuleX9, To770FromAbove742HasNoDocumentedPath) {
  // Nothing listed lies above 7.6.0; 7.8.4 does take an update from it.
  const api::Error e = refusal(check_upgrade(device(DeviceKind::luna7, {7, 6, 0}), {7, 7, 0}));
  EXPECT_EQ(e.rule, "X9");
  EXPECT_NE(e.fix.find("no documented update path leads from 7.6.0 to 7.7.0"), std::string::npos)
      << e.fix;
  EXPECT_NE(e.fix.find("7.8.4 accepts an update from 7.6.0"), std::string::npos) << e.fix;
  EXPECT_TRUE(upgrade_route(DeviceKind::luna7, {7, 6, 0}, {7, 7, 0}).empty());
}

TEST(RuleX9, To784FromAnything701Through782) {
  for (Version from : {Version{7, 0, 1}, Version{7, 2, 0}, Version{7, 7, 0}, Version{7, 7, 1},
                       Version{7, 8, 0}, Version{7, 8, 2}})
    EXPECT_TRUE(check_upgrade(device(DeviceKind::luna7, from), {7, 8, 4}).ok()) << from.str();
}

TEST(RuleX9, To784FromOutsideTheRangeRefused) {
  const api::Error low = refusal(check_upgrade(device(DeviceKind::luna7, {7, 0, 0}), {7, 8, 4}));
  EXPECT_EQ(low.rule, "X9");
  EXPECT_NE(low.message.find("7.8.4 is reached only from 7.0.1 through 7.8.2"), std::string::npos)
      << low.message;
  EXPECT_EQ(low.fix, "update hsm to 7.8.2 first, then to 7.8.4");
  const api::Error high = refusal(check_upgrade(device(DeviceKind::luna7, {7, 8, 3}), {7, 8, 4}));
  EXPECT_EQ(high.rule, "X9");
  EXPECT_NE(high.fix.find("no documented update path leads from 7.8.3 to 7.8.4"), std::string::npos)
      << high.fix;
}

TEST(RuleX9, RouteThroughAnIntermediateRelease) {
  EXPECT_EQ(upgrade_route(DeviceKind::luna7, {7, 0, 0}, {7, 7, 0}),
            (std::vector<Version>{{7, 4, 2}, {7, 7, 0}}));
  EXPECT_EQ(upgrade_route(DeviceKind::luna7, {7, 2, 0}, {7, 7, 0}),
            (std::vector<Version>{{7, 7, 0}}));
  // Every step of a route is allowed by check_upgrade.
  Version at{7, 0, 0};
  for (const Version& next : upgrade_route(DeviceKind::luna7, at, {7, 8, 4})) {
    EXPECT_TRUE(check_upgrade(device(DeviceKind::luna7, at), next).ok())
        << at.str() << " -> " << next.str();
    at = next;
  }
  EXPECT_EQ(at, (Version{7, 8, 4}));
}

TEST(RuleX9, AReleaseTheTableDoesNotKnowIsAllowedAndFlagged) {
  const auto d = device(DeviceKind::luna7, {7, 7, 0});
  EXPECT_TRUE(check_upgrade(d, {7, 8, 0}).ok());
  const std::string flag = upgrade_path_flag(d, {7, 8, 0});
  EXPECT_NE(flag.find("no entry for luna7 firmware 7.8.0"), std::string::npos) << flag;
  EXPECT_STREQ(update_rule(DeviceKind::luna7), "X9");
  // A release the table knows is not flagged.
  EXPECT_EQ(upgrade_path_flag(device(DeviceKind::luna7, {7, 2, 0}), {7, 7, 0}), "");
}

TEST(RuleX9, DowngradesStayRefusedByP1) {
  EXPECT_EQ(refusal(check_upgrade(device(DeviceKind::luna7, {7, 8, 4}), {7, 7, 0})).rule, "P1");
}

// ---- rule X6: Backup HSM G5 ----------------------------------------------------

TEST(RuleX6, To6280From6109_6260_6270) {
  for (Version from : {Version{6, 10, 9}, Version{6, 26, 0}, Version{6, 27, 0}})
    EXPECT_TRUE(check_upgrade(device(DeviceKind::backup_g5, from), {6, 28, 0}).ok()) << from.str();
}

TEST(RuleX6, To6280FromElsewhereRefusedWithThePathToTake) {
  const api::Error e =
      refusal(check_upgrade(device(DeviceKind::backup_g5, {6, 20, 0}), {6, 28, 0}));
  EXPECT_EQ(e.kind, api::ErrorKind::refused);
  EXPECT_EQ(e.rule, "X6");
  EXPECT_EQ(e.code, "CKR_OPERATION_NOT_ALLOWED");
  EXPECT_NE(e.message.find("6.28.0 is reached only from 6.10.9, 6.26.0 or 6.27.0"),
            std::string::npos)
      << e.message;
  EXPECT_EQ(e.fix, "update hsm to 6.27.0 first, then to 6.28.0");
  const api::Error near =
      refusal(check_upgrade(device(DeviceKind::backup_g5, {6, 27, 1}), {6, 28, 0}));
  EXPECT_EQ(near.rule, "X6");
  EXPECT_NE(near.fix.find("no documented update path leads from 6.27.1 to 6.28.0"),
            std::string::npos)
      << near.fix;
}

TEST(RuleX6, AReleaseTheTableDoesNotKnowIsFlaggedUnderX6) {
  const auto d = device(DeviceKind::backup_g5, {6, 28, 0});
  EXPECT_TRUE(check_upgrade(d, {6, 29, 0}).ok());
  EXPECT_FALSE(upgrade_path_flag(d, {6, 29, 0}).empty());
  EXPECT_STREQ(update_rule(DeviceKind::backup_g5), "X6");
}

// The table itself: one entry per documented release, sources ascending and
// below the release, rule IDs by kind.
TEST(RuleX9, OneTableOfDocumentedPaths) {
  ASSERT_NE(update_path_to(DeviceKind::luna7, {7, 7, 0}), nullptr);
  ASSERT_NE(update_path_to(DeviceKind::luna7, {7, 8, 4}), nullptr);
  ASSERT_NE(update_path_to(DeviceKind::backup_g5, {6, 28, 0}), nullptr);
  EXPECT_EQ(update_path_to(DeviceKind::luna6, {6, 28, 0}), nullptr);
  for (const auto& p : update_paths()) {
    EXPECT_STREQ(p.rule, update_rule(p.kind));
    for (std::size_t i = 0; i < p.from.size(); ++i) {
      EXPECT_LE(p.from[i].first, p.from[i].last);
      EXPECT_LT(p.from[i].last, p.release);
      if (i) {
        EXPECT_LT(p.from[i - 1].last, p.from[i].first);
      }
    }
  }
}

}  // namespace
}  // namespace hsm::luna::rules
