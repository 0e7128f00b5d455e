// The CPv4 suite adapter against independent implementations: ChaCha20-
// Poly1305 against libsodium's IETF AEAD (RFC 8439), AES-256-GCM against the
// crypto::decrypt wrapper (iv || ct || tag, no associated data).
#include <gtest/gtest.h>
#include <sodium.h>

#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/crypto/suites.hpp"

namespace hsm::luna::crypto {
namespace {

TEST(Suites, NamesMatchTheRulesTable) {
  EXPECT_EQ(parse_suite("aes-256-gcm"), Suite::aes_256_gcm);
  EXPECT_EQ(parse_suite("chacha20-poly1305"), Suite::chacha20_poly1305);
  EXPECT_FALSE(parse_suite("aes-128-gcm").has_value());
  EXPECT_EQ(to_string(Suite::chacha20_poly1305), "chacha20-poly1305");
}

TEST(Suites, ChaCha20Poly1305MatchesLibsodiumForSuccessiveNonces) {
  ASSERT_GE(sodium_init(), 0);
  const SecretBytes key = random_secret(32);
  auto aead = SuiteAead::create(Suite::chacha20_poly1305, key);
  ASSERT_TRUE(aead.ok());
  const Bytes ad{1, 2, 3, 4, 5};
  for (std::uint8_t i = 1; i <= 3; ++i) {  // the key schedule is reused across nonces
    Bytes nonce(12, 0);
    nonce[4] = i;
    const Bytes pt(37 + i, static_cast<std::uint8_t>(0x40 + i));
    Bytes ours(pt.size() + 16);
    ASSERT_TRUE(aead->seal(nonce.data(), ad.data(), ad.size(), pt.data(), pt.size(), ours.data()));
    Bytes theirs(pt.size() + 16);
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(theirs.data(), &clen, pt.data(), pt.size(), ad.data(),
                                              ad.size(), nullptr, nonce.data(), key.data());
    EXPECT_EQ(ours, theirs);
    Bytes back(pt.size());
    ASSERT_TRUE(aead->open(nonce.data(), ad.data(), ad.size(), theirs.data(), theirs.size(), back.data()));
    EXPECT_EQ(back, pt);
  }
}

TEST(Suites, Aes256GcmMatchesTheOpenSslWrapper) {
  KeyMaterial k;
  k.type = api::KeyType::aes;
  k.bits = 256;
  k.secret = random_secret(32);
  auto aead = SuiteAead::create(Suite::aes_256_gcm, k.secret);
  ASSERT_TRUE(aead.ok());
  for (std::uint8_t i = 1; i <= 3; ++i) {
    Bytes nonce(12, i);
    const Bytes pt(50 + i, i);
    Bytes sealed(nonce);  // iv || ct || tag
    sealed.resize(12 + pt.size() + 16);
    ASSERT_TRUE(aead->seal(nonce.data(), nullptr, 0, pt.data(), pt.size(), sealed.data() + 12));
    auto back = decrypt(k, sealed);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, pt);
    // and the other way round
    auto theirs = encrypt(k, pt);
    ASSERT_TRUE(theirs.ok());
    Bytes out(pt.size());
    ASSERT_TRUE(aead->open(theirs->data(), nullptr, 0, theirs->data() + 12, theirs->size() - 12, out.data()));
    EXPECT_EQ(out, pt);
  }
}

TEST(Suites, TamperingOrWrongAssociatedDataFails) {
  for (Suite s : {Suite::aes_256_gcm, Suite::chacha20_poly1305}) {
    auto aead = SuiteAead::create(s, random_secret(32));
    ASSERT_TRUE(aead.ok());
    const Bytes nonce(12, 9), ad{7, 7}, pt(64, 0x5a);
    Bytes ct(pt.size() + 16);
    ASSERT_TRUE(aead->seal(nonce.data(), ad.data(), ad.size(), pt.data(), pt.size(), ct.data()));
    Bytes out(pt.size());
    const Bytes ad2{7, 8};
    auto r = aead->open(nonce.data(), ad2.data(), ad2.size(), ct.data(), ct.size(), out.data());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, api::ErrorKind::integrity);
    EXPECT_EQ(out, Bytes(pt.size(), 0));  // nothing unauthenticated is left behind
    for (std::size_t i = 0; i < ct.size(); i += 7) {
      Bytes bad = ct;
      bad[i] ^= 1;
      EXPECT_FALSE(aead->open(nonce.data(), ad.data(), ad.size(), bad.data(), bad.size(), out.data()).ok());
    }
    // and the context still works after failures
    ASSERT_TRUE(aead->open(nonce.data(), ad.data(), ad.size(), ct.data(), ct.size(), out.data()).ok());
    EXPECT_EQ(out, pt);
  }
}

TEST(Suites, KeyMustBe32Bytes) {
  EXPECT_FALSE(SuiteAead::create(Suite::aes_256_gcm, random_secret(16)).ok());
}

}  // namespace
}  // namespace hsm::luna::crypto
