// Golden vectors (SoftHSM AESTests.cpp habit): tests/data/archive/golden-v1.hsmar
// is a small archive written once in deterministic mode from the fixed inputs
// of test_support.hpp; golden-v1.json describes every field of it. One test
// decodes the committed file and compares it field by field with the JSON;
// another proves today's writer still produces exactly those bytes.
//
// A new format version adds golden-vN files and keeps these: every old
// version must stay readable.
//
// To regenerate after a deliberate change (and then bump the format version):
//   test_formats --gtest_also_run_disabled_tests --gtest_filter='*Regenerate*'
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "formats/archive_reader.hpp"
#include "tests/unit/formats/test_support.hpp"

namespace hsm::formats {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

const fs::path kDir = fs::path(HSM_TEST_DATA_DIR) / "archive";
const fs::path kArchive = kDir / "golden-v1.hsmar";
const fs::path kJson = kDir / "golden-v1.json";

std::string hex(const Bytes& b, std::size_t off, std::size_t n) { return to_hex(b.data() + off, n); }
// SHA-256 by libsodium: a second implementation beside the library's OpenSSL.
std::string hex_sha256(const Bytes& b, std::size_t off, std::size_t n) {
  Digest d{};
  crypto_hash_sha256(d.data(), b.data() + off, n);
  return to_hex(d);
}
std::string text(const Bytes& b, std::size_t off, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(b.data() + off), n);
}

// Describes every field of an archive, from its bytes, following
// archive-format.md (not the library's reader).
json describe(const Bytes& b) {
  using test::le;
  const test::Layout l = test::layout_of(b);
  json j;
  j["format"] = "hsm-migrate archive (formats/archive-format.md)";
  j["file"] = {{"name", "golden-v1.hsmar"}, {"size", b.size()}, {"sha256", hex_sha256(b, 0, b.size())}};

  json h;
  h["offset"] = 0;
  h["magic"] = hex(b, 0, 8);
  h["format_version"] = le(b, 8, 4);
  h["body_length"] = l.body_length;
  std::size_t p = 16;
  h["archive_id"] = hex(b, p, 16), p += 16;
  h["created_at"] = static_cast<std::int64_t>(le(b, p, 8)), p += 8;
  for (const char* f : {"source_device", "device_kind", "firmware", "fm_class", "partition_name", "partition_type"}) {
    std::size_t n = b.at(p);
    h[f] = text(b, p + 1, n);
    p += 1 + n;
  }
  h["domain_fingerprint"] = hex(b, p, 32), p += 32;
  std::size_t wlen = le(b, p, 4);
  h["wrapped_master_key_length"] = wlen;
  h["wrapped_master_key"] = hex(b, p + 4, wlen);
  p += 4 + wlen;
  std::size_t certs = b.at(p++);
  h["certificate_count"] = certs;
  for (std::size_t i = 0; i < certs; ++i) {
    std::size_t n = le(b, p, 4);
    Bytes der(b.begin() + static_cast<long>(p + 4), b.begin() + static_cast<long>(p + 4 + n));
    h["certificates"].push_back({{"role", i == 0 ? "hok" : i + 1 == certs ? "root" : "intermediate"},
                                 {"offset", p},
                                 {"length", n},
                                 {"sha256", to_hex(certificate_sha256(der))},
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
    Bytes sealed(b.begin() + static_cast<long>(r.sealed_offset),
                 b.begin() + static_cast<long>(r.sealed_offset + r.sealed_length));
    Bytes id(b.begin() + 16, b.begin() + 32);
    ArchiveId aid{};
    std::copy(id.begin(), id.end(), aid.begin());
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
  j["trailer"] = {{"offset", t},
                  {"archive_digest", hex(b, t, 32)},
                  {"signature", hex(b, t + 32, 64)},
                  {"index_offset", le(b, t + 96, 8)},
                  {"end_magic", hex(b, t + 104, 8)}};
  return j;
}

json inputs() {
  return {{"note", "tests/unit/formats/test_support.hpp builds these; the writer runs in deterministic mode"},
          {"root_key", "Ed25519, seed = bytes 0x01..0x20"},
          {"root_seed", to_hex(test::seed_of(0x01))},
          {"hok_key", "Ed25519, seed = bytes 0x21..0x40"},
          {"hok_seed", to_hex(test::seed_of(0x21))},
          {"certificates", "X.509 v3, no extensions, O=hsm-migrate emulated Luna, notBefore 1672531200, 7300 days; "
                           "root CN=Golden Manufacturing Root serial 1 self-signed; HOK CN=hsm-a HOK serial 2"},
          {"blob_aead", "XChaCha20-Poly1305-IETF (libsodium), sealed = nonce(24) || ciphertext || tag(16)"},
          {"blob_key", to_hex(test::golden_blob_key())},
          {"blob_nonces", "24 bytes, each 0x40 + index"},
          {"wrapped_master_key", "opaque to the format: 72 test bytes 0x5a ^ i"},
          {"domain_fingerprint", "32 test bytes 0xd0 ^ i"}};
}

TEST(GoldenV1, DecodesFieldByField) {
  ASSERT_TRUE(fs::exists(kArchive)) << kArchive;
  const Bytes b = test::read_bytes(kArchive);
  std::ifstream in(kJson);
  const json j = json::parse(in);

  // The file and every field of its layout, as the JSON records them.
  const json got = describe(b);
  for (const char* part : {"file", "header", "blobs", "index", "trailer"})
    EXPECT_EQ(got[part], j[part]) << "field group \"" << part << "\" differs";

  // The library's reader agrees with the JSON.
  auto h = read_header(kArchive);
  ASSERT_TRUE(h.ok()) << h.error().message;
  const json& jh = j["header"];
  EXPECT_EQ(h->format_version, jh["format_version"]);
  EXPECT_EQ(to_hex(h->archive_id), jh["archive_id"]);
  EXPECT_EQ(h->created_at, jh["created_at"]);
  EXPECT_EQ(h->source_device, jh["source_device"]);
  EXPECT_EQ(h->device_kind, jh["device_kind"]);
  EXPECT_EQ(h->firmware, jh["firmware"]);
  EXPECT_EQ(h->fm_class, jh["fm_class"]);
  EXPECT_EQ(h->partition_name, jh["partition_name"]);
  EXPECT_EQ(h->partition_type, jh["partition_type"]);
  EXPECT_EQ(to_hex(h->domain_fingerprint), jh["domain_fingerprint"]);
  EXPECT_EQ(to_hex(h->wrapped_master_key), jh["wrapped_master_key"]);
  ASSERT_EQ(h->certificates.size(), jh["certificates"].size());
  for (std::size_t i = 0; i < h->certificates.size(); ++i)
    EXPECT_EQ(to_hex(h->certificates[i]), jh["certificates"][i]["der"]);
  EXPECT_EQ(to_hex(h->header_digest), jh["header_digest"]);

  auto rep = verify(kArchive);
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->blobs_checked, j["index"]["count"]);
  EXPECT_EQ(rep->sealed_bytes, j["index"]["sealed_bytes"]);
  EXPECT_EQ(rep->bytes_checked, j["file"]["size"]);
  EXPECT_EQ(to_hex(rep->archive_digest), j["trailer"]["archive_digest"]);
  EXPECT_EQ(to_hex(rep->root_sha256), j["root_sha256"]);
  EXPECT_EQ(rep->smk_blobs, 1u);
  EXPECT_EQ(rep->sim4_blobs, 2u);

  std::size_t i = 0;
  Status s = for_each_blob(kArchive, [&](const BlobRecord& r) -> Status {
    const json& jb = j["blobs"][i];
    EXPECT_EQ(r.index, jb["index"]);
    EXPECT_EQ(r.handle, jb["handle"]);
    EXPECT_EQ(static_cast<int>(r.type), jb["type"]);
    EXPECT_EQ(r.label, jb["label"]);
    EXPECT_EQ(to_hex(r.sealed), jb["sealed"]);
    Bytes ad = blob_associated_data(h->archive_id, r.index, r.handle, static_cast<std::uint8_t>(r.type));
    EXPECT_EQ(to_hex(ad), jb["associated_data"]);
    EXPECT_EQ(test::open_sealed(test::golden_blob_key(), r.sealed, ad), jb["plaintext"].get<std::string>());
    ++i;
    return {};
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(i, 3u);
}

TEST(GoldenV1, TodaysWriterProducesTheSameBytes) {
  test::TempDir dir;
  auto sum = test::write_golden(dir / "golden-v1.hsmar");
  ASSERT_TRUE(sum.ok()) << sum.error().message;
  const Bytes want = test::read_bytes(kArchive);
  const Bytes got = test::read_bytes(dir / "golden-v1.hsmar");
  ASSERT_EQ(got.size(), want.size());
  auto diff = std::mismatch(got.begin(), got.end(), want.begin());
  EXPECT_TRUE(diff.first == got.end()) << "first difference at offset " << (diff.first - got.begin());
}

TEST(GoldenV1, DISABLED_Regenerate) {
  ASSERT_TRUE(test::write_golden(kArchive, true).ok());
  const Bytes b = test::read_bytes(kArchive);
  json j = describe(b);
  json out;
  out["description"] =
      "Golden vector for the hsm-migrate archive format, version 1: every field of golden-v1.hsmar "
      "with its offset. Offsets and lengths in bytes; integers little-endian in the file.";
  out["format_version"] = 1;
  out["inputs"] = inputs();
  for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = it.value();
  out["root_sha256"] = to_hex(certificate_sha256(test::Fleet().root_cert));
  std::ofstream(kJson) << out.dump(2) << "\n";
}

}  // namespace
}  // namespace hsm::formats
