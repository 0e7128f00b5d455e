// Rule C1 counts only the objects a clone, a restore or HA replication would
// create: an object whose content fingerprint the target already holds is
// not created again, so it takes no room (the nightly re-sync of a cloud
// standby). One count (CapacityCount) behind evaluate_clone, the HA group
// rules and the plan checker.
#include <gtest/gtest.h>

#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/evaluation.hpp"
#include "plugins/luna/rules/ha_rules.hpp"
#include "tests/unit/rules/fixtures.hpp"

namespace hsm::luna::rules {
namespace {

using namespace fixtures;  // NOLINT(google-build-using-namespace)

const api::ClientDesc kClient = client();

// n distinct AES keys, fingerprints fp-<first>..fp-<first+n-1>.
std::vector<api::ObjectDesc> keys(std::size_t n, std::size_t first = 1) {
  std::vector<api::ObjectDesc> out;
  for (std::size_t i = 0; i < n; ++i) {
    api::ObjectDesc o = aes();
    o.handle = first + i;
    o.label = "k-" + std::to_string(first + i);
    o.fingerprint = "fp-" + std::to_string(first + i);
    out.push_back(std::move(o));
  }
  return out;
}

// A cloud service that holds `objs` (as the tool describes it to the rules).
api::Endpoint cloud_holding(const std::vector<api::ObjectDesc>& objs) {
  api::Endpoint svc = cloud();
  svc.partition.object_count = objs.size();
  for (const auto& o : objs) svc.partition.held_fingerprints.insert(o.fingerprint);
  return svc;
}

std::size_t refused_by(const api::Evaluation& ev, const std::string& rule) {
  std::size_t n = 0;
  for (const auto& v : ev.objects) n += !v.allowed && v.rule == rule;
  return n;
}

TEST(RuleC1, ResyncOfHundredObjectsAlreadyPresentAllowed) {
  const auto objs = keys(100);
  const auto ev = evaluate_clone(luna7({7, 8, 0}), cloud_holding(objs), objs, kClient);
  EXPECT_TRUE(ev.allowed());
  EXPECT_EQ(refused_by(ev, "C1"), 0u);
}

TEST(RuleC1, FullServiceWithoutThoseObjectsRefusesEveryNewOne) {
  // The same full service, told nothing is present: every object would be created.
  api::Endpoint full = cloud_holding(keys(100, 1000));
  const auto ev = evaluate_clone(luna7({7, 8, 0}), full, keys(100), kClient);
  EXPECT_FALSE(ev.allowed());
  EXPECT_EQ(refused_by(ev, "C1"), 100u);
  EXPECT_EQ(ev.objects[0].code, "CKR_MAX_OBJECT_COUNT_EXCEEDED");
  EXPECT_NE(ev.objects[0].message.find("objects already present are not counted"),
            std::string::npos);
}

TEST(RuleC1, OnlyTheNewObjectsOfAResyncCount) {
  // 90 present + 20 new into a service holding 95: 5 fit, 15 are refused,
  // and only new objects are refused.
  auto present = keys(90);
  auto held = present;
  auto other = keys(5, 500);  // 5 unrelated objects also on the service
  held.insert(held.end(), other.begin(), other.end());
  auto incoming = present;
  auto fresh = keys(20, 200);
  incoming.insert(incoming.end(), fresh.begin(), fresh.end());
  const auto ev = evaluate_clone(luna7({7, 8, 0}), cloud_holding(held), incoming, kClient);
  ASSERT_EQ(ev.objects.size(), 110u);
  for (std::size_t i = 0; i < 90; ++i) EXPECT_TRUE(ev.objects[i].allowed) << i;
  EXPECT_EQ(refused_by(ev, "C1"), 15u);
  for (std::size_t i = 90; i < 95; ++i) EXPECT_TRUE(ev.objects[i].allowed) << i;
}

TEST(RuleC1, TheSameContentTwiceInOneCloneCountsOnce) {
  auto objs = keys(100);
  objs.push_back(objs.front());  // a duplicate: the device does not double it
  EXPECT_TRUE(evaluate_clone(luna7({7, 8, 0}), cloud(), objs, kClient).allowed());
  // Objects without a fingerprint each count (nothing to match them by).
  std::vector<api::ObjectDesc> anonymous(101, aes());
  EXPECT_EQ(refused_by(evaluate_clone(luna7({7, 8, 0}), cloud(), anonymous, kClient), "C1"), 1u);
}

TEST(RuleC1, CapacityCountKeepsPresentAndCreatedApart) {
  const auto held = keys(99);
  api::Endpoint svc = cloud_holding(held);
  CapacityCount room(svc.device, svc.partition);
  for (const auto& o : held) EXPECT_TRUE(room.take(o).ok());
  const auto two = keys(2, 300);
  EXPECT_TRUE(room.take(two[0]).ok());
  const auto full = room.take(two[1]);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().rule, "C1");
  EXPECT_EQ(full.error().kind, api::ErrorKind::refused);
  EXPECT_EQ(room.already_present(), 99u);
  EXPECT_EQ(room.created(), 1u);
  // An on-premises partition has no object limit.
  api::Endpoint big = luna7({7, 8, 0}, "hsm-b");
  big.partition.object_count = 1'000'000;
  CapacityCount no_limit(big.device, big.partition);
  EXPECT_TRUE(no_limit.take(two[1]).ok());
}

// HA replication: the primary's objects go to every member; a cloud standby
// already holding them has room, one lacking too many does not.
TEST(RuleC1, HaReplicationToACloudStandbyHoldingThePrimaryObjectsAllowed) {
  const auto objs = keys(100);
  HaGroupDesc g{"web", {luna7({7, 8, 0}), cloud_holding(objs)}, &objs};
  for (const auto& v : check_ha_group(g, kClient)) EXPECT_NE(v.rule, "C1") << v.message;
}

TEST(RuleC1, HaReplicationOfMoreThanACloudMemberHoldsRefused) {
  const auto objs = keys(120);
  HaGroupDesc g{"web", {luna7({7, 8, 0}), cloud_holding(keys(100))}, &objs};
  const auto vs = check_ha_group(g, kClient);
  const auto it =
      std::find_if(vs.begin(), vs.end(), [](const api::Verdict& v) { return v.rule == "C1"; });
  ASSERT_NE(it, vs.end());
  EXPECT_FALSE(it->allowed);
  EXPECT_EQ(it->code, "CKR_MAX_OBJECT_COUNT_EXCEEDED");
  EXPECT_NE(it->message.find("lacks 20 of them and 20 would not fit"), std::string::npos)
      << it->message;
  // Without the primary's objects the rules do not judge capacity.
  HaGroupDesc blind{"web", {luna7({7, 8, 0}), cloud_holding(keys(100))}};
  for (const auto& v : check_ha_group(blind, kClient)) EXPECT_NE(v.rule, "C1");
}

}  // namespace
}  // namespace hsm::luna::rules
