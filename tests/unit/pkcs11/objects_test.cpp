// Generating keys with explicit templates and reading back what they are:
// the attributes a backup carries and `object list` shows.
#include <gtest/gtest.h>

#include "plugins/pkcs11/token/keys.hpp"
#include "plugins/pkcs11/token/objects.hpp"
#include "tests/unit/pkcs11/softhsm_fixture.hpp"

namespace hsm::p11 {
// Readable failures for ObjectInfo::flag comparisons.
inline void PrintTo(const std::optional<bool>& v, std::ostream* os) {
  *os << (v ? (*v ? "true" : "false") : "absent");
}
}  // namespace hsm::p11

namespace hsm::p11::test {
namespace {

using ObjectsTest = SoftHsmTest;

KeyKind kind(std::string_view name) {
  auto k = parse_key_kind(name);
  EXPECT_TRUE(k.ok()) << k.error().message;
  return k.value();
}

KeySpec spec(std::string_view label, std::string_view id, bool extractable) {
  KeySpec s;
  s.label = bytes(label);
  s.id = bytes(id);
  s.extractable = extractable;
  return s;
}

TEST_F(ObjectsTest, GeneratedKeysReadBackWithEveryAttribute) {
  make_token("gen");
  Session s = user_session("gen");

  P11_ASSIGN(CK_OBJECT_HANDLE aes128,
             generate_secret_key(s, kind("aes-128"), spec("a128", "\x01", true)));
  P11_ASSIGN(CK_OBJECT_HANDLE aes256,
             generate_secret_key(s, kind("aes-256"), spec("a256", "\x02", false)));
  P11_ASSIGN(KeyPair rsa, generate_key_pair(s, kind("rsa-2048"), spec("rsa", "\x03", true)));
  P11_ASSIGN(KeyPair ec, generate_key_pair(s, kind("ec-p256"), spec("ec", "\x04", true)));
  P11_ASSIGN(KeyPair ed, generate_key_pair(s, kind("ed25519"), spec("ed", "\x05", true)));

  P11_ASSIGN(ObjectInfo a, read_object(s, aes128));
  EXPECT_EQ(a.cls, CKO_SECRET_KEY);
  EXPECT_EQ(a.key_type, CKK_AES);
  EXPECT_EQ(a.bits(), 128);
  EXPECT_EQ(a.label, bytes("a128"));
  EXPECT_EQ(a.id, bytes("\x01"));
  EXPECT_EQ(a.check_value.size(), 3u) << "SoftHSM gives AES keys a 3-byte KCV";
  EXPECT_EQ(a.key_gen_mechanism, CKM_AES_KEY_GEN);
  EXPECT_EQ(a.flag(CKA_TOKEN), true);
  EXPECT_EQ(a.flag(CKA_PRIVATE), true);
  EXPECT_EQ(a.flag(CKA_SENSITIVE), true);
  EXPECT_EQ(a.flag(CKA_EXTRACTABLE), true);
  EXPECT_EQ(a.flag(CKA_NEVER_EXTRACTABLE), false);
  EXPECT_EQ(a.flag(CKA_LOCAL), true);
  EXPECT_EQ(a.flag(CKA_MODIFIABLE), true);
  // Explicit usage: what the template said, not SoftHSM's all-true default.
  EXPECT_EQ(a.flag(CKA_ENCRYPT), true);
  EXPECT_EQ(a.flag(CKA_DECRYPT), true);
  EXPECT_EQ(a.flag(CKA_SIGN), false);
  EXPECT_EQ(a.flag(CKA_VERIFY), false);
  EXPECT_EQ(a.flag(CKA_WRAP), false);
  EXPECT_EQ(a.flag(CKA_UNWRAP), false);
  EXPECT_EQ(a.flag(CKA_DERIVE), false);
  EXPECT_FALSE(a.modulus_bits);
  EXPECT_TRUE(a.ec_params.empty());

  P11_ASSIGN(ObjectInfo b, read_object(s, aes256));
  EXPECT_EQ(b.bits(), 256);
  EXPECT_EQ(b.flag(CKA_EXTRACTABLE), false);
  EXPECT_EQ(b.flag(CKA_NEVER_EXTRACTABLE), true);

  P11_ASSIGN(ObjectInfo r, read_object(s, rsa.private_key));
  EXPECT_EQ(r.cls, CKO_PRIVATE_KEY);
  EXPECT_EQ(r.key_type, CKK_RSA);
  EXPECT_EQ(r.bits(), 2048);
  EXPECT_EQ(r.flag(CKA_SIGN), true);
  EXPECT_EQ(r.flag(CKA_DECRYPT), false);
  EXPECT_EQ(r.flag(CKA_UNWRAP), false);
  EXPECT_EQ(r.flag(CKA_SIGN_RECOVER), false);
  EXPECT_EQ(r.flag(CKA_EXTRACTABLE), true);
  EXPECT_EQ(r.flag(CKA_ALWAYS_AUTHENTICATE), false);
  EXPECT_FALSE(r.flag(CKA_ENCRYPT)) << "a private key has no CKA_ENCRYPT";
  EXPECT_TRUE(r.check_value.empty());
  P11_ASSIGN(ObjectInfo rp, read_object(s, rsa.public_key));
  EXPECT_EQ(rp.cls, CKO_PUBLIC_KEY);
  EXPECT_EQ(rp.bits(), 2048);
  EXPECT_EQ(rp.flag(CKA_VERIFY), true);
  EXPECT_EQ(rp.flag(CKA_PRIVATE), false);

  P11_ASSIGN(ObjectInfo e, read_object(s, ec.private_key));
  EXPECT_EQ(e.key_type, CKK_EC);
  EXPECT_EQ(e.bits(), 256);
  EXPECT_EQ(e.ec_params, curve_by_name("P-256")->params);
  EXPECT_FALSE(e.modulus_bits);

  P11_ASSIGN(ObjectInfo d, read_object(s, ed.private_key));
  EXPECT_EQ(d.key_type, CKK_EC_EDWARDS);
  EXPECT_EQ(d.bits(), 256);
  EXPECT_EQ(curve_by_params(d.ec_params)->name, "Ed25519");
}

TEST_F(ObjectsTest, FindByClassLabelAndIdInBoundedBatches) {
  make_token("find");
  Session s = user_session("find");
  for (int i = 0; i < 10; ++i) {
    const std::string label = i % 2 == 0 ? "even" : "odd";
    P11_ASSERT_OK(
        generate_secret_key(s, kind("aes-128"), spec(label, std::string(1, char('a' + i)), true)));
  }
  P11_ASSERT_OK(generate_key_pair(s, kind("ec-p256"), spec("pair", "p", true)));

  ObjectFilter all;
  // Batches of 3: four C_FindObjects calls return 12 objects (10 + a pair).
  P11_ASSIGN(auto every, find_objects(s, all, 3));
  EXPECT_EQ(every.size(), 12u);

  ObjectFilter secret;
  secret.cls = CKO_SECRET_KEY;
  P11_ASSIGN(auto secrets, find_objects(s, secret, 4));
  EXPECT_EQ(secrets.size(), 10u);

  ObjectFilter even;
  even.label = bytes("even");
  P11_ASSIGN(auto evens, find_objects(s, even));
  EXPECT_EQ(evens.size(), 5u);

  ObjectFilter by_id;
  by_id.id = bytes("c");
  P11_ASSIGN(auto c, find_objects(s, by_id));
  ASSERT_EQ(c.size(), 1u);
  P11_ASSIGN(ObjectInfo ci, read_object(s, c.front()));
  EXPECT_EQ(ci.label, bytes("even"));

  ObjectFilter pair_id;
  pair_id.id = bytes("p");
  P11_ASSIGN(auto pair, find_objects(s, pair_id));
  EXPECT_EQ(pair.size(), 2u) << "public and private key share their CKA_ID";
  pair_id.cls = CKO_PRIVATE_KEY;
  P11_ASSIGN(auto priv, find_objects(s, pair_id));
  EXPECT_EQ(priv.size(), 1u);

  // A limit stops the search early; the session can search again after it.
  P11_ASSIGN(auto two, find_objects(s, all, 1, 2));
  EXPECT_EQ(two.size(), 2u);
  P11_ASSIGN(auto again, find_objects(s, all));
  EXPECT_EQ(again.size(), 12u);

  ObjectFilter none;
  none.label = bytes("nothing");
  P11_ASSIGN(auto empty, find_objects(s, none));
  EXPECT_TRUE(empty.empty());
}

TEST_F(ObjectsTest, LabelsThatAreNotUtf8StayBytes) {
  make_token("labels");
  Session s = user_session("labels");
  const api::Bytes latin1 = {'c', 'a', 'f', 0xE9};  // "café" in Latin-1: not UTF-8
  const api::Bytes utf8 = {'c', 'a', 'f', 0xC3, 0xA9};
  KeySpec a = spec("", "1", true);
  a.label = latin1;
  KeySpec b = spec("", "2", true);
  b.label = utf8;
  P11_ASSIGN(CK_OBJECT_HANDLE ha, generate_secret_key(s, kind("aes-128"), a));
  P11_ASSIGN(CK_OBJECT_HANDLE hb, generate_secret_key(s, kind("aes-128"), b));
  P11_ASSIGN(ObjectInfo ia, read_object(s, ha));
  P11_ASSIGN(ObjectInfo ib, read_object(s, hb));
  EXPECT_EQ(ia.label, latin1);
  EXPECT_FALSE(is_utf8(ia.label));
  EXPECT_EQ(printable(ia.label), "caf\\xE9");
  EXPECT_TRUE(is_utf8(ib.label));
  EXPECT_EQ(printable(ib.label), "caf\xC3\xA9");
  // Found by its exact bytes.
  ObjectFilter f;
  f.label = latin1;
  P11_ASSIGN(auto found, find_objects(s, f));
  EXPECT_EQ(found.size(), 1u);
  EXPECT_EQ(printable(bytes("a\nb\\")), "a\\x0Ab\\x5C");
  EXPECT_FALSE(is_utf8(api::Bytes{0xC0, 0x80})) << "overlong";
  EXPECT_FALSE(is_utf8(api::Bytes{0xED, 0xA0, 0x80})) << "surrogate";
  EXPECT_FALSE(is_utf8(api::Bytes{0xE2, 0x82})) << "truncated";
}

TEST_F(ObjectsTest, LongLabelsAndIdsTakeASecondRead) {
  make_token("long");
  Session s = user_session("long");
  const std::string label(300, 'L');
  const std::string id(200, 'I');
  P11_ASSIGN(CK_OBJECT_HANDLE h, generate_secret_key(s, kind("aes-256"), spec(label, id, true)));
  P11_ASSIGN(ObjectInfo o, read_object(s, h));
  EXPECT_EQ(o.label, bytes(label));
  EXPECT_EQ(o.id, bytes(id));
  EXPECT_EQ(o.bits(), 256);
  EXPECT_EQ(o.check_value.size(), 3u);
}

TEST_F(ObjectsTest, ObjectsSurviveAReloadAndAreFoundAgainById) {
  make_token("persist");
  {
    Session s = user_session("persist");
    P11_ASSERT_OK(generate_secret_key(s, kind("aes-256"), spec("keep", "k1", true)));
    KeySpec session_only = spec("gone", "k2", true);
    session_only.token = false;
    P11_ASSERT_OK(generate_secret_key(s, kind("aes-256"), session_only));
  }
  reload();
  Session s = user_session("persist");
  ObjectFilter f;
  f.id = bytes("k1");
  P11_ASSIGN(auto found, find_objects(s, f));
  ASSERT_EQ(found.size(), 1u);
  f.id = bytes("k2");
  P11_ASSIGN(auto gone, find_objects(s, f));
  EXPECT_TRUE(gone.empty()) << "session objects end with their session";
  P11_ASSERT_OK(destroy_object(s, found.front()));
  f.id = bytes("k1");
  P11_ASSIGN(auto destroyed, find_objects(s, f));
  EXPECT_TRUE(destroyed.empty());
}

TEST(Pkcs11KeyKinds, NamesParseAndUnknownOnesAreUsageErrors) {
  auto k = parse_key_kind("rsa-3072");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->algorithm, Algorithm::rsa);
  EXPECT_EQ(k->bits, 3072);
  auto e = parse_key_kind("ec-p384");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->curve->name, "P-384");
  for (const char* bad : {"aes-512", "rsa-1024", "rsa-2048x", "des3", ""}) {
    auto b = parse_key_kind(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.error().kind, api::ErrorKind::usage);
  }
}

}  // namespace
}  // namespace hsm::p11::test
