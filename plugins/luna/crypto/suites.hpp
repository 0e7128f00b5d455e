// AEAD with an explicit nonce for the CPv4 cipher suites (U2): a thin
// adapter over OpenSSL EVP (AES-256-GCM, ChaCha20-Poly1305 of RFC 8439).
// No primitive is implemented here. The key schedule is set up once per
// SuiteAead, so sealing many messages under one session key costs one EVP
// re-initialisation (the nonce) per message and no allocation.
//
// The caller owns nonce uniqueness: CPv4 derives a fresh key per session and
// takes the nonce from the message counter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::luna::crypto {

enum class Suite { aes_256_gcm, chacha20_poly1305 };

inline constexpr std::size_t kSuiteKeyBytes = 32;
inline constexpr std::size_t kSuiteNonceBytes = 12;
inline constexpr std::size_t kSuiteTagBytes = 16;

// "aes-256-gcm" / "chacha20-poly1305" (the names of rules::cpv4_suites()).
std::optional<Suite> parse_suite(std::string_view name);
std::string_view to_string(Suite s);

class SuiteAead {
 public:
  static api::Result<SuiteAead> create(Suite suite, const api::SecretBytes& key);

  SuiteAead(SuiteAead&&) noexcept;
  SuiteAead& operator=(SuiteAead&&) noexcept;
  ~SuiteAead();

  Suite suite() const { return suite_; }

  // Writes ciphertext || tag (n + kSuiteTagBytes bytes) to out.
  api::Status seal(const std::uint8_t* nonce, const std::uint8_t* ad, std::size_t ad_len,
                   const std::uint8_t* pt, std::size_t n, std::uint8_t* out);
  // Opens ciphertext || tag (n >= kSuiteTagBytes) into out (n - kSuiteTagBytes
  // bytes). Returns ErrorKind::integrity when authentication fails; out is
  // then wiped.
  api::Status open(const std::uint8_t* nonce, const std::uint8_t* ad, std::size_t ad_len,
                   const std::uint8_t* ct, std::size_t n, std::uint8_t* out);

 private:
  struct Ctx;
  SuiteAead(Suite s, std::unique_ptr<Ctx> c);
  Suite suite_;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace hsm::luna::crypto
