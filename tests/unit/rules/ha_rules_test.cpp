// The HA group rules (ha_rules.hpp), each test named after the rule it checks.
#include <gtest/gtest.h>

#include <algorithm>

#include "plugins/luna/rules/ha_rules.hpp"
#include "tests/unit/rules/fixtures.hpp"

namespace hsm::luna::rules {
namespace {

using namespace fixtures;  // NOLINT(google-build-using-namespace)
using api::Protocol;
using api::Verdict;

const api::ClientDesc kClient = client();

HaGroupDesc group(std::vector<api::Endpoint> members) { return {"ha1", std::move(members)}; }

std::vector<Verdict> with_rule(const std::vector<Verdict>& vs, const std::string& rule) {
  std::vector<Verdict> out;
  std::copy_if(vs.begin(), vs.end(), std::back_inserter(out), [&](const Verdict& v) { return v.rule == rule; });
  return out;
}

std::string dump(const std::vector<Verdict>& vs) {
  std::string s;
  for (const auto& v : vs)
    s += std::string(v.allowed ? "warning " : "refused ") + v.rule + " (" + v.code + "): " + v.message + "\n";
  return s;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One refusal with this rule (and no other rule refusing).
Verdict only_refusal(const std::vector<Verdict>& vs, const std::string& rule) {
  auto r = with_rule(vs, rule);
  EXPECT_EQ(r.size(), 1u) << dump(vs);
  EXPECT_EQ(vs.size(), 1u) << dump(vs);
  if (vs.empty()) return {};
  auto it = std::find_if(vs.begin(), vs.end(), [&](const Verdict& v) { return v.rule == rule; });
  if (it == vs.end()) return {};
  EXPECT_FALSE(it->allowed) << dump(vs);
  EXPECT_FALSE(it->code.empty());
  EXPECT_FALSE(it->message.empty());
  return *it;
}

TEST(HaGroup, AllSevenEightGroupIsClean) {
  auto vs = check_ha_group(group({luna7({7, 8, 0}), luna7({7, 8, 0}, "hsm-b"), cloud()}), kClient);
  EXPECT_TRUE(vs.empty()) << dump(vs);
  EXPECT_TRUE(ha_group_allowed(vs));
}

TEST(RuleH1, SharedPoliciesMustMatch) {
  auto b = luna7({7, 8, 0}, "hsm-b");
  b.partition.policies[api::policy::part_domain_management] = 1;
  auto vs = check_ha_group(group({luna7({7, 8, 0}), b}), kClient);
  Verdict v = only_refusal(vs, "H1");
  EXPECT_EQ(v.code, "CKR_TEMPLATE_INCONSISTENT");
  EXPECT_TRUE(has(v.message, "partition policy 44")) << v.message;
  EXPECT_TRUE(has(v.message, "hsm-a/p1=0") && has(v.message, "hsm-b/p1=1")) << v.message;
  EXPECT_TRUE(has(v.fix, "`partition policy hsm-b/p1 --set 44=0`")) << v.fix;
  EXPECT_FALSE(ha_group_allowed(vs));
}
TEST(RuleH1, HsmPoliciesCompared) {
  auto b = luna7({7, 8, 0}, "hsm-b");
  b.device.hsm_policies[api::policy::hsm_allow_clock_sync] = 1;
  Verdict v = only_refusal(check_ha_group(group({luna7({7, 8, 0}), b}), kClient), "H1");
  EXPECT_TRUE(has(v.message, "HSM policy 57")) << v.message;
  EXPECT_TRUE(has(v.fix, "`device policy hsm-b --set 57=0`")) << v.fix;
}
TEST(RuleH1, PoliciesOnlyOneMemberHasAreIgnored) {
  // The 7.8 primary has 42 (on, to reach the Luna 6) and 44; the Luna 6 has neither.
  auto a = with_policy42(luna7({7, 8, 0}), true);
  auto vs = check_ha_group(group({a, luna6("hsm-b")}), kClient);
  EXPECT_TRUE(vs.empty()) << dump(vs);
}

TEST(RuleH2, MixedFipsNeedsClient1040) {
  auto vs = check_ha_group(group({with_fips(luna7({7, 8, 0})), luna7({7, 8, 0}, "hsm-b")}), client({10, 3, 0}));
  auto h2 = with_rule(vs, "H2");
  ASSERT_EQ(h2.size(), 1u) << dump(vs);
  EXPECT_FALSE(h2[0].allowed);
  EXPECT_EQ(h2[0].code, "CKR_OPERATION_NOT_ALLOWED");
  EXPECT_TRUE(has(h2[0].fix, "10.4.0")) << h2[0].fix;
}
TEST(RuleH2, MixedFipsAllowedWithClient1040) {
  auto vs = check_ha_group(group({with_fips(luna7({7, 8, 0})), luna7({7, 8, 0}, "hsm-b")}), client({10, 5, 0}));
  EXPECT_TRUE(vs.empty()) << dump(vs);
  // Non-FIPS primary: the FIPS member cannot replicate back without 10.4.0,
  // but the group itself is the H2 refusal.
  auto all_fips = check_ha_group(group({with_fips(luna7({7, 8, 0})), with_fips(luna7({7, 8, 0}, "hsm-b"))}),
                                 client({10, 3, 0}));
  EXPECT_TRUE(with_rule(all_fips, "H2").empty()) << dump(all_fips);
}

TEST(RuleH3, GroupNeedsMembersOnce) {
  Verdict v = only_refusal(check_ha_group(group({}), kClient), "H3");
  EXPECT_EQ(v.code, "CKR_TEMPLATE_INCONSISTENT");
  auto dup = check_ha_group(group({luna7({7, 8, 0}), luna7({7, 8, 0})}), kClient);
  EXPECT_FALSE(with_rule(dup, "H3").empty()) << dump(dup);
  EXPECT_TRUE(check_ha_group(group({luna7({7, 8, 0})}), kClient).empty());
}

TEST(RuleH4, CloudPrimaryRefusedWhileCvHaUiOn) {
  auto vs = check_ha_group(group({cloud(), luna7({7, 8, 0}, "hsm-b")}), kClient);
  Verdict v = only_refusal(vs, "H4");
  EXPECT_EQ(v.code, "CKR_OPERATION_NOT_ALLOWED");
  EXPECT_TRUE(has(v.message, "cloud-a/svc")) << v.message;
  EXPECT_TRUE(has(v.fix, "lunacm_cv_ha_ui = 0")) << v.fix;
}
TEST(RuleH4, CloudPrimaryAllowedWithCvHaUiOff) {
  auto c = kClient;
  c.cv_ha_ui = false;
  auto vs = check_ha_group(group({cloud(), luna7({7, 8, 0}, "hsm-b")}), c);
  EXPECT_TRUE(vs.empty()) << dump(vs);
  // As a standby it is fine either way.
  EXPECT_TRUE(check_ha_group(group({luna7({7, 8, 0}), cloud()}), kClient).empty());
}

api::Endpoint mfa(api::Endpoint ep) {
  ep.partition.auth = api::AuthKind::mfa;
  ep.partition.domains = {{"", api::DomainKind::ped, true, kDomainA}};
  return ep;
}

TEST(RuleH5, MfaWithCloudNeedsClient1050) {
  auto vs = check_ha_group(group({mfa(luna7({7, 8, 0})), cloud()}), client({10, 4, 1}));
  auto h5 = with_rule(vs, "H5");
  ASSERT_EQ(h5.size(), 1u) << dump(vs);
  EXPECT_FALSE(h5[0].allowed);
  EXPECT_EQ(h5[0].code, "CKR_OPERATION_NOT_ALLOWED");
  EXPECT_TRUE(has(h5[0].fix, "10.5.0")) << h5[0].fix;
}
TEST(RuleH5, MfaWithCloudAllowedWithClient1051) {
  auto vs = check_ha_group(group({mfa(luna7({7, 8, 0})), cloud()}), client({10, 5, 1}));
  EXPECT_TRUE(vs.empty()) << dump(vs);
}

TEST(RuleH6, SafeXcelLuna6NotInMixedGroup) {
  auto l6 = luna6("hsm-b");
  l6.device.safexcel = true;
  auto vs = check_ha_group(group({with_policy42(luna7({7, 8, 0}), true), l6}), kClient);
  Verdict v = only_refusal(vs, "H6");
  EXPECT_EQ(v.code, "CKR_OPERATION_NOT_ALLOWED");
  EXPECT_TRUE(has(v.message, "hsm-b/p1")) << v.message;
  EXPECT_TRUE(has(v.fix, "SafeXcel")) << v.fix;
}
TEST(RuleH6, SafeXcelFineAmongIdenticalLuna6) {
  auto a = luna6("hsm-a");
  auto b = luna6("hsm-b");
  a.device.safexcel = b.device.safexcel = true;
  EXPECT_TRUE(check_ha_group(group({a, b}), kClient).empty());
}

TEST(RuleH8, PrimaryMustCloneToEveryMember) {
  // A 7.8 primary (42 off) clones out by CPv3; the Luna 6 member takes CPv1 only.
  auto vs = check_ha_group(group({luna7({7, 8, 0}), luna6("hsm-b")}), kClient);
  Verdict v = only_refusal(vs, "H8");
  ASSERT_TRUE(v.protocol.has_value());
  EXPECT_EQ(*v.protocol, Protocol::cpv3);
  EXPECT_EQ(v.code, "CKR_PROTOCOL_DISABLED");  // from the P5 refusal underneath
  EXPECT_TRUE(has(v.message, "hsm-a/p1") && has(v.message, "hsm-b/p1")) << v.message;
  EXPECT_TRUE(has(v.message, "CPv3") && has(v.message, "CPv1")) << v.message;
  EXPECT_TRUE(has(v.message, "rule P5")) << v.message;
  EXPECT_TRUE(has(v.fix, "policy 42")) << v.fix;
}
TEST(RuleH8, UpgradeThePrimaryLast) {
  // rule H7 through H8: 7.2 primary with a secondary already at 7.7.0 works
  // (CPv1 in), with a warning that the secondary cannot clone back...
  auto vs = check_ha_group(group({luna7({7, 2, 0}), luna7({7, 7, 0}, "hsm-b")}), kClient);
  ASSERT_EQ(vs.size(), 1u) << dump(vs);
  EXPECT_TRUE(vs[0].allowed);
  EXPECT_EQ(vs[0].rule, "H8");
  ASSERT_EQ(vs[0].warnings.size(), 1u);
  EXPECT_TRUE(has(vs[0].warnings[0], "cannot clone back")) << vs[0].warnings[0];
  EXPECT_TRUE(ha_group_allowed(vs));
  // ...while a primary upgraded first cannot replicate to the 7.2 secondary.
  auto bad = check_ha_group(group({luna7({7, 7, 0}), luna7({7, 2, 0}, "hsm-b")}), kClient);
  Verdict v = only_refusal(bad, "H8");
  EXPECT_EQ(*v.protocol, Protocol::cpv3);
  EXPECT_TRUE(has(v.message, "rule P8")) << v.message;
}

TEST(RuleX8, SameAuthenticationMethod) {
  auto vs = check_ha_group(group({luna7({7, 8, 0}), mfa(luna7({7, 8, 0}, "hsm-b"))}), kClient);
  auto x8 = with_rule(vs, "X8");
  ASSERT_EQ(x8.size(), 1u) << dump(vs);
  EXPECT_FALSE(x8[0].allowed);
  EXPECT_TRUE(has(x8[0].message, "multifactor")) << x8[0].message;
  // Cloud members are password services that import the PED domain: no X8.
  auto c = check_ha_group(group({mfa(luna7({7, 8, 0})), cloud()}), kClient);
  EXPECT_TRUE(c.empty()) << dump(c);
}
TEST(RuleX8, CommonDomain) {
  auto b = with_domains(luna7({7, 8, 0}, "hsm-b"), {{"", api::DomainKind::text, true, kDomainB}});
  auto vs = check_ha_group(group({luna7({7, 8, 0}), b}), kClient);
  auto x8 = with_rule(vs, "X8");
  ASSERT_EQ(x8.size(), 1u) << dump(vs);
  EXPECT_EQ(x8[0].code, "CKR_CERTIFICATE_INVALID");
  auto h8 = with_rule(vs, "H8");  // and the primary cannot replicate (S1)
  ASSERT_EQ(h8.size(), 1u) << dump(vs);
  EXPECT_EQ(h8[0].code, "CKR_CERTIFICATE_INVALID");
}
TEST(RuleX8, CloningPoliciesOn) {
  auto b = luna7({7, 8, 0}, "hsm-b");
  b.partition.policies[api::policy::part_secret_key_cloning] = 0;
  auto vs = check_ha_group(group({luna7({7, 8, 0}), b}), kClient);
  auto x8 = with_rule(vs, "X8");
  ASSERT_EQ(x8.size(), 1u) << dump(vs);
  EXPECT_TRUE(has(x8[0].fix, "`partition policy hsm-b/p1 --set 4=1`")) << x8[0].fix;
  // (H1 reports the differing policy 4 as well.)
  EXPECT_EQ(with_rule(vs, "H1").size(), 1u) << dump(vs);
}
TEST(RuleX8, AllV0OrAllV1) {
  auto v1 = with_type(luna7({7, 8, 0}, "hsm-b"), api::PartitionType::v1);
  auto vs = check_ha_group(group({luna7({7, 8, 0}), v1}), kClient);
  auto x8 = with_rule(vs, "X8");
  ASSERT_EQ(x8.size(), 1u) << dump(vs);
  EXPECT_TRUE(has(x8[0].message, "V1")) << x8[0].message;
  auto ok = check_ha_group(group({with_type(luna7({7, 8, 0}), api::PartitionType::v1), v1}), kClient);
  EXPECT_TRUE(ok.empty()) << dump(ok);
}

}  // namespace
}  // namespace hsm::luna::rules
