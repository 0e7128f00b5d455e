// libFuzzer target for the archive reader (formats/archive_reader.hpp),
// format versions 1 and 2.
//
// Each input is read twice: as it is (the reader must refuse it cleanly), and
// "repaired" -- every digest recomputed and the trailer re-signed with the
// golden archives' HOK key (test_support.hpp: Ed25519, or ECDSA P-256 when
// the input carries golden-v2-p256's HOK certificate), LevelDB log_test's
// "fix the checksum" trick -- so that mutations get past the hashes and the
// signature into the parsers behind them. The trailer's size and the index
// offset's place follow the version field (112 bytes for v1, 140 for v2).
// The archive MAC is left alone: it is opaque to the library.
//
// Two modes, chosen per input by its first byte after the magic's version
// field (so both run on every shape of input):
//   any_root  -- the pin skipped, so that archives under a mutated root or
//                chain get past the trust check to the signature and beyond;
//   pinned    -- the golden root trusted: the reader as the tool runs it.
// Seed corpus: tests/fuzz/corpus/archive/ (golden-v1, golden-v2,
// golden-v2-p256 and cuts of them).
//
// Invariants checked beyond "no crash, no sanitizer report":
//   - an archive that verifies checked at least one blob and every byte, has
//     a header read_header() reads, a MAC of its version's size (28 bytes in
//     v2, none in v1) and a scope its version allows (v1: unknown; v2:
//     complete without selector or subset with one);
//   - pinned, it verifies only under the golden root, and says root_trusted;
//     under any_root it never says root_trusted, and one under the golden
//     root verifies pinned too;
//   - for_each_blob() yields every verified blob once, in order, and nothing
//     for an archive that does not verify.
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "formats/archive_reader.hpp"
#include "tests/unit/formats/test_support.hpp"

namespace {

using namespace hsm::formats;

Digest sha256(const std::uint8_t* p, std::size_t n) {
  Digest d{};
  unsigned int len = 0;
  EVP_Digest(p, n, d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

std::uint64_t le(const Bytes& b, std::size_t off, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[off + static_cast<std::size_t>(i)];
  return v;
}

void put(Bytes& b, std::size_t off, const Digest& d) {
  std::memcpy(b.data() + off, d.data(), d.size());
}

struct Keys {
  test::Fleet ed25519 = test::golden_fleet(test::Golden::v2);  // root seed 0x01.., HOK seed 0x21..
  test::Fleet p256 = test::golden_fleet(test::Golden::v2_p256);  // same root, P-256 HOK
  Digest root = ed25519.root_sha256();
};
const Keys& keys() {
  static const Keys k;
  return k;
}

// Recomputes what the format hashes and signs, as far as the layout allows.
void repair(Bytes& b) {
  const std::size_t n = b.size();
  if (n < kPrefixSize) return;
  const std::uint64_t version = le(b, 8, 4);
  const std::size_t trailer =
      trailer_size(static_cast<std::uint32_t>(std::min<std::uint64_t>(version, 2)));
  const std::size_t mac = version >= 2 ? kMacSize : 0;
  if (n < kPrefixSize + kDigestSize + trailer) return;
  const std::uint64_t body = le(b, 12, 4);
  if (body > kMaxHeaderBody || kPrefixSize + body + kDigestSize > n - trailer) return;
  const std::size_t header_end = kPrefixSize + body + kDigestSize;
  put(b, kPrefixSize + body, sha256(b.data(), kPrefixSize + body));

  const std::size_t t = n - trailer;
  const std::uint64_t index_offset = le(b, t + kDigestSize + kSignatureSize + mac, 8);
  if (index_offset >= header_end && index_offset <= t &&
      t - index_offset >= kIndexHeaderSize + kDigestSize) {
    // Each entry's record hash, then the index digest.
    const std::size_t index_end = t - kDigestSize;
    std::size_t p = index_offset + kIndexHeaderSize;
    const std::uint64_t count = le(b, index_offset + 8, 8);
    for (std::uint64_t i = 0; i < count && index_end - p >= kIndexEntryFixed; ++i) {
      const std::size_t label = b[p + 21];
      if (index_end - p < kIndexEntryFixed + label) break;
      const std::uint64_t off = le(b, p, 8), len = le(b, p + 8, 4);
      if (off >= header_end && off <= index_offset && len <= index_offset - off)
        put(b, p + 22 + label, sha256(b.data() + off, len));
      p += kIndexEntryFixed + label;
    }
    put(b, index_end, sha256(b.data() + index_offset, index_end - index_offset));
  }
  const Digest digest = sha256(b.data(), t);
  put(b, t, digest);
  // The P-256 HOK when its certificate is in the header, else Ed25519.
  const Bytes& p256_cert = keys().p256.hok_cert;
  const bool p256 =
      std::search(b.begin(), b.begin() + static_cast<long>(header_end), p256_cert.begin(),
                  p256_cert.end()) != b.begin() + static_cast<long>(header_end);
  const Bytes sig = test::hok_sign(p256 ? keys().p256.hok.get() : keys().ed25519.hok.get(),
                                   Bytes(digest.begin(), digest.end()));
  std::memcpy(b.data() + t + kDigestSize, sig.data(), sig.size());
}

void check(const std::uint8_t* data, std::size_t size) {
  const bool pinned = size > 16 && (data[16] & 1);
  VerifyOptions opt;
  if (pinned)
    opt.trusted_roots = {keys().root};
  else
    opt.any_root = true;

  MemorySource src(data, size);
  auto header = read_header(src);
  // VerifiedArchive::open() runs verify()'s check (one function behind both)
  // and keeps what the second pass needs: one verification per input.
  auto archive = VerifiedArchive::open(src, opt);
  if (!archive.ok()) return;
  const VerifyReport& r = (*archive)->report();
  if (r.blobs_checked == 0 || r.bytes_checked != size) __builtin_trap();
  if (!header.ok() || header->header_digest != r.header.header_digest) __builtin_trap();
  const std::uint32_t version = r.header.format_version;
  if (r.archive_mac.size() != (version >= 2 ? kMacSize : 0)) __builtin_trap();
  if (version == 1 && (r.header.scope != ArchiveScope::unknown || !r.header.selector.empty()))
    __builtin_trap();
  if (version >= 2 && !((r.header.scope == ArchiveScope::complete && r.header.selector.empty()) ||
                        (r.header.scope == ArchiveScope::subset && !r.header.selector.empty())))
    __builtin_trap();
  if (pinned != r.root_trusted) __builtin_trap();  // pinned: trusted; any_root alone: never
  if (pinned && r.root_sha256 != keys().root) __builtin_trap();
  if (!pinned && r.root_sha256 == keys().root) {  // the pin adds the root check and nothing else
    VerifyOptions pin;
    pin.trusted_roots = {keys().root};
    auto p = verify(src, pin);
    if (!p.ok() || !p->root_trusted || p->archive_digest != r.archive_digest) __builtin_trap();
  }

  std::uint64_t yielded = 0;
  Status s = (*archive)->for_each_blob([&](const BlobRecord& b) -> Status {
    if (b.index != yielded) __builtin_trap();  // every blob once, in order
    volatile std::uint8_t sink = b.sealed.empty() ? 0 : b.sealed.back();
    (void)sink;
    ++yielded;
    return {};
  });
  if (!s.ok() || yielded != r.blobs_checked)
    __builtin_trap();  // the bytes did not change between the passes
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check(data, size);
  if (size >= kMagic.size() && std::memcmp(data, kMagic.data(), kMagic.size()) == 0) {
    Bytes b(data, data + size);
    repair(b);
    check(b.data(), b.size());
  }
  return 0;
}
