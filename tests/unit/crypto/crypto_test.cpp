// Known-answer and behaviour tests for the crypto adapters.
#include <gtest/gtest.h>

#include "plugins/luna/crypto/crypto.hpp"

namespace hsm::luna::crypto {
namespace {

api::Bytes unhex(std::string_view h) {
  api::Bytes out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

// RFC 5869 appendix A, test cases 1 and 3 (3: empty salt and info).
TEST(Hkdf, Rfc5869Case1) {
  SecretBytes ikm(22, 0x0b);
  auto okm = hkdf_sha256(ikm, unhex("000102030405060708090a0b0c"), unhex("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm.ok());
  EXPECT_EQ(hex(okm->data(), okm->size()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}
TEST(Hkdf, Rfc5869Case3EmptySaltAndInfo) {
  SecretBytes ikm(22, 0x0b);
  auto okm = hkdf_sha256(ikm, {}, {}, 42);
  ASSERT_TRUE(okm.ok());
  EXPECT_EQ(hex(okm->data(), okm->size()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

// FIPS 180-2 "abc".
TEST(Sha256, Abc) {
  const std::uint8_t abc[] = {'a', 'b', 'c'};
  EXPECT_EQ(hex(sha256(abc, 3)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Aead, BindingAndTamperDetected) {
  auto key = random_secret(32);
  api::Bytes ad{1, 2, 3};
  auto sealed = aead_seal(key, ad, api::secret_from("key material"));
  ASSERT_TRUE(aead_open(key, ad, sealed).ok());
  EXPECT_EQ(aead_open(key, {1, 2, 4}, sealed).error().kind, api::ErrorKind::integrity);
  sealed[30] ^= 1;
  EXPECT_EQ(aead_open(key, ad, sealed).error().kind, api::ErrorKind::integrity);
}

TEST(Domain, SameTextSameKeyDifferentTextDifferentKey) {
  auto a = stretch_domain(api::secret_from("domain-one"));
  auto b = stretch_domain(api::secret_from("domain-one"));
  auto c = stretch_domain(api::secret_from("domain-two"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
}

SecretBytes secret(std::string_view s) { return SecretBytes(s.begin(), s.end()); }

TEST(Pin, VerifierIsArgon2idAtOwaspMinimumAndHoldsNoPin) {
  auto h = hash_pin(secret("correct horse"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("$argon2id$v=19$m=19456,t=2,", 0), 0u) << *h;
  EXPECT_EQ(h->find("correct horse"), std::string::npos);
  auto again = hash_pin(secret("correct horse"));
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*h, *again) << "a fresh salt per verifier";
}

// A verified login is remembered for the process; a wrong PIN is never
// taken for it, before or after, nor is the right PIN under another verifier.
TEST(Pin, RememberedLoginsNeverAcceptAWrongPin) {
  auto h = hash_pin(secret("pin-one"));
  auto other = hash_pin(secret("pin-two"));
  ASSERT_TRUE(h.ok() && other.ok());
  EXPECT_FALSE(verify_pin(*h, secret("pin-two")));
  EXPECT_TRUE(verify_pin(*h, secret("pin-one")));
  EXPECT_TRUE(verify_pin(*h, secret("pin-one")));
  EXPECT_FALSE(verify_pin(*h, secret("pin-two")));
  EXPECT_FALSE(verify_pin(*h, secret("pin-one ")));
  EXPECT_FALSE(verify_pin(*other, secret("pin-one")));
  EXPECT_TRUE(verify_pin(*other, secret("pin-two")));
}

TEST(Keys, FingerprintIdentifiesWithoutRevealing) {
  auto k1 = generate({api::KeyType::aes, 256, ""});
  auto k2 = generate({api::KeyType::aes, 256, ""});
  ASSERT_TRUE(k1.ok() && k2.ok());
  auto f1 = fingerprint(api::ObjectClass::secret_key, *k1);
  EXPECT_EQ(f1, fingerprint(api::ObjectClass::secret_key, *k1));
  EXPECT_NE(f1, fingerprint(api::ObjectClass::secret_key, *k2));
  EXPECT_EQ(f1.find(hex(k1->secret.data(), k1->secret.size())), std::string::npos);
}

TEST(Keys, Des3HasOddParity) {
  auto k = generate({api::KeyType::des3, 168, ""});
  ASSERT_TRUE(k.ok());
  for (auto b : k->secret) EXPECT_EQ(__builtin_popcount(b) % 2, 1);
}

TEST(X509, ChainVerifiesAndForeignRootFails) {
  auto root = generate({api::KeyType::ed25519, 256, "Ed25519"});
  auto other = generate({api::KeyType::ed25519, 256, "Ed25519"});
  auto hok = generate({api::KeyType::ed25519, 256, "Ed25519"});
  auto root_cert = make_self_signed(root->secret, "root", 0, 10);
  auto other_cert = make_self_signed(other->secret, "root", 0, 10);
  auto hok_cert = issue_certificate(hok->public_der, "hsm HOK", root->secret, *root_cert, 0, 10, 2);
  ASSERT_TRUE(hok_cert.ok());
  auto pub = verify_certificate(*hok_cert, *root_cert);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, hok->public_der);
  EXPECT_EQ(verify_certificate(*hok_cert, *other_cert).error().kind, api::ErrorKind::integrity);
  EXPECT_EQ(certificate_subject(*hok_cert).value(), "hsm HOK");
}

}  // namespace
}  // namespace hsm::luna::crypto
