#include "plugins/pkcs11/token/keys.hpp"

#include <openssl/evp.h>

#include <charconv>

#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/objects.hpp"
#include "plugins/pkcs11/token/template.hpp"

namespace hsm::p11 {

using api::Error;
using api::Result;
using api::Status;

Result<KeyKind> parse_key_kind(std::string_view name) {
  auto number_after = [&](std::string_view prefix) -> int {
    if (name.substr(0, prefix.size()) != prefix) return -1;
    int v = 0;
    const auto rest = name.substr(prefix.size());
    const auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    return (ec == std::errc() && p == rest.data() + rest.size()) ? v : -1;
  };
  if (int b = number_after("aes-"); b == 128 || b == 192 || b == 256)
    return KeyKind{Algorithm::aes, b, nullptr};
  if (int b = number_after("rsa-"); b == 2048 || b == 3072 || b == 4096)
    return KeyKind{Algorithm::rsa, b, nullptr};
  if (name == "ec-p256") return KeyKind{Algorithm::ec, 256, curve_by_name("P-256")};
  if (name == "ec-p384") return KeyKind{Algorithm::ec, 384, curve_by_name("P-384")};
  if (name == "ec-p521") return KeyKind{Algorithm::ec, 521, curve_by_name("P-521")};
  if (name == "ed25519") return KeyKind{Algorithm::edwards, 256, curve_by_name("Ed25519")};
  return Error::usage(
      "unknown key type '" + std::string(name) + "' for a PKCS#11 token",
      "use aes-128, aes-192, aes-256, rsa-2048, rsa-3072, rsa-4096, ec-p256, ec-p384, "
      "ec-p521 or ed25519");
}

Usage default_usage(const KeyKind& kind) {
  Usage u;
  if (kind.algorithm == Algorithm::aes) {
    u.encrypt = u.decrypt = true;
  } else {
    u.sign = u.verify = true;
  }
  return u;
}

namespace {

void add_label_id(Template& t, const KeySpec& spec) {
  t.add_bytes(CKA_LABEL, spec.label);
  t.add_bytes(CKA_ID, spec.id);
}

}  // namespace

Result<CK_OBJECT_HANDLE> generate_secret_key(Session& s, const KeyKind& kind, const KeySpec& spec) {
  if (kind.algorithm != Algorithm::aes)
    return Error::usage("generate_secret_key makes AES keys; use generate_key_pair for the others");
  const Usage u = spec.usage.value_or(default_usage(kind));
  Template t;
  t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_AES);
  t.add_ulong(CKA_VALUE_LEN, static_cast<CK_ULONG>(kind.bits / 8));
  t.add_bool(CKA_TOKEN, spec.token).add_bool(CKA_PRIVATE, spec.private_);
  t.add_bool(CKA_SENSITIVE, spec.sensitive).add_bool(CKA_EXTRACTABLE, spec.extractable);
  t.add_bool(CKA_ENCRYPT, u.encrypt).add_bool(CKA_DECRYPT, u.decrypt);
  t.add_bool(CKA_SIGN, u.sign).add_bool(CKA_VERIFY, u.verify);
  t.add_bool(CKA_WRAP, u.wrap).add_bool(CKA_UNWRAP, u.unwrap).add_bool(CKA_DERIVE, u.derive);
  add_label_id(t, spec);
  CK_MECHANISM m{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  HSM_TRY(check(s.fn()->C_GenerateKey(s.handle(), &m, t.data(), t.size(), &h), "C_GenerateKey",
                "aes-" + std::to_string(kind.bits)));
  return h;
}

Result<KeyPair> generate_key_pair(Session& s, const KeyKind& kind, const KeySpec& spec) {
  const Usage u = spec.usage.value_or(default_usage(kind));
  Template pub, priv;
  CK_MECHANISM m{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  std::string what;
  static constexpr std::uint8_t kF4[] = {0x01, 0x00, 0x01};  // 65537
  switch (kind.algorithm) {
    case Algorithm::rsa:
      pub.add_ulong(CKA_KEY_TYPE, CKK_RSA)
          .add_ulong(CKA_MODULUS_BITS, static_cast<CK_ULONG>(kind.bits));
      pub.add_bytes(CKA_PUBLIC_EXPONENT, kF4);
      priv.add_ulong(CKA_KEY_TYPE, CKK_RSA);
      what = "rsa-" + std::to_string(kind.bits);
      break;
    case Algorithm::ec:
    case Algorithm::edwards:
      if (kind.curve == nullptr) return Error::usage("an EC key needs a curve");
      m.mechanism =
          kind.algorithm == Algorithm::ec ? CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN;
      pub.add_ulong(CKA_KEY_TYPE, kind.algorithm == Algorithm::ec ? CKK_EC : CKK_EC_EDWARDS);
      pub.add_bytes(CKA_EC_PARAMS, kind.curve->params);
      priv.add_ulong(CKA_KEY_TYPE, kind.algorithm == Algorithm::ec ? CKK_EC : CKK_EC_EDWARDS);
      what = std::string(kind.curve->name);
      break;
    case Algorithm::aes:
      return Error::usage(
          "generate_key_pair makes RSA, EC and Edwards keys; use generate_secret_key for AES");
  }
  pub.add_ulong(CKA_CLASS, CKO_PUBLIC_KEY)
      .add_bool(CKA_TOKEN, spec.token)
      .add_bool(CKA_PRIVATE, false);
  pub.add_bool(CKA_VERIFY, u.verify).add_bool(CKA_VERIFY_RECOVER, false);
  if (kind.algorithm == Algorithm::rsa)
    pub.add_bool(CKA_ENCRYPT, u.encrypt).add_bool(CKA_WRAP, u.wrap);
  pub.add_bool(CKA_DERIVE, false);
  add_label_id(pub, spec);

  priv.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY)
      .add_bool(CKA_TOKEN, spec.token)
      .add_bool(CKA_PRIVATE, spec.private_);
  priv.add_bool(CKA_SENSITIVE, spec.sensitive).add_bool(CKA_EXTRACTABLE, spec.extractable);
  priv.add_bool(CKA_SIGN, u.sign).add_bool(CKA_SIGN_RECOVER, false);
  if (kind.algorithm == Algorithm::rsa)
    priv.add_bool(CKA_DECRYPT, u.decrypt).add_bool(CKA_UNWRAP, u.unwrap);
  priv.add_bool(CKA_DERIVE, u.derive);
  add_label_id(priv, spec);

  KeyPair kp;
  HSM_TRY(check(s.fn()->C_GenerateKeyPair(s.handle(), &m, pub.data(), pub.size(), priv.data(),
                                          priv.size(), &kp.public_key, &kp.private_key),
                "C_GenerateKeyPair", what));
  return kp;
}

namespace {

struct Mech {
  CK_MECHANISM m{};
  CK_RSA_PKCS_PSS_PARAMS pss{};
};

// Fills mech for the signature mechanism; for ECDSA, digest receives the
// SHA-256 of data (the data to give the token instead).
Status sign_mechanism(SignMechanism sm, std::span<const std::uint8_t> data, Mech& mech,
                      api::Bytes& digest) {
  switch (sm) {
    case SignMechanism::rsa_pkcs1_sha256:
      mech.m = {CKM_SHA256_RSA_PKCS, nullptr, 0};
      return {};
    case SignMechanism::rsa_pss_sha256:
      mech.pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
      mech.m = {CKM_SHA256_RSA_PKCS_PSS, &mech.pss, sizeof mech.pss};
      return {};
    case SignMechanism::ecdsa_sha256: {
      mech.m = {CKM_ECDSA, nullptr, 0};
      digest.resize(EVP_MAX_MD_SIZE);
      unsigned int n = 0;
      if (EVP_Digest(data.data(), data.size(), digest.data(), &n, EVP_sha256(), nullptr) != 1)
        return Error::other("SHA-256 of the data to sign failed (OpenSSL)");
      digest.resize(n);
      return {};
    }
    case SignMechanism::eddsa:
      mech.m = {CKM_EDDSA, nullptr, 0};
      return {};
  }
  return Error::usage("unknown signature mechanism");
}

}  // namespace

Result<api::Bytes> sign(Session& s, CK_OBJECT_HANDLE key, SignMechanism sm,
                        std::span<const std::uint8_t> data) {
  Mech mech;
  api::Bytes digest;
  HSM_TRY(sign_mechanism(sm, data, mech, digest));
  std::span<const std::uint8_t> input = digest.empty() ? data : digest;
  auto* fn = s.fn();
  HSM_TRY(check(fn->C_SignInit(s.handle(), &mech.m, key), "C_SignInit"));
  CK_ULONG n = 0;
  auto* in = const_cast<std::uint8_t*>(input.data());
  // The length first: C_Sign with no buffer keeps the operation active.
  HSM_TRY(check(fn->C_Sign(s.handle(), in, input.size(), nullptr, &n), "C_Sign"));
  api::Bytes sig(n);
  HSM_TRY(check(fn->C_Sign(s.handle(), in, input.size(), sig.data(), &n), "C_Sign"));
  sig.resize(n);
  return sig;
}

Result<bool> verify(Session& s, CK_OBJECT_HANDLE key, SignMechanism sm,
                    std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature) {
  Mech mech;
  api::Bytes digest;
  HSM_TRY(sign_mechanism(sm, data, mech, digest));
  std::span<const std::uint8_t> input = digest.empty() ? data : digest;
  auto* fn = s.fn();
  HSM_TRY(check(fn->C_VerifyInit(s.handle(), &mech.m, key), "C_VerifyInit"));
  const CK_RV rv = fn->C_Verify(s.handle(), const_cast<std::uint8_t*>(input.data()), input.size(),
                                const_cast<std::uint8_t*>(signature.data()), signature.size());
  if (rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE) return false;
  HSM_TRY(check(rv, "C_Verify"));
  return true;
}

namespace {

Result<CK_GCM_PARAMS> gcm_params(std::span<const std::uint8_t> iv,
                                 std::span<const std::uint8_t> aad) {
  if (iv.size() != kGcmIvBytes)
    return Error::usage("AES-GCM takes a " + std::to_string(kGcmIvBytes) + "-byte IV, not " +
                        std::to_string(iv.size()));
  CK_GCM_PARAMS p{};
  p.pIv = const_cast<std::uint8_t*>(iv.data());
  p.ulIvLen = iv.size();
  p.ulIvBits = iv.size() * 8;
  p.pAAD = const_cast<std::uint8_t*>(aad.data());
  p.ulAADLen = aad.size();
  p.ulTagBits = kGcmTagBytes * 8;
  return p;
}

}  // namespace

Result<api::Bytes> gcm_encrypt(Session& s, CK_OBJECT_HANDLE key, std::span<const std::uint8_t> iv,
                               std::span<const std::uint8_t> aad,
                               std::span<const std::uint8_t> plaintext) {
  HSM_TRY_ASSIGN(CK_GCM_PARAMS p, gcm_params(iv, aad));
  CK_MECHANISM m{CKM_AES_GCM, &p, sizeof p};
  auto* fn = s.fn();
  HSM_TRY(check(fn->C_EncryptInit(s.handle(), &m, key), "C_EncryptInit", "AES-GCM"));
  api::Bytes out(plaintext.size() + kGcmTagBytes);
  CK_ULONG n = out.size();
  HSM_TRY(check(fn->C_Encrypt(s.handle(), const_cast<std::uint8_t*>(plaintext.data()),
                              plaintext.size(), out.data(), &n),
                "C_Encrypt", "AES-GCM"));
  out.resize(n);
  return out;
}

Result<api::SecretBytes> gcm_decrypt(Session& s, CK_OBJECT_HANDLE key,
                                     std::span<const std::uint8_t> iv,
                                     std::span<const std::uint8_t> aad,
                                     std::span<const std::uint8_t> ciphertext_and_tag) {
  if (ciphertext_and_tag.size() < kGcmTagBytes)
    return Error::integrity("AES-GCM data of " + std::to_string(ciphertext_and_tag.size()) +
                            " bytes is shorter than its tag");
  HSM_TRY_ASSIGN(CK_GCM_PARAMS p, gcm_params(iv, aad));
  CK_MECHANISM m{CKM_AES_GCM, &p, sizeof p};
  auto* fn = s.fn();
  HSM_TRY(check(fn->C_DecryptInit(s.handle(), &m, key), "C_DecryptInit", "AES-GCM"));
  // Room for the whole input: some tokens check the buffer against it.
  api::SecretBytes out(ciphertext_and_tag.size());
  CK_ULONG n = out.size();
  HSM_TRY(check(fn->C_Decrypt(s.handle(), const_cast<std::uint8_t*>(ciphertext_and_tag.data()),
                              ciphertext_and_tag.size(), out.data(), &n),
                "C_Decrypt", "AES-GCM", CallKind::opens_sealed_data));
  out.resize(n);
  return out;
}

Result<CK_OBJECT_HANDLE> create_domain_kek(Session& s, const api::SecretBytes& value,
                                           std::span<const std::uint8_t> label,
                                           std::span<const std::uint8_t> id) {
  if (value.size() != 32)
    return Error::usage("a domain key-encryption key is AES-256: 32 bytes, not " +
                        std::to_string(value.size()));
  ObjectFilter f;
  f.cls = CKO_SECRET_KEY;
  f.label = api::Bytes(label.begin(), label.end());
  f.id = api::Bytes(id.begin(), id.end());
  HSM_TRY_ASSIGN(auto existing, find_objects(s, f, kFindBatch, 1));
  if (!existing.empty())
    return Error::usage(s.token().name() + " already holds a key labelled '" + printable(label) +
                            "' with id " + hex(id),
                        "the token is already in this domain (T4); nothing to add");
  Template t;
  t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_AES);
  t.add_secret(CKA_VALUE, value);
  t.add_bool(CKA_TOKEN, true).add_bool(CKA_PRIVATE, true).add_bool(CKA_MODIFIABLE, false);
  t.add_bool(CKA_SENSITIVE, true).add_bool(CKA_EXTRACTABLE, false);
  t.add_bool(CKA_ENCRYPT, false).add_bool(CKA_DECRYPT, false);
  t.add_bool(CKA_SIGN, false).add_bool(CKA_VERIFY, false);
  t.add_bool(CKA_WRAP, true).add_bool(CKA_UNWRAP, true).add_bool(CKA_DERIVE, false);
  t.add_bytes(CKA_LABEL, label).add_bytes(CKA_ID, id);
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  HSM_TRY(check(s.fn()->C_CreateObject(s.handle(), t.data(), t.size(), &h), "C_CreateObject",
                "domain key-encryption key"));
  return h;
}

Result<CK_OBJECT_HANDLE> find_domain_kek(Session& s, std::span<const std::uint8_t> label,
                                         std::span<const std::uint8_t> id) {
  ObjectFilter f;
  f.cls = CKO_SECRET_KEY;
  f.label = api::Bytes(label.begin(), label.end());
  f.id = api::Bytes(id.begin(), id.end());
  HSM_TRY_ASSIGN(auto found, find_objects(s, f, kFindBatch, 2));
  const std::string what =
      "domain key-encryption key '" + printable(label) + "' (id " + hex(id) + ")";
  if (found.empty())
    return Error::usage(s.token().name() + " holds no " + what + ": it is not in this domain (T4)",
                        "add the domain to the token first");
  if (found.size() > 1)
    return Error::usage(s.token().name() + " holds several keys named as the " + what,
                        "delete the extra copies so that one remains");
  HSM_TRY_ASSIGN(auto o, read_object(s, found.front()));
  const bool ok = o.key_type == CKK_AES &&
                  (!o.value_len || *o.value_len == 0 || *o.value_len == 32) && o.is(CKA_WRAP) &&
                  o.is(CKA_UNWRAP) && !o.flag(CKA_EXTRACTABLE).value_or(true) &&
                  !o.is(CKA_ENCRYPT) && !o.is(CKA_DECRYPT);
  if (!ok)
    return Error::integrity("the " + what + " on " + s.token().name() +
                            " is not an AES-256, non-extractable, wrap/unwrap-only key");
  return found.front();
}

}  // namespace hsm::p11
