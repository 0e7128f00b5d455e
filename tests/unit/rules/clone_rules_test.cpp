// The cloning rules (clone_rules.hpp), each test named after the rule it
// checks, with an allowed and a refused case.
#include <gtest/gtest.h>

#include <algorithm>

#include "plugins/luna/rules/clone_rules.hpp"
#include "tests/unit/rules/fixtures.hpp"

namespace hsm::luna::rules {
namespace {

using namespace fixtures;  // NOLINT(google-build-using-namespace)
using api::DeviceKind;
using api::FmState;
using api::KeyType;
using api::ObjectClass;
using api::Protocol;
using api::Verdict;

const api::ClientDesc kClient = client();

void expect_allowed(const Verdict& v, Protocol p) {
  EXPECT_TRUE(v.allowed) << "refused: rule " << v.rule << " (" << v.code << "): " << v.message;
  ASSERT_TRUE(v.protocol.has_value());
  EXPECT_EQ(api::to_string(*v.protocol), api::to_string(p));
  EXPECT_TRUE(v.rule.empty());
}

void expect_refused(const Verdict& v, const char* rule, const char* code,
                    std::optional<Protocol> p = std::nullopt) {
  EXPECT_FALSE(v.allowed) << "expected rule " << rule << " to refuse";
  EXPECT_EQ(v.rule, rule) << v.message;
  EXPECT_EQ(v.code, code) << v.message;
  EXPECT_FALSE(v.message.empty());
  if (p) {
    ASSERT_TRUE(v.protocol.has_value()) << v.message;
    EXPECT_EQ(api::to_string(*v.protocol), api::to_string(*p)) << v.message;
  }
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<Protocol> P(std::initializer_list<Protocol> l) { return l; }

// ---------------------------------------------------------------- protocols

TEST(RuleP2, PreSevenSevenIsCpv1OnlyBothWays) {
  for (const auto& ep : {luna6(), luna7({7, 2, 0}), luna7({7, 6, 3})}) {
    auto s = protocol_support(ep, kClient);
    EXPECT_EQ(s.send, P({Protocol::cpv1})) << ep.device.firmware.str();
    EXPECT_EQ(s.accept, P({Protocol::cpv1})) << ep.device.firmware.str();
  }
}
TEST(RuleP2, Luna6ToLuna7_72UsesCpv1) {
  expect_allowed(evaluate_pair(luna6(), luna7({7, 2, 0}, "hsm-b"), kClient), Protocol::cpv1);
}
TEST(RuleP2, Luna6RefusedByCpv3OnlyTargetThatCannotEnableCpv1) {
  // A FIPS 7.8 partition cannot turn policy 42 on: nothing fixes it by policy.
  auto v = evaluate_pair(luna6(), with_fips(luna7({7, 8, 0}, "hsm-b")), kClient);
  expect_refused(v, "P8", "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv1);
  EXPECT_TRUE(has(v.message, "hsm-a/p1")) << v.message;
  EXPECT_TRUE(has(v.message, "hsm-b/p1")) << v.message;
  EXPECT_TRUE(has(v.message, "CPv1")) << v.message;
  EXPECT_TRUE(has(v.message, "accepts CPv3")) << v.message;
}

TEST(RuleP4, SevenSevenZeroSendsCpv3AcceptsCpv1OrCpv3) {
  auto s = protocol_support(luna7({7, 7, 0}), kClient);
  EXPECT_EQ(s.send, P({Protocol::cpv3}));
  EXPECT_EQ(s.accept, P({Protocol::cpv3, Protocol::cpv1}));
}
TEST(RuleP4, Luna6To770UsesCpv1) {
  expect_allowed(evaluate_pair(luna6(), luna7({7, 7, 0}, "hsm-b"), kClient), Protocol::cpv1);
}
TEST(RuleP4, AcceptsOnlyTheSendersHighestProtocol) {
  // A Backup HSM 6.28.0 supports CPv3 and CPv1: a 7.7.0 target takes CPv3.
  expect_allowed(evaluate_pair(backup(), luna7({7, 7, 0}, "hsm-b"), kClient), Protocol::cpv3);
  // A cloud service has no CPv3 (and no CPv4 with 7.7.0): CPv1 is its highest.
  expect_allowed(evaluate_pair(cloud(), luna7({7, 7, 0}, "hsm-b"), kClient), Protocol::cpv1);
}
TEST(RuleP4, SevenSevenZeroNeverClonesOutByCpv1) {
  expect_refused(evaluate_pair(luna7({7, 7, 0}), luna7({7, 2, 0}, "hsm-b"), kClient), "P8",
                 "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv3);
}

TEST(RuleP5, Cpv1ForcedWhenPolicy42On) {
  auto src = with_policy42(luna7({7, 7, 1}), true);
  auto s = protocol_support(src, kClient);
  EXPECT_EQ(s.send, P({Protocol::cpv1}));
  EXPECT_EQ(s.accept, P({Protocol::cpv1}));
  expect_allowed(evaluate_pair(src, cloud(), kClient), Protocol::cpv1);
  expect_allowed(evaluate_pair(src, luna6("hsm-b"), kClient), Protocol::cpv1);
  // 7.8 on both sides with 42 on: CPv1, not CPv4.
  expect_allowed(evaluate_pair(with_policy42(luna7({7, 8, 0}), true),
                               with_policy42(luna7({7, 8, 0}, "hsm-b"), true), kClient),
                 Protocol::cpv1);
}
TEST(RuleP5, NoCpv1WhenPolicy42Off) {
  auto s = protocol_support(luna7({7, 7, 1}), kClient);
  EXPECT_EQ(s.send, P({Protocol::cpv3}));
  EXPECT_EQ(s.accept, P({Protocol::cpv3}));
}
TEST(RuleP5, RefusedToCloudWhenPolicy42Off) {
  auto v = evaluate_pair(luna7({7, 7, 1}), cloud(), kClient);
  expect_refused(v, "P5", "CKR_PROTOCOL_DISABLED", Protocol::cpv3);
  EXPECT_TRUE(has(v.message, "hsm-a/p1")) << v.message;
  EXPECT_TRUE(has(v.message, "cloud-a/svc")) << v.message;
  EXPECT_TRUE(has(v.message, "CPv3")) << v.message;
  EXPECT_TRUE(has(v.message, "CPv1")) << v.message;
  EXPECT_TRUE(has(v.fix, "set partition policy 42 on hsm-a/p1 (non-FIPS only")) << v.fix;
}
TEST(RuleP5, RefusedFromLuna6WhenTargetPolicy42Off) {
  auto v = evaluate_pair(luna6(), luna7({7, 7, 1}, "hsm-b"), kClient);
  expect_refused(v, "P5", "CKR_PROTOCOL_DISABLED", Protocol::cpv1);
  EXPECT_TRUE(has(v.fix, "set partition policy 42 on hsm-b/p1")) << v.fix;
}
TEST(RuleP5, PrefersTheFixThatGivesTheBestProtocol) {
  // 42 on at the 7.8 source, off at the 7.8 target: turning the source's off
  // gives CPv4, better than turning the target's on (CPv1).
  auto v = evaluate_pair(with_policy42(luna7({7, 8, 0}), true), luna7({7, 8, 0}, "hsm-b"), kClient);
  expect_refused(v, "P5", "CKR_PROTOCOL_DISABLED", Protocol::cpv1);
  EXPECT_TRUE(has(v.fix, "set partition policy 42 to 0 on hsm-a/p1")) << v.fix;
}
TEST(RuleP5, FipsSourceCannotUsePolicy42) {
  // Policy 42 can be on only in non-FIPS mode: the cloud refusal is P7.
  auto v = evaluate_pair(with_fips(luna7({7, 7, 1})), with_fips(cloud()), kClient);
  expect_refused(v, "P7", "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv3);
}

TEST(RuleP6, Cpv4BetweenSevenEightPartitions) {
  expect_allowed(evaluate_pair(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), kClient), Protocol::cpv4);
  expect_allowed(evaluate_pair(luna7({7, 8, 0}), cloud(), kClient), Protocol::cpv4);
  expect_allowed(evaluate_pair(cloud(), luna7({7, 8, 4}, "hsm-b"), kClient), Protocol::cpv4);
}
TEST(RuleP6, SevenEightBehavesAsSevenSevenOneWithOlderPeers) {
  expect_allowed(evaluate_pair(luna7({7, 8, 0}), luna7({7, 7, 1}, "hsm-b"), kClient), Protocol::cpv3);
  expect_allowed(evaluate_pair(luna7({7, 7, 1}), luna7({7, 8, 0}, "hsm-b"), kClient), Protocol::cpv3);
  expect_allowed(evaluate_pair(luna7({7, 8, 0}), luna7({7, 7, 0}, "hsm-b"), kClient), Protocol::cpv3);
}
TEST(RuleP6, NoCpv4WhenPolicy42OnOneSide) {
  expect_refused(evaluate_pair(luna7({7, 8, 0}), with_policy42(luna7({7, 8, 0}, "hsm-b"), true), kClient),
                 "P5", "CKR_PROTOCOL_DISABLED", Protocol::cpv3);
}

TEST(RuleP7, CloudNeverUsesCpv3) {
  auto s = protocol_support(cloud(), kClient);
  EXPECT_EQ(s.send, P({Protocol::cpv4, Protocol::cpv1}));
  EXPECT_EQ(s.accept, P({Protocol::cpv4, Protocol::cpv1}));
}
TEST(RuleP7, SevenSevenZeroToCloudRefused) {
  auto v = evaluate_pair(luna7({7, 7, 0}), cloud(), kClient);
  expect_refused(v, "P7", "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv3);
  EXPECT_TRUE(has(v.message, "CPv3")) << v.message;
  EXPECT_TRUE(has(v.message, "accepts CPv1")) << v.message;
  EXPECT_TRUE(has(v.fix, "7.8.0")) << v.fix;
}
TEST(RuleP7, CloudToOnPremisesByCpv1) {
  expect_allowed(evaluate_pair(cloud(), luna6("hsm-b"), kClient), Protocol::cpv1);
  expect_allowed(evaluate_pair(cloud(), luna7({7, 2, 0}, "hsm-b"), kClient), Protocol::cpv1);
}

TEST(RuleP8, SevenSevenZeroToLuna6Refused) {
  auto v = evaluate_pair(luna7({7, 7, 0}), luna6("hsm-b"), kClient);
  expect_refused(v, "P8", "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv3);
  EXPECT_TRUE(has(v.message, "hsm-a/p1")) << v.message;
  EXPECT_TRUE(has(v.message, "hsm-b/p1")) << v.message;
  EXPECT_TRUE(has(v.message, "only by CPv3")) << v.message;
  EXPECT_TRUE(has(v.message, "accepts CPv1")) << v.message;
}
TEST(RuleP8, BackupHsmPicksWhatTheTargetAccepts) {
  expect_allowed(evaluate_pair(backup(), luna6("hsm-b"), kClient), Protocol::cpv1);
  expect_allowed(evaluate_pair(backup(), luna7({7, 8, 0}, "hsm-b"), kClient), Protocol::cpv3);
  expect_allowed(evaluate_pair(backup(), with_policy42(luna7({7, 8, 0}, "hsm-b"), true), kClient),
                 Protocol::cpv1);
}

TEST(RuleP9, BackupG5AcceptsCpv3From6280) {
  expect_allowed(evaluate_pair(luna7({7, 8, 0}), backup(), kClient), Protocol::cpv3);
  auto s = protocol_support(backup(), kClient);
  EXPECT_EQ(s.accept, P({Protocol::cpv3, Protocol::cpv1}));
  auto old = protocol_support(backup({6, 27, 0}), kClient);
  EXPECT_EQ(old.accept, P({Protocol::cpv1}));
}
TEST(RuleP9, BackupG5Below6280RefusesCpv3) {
  auto v = evaluate_pair(luna7({7, 8, 0}), backup({6, 27, 0}), kClient);
  expect_refused(v, "P9", "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv3);
  EXPECT_TRUE(has(v.fix, "6.28.0")) << v.fix;
}

TEST(RuleX10, CloudRevertsToCpv1WhenOnlyOneSideHasCpv4) {
  expect_allowed(evaluate_pair(cloud(), luna6("hsm-b"), kClient), Protocol::cpv1);
  expect_allowed(evaluate_pair(with_policy42(luna7({7, 7, 1}), true), cloud(), kClient), Protocol::cpv1);
}
TEST(RuleX10, CloudPolicy8OffRemovesCpv1) {
  auto c = cloud();
  c.partition.policies[8] = 0;
  auto v = evaluate_pair(c, luna6("hsm-b"), kClient);
  expect_refused(v, "P7", "CKR_OPERATION_NOT_ALLOWED");
  EXPECT_TRUE(has(v.fix, "--set 8=1")) << v.fix;
}

// ------------------------------------------------------- CPv4 sessions (U)

TEST(RuleU2, CommonSuiteInProfileOrder) {
  auto a = luna7({7, 8, 0});
  auto b = luna7({7, 8, 0}, "hsm-b");
  EXPECT_EQ(common_suite(a, b), cpv4_suites().front());
  b.partition.suites_enabled = {cpv4_suites().back()};
  EXPECT_EQ(common_suite(a, b), cpv4_suites().back());
  b.partition.suites_enabled.clear();
  EXPECT_EQ(common_suite(a, b), std::nullopt);
}
TEST(RuleU2, NoSuitesMeansNoCpv4) {
  auto b = luna7({7, 8, 0}, "hsm-b");
  b.partition.suites_enabled.clear();
  EXPECT_EQ(protocol_support(b, kClient).send, P({Protocol::cpv3}));
  // Between two 7.8 partitions it falls back to 7.7.1 behaviour: CPv3.
  expect_allowed(evaluate_pair(luna7({7, 8, 0}), b, kClient), Protocol::cpv3);
}
TEST(RuleU2, CloudRefusedWithoutCommonSuite) {
  auto a = luna7({7, 8, 0});
  a.partition.suites_enabled = {cpv4_suites().front()};
  auto c = cloud();
  c.partition.suites_enabled = {cpv4_suites().back()};
  auto v = evaluate_pair(a, c, kClient);
  expect_refused(v, "U2", "CKR_PROTOCOL_DISABLED", Protocol::cpv3);
  EXPECT_TRUE(has(v.fix, "enable cipher suite " + cpv4_suites().front() + " on cloud-a/svc")) << v.fix;
}

TEST(RuleU3, ClockSkewUpToFiveMinutesAllowed) {
  auto a = luna7({7, 8, 0});
  auto b = luna7({7, 8, 0}, "hsm-b");
  b.device.clock_offset_s = 240;
  expect_allowed(evaluate_pair(a, b, kClient), Protocol::cpv4);
  // Only CPv4 checks time: CPv3 with a large skew is fine.
  auto c = luna7({7, 7, 1}, "hsm-c");
  c.device.clock_offset_s = 3600;
  expect_allowed(evaluate_pair(a, c, kClient), Protocol::cpv3);
}
TEST(RuleU3, ClockSkewOverFiveMinutesRefusedForCpv4) {
  auto a = luna7({7, 8, 0});
  auto b = luna7({7, 8, 0}, "hsm-b");
  b.device.clock_offset_s = 360;
  auto v = evaluate_pair(a, b, kClient);
  expect_refused(v, "U3", "CKR_CLOCK_NOT_IN_SYNC", Protocol::cpv4);
  EXPECT_TRUE(has(v.message, "360")) << v.message;
  EXPECT_TRUE(has(v.fix, "sync the clocks")) << v.fix;
  EXPECT_TRUE(has(v.fix, "`device clock hsm-b --sync`")) << v.fix;
  EXPECT_TRUE(has(v.fix, "--set 57=1")) << v.fix;  // policy 57 is off on hsm-b
  // Negative skews count too.
  a.device.clock_offset_s = -200;
  b.device.clock_offset_s = 150;
  expect_refused(evaluate_pair(a, b, kClient), "U3", "CKR_CLOCK_NOT_IN_SYNC", Protocol::cpv4);
}

TEST(RuleU4, V1SourceClonesSmkToV1OrBackup) {
  auto src = with_type(luna7({7, 8, 0}), api::PartitionType::v1);
  expect_allowed(evaluate_pair(src, with_type(luna7({7, 8, 0}, "hsm-b"), api::PartitionType::v1), kClient),
                 Protocol::cpv4);
  expect_allowed(evaluate_pair(src, with_type(luna7({7, 7, 1}, "hsm-b"), api::PartitionType::v1), kClient),
                 Protocol::cpv3);
  expect_allowed(evaluate_pair(src, backup(), kClient), Protocol::cpv3);
}
TEST(RuleU4, V1SourceToV0OrOldTargetRefused) {
  auto src = with_type(luna7({7, 8, 0}), api::PartitionType::v1);
  expect_refused(evaluate_pair(src, luna7({7, 8, 0}, "hsm-b"), kClient), "U4", "CKR_OPERATION_NOT_ALLOWED",
                 Protocol::cpv4);
  expect_refused(evaluate_pair(src, luna6("hsm-b"), kClient), "U4", "CKR_OPERATION_NOT_ALLOWED");
  expect_refused(evaluate_pair(src, luna7({7, 2, 0}, "hsm-b"), kClient), "U4", "CKR_OPERATION_NOT_ALLOWED");
  expect_refused(evaluate_pair(src, cloud(), kClient), "U4", "CKR_OPERATION_NOT_ALLOWED");
}

TEST(RuleU6, OlderClientMeansNoCpv4) {
  // Client 10.4.0 cannot drive CPv4: two 7.8 partitions behave as 7.7.1.
  expect_allowed(evaluate_pair(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), client({10, 4, 0})),
                 Protocol::cpv3);
  expect_allowed(evaluate_pair(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), client({10, 5, 0})),
                 Protocol::cpv4);
  expect_allowed(evaluate_pair(luna7({7, 8, 0}), cloud(), client({10, 5, 1})), Protocol::cpv4);
  EXPECT_EQ(protocol_support(cloud(), client({10, 5, 0})).send, P({Protocol::cpv1}));
}
TEST(RuleU6, CloudNeedsClient1051ForCpv4) {
  auto v = evaluate_pair(luna7({7, 8, 0}), cloud(), client({10, 5, 0}));
  expect_refused(v, "U6", "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv3);
  EXPECT_TRUE(has(v.fix, "10.5.1")) << v.fix;
  // Cloud to 7.8 with 10.5.0: the service reverts to CPv1, which 7.8 (42 off) refuses.
  expect_refused(evaluate_pair(cloud(), luna7({7, 8, 0}, "hsm-b"), client({10, 5, 0})), "U6",
                 "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv1);
}

// ------------------------------------------------------------ security (S)

TEST(RuleS1, DomainMismatchRefused) {
  auto b = with_domains(luna7({7, 8, 0}, "hsm-b"), {{"", api::DomainKind::text, true, kDomainB}});
  auto v = evaluate_pair(luna7({7, 8, 0}), b, kClient);
  expect_refused(v, "S1", "CKR_CERTIFICATE_INVALID", Protocol::cpv4);
  EXPECT_TRUE(has(v.message, "hsm-b/p1 shares no cloning domain with hsm-a/p1")) << v.message;
  EXPECT_TRUE(has(v.fix, "add hsm-a/p1's domain to hsm-b/p1")) << v.fix;
  EXPECT_TRUE(has(v.fix, "--primary")) << v.fix;
  // Below 7.8 too.
  auto c = with_domains(luna6("hsm-c"), {{"", api::DomainKind::text, true, kDomainB}});
  expect_refused(evaluate_pair(luna6(), c, kClient), "S1", "CKR_CERTIFICATE_INVALID", Protocol::cpv1);
}
TEST(RuleS1, NonPrimarySharedDomainAllowedBetweenSevenEight) {
  auto a = with_domains(luna7({7, 8, 0}), {{"", api::DomainKind::text, true, kDomainA},
                                           {"shared", api::DomainKind::text, false, kDomainC}});
  auto b = with_domains(luna7({7, 8, 0}, "hsm-b"), {{"", api::DomainKind::text, true, kDomainB},
                                                    {"shared", api::DomainKind::text, false, kDomainC}});
  expect_allowed(evaluate_pair(a, b, kClient), Protocol::cpv4);
  EXPECT_EQ(common_domain(a, b, Protocol::cpv4), std::string(kDomainC));
  // Without CPv4 (client 10.4.0) only the primaries count.
  expect_refused(evaluate_pair(a, b, client({10, 4, 0})), "S1", "CKR_CERTIFICATE_INVALID", Protocol::cpv3);
}
TEST(RuleS1, SourcePrimaryTriedFirst) {
  auto a = with_domains(luna7({7, 8, 0}), {{"x", api::DomainKind::text, false, kDomainC},
                                           {"y", api::DomainKind::text, true, kDomainA}});
  auto b = with_domains(luna7({7, 8, 0}, "hsm-b"), {{"p", api::DomainKind::text, true, kDomainC},
                                                    {"q", api::DomainKind::text, false, kDomainA}});
  EXPECT_EQ(common_domain(a, b, Protocol::cpv4), std::string(kDomainA));
}
TEST(RuleS1, OlderSourceNeedsTargetPrimary) {
  // A 7.8 target holding the luna6's domain as non-primary: refused until it is primary.
  auto b = with_domains(luna7({7, 8, 0}, "hsm-b"), {{"own", api::DomainKind::text, true, kDomainB},
                                                    {"old", api::DomainKind::text, false, kDomainA}});
  b = with_policy42(b, true);
  auto v = evaluate_pair(luna6(), b, kClient);
  expect_refused(v, "S1", "CKR_CERTIFICATE_INVALID", Protocol::cpv1);
  EXPECT_TRUE(has(v.fix, "`partition domain label hsm-b/p1 --label old --primary`")) << v.fix;
  b.partition.domains[0].primary = false;
  b.partition.domains[1].primary = true;
  expect_allowed(evaluate_pair(luna6(), b, kClient), Protocol::cpv1);
  EXPECT_EQ(common_domain(luna6(), b, Protocol::cpv1), std::string(kDomainA));
}

TEST(RuleS2, FmNeverToFmEnabledRefused) {
  auto b = luna7({7, 8, 0}, "hsm-b");
  b.device.fm = FmState::enabled;
  auto v = evaluate_pair(luna7({7, 8, 0}), b, kClient);
  expect_refused(v, "S2", "CKR_FM_NEVER_ENABLED", Protocol::cpv4);
  EXPECT_TRUE(has(v.message, "hsm-a/p1") && has(v.message, "hsm-b/p1")) << v.message;
}
TEST(RuleS2, FmEnabledToFmNeverAllowed) {
  auto a = luna7({7, 8, 0});
  a.device.fm = FmState::enabled;
  expect_allowed(evaluate_pair(a, luna7({7, 8, 0}, "hsm-b"), kClient), Protocol::cpv4);
  auto b = luna7({7, 8, 0}, "hsm-b");
  b.device.fm = FmState::enabled;
  expect_allowed(evaluate_pair(a, b, kClient), Protocol::cpv4);
}
TEST(RuleS2, BelowSevenFourCountsAsFmNever) {
  auto a = luna7({7, 3, 0});
  a.device.fm = FmState::enabled;  // cannot really happen: below 7.4.0 means never
  auto b = with_policy42(luna7({7, 8, 0}, "hsm-b"), true);
  b.device.fm = FmState::enabled;
  expect_refused(evaluate_pair(a, b, kClient), "S2", "CKR_FM_NEVER_ENABLED", Protocol::cpv1);
}

TEST(RuleS3, BackupKeepsProvenanceOfProtocol) {
  auto o = aes();
  o.travelled = {Protocol::cpv3};
  auto v = evaluate(backup(), luna6("hsm-b"), &o, kClient);
  expect_refused(v, "S3", "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv1);
  expect_allowed(evaluate(backup(), luna7({7, 8, 0}, "hsm-b"), &o, kClient), Protocol::cpv3);
  o.travelled = {Protocol::cpv1};
  expect_allowed(evaluate(backup(), luna6("hsm-b"), &o, kClient), Protocol::cpv1);
}
TEST(RuleS3, BackupNoGatewayToFmEnabled) {
  auto b = luna7({7, 8, 0}, "hsm-b");
  b.device.fm = FmState::enabled;
  auto o = aes();
  o.travelled = {Protocol::cpv3};
  o.origin_fm = FmState::never;
  // The pair is allowed (S2 is per object for a Backup HSM source)...
  expect_allowed(evaluate_pair(backup(), b, kClient), Protocol::cpv3);
  // ...but an object from an FM-never HSM is not.
  expect_refused(evaluate(backup(), b, &o, kClient), "S3", "CKR_FM_NEVER_ENABLED", Protocol::cpv3);
  o.origin_fm = FmState::enabled;
  expect_allowed(evaluate(backup(), b, &o, kClient), Protocol::cpv3);
}

TEST(RuleS4, NonExtractablePreservedByLunaTargets) {
  auto o = aes();
  o.extractable = false;
  expect_allowed(evaluate(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), &o, kClient), Protocol::cpv4);
}
TEST(RuleS4, NonExtractableRefusedByTargetThatCannotKeepIt) {
  auto o = aes();
  o.extractable = false;
  TargetCaps caps;
  caps.preserves_non_extractable = false;
  expect_refused(evaluate(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), &o, kClient, caps), "S4",
                 "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv4);
  o.extractable = true;
  expect_allowed(evaluate(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), &o, kClient, caps), Protocol::cpv4);
}

TEST(RuleS5, Cpv3StripsAssignedFalseAndKeepsPka) {
  auto o = aes();
  auto v = evaluate_object(luna7({7, 8, 0}), luna7({7, 7, 1}, "hsm-b"), o, Protocol::cpv3, kClient);
  expect_allowed(v, Protocol::cpv3);
  EXPECT_TRUE(v.stripped);
  o.assigned = true;
  o.per_key_auth = true;
  v = evaluate_object(luna7({7, 8, 0}), luna7({7, 7, 1}, "hsm-b"), o, Protocol::cpv3, kClient);
  expect_allowed(v, Protocol::cpv3);
  EXPECT_FALSE(v.stripped);
  expect_allowed(evaluate_object(luna7({7, 8, 0}), backup(), o, Protocol::cpv3, kClient), Protocol::cpv3);
}
TEST(RuleS5, Cpv3RefusesUnknownAttributeAndUnsupportedPka) {
  auto o = aes();
  o.unknown_attribute = true;
  expect_refused(evaluate_object(luna7({7, 8, 0}), luna7({7, 7, 1}, "hsm-b"), o, Protocol::cpv3, kClient),
                 "S5", "CKR_ATTRIBUTE_TYPE_INVALID", Protocol::cpv3);
  auto p = aes();
  p.per_key_auth = true;
  // Through CPv1 (42 on) to a Luna 6: the mandatory PKA attribute is not supported.
  expect_refused(evaluate(with_policy42(luna7({7, 7, 1}), true), luna6("hsm-b"), &p, kClient), "S5",
                 "CKR_ATTRIBUTE_TYPE_INVALID", Protocol::cpv1);
}
TEST(RuleS5, Cpv4StripsPermissiveAttributes) {
  auto o = aes();
  o.assigned = true;
  o.per_key_auth = true;
  auto v = evaluate_object(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), o, Protocol::cpv4, kClient);
  expect_allowed(v, Protocol::cpv4);
  EXPECT_FALSE(v.stripped);
  o.key_ring = true;
  v = evaluate_object(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), o, Protocol::cpv4, kClient);
  expect_allowed(v, Protocol::cpv4);
  EXPECT_TRUE(v.stripped);
  o.key_ring = false;
  o.des3_counters = true;
  EXPECT_TRUE(evaluate_object(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), o, Protocol::cpv4, kClient).stripped);
  o.des3_counters = false;
  o.per_key_auth = false;  // unset PKA attributes are stripped
  EXPECT_TRUE(evaluate_object(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), o, Protocol::cpv4, kClient).stripped);
}
TEST(RuleS5, Cpv4RefusesUnknownAttribute) {
  auto o = aes();
  o.unknown_attribute = true;
  expect_refused(evaluate(luna7({7, 8, 0}), cloud(), &o, kClient), "S5", "CKR_ATTRIBUTE_TYPE_INVALID",
                 Protocol::cpv4);
  auto p = aes();
  p.per_key_auth = true;  // set PKA: cloud services do not support it (model)
  expect_refused(evaluate(luna7({7, 8, 0}), cloud(), &p, kClient), "S5", "CKR_ATTRIBUTE_TYPE_INVALID",
                 Protocol::cpv4);
}
TEST(RuleS5, Cpv1ToOldFirmwareDropsUnknownAttributes) {
  auto o = aes();
  o.unknown_attribute = true;
  auto v = evaluate(luna6(), luna7({7, 2, 0}, "hsm-b"), &o, kClient);
  expect_allowed(v, Protocol::cpv1);
  EXPECT_TRUE(v.stripped);
  // 7.7.0+ firmware no longer drops them, whatever the protocol.
  expect_refused(evaluate(luna6(), luna7({7, 7, 0}, "hsm-b"), &o, kClient), "S5",
                 "CKR_ATTRIBUTE_TYPE_INVALID", Protocol::cpv1);
}
TEST(RuleS5, V1SourceObjectsTravelAsBlobs) {
  auto o = aes();
  o.per_key_auth = true;
  o.unknown_attribute = true;
  auto src = with_type(luna7({7, 8, 0}), api::PartitionType::v1);
  expect_allowed(evaluate(src, backup(), &o, kClient), Protocol::cpv3);
}

TEST(RuleS6, FipsToNonFipsNeedsClient1040) {
  auto v = evaluate_pair(with_fips(luna7({7, 8, 0})), luna7({7, 8, 0}, "hsm-b"), client({10, 3, 0}));
  expect_refused(v, "S6", "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv3);
  EXPECT_TRUE(has(v.fix, "10.4.0")) << v.fix;
  // HSM policy 12 = 0 makes the source FIPS too.
  auto a = luna7({7, 8, 0});
  a.device.hsm_policies[api::policy::hsm_allow_non_fips] = 0;
  expect_refused(evaluate_pair(a, luna7({7, 8, 0}, "hsm-b"), client({10, 3, 0})), "S6",
                 "CKR_OPERATION_NOT_ALLOWED");
}
TEST(RuleS6, FipsToNonFipsAllowedWithClient1040AndUpward) {
  expect_allowed(evaluate_pair(with_fips(luna7({7, 8, 0})), luna7({7, 8, 0}, "hsm-b"), client({10, 4, 0})),
                 Protocol::cpv3);
  expect_allowed(evaluate_pair(luna7({7, 8, 0}), with_fips(luna7({7, 8, 0}, "hsm-b")), client({10, 3, 0})),
                 Protocol::cpv3);
}

// --------------------------------------------------------------- keys (K)

TEST(RuleK1, TargetMustKnowTheKeyType) {
  auto o = key(KeyType::ed25519, 256);
  o.curve = "Ed25519";
  expect_allowed(evaluate(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), &o, kClient), Protocol::cpv4);
  expect_allowed(evaluate(luna7({7, 8, 0}), backup(), &o, kClient), Protocol::cpv3);
}
TEST(RuleK1, UnknownKeyTypeRefused) {
  auto o = key(KeyType::ed25519, 256);
  auto v = evaluate(with_policy42(luna7({7, 7, 1}), true), luna6("hsm-b"), &o, kClient);
  expect_refused(v, "K1", "CKR_OBJECT_TYPE_INVALID", Protocol::cpv1);
  auto w = evaluate(with_policy42(luna7({7, 7, 1}), true), backup({6, 27, 0}), &o, kClient);
  expect_refused(w, "K1", "CKR_OBJECT_TYPE_INVALID", Protocol::cpv1);
  EXPECT_TRUE(has(w.fix, "6.28.0")) << w.fix;
}

TEST(RuleK2, Rsa1024IntoFipsTargetRefused) {
  auto o = key(KeyType::rsa, 1024);
  auto v = evaluate(luna7({7, 8, 0}), with_fips(luna7({7, 8, 0}, "hsm-b")), &o, kClient);
  expect_refused(v, "K2", "CKR_KEY_SIZE_RANGE", Protocol::cpv4);
  EXPECT_TRUE(has(v.message, "2048")) << v.message;
  auto dst = luna7({7, 8, 0}, "hsm-b");
  dst.device.hsm_policies[api::policy::hsm_allow_non_fips] = 0;  // whole HSM in FIPS mode
  expect_refused(evaluate(luna7({7, 8, 0}), dst, &o, kClient), "K2", "CKR_KEY_SIZE_RANGE", Protocol::cpv4);
}
TEST(RuleK2, MinimumsAllowed) {
  auto o = key(KeyType::rsa, 2048);
  expect_allowed(evaluate(luna7({7, 8, 0}), with_fips(luna7({7, 8, 0}, "hsm-b")), &o, kClient),
                 Protocol::cpv4);
  auto small = key(KeyType::rsa, 1024);
  expect_allowed(evaluate(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), &small, kClient), Protocol::cpv4);
  auto ec = key(KeyType::ec, 256);
  expect_allowed(evaluate(luna7({7, 8, 0}), with_fips(luna7({7, 8, 0}, "hsm-b")), &ec, kClient),
                 Protocol::cpv4);
}
TEST(RuleK2, NonFipsRsaBelow1024AndSmallOrOddEcRefused) {
  auto tiny = key(KeyType::rsa, 512);
  expect_refused(evaluate(luna6(), luna7({7, 2, 0}, "hsm-b"), &tiny, kClient), "K2", "CKR_KEY_SIZE_RANGE",
                 Protocol::cpv1);
  auto fips = with_fips(luna7({7, 8, 0}, "hsm-b"));
  auto p192 = key(KeyType::ec, 192);
  p192.curve = "P-192";
  expect_refused(evaluate(luna7({7, 8, 0}), fips, &p192, kClient), "K2", "CKR_KEY_SIZE_RANGE", Protocol::cpv4);
  auto k1 = key(KeyType::ec, 256);
  k1.curve = "secp256k1";
  expect_refused(evaluate(luna7({7, 8, 0}), fips, &k1, kClient), "K2", "CKR_ECC_CURVE_NOT_ALLOWED",
                 Protocol::cpv4);
  expect_allowed(evaluate(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), &k1, kClient), Protocol::cpv4);
}

TEST(RuleK3, X931RsaIntoLuna7Refused) {
  auto o = key(KeyType::rsa, 2048);
  o.keygen = api::KeygenMechanism::x9_31;
  auto v = evaluate(luna6(), luna7({7, 2, 0}, "hsm-b"), &o, kClient);
  expect_refused(v, "K3", "CKR_MECHANISM_INVALID", Protocol::cpv1);
  o.keygen = api::KeygenMechanism::pkcs;
  expect_refused(evaluate(luna6(), cloud(), &o, kClient), "K3", "CKR_MECHANISM_INVALID", Protocol::cpv1);
}
TEST(RuleK3, OtherKeygenOrLuna6TargetAllowed) {
  auto o = key(KeyType::rsa, 2048);
  o.keygen = api::KeygenMechanism::x9_31;
  expect_allowed(evaluate(luna6(), luna6("hsm-b"), &o, kClient), Protocol::cpv1);
  o.keygen = api::KeygenMechanism::fips186_3;
  expect_allowed(evaluate(luna6(), luna7({7, 2, 0}, "hsm-b"), &o, kClient), Protocol::cpv1);
}

// -------------------------------------------------- policies, cloud (X, C)

TEST(RuleX1, HsmPolicy7GatesCloning) {
  auto b = luna7({7, 8, 0}, "hsm-b");
  b.device.hsm_policies[api::policy::hsm_allow_cloning] = 0;
  auto v = evaluate_pair(luna7({7, 8, 0}), b, kClient);
  expect_refused(v, "X1", "CKR_OPERATION_NOT_ALLOWED");
  EXPECT_TRUE(has(v.fix, "`device policy hsm-b --set 7=1`")) << v.fix;
  b.device.hsm_policies.clear();  // missing counts as 1
  expect_allowed(evaluate_pair(luna7({7, 8, 0}), b, kClient), Protocol::cpv4);
}
TEST(RuleX1, PartitionPolicies0And4GateKeys) {
  auto a = luna7({7, 8, 0});
  auto b = luna7({7, 8, 0}, "hsm-b");
  a.partition.policies[api::policy::part_private_key_cloning] = 0;
  auto priv = key(KeyType::rsa, 2048);
  auto pub = key(KeyType::rsa, 2048, ObjectClass::public_key);
  auto sec = aes();
  expect_refused(evaluate(a, b, &priv, kClient), "X1", "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv4);
  expect_allowed(evaluate(a, b, &pub, kClient), Protocol::cpv4);
  expect_allowed(evaluate(a, b, &sec, kClient), Protocol::cpv4);
  a.partition.policies[api::policy::part_secret_key_cloning] = 0;
  expect_refused(evaluate(a, b, &sec, kClient), "X1", "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv4);
  a.partition.policies.clear();  // missing entries count as 1
  expect_allowed(evaluate(a, b, &priv, kClient), Protocol::cpv4);
}

TEST(RuleC2, CloudBatchesOfOneHundred) {
  EXPECT_EQ(max_batch(luna7({7, 8, 0}), cloud()), 100u);
  EXPECT_EQ(max_batch(cloud(), luna6()), 100u);
  EXPECT_GT(max_batch(luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b")), 100000u);
}

TEST(RuleC3, CloudPasswordNeedsClient1020) {
  expect_allowed(evaluate_pair(luna6(), cloud(), client({10, 2, 0})), Protocol::cpv1);
  auto v = evaluate_pair(luna6(), cloud(), client({10, 1, 0}));
  expect_refused(v, "C3", "CKR_OPERATION_NOT_ALLOWED");
  EXPECT_TRUE(has(v.fix, "10.2.0")) << v.fix;
}
TEST(RuleC3, CloudMfaNeedsClient1041) {
  auto a = luna6();
  a.partition.auth = api::AuthKind::mfa;
  a.partition.domains = {{"", api::DomainKind::ped, true, kDomainA}};  // imported into the service
  expect_allowed(evaluate_pair(a, cloud(), client({10, 4, 1})), Protocol::cpv1);
  auto v = evaluate_pair(a, cloud(), client({10, 4, 0}));
  expect_refused(v, "C3", "CKR_OPERATION_NOT_ALLOWED");
  EXPECT_TRUE(has(v.fix, "10.4.1")) << v.fix;
}

// ------------------------------------------------------------ entry point

TEST(Evaluate, PairThenObject) {
  auto a = luna7({7, 8, 0});
  auto b = luna7({7, 8, 0}, "hsm-b");
  Verdict pair = evaluate(a, b, nullptr, kClient);
  expect_allowed(pair, Protocol::cpv4);
  auto o = key(KeyType::rsa, 2048);
  expect_allowed(evaluate(a, b, &o, kClient), Protocol::cpv4);
  // A pair refusal comes first, even for a bad object.
  auto bad = key(KeyType::rsa, 512);
  expect_refused(evaluate(luna7({7, 7, 0}), luna6("hsm-b"), &bad, kClient), "P8",
                 "CKR_OPERATION_NOT_ALLOWED", Protocol::cpv3);
}

}  // namespace
}  // namespace hsm::luna::rules
