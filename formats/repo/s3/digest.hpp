// Hashes and encodings the S3 client needs, over OpenSSL 3 (no primitive of
// our own): SHA-256 and MD5 (one-shot and streaming), HMAC-SHA-256, lower-case
// hex and base64.
//
// MD5 is here only because S3 speaks it: Content-MD5 on bodies (AWS requires
// it with Object Lock; Ceph RGW checks it) and the ETag of an object. Nothing
// trusts MD5 for integrity on its own: every body also carries its SHA-256.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace hsm::repo::s3 {

using Sha256Digest = std::array<std::uint8_t, 32>;
using Md5Digest = std::array<std::uint8_t, 16>;

Sha256Digest sha256(const void* data, std::size_t n);
inline Sha256Digest sha256(std::string_view s) {
  return sha256(s.data(), s.size());
}
Md5Digest md5(const void* data, std::size_t n);

// HMAC-SHA-256 (OpenSSL EVP_Q_mac).
Sha256Digest hmac_sha256(const void* key, std::size_t key_size, std::string_view message);

std::string hex(const std::uint8_t* data, std::size_t n);
template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& a) {
  return hex(a.data(), a.size());
}
std::string base64(const std::uint8_t* data, std::size_t n);
template <std::size_t N>
std::string base64(const std::array<std::uint8_t, N>& a) {
  return base64(a.data(), a.size());
}

// Streaming SHA-256 or MD5. Construction failure (no provider) is a program
// error: both are in OpenSSL's default provider.
class StreamingDigest {
 public:
  enum class Kind { sha256, md5 };
  explicit StreamingDigest(Kind kind);
  ~StreamingDigest();
  StreamingDigest(const StreamingDigest&) = delete;
  StreamingDigest& operator=(const StreamingDigest&) = delete;
  void update(const void* data, std::size_t n);
  // The digest of everything so far; the object starts over afterwards.
  std::string finish_hex();
  std::size_t finish(std::uint8_t* out);  // returns the digest size

 private:
  Kind kind_;
  evp_md_ctx_st* ctx_;
};

}  // namespace hsm::repo::s3
