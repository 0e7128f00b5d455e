// Helpers for the archive tests and the archive fuzzer: fixed Ed25519 and
// ECDSA P-256 keys from fixed seeds, certificates shaped like the emulated
// devices' (X.509 v3, O + CN, no extensions), a sealer standing in for the
// source device (the HOK's signature and the version 2 archive MAC), the
// golden archives' inputs, and byte-level layout helpers (LevelDB
// log_test.cc style). No GoogleTest here: the fuzzer includes it too.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/archive_format.hpp"
#include "formats/archive_reader.hpp"
#include "formats/archive_writer.hpp"
#include "plugins/api/archive.hpp"

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

// An ECDSA P-256 key whose private scalar is `scalar` (big-endian; the
// seeds used here are far below the group order).
inline Key p256_from_scalar(const std::array<std::uint8_t, 32>& scalar) {
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(
      EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1), EC_GROUP_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> d(BN_bin2bn(scalar.data(), 32, nullptr), BN_free);
  std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> q(EC_POINT_new(group.get()), EC_POINT_free);
  std::uint8_t pub[65];
  if (!group || !d || !q ||
      EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, nullptr) != 1 ||
      EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, pub, sizeof pub,
                         nullptr) != 65)
    throw std::runtime_error("P-256 public key computation failed");
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get());
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub);
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                 OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* k = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_KEYPAIR, params.get()) != 1)
    throw std::runtime_error("P-256 key import failed");
  return Key(k);
}

inline Bytes der_of(X509* x) {
  int n = i2d_X509(x, nullptr);
  Bytes out(static_cast<std::size_t>(n));
  unsigned char* p = out.data();
  i2d_X509(x, &p);
  return out;
}

// A certificate for `subject` issued (and signed) by `issuer_key`, named by
// `issuer_cert` (nullptr: self-issued). Issuers here are Ed25519, whose
// signatures are deterministic, so equal inputs give equal DER.
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
                             reinterpret_cast<const unsigned char*>("hsm-migrate emulated Luna"),
                             -1, -1, 0);
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

// ECDSA P-256 with SHA-256 over `msg`, as the format stores it: r || s,
// 32 bytes each, big-endian. Randomised (OpenSSL 3.0 has no RFC 6979).
inline Bytes p256_sign(EVP_PKEY* key, const Bytes& msg) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::uint8_t der[80];
  std::size_t len = sizeof der;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), der, &len, msg.data(), msg.size()) != 1)
    throw std::runtime_error("ECDSA signing failed");
  const unsigned char* p = der;
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)), ECDSA_SIG_free);
  Bytes out(64);
  if (!sig || BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out.data() + 32, 32) != 32)
    throw std::runtime_error("ECDSA signature conversion failed");
  return out;
}

// The HOK's signature of the archive digest, by the key's type.
inline Bytes hok_sign(EVP_PKEY* key, const Bytes& msg) {
  return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? ed25519_sign(key, msg)
                                                       : p256_sign(key, msg);
}

// --- the archive MAC (format version 2) ---
//
// The device computes it under a key it derives from the archive master key
// (AMK): HKDF-SHA256(AMK, no salt, info "hsm-migrate archive mac v2", 32
// bytes), then AES-256-GCM with a 12-byte nonce, no plaintext and
// api::archive_mac_message(finish) as the associated data, stored as
// nonce || tag (plugins/luna/device/archive_keys.hpp). The tests do the same
// with OpenSSL under a fixed AMK and a fixed nonce per golden vector, so a
// golden archive is also a known-answer vector for a device's MAC.

using MacNonce = std::array<std::uint8_t, 12>;

inline std::array<std::uint8_t, 32> test_amk() {
  return seed_of(0x80);
}  // bytes 0x80..0x9f
inline constexpr std::string_view kMacInfo = "hsm-migrate archive mac v2";

inline std::array<std::uint8_t, 32> mac_key_of(const std::array<std::uint8_t, 32>& amk) {
  std::array<std::uint8_t, 32> out{};
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(amk.data()),
                                        amk.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(kMacInfo.data()),
                                        kMacInfo.size()),
      OSSL_PARAM_construct_end()};
  const bool ok = ctx && EVP_KDF_derive(ctx, out.data(), out.size(), params) > 0;
  EVP_KDF_CTX_free(ctx);
  if (!ok) throw std::runtime_error("HKDF failed");
  return out;
}

// AES-256-GCM over no plaintext with `message` as associated data:
// nonce (12) || tag (16).
inline Bytes gcm_mac(const std::array<std::uint8_t, 32>& key, const MacNonce& nonce,
                     const Bytes& message) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(),
                                                                    EVP_CIPHER_CTX_free);
  Bytes out(nonce.begin(), nonce.end());
  out.resize(kMacSize);
  int len = 0;
  if (!c ||
      EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1 ||
      EVP_EncryptUpdate(c.get(), nullptr, &len, message.data(), static_cast<int>(message.size())) !=
          1 ||
      EVP_EncryptFinal_ex(c.get(), nullptr, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, 16, out.data() + 12) != 1)
    throw std::runtime_error("AES-256-GCM failed");
  return out;
}

// The source device's side of finishing an archive, for tests: the HOK key
// signs the archive digest and, from version 2, the archive is MAC'd under
// test_amk() with `mac_nonce` (a real device draws a fresh nonce).
inline ArchiveSealer sealer_for(EVP_PKEY* hok, std::uint32_t version = kFormatVersion,
                                MacNonce mac_nonce = {0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6,
                                                      0xc7, 0xc8, 0xc9, 0xca, 0xcb}) {
  return [hok, version, mac_nonce](const api::ArchiveFinish& f) -> Result<api::ArchiveSeal> {
    api::ArchiveSeal out;
    out.signature = hok_sign(hok, Bytes(f.archive_digest.begin(), f.archive_digest.end()));
    if (version >= 2)
      out.mac = gcm_mac(mac_key_of(test_amk()), mac_nonce, api::archive_mac_message(f));
    return out;
  };
}

enum class HokKind { ed25519, p256 };

// A fixed manufacturing root (Ed25519) and device HOK, with their
// certificates.
struct Fleet {
  Key root, hok;
  Bytes root_cert, hok_cert;
  explicit Fleet(std::uint8_t root_seed = 0x01, std::uint8_t hok_seed = 0x21,
                 const std::string& root_cn = "Golden Manufacturing Root",
                 const std::string& hok_cn = "hsm-a HOK", HokKind kind = HokKind::ed25519)
      : root(ed25519_from_seed(seed_of(root_seed))),
        hok(kind == HokKind::ed25519 ? ed25519_from_seed(seed_of(hok_seed))
                                     : p256_from_scalar(seed_of(hok_seed))) {
    root_cert = make_certificate(root.get(), root_cn, root.get(), nullptr, 1);
    hok_cert = make_certificate(hok.get(), hok_cn, root.get(), &root_cert, 2);
  }
  std::vector<Bytes> chain() const { return {hok_cert, root_cert}; }
  ArchiveSealer sealer(std::uint32_t version = kFormatVersion) const {
    return sealer_for(hok.get(), version);
  }
  Digest root_sha256() const { return certificate_sha256(root_cert); }
  // What a reader of this fleet's archives passes: its root, pinned.
  VerifyOptions trust() const {
    VerifyOptions o;
    o.trusted_roots = {root_sha256()};
    return o;
  }
};

// XChaCha20-Poly1305 (libsodium) as a device would seal a blob: nonce || ct || tag.
inline Bytes seal(const std::array<std::uint8_t, 32>& key,
                  const std::array<std::uint8_t, 24>& nonce, const std::string& plaintext,
                  const Bytes& ad) {
  Bytes out(nonce.begin(), nonce.end());
  out.resize(nonce.size() + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data() + nonce.size(), &clen, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), ad.data(), ad.size(), nullptr, nonce.data(), key.data());
  out.resize(nonce.size() + clen);
  return out;
}

// Opens a sealed blob; nullopt when authentication fails.
inline std::optional<std::string> open_sealed(const std::array<std::uint8_t, 32>& key,
                                              const Bytes& sealed, const Bytes& ad) {
  if (sealed.size() < 24 + crypto_aead_xchacha20poly1305_ietf_ABYTES) return std::nullopt;
  std::string pt(sealed.size() - 24 - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(pt.data()), &plen, nullptr, sealed.data() + 24,
          sealed.size() - 24, ad.data(), ad.size(), sealed.data(), key.data()) != 0)
    return std::nullopt;
  pt.resize(plen);
  return pt;
}

// --- the golden archives' inputs (tests/data/archive/golden-*.hsmar) ---
//
//   v1       golden-v1.hsmar: format 1, Luna 7 V1 partition, Ed25519 HOK
//            (written by the writer's format_version = 1 path only to prove
//            it still gives the committed bytes).
//   v2       golden-v2.hsmar: format 2, a SUBSET archive (selector
//            "clés-émission"), Ed25519 HOK, archive MAC under test_amk().
//   v2_p256  golden-v2-p256.hsmar: as v2 with its own id and MAC nonce, the
//            HOK key ECDSA P-256 (its signature is randomised: only it
//            differs from one writing to the next).

enum class Golden { v1, v2, v2_p256 };

struct GoldenBlob {
  std::uint64_t handle;
  BlobType type;
  std::string label;
  std::string plaintext;
};

inline std::string golden_name(Golden g) {
  switch (g) {
    case Golden::v1:
      return "golden-v1";
    case Golden::v2:
      return "golden-v2";
    case Golden::v2_p256:
      return "golden-v2-p256";
  }
  return {};
}
inline std::uint32_t golden_version(Golden g) {
  return g == Golden::v1 ? 1 : 2;
}

inline ArchiveId golden_archive_id(Golden g = Golden::v1) {
  const std::uint8_t base = g == Golden::v1 ? 0xa0 : g == Golden::v2 ? 0xb0 : 0xe0;
  ArchiveId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(base + i);
  return id;
}
inline std::array<std::uint8_t, 32> golden_blob_key() {
  std::array<std::uint8_t, 32> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0x60 + i);
  return k;
}
// Blob nonces: every byte 0x40 + index (v1), 0x50 + index (v2 vectors).
inline std::array<std::uint8_t, 24> golden_nonce(std::uint64_t index, Golden g = Golden::v1) {
  std::array<std::uint8_t, 24> n{};
  n.fill(static_cast<std::uint8_t>((g == Golden::v1 ? 0x40 : 0x50) + index));
  return n;
}
// The archive MAC's nonce: 0xc0..0xcb (v2), 0xd0..0xdb (v2_p256). Each
// vector has its own, so that no two of them share a GCM nonce under one key.
inline MacNonce golden_mac_nonce(Golden g) {
  MacNonce n{};
  for (std::size_t i = 0; i < n.size(); ++i)
    n[i] = static_cast<std::uint8_t>((g == Golden::v2_p256 ? 0xd0 : 0xc0) + i);
  return n;
}
inline std::vector<GoldenBlob> golden_blobs(Golden g = Golden::v1) {
  if (g == Golden::v1)
    return {
        {0x1, BlobType::smk, "SMK", "golden SKS master key (test bytes, not a key)"},
        {0x10, BlobType::sim4, "signing-key-\xc3\xa9",
         "golden SIM4 blob 1: an Ed25519 signing key"},
        {0x11, BlobType::sim4, "backup-aes-256", "golden SIM4 blob 2: an AES-256 key"},
    };
  // A V1 partition's subset, as a device writes it: the SKS master key
  // first (handle 0), then the SIM4 blobs of the objects the selector
  // matched (label "clés-émission").
  return {
      {0x0, BlobType::smk, "payments SMK", "golden v2 SKS master key (test bytes, not a key)"},
      {0x24, BlobType::sim4, "cl\xc3\xa9s-\xc3\xa9mission",
       "golden v2 SIM4 blob 1: a card issuing key"},
      {0x31, BlobType::sim4, "cl\xc3\xa9s-\xc3\xa9mission",
       "golden v2 SIM4 blob 2: its backup twin"},
  };
}
inline Fleet golden_fleet(Golden g = Golden::v1) {
  return Fleet(0x01, 0x21, "Golden Manufacturing Root", "hsm-a HOK",
               g == Golden::v2_p256 ? HokKind::p256 : HokKind::ed25519);
}
// The header's inputs. golden_header(fleet) (v1 inputs) is also the plain
// base header of many tests: complete scope, no selector, valid in v2.
inline ArchiveHeader golden_header(const Fleet& fleet, Golden g = Golden::v1) {
  ArchiveHeader h;
  h.format_version = golden_version(g);
  h.archive_id = golden_archive_id(g);
  h.source_device = "hsm-a";
  h.device_kind = "luna7";
  h.firmware = "7.8.4";
  h.fm_class = "never";
  h.partition_name = "payments";
  h.partition_type = "v1";
  if (g == Golden::v1) {
    h.created_at = 1700000000;  // 2023-11-14T22:13:20Z
    for (std::size_t i = 0; i < h.domain_fingerprint.size(); ++i)
      h.domain_fingerprint[i] = static_cast<std::uint8_t>(0xd0 ^ i);
    h.wrapped_master_key.resize(72);  // opaque to the format: fixed test bytes
    for (std::size_t i = 0; i < h.wrapped_master_key.size(); ++i)
      h.wrapped_master_key[i] = static_cast<std::uint8_t>(0x5a ^ i);
  } else {
    h.created_at = 1767225600;  // 2026-01-01T00:00:00Z
    h.scope = ArchiveScope::subset;
    h.selector = "cl\xc3\xa9s-\xc3\xa9mission";
    for (std::size_t i = 0; i < h.domain_fingerprint.size(); ++i)  // the per-archive domain tag
      h.domain_fingerprint[i] = static_cast<std::uint8_t>(0xe0 ^ i);
    h.wrapped_master_key.resize(76);  // opaque to the format: "AMK2" then fixed test bytes
    for (std::size_t i = 0; i < h.wrapped_master_key.size(); ++i)
      h.wrapped_master_key[i] = static_cast<std::uint8_t>(0xa5 ^ i);
    std::memcpy(h.wrapped_master_key.data(), "AMK2", 4);
  }
  h.certificates = fleet.chain();
  return h;
}

// Writes a golden archive to `path` (identity given, the vector's format
// version and MAC nonce).
inline Result<WriteSummary> write_golden(const std::filesystem::path& path, Golden g = Golden::v1,
                                         bool overwrite = false) {
  const Fleet fleet = golden_fleet(g);
  ArchiveWriterOptions opt;
  opt.identity_given = true;
  opt.format_version = golden_version(g);
  opt.overwrite = overwrite;
  HSM_TRY_ASSIGN(auto w,
                 ArchiveWriter::create(
                     path, golden_header(fleet, g),
                     sealer_for(fleet.hok.get(), opt.format_version, golden_mac_nonce(g)), opt));
  for (const auto& b : golden_blobs(g)) {
    Bytes sealed = seal(golden_blob_key(), golden_nonce(w->next_index(), g), b.plaintext,
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
  std::uint32_t version;
  std::size_t body_length, header_digest_offset, header_end;
  // Header fields: the six strings start at 40; v2 adds scope and selector
  // after partition_type (scope_offset is 0 in v1).
  std::size_t scope_offset, selector_offset, domain_offset;
  std::vector<RecordLayout> records;
  std::size_t index_offset;
  std::vector<EntryLayout> entries;
  std::size_t index_digest_offset, trailer_offset, trailer_size;
  // Trailer fields: digest at trailer_offset, signature at +32, then (v2)
  // the MAC, the index offset and the end magic.
  std::size_t signature_offset, mac_offset, mac_length, index_offset_field, end_magic_offset;
};

// Walks an archive the way archive-format.md lays it out. Throws on
// anything malformed (tests only feed it archives the writer made).
inline Layout layout_of(const Bytes& b) {
  Layout l{};
  l.version = static_cast<std::uint32_t>(le(b, 8, 4));
  l.body_length = le(b, 12, 4);
  l.header_digest_offset = 16 + l.body_length;
  l.header_end = l.header_digest_offset + 32;
  std::size_t p = 16 + 16 + 8;
  for (int i = 0; i < 6; ++i) p += 1 + b.at(p);
  if (l.version >= 2) {
    l.scope_offset = p;
    l.selector_offset = p + 1;
    p += 2 + b.at(p + 1);
  }
  l.domain_offset = p;
  l.trailer_size = trailer_size(l.version);
  l.trailer_offset = b.size() - l.trailer_size;
  l.signature_offset = l.trailer_offset + kDigestSize;
  l.mac_offset = l.signature_offset + kSignatureSize;
  l.mac_length = l.version >= 2 ? kMacSize : 0;
  l.index_offset_field = l.mac_offset + l.mac_length;
  l.end_magic_offset = l.index_offset_field + 8;
  l.index_offset = le(b, l.index_offset_field, 8);
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
  if (off + 32 != l.trailer_offset || l.records.size() != count ||
      l.end_magic_offset + 8 != b.size())
    throw std::runtime_error("bad layout");
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
    for (const auto& e : std::filesystem::directory_iterator(path_))
      out.push_back(e.path().filename().string());
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
