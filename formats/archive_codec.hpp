// Internals shared by the archive writer and reader: little-endian encoding,
// a SHA-256 context (OpenSSL EVP), the header codec, and the certificate
// chain and signature checks (OpenSSL). Not part of the library's public API.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "formats/archive_format.hpp"

typedef struct evp_md_ctx_st EVP_MD_CTX;  // NOLINT: OpenSSL's forward declaration

namespace hsm::formats::detail {

inline void put_u8(Bytes& b, std::uint8_t v) { b.push_back(v); }
inline void put_u32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline void put_u64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline void put_bytes(Bytes& b, const std::uint8_t* p, std::size_t n) { b.insert(b.end(), p, p + n); }
inline void store_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void store_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline std::uint32_t load_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline std::uint64_t load_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Incremental SHA-256 through OpenSSL's EVP (SHA-NI / AVX2 where the CPU has
// them). finish() returns the digest and leaves the context ready for reuse.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t n);
  Digest finish();

 private:
  EVP_MD_CTX* ctx_;
};
Digest sha256(const void* data, std::size_t n);

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s);

// Checks a header's fields against the spec's rules and limits. `kind` is
// usage for a writer's input and integrity for a header read from a file.
Status validate_header(const ArchiveHeader& h, ErrorKind kind);
// The header body of h.format_version (archive-format.md, "Header");
// validates first (usage).
Result<Bytes> encode_header_body(const ArchiveHeader& h);
// Parses a body whose digest already matched; every length is checked
// against what remains before it is used. Errors: integrity.
Result<ArchiveHeader> decode_header_body(const std::uint8_t* p, std::size_t n, std::uint32_t version);

// The certificate chain, checked without any secret: every certificate
// parses as DER X.509, each is issued and signed by the next, and the last is
// self-signed. Every key is Ed25519, except that from version 2 the HOK
// certificate (the first) may hold an ECDSA P-256 key. Validity dates are not
// checked: an archive outlives its certificates; trust is the root's
// fingerprint.
enum class HokKeyType { ed25519, ecdsa_p256 };
struct HokKey {
  HokKeyType type = HokKeyType::ed25519;
  Bytes public_der;  // SubjectPublicKeyInfo
};
struct ChainInfo {
  HokKey hok;
  Digest root_sha256{};
  std::string hok_subject;   // e.g. "/O=.../CN=hsm-a HOK"
  std::string hok_common_name;  // e.g. "hsm-a HOK"
  std::string root_subject;
};
// Errors: `kind` (usage for a writer's input, integrity for a file).
Result<ChainInfo> check_chain(const std::vector<Bytes>& certificates, std::uint32_t format_version, ErrorKind kind);
// Parses certificates[0] only and returns its key (no chain check).
Result<HokKey> hok_key(const std::vector<Bytes>& certificates, std::uint32_t format_version, ErrorKind kind);
// The HOK's 64-byte signature of the 32-byte archive digest: Ed25519 (pure),
// or ECDSA P-256 with SHA-256, r || s big-endian 32 bytes each.
bool verify_signature(const HokKey& key, const Digest& message, const std::uint8_t* signature,
                      std::size_t signature_size);

// Version 2: the HOK certificate's common name is the source device's name,
// a space, then the key's role ("hsm-a HOK", "hsm-a FM-HOK"); device names
// hold no space. Errors: `kind` (usage for a writer's input, integrity for a file).
Status check_hok_names_device(const std::string& common_name, const std::string& source_device,
                              ErrorKind kind = ErrorKind::integrity);

}  // namespace hsm::formats::detail
