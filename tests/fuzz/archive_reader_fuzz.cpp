// libFuzzer target for the archive reader (formats/archive_reader.hpp).
//
// Each input is read twice: as it is (the reader must refuse it cleanly), and
// "repaired" -- every digest recomputed and the trailer re-signed with the
// golden archive's HOK key (test_support.hpp), LevelDB log_test's "fix the
// checksum" trick -- so that mutations get past the hashes and the signature
// into the parsers behind them. Seed corpus: tests/fuzz/corpus/archive/.
//
// Invariants checked beyond "no crash, no sanitizer report":
//   - for_each_blob() succeeds exactly when verify() does;
//   - an archive that verifies checked at least one blob and every byte;
//   - no blob is yielded before the archive verified.
#include <openssl/evp.h>

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

void put(Bytes& b, std::size_t off, const Digest& d) { std::memcpy(b.data() + off, d.data(), d.size()); }

// Recomputes what the format hashes and signs, as far as the layout allows.
void repair(Bytes& b) {
  static const test::Fleet fleet;  // golden keys: root seed 0x01.., HOK seed 0x21..
  const std::size_t n = b.size();
  if (n < kPrefixSize + kDigestSize + kTrailerSize) return;
  const std::uint64_t body = le(b, 12, 4);
  if (body > kMaxHeaderBody || kPrefixSize + body + kDigestSize > n - kTrailerSize) return;
  const std::size_t header_end = kPrefixSize + body + kDigestSize;
  put(b, kPrefixSize + body, sha256(b.data(), kPrefixSize + body));

  const std::size_t t = n - kTrailerSize;
  const std::uint64_t index_offset = le(b, t + 96, 8);
  if (index_offset >= header_end && index_offset <= t && t - index_offset >= kIndexHeaderSize + kDigestSize) {
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
  const Bytes sig = test::ed25519_sign(fleet.hok.get(), Bytes(digest.begin(), digest.end()));
  std::memcpy(b.data() + t + kDigestSize, sig.data(), sig.size());
}

void check(const std::uint8_t* data, std::size_t size) {
  MemorySource src(data, size);
  (void)read_header(src);
  auto rep = verify(src);
  const bool verified = rep.ok();
  if (verified && (rep->blobs_checked == 0 || rep->bytes_checked != size)) __builtin_trap();
  std::uint64_t yielded = 0;
  Status s = for_each_blob(src, [&](const BlobRecord& r) -> Status {
    if (!verified) __builtin_trap();  // a blob of an archive that does not verify
    volatile std::uint8_t sink = r.sealed.empty() ? 0 : r.sealed.back();
    (void)sink;
    ++yielded;
    return {};
  });
  if (s.ok() != verified) __builtin_trap();  // for_each_blob verifies first: it must agree
  if (verified && yielded != rep->blobs_checked) __builtin_trap();
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
