// Helpers for the archive tests and the archive fuzzer: fixed Ed25519 keys
// from fixed seeds, certificates shaped like the emulated devices' (X.509 v3,
// O + CN, no extensions), a signer standing in for the device's HOK, the
// golden archive's inputs, and byte-level corruption helpers (LevelDB
// log_test.cc style). No GoogleTest here: the fuzzer includes it too.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/archive_format.hpp"
#include "formats/archive_writer.hpp"

namespace hsm::formats::test {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Key = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline std::array<std::uint8_t, 32> seed_of(std::uint8_t first) {
  std::array<std::uint8_t, 32> s{};
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(first + i);
  return s;
}

// An Ed25519 key from a 32-byte seed (RFC 8032 private key).
inline Key ed25519_from_seed(const std::array<std::uint8_t, 32>& seed) {
  Key k(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!k) throw std::runtime_error("EVP_PKEY_new_raw_private_key failed");
  return k;
}

inline Bytes der_of(X509* x) {
  int n = i2d_X509(x, nullptr);
  Bytes out(static_cast<std::size_t>(n));
  unsigned char* p = out.data();
  i2d_X509(x, &p);
  return out;
}

// A certificate for `subject` issued (and signed) by `issuer_key`, named by
// `issuer_cert` (nullptr: self-issued). Ed25519 signatures are
// deterministic, so equal inputs give equal DER.
inline Bytes make_certificate(EVP_PKEY* subject, const std::string& cn, EVP_PKEY* issuer_key,
                              const Bytes* issuer_cert, std::uint64_t serial,
                              std::int64_t not_before = 1672531200, int days = 7300) {
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(x.get()), serial);
  ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(not_before));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(not_before + 86400LL * days));
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("hsm-migrate emulated Luna"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  if (issuer_cert) {
    const unsigned char* p = issuer_cert->data();
    std::unique_ptr<X509, decltype(&X509_free)> ic(
        d2i_X509(nullptr, &p, static_cast<long>(issuer_cert->size())), X509_free);
    X509_set_issuer_name(x.get(), X509_get_subject_name(ic.get()));
  } else {
    X509_set_issuer_name(x.get(), name);
  }
  X509_set_pubkey(x.get(), subject);
  if (X509_sign(x.get(), issuer_key, nullptr) <= 0) throw std::runtime_error("X509_sign failed");
  return der_of(x.get());
}

inline Bytes ed25519_sign(EVP_PKEY* key, const Bytes& msg) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  Bytes sig(64);
  std::size_t len = sig.size();
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) != 1)
    throw std::runtime_error("Ed25519 signing failed");
  return sig;
}

// The device's side of signing, for tests: the HOK key signs the digest.
inline ArchiveSigner signer_for(EVP_PKEY* hok) {
  return [hok](const Bytes& digest) -> Result<Bytes> { return ed25519_sign(hok, digest); };
}

// A fixed manufacturing root and device HOK, with their certificates.
struct Fleet {
  Key root, hok;
  Bytes root_cert, hok_cert;
  explicit Fleet(std::uint8_t root_seed = 0x01, std::uint8_t hok_seed = 0x21,
                 const std::string& root_cn = "Golden Manufacturing Root",
                 const std::string& hok_cn = "hsm-a HOK")
      : root(ed25519_from_seed(seed_of(root_seed))), hok(ed25519_from_seed(seed_of(hok_seed))) {
    root_cert = make_certificate(root.get(), root_cn, root.get(), nullptr, 1);
    hok_cert = make_certificate(hok.get(), hok_cn, root.get(), &root_cert, 2);
  }
  std::vector<Bytes> chain() const { return {hok_cert, root_cert}; }
  ArchiveSigner signer() const { return signer_for(hok.get()); }
};

// XChaCha20-Poly1305 (libsodium) as a device would seal a blob: nonce || ct || tag.
inline Bytes seal(const std::array<std::uint8_t, 32>& key, const std::array<std::uint8_t, 24>& nonce,
                  const std::string& plaintext, const Bytes& ad) {
  Bytes out(nonce.begin(), nonce.end());
  out.resize(nonce.size() + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + nonce.size(), &clen,
                                             reinterpret_cast<const unsigned char*>(plaintext.data()),
                                             plaintext.size(), ad.data(), ad.size(), nullptr,
                                             nonce.data(), key.data());
  out.resize(nonce.size() + clen);
  return out;
}

// Opens a sealed blob; nullopt when authentication fails.
inline std::optional<std::string> open_sealed(const std::array<std::uint8_t, 32>& key, const Bytes& sealed,
                                              const Bytes& ad) {
  if (sealed.size() < 24 + crypto_aead_xchacha20poly1305_ietf_ABYTES) return std::nullopt;
  std::string pt(sealed.size() - 24 - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(pt.data()), &plen, nullptr,
                                                 sealed.data() + 24, sealed.size() - 24, ad.data(), ad.size(),
                                                 sealed.data(), key.data()) != 0)
    return std::nullopt;
  pt.resize(plen);
  return pt;
}

// --- the golden archive's inputs (tests/data/archive/golden-v1.*) ---

struct GoldenBlob {
  std::uint64_t handle;
  BlobType type;
  std::string label;
  std::string plaintext;
};

inline ArchiveId golden_archive_id() {
  ArchiveId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(0xa0 + i);
  return id;
}
inline std::array<std::uint8_t, 32> golden_blob_key() {
  std::array<std::uint8_t, 32> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0x60 + i);
  return k;
}
inline std::array<std::uint8_t, 24> golden_nonce(std::uint64_t index) {
  std::array<std::uint8_t, 24> n{};
  n.fill(static_cast<std::uint8_t>(0x40 + index));
  return n;
}
inline std::vector<GoldenBlob> golden_blobs() {
  return {
      {0x1, BlobType::smk, "SMK", "golden SKS master key (test bytes, not a key)"},
      {0x10, BlobType::sim4, "signing-key-\xc3\xa9", "golden SIM4 blob 1: an Ed25519 signing key"},
      {0x11, BlobType::sim4, "backup-aes-256", "golden SIM4 blob 2: an AES-256 key"},
  };
}
inline ArchiveHeader golden_header(const Fleet& fleet) {
  ArchiveHeader h;
  h.archive_id = golden_archive_id();
  h.created_at = 1700000000;  // 2023-11-14T22:13:20Z
  h.source_device = "hsm-a";
  h.device_kind = "luna7";
  h.firmware = "7.8.4";
  h.fm_class = "never";
  h.partition_name = "payments";
  h.partition_type = "v1";
  for (std::size_t i = 0; i < h.domain_fingerprint.size(); ++i)
    h.domain_fingerprint[i] = static_cast<std::uint8_t>(0xd0 ^ i);
  h.wrapped_master_key.resize(72);  // opaque to the format: fixed test bytes
  for (std::size_t i = 0; i < h.wrapped_master_key.size(); ++i)
    h.wrapped_master_key[i] = static_cast<std::uint8_t>(0x5a ^ i);
  h.certificates = fleet.chain();
  return h;
}

// Writes the golden archive to `path` (deterministic mode).
inline Result<WriteSummary> write_golden(const std::filesystem::path& path, bool overwrite = false) {
  Fleet fleet;
  ArchiveWriterOptions opt;
  opt.deterministic = true;
  opt.overwrite = overwrite;
  HSM_TRY_ASSIGN(auto w, ArchiveWriter::create(path, golden_header(fleet), fleet.signer(), opt));
  for (const auto& b : golden_blobs()) {
    Bytes sealed = seal(golden_blob_key(), golden_nonce(w->next_index()), b.plaintext,
                        w->next_associated_data(b.handle, b.type));
    HSM_TRY(w->add_blob(b.handle, b.type, b.label, sealed));
  }
  return w->commit();
}

// --- layout of a well-formed archive (for tests that poke at bytes) ---

inline std::uint64_t le(const Bytes& b, std::size_t off, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b.at(off + static_cast<std::size_t>(i));
  return v;
}

struct RecordLayout {
  std::size_t offset, length, label_offset, label_length, sealed_offset, sealed_length;
};
struct EntryLayout {
  std::size_t offset, length, label_offset, hash_offset;
};
struct Layout {
  std::size_t body_length, header_digest_offset, header_end;
  std::vector<RecordLayout> records;
  std::size_t index_offset;
  std::vector<EntryLayout> entries;
  std::size_t index_digest_offset, trailer_offset;
};

// Walks an archive the way archive-format.md lays it out. Throws on
// anything malformed (tests only feed it archives the writer made).
inline Layout layout_of(const Bytes& b) {
  Layout l{};
  l.body_length = le(b, 12, 4);
  l.header_digest_offset = 16 + l.body_length;
  l.header_end = l.header_digest_offset + 32;
  l.trailer_offset = b.size() - kTrailerSize;
  l.index_offset = le(b, l.trailer_offset + 96, 8);
  for (std::size_t off = l.header_end; off < l.index_offset;) {
    RecordLayout r{};
    r.offset = off;
    r.label_length = b.at(off + 9);
    r.sealed_length = le(b, off + 10, 4);
    r.label_offset = off + 14;
    r.sealed_offset = r.label_offset + r.label_length;
    r.length = 14 + r.label_length + r.sealed_length;
    l.records.push_back(r);
    off += r.length;
  }
  std::size_t count = le(b, l.index_offset + 8, 8);
  std::size_t off = l.index_offset + 24;
  for (std::size_t i = 0; i < count; ++i) {
    EntryLayout e{};
    e.offset = off;
    e.label_offset = off + 22;
    e.hash_offset = e.label_offset + b.at(off + 21);
    e.length = 54 + b.at(off + 21);
    l.entries.push_back(e);
    off += e.length;
  }
  l.index_digest_offset = off;
  if (off + 32 != l.trailer_offset || l.records.size() != count) throw std::runtime_error("bad layout");
  return l;
}

// --- files ---

// A fresh folder under $TMPDIR (or /tmp), removed with its content.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/hsm-formats-test-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Names in the folder, sorted (to see leftover temporary files).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::filesystem::path path_;
};

inline Bytes read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
inline void write_bytes(const std::filesystem::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace hsm::formats::test
