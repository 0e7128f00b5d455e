#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "plugins/luna/crypto/kwp.hpp"
#include "plugins/luna/crypto/openssl_ptr.hpp"

namespace hsm::luna::crypto {

using api::Bytes;
using api::Error;
using api::Result;
using api::SecretBytes;

namespace {

using Ctx = ossl::Cctx;

Error failed(std::string what) {
  ERR_clear_error();
  return Error::other("OpenSSL: " + what + " failed");
}

constexpr std::size_t kGcmNonce = 12, kGcmTag = 16;

}  // namespace

Result<Bytes> kwp_wrap(const SecretBytes& kek, std::span<const std::uint8_t> key) {
  if (kek.size() != 32) return Error::usage("a KWP wrapping key is AES-256 (32 bytes)");
  if (key.empty()) return Error::usage("KWP wraps at least one byte");
  Ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return failed("KWP context");
  // OpenSSL refuses the wrap modes unless asked to allow them.
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_wrap_pad(), nullptr, kek.data(), nullptr) != 1)
    return failed("KWP init");
  Bytes out(key.size() + 16);
  int len = 0, fin = 0;
  if (EVP_EncryptUpdate(ctx.get(), out.data(), &len, key.data(), static_cast<int>(key.size())) !=
          1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1)
    return failed("KWP wrap");
  out.resize(static_cast<std::size_t>(len + fin));
  return out;
}

Result<SecretBytes> kwp_unwrap(const SecretBytes& kek, std::span<const std::uint8_t> blob) {
  if (kek.size() != 32) return Error::usage("a KWP wrapping key is AES-256 (32 bytes)");
  if (blob.size() < 16 || blob.size() % 8 != 0)
    return Error::integrity("a KWP blob of " + std::to_string(blob.size()) +
                            " bytes is not RFC 5649 output");
  Ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return failed("KWP context");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_wrap_pad(), nullptr, kek.data(), nullptr) != 1)
    return failed("KWP init");
  SecretBytes out(blob.size());
  int len = 0, fin = 0;
  if (EVP_DecryptUpdate(ctx.get(), out.data(), &len, blob.data(), static_cast<int>(blob.size())) !=
          1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    ERR_clear_error();
    return Error::integrity("a KWP blob does not unwrap: damaged, or wrapped under another key");
  }
  out.resize(static_cast<std::size_t>(len + fin));
  return out;
}

Result<Bytes> gcm_seal(const SecretBytes& key, std::span<const std::uint8_t> nonce,
                       std::span<const std::uint8_t> aad, std::span<const std::uint8_t> pt) {
  if (key.size() != 32 || nonce.size() != kGcmNonce)
    return Error::usage("AES-256-GCM takes a 32-byte key and a 12-byte nonce");
  Ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1)
    return failed("GCM init");
  int len = 0;
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1)
    return failed("GCM associated data");
  Bytes out(pt.size() + kGcmTag);
  int n = 0, fin = 0;
  if ((!pt.empty() &&
       EVP_EncryptUpdate(ctx.get(), out.data(), &n, pt.data(), static_cast<int>(pt.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &fin) != 1)
    return failed("GCM seal");
  const std::size_t body = static_cast<std::size_t>(n + fin);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTag, out.data() + body) != 1)
    return failed("GCM tag");
  out.resize(body + kGcmTag);
  return out;
}

Result<SecretBytes> gcm_open(const SecretBytes& key, std::span<const std::uint8_t> nonce,
                             std::span<const std::uint8_t> aad, std::span<const std::uint8_t> ct) {
  if (key.size() != 32 || nonce.size() != kGcmNonce)
    return Error::usage("AES-256-GCM takes a 32-byte key and a 12-byte nonce");
  if (ct.size() < kGcmTag) return Error::integrity("AES-GCM data shorter than its tag");
  Ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1)
    return failed("GCM init");
  int len = 0;
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1)
    return failed("GCM associated data");
  const std::size_t body = ct.size() - kGcmTag;
  SecretBytes out(body + 1);  // never a zero-sized buffer
  int n = 0, fin = 0;
  if (body > 0 &&
      EVP_DecryptUpdate(ctx.get(), out.data(), &n, ct.data(), static_cast<int>(body)) != 1)
    return failed("GCM open");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTag,
                          const_cast<std::uint8_t*>(ct.data() + body)) != 1)
    return failed("GCM tag");
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + n, &fin) != 1) {
    ERR_clear_error();
    return Error::integrity(
        "AES-GCM authentication failed: wrong key, other associated data, or damage");
  }
  out.resize(static_cast<std::size_t>(n + fin));
  return out;
}

namespace {

using ossl::Pkey;

Result<Pkey> parse_private(const SecretBytes& der) {
  const unsigned char* p = der.data();
  EVP_PKEY* k = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  if (!k) {
    ERR_clear_error();
    return Error::integrity("a private key does not parse (PKCS#8 or the model's DER)");
  }
  return Pkey(k);
}

}  // namespace

Result<SecretBytes> private_to_pkcs8(const SecretBytes& der) {
  HSM_TRY_ASSIGN(Pkey k, parse_private(der));
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(k.get());
  if (!info) return failed("PKCS#8 encoding");
  unsigned char* buf = nullptr;
  const int n = i2d_PKCS8_PRIV_KEY_INFO(info, &buf);
  PKCS8_PRIV_KEY_INFO_free(info);
  if (n <= 0) return failed("PKCS#8 encoding");
  SecretBytes out(buf, buf + n);
  OPENSSL_clear_free(buf, static_cast<std::size_t>(n));
  return out;
}

Result<SecretBytes> private_to_model(const SecretBytes& der) {
  HSM_TRY_ASSIGN(Pkey k, parse_private(der));
  unsigned char* buf = nullptr;
  const int n = i2d_PrivateKey(k.get(), &buf);
  if (n <= 0) return failed("private key encoding");
  SecretBytes out(buf, buf + n);
  OPENSSL_clear_free(buf, static_cast<std::size_t>(n));
  return out;
}

}  // namespace hsm::luna::crypto
