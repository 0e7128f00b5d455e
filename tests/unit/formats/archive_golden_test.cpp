// Golden vectors (SoftHSM AESTests.cpp habit): small archives written once
// with the identity given from the fixed inputs of test_support.hpp, each
// with a JSON file describing every field of it:
//
//   golden-v1.hsmar       format 1 (frozen: never regenerated; the writer's
//                         format_version = 1 path must keep producing it)
//   golden-v2.hsmar       format 2, a subset archive, Ed25519 HOK, archive MAC
//   golden-v2-p256.hsmar  format 2, the HOK key ECDSA P-256
//
// One test decodes each committed file and compares it field by field with
// its JSON; another proves today's writer still produces exactly those bytes;
// another recomputes the v2 archive MAC independently (libsodium and
// OpenSSL, from the file's bytes alone), so that golden-v2 is also a
// known-answer vector for a device's archive MAC.
//
// Every old version must stay readable: a new format version adds golden-vN
// files and keeps these.
//
// To regenerate the version 2 files after a deliberate change (and then bump
// the format version):
//   test_formats --gtest_also_run_disabled_tests --gtest_filter='*Regenerate*'
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "formats/archive_reader.hpp"
#include "tests/unit/formats/test_support.hpp"

namespace hsm::formats {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;
using test::Golden;

const fs::path kDir = fs::path(HSM_TEST_DATA_DIR) / "archive";
fs::path archive_path(Golden g) {
  return kDir / (test::golden_name(g) + ".hsmar");
}
fs::path json_path(Golden g) {
  return kDir / (test::golden_name(g) + ".json");
}

std::string hex(const Bytes& b, std::size_t off, std::size_t n) {
  return to_hex(b.data() + off, n);
}
Bytes slice(const Bytes& b, std::size_t off, std::size_t n) {
  return Bytes(b.begin() + static_cast<long>(off), b.begin() + static_cast<long>(off + n));
}
// SHA-256 by libsodium: a second implementation beside the library's OpenSSL.
Digest sodium_sha256(const Bytes& b, std::size_t off, std::size_t n) {
  Digest d{};
  crypto_hash_sha256(d.data(), b.data() + off, n);
  return d;
}
std::string hex_sha256(const Bytes& b, std::size_t off, std::size_t n) {
  return to_hex(sodium_sha256(b, off, n));
}
std::string text(const Bytes& b, std::size_t off, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(b.data() + off), n);
}

// The 100-byte message the archive MAC covers, rebuilt from the file's own
// bytes (archive-format.md, "Archive MAC"), not by api::archive_mac_message.
Bytes mac_message_from_file(const Bytes& b, const test::Layout& l) {
  const std::string ctx = "HSMAR-MAC-v2";
  Bytes m(ctx.begin(), ctx.end());
  const auto add = [&](std::size_t off, std::size_t n) {
    m.insert(m.end(), b.begin() + static_cast<long>(off), b.begin() + static_cast<long>(off + n));
  };
  add(16, 16);                      // archive id
  add(l.index_offset + 8, 8);       // blob count, u64le, as the index holds it
  add(l.header_digest_offset, 32);  // header digest
  add(l.trailer_offset, 32);        // archive digest
  return m;
}

// Describes every field of an archive, from its bytes, following
// archive-format.md (not the library's reader). The version 1 keys are
// exactly those of the committed golden-v1.json.
json describe(const Bytes& b, const std::string& name) {
  using test::le;
  const test::Layout l = test::layout_of(b);
  const bool v2 = l.version >= 2;
  json j;
  j["format"] = "hsm-migrate archive (formats/archive-format.md)";
  j["file"] = {{"name", name}, {"size", b.size()}, {"sha256", hex_sha256(b, 0, b.size())}};

  json h;
  h["offset"] = 0;
  h["magic"] = hex(b, 0, 8);
  h["format_version"] = le(b, 8, 4);
  h["body_length"] = l.body_length;
  std::size_t p = 16;
  h["archive_id"] = hex(b, p, 16), p += 16;
  h["created_at"] = static_cast<std::int64_t>(le(b, p, 8)), p += 8;
  for (const char* f : {"source_device", "device_kind", "firmware", "fm_class", "partition_name",
                        "partition_type"}) {
    std::size_t n = b.at(p);
    h[f] = text(b, p + 1, n);
    p += 1 + n;
  }
  if (v2) {
    const std::uint8_t scope = b.at(p);
    h["scope_offset"] = p;
    h["scope"] = scope;
    h["scope_name"] = scope == 1 ? "complete" : scope == 2 ? "subset" : "(invalid)";
    p += 1;
    std::size_t n = b.at(p);
    h["selector"] = text(b, p + 1, n);
    p += 1 + n;
    h["domain_tag_offset"] = p;
    h["domain_tag"] = hex(b, p, 32), p += 32;
  } else {
    h["domain_fingerprint"] = hex(b, p, 32), p += 32;
  }
  std::size_t wlen = le(b, p, 4);
  h["wrapped_master_key_length"] = wlen;
  h["wrapped_master_key"] = hex(b, p + 4, wlen);
  p += 4 + wlen;
  std::size_t certs = b.at(p++);
  h["certificate_count"] = certs;
  for (std::size_t i = 0; i < certs; ++i) {
    std::size_t n = le(b, p, 4);
    Bytes der = slice(b, p + 4, n);
    h["certificates"].push_back({{"role", i == 0           ? "hok"
                                          : i + 1 == certs ? "root"
                                                           : "intermediate"},
                                 {"offset", p},
                                 {"length", n},
                                 {"sha256", to_hex(sodium_sha256(der, 0, der.size()))},
                                 {"der", to_hex(der)}});
    p += 4 + n;
  }
  h["header_digest_offset"] = l.header_digest_offset;
  h["header_digest"] = hex(b, l.header_digest_offset, 32);
  h["end"] = l.header_end;
  j["header"] = h;

  for (std::size_t i = 0; i < l.records.size(); ++i) {
    const auto& r = l.records[i];
    std::uint64_t handle = le(b, r.offset, 8);
    std::uint8_t type = b.at(r.offset + 8);
    Bytes sealed = slice(b, r.sealed_offset, r.sealed_length);
    ArchiveId aid{};
    std::copy(b.begin() + 16, b.begin() + 32, aid.begin());
    Bytes ad = blob_associated_data(aid, i, handle, type);
    json rec = {{"index", i},
                {"offset", r.offset},
                {"length", r.length},
                {"handle", handle},
                {"type", type},
                {"type_name", to_string(static_cast<BlobType>(type))},
                {"label", text(b, r.label_offset, r.label_length)},
                {"sealed_length", r.sealed_length},
                {"sealed", to_hex(sealed)},
                {"record_sha256", hex_sha256(b, r.offset, r.length)},
                {"associated_data", to_hex(ad)}};
    auto pt = test::open_sealed(test::golden_blob_key(), sealed, ad);
    rec["plaintext"] = pt ? *pt : "(does not open)";
    j["blobs"].push_back(rec);
  }

  json ix;
  ix["offset"] = l.index_offset;
  ix["magic"] = hex(b, l.index_offset, 8);
  ix["count"] = le(b, l.index_offset + 8, 8);
  ix["sealed_bytes"] = le(b, l.index_offset + 16, 8);
  for (const auto& e : l.entries)
    ix["entries"].push_back({{"at", e.offset},
                             {"offset", le(b, e.offset, 8)},
                             {"length", le(b, e.offset + 8, 4)},
                             {"handle", le(b, e.offset + 12, 8)},
                             {"type", b.at(e.offset + 20)},
                             {"label", text(b, e.label_offset, b.at(e.offset + 21))},
                             {"record_sha256", hex(b, e.hash_offset, 32)}});
  ix["digest_offset"] = l.index_digest_offset;
  ix["digest"] = hex(b, l.index_digest_offset, 32);
  j["index"] = ix;

  const std::size_t t = l.trailer_offset;
  json tr = {{"offset", t},
             {"archive_digest", hex(b, t, 32)},
             {"signature", hex(b, l.signature_offset, 64)}};
  if (v2) {
    tr["size"] = l.trailer_size;
    tr["archive_mac_offset"] = l.mac_offset;
    tr["archive_mac"] = hex(b, l.mac_offset, kMacSize);
    tr["archive_mac_nonce"] = hex(b, l.mac_offset, 12);
    tr["archive_mac_tag"] = hex(b, l.mac_offset + 12, 16);
    tr["archive_mac_message"] = to_hex(mac_message_from_file(b, l));
  }
  tr["index_offset"] = le(b, l.index_offset_field, 8);
  tr["end_magic"] = hex(b, l.end_magic_offset, 8);
  j["trailer"] = tr;
  return j;
}

// The inputs of a version 2 vector, as documentation for anyone who wants
// to rebuild it (or check a device's MAC against it).
json inputs_v2(Golden g) {
  const bool p256 = g == Golden::v2_p256;
  json in;
  in["note"] =
      "tests/unit/formats/test_support.hpp builds these; the writer runs with identity_given "
      "(archive id and "
      "created_at as given) and format_version 2";
  in["root_key"] = "Ed25519, seed = bytes 0x01..0x20";
  in["root_seed"] = to_hex(test::seed_of(0x01));
  if (p256) {
    in["hok_key"] = "ECDSA P-256, private scalar = bytes 0x21..0x40 (big-endian)";
    in["hok_scalar"] = to_hex(test::seed_of(0x21));
    in["hok_signature"] =
        "ECDSA P-256 with SHA-256 over the 32-byte archive digest, stored r || s (32 bytes each, "
        "big-endian); "
        "randomised (OpenSSL 3.0 has no RFC 6979), so a rewrite differs from this file in the "
        "signature only";
  } else {
    in["hok_key"] = "Ed25519, seed = bytes 0x21..0x40";
    in["hok_seed"] = to_hex(test::seed_of(0x21));
    in["hok_signature"] = "Ed25519 (pure) over the 32-byte archive digest";
  }
  in["certificates"] =
      "X.509 v3, no extensions, O=hsm-migrate emulated Luna, notBefore 1672531200, 7300 days; root "
      "CN=Golden "
      "Manufacturing Root serial 1 self-signed; HOK CN=hsm-a HOK serial 2, signed by the root";
  in["archive_id"] = to_hex(test::golden_archive_id(g));
  in["created_at"] = "1767225600 (2026-01-01T00:00:00Z)";
  in["scope"] = "2 (subset): the SKS master key and the two objects labelled by the selector";
  in["selector"] = "cl\xc3\xa9s-\xc3\xa9mission";
  in["blob_aead"] =
      "XChaCha20-Poly1305-IETF (libsodium), sealed = nonce(24) || ciphertext || tag(16)";
  in["blob_key"] = to_hex(test::golden_blob_key());
  in["blob_nonces"] = "24 bytes, each 0x50 + index";
  in["wrapped_master_key"] =
      "opaque to the format: 76 test bytes 0xa5 ^ i, the first four replaced by \"AMK2\"";
  in["domain_tag"] = "opaque to the format: 32 test bytes 0xe0 ^ i";
  in["archive_mac"] =
      "AES-256-GCM, no plaintext, associated data = archive_mac_message (below), stored nonce(12) "
      "|| tag(16)";
  in["archive_mac_message"] =
      "\"HSMAR-MAC-v2\" || archive_id(16) || u64le blob_count || header_digest(32) || "
      "archive_digest(32): 100 bytes";
  in["archive_master_key"] = to_hex(test::test_amk());
  in["mac_key_derivation"] =
      "HKDF-SHA256(archive_master_key, no salt, info \"hsm-migrate archive mac v2\", 32)";
  in["mac_key"] = to_hex(test::mac_key_of(test::test_amk()));
  in["mac_nonce"] = to_hex(test::golden_mac_nonce(g));
  return in;
}

json load_json(Golden g) {
  std::ifstream in(json_path(g));
  return json::parse(in);
}

class GoldenVector : public ::testing::TestWithParam<Golden> {};

TEST_P(GoldenVector, DecodesFieldByField) {
  const Golden g = GetParam();
  ASSERT_TRUE(fs::exists(archive_path(g))) << archive_path(g);
  const Bytes b = test::read_bytes(archive_path(g));
  const json j = load_json(g);

  // The file and every field of its layout, as the JSON records them.
  const json got = describe(b, test::golden_name(g) + ".hsmar");
  for (const char* part : {"file", "header", "blobs", "index", "trailer"})
    EXPECT_EQ(got[part], j[part]) << "field group \"" << part << "\" differs";

  // The library's reader agrees with the JSON.
  auto h = read_header(archive_path(g));
  ASSERT_TRUE(h.ok()) << h.error().message;
  const json& jh = j["header"];
  EXPECT_EQ(h->format_version, jh["format_version"]);
  EXPECT_EQ(h->format_version, test::golden_version(g));
  EXPECT_EQ(to_hex(h->archive_id), jh["archive_id"]);
  EXPECT_EQ(h->created_at, jh["created_at"]);
  EXPECT_EQ(h->source_device, jh["source_device"]);
  EXPECT_EQ(h->device_kind, jh["device_kind"]);
  EXPECT_EQ(h->firmware, jh["firmware"]);
  EXPECT_EQ(h->fm_class, jh["fm_class"]);
  EXPECT_EQ(h->partition_name, jh["partition_name"]);
  EXPECT_EQ(h->partition_type, jh["partition_type"]);
  if (g == Golden::v1) {
    // Version 1 records no scope: it reads as unknown.
    EXPECT_EQ(h->scope, ArchiveScope::unknown);
    EXPECT_EQ(h->selector, "");
    EXPECT_EQ(to_hex(h->domain_fingerprint), jh["domain_fingerprint"]);
  } else {
    EXPECT_EQ(h->scope, ArchiveScope::subset);
    EXPECT_EQ(static_cast<int>(h->scope), jh["scope"]);
    EXPECT_EQ(h->selector, jh["selector"]);
    EXPECT_EQ(h->selector, "cl\xc3\xa9s-\xc3\xa9mission");
    EXPECT_EQ(to_hex(h->domain_fingerprint), jh["domain_tag"]);
  }
  EXPECT_EQ(to_hex(h->wrapped_master_key), jh["wrapped_master_key"]);
  ASSERT_EQ(h->certificates.size(), jh["certificates"].size());
  for (std::size_t i = 0; i < h->certificates.size(); ++i)
    EXPECT_EQ(to_hex(h->certificates[i]), jh["certificates"][i]["der"]);
  EXPECT_EQ(to_hex(h->header_digest), jh["header_digest"]);

  // Verified under the root the JSON names, pinned.
  VerifyOptions trust;
  auto root = digest_from_hex(j["root_sha256"].get<std::string>());
  ASSERT_TRUE(root.has_value());
  trust.trusted_roots = {*root};
  auto rep = verify(archive_path(g), trust);
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_TRUE(rep->root_trusted);
  EXPECT_EQ(rep->blobs_checked, j["index"]["count"]);
  EXPECT_EQ(rep->sealed_bytes, j["index"]["sealed_bytes"]);
  EXPECT_EQ(rep->bytes_checked, j["file"]["size"]);
  EXPECT_EQ(to_hex(rep->archive_digest), j["trailer"]["archive_digest"]);
  EXPECT_EQ(rep->root_sha256, *root);
  EXPECT_EQ(rep->smk_blobs, 1u);
  EXPECT_EQ(rep->sim4_blobs, 2u);
  if (g == Golden::v1) {
    EXPECT_TRUE(rep->archive_mac.empty()) << "version 1 has no archive MAC";
    EXPECT_EQ(j["trailer"]["offset"].get<std::size_t>() + kTrailerSizeV1, b.size());
  } else {
    EXPECT_EQ(to_hex(rep->archive_mac), j["trailer"]["archive_mac"]);
    EXPECT_EQ(j["trailer"]["offset"].get<std::size_t>() + kTrailerSizeV2, b.size());
  }

  std::size_t i = 0;
  Status s = for_each_blob(
      archive_path(g),
      [&](const BlobRecord& r) -> Status {
        const json& jb = j["blobs"][i];
        EXPECT_EQ(r.index, jb["index"]);
        EXPECT_EQ(r.handle, jb["handle"]);
        EXPECT_EQ(static_cast<int>(r.type), jb["type"]);
        EXPECT_EQ(r.label, jb["label"]);
        EXPECT_EQ(to_hex(r.sealed), jb["sealed"]);
        Bytes ad = blob_associated_data(h->archive_id, r.index, r.handle,
                                        static_cast<std::uint8_t>(r.type));
        EXPECT_EQ(to_hex(ad), jb["associated_data"]);
        EXPECT_EQ(test::open_sealed(test::golden_blob_key(), r.sealed, ad),
                  jb["plaintext"].get<std::string>());
        ++i;
        return {};
      },
      trust);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(i, 3u);
}

// The HOK's signature, checked with another implementation than the
// library's: libsodium for Ed25519, OpenSSL's ECDSA_do_verify for P-256.
TEST_P(GoldenVector, SignatureVerifiesIndependently) {
  const Golden g = GetParam();
  const Bytes b = test::read_bytes(archive_path(g));
  const test::Layout l = test::layout_of(b);
  const Digest digest = sodium_sha256(b, 0, l.trailer_offset);
  ASSERT_EQ(to_hex(digest), hex(b, l.trailer_offset, 32))
      << "archive digest = SHA-256 of every byte before it";
  auto h = read_header(MemorySource(b));
  ASSERT_TRUE(h.ok()) << h.error().message;
  const Bytes& hok_der = h->certificates.front();
  const unsigned char* p = hok_der.data();
  std::unique_ptr<X509, decltype(&X509_free)> x(
      d2i_X509(nullptr, &p, static_cast<long>(hok_der.size())), X509_free);
  ASSERT_TRUE(x);
  EVP_PKEY* key = X509_get0_pubkey(x.get());
  ASSERT_NE(key, nullptr);
  const std::uint8_t* sig = b.data() + l.signature_offset;
  if (g == Golden::v2_p256) {
    ASSERT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> es(ECDSA_SIG_new(), ECDSA_SIG_free);
    ECDSA_SIG_set0(es.get(), BN_bin2bn(sig, 32, nullptr), BN_bin2bn(sig + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int n = i2d_ECDSA_SIG(es.get(), &der);
    ASSERT_GT(n, 0);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EXPECT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
    EXPECT_EQ(
        EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(n), digest.data(), digest.size()),
        1);
    OPENSSL_free(der);
  } else {
    ASSERT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_ED25519);
    std::uint8_t pk[32];
    std::size_t pk_len = sizeof pk;
    ASSERT_EQ(EVP_PKEY_get_raw_public_key(key, pk, &pk_len), 1);
    EXPECT_EQ(crypto_sign_verify_detached(sig, digest.data(), digest.size(), pk), 0);
  }
}

TEST_P(GoldenVector, TodaysWriterProducesTheSameBytes) {
  const Golden g = GetParam();
  test::TempDir dir;
  auto sum = test::write_golden(dir / "again.hsmar", g);
  ASSERT_TRUE(sum.ok()) << sum.error().message;
  const Bytes want = test::read_bytes(archive_path(g));
  Bytes got = test::read_bytes(dir / "again.hsmar");
  ASSERT_EQ(got.size(), want.size());
  if (g == Golden::v2_p256) {
    // ECDSA is randomised: the fresh signature must verify (the writer
    // checked it, and so does the reader), then every other byte must match.
    const test::Layout l = test::layout_of(got);
    auto rep = verify(MemorySource(got), test::golden_fleet(g).trust());
    ASSERT_TRUE(rep.ok()) << rep.error().message;
    std::copy(want.begin() + static_cast<long>(l.signature_offset),
              want.begin() + static_cast<long>(l.signature_offset + kSignatureSize),
              got.begin() + static_cast<long>(l.signature_offset));
  }
  auto diff = std::mismatch(got.begin(), got.end(), want.begin());
  EXPECT_TRUE(diff.first == got.end())
      << "first difference at offset " << (diff.first - got.begin());
  if (g != Golden::v1) {
    EXPECT_EQ(to_hex(sum->archive_mac), load_json(g)["trailer"]["archive_mac"]);
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, GoldenVector,
                         ::testing::Values(Golden::v1, Golden::v2, Golden::v2_p256),
                         [](const auto& info) {
                           std::string n = test::golden_name(info.param);
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// HKDF-SHA256 (RFC 5869) from libsodium's HMAC-SHA256, one output block:
// PRK = HMAC(salt = 32 zero bytes, IKM); OKM = HMAC(PRK, info || 0x01).
std::array<std::uint8_t, 32> hkdf_by_sodium(const std::array<std::uint8_t, 32>& ikm,
                                            std::string_view info) {
  std::uint8_t zero_salt[32] = {};
  std::uint8_t prk[32];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, zero_salt, sizeof zero_salt);
  crypto_auth_hmacsha256_update(&st, ikm.data(), ikm.size());
  crypto_auth_hmacsha256_final(&st, prk);
  std::array<std::uint8_t, 32> okm{};
  const std::uint8_t one = 1;
  crypto_auth_hmacsha256_init(&st, prk, sizeof prk);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(info.data()),
                                info.size());
  crypto_auth_hmacsha256_update(&st, &one, 1);
  crypto_auth_hmacsha256_final(&st, okm.data());
  return okm;
}

// The archive MAC of a v2 golden file equals an AES-256-GCM computation made
// here from the file's bytes and the documented inputs only: the message is
// rebuilt by hand, the key derived with libsodium's HMAC, the tag computed
// by libsodium (where the CPU has AES-NI) and checked by OpenSSL's decrypt.
class GoldenMac : public ::testing::TestWithParam<Golden> {};

TEST_P(GoldenMac, IsAnIndependentAesGcmComputation) {
  const Golden g = GetParam();
  const Bytes b = test::read_bytes(archive_path(g));
  const json in = load_json(g)["inputs"];
  const test::Layout l = test::layout_of(b);
  ASSERT_EQ(l.version, 2u);
  ASSERT_EQ(l.trailer_size, 140u);
  const Bytes msg = mac_message_from_file(b, l);
  ASSERT_EQ(msg.size(), 100u);
  // The pieces of the message are what they claim to be.
  EXPECT_EQ(to_hex(sodium_sha256(b, 0, l.header_digest_offset)),
            hex(b, l.header_digest_offset, 32));
  EXPECT_EQ(to_hex(sodium_sha256(b, 0, l.trailer_offset)), hex(b, l.trailer_offset, 32));
  EXPECT_EQ(test::le(b, l.index_offset + 8, 8), 3u);

  const auto amk = digest_from_hex(in["archive_master_key"].get<std::string>());
  ASSERT_TRUE(amk.has_value());
  const auto key = hkdf_by_sodium(*amk, "hsm-migrate archive mac v2");
  EXPECT_EQ(to_hex(key), in["mac_key"]) << "documented MAC key = HKDF of the documented master key";
  EXPECT_EQ(key, test::mac_key_of(test::test_amk())) << "libsodium HKDF = OpenSSL HKDF";
  const std::uint8_t* nonce = b.data() + l.mac_offset;
  const std::uint8_t* tag = nonce + 12;
  EXPECT_EQ(to_hex(nonce, 12), in["mac_nonce"]);

  // libsodium's AES-256-GCM (needs AES-NI; this machine kind has it).
  ASSERT_EQ(sodium_init() >= 0, true);
  if (crypto_aead_aes256gcm_is_available()) {
    std::uint8_t computed[16], none[1] = {0};  // no plaintext, no ciphertext
    unsigned long long tag_len = 0;
    crypto_aead_aes256gcm_encrypt_detached(none, computed, &tag_len, none, 0, msg.data(),
                                           msg.size(), nullptr, nonce, key.data());
    ASSERT_EQ(tag_len, 16u);
    EXPECT_EQ(to_hex(computed, 16), to_hex(tag, 16)) << "libsodium's tag differs from the file's";
  }

  // OpenSSL's decrypt accepts the tag for this message, and no other.
  const auto gcm_accepts = [&](const Bytes& m) {
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
    int len = 0;
    return EVP_DecryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) == 1 &&
           EVP_DecryptUpdate(c.get(), nullptr, &len, m.data(), static_cast<int>(m.size())) == 1 &&
           EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, 16, const_cast<std::uint8_t*>(tag)) ==
               1 &&
           EVP_DecryptFinal_ex(c.get(), nullptr, &len) == 1;
  };
  EXPECT_TRUE(gcm_accepts(msg));
  Bytes fewer = msg;
  fewer[12 + 16] ^= 1;  // blob count 3 -> 2: a host that dropped a blob
  EXPECT_FALSE(gcm_accepts(fewer));

  // The library's message function builds the same 100 bytes from what the
  // reader reports (a device is handed exactly these).
  auto rep = verify(MemorySource(b), test::golden_fleet(g).trust());
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  api::ArchiveFinish f;
  f.archive_id = rep->header.archive_id;
  f.blob_count = rep->blobs_checked;
  f.header_digest = rep->header.header_digest;
  f.archive_digest = rep->archive_digest;
  EXPECT_EQ(api::archive_mac_message(f), msg);
  EXPECT_EQ(to_hex(rep->archive_mac), hex(b, l.mac_offset, kMacSize));
}

INSTANTIATE_TEST_SUITE_P(Formats, GoldenMac, ::testing::Values(Golden::v2, Golden::v2_p256),
                         [](const auto& info) {
                           std::string n = test::golden_name(info.param);
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// Rewrites golden-v2.* and golden-v2-p256.* (golden-v1 is frozen).
TEST(GoldenVector, DISABLED_Regenerate) {
  for (Golden g : {Golden::v2, Golden::v2_p256}) {
    ASSERT_TRUE(test::write_golden(archive_path(g), g, true).ok());
    const Bytes b = test::read_bytes(archive_path(g));
    json j = describe(b, test::golden_name(g) + ".hsmar");
    json out;
    out["description"] =
        "Golden vector for the hsm-migrate archive format, version 2" +
        std::string(g == Golden::v2_p256 ? " with an ECDSA P-256 HOK" : "") + ": every field of " +
        test::golden_name(g) +
        ".hsmar with its offset. Offsets and lengths in bytes; integers little-endian in the file.";
    out["format_version"] = 2;
    out["inputs"] = inputs_v2(g);
    for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = it.value();
    out["root_sha256"] = to_hex(test::golden_fleet(g).root_sha256());
    std::ofstream(json_path(g)) << out.dump(2) << "\n";
  }
}

}  // namespace
}  // namespace hsm::formats
