// Coverage pairs: one allowed and one refused case for the rule IDs that the
// main rule tests cover only one way (P3, P6, K4, K5, C1, C2, C4, U5). U1 has
// its pair in tests/unit/cloning (RuleU1) and tests/unit/device. Where a rule
// is not a refusal by nature the pair is the nearest honest one, and the
// comment says so.
#include <gtest/gtest.h>

#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/evaluation.hpp"
#include "tests/unit/rules/fixtures.hpp"

namespace hsm::luna::rules {
namespace {

using namespace fixtures;  // NOLINT(google-build-using-namespace)
using api::KeyType;
using api::Protocol;

const api::ClientDesc kClient = client();

// rule P3: CPv2 (Small Form-factor Backup) is unsupported everywhere: no
// endpoint lists it and no name parses to it; CPv1/CPv3/CPv4 do.
TEST(RuleP3, Cpv1Cpv3Cpv4AreProtocolsAllowed) {
  for (const char* p : {"CPv1", "CPv3", "CPv4"}) EXPECT_TRUE(api::parse_protocol(p).has_value()) << p;
}
TEST(RuleP3, Cpv2AndCpv0AreRefusedEverywhere) {
  EXPECT_FALSE(api::parse_protocol("CPv2").has_value());
  EXPECT_FALSE(api::parse_protocol("CPv0").has_value());
  // Firmware below 6.0 (the CPv0/CPv2 generation) cannot even exist (P1).
  EXPECT_FALSE(check_firmware(api::DeviceKind::luna6, {5, 4, 0}).ok());
}

// rule P6: CPv4 is used only when both sides are >= 7.8.0. P6 itself never
// refuses a pair (the 7.8 side behaves as 7.7.1), so the nearest honest
// refused case is CPv4 being refused for a 7.8/7.7.1 pair (CPv3 instead).
TEST(RuleP6, BothSevenEightAllowedCpv4) {
  auto v = evaluate_pair(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), kClient);
  ASSERT_TRUE(v.allowed) << v.message;
  EXPECT_EQ(v.protocol, Protocol::cpv4);
}
TEST(RuleP6, Cpv4RefusedWhenOneSideIsBelowSevenEight) {
  auto v = evaluate_pair(luna7({7, 8, 0}), luna7({7, 7, 1}, "hsm-b"), kClient);
  ASSERT_TRUE(v.allowed) << v.message;
  EXPECT_EQ(v.protocol, Protocol::cpv3) << "no CPv4 with a 7.7.1 peer";
  auto back = evaluate_pair(luna7({7, 7, 1}, "hsm-b"), luna7({7, 8, 0}), kClient);
  EXPECT_NE(back.protocol, Protocol::cpv4);
}

// rule K4: remapping is a client behaviour, not a refusal. Allowed: an old
// mechanism is remapped to FIPS 186-3 (so the key is not a K3 key and
// clones to Luna 7). Refused: without the remap (client 10.0.0) the X9.31
// key stays X9.31 and Luna 7 refuses it (K3).
TEST(RuleK4, RemappedKeyIsAllowedToLuna7) {
  api::DeviceDesc l6;
  l6.kind = api::DeviceKind::luna6;
  l6.firmware = {6, 10, 9};
  api::PartitionDesc p;
  auto o = key(KeyType::rsa, 2048);
  o.keygen = remap_keygen(l6, p, api::KeygenMechanism::x9_31, kClient);
  EXPECT_EQ(o.keygen, api::KeygenMechanism::fips186_3);
  auto v = evaluate(luna6(), luna7({7, 2, 0}, "hsm-b"), &o, kClient);
  EXPECT_TRUE(v.allowed) << v.message;
}
TEST(RuleK4, UnremappedKeyFromOldClientIsRefusedToLuna7) {
  api::DeviceDesc l6;
  l6.kind = api::DeviceKind::luna6;
  l6.firmware = {6, 10, 9};
  api::PartitionDesc p;
  auto o = key(KeyType::rsa, 2048);
  o.keygen = remap_keygen(l6, p, api::KeygenMechanism::x9_31, client({10, 0, 0}));
  EXPECT_EQ(o.keygen, api::KeygenMechanism::x9_31);
  auto v = evaluate(luna6(), luna7({7, 2, 0}, "hsm-b"), &o, kClient);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, "K3");
}

// rule K5: a key created with a mechanism a member lacks does not replicate
// to it. In the model this is enforced per member by K1 (key types) and K3
// (key-generation mechanisms); the pair below is a Luna 7 -> Luna 6 member.
TEST(RuleK5, CommonMechanismReplicatesToEveryMember) {
  auto o = key(KeyType::ec, 256);
  auto v = evaluate(luna7({7, 2, 0}), luna6("hsm-b"), &o, kClient);
  EXPECT_TRUE(v.allowed) << v.message;
}
TEST(RuleK5, MechanismTheMemberLacksDoesNotReplicate) {
  auto o = key(KeyType::ed25519, 256);
  auto v = evaluate(luna7({7, 2, 0}), luna6("hsm-b"), &o, kClient);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, "K1");  // K5 is K1 applied to the member that lacks Ed25519
}

// rule C1: a cloud service holds at most 100 token objects.
TEST(RuleC1, HundredObjectsToCloudAllowed) {
  std::vector<api::ObjectDesc> objs(100, aes());
  auto ev = evaluate_clone(luna7({7, 8, 0}), cloud(), objs, kClient);
  EXPECT_TRUE(ev.allowed());
}
TEST(RuleC1, HundredAndFiftyObjectsToCloudRefusesFifty) {
  std::vector<api::ObjectDesc> objs(150, aes());
  for (std::size_t i = 0; i < objs.size(); ++i) objs[i].handle = i + 1;
  auto ev = evaluate_clone(luna7({7, 8, 0}), cloud(), objs, kClient);
  ASSERT_EQ(ev.objects.size(), 150u);
  std::size_t refused = 0;
  for (const auto& v : ev.objects)
    if (!v.allowed) {
      EXPECT_EQ(v.rule, "C1");
      EXPECT_EQ(v.code, "CKR_MAX_OBJECT_COUNT_EXCEEDED");
      ++refused;
    }
  EXPECT_EQ(refused, 50u);
}

// rule C2: not a refusal but a batch size the migrator must respect. Allowed:
// on-premises pairs are not limited; refused: more than 100 per operation to
// or from a cloud service (the evaluation's batch_limit).
TEST(RuleC2, OnPremisesPairsAllowedLargeBatches) {
  auto ev = evaluate_clone(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), {aes()}, kClient);
  EXPECT_GT(ev.batch_limit, 100u);
}
TEST(RuleC2, MoreThanHundredPerOperationRefusedForCloud) {
  EXPECT_EQ(evaluate_clone(luna7({7, 8, 0}), cloud(), {aes()}, kClient).batch_limit, 100u);
  EXPECT_EQ(evaluate_clone(cloud(), luna6(), {aes()}, kClient).batch_limit, 100u);
}

// rule C4: services use password authentication (the latency part is a
// model cost, not a verdict). Allowed: a password service; refused: MFA.
TEST(RuleC4, PasswordServiceAllowed) {
  api::DeviceDesc c;
  c.kind = api::DeviceKind::cloud;
  c.firmware = {7, 8, 0};
  EXPECT_TRUE(check_partition_create(c, 0, {"svc"}).ok());
}
TEST(RuleC4, MultifactorServiceRefused) {
  api::DeviceDesc c;
  c.kind = api::DeviceKind::cloud;
  c.firmware = {7, 8, 0};
  auto s = check_partition_create(c, 0, {"svc", api::PartitionType::v0, api::AuthKind::mfa});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().rule, "C4");
}

// rule U5: partition policy 16 (network replication) does not apply to
// CPv4. Not a refusal by nature; the honest pair: with policy 16 OFF a CPv4
// pair is still allowed, and turning policy 16 ON does not lift a refusal
// made by another rule (S1), i.e. it is no cloning switch either way.
TEST(RuleU5, Policy16OffDoesNotStopCpv4Allowed) {
  auto a = luna7({7, 8, 0});
  auto b = luna7({7, 8, 0}, "hsm-b");
  a.partition.policies[api::policy::part_network_replication] = 0;
  b.partition.policies[api::policy::part_network_replication] = 0;
  auto v = evaluate_pair(a, b, kClient);
  ASSERT_TRUE(v.allowed) << v.message;
  EXPECT_EQ(v.protocol, Protocol::cpv4);
}
TEST(RuleU5, Policy16OnDoesNotLiftADomainRefusal) {
  auto a = luna7({7, 8, 0});
  auto b = with_domains(luna7({7, 8, 0}, "hsm-b"), {{"", api::DomainKind::text, true, kDomainB}});
  a.partition.policies[api::policy::part_network_replication] = 1;
  b.partition.policies[api::policy::part_network_replication] = 1;
  auto v = evaluate_pair(a, b, kClient);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, "S1");
}

}  // namespace
}  // namespace hsm::luna::rules
