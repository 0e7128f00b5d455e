#include "plugins/pkcs11/token/public_key.hpp"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <memory>

#include "plugins/pkcs11/token/curves.hpp"
#include "plugins/pkcs11/token/error.hpp"

namespace hsm::p11 {

using api::Error;
using api::Result;

namespace {

template <class T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using Bn = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, Free<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Free<OSSL_PARAM, OSSL_PARAM_free>>;
using Octets = std::unique_ptr<ASN1_OCTET_STRING, Free<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;
using Sig = std::unique_ptr<ECDSA_SIG, Free<ECDSA_SIG, ECDSA_SIG_free>>;

Result<api::Bytes> attribute(Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
                             const char* name) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  HSM_TRY(check(s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1), "C_GetAttributeValue", name));
  api::Bytes v(a.ulValueLen);
  a.pValue = v.data();
  HSM_TRY(check(s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1), "C_GetAttributeValue", name));
  v.resize(a.ulValueLen);
  return v;
}

Result<api::Bytes> spki(EVP_PKEY* key) {
  const int n = i2d_PUBKEY(key, nullptr);
  if (n <= 0) return Error::other("encoding the public key failed (OpenSSL)");
  api::Bytes out(static_cast<std::size_t>(n));
  unsigned char* p = out.data();
  i2d_PUBKEY(key, &p);
  return out;
}

Result<api::Bytes> from_params(const char* type, OSSL_PARAM_BLD* bld) {
  Params params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return Error::other(std::string("the token's ") + type +
                        " public key is not a valid key (OpenSSL)");
  Pkey key(raw);
  return spki(key.get());
}

// CKA_EC_POINT is a DER OCTET STRING holding the point (PKCS#11 2.40); some
// tokens give the bare point.
api::Bytes unwrap_point(const api::Bytes& v) {
  const unsigned char* p = v.data();
  Octets os(d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(v.size())));
  if (os && p == v.data() + v.size()) return api::Bytes(os->data, os->data + os->length);
  return v;
}

}  // namespace

Result<api::Bytes> public_key_der(Session& s, CK_OBJECT_HANDLE h) {
  CK_ULONG key_type = 0;
  CK_ATTRIBUTE a{CKA_KEY_TYPE, &key_type, sizeof key_type};
  HSM_TRY(check(s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1), "C_GetAttributeValue",
                "CKA_KEY_TYPE"));
  if (key_type == CKK_RSA) {
    HSM_TRY_ASSIGN(auto n, attribute(s, h, CKA_MODULUS, "CKA_MODULUS"));
    HSM_TRY_ASSIGN(auto e, attribute(s, h, CKA_PUBLIC_EXPONENT, "CKA_PUBLIC_EXPONENT"));
    Bn bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
    Bn bn_e(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
    ParamBld bld(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !bld ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
      return Error::other("building the RSA public key failed (OpenSSL)");
    return from_params("RSA", bld.get());
  }
  if (key_type != CKK_EC && key_type != CKK_EC_EDWARDS)
    return Error::usage("public_key_der reads RSA, EC and Edwards public keys");
  HSM_TRY_ASSIGN(auto params, attribute(s, h, CKA_EC_PARAMS, "CKA_EC_PARAMS"));
  HSM_TRY_ASSIGN(auto point_attr, attribute(s, h, CKA_EC_POINT, "CKA_EC_POINT"));
  const Curve* curve = curve_by_params(params);
  if (curve == nullptr)
    return Error::usage("the token's key is on a curve this tool does not know");
  const api::Bytes point = unwrap_point(point_attr);
  if (curve->edwards) {
    const int type = curve->name == "Ed25519" ? EVP_PKEY_ED25519 : EVP_PKEY_ED448;
    Pkey key(EVP_PKEY_new_raw_public_key(type, nullptr, point.data(), point.size()));
    if (!key) return Error::other("the token's Edwards public key is not a valid key (OpenSSL)");
    return spki(key.get());
  }
  ParamBld bld(OSSL_PARAM_BLD_new());
  const std::string group(curve->ossl);
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1)
    return Error::other("building the EC public key failed (OpenSSL)");
  return from_params("EC", bld.get());
}

Result<CK_OBJECT_HANDLE> find_public_key(Session& s, const ObjectInfo& private_key) {
  ObjectFilter f;
  f.cls = CKO_PUBLIC_KEY;
  f.key_type = private_key.key_type;
  f.id = private_key.id;
  HSM_TRY_ASSIGN(auto found, find_objects(s, f, kFindBatch, 2));
  if (found.size() != 1)
    return Error::usage(std::string(found.empty() ? "no" : "more than one") +
                        " public key with id " + hex(private_key.id) + " on " + s.token().name());
  return found.front();
}

Result<api::Bytes> ecdsa_signature_der(std::span<const std::uint8_t> raw) {
  if (raw.empty() || raw.size() % 2 != 0)
    return Error::usage("an ECDSA signature r||s has an even, non-zero length, not " +
                        std::to_string(raw.size()));
  const int half = static_cast<int>(raw.size() / 2);
  Sig sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw.data(), half, nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + half, half, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Error::other("building the ECDSA signature failed (OpenSSL)");
  }
  const int n = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (n <= 0) return Error::other("encoding the ECDSA signature failed (OpenSSL)");
  api::Bytes out(static_cast<std::size_t>(n));
  unsigned char* p = out.data();
  i2d_ECDSA_SIG(sig.get(), &p);
  return out;
}

}  // namespace hsm::p11
