// A token's objects and keys: listing with the real attributes and
// fingerprints, key generation on the token, and key use for drills and
// proofs (sign, verify, encrypt, decrypt). Signatures and ciphertexts take
// the emulated Luna's forms (RSA-PSS with SHA-256; ECDSA with the curve's
// digest, DER; Ed25519; AES-GCM as iv || ciphertext || tag), so a key moved
// between the families is proven by signing on one and verifying on the other.
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/pkcs11/device/token_objects.hpp"
#include "plugins/pkcs11/device/token_setup.hpp"
#include "plugins/pkcs11/device/token_verbs.hpp"
#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/keys.hpp"
#include "plugins/pkcs11/token/public_key.hpp"

namespace hsm::p11::plugin {

using api::Bytes;
using api::Error;
using api::Result;
using api::Status;

namespace {

// Describes with the fingerprint (under the primary domain's KEK for secret keys).
Result<api::ObjectDesc> full_desc(Session& s, const ObjectInfo& o, CK_OBJECT_HANDLE kek, const PublicKeyIndex* pubs) {
  api::ObjectDesc d = describe_object(o);
  Bytes spki;
  if (o.cls == CKO_PRIVATE_KEY || o.cls == CKO_PUBLIC_KEY) {
    auto sp = spki_of(s, o, pubs);
    if (sp.ok()) spki = std::move(*sp);
  }
  int bits = 0;
  HSM_TRY_ASSIGN(d.fingerprint, fingerprint_of(s, o, kek, spki, &bits));
  if (d.bits == 0 && bits > 0) d.bits = bits;  // SoftHSM: CKA_VALUE_LEN 0 after an unwrap
  return d;
}

CK_OBJECT_HANDLE listing_kek(TokenContext& ctx, Session& s) {
  if (!ctx.logged_in()) return CK_INVALID_HANDLE;
  auto k = primary_kek(s, ctx.reg());
  return k.ok() ? *k : CK_INVALID_HANDLE;
}

Result<ObjectInfo> key_object(Session& s, std::uint64_t handle) {
  auto o = read_object(s, static_cast<CK_OBJECT_HANDLE>(handle));
  if (!o.ok() || is_own_object(*o))
    return Error::usage("no object #" + std::to_string(handle) + " on " + s.token().name(),
                        "see `hsm-migrate object list` (token handles hold for one command)");
  return o;
}

const EVP_MD* ec_digest(const ObjectInfo& o) {
  const int bits = o.bits();
  return bits > 384 ? EVP_sha512() : bits > 256 ? EVP_sha384() : EVP_sha256();
}

}  // namespace

Status for_each_object(TokenContext& ctx, const std::function<bool(const api::ObjectDesc&)>& visit) {
  HSM_TRY_ASSIGN(Session * s, ctx.session());
  const CK_OBJECT_HANDLE kek = listing_kek(ctx, *s);
  HSM_TRY_ASSIGN(auto handles, p11::find_objects(*s, token_objects()));
  HSM_TRY_ASSIGN(PublicKeyIndex pubs, index_public_keys(*s));
  for (CK_OBJECT_HANDLE h : handles) {
    HSM_TRY_ASSIGN(ObjectInfo o, read_object(*s, h));
    if (is_own_object(o)) continue;
    HSM_TRY_ASSIGN(api::ObjectDesc d, full_desc(*s, o, kek, &pubs));
    if (!visit(d)) break;
  }
  return {};
}

Result<std::vector<api::ObjectDesc>> find_objects(TokenContext& ctx, std::string_view selector) {
  HSM_TRY_ASSIGN(Session * s, ctx.session());
  const CK_OBJECT_HANDLE kek = listing_kek(ctx, *s);
  HSM_TRY_ASSIGN(auto handles, select_objects(*s, selector));
  std::vector<api::ObjectDesc> out;
  for (CK_OBJECT_HANDLE h : handles) {
    HSM_TRY_ASSIGN(ObjectInfo o, read_object(*s, h));
    HSM_TRY_ASSIGN(api::ObjectDesc d, full_desc(*s, o, kek, nullptr));
    out.push_back(std::move(d));
  }
  return out;
}

Result<api::KeyGenResult> generate_keys(TokenContext& ctx, const api::KeyGenRequest& req) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  if (req.count < 1 || req.count > 100000) return Error::usage("--count must be between 1 and 100000 on a token");
  if (req.mechanism != api::KeygenMechanism::none)
    return Error::usage("--keygen-mechanism is a Luna option (K3/K4); a token generates RSA keys with its own "
                        "CKM_RSA_PKCS_KEY_PAIR_GEN");
  HSM_TRY_ASSIGN(KeyKind kind, parse_key_kind(req.type));
  const std::string base = req.label.empty() ? req.type : req.label;
  if (base.starts_with(kOwnLabelPrefix))
    return Error::usage("labels starting with \"hsm-migrate:\" are hsm-migrate's own on a token");
  api::KeyGenResult result;
  for (int i = 0; i < req.count; ++i) {
    KeySpec spec;
    spec.label = bytes_of(req.count == 1 ? base : base + "-" + std::to_string(i + 1));
    HSM_TRY_ASSIGN(spec.id, s->random(8));
    spec.token = true;
    spec.extractable = req.extractable;
    spec.sensitive = true;
    spec.private_ = true;
    std::vector<CK_OBJECT_HANDLE> made;
    if (kind.algorithm == Algorithm::aes) {
      HSM_TRY_ASSIGN(CK_OBJECT_HANDLE h, generate_secret_key(*s, kind, spec));
      made.push_back(h);
    } else {
      HSM_TRY_ASSIGN(KeyPair kp, generate_key_pair(*s, kind, spec));
      made = {kp.private_key, kp.public_key};
    }
    for (CK_OBJECT_HANDLE h : made) {
      HSM_TRY_ASSIGN(ObjectInfo o, read_object(*s, h));
      HSM_TRY_ASSIGN(api::ObjectDesc d, full_desc(*s, o, listing_kek(ctx, *s), nullptr));
      result.created.push_back(std::move(d));
    }
    if (req.progress) req.progress(static_cast<std::uint64_t>(i) + 1, static_cast<std::uint64_t>(req.count));
  }
  return result;
}

Result<Bytes> sign(TokenContext& ctx, std::uint64_t handle, const Bytes& data) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  HSM_TRY_ASSIGN(ObjectInfo o, key_object(*s, handle));
  if (o.cls != CKO_PRIVATE_KEY) return Error::usage("object #" + std::to_string(handle) + " is not a private key; only private keys sign");
  switch (key_type_of(o)) {
    case api::KeyType::rsa:
      return p11::sign(*s, o.handle, SignMechanism::rsa_pss_sha256, data);
    case api::KeyType::ed25519:
      return p11::sign(*s, o.handle, SignMechanism::eddsa, data);
    case api::KeyType::ec: {
      // The curve's digest on the host (the data is not secret), raw ECDSA on
      // the token, DER as OpenSSL and the emulated Luna write it.
      Bytes digest(EVP_MAX_MD_SIZE);
      unsigned int n = 0;
      if (EVP_Digest(data.data(), data.size(), digest.data(), &n, ec_digest(o), nullptr) != 1)
        return Error::other("hashing the data to sign failed (OpenSSL)");
      digest.resize(n);
      CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
      HSM_TRY(check(s->fn()->C_SignInit(s->handle(), &m, o.handle), "C_SignInit", "ECDSA"));
      CK_ULONG len = 0;
      HSM_TRY(check(s->fn()->C_Sign(s->handle(), digest.data(), digest.size(), nullptr, &len), "C_Sign"));
      Bytes raw(len);
      HSM_TRY(check(s->fn()->C_Sign(s->handle(), digest.data(), digest.size(), raw.data(), &len), "C_Sign"));
      raw.resize(len);
      return ecdsa_signature_der(raw);
    }
    default:
      return Error::usage("a " + std::string(api::to_string(key_type_of(o))) + " key does not sign");
  }
}

Result<bool> verify(TokenContext& ctx, std::uint64_t handle, const Bytes& data, const Bytes& sig) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  HSM_TRY_ASSIGN(ObjectInfo o, key_object(*s, handle));
  // Verification is public: with the key's public half, read from the token.
  HSM_TRY_ASSIGN(Bytes spki, spki_of(*s, o));
  if (spki.empty()) return Error::usage("object #" + std::to_string(handle) + " has no public key on the token to verify with");
  return luna::crypto::verify(key_type_of(o), spki, data, sig);
}

Result<Bytes> encrypt(TokenContext& ctx, std::uint64_t handle, const Bytes& pt) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  HSM_TRY_ASSIGN(ObjectInfo o, key_object(*s, handle));
  if (o.cls != CKO_SECRET_KEY || o.key_type != CKK_AES)
    return Error::usage("key encrypt on a token uses AES keys (AES-GCM); object #" + std::to_string(handle) +
                        " is not one");
  HSM_TRY_ASSIGN(Bytes out, s->random(kGcmIvBytes));
  HSM_TRY_ASSIGN(Bytes ct, gcm_encrypt(*s, o.handle, out, {}, pt));
  out.insert(out.end(), ct.begin(), ct.end());
  return out;
}

Result<Bytes> decrypt(TokenContext& ctx, std::uint64_t handle, const Bytes& ct) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  HSM_TRY_ASSIGN(ObjectInfo o, key_object(*s, handle));
  if (o.cls != CKO_SECRET_KEY || o.key_type != CKK_AES)
    return Error::usage("key decrypt on a token uses AES keys (AES-GCM); object #" + std::to_string(handle) +
                        " is not one");
  if (ct.size() < kGcmIvBytes + kGcmTagBytes) return Error::integrity("the ciphertext is shorter than its IV and tag");
  HSM_TRY_ASSIGN(api::SecretBytes pt, gcm_decrypt(*s, o.handle, std::span(ct).first(kGcmIvBytes), {},
                                                  std::span(ct).subspan(kGcmIvBytes)));
  return Bytes(pt.begin(), pt.end());
}

}  // namespace hsm::p11::plugin
