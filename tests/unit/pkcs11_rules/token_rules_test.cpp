// Rules T1-T5 (luna-rules.md section 11) as pure functions, judged through
// the one entry point every command uses (luna::rules::evaluate_clone,
// which hands token pairs to plugins/pkcs11/rules): every pair of families.
#include <gtest/gtest.h>

#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/luna/rules/evaluation.hpp"
#include "plugins/pkcs11/rules/token_rules.hpp"

namespace hsm::p11::rules {
namespace {

using api::DeviceKind;
using api::Endpoint;
using api::KeyType;
using api::ObjectClass;
using api::ObjectDesc;
using api::Protocol;

const std::string kDomA(64, 'a'), kDomB(64, 'b');

// SoftHSM 2.6.1 as probed: AES 128-256, RSA 512-16384, EC P-256/384/521, no Ed25519.
std::vector<api::KeyCapability> softhsm_transport() {
  return {{KeyType::aes, 128, 256, {}}, {KeyType::rsa, 512, 16384, {}}, {KeyType::ec, 256, 521, {"P-256", "P-384", "P-521"}}};
}

Endpoint token(const std::string& name, std::vector<std::string> domains) {
  Endpoint e;
  e.device.name = name;
  e.device.kind = DeviceKind::pkcs11;
  e.device.firmware = {2, 6, 0};
  e.partition.name = "tok";
  for (std::size_t i = 0; i < domains.size(); ++i)
    e.partition.domains.push_back({"", api::DomainKind::text, i == 0, domains[i]});
  e.partition.transport = softhsm_transport();
  return e;
}

Endpoint luna7(const std::string& name, api::Version fw, std::vector<std::string> domains) {
  Endpoint e;
  e.device.name = name;
  e.device.kind = DeviceKind::luna7;
  e.device.firmware = fw;
  e.device.hsm_policies = {{7, 1}, {12, 1}};
  e.partition.name = "p1";
  e.partition.suites_available = e.partition.suites_enabled = {"aes-256-gcm"};
  for (std::size_t i = 0; i < domains.size(); ++i)
    e.partition.domains.push_back({"", api::DomainKind::text, i == 0, domains[i]});
  return e;
}

ObjectDesc key(ObjectClass cls, KeyType type, int bits, std::string curve = "") {
  ObjectDesc o;
  o.handle = 7;
  o.label = "k";
  o.cls = cls;
  o.key_type = type;
  o.bits = bits;
  o.curve = std::move(curve);
  o.extractable = true;
  return o;
}

api::Verdict judge(const Endpoint& s, const Endpoint& d, const ObjectDesc& o) {
  api::Evaluation ev = luna::rules::evaluate_clone(s, d, {o}, {});
  if (!ev.pair.allowed) return ev.pair;
  return ev.objects.at(0);
}

TEST(TokenRulesT4, TokenWithoutTheDomainIsRefusedWithCertificateInvalid) {
  const auto v = luna::rules::evaluate_pair(token("a", {kDomA}), token("b", {}), {});
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, "T4");
  EXPECT_EQ(v.code, "CKR_CERTIFICATE_INVALID");
  EXPECT_NE(v.fix.find("partition domain add b/tok"), std::string::npos) << v.fix;
}

TEST(TokenRulesT4, AnyCommonDomainServesAndKwpIsTheProtocol) {
  const auto v = luna::rules::evaluate_pair(token("a", {kDomA, kDomB}), token("b", {kDomB}), {});
  ASSERT_TRUE(v.allowed) << v.message;
  EXPECT_EQ(*v.protocol, Protocol::kwp);
  EXPECT_EQ(common_domain(token("a", {kDomA, kDomB}), token("b", {kDomB})), kDomB);
  // Luna 7.8.0 and a token of the same domain, both ways.
  EXPECT_TRUE(luna::rules::evaluate_pair(luna7("l", {7, 8, 0}, {kDomA}), token("t", {kDomA}), {}).allowed);
  EXPECT_TRUE(luna::rules::evaluate_pair(token("t", {kDomA}), luna7("l", {7, 8, 0}, {kDomA}), {}).allowed);
  const auto no = luna::rules::evaluate_pair(luna7("l", {7, 8, 0}, {kDomB}), token("t", {kDomA}), {});
  EXPECT_EQ(no.rule, "T4");
}

TEST(TokenRulesT2, NonExtractableTokenKeyNeverLeaves) {
  auto o = key(ObjectClass::secret_key, KeyType::aes, 256);
  o.extractable = false;
  const auto v = judge(token("a", {kDomA}), token("b", {kDomA}), o);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, "T2");
  EXPECT_EQ(v.code, "CKR_KEY_UNEXTRACTABLE");
  EXPECT_NE(v.message.find("\"k\" (#7"), std::string::npos) << v.message;  // names the object
  EXPECT_FALSE(v.fix.empty());
  // Toward a Luna too: the key cannot leave its token.
  EXPECT_EQ(judge(token("a", {kDomA}), luna7("l", {7, 8, 0}, {kDomA}), o).rule, "T2");
}

TEST(TokenRulesT2, LunaNonExtractableKeyIsRefusedTowardAToken) {
  auto o = key(ObjectClass::private_key, KeyType::rsa, 2048);
  o.extractable = false;
  const auto v = judge(luna7("l", {7, 8, 0}, {kDomA}), token("t", {kDomA}), o);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, "T2");
  EXPECT_NE(v.message.find("cannot promise"), std::string::npos) << v.message;
  // Between Luna partitions it clones, staying non-extractable (S4 model).
  EXPECT_TRUE(judge(luna7("l", {7, 8, 0}, {kDomA}), luna7("m", {7, 8, 0}, {kDomA}), o).allowed);
}

TEST(TokenRulesT2, WrapWithTrustedKeyDoesNotLeaveByArchiveKey) {
  auto o = key(ObjectClass::secret_key, KeyType::aes, 256);
  o.attributes = {{"CKA_WRAP_WITH_TRUSTED", "true"}};
  const auto v = judge(token("a", {kDomA}), token("b", {kDomA}), o);
  EXPECT_EQ(v.rule, "T2");
  EXPECT_EQ(v.code, "CKR_KEY_NOT_WRAPPABLE");
}

TEST(TokenRulesT3, Ed25519IntoSoftHsm261IsRefusedBeforeWriting) {
  const auto o = key(ObjectClass::private_key, KeyType::ed25519, 256, "Ed25519");
  const auto v = judge(luna7("l", {7, 8, 0}, {kDomA}), token("t", {kDomA}), o);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, "T3");
  EXPECT_NE(v.message.find("found by trying"), std::string::npos) << v.message;
  // The same key between Luna partitions is fine (K1 allows it at 7.x).
  EXPECT_TRUE(judge(luna7("l", {7, 8, 0}, {kDomA}), luna7("m", {7, 8, 0}, {kDomA}), o).allowed);
}

TEST(TokenRulesT3, SizeOutsideTheTargetRangeAndUnknownSourceKinds) {
  Endpoint t = token("t", {kDomA});
  t.partition.transport = {{KeyType::rsa, 2048, 4096, {}}};
  EXPECT_EQ(judge(luna7("l", {7, 8, 0}, {kDomA}), t, key(ObjectClass::private_key, KeyType::rsa, 1024)).code,
            "CKR_KEY_SIZE_RANGE");
  EXPECT_TRUE(judge(luna7("l", {7, 8, 0}, {kDomA}), t, key(ObjectClass::private_key, KeyType::rsa, 3072)).allowed);
  // A target whose probe found nothing takes nothing.
  t.partition.transport.clear();
  EXPECT_EQ(judge(luna7("l", {7, 8, 0}, {kDomA}), t, key(ObjectClass::secret_key, KeyType::aes, 256)).rule, "T3");
  // The source token cannot wrap a kind it was found not to move.
  Endpoint s = token("s", {kDomA});
  s.partition.transport = {{KeyType::aes, 128, 256, {}}};
  EXPECT_EQ(judge(s, luna7("l", {7, 8, 0}, {kDomA}), key(ObjectClass::private_key, KeyType::ec, 256, "P-256")).rule,
            "T3");
}

TEST(TokenRulesT5, LunaVendorAttributesAreNamedTowardAToken) {
  auto o = key(ObjectClass::secret_key, KeyType::aes, 256);
  o.per_key_auth = true;
  o.assigned = true;
  const auto v = judge(luna7("l", {7, 8, 0}, {kDomA}), token("t", {kDomA}), o);
  EXPECT_EQ(v.rule, "T5");
  EXPECT_NE(v.message.find("CKA_PER_KEY_AUTH_DATA"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("CKA_ASSIGNED"), std::string::npos) << v.message;
}

TEST(TokenRulesT5, TrustedKeysAndObjectsThatAreNoKeys) {
  auto trusted = key(ObjectClass::secret_key, KeyType::aes, 256);
  trusted.attributes = {{"CKA_TRUSTED", "true"}};
  EXPECT_EQ(judge(token("a", {kDomA}), token("b", {kDomA}), trusted).code, "CKR_ATTRIBUTE_READ_ONLY");
  auto cert = key(ObjectClass::certificate, KeyType::generic, 0);
  EXPECT_EQ(judge(token("a", {kDomA}), token("b", {kDomA}), cert).rule, "T5");
}

TEST(TokenRulesT5, WhatTheLunaModelDoesNotKeepIsNamedNotDropped) {
  auto o = key(ObjectClass::secret_key, KeyType::aes, 256);
  o.attributes = {{"CKA_ENCRYPT", "true"}, {"CKA_DECRYPT", "false"}, {"CKA_WRAP", "true"}};
  const auto v = judge(token("t", {kDomA}), luna7("l", {7, 8, 0}, {kDomA}), o);
  ASSERT_TRUE(v.allowed) << v.message;
  ASSERT_EQ(v.warnings.size(), 1u);
  EXPECT_NE(v.warnings[0].find("rule T5"), std::string::npos);
  EXPECT_NE(v.warnings[0].find("CKA_DECRYPT=false"), std::string::npos) << v.warnings[0];
  EXPECT_NE(v.warnings[0].find("CKA_WRAP=true"), std::string::npos) << v.warnings[0];
  auto aa = key(ObjectClass::private_key, KeyType::rsa, 2048);
  aa.attributes = {{"CKA_ALWAYS_AUTHENTICATE", "true"}};
  EXPECT_EQ(judge(token("t", {kDomA}), luna7("l", {7, 8, 0}, {kDomA}), aa).rule, "T5");
}

TEST(TokenRulesLunaSide, KwpNeedsLuna7At780OrACloudService) {
  const auto v = luna::rules::evaluate_pair(token("t", {kDomA}), luna7("old", {7, 7, 1}, {kDomA}), {});
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, "P6");
  EXPECT_NE(v.fix.find("--firmware 7.8.0"), std::string::npos) << v.fix;
  Endpoint l6 = luna7("l6", {6, 10, 9}, {kDomA});
  l6.device.kind = DeviceKind::luna6;
  EXPECT_EQ(luna::rules::evaluate_pair(l6, token("t", {kDomA}), {}).rule, "P6");
  Endpoint cloud = luna7("c", {7, 8, 0}, {kDomA});
  cloud.device.kind = DeviceKind::cloud;
  EXPECT_TRUE(luna::rules::evaluate_pair(token("t", {kDomA}), cloud, {}).allowed);
}

TEST(TokenRulesLunaSide, LunaRulesStayInForceOnTheLunaSide) {
  // S2: a token counts as an HSM that never enabled FMs.
  Endpoint fm = luna7("fm", {7, 8, 0}, {kDomA});
  fm.device.fm = api::FmState::enabled;
  EXPECT_EQ(luna::rules::evaluate_pair(token("t", {kDomA}), fm, {}).rule, "S2");
  EXPECT_TRUE(luna::rules::evaluate_pair(fm, token("t", {kDomA}), {}).allowed);
  // X1: the Luna source's policy 0 still gates private keys toward a token.
  Endpoint src = luna7("l", {7, 8, 0}, {kDomA});
  src.partition.policies[0] = 0;
  EXPECT_EQ(judge(src, token("t", {kDomA}), key(ObjectClass::private_key, KeyType::rsa, 2048)).rule, "X1");
  // K2: a FIPS Luna target refuses RSA-1024 from a token.
  Endpoint fips = luna7("f", {7, 8, 0}, {kDomA});
  fips.partition.fips = true;
  EXPECT_EQ(judge(token("t", {kDomA}), fips, key(ObjectClass::private_key, KeyType::rsa, 1024)).rule, "K2");
  // U4: a V1 (SKS) partition sends nothing to a token.
  Endpoint v1 = luna7("v", {7, 8, 0}, {kDomA});
  v1.partition.type = api::PartitionType::v1;
  EXPECT_EQ(luna::rules::evaluate_pair(v1, token("t", {kDomA}), {}).rule, "U4");
}

// `check SRC DST --object all` for every pair of families: a verdict per object.
TEST(TokenRulesCheck, EveryPairOfFamiliesGivesAVerdictPerObject) {
  auto ext = key(ObjectClass::secret_key, KeyType::aes, 256);
  auto nonext = key(ObjectClass::secret_key, KeyType::aes, 128);
  nonext.extractable = false;
  auto ed = key(ObjectClass::private_key, KeyType::ed25519, 256, "Ed25519");
  const std::vector<ObjectDesc> objects{ext, nonext, ed};
  const Endpoint l = luna7("l", {7, 8, 0}, {kDomA}), t = token("t", {kDomA}), u = token("u", {kDomA});
  struct Pair {
    const Endpoint *s, *d;
    std::vector<std::string> rules;  // "" = allowed
  };
  for (const Pair& p : {Pair{&l, &t, {"", "T2", "T3"}}, Pair{&t, &l, {"", "T2", "T3"}}, Pair{&t, &u, {"", "T2", "T3"}},
                        Pair{&l, &l, {"", "", ""}}}) {
    const api::Evaluation ev = luna::rules::evaluate_clone(*p.s, *p.d, objects, {});
    ASSERT_TRUE(ev.pair.allowed) << ev.pair.message;
    ASSERT_EQ(ev.objects.size(), objects.size());
    for (std::size_t i = 0; i < objects.size(); ++i)
      EXPECT_EQ(ev.objects[i].rule, p.rules[i]) << p.s->address() << " -> " << p.d->address() << " #" << i << ": "
                                                << ev.objects[i].message;
  }
}

TEST(TokenRulesBackup, ArchiveRefusalsNameTheRuleAndObject) {
  auto nonext = key(ObjectClass::private_key, KeyType::ec, 256, "P-256");
  nonext.extractable = false;
  auto v = check_backup(token("t", {kDomA}), nonext);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->rule, "T2");
  EXPECT_NE(v->message.find("S4"), std::string::npos);
  EXPECT_FALSE(check_backup(token("t", {kDomA}), key(ObjectClass::secret_key, KeyType::aes, 256)));
  Endpoint soft = token("t", {kDomA});
  EXPECT_EQ(check_backup(soft, key(ObjectClass::private_key, KeyType::ed25519, 256, "Ed25519"))->rule, "T3");
}

}  // namespace
}  // namespace hsm::p11::rules
