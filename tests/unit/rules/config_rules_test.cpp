// The configuration rules, each test named after the rule it checks.
#include <gtest/gtest.h>

#include "plugins/luna/rules/config_rules.hpp"

namespace hsm::luna::rules {
namespace {

using api::DeviceDesc;
using api::DeviceKind;
using api::PartitionDesc;
using api::Version;

DeviceDesc device(DeviceKind k, Version fw) {
  DeviceDesc d;
  d.name = "hsm";
  d.kind = k;
  d.firmware = fw;
  d.hsm_policies = {{7, 1}, {12, 1}, {57, 0}};
  return d;
}

PartitionDesc partition(const DeviceDesc& dev, bool fips = false,
                        api::PartitionType t = api::PartitionType::v0) {
  PartitionDesc p;
  p.name = "p1";
  p.type = t;
  p.fips = fips;
  p.policies = initial_partition_policies(dev, {"p1", t, api::AuthKind::password, fips});
  p.domains = {{"", api::DomainKind::text, true, "aa"}};
  return p;
}

void expect_refused(const api::Status& s, const char* rule) {
  ASSERT_FALSE(s.ok()) << "expected rule " << rule << " to refuse";
  EXPECT_EQ(s.error().kind, api::ErrorKind::refused);
  EXPECT_EQ(s.error().rule, rule) << s.error().message;
  EXPECT_FALSE(s.error().message.empty());
}

TEST(RuleP1, FirmwareBelowSixRefused) {
  expect_refused(check_firmware(DeviceKind::luna6, {5, 2, 0}), "P1");
  expect_refused(check_firmware(DeviceKind::luna7, {4, 8, 5}), "P1");
}
TEST(RuleP1, FirmwareRangesPerKind) {
  EXPECT_TRUE(check_firmware(DeviceKind::luna6, {6, 10, 9}).ok());
  EXPECT_TRUE(check_firmware(DeviceKind::luna7, {7, 0, 0}).ok());
  EXPECT_TRUE(check_firmware(DeviceKind::backup_g5, {6, 28, 0}).ok());
  EXPECT_TRUE(check_firmware(DeviceKind::cloud, {7, 8, 0}).ok());
  expect_refused(check_firmware(DeviceKind::luna6, {7, 0, 0}), "P1");
  expect_refused(check_firmware(DeviceKind::luna7, {6, 10, 9}), "P1");
  expect_refused(check_firmware(DeviceKind::backup_g5, {7, 2, 0}), "P1");
}
TEST(RuleP1, UpgradesGoUpwardOnly) {
  auto d = device(DeviceKind::luna7, {7, 7, 0});
  EXPECT_TRUE(check_upgrade(d, {7, 8, 0}).ok());
  expect_refused(check_upgrade(d, {7, 7, 0}), "P1");
  expect_refused(check_upgrade(d, {7, 4, 0}), "P1");
}

TEST(RuleS2, FmNeedsFirmware740) {
  auto old = device(DeviceKind::luna7, {7, 3, 0});
  old.hsm_policies[api::policy::hsm_allow_fm] = 1;
  expect_refused(check_enable_fm(old), "S2");  // S2 first: policy 50 cannot help below 7.4.0
  auto d = device(DeviceKind::luna7, {7, 4, 0});
  d.hsm_policies[api::policy::hsm_allow_fm] = 1;
  EXPECT_TRUE(check_enable_fm(d).ok());
}

// rule X9: enabling FMs needs HSM policy 50 (allow Functionality Modules) = 1.
TEST(RuleX9, FmWithPolicy50Allowed) {
  auto d = device(DeviceKind::luna7, {7, 8, 0});
  d.hsm_policies[api::policy::hsm_allow_fm] = 1;
  EXPECT_TRUE(check_enable_fm(d).ok());
}
TEST(RuleX9, FmWithPolicy50OffRefusedNamingThePolicyAndTheFix) {
  auto d = device(DeviceKind::luna7, {7, 8, 0});
  d.hsm_policies[api::policy::hsm_allow_fm] = 0;
  auto s = check_enable_fm(d);
  expect_refused(s, "X9");
  EXPECT_NE(s.error().message.find("HSM policy 50"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().fix.find("device policy hsm --set 50=1"), std::string::npos) << s.error().fix;
  // A device that never set policy 50 has it at 0, as a new device starts.
  expect_refused(check_enable_fm(device(DeviceKind::luna7, {7, 8, 0})), "X9");
}
TEST(RuleS2, FmEnableIsOneWayAndOnce) {
  auto d = device(DeviceKind::luna7, {7, 8, 0});
  d.hsm_policies[api::policy::hsm_allow_fm] = 1;
  d.fm = api::FmState::enabled;
  expect_refused(check_enable_fm(d), "S2");
}
TEST(RuleS3, BackupHsmStaysFmDisabled) {
  expect_refused(check_enable_fm(device(DeviceKind::backup_g5, {6, 28, 0})), "S3");
}

TEST(RuleX7, V1PartitionNeeds770) {
  auto old = device(DeviceKind::luna7, {7, 6, 0});
  expect_refused(check_partition_create(old, 0, {"p", api::PartitionType::v1}), "X7");
  auto d = device(DeviceKind::luna7, {7, 7, 0});
  EXPECT_TRUE(check_partition_create(d, 0, {"p", api::PartitionType::v1}).ok());
}
TEST(RuleC4, CloudIsOnePasswordPartition) {
  auto c = device(DeviceKind::cloud, {7, 8, 0});
  expect_refused(check_partition_create(c, 0, {"s", api::PartitionType::v0, api::AuthKind::mfa}), "C4");
  EXPECT_TRUE(check_partition_create(c, 0, {"s"}).ok());
  expect_refused(check_partition_create(c, 1, {"t"}), "C1");
}

TEST(RuleP5, Policy42StartsOffFrom771) {
  auto d = device(DeviceKind::luna7, {7, 7, 1});
  auto p = initial_partition_policies(d, {"p1"});
  ASSERT_TRUE(p.contains(42));
  EXPECT_EQ(p[42], 0);
  EXPECT_FALSE(initial_partition_policies(device(DeviceKind::luna7, {7, 7, 0}), {"p1"}).contains(42));
  auto added = policies_added_by_upgrade({7, 4, 0}, {7, 7, 1});
  ASSERT_TRUE(added.contains(42));
  EXPECT_EQ(added[42], 0);
}
TEST(RuleP5, Policy42OnAllowedForNonFipsV0) {
  auto d = device(DeviceKind::luna7, {7, 7, 1});
  EXPECT_TRUE(check_partition_policy(d, partition(d), 42, 1).ok());
}
TEST(RuleP5, Policy42RefusedOnFipsPartition) {
  auto d = device(DeviceKind::luna7, {7, 7, 1});
  expect_refused(check_partition_policy(d, partition(d, true), 42, 1), "P5");
}
TEST(RuleP5, Policy42RefusedOnV1Partition) {
  auto d = device(DeviceKind::luna7, {7, 7, 1});
  expect_refused(check_partition_policy(d, partition(d, false, api::PartitionType::v1), 42, 1), "P5");
}
TEST(RuleP5, Policy42DoesNotExistBefore771) {
  auto d = device(DeviceKind::luna7, {7, 7, 0});
  expect_refused(check_partition_policy(d, partition(d), 42, 1), "P5");
}
TEST(RuleP5, FipsHsmPolicyRefusedWhilePolicy42On) {
  auto d = device(DeviceKind::luna7, {7, 7, 1});
  auto p = partition(d);
  p.policies[42] = 1;
  expect_refused(check_hsm_policy(d, {p}, 12, 0), "P5");
  p.policies[42] = 0;
  EXPECT_TRUE(check_hsm_policy(d, {p}, 12, 0).ok());
}

TEST(RuleX1, CloningAndWrappingExclusive) {
  auto d = device(DeviceKind::luna7, {7, 8, 0});
  expect_refused(check_partition_policy(d, partition(d), 1, 1), "X1");
  auto p = partition(d);
  p.policies[0] = 0;
  EXPECT_TRUE(check_partition_policy(d, p, 1, 1).ok());
}

TEST(RuleD1, DomainManagementNeeds780) {
  auto d = device(DeviceKind::luna7, {7, 7, 1});
  auto p = partition(d);
  p.policies[44] = 1;
  expect_refused(check_domain_add(d, p, "second", "bb"), "D1");
}
TEST(RuleD1, DomainManagementNeedsPolicy44) {
  auto d = device(DeviceKind::luna7, {7, 8, 0});
  auto p = partition(d);
  expect_refused(check_domain_add(d, p, "second", "bb"), "D1");
  expect_refused(check_domain_delete(d, p, ""), "D1");
  p.policies[44] = 1;
  EXPECT_TRUE(check_domain_add(d, p, "second", "bb").ok());
}
TEST(RuleD1, AtMostThreeDomains) {
  auto d = device(DeviceKind::luna7, {7, 8, 0});
  auto p = partition(d);
  p.policies[44] = 1;
  p.domains.push_back({"b", api::DomainKind::text, false, "bb"});
  p.domains.push_back({"c", api::DomainKind::ped, false, "cc"});
  auto s = check_domain_add(d, p, "d", "dd");
  expect_refused(s, "D1");
  EXPECT_EQ(s.error().code, "CKR_DOMAIN_MAX_REACHED");
}
TEST(RuleD2, LabelsMustDiffer) {
  auto d = device(DeviceKind::luna7, {7, 8, 0});
  auto p = partition(d);
  p.policies[44] = 1;
  p.domains.push_back({"b", api::DomainKind::text, false, "bb"});
  expect_refused(check_domain_add(d, p, "b", "cc"), "D2");
  expect_refused(check_domain_label(d, p, "", "b"), "D2");
  EXPECT_TRUE(check_domain_label(d, p, "", "a").ok());
}
TEST(RuleD3, PrimaryCannotBeDeleted) {
  auto d = device(DeviceKind::luna7, {7, 8, 0});
  auto p = partition(d);
  p.policies[44] = 1;
  p.domains.push_back({"b", api::DomainKind::text, false, "bb"});
  expect_refused(check_domain_delete(d, p, ""), "D3");
  EXPECT_TRUE(check_domain_delete(d, p, "b").ok());
}

TEST(RuleU2, SuitesNeed780) {
  auto d = device(DeviceKind::luna7, {7, 7, 1});
  expect_refused(check_suite_change(d, partition(d), "aes-256-gcm"), "U2");
  auto n = device(DeviceKind::luna7, {7, 8, 0});
  EXPECT_TRUE(check_suite_change(n, partition(n), "aes-256-gcm").ok());
  EXPECT_EQ(check_suite_change(n, partition(n), "rot13").error().kind, api::ErrorKind::usage);
}

TEST(RuleC1, CloudHoldsAtMost100Objects) {
  auto c = device(DeviceKind::cloud, {7, 8, 0});
  auto p = partition(c);
  p.object_count = 99;
  EXPECT_TRUE(check_capacity(c, p, 1).ok());
  auto s = check_capacity(c, p, 2);
  expect_refused(s, "C1");
  EXPECT_EQ(s.error().code, "CKR_MAX_OBJECT_COUNT_EXCEEDED");
  auto l = device(DeviceKind::luna7, {7, 8, 0});
  auto lp = partition(l);
  lp.object_count = 100000;
  EXPECT_TRUE(check_capacity(l, lp, 1000).ok());
}

TEST(RuleK1, Ed25519UnknownToLuna6) {
  auto d = device(DeviceKind::luna6, {6, 10, 9});
  expect_refused(check_key_generation(d, partition(d), api::KeyType::ed25519, 256,
                                      api::KeygenMechanism::none), "K1");
  auto l = device(DeviceKind::luna7, {7, 8, 0});
  EXPECT_TRUE(check_key_generation(l, partition(l), api::KeyType::ed25519, 256,
                                   api::KeygenMechanism::none).ok());
}
TEST(RuleK2, FipsMinimumAtGeneration) {
  auto d = device(DeviceKind::luna7, {7, 8, 0});
  expect_refused(check_key_generation(d, partition(d, true), api::KeyType::rsa, 1024,
                                      api::KeygenMechanism::fips186_3), "K2");
  EXPECT_TRUE(check_key_generation(d, partition(d, false), api::KeyType::rsa, 1024,
                                   api::KeygenMechanism::fips186_3).ok());
}
TEST(RuleK3, X931GenerationOnlyOnLuna6) {
  auto d = device(DeviceKind::luna7, {7, 8, 0});
  expect_refused(check_key_generation(d, partition(d), api::KeyType::rsa, 2048,
                                      api::KeygenMechanism::x9_31), "K3");
  auto l6 = device(DeviceKind::luna6, {6, 10, 9});
  EXPECT_TRUE(check_key_generation(l6, partition(l6), api::KeyType::rsa, 2048,
                                   api::KeygenMechanism::x9_31).ok());
}
TEST(RuleK4, ClientRemapsOldMechanisms) {
  auto l6 = device(DeviceKind::luna6, {6, 10, 9});
  api::ClientDesc modern{{10, 9, 0}};
  api::ClientDesc old{{10, 0, 0}};
  EXPECT_EQ(remap_keygen(l6, partition(l6), api::KeygenMechanism::x9_31, modern),
            api::KeygenMechanism::fips186_3);
  EXPECT_EQ(remap_keygen(l6, partition(l6), api::KeygenMechanism::x9_31, old),
            api::KeygenMechanism::x9_31);
  auto l7 = device(DeviceKind::luna7, {7, 8, 0});
  EXPECT_EQ(remap_keygen(l7, partition(l7, true), api::KeygenMechanism::pkcs, {{10, 4, 0}}),
            api::KeygenMechanism::fips186_3);
  EXPECT_EQ(remap_keygen(l7, partition(l7, false), api::KeygenMechanism::pkcs, {{10, 4, 0}}),
            api::KeygenMechanism::pkcs);
}

TEST(RuleX2, HsmPolicy12MakesEveryPartitionFips) {
  auto d = device(DeviceKind::luna6, {6, 10, 9});
  EXPECT_FALSE(effective_fips(d, false));
  d.hsm_policies[12] = 0;
  EXPECT_TRUE(effective_fips(d, false));
}

}  // namespace
}  // namespace hsm::luna::rules
