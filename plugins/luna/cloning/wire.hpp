// Little-endian, length-prefixed encoding helpers shared by the cloning
// codecs (flat objects, offers, session headers, messages, SIM4 blobs).
//
// Writer appends to any byte vector (Bytes, or SecretBytes when the output
// holds key material). Reader never reads past its end: every length is
// checked before use, and the first failure makes the reader sticky-failed
// (later reads return zeros/empties), so a decoder reads all its fields and
// checks ok() and at_end() once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "plugins/api/secret.hpp"
#include "plugins/api/types.hpp"

namespace hsm::luna::cloning::wire {

// Decoding limits. Generous for legitimate content, small enough that a
// hostile length cannot make a decoder allocate much.
inline constexpr std::size_t kMaxString = 4096;       // labels, names, ids, fingerprints
inline constexpr std::size_t kMaxBlob = 256 * 1024;    // keys, certificates, signatures

template <class Buf>
class Writer {
 public:
  explicit Writer(Buf& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void i64(std::int64_t v) { le(static_cast<std::uint64_t>(v), 8); }
  void raw(const std::uint8_t* p, std::size_t n) { out_.insert(out_.end(), p, p + n); }
  template <class V>
  void raw(const V& v) {
    raw(v.data(), v.size());
  }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    raw(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  }
  template <class V>
  void blob(const V& v) {
    u32(static_cast<std::uint32_t>(v.size()));
    raw(v.data(), v.size());
  }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Buf& out_;
};

// Encoded sizes, for reserving exactly once.
inline std::size_t str_size(std::string_view s) { return 4 + s.size(); }
template <class V>
std::size_t blob_size(const V& v) {
  return 4 + v.size();
}

class Reader {
 public:
  Reader(const std::uint8_t* p, std::size_t n) : p_(p), end_(p + n) {}

  bool ok() const { return ok_; }
  bool at_end() const { return ok_ && p_ == end_; }
  std::size_t remaining() const { return ok_ ? static_cast<std::size_t>(end_ - p_) : 0; }
  const std::uint8_t* pos() const { return p_; }
  void fail() { ok_ = false; }

  std::uint8_t u8() { return static_cast<std::uint8_t>(le(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(le(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(le(4)); }
  std::uint64_t u64() { return le(8); }
  std::int64_t i64() { return static_cast<std::int64_t>(le(8)); }

  // n raw bytes, or nullptr (and failed) when fewer remain.
  const std::uint8_t* take(std::size_t n) {
    if (!ok_ || static_cast<std::size_t>(end_ - p_) < n) {
      ok_ = false;
      return nullptr;
    }
    const std::uint8_t* r = p_;
    p_ += n;
    return r;
  }
  bool expect(const char* magic, std::size_t n) {
    const std::uint8_t* m = take(n);
    if (m && std::memcmp(m, magic, n) == 0) return true;
    ok_ = false;
    return false;
  }
  std::string str(std::size_t max = kMaxString) {
    const std::uint32_t n = u32();
    if (n > max) ok_ = false;
    const std::uint8_t* d = ok_ ? take(n) : nullptr;
    return d ? std::string(reinterpret_cast<const char*>(d), n) : std::string();
  }
  template <class V = api::Bytes>
  V blob(std::size_t max = kMaxBlob) {
    const std::uint32_t n = u32();
    if (n > max) ok_ = false;
    const std::uint8_t* d = ok_ ? take(n) : nullptr;
    return d ? V(d, d + n) : V();
  }
  // A length-prefixed field as a view into the input (no copy).
  std::pair<const std::uint8_t*, std::size_t> view(std::size_t max = kMaxBlob) {
    const std::uint32_t n = u32();
    if (n > max) ok_ = false;
    const std::uint8_t* d = ok_ ? take(n) : nullptr;
    return {d, d ? n : 0};
  }
  template <std::size_t N>
  api::Bytes fixed() {
    const std::uint8_t* d = take(N);
    return d ? api::Bytes(d, d + N) : api::Bytes();
  }

 private:
  std::uint64_t le(int n) {
    const std::uint8_t* d = take(static_cast<std::size_t>(n));
    if (!d) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(d[i]) << (8 * i);
    return v;
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  bool ok_ = true;
};

inline void put_le64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

}  // namespace hsm::luna::cloning::wire
