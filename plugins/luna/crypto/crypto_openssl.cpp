// OpenSSL 3 adapters: keys, signatures, ciphers, HKDF, X.509.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <charconv>
#include <memory>

#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/crypto/openssl_ptr.hpp"

namespace hsm::luna::crypto {

using api::Error;
using api::KeyType;
using api::Status;

namespace {

using ossl::Cctx;
using ossl::Mdctx;
using ossl::Pctx;
using ossl::Pkey;
using ossl::X509Ptr;

Error ossl_error(std::string_view what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "no detail";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Error::other(std::string(what) + ": " + buf);
}

Result<Pkey> load_private(const SecretBytes& der) {
  const unsigned char* p = der.data();
  EVP_PKEY* k = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  if (!k) return ossl_error("cannot load private key");
  return Pkey(k);
}

Result<Pkey> load_public(const Bytes& der) {
  const unsigned char* p = der.data();
  EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (!k) return ossl_error("cannot load public key");
  return Pkey(k);
}

SecretBytes private_der(EVP_PKEY* k) {
  unsigned char* buf = nullptr;
  int n = i2d_PrivateKey(k, &buf);
  if (n <= 0) return {};
  SecretBytes out(buf, buf + n);
  OPENSSL_clear_free(buf, static_cast<size_t>(n));
  return out;
}

Bytes public_der(EVP_PKEY* k) {
  unsigned char* buf = nullptr;
  int n = i2d_PUBKEY(k, &buf);
  if (n <= 0) return {};
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

const EVP_MD* digest_for(EVP_PKEY* k) {
  // Ed25519 signs the message itself (pure EdDSA): no digest.
  if (EVP_PKEY_is_a(k, "ED25519")) return nullptr;
  if (EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_bits(k) > 384) return EVP_sha512();
  if (EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_bits(k) > 256) return EVP_sha384();
  return EVP_sha256();
}

Status set_pss(EVP_PKEY_CTX* pctx, EVP_PKEY* k) {
  if (EVP_PKEY_is_a(k, "RSA")) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)
      return ossl_error("cannot set RSA-PSS");
  }
  return {};
}

}  // namespace

Bytes sha256(const std::uint8_t* data, std::size_t n) {
  Bytes out(32);
  unsigned int len = 0;
  EVP_Digest(data, n, out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::string hex(const std::uint8_t* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 15];
  }
  return s;
}
std::string hex(const Bytes& b) {
  return hex(b.data(), b.size());
}

Bytes hmac_sha256(const SecretBytes& key, const Bytes& msg) {
  Bytes out(32);
  unsigned int len = 32;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), msg.data(), msg.size(), out.data(),
       &len);
  return out;
}

Result<SecretBytes> hkdf_sha256(const SecretBytes& ikm, const Bytes& salt, const Bytes& info,
                                std::size_t out_len) {
  SecretBytes out(out_len);
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  // OpenSSL refuses zero-length octet parameters: an empty salt or info is
  // simply not passed (RFC 5869 treats a missing salt as zeros).
  static const std::uint8_t kZeroSalt[32] = {};
  OSSL_PARAM params[5];
  int n = 0;
  char digest[] = "SHA256";
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(ikm.data()), ikm.size());
  params[n++] = salt.empty()
                    ? OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                        const_cast<std::uint8_t*>(kZeroSalt), 32)
                    : OSSL_PARAM_construct_octet_string(
                          OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.data()), salt.size());
  if (!info.empty())
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_INFO, const_cast<std::uint8_t*>(info.data()), info.size());
  params[n] = OSSL_PARAM_construct_end();
  const bool ok = ikm.size() > 0 && EVP_KDF_derive(ctx, out.data(), out.size(), params) > 0;
  EVP_KDF_CTX_free(ctx);
  if (!ok) return ossl_error("HKDF");
  return out;
}

Result<KeySpec> parse_key_spec(std::string_view s) {
  auto num = [](std::string_view t) -> int {
    int v = 0;
    auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    return (r.ec == std::errc() && r.ptr == t.data() + t.size()) ? v : -1;
  };
  if (s.starts_with("aes-")) {
    int b = num(s.substr(4));
    if (b == 128 || b == 192 || b == 256) return KeySpec{KeyType::aes, b, ""};
  } else if (s == "des3") {
    return KeySpec{KeyType::des3, 168, ""};
  } else if (s.starts_with("rsa-")) {
    int b = num(s.substr(4));
    if (b == 1024 || b == 2048 || b == 3072 || b == 4096) return KeySpec{KeyType::rsa, b, ""};
  } else if (s == "ec-p256") {
    return KeySpec{KeyType::ec, 256, "P-256"};
  } else if (s == "ec-p384") {
    return KeySpec{KeyType::ec, 384, "P-384"};
  } else if (s == "ec-p521") {
    return KeySpec{KeyType::ec, 521, "P-521"};
  } else if (s == "ed25519") {
    return KeySpec{KeyType::ed25519, 256, "Ed25519"};
  }
  return Error::usage("unknown key type \"" + std::string(s) + "\"",
                      "use aes-128|aes-192|aes-256, des3, rsa-1024|rsa-2048|rsa-3072|rsa-4096, "
                      "ec-p256|ec-p384|ec-p521 or ed25519");
}

Result<KeyMaterial> generate(const KeySpec& spec) {
  KeyMaterial km;
  km.type = spec.type;
  km.bits = spec.bits;
  km.curve = spec.curve;
  EVP_PKEY* k = nullptr;
  switch (spec.type) {
    case KeyType::aes:
      km.secret = random_secret(static_cast<std::size_t>(spec.bits / 8));
      return km;
    case KeyType::des3: {
      km.secret = random_secret(24);
      // DES keys carry odd parity in each byte's low bit.
      for (auto& b : km.secret) {
        int ones = __builtin_popcount(b & 0xfe);
        b = static_cast<std::uint8_t>((b & 0xfe) | ((ones % 2) ? 0 : 1));
      }
      return km;
    }
    case KeyType::generic:
      km.secret = random_secret(32);
      return km;
    case KeyType::rsa:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(spec.bits));
      break;
    case KeyType::ec:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", spec.curve.c_str());
      break;
    case KeyType::ed25519:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (!k) return ossl_error("key generation failed");
  Pkey hold(k);
  km.secret = private_der(k);
  km.public_der = public_der(k);
  return km;
}

Result<KeyMaterial> generate_x25519() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  if (!k) return ossl_error("X25519 key generation failed");
  Pkey hold(k);
  KeyMaterial km;
  km.type = KeyType::generic;
  km.bits = 255;
  km.curve = "X25519";
  km.secret = private_der(k);
  km.public_der = public_der(k);
  return km;
}

Result<Bytes> public_of(const SecretBytes& der) {
  HSM_TRY_ASSIGN(Pkey k, load_private(der));
  return public_der(k.get());
}

Result<Bytes> sign(const KeyMaterial& key, const std::uint8_t* data, std::size_t n) {
  if (key.public_der.empty()) return Error::usage("only private keys sign");
  HSM_TRY_ASSIGN(Pkey k, load_private(key.secret));
  Mdctx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit(ctx.get(), &pctx, digest_for(k.get()), nullptr, k.get()) <= 0)
    return ossl_error("sign init");
  HSM_TRY(set_pss(pctx, k.get()));
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, n) <= 0) return ossl_error("sign");
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data, n) <= 0) return ossl_error("sign");
  sig.resize(len);
  return sig;
}

Result<bool> verify(KeyType, const Bytes& pub, const std::uint8_t* data, std::size_t n,
                    const Bytes& sig) {
  HSM_TRY_ASSIGN(Pkey k, load_public(pub));
  Mdctx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, digest_for(k.get()), nullptr, k.get()) <= 0)
    return ossl_error("verify init");
  HSM_TRY(set_pss(pctx, k.get()));
  int rc = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data, n);
  ERR_clear_error();
  return rc == 1;
}

namespace {

Result<Bytes> sym_encrypt(const KeyMaterial& key, const Bytes& pt) {
  const bool aes = key.type == KeyType::aes;
  const EVP_CIPHER* c = aes ? (key.bits == 128   ? EVP_aes_128_gcm()
                               : key.bits == 192 ? EVP_aes_192_gcm()
                                                 : EVP_aes_256_gcm())
                            : EVP_des_ede3_cbc();
  const std::size_t iv_len = aes ? 12 : 8;
  Bytes out = random_bytes(iv_len);
  Cctx ctx(EVP_CIPHER_CTX_new());
  if (EVP_EncryptInit_ex(ctx.get(), c, nullptr, key.secret.data(), out.data()) <= 0)
    return ossl_error("encrypt init");
  out.resize(iv_len + pt.size() + 16);
  int len = 0, fin = 0;
  if (EVP_EncryptUpdate(ctx.get(), out.data() + iv_len, &len, pt.data(),
                        static_cast<int>(pt.size())) <= 0 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + iv_len + len, &fin) <= 0)
    return ossl_error("encrypt");
  out.resize(iv_len + static_cast<std::size_t>(len + fin));
  if (aes) {
    std::uint8_t tag[16];
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag) <= 0)
      return ossl_error("tag");
    out.insert(out.end(), tag, tag + 16);
  }
  return out;
}

Result<Bytes> sym_decrypt(const KeyMaterial& key, const Bytes& ct) {
  const bool aes = key.type == KeyType::aes;
  const EVP_CIPHER* c = aes ? (key.bits == 128   ? EVP_aes_128_gcm()
                               : key.bits == 192 ? EVP_aes_192_gcm()
                                                 : EVP_aes_256_gcm())
                            : EVP_des_ede3_cbc();
  const std::size_t iv_len = aes ? 12 : 8, tag_len = aes ? 16 : 0;
  if (ct.size() < iv_len + tag_len) return Error::integrity("ciphertext too short");
  Cctx ctx(EVP_CIPHER_CTX_new());
  if (EVP_DecryptInit_ex(ctx.get(), c, nullptr, key.secret.data(), ct.data()) <= 0)
    return ossl_error("decrypt init");
  const std::size_t body = ct.size() - iv_len - tag_len;
  Bytes out(body + 16);
  int len = 0, fin = 0;
  if (EVP_DecryptUpdate(ctx.get(), out.data(), &len, ct.data() + iv_len, static_cast<int>(body)) <=
      0)
    return ossl_error("decrypt");
  if (aes && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16,
                                 const_cast<std::uint8_t*>(ct.data() + ct.size() - 16)) <= 0)
    return ossl_error("tag");
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &fin) <= 0) {
    ERR_clear_error();
    return Error::integrity("decryption failed: wrong key or tampered ciphertext");
  }
  out.resize(static_cast<std::size_t>(len + fin));
  return out;
}

// RSA-OAEP with SHA-256 (MGF1 follows the digest) and an optional label.
Status oaep_params(EVP_PKEY_CTX* ctx, const Bytes& label) {
  if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) <= 0)
    return ossl_error("OAEP init");
  if (label.empty()) return {};
  auto* l = static_cast<unsigned char*>(OPENSSL_memdup(label.data(), label.size()));
  if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, static_cast<int>(label.size())) <= 0) {
    OPENSSL_free(l);
    return ossl_error("OAEP label");
  }
  return {};
}

}  // namespace

Result<Bytes> rsa_oaep_encrypt(const Bytes& pub, const std::uint8_t* data, std::size_t n,
                               const Bytes& label) {
  HSM_TRY_ASSIGN(Pkey k, load_public(pub));
  Pctx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, k.get(), nullptr));
  if (EVP_PKEY_encrypt_init(ctx.get()) <= 0) return ossl_error("OAEP init");
  HSM_TRY(oaep_params(ctx.get(), label));
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, data, n) <= 0) return ossl_error("OAEP encrypt");
  Bytes out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, data, n) <= 0)
    return ossl_error("OAEP encrypt");
  out.resize(len);
  return out;
}

Result<SecretBytes> rsa_oaep_decrypt(const SecretBytes& priv, const Bytes& ct, const Bytes& label) {
  HSM_TRY_ASSIGN(Pkey k, load_private(priv));
  Pctx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, k.get(), nullptr));
  if (EVP_PKEY_decrypt_init(ctx.get()) <= 0) return ossl_error("OAEP init");
  HSM_TRY(oaep_params(ctx.get(), label));
  size_t len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, ct.data(), ct.size()) <= 0) {
    ERR_clear_error();
    return Error::integrity("RSA-OAEP unwrap failed");
  }
  SecretBytes out(len);
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &len, ct.data(), ct.size()) <= 0) {
    ERR_clear_error();
    return Error::integrity("RSA-OAEP unwrap failed: wrong key or tampered message");
  }
  out.resize(len);
  return out;
}

Result<Bytes> encrypt(const KeyMaterial& key, const Bytes& pt) {
  switch (key.type) {
    case KeyType::aes:
    case KeyType::des3:
      return sym_encrypt(key, pt);
    case KeyType::rsa:
      return rsa_oaep_encrypt(key.public_der, pt.data(), pt.size(), {});
    default:
      return Error::usage(std::string(api::to_string(key.type)) + " keys do not encrypt");
  }
}

Result<Bytes> decrypt(const KeyMaterial& key, const Bytes& ct) {
  switch (key.type) {
    case KeyType::aes:
    case KeyType::des3:
      return sym_decrypt(key, ct);
    case KeyType::rsa: {
      HSM_TRY_ASSIGN(SecretBytes pt, rsa_oaep_decrypt(key.secret, ct, {}));
      return Bytes(pt.begin(), pt.end());
    }
    default:
      return Error::usage(std::string(api::to_string(key.type)) + " keys do not decrypt");
  }
}

Result<SecretBytes> x25519(const SecretBytes& priv, const Bytes& peer_pub) {
  HSM_TRY_ASSIGN(Pkey k, load_private(priv));
  HSM_TRY_ASSIGN(Pkey peer, load_public(peer_pub));
  Pctx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, k.get(), nullptr));
  size_t len = 0;
  if (EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) <= 0 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) <= 0)
    return ossl_error("X25519");
  SecretBytes out(len);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) <= 0) return ossl_error("X25519");
  return out;
}

std::string fingerprint(api::ObjectClass cls, const KeyMaterial& key) {
  Bytes msg;
  const std::string ctx = "hsm-migrate fingerprint v1|" + std::string(api::to_string(cls)) + "|" +
                          std::string(api::to_string(key.type)) + "|";
  msg.assign(ctx.begin(), ctx.end());
  if (key.public_der.empty()) return hex(hmac_sha256(key.secret, msg));
  msg.insert(msg.end(), key.public_der.begin(), key.public_der.end());
  return hex(sha256(msg));
}

// --- X.509 ---
namespace {

Result<Bytes> sign_and_encode(X509* cert, EVP_PKEY* issuer_key) {
  if (X509_sign(cert, issuer_key, nullptr) <= 0) return ossl_error("certificate signing");
  unsigned char* buf = nullptr;
  int n = i2d_X509(cert, &buf);
  if (n <= 0) return ossl_error("certificate encoding");
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

Result<X509Ptr> load_cert(const Bytes& der) {
  const unsigned char* p = der.data();
  X509* c = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (!c) {
    ERR_clear_error();
    return Error::integrity("not a valid X.509 certificate");
  }
  return X509Ptr(c);
}

void set_common(X509* cert, std::string_view cn, std::int64_t not_before, int days,
                std::uint64_t serial) {
  X509_set_version(cert, 2);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial);
  ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(not_before + 86400LL * days));
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("hsm-migrate emulated Luna"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(std::string(cn).c_str()), -1,
                             -1, 0);
}

}  // namespace

Result<Bytes> make_self_signed(const SecretBytes& ca_priv, std::string_view cn,
                               std::int64_t not_before, int days) {
  HSM_TRY_ASSIGN(Pkey k, load_private(ca_priv));
  X509Ptr cert(X509_new());
  set_common(cert.get(), cn, not_before, days, 1);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_set_pubkey(cert.get(), k.get());
  return sign_and_encode(cert.get(), k.get());
}

Result<Bytes> issue_certificate(const Bytes& subject_pub, std::string_view cn,
                                const SecretBytes& issuer_priv, const Bytes& issuer_cert_der,
                                std::int64_t not_before, int days, std::uint64_t serial) {
  HSM_TRY_ASSIGN(Pkey subject, load_public(subject_pub));
  HSM_TRY_ASSIGN(Pkey issuer, load_private(issuer_priv));
  HSM_TRY_ASSIGN(X509Ptr issuer_cert, load_cert(issuer_cert_der));
  X509Ptr cert(X509_new());
  set_common(cert.get(), cn, not_before, days, serial);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert.get()));
  X509_set_pubkey(cert.get(), subject.get());
  return sign_and_encode(cert.get(), issuer.get());
}

Result<Bytes> verify_certificate(const Bytes& cert_der, const Bytes& issuer_cert_der) {
  HSM_TRY_ASSIGN(X509Ptr cert, load_cert(cert_der));
  HSM_TRY_ASSIGN(X509Ptr issuer, load_cert(issuer_cert_der));
  EVP_PKEY* ik = X509_get0_pubkey(issuer.get());
  if (!ik || X509_verify(cert.get(), ik) != 1) {
    ERR_clear_error();
    return Error::integrity("certificate signature does not verify against its issuer");
  }
  return public_der(X509_get0_pubkey(cert.get()));
}

Result<Bytes> certificate_public_key(const Bytes& cert_der) {
  HSM_TRY_ASSIGN(X509Ptr cert, load_cert(cert_der));
  return public_der(X509_get0_pubkey(cert.get()));
}

Result<std::string> certificate_subject(const Bytes& cert_der) {
  HSM_TRY_ASSIGN(X509Ptr cert, load_cert(cert_der));
  char buf[256];
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, buf, sizeof buf);
  return std::string(buf);
}

}  // namespace hsm::luna::crypto
