#include "formats/repo/s3/digest.hpp"

#include <openssl/evp.h>

#include <cstdlib>
#include <stdexcept>

namespace hsm::repo::s3 {

namespace {

const EVP_MD* md_of(StreamingDigest::Kind k) {
  return k == StreamingDigest::Kind::sha256 ? EVP_sha256() : EVP_md5();
}

template <std::size_t N>
std::array<std::uint8_t, N> one_shot(const EVP_MD* md, const void* data, std::size_t n) {
  std::array<std::uint8_t, N> out{};
  unsigned len = 0;
  if (EVP_Digest(data, n, out.data(), &len, md, nullptr) != 1 || len != N) std::abort();
  return out;
}

}  // namespace

Sha256Digest sha256(const void* data, std::size_t n) {
  return one_shot<32>(EVP_sha256(), data, n);
}
Md5Digest md5(const void* data, std::size_t n) {
  return one_shot<16>(EVP_md5(), data, n);
}

Sha256Digest hmac_sha256(const void* key, std::size_t key_size, std::string_view message) {
  Sha256Digest out{};
  std::size_t len = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key, key_size,
                 reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(),
                 out.size(), &len) ||
      len != out.size())
    std::abort();  // HMAC-SHA-256 is in the default provider: only a broken install gets here
  return out;
}

std::string hex(const std::uint8_t* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    s.push_back(kDigits[data[i] >> 4]);
    s.push_back(kDigits[data[i] & 15]);
  }
  return s;
}

std::string base64(const std::uint8_t* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

StreamingDigest::StreamingDigest(Kind kind) : kind_(kind), ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, md_of(kind_), nullptr) != 1) std::abort();
}

StreamingDigest::~StreamingDigest() {
  EVP_MD_CTX_free(ctx_);
}

void StreamingDigest::update(const void* data, std::size_t n) {
  if (n && EVP_DigestUpdate(ctx_, data, n) != 1) std::abort();
}

std::size_t StreamingDigest::finish(std::uint8_t* out) {
  unsigned len = 0;
  if (EVP_DigestFinal_ex(ctx_, out, &len) != 1 ||
      EVP_DigestInit_ex(ctx_, md_of(kind_), nullptr) != 1)
    std::abort();
  return len;
}

std::string StreamingDigest::finish_hex() {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> d{};
  std::size_t n = finish(d.data());
  return hex(d.data(), n);
}

}  // namespace hsm::repo::s3
