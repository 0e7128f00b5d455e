// An outside check with OpenSSL: a signature made on the token verifies
// against the public key read from the token (DER SubjectPublicKeyInfo).
#pragma once

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <span>
#include <string>

#include "plugins/api/types.hpp"

namespace hsm::p11::test {

enum class OsslSig { rsa_pkcs1_sha256, rsa_pss_sha256, ecdsa_sha256_der, ed25519 };

// 1 verified, 0 did not verify, -1 OpenSSL could not even try (bad key).
inline int openssl_verify(const api::Bytes& spki, OsslSig kind, std::span<const std::uint8_t> data,
                          std::span<const std::uint8_t> sig) {
  const unsigned char* p = spki.data();
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
  if (key == nullptr) return -1;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = kind == OsslSig::ed25519 ? nullptr : EVP_sha256();
  int rc = -1;
  if (EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, key) == 1) {
    if (kind == OsslSig::rsa_pss_sha256) {
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256());
    }
    rc = EVP_DigestVerify(ctx, sig.data(), sig.size(), data.data(), data.size()) == 1 ? 1 : 0;
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return rc;
}

}  // namespace hsm::p11::test
