// Using keys on the token: signatures that OpenSSL verifies against the
// public key read from the token, AES-GCM with associated data, and the
// domain key-encryption key (T4).
#include <gtest/gtest.h>

#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/keys.hpp"
#include "plugins/pkcs11/token/objects.hpp"
#include "plugins/pkcs11/token/public_key.hpp"
#include "tests/unit/pkcs11/openssl_check.hpp"
#include "tests/unit/pkcs11/softhsm_fixture.hpp"

namespace hsm::p11::test {
namespace {

using KeysTest = SoftHsmTest;

KeySpec spec(std::string_view label, bool extractable = false) {
  KeySpec s;
  s.label = bytes(label);
  s.id = bytes(label);
  s.extractable = extractable;
  return s;
}

KeyKind kind(std::string_view name) {
  return parse_key_kind(name).value();
}

const api::Bytes kMessage = bytes("drill: sign this record");

TEST_F(KeysTest, RsaSignaturesVerifyOnTheTokenAndWithOpenSsl) {
  make_token("rsa");
  Session s = user_session("rsa");
  P11_ASSIGN(KeyPair kp, generate_key_pair(s, kind("rsa-2048"), spec("rsa")));
  P11_ASSIGN(api::Bytes spki, public_key_der(s, kp.public_key));
  for (auto [mech, ossl] : {std::pair{SignMechanism::rsa_pkcs1_sha256, OsslSig::rsa_pkcs1_sha256},
                            std::pair{SignMechanism::rsa_pss_sha256, OsslSig::rsa_pss_sha256}}) {
    P11_ASSIGN(api::Bytes sig, sign(s, kp.private_key, mech, kMessage));
    EXPECT_EQ(sig.size(), 256u);
    P11_ASSIGN(bool on_token, verify(s, kp.public_key, mech, kMessage, sig));
    EXPECT_TRUE(on_token);
    EXPECT_EQ(openssl_verify(spki, ossl, kMessage, sig), 1);
    // Another message does not verify, on the token or with OpenSSL.
    const api::Bytes other = bytes("drill: another record");
    P11_ASSIGN(bool forged, verify(s, kp.public_key, mech, other, sig));
    EXPECT_FALSE(forged);
    EXPECT_EQ(openssl_verify(spki, ossl, other, sig), 0);
  }
}

TEST_F(KeysTest, EcdsaSignaturesVerifyOnTheTokenAndWithOpenSsl) {
  make_token("ec");
  Session s = user_session("ec");
  P11_ASSIGN(KeyPair kp, generate_key_pair(s, kind("ec-p256"), spec("ec")));
  P11_ASSIGN(api::Bytes spki, public_key_der(s, kp.public_key));
  P11_ASSIGN(api::Bytes sig, sign(s, kp.private_key, SignMechanism::ecdsa_sha256, kMessage));
  EXPECT_EQ(sig.size(), 64u) << "PKCS#11 ECDSA: r||s";
  P11_ASSIGN(bool on_token, verify(s, kp.public_key, SignMechanism::ecdsa_sha256, kMessage, sig));
  EXPECT_TRUE(on_token);
  P11_ASSIGN(api::Bytes der, ecdsa_signature_der(sig));
  EXPECT_EQ(openssl_verify(spki, OsslSig::ecdsa_sha256_der, kMessage, der), 1);
  EXPECT_EQ(openssl_verify(spki, OsslSig::ecdsa_sha256_der, bytes("other"), der), 0);
}

TEST_F(KeysTest, Ed25519SignaturesVerifyWithOpenSsl) {
  make_token("ed");
  Session s = user_session("ed");
  P11_ASSIGN(KeyPair kp, generate_key_pair(s, kind("ed25519"), spec("ed")));
  P11_ASSIGN(api::Bytes spki, public_key_der(s, kp.public_key));
  P11_ASSIGN(api::Bytes sig, sign(s, kp.private_key, SignMechanism::eddsa, kMessage));
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_EQ(openssl_verify(spki, OsslSig::ed25519, kMessage, sig), 1);
}

TEST_F(KeysTest, AesGcmRoundTripWithAssociatedData) {
  make_token("gcm");
  Session s = user_session("gcm");
  P11_ASSIGN(CK_OBJECT_HANDLE key, generate_secret_key(s, kind("aes-256"), spec("gcm")));
  P11_ASSIGN(api::Bytes iv, s.random(kGcmIvBytes));
  const api::Bytes aad = bytes("record 7 of archive 42");
  const api::Bytes plain = bytes("a record's sealed content");
  P11_ASSIGN(api::Bytes sealed, gcm_encrypt(s, key, iv, aad, plain));
  EXPECT_EQ(sealed.size(), plain.size() + kGcmTagBytes);
  P11_ASSIGN(api::SecretBytes opened, gcm_decrypt(s, key, iv, aad, sealed));
  EXPECT_EQ(api::Bytes(opened.begin(), opened.end()), plain);

  // Other associated data, a flipped bit, a truncated tag: integrity errors.
  auto wrong_ad = gcm_decrypt(s, key, iv, bytes("record 8 of archive 42"), sealed);
  ASSERT_FALSE(wrong_ad.ok());
  EXPECT_EQ(wrong_ad.error().kind, api::ErrorKind::integrity);
  EXPECT_EQ(wrong_ad.error().code, "CKR_GENERAL_ERROR") << "SoftHSM 2.6.1's code for a failed tag";
  api::Bytes flipped = sealed;
  flipped[3] ^= 0x01;
  auto bad = gcm_decrypt(s, key, iv, aad, flipped);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, api::ErrorKind::integrity);
  auto short_tag = gcm_decrypt(s, key, iv, aad, std::span(sealed).first(10));
  ASSERT_FALSE(short_tag.ok());
  EXPECT_EQ(short_tag.error().kind, api::ErrorKind::integrity);
  auto bad_iv = gcm_encrypt(s, key, std::span(iv).first(8), aad, plain);
  ASSERT_FALSE(bad_iv.ok());
  EXPECT_EQ(bad_iv.error().kind, api::ErrorKind::usage);
}

const api::SecretBytes kKekValue = [] {
  api::SecretBytes v(32);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint8_t>(0xA0 + i);
  return v;
}();

TEST_F(KeysTest, T4_DomainKekIsWrapUnwrapOnlyAndNeverLeaves) {
  make_token("dom");
  Session s = user_session("dom");
  const api::Bytes label = bytes("hsm-migrate domain"), id = bytes("\xD0\x01");
  P11_ASSIGN(CK_OBJECT_HANDLE kek, create_domain_kek(s, kKekValue, label, id));
  P11_ASSIGN(ObjectInfo o, read_object(s, kek));
  EXPECT_EQ(o.key_type, CKK_AES);
  EXPECT_EQ(o.flag(CKA_TOKEN), true);
  EXPECT_EQ(o.flag(CKA_PRIVATE), true);
  EXPECT_EQ(o.flag(CKA_SENSITIVE), true);
  EXPECT_EQ(o.flag(CKA_EXTRACTABLE), false);
  EXPECT_EQ(o.flag(CKA_WRAP), true);
  EXPECT_EQ(o.flag(CKA_UNWRAP), true);
  for (CK_ATTRIBUTE_TYPE a :
       {CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_DERIVE, CKA_MODIFIABLE})
    EXPECT_EQ(o.flag(a), false) << a;

  // The token enforces it: no encryption with the KEK, and no way out.
  P11_ASSIGN(api::Bytes iv, s.random(kGcmIvBytes));
  auto enc = gcm_encrypt(s, kek, iv, {}, bytes("x"));
  ASSERT_FALSE(enc.ok());
  EXPECT_EQ(enc.error().code, "CKR_KEY_FUNCTION_NOT_PERMITTED");
  CK_BYTE value[32];
  CK_ATTRIBUTE a{CKA_VALUE, value, sizeof value};
  EXPECT_EQ(s.fn()->C_GetAttributeValue(s.handle(), kek, &a, 1), CKR_ATTRIBUTE_SENSITIVE);

  // Found again by label and id after a reload (handles do not survive).
  reload();
  Session s2 = user_session("dom");
  P11_ASSERT_OK(find_domain_kek(s2, label, id));
  // Added once: a second import is refused, nothing is created.
  auto twice = create_domain_kek(s2, kKekValue, label, id);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().kind, api::ErrorKind::usage);
  ObjectFilter f;
  f.label = label;
  P11_ASSIGN(auto keks, find_objects(s2, f));
  EXPECT_EQ(keks.size(), 1u);
}

TEST_F(KeysTest, T4_TokenWithoutTheDomainKekSaysSo) {
  make_token("nodom");
  Session s = user_session("nodom");
  auto k = find_domain_kek(s, bytes("hsm-migrate domain"), bytes("\xD0\x01"));
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().kind, api::ErrorKind::usage);
  EXPECT_NE(k.error().message.find("it is not in this domain (T4)"), std::string::npos)
      << k.error().message;
  auto short_value = create_domain_kek(s, api::SecretBytes(16, 1), bytes("d"), bytes("d"));
  ASSERT_FALSE(short_value.ok());
  EXPECT_EQ(short_value.error().kind, api::ErrorKind::usage);
}

TEST_F(KeysTest, T4_AKeyUnderTheKekLabelThatIsNotAKekIsRefused) {
  make_token("fake");
  Session s = user_session("fake");
  // An ordinary, encrypting AES key under the domain's label and id.
  KeySpec sp = spec("hsm-migrate domain");
  sp.id = bytes("\xD0\x01");
  P11_ASSERT_OK(generate_secret_key(s, kind("aes-256"), sp));
  auto k = find_domain_kek(s, bytes("hsm-migrate domain"), bytes("\xD0\x01"));
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().kind, api::ErrorKind::integrity);
  EXPECT_NE(k.error().message.find("wrap/unwrap-only"), std::string::npos) << k.error().message;
}

}  // namespace
}  // namespace hsm::p11::test
