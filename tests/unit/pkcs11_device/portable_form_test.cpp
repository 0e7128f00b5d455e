// The portable form computed on a SoftHSM2 token and by the emulated Luna's
// model (plugins/luna/device/portable_archive.hpp) must be the same bytes:
// the domain tag, the wrapped archive keys, records sealed on one family
// open on the other, and the archive MAC. The domain secret is known to the
// test only, so the Luna side can derive the domain key (T4: the same
// derivation) and check what the token made.
#include <gtest/gtest.h>

#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/device/luna_partition.hpp"
#include "plugins/luna/device/portable_archive.hpp"
#include "plugins/pkcs11/device/registration.hpp"
#include "plugins/pkcs11/device/token_objects.hpp"
#include "plugins/pkcs11/device/token_portable.hpp"
#include "plugins/pkcs11/device/token_setup.hpp"
#include "plugins/pkcs11/token/keys.hpp"
#include "plugins/pkcs11/token/public_key.hpp"
#include "plugins/pkcs11/token/transport.hpp"
#include "tests/unit/pkcs11/openssl_check.hpp"
#include "tests/unit/pkcs11/softhsm_fixture.hpp"

namespace hsm::p11::test {
namespace {

namespace portable = luna::portable;
using plugin::Registration;

api::DomainSecret text_domain(const std::string& s) {
  api::DomainSecret d;
  d.kind = api::DomainKind::text;
  d.label = "dom";
  d.secret = api::secret_from(s);
  return d;
}

class PortableFormTest : public SoftHsmTest {
 protected:
  void SetUp() override {
    SoftHsmTest::SetUp();
    make_token("srcA");
    reg_.device = "soft1";
    reg_.partition = "srcA";
    domain_ = text_domain("e2e-domain");
    auto key = luna::domain_key(domain_);
    ASSERT_TRUE(key.ok());
    domain_key_ = *key;
  }
  Registration reg_;
  api::DomainSecret domain_;
  api::SecretBytes domain_key_;
};

// T4: the KEK a token imports is the Luna domain key, with the Luna fingerprint.
TEST_F(PortableFormTest, DomainKekIsTheLunaDomainKeyAndTheTagsAgree) {
  Session s = user_session("srcA");
  P11_ASSERT_OK(plugin::add_domain(s, reg_, domain_, true));
  ASSERT_EQ(reg_.domains.size(), 1u);
  EXPECT_EQ(reg_.domains[0].fingerprint, luna::domain_fingerprint(domain_key_));
  EXPECT_TRUE(reg_.domains[0].primary);
  // Imported once: a second add is refused, the token holds one KEK.
  EXPECT_FALSE(plugin::add_domain(s, reg_, domain_, false).ok());
  P11_ASSIGN(CK_OBJECT_HANDLE kek, plugin::find_kek(s, reg_.domains[0].fingerprint));
  P11_ASSIGN(ObjectInfo info, read_object(s, kek));
  EXPECT_FALSE(info.is(CKA_EXTRACTABLE));
  EXPECT_TRUE(info.is(CKA_WRAP) && info.is(CKA_UNWRAP));
  EXPECT_FALSE(info.is(CKA_ENCRYPT) || info.is(CKA_DECRYPT) || info.is(CKA_SIGN));
  api::ArchiveId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(0xA0 + i);
  P11_ASSIGN(std::string on_token, plugin::domain_tag(s, kek, id));
  P11_ASSIGN(std::string in_luna, portable::domain_tag(domain_key_, id));
  EXPECT_EQ(on_token, in_luna);
  api::ArchiveId other = id;
  other[0] ^= 1;
  P11_ASSIGN(std::string other_tag, plugin::domain_tag(s, kek, other));
  EXPECT_NE(other_tag, on_token);  // per archive
}

// A record sealed on the token opens in the Luna model, and the key in it is
// the token's key (an EC P-256 private key: SoftHSM pads its PKCS#8 for KWP).
TEST_F(PortableFormTest, TokenSealedRecordOpensInTheLunaModel) {
  Session s = user_session("srcA");
  P11_ASSERT_OK(plugin::add_domain(s, reg_, domain_, true));
  P11_ASSIGN(CK_OBJECT_HANDLE kek, plugin::find_kek(s, reg_.domains[0].fingerprint));
  P11_ASSIGN(KeyKind kind, parse_key_kind("ec-p256"));
  KeySpec spec;
  spec.label = bytes("sig-ec");
  spec.id = bytes("\x01\x02");
  spec.extractable = true;
  P11_ASSIGN(KeyPair kp, generate_key_pair(s, kind, spec));
  P11_ASSIGN(ObjectInfo priv, read_object(s, kp.private_key));
  P11_ASSIGN(api::Bytes spki, plugin::spki_of(s, priv));
  ASSERT_FALSE(spki.empty());

  plugin::SessionObjects keep(s);
  P11_ASSIGN(plugin::TokenKeys keys, plugin::generate_keys(s, keep));
  P11_ASSIGN(portable::WrappedKeys wrapped, plugin::wrap_keys(s, kek, keys));
  const api::Bytes aad = bytes("associated data of position 1");
  P11_ASSIGN(portable::Record rec, plugin::record_of(s, priv, keys.wrap, 1, spki, "fp"));
  P11_ASSIGN(api::Bytes sealed, plugin::seal(s, keys.seal, aad, portable::encode_record(rec)));

  // The Luna side: D unwraps S and W; the record opens; the key parses.
  P11_ASSIGN(portable::Keys lk, portable::unwrap_keys(domain_key_, wrapped));
  P11_ASSIGN(luna::cloning::FlatObject f, portable::open_object(lk, aad, sealed));
  EXPECT_EQ(f.desc.cls, api::ObjectClass::private_key);
  EXPECT_EQ(f.desc.key_type, api::KeyType::ec);
  EXPECT_EQ(f.desc.curve, "P-256");
  EXPECT_EQ(f.desc.label, "sig-ec");
  EXPECT_EQ(f.desc.id_hex, "0102");
  EXPECT_EQ(f.material.public_der, spki);
  P11_ASSIGN(api::Bytes derived, luna::crypto::public_of(f.material.secret));  // the padding is gone, the DER parses
  EXPECT_EQ(derived, spki);
  // The Luna model signs with it and OpenSSL verifies against the token's public key.
  const api::Bytes msg = bytes("signed in the Luna model with a key from the token");
  P11_ASSIGN(api::Bytes sig, luna::crypto::sign(f.material, msg));
  EXPECT_EQ(openssl_verify(spki, OsslSig::ecdsa_sha256_der, msg, sig), 1);
  // Another AAD (another position or archive): it does not open.
  EXPECT_EQ(portable::open_object(lk, bytes("another position"), sealed).error().kind, api::ErrorKind::integrity);
}

// A record sealed by the Luna model opens on the token and restores a key
// that signs as the original (RSA-2048, the full T5 template).
TEST_F(PortableFormTest, LunaSealedRecordRestoresOnTheToken) {
  Session s = user_session("srcA");
  P11_ASSERT_OK(plugin::add_domain(s, reg_, domain_, true));
  P11_ASSIGN(CK_OBJECT_HANDLE kek, plugin::find_kek(s, reg_.domains[0].fingerprint));
  P11_ASSIGN(luna::crypto::KeyMaterial km, luna::crypto::generate({api::KeyType::rsa, 2048, ""}));
  luna::cloning::FlatObject f;
  f.desc.label = "from-luna";
  f.desc.id_hex = "c0ffee";
  f.desc.cls = api::ObjectClass::private_key;
  f.desc.key_type = api::KeyType::rsa;
  f.desc.bits = 2048;
  f.desc.extractable = true;
  f.material = km;
  portable::ArchiveState st{portable::new_keys(), domain_key_};
  P11_ASSIGN(portable::WrappedKeys wrapped, portable::wrap_keys(domain_key_, st.keys));
  const api::Bytes aad = bytes("aad");
  P11_ASSIGN(api::Bytes sealed, portable::seal_object(st, f, 1, aad));

  plugin::SessionObjects keep(s);
  P11_ASSIGN(plugin::TokenKeys keys, plugin::unwrap_keys(s, kek, wrapped, keep));
  P11_ASSIGN(api::Bytes plain, plugin::open(s, keys.seal, aad, sealed));
  P11_ASSIGN(portable::Record rec, portable::decode_record(plain));
  P11_ASSIGN(CK_OBJECT_HANDLE h, plugin::restore_record(s, rec, keys.wrap, false));
  keep.add(h);
  P11_ASSIGN(ObjectInfo got, read_object(s, h));
  EXPECT_EQ(got.label, bytes("from-luna"));
  EXPECT_TRUE(got.is(CKA_SIGN));
  EXPECT_TRUE(got.is(CKA_DECRYPT));  // the Luna model's RSA private key decrypts too
  EXPECT_FALSE(got.is(CKA_UNWRAP));  // T5: a flag not carried is set false, never the token's default
  EXPECT_FALSE(got.is(CKA_DERIVE));
  const api::Bytes msg = bytes("signed on the token with a key from the Luna model");
  P11_ASSIGN(api::Bytes sig, sign(s, h, SignMechanism::rsa_pss_sha256, msg));
  EXPECT_EQ(openssl_verify(km.public_der, OsslSig::rsa_pss_sha256, msg, sig), 1);
  // Damaged on the way: the token's GCM refuses it (integrity).
  api::Bytes bad = sealed;
  bad[bad.size() / 2] ^= 1;
  EXPECT_EQ(plugin::open(s, keys.seal, aad, bad).error().kind, api::ErrorKind::integrity);
}

TEST_F(PortableFormTest, ArchiveMacAgreesBothWays) {
  Session s = user_session("srcA");
  P11_ASSERT_OK(plugin::add_domain(s, reg_, domain_, true));
  P11_ASSIGN(CK_OBJECT_HANDLE kek, plugin::find_kek(s, reg_.domains[0].fingerprint));
  plugin::SessionObjects keep(s);
  P11_ASSIGN(plugin::TokenKeys keys, plugin::generate_keys(s, keep));
  P11_ASSIGN(portable::WrappedKeys wrapped, plugin::wrap_keys(s, kek, keys));
  P11_ASSIGN(portable::Keys lk, portable::unwrap_keys(domain_key_, wrapped));
  api::ArchiveFinish f;
  f.blob_count = 3;
  f.archive_digest[0] = 7;
  P11_ASSIGN(api::Bytes mac, plugin::archive_mac(s, keys.seal, f));
  EXPECT_TRUE(portable::check_archive_mac(lk, f, mac).ok());
  P11_ASSIGN(api::Bytes lmac, portable::archive_mac(lk, f));
  EXPECT_TRUE(plugin::check_archive_mac(s, keys.seal, f, lmac).ok());
  f.blob_count = 2;  // a blob dropped: the MAC says so, on both families
  EXPECT_FALSE(portable::check_archive_mac(lk, f, mac).ok());
  EXPECT_FALSE(plugin::check_archive_mac(s, keys.seal, f, lmac).ok());
}

// T3 by trying: SoftHSM 2.6.1 moves AES, RSA and NIST EC keys, not Ed25519.
TEST_F(PortableFormTest, ProbedCapabilitiesOfSoftHsm261) {
  Session s = user_session("srcA");
  P11_ASSIGN(auto caps, plugin::probe_capabilities(s));
  auto has = [&](api::KeyType t) {
    return std::any_of(caps.begin(), caps.end(), [&](const api::KeyCapability& c) { return c.type == t; });
  };
  EXPECT_TRUE(has(api::KeyType::aes));
  EXPECT_TRUE(has(api::KeyType::rsa));
  EXPECT_TRUE(has(api::KeyType::ec));
  EXPECT_FALSE(has(api::KeyType::ed25519));
  P11_ASSIGN(auto left, find_objects(s, ObjectFilter{}));
  EXPECT_TRUE(left.empty()) << "the probe leaves nothing on the token";
}

// The identity key: generated on the token, non-extractable, certified by the
// fleet's root with CN "<device> HOK", and it signs archive digests.
TEST_F(PortableFormTest, IdentityKeyIsCertifiedAndSigns) {
  Session s = user_session("srcA");
  for (const char* kind : {"ed25519", "p256"}) {
    Registration r = reg_;
    P11_ASSERT_OK(plugin::create_identity(s, r, dir() / "factory", kind));
    EXPECT_EQ(r.identity_key, kind);
    P11_ASSIGN(std::string cn, luna::crypto::certificate_subject(r.hok_cert));
    EXPECT_EQ(cn, "soft1 HOK");
    P11_ASSIGN(api::Bytes pub, luna::crypto::verify_certificate(r.hok_cert, r.root_cert));
    api::Digest32 digest{};
    digest[5] = 9;
    P11_ASSIGN(api::Bytes sig, plugin::sign_digest(s, r, digest));
    ASSERT_EQ(sig.size(), 64u);
    if (std::string_view(kind) == "ed25519") {
      EXPECT_EQ(openssl_verify(pub, OsslSig::ed25519, digest, sig), 1);
    } else {
      P11_ASSIGN(api::Bytes der, ecdsa_signature_der(sig));
      EXPECT_EQ(openssl_verify(pub, OsslSig::ecdsa_sha256_der, digest, der), 1);
    }
    ObjectFilter f;
    f.id = r.identity_id;
    f.cls = CKO_PRIVATE_KEY;
    P11_ASSIGN(auto found, find_objects(s, f));
    ASSERT_EQ(found.size(), 1u);
    // Given the handle a backup met it by, it signs the same way.
    P11_ASSIGN(api::Bytes again, plugin::sign_digest(s, r, digest, found[0]));
    if (std::string_view(kind) == "ed25519") {
      EXPECT_EQ(openssl_verify(pub, OsslSig::ed25519, digest, again), 1);
    } else {
      P11_ASSIGN(api::Bytes der, ecdsa_signature_der(again));
      EXPECT_EQ(openssl_verify(pub, OsslSig::ecdsa_sha256_der, digest, der), 1);
    }
    P11_ASSIGN(ObjectInfo info, read_object(s, found[0]));
    EXPECT_FALSE(info.is(CKA_EXTRACTABLE));
    EXPECT_TRUE(plugin::is_own_object(info));
  }
}

TEST_F(PortableFormTest, RegistrationRoundTripsAndKeepsNoPin) {
  Registration r = reg_;
  r.module = kSoftHsmModule.string();
  r.module_env = {{"SOFTHSM2_CONF", (dir() / "softhsm2.conf").string()}};
  r.token_label = "srcA";
  r.token_serial = "1234";
  r.identity_key = "ed25519";
  r.identity_id = bytes("id");
  r.hok_cert = bytes("c");
  r.root_cert = bytes("r");
  r.domains.push_back({"dom", api::DomainKind::text, true, std::string(64, 'f')});
  r.transport.push_back({api::KeyType::ec, 256, 521, {"P-256", "P-521"}});
  P11_ASSERT_OK(plugin::save_registration(dir(), r));
  P11_ASSIGN(Registration back, plugin::load_registration(dir()));
  EXPECT_EQ(back.token_serial, "1234");
  EXPECT_EQ(back.module_env, r.module_env);
  EXPECT_EQ(back.domains[0].fingerprint, r.domains[0].fingerprint);
  EXPECT_EQ(back.transport[0].curves, r.transport[0].curves);
  std::string text;
  ASSERT_EQ(run({"cat", (dir() / "token.json").string()}, &text), 0);
  EXPECT_EQ(text.find(kUserPin), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((dir() / "token.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace hsm::p11::test
