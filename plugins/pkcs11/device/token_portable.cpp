#include "plugins/pkcs11/device/token_portable.hpp"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

#include "plugins/pkcs11/device/token_objects.hpp"
#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/keys.hpp"
#include "plugins/pkcs11/token/template.hpp"
#include "plugins/pkcs11/token/transport.hpp"

namespace hsm::p11::plugin {

using api::Bytes;
using api::Error;
using api::Result;
namespace cka = portable::cka;

void SessionObjects::clear() {
  for (CK_OBJECT_HANDLE h : handles_) (void)s_->fn()->C_DestroyObject(s_->handle(), h);
  handles_.clear();
}

namespace {

// S or W: AES-256, session, private, sensitive; one job each.
void key_template(Template& t, bool seal, bool extractable) {
  t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_AES);
  t.add_bool(CKA_TOKEN, false).add_bool(CKA_PRIVATE, true);
  t.add_bool(CKA_SENSITIVE, true).add_bool(CKA_EXTRACTABLE, extractable);
  t.add_bool(CKA_ENCRYPT, seal).add_bool(CKA_DECRYPT, seal);
  t.add_bool(CKA_WRAP, !seal).add_bool(CKA_UNWRAP, !seal);
  t.add_bool(CKA_SIGN, false).add_bool(CKA_VERIFY, false).add_bool(CKA_DERIVE, false);
}

Result<CK_OBJECT_HANDLE> generate_one(Session& s, bool seal) {
  Template t;
  key_template(t, seal, true);
  t.add_ulong(CKA_VALUE_LEN, 32);
  CK_MECHANISM m{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  HSM_TRY(check(s.fn()->C_GenerateKey(s.handle(), &m, t.data(), t.size(), &h), "C_GenerateKey",
                seal ? "archive seal key" : "archive wrap key"));
  return h;
}

constexpr std::uint8_t kNotNull = 0;  // a non-null pointer for empty input

template <class T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Bn = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;

Bytes bn_bytes(const BIGNUM* b) {
  Bytes out(static_cast<std::size_t>(BN_num_bytes(b)));
  BN_bn2bin(b, out.data());
  return out;
}

Bytes octet_string(const Bytes& v) {
  ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
  Bytes out;
  if (os && ASN1_OCTET_STRING_set(os, v.data(), static_cast<int>(v.size())) == 1) {
    const int n = i2d_ASN1_OCTET_STRING(os, nullptr);
    if (n > 0) {
      out.resize(static_cast<std::size_t>(n));
      unsigned char* p = out.data();
      i2d_ASN1_OCTET_STRING(os, &p);
    }
  }
  ASN1_OCTET_STRING_free(os);
  return out;
}

// The key components of a SubjectPublicKeyInfo for C_CreateObject.
api::Status add_public_components(Template& t, const Bytes& spki, const portable::Record& r) {
  const unsigned char* p = spki.data();
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
  if (!key) return Error::integrity("a public key in the record does not parse (SubjectPublicKeyInfo)");
  const int id = EVP_PKEY_get_base_id(key.get());
  if (id == EVP_PKEY_RSA) {
    BIGNUM *n = nullptr, *e = nullptr;
    if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
      BN_free(n);
      BN_free(e);
      return Error::other("reading an RSA public key failed (OpenSSL)");
    }
    Bn bn(n), be(e);
    t.add_bytes(CKA_MODULUS, bn_bytes(n)).add_bytes(CKA_PUBLIC_EXPONENT, bn_bytes(e));
    return {};
  }
  const portable::Attribute* params = r.find(cka::kEcParams);
  if (!params) return Error::integrity("an EC public key record carries no CKA_EC_PARAMS");
  Bytes point;
  if (id == EVP_PKEY_ED25519) {
    std::size_t n = 0;
    EVP_PKEY_get_raw_public_key(key.get(), nullptr, &n);
    point.resize(n);
    if (EVP_PKEY_get_raw_public_key(key.get(), point.data(), &n) != 1)
      return Error::other("reading an Ed25519 public key failed (OpenSSL)");
  } else if (id == EVP_PKEY_EC) {
    std::size_t n = 0;
    EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0, &n);
    point.resize(n);
    if (EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(), n, &n) != 1)
      return Error::other("reading an EC public key failed (OpenSSL)");
  } else {
    return Error::usage("a public key of this type cannot be created on a token by hsm-migrate");
  }
  t.add_bytes(CKA_EC_PARAMS, params->value).add_bytes(CKA_EC_POINT, octet_string(point));
  return {};
}

}  // namespace

Result<TokenKeys> generate_keys(Session& s, SessionObjects& keep) {
  TokenKeys k;
  HSM_TRY_ASSIGN(k.seal, generate_one(s, true));
  keep.add(k.seal);
  HSM_TRY_ASSIGN(k.wrap, generate_one(s, false));
  keep.add(k.wrap);
  return k;
}

Result<portable::WrappedKeys> wrap_keys(Session& s, CK_OBJECT_HANDLE kek, const TokenKeys& k) {
  portable::WrappedKeys w;
  HSM_TRY_ASSIGN(w.seal, wrap_key(s, kek, k.seal, 64));
  HSM_TRY_ASSIGN(w.wrap, wrap_key(s, kek, k.wrap, 64));
  if (w.seal.size() != portable::kKwpOf32 || w.wrap.size() != portable::kKwpOf32)
    return Error::other("the token's RFC 5649 wrap of an AES-256 key is not 40 bytes");
  return w;
}

Result<TokenKeys> unwrap_keys(Session& s, CK_OBJECT_HANDLE kek, const portable::WrappedKeys& w, SessionObjects& keep) {
  TokenKeys k;
  for (auto [dst, blob, seal] : {std::tuple{&k.seal, &w.seal, true}, std::tuple{&k.wrap, &w.wrap, false}}) {
    Template t;
    key_template(t, seal, false);
    auto h = unwrap_with_template(s, kek, *blob, t);
    if (!h.ok()) {
      if (h.error().kind == api::ErrorKind::integrity)
        return Error::integrity("the portable keys do not unwrap under the domain key on " + s.token().name() +
                                ": the archive or batch is not of this domain, or was tampered with");
      return h.error();
    }
    *dst = keep.add(*h);
  }
  return k;
}

Result<std::string> domain_tag(Session& s, CK_OBJECT_HANDLE kek, const api::ArchiveId& id) {
  // The tag input is public (SHA-256 of the archive id): a clear import of it
  // reveals nothing; its wrap under the KEK is what names the domain.
  const api::SecretBytes value = [&] {
    const Bytes in = portable::tag_input(id);
    return api::SecretBytes(in.begin(), in.end());
  }();
  Template t;
  t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_AES).add_secret(CKA_VALUE, value);
  t.add_bool(CKA_TOKEN, false).add_bool(CKA_PRIVATE, true).add_bool(CKA_SENSITIVE, false);
  t.add_bool(CKA_EXTRACTABLE, true);
  for (CK_ATTRIBUTE_TYPE a : {CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE})
    t.add_bool(a, false);
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  HSM_TRY(check(s.fn()->C_CreateObject(s.handle(), t.data(), t.size(), &h), "C_CreateObject", "domain tag input"));
  SessionObjects keep(s);
  keep.add(h);
  HSM_TRY_ASSIGN(Bytes wrapped, wrap_key(s, kek, h, 64));
  return portable::tag_hex(wrapped);
}

Result<Bytes> seal(Session& s, CK_OBJECT_HANDLE key, std::span<const std::uint8_t> aad,
                   std::span<const std::uint8_t> plain) {
  HSM_TRY_ASSIGN(Bytes out, s.random(portable::kNonceBytes));
  if (plain.empty()) plain = std::span(&kNotNull, 0);
  HSM_TRY_ASSIGN(Bytes ct, gcm_encrypt(s, key, out, aad, plain));
  out.insert(out.end(), ct.begin(), ct.end());
  return out;
}

Result<Bytes> open(Session& s, CK_OBJECT_HANDLE key, std::span<const std::uint8_t> aad,
                   std::span<const std::uint8_t> sealed) {
  if (sealed.size() < portable::kNonceBytes + portable::kTagBytes)
    return Error::integrity("a portable blob is shorter than its nonce and tag");
  auto plain = gcm_decrypt(s, key, sealed.first(portable::kNonceBytes), aad, sealed.subspan(portable::kNonceBytes));
  if (!plain.ok()) {
    if (plain.error().kind == api::ErrorKind::integrity)
      return Error::integrity("a portable blob does not open on " + s.token().name() +
                              ": not of this archive or batch, moved, swapped or tampered with");
    return plain.error();
  }
  return Bytes(plain->begin(), plain->end());
}

Result<Bytes> archive_mac(Session& s, CK_OBJECT_HANDLE key, const api::ArchiveFinish& f) {
  return seal(s, key, api::archive_mac_message(f), {});
}

api::Status check_archive_mac(Session& s, CK_OBJECT_HANDLE key, const api::ArchiveFinish& f, const Bytes& mac) {
  if (mac.size() != portable::kNonceBytes + portable::kTagBytes)
    return Error::integrity("the archive MAC is missing or has the wrong size");
  auto ok = open(s, key, api::archive_mac_message(f), mac);
  if (!ok.ok()) {
    if (ok.error().kind != api::ErrorKind::integrity) return ok.error();
    return Error::integrity("the archive MAC does not verify under the domain: its header, blob count or contents "
                            "were changed after the backup (" + std::to_string(f.blob_count) + " blob(s) claimed)");
  }
  return {};
}

Result<portable::Record> record_of(Session& s, const ObjectInfo& o, CK_OBJECT_HANDLE wrap_key_handle,
                                   std::uint64_t position, const Bytes& spki, std::string fingerprint) {
  portable::Record r;
  r.position = position;
  r.fingerprint = std::move(fingerprint);
  if (o.cls == CKO_SECRET_KEY || o.cls == CKO_PRIVATE_KEY) {
    HSM_TRY_ASSIGN(r.wrapped_key, wrap_key(s, wrap_key_handle, o.handle, o.cls == CKO_SECRET_KEY ? 64 : 4096));
  }
  auto& a = r.attributes;
  a.push_back(portable::ulong_attribute(cka::kClass, o.cls));
  if (o.key_type) a.push_back(portable::ulong_attribute(cka::kKeyType, *o.key_type));
  a.push_back(portable::bytes_attribute(cka::kLabel, o.label));
  a.push_back(portable::bytes_attribute(cka::kId, o.id));
  for (const auto& [type, value] : o.flags) a.push_back(portable::bool_attribute(static_cast<std::uint32_t>(type), value));
  if (o.cls == CKO_SECRET_KEY) {
    // SoftHSM reads CKA_VALUE_LEN 0 after an unwrap: the wrap says the size.
    std::uint64_t len = o.value_len.value_or(0);
    if (len == 0 && r.wrapped_key.size() >= 16) len = r.wrapped_key.size() - 8;
    if (len > 0) a.push_back(portable::ulong_attribute(cka::kValueLen, len));
  }
  if (o.modulus_bits) a.push_back(portable::ulong_attribute(cka::kModulusBits, *o.modulus_bits));
  if (!o.ec_params.empty()) a.push_back(portable::bytes_attribute(cka::kEcParams, o.ec_params));
  if (o.key_gen_mechanism) a.push_back(portable::ulong_attribute(cka::kKeyGenMechanism, *o.key_gen_mechanism));
  if (!spki.empty()) a.push_back(portable::bytes_attribute(cka::kPublicKeyInfo, spki));
  return r;
}

ObjectInfo carried_of(const portable::Record& r) {
  ObjectInfo c;
  c.cls = r.ulong(cka::kClass).value_or(CKO_DATA);
  if (auto k = r.ulong(cka::kKeyType)) c.key_type = *k;
  if (const auto* l = r.find(cka::kLabel)) c.label = l->value;
  if (const auto* i = r.find(cka::kId)) c.id = i->value;
  if (auto v = r.ulong(cka::kValueLen)) c.value_len = *v;
  if (auto v = r.ulong(cka::kModulusBits)) c.modulus_bits = *v;
  if (const auto* p = r.find(cka::kEcParams)) c.ec_params = p->value;
  for (CK_ATTRIBUTE_TYPE t : kBooleanAttributes)
    if (auto v = r.flag(static_cast<std::uint32_t>(t))) c.flags.emplace_back(t, *v);
  return c;
}

Result<CK_OBJECT_HANDLE> restore_record(Session& s, const portable::Record& r, CK_OBJECT_HANDLE wrap_key_handle,
                                        bool token_object) {
  const ObjectInfo c = carried_of(r);
  if (c.cls == CKO_SECRET_KEY || c.cls == CKO_PRIVATE_KEY)
    return unwrap_key(s, wrap_key_handle, r.wrapped_key, c, token_object);
  if (c.cls != CKO_PUBLIC_KEY || !c.key_type)
    return Error::usage("the portable form restores keys only");
  const portable::Attribute* spki = r.find(cka::kPublicKeyInfo);
  if (!spki) return Error::integrity("a public key record carries no CKA_PUBLIC_KEY_INFO");
  // T5: every attribute of the class set explicitly; a flag not carried is false.
  Template t;
  t.add_ulong(CKA_CLASS, CKO_PUBLIC_KEY).add_ulong(CKA_KEY_TYPE, *c.key_type);
  t.add_bool(CKA_TOKEN, token_object).add_bool(CKA_PRIVATE, c.is(CKA_PRIVATE));
  t.add_bytes(CKA_LABEL, c.label).add_bytes(CKA_ID, c.id);
  for (CK_ATTRIBUTE_TYPE a : {CKA_VERIFY, CKA_VERIFY_RECOVER, CKA_ENCRYPT, CKA_WRAP, CKA_DERIVE}) t.add_bool(a, c.is(a));
  for (CK_ATTRIBUTE_TYPE a : {CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE})
    if (auto v = c.flag(a)) t.add_bool(a, *v);
  HSM_TRY(add_public_components(t, spki->value, r));
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  const CK_RV rv = s.fn()->C_CreateObject(s.handle(), t.data(), t.size(), &h);
  if (rv != CKR_OK) {
    Error e = ck_error(rv, "C_CreateObject", "public key");
    if (token_refused(e)) e.message += " (template: " + t.names() + ")";  // T5: named
    return e;
  }
  return h;
}

}  // namespace hsm::p11::plugin
