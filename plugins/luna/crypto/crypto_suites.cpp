// OpenSSL EVP adapter for the CPv4 cipher suites (see suites.hpp).
#include <openssl/err.h>
#include <openssl/evp.h>

#include <climits>

#include "plugins/luna/crypto/suites.hpp"

namespace hsm::luna::crypto {

using api::Error;
using api::Result;
using api::SecretBytes;
using api::Status;

namespace {

const EVP_CIPHER* cipher_of(Suite s) {
  return s == Suite::aes_256_gcm ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
}

Error evp_error(std::string_view what) {
  ERR_clear_error();
  return Error::other("cipher suite: " + std::string(what) + " failed");
}

}  // namespace

struct SuiteAead::Ctx {
  EVP_CIPHER_CTX* enc = nullptr;
  EVP_CIPHER_CTX* dec = nullptr;
  ~Ctx() {
    EVP_CIPHER_CTX_free(enc);  // frees and cleanses the key schedule
    EVP_CIPHER_CTX_free(dec);
  }
};

std::optional<Suite> parse_suite(std::string_view name) {
  if (name == "aes-256-gcm") return Suite::aes_256_gcm;
  if (name == "chacha20-poly1305") return Suite::chacha20_poly1305;
  return std::nullopt;
}

std::string_view to_string(Suite s) {
  return s == Suite::aes_256_gcm ? "aes-256-gcm" : "chacha20-poly1305";
}

SuiteAead::SuiteAead(Suite s, std::unique_ptr<Ctx> c) : suite_(s), ctx_(std::move(c)) {}
SuiteAead::SuiteAead(SuiteAead&&) noexcept = default;
SuiteAead& SuiteAead::operator=(SuiteAead&&) noexcept = default;
SuiteAead::~SuiteAead() = default;

Result<SuiteAead> SuiteAead::create(Suite suite, const SecretBytes& key) {
  if (key.size() != kSuiteKeyBytes) return Error::other("cipher suite key must be 32 bytes");
  auto c = std::make_unique<Ctx>();
  c->enc = EVP_CIPHER_CTX_new();
  c->dec = EVP_CIPHER_CTX_new();
  if (!c->enc || !c->dec) return evp_error("context allocation");
  const EVP_CIPHER* ci = cipher_of(suite);
  // Both suites use a 96-bit nonce (the EVP default); set it explicitly.
  if (EVP_EncryptInit_ex(c->enc, ci, nullptr, nullptr, nullptr) <= 0 ||
      EVP_CIPHER_CTX_ctrl(c->enc, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(kSuiteNonceBytes),
                          nullptr) <= 0 ||
      EVP_EncryptInit_ex(c->enc, nullptr, nullptr, key.data(), nullptr) <= 0)
    return evp_error("encrypt key setup");
  if (EVP_DecryptInit_ex(c->dec, ci, nullptr, nullptr, nullptr) <= 0 ||
      EVP_CIPHER_CTX_ctrl(c->dec, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(kSuiteNonceBytes),
                          nullptr) <= 0 ||
      EVP_DecryptInit_ex(c->dec, nullptr, nullptr, key.data(), nullptr) <= 0)
    return evp_error("decrypt key setup");
  return SuiteAead(suite, std::move(c));
}

Status SuiteAead::seal(const std::uint8_t* nonce, const std::uint8_t* ad, std::size_t ad_len,
                       const std::uint8_t* pt, std::size_t n, std::uint8_t* out) {
  if (n > INT_MAX || ad_len > INT_MAX) return Error::other("cipher suite: message too large");
  EVP_CIPHER_CTX* c = ctx_->enc;
  int len = 0, fin = 0;
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce) <= 0) return evp_error("nonce");
  if (ad_len && EVP_EncryptUpdate(c, nullptr, &len, ad, static_cast<int>(ad_len)) <= 0)
    return evp_error("associated data");
  len = 0;
  if (n && EVP_EncryptUpdate(c, out, &len, pt, static_cast<int>(n)) <= 0)
    return evp_error("encrypt");
  if (EVP_EncryptFinal_ex(c, out + len, &fin) <= 0) return evp_error("encrypt final");
  if (static_cast<std::size_t>(len + fin) != n) return evp_error("encrypt length");
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kSuiteTagBytes), out + n) <= 0)
    return evp_error("tag");
  return {};
}

Status SuiteAead::open(const std::uint8_t* nonce, const std::uint8_t* ad, std::size_t ad_len,
                       const std::uint8_t* ct, std::size_t n, std::uint8_t* out) {
  if (n < kSuiteTagBytes) return Error::integrity("sealed message too short");
  if (n > INT_MAX || ad_len > INT_MAX) return Error::other("cipher suite: message too large");
  const std::size_t body = n - kSuiteTagBytes;
  EVP_CIPHER_CTX* c = ctx_->dec;
  int len = 0, fin = 0;
  if (EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce) <= 0) return evp_error("nonce");
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kSuiteTagBytes),
                          const_cast<std::uint8_t*>(ct + body)) <= 0)
    return evp_error("tag");
  if (ad_len && EVP_DecryptUpdate(c, nullptr, &len, ad, static_cast<int>(ad_len)) <= 0)
    return evp_error("associated data");
  len = 0;
  if (body && EVP_DecryptUpdate(c, out, &len, ct, static_cast<int>(body)) <= 0)
    return evp_error("decrypt");
  if (EVP_DecryptFinal_ex(c, out + len, &fin) <= 0) {
    ERR_clear_error();
    api::secure_wipe(out, body);
    return Error::integrity("authentication failed: wrong key, wrong binding or tampered data");
  }
  return {};
}

}  // namespace hsm::luna::crypto
