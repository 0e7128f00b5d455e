// One test per failure mode (LevelDB log_test.cc habit): each damages a good
// archive in one way and expects a clean error of the right kind with its own
// message, from verify() on a file and on memory, and from for_each_blob()
// without a single blob yielded.
#include <gtest/gtest.h>

#include "formats/archive_reader.hpp"
#include "tests/unit/formats/test_support.hpp"

namespace hsm::formats {
namespace {

using test::Fleet;
using test::TempDir;

class Corruption : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::write_golden(dir / "good.hsmar").ok());
    good = test::read_bytes(dir / "good.hsmar");
    layout = test::layout_of(good);
  }

  static void flip(Bytes& b, std::size_t offset, int bit = 0) { b.at(offset) ^= static_cast<std::uint8_t>(1u << bit); }

  // Expects every entry point to fail the same way, and nothing yielded.
  void expect_error(const Bytes& bad, ErrorKind kind, const std::string& words) {
    const auto path = dir / "bad.hsmar";
    test::write_bytes(path, bad);
    auto from_file = verify(path);
    ASSERT_FALSE(from_file.ok()) << "verify accepted a damaged archive (" << words << ")";
    EXPECT_EQ(from_file.error().kind, kind) << from_file.error().message;
    EXPECT_NE(from_file.error().message.find(words), std::string::npos)
        << "message: " << from_file.error().message << "\nexpected: " << words;
    auto from_memory = verify(MemorySource(bad));
    ASSERT_FALSE(from_memory.ok());
    EXPECT_EQ(from_memory.error().message, from_file.error().message);
    int yielded = 0;
    Status s = for_each_blob(path, [&](const BlobRecord&) -> Status {
      ++yielded;
      return {};
    });
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, from_file.error().message);
    EXPECT_EQ(yielded, 0) << "a blob was yielded before the archive verified";
  }
  void expect_integrity(const Bytes& bad, const std::string& words) {
    expect_error(bad, ErrorKind::integrity, words);
  }

  TempDir dir;
  Bytes good;
  test::Layout layout{};
};

TEST_F(Corruption, TheGoodArchiveVerifies) {
  auto rep = verify(MemorySource(good));
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->blobs_checked, 3u);
}

// --- header ---

TEST_F(Corruption, FlippedBitInHeaderBody) {
  Bytes b = good;
  flip(b, 16 + 20);  // inside the archive id / created_at
  expect_integrity(b, "archive header is corrupt: its SHA-256 does not match");
  auto h = read_header(MemorySource(b));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().kind, ErrorKind::integrity);
}

TEST_F(Corruption, FlippedBitInHeaderCertificate) {
  Bytes b = good;
  flip(b, layout.header_digest_offset - 10, 3);  // inside the root certificate
  expect_integrity(b, "archive header is corrupt: its SHA-256 does not match");
}

TEST_F(Corruption, FlippedBitInHeaderDigest) {
  Bytes b = good;
  flip(b, layout.header_digest_offset + 31, 7);
  expect_integrity(b, "archive header is corrupt: its SHA-256 does not match");
}

TEST_F(Corruption, HeaderLengthBeyondTheLimit) {
  Bytes b = good;
  flip(b, 12 + 3, 6);  // body length + 2^30
  expect_integrity(b, "exceeds the limit");
}

// --- blobs ---

TEST_F(Corruption, FlippedBitInBlobSealedBytes) {
  Bytes b = good;
  flip(b, layout.records[1].sealed_offset + 30);
  expect_integrity(b, "blob 1 (handle 0x10, offset " + std::to_string(layout.records[1].offset) +
                          ") is corrupt: its SHA-256 does not match the index");
}

TEST_F(Corruption, FlippedBitInBlobHandle) {
  Bytes b = good;
  flip(b, layout.records[2].offset, 2);
  expect_integrity(b, "blob 2 at offset " + std::to_string(layout.records[2].offset) +
                          " does not match its index entry (record: handle 0x15 type 2, index: handle 0x11 type 2)");
}

TEST_F(Corruption, FlippedBitInBlobLabel) {
  Bytes b = good;
  flip(b, layout.records[0].label_offset, 5);  // "SMK" -> "sMK"
  expect_integrity(b, "does not match its index entry (label differs or is not UTF-8)");
}

TEST_F(Corruption, BlobSealedLengthOutOfRange) {
  Bytes b = good;
  flip(b, layout.records[0].offset + 13, 7);  // sealed length + 2^31
  expect_integrity(b, "blob 0 at offset " + std::to_string(layout.records[0].offset) +
                          " is corrupt: sealed length");
}

TEST_F(Corruption, BlobLengthRunningIntoTheIndex) {
  Bytes b = good;
  flip(b, layout.records[2].offset + 11, 2);  // sealed length + 1024: still under the limit
  expect_integrity(b, "bytes run into the index");
}

TEST_F(Corruption, TwoBlobsSwapped) {
  // Two blobs of equal size, swapped in place: every length still fits.
  Fleet fleet;
  ArchiveWriterOptions opt;
  opt.deterministic = true;
  auto w = ArchiveWriter::create(dir / "pair", test::golden_header(fleet), fleet.signer(), opt);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->add_blob(0x20, BlobType::object, "k1", Bytes(40, 1)).ok());
  ASSERT_TRUE((*w)->add_blob(0x21, BlobType::object, "k2", Bytes(40, 2)).ok());
  ASSERT_TRUE((*w)->commit().ok());
  Bytes b = test::read_bytes(dir / "pair");
  auto l = test::layout_of(b);
  ASSERT_EQ(l.records[0].length, l.records[1].length);
  std::swap_ranges(b.begin() + static_cast<long>(l.records[0].offset),
                   b.begin() + static_cast<long>(l.records[0].offset + l.records[0].length),
                   b.begin() + static_cast<long>(l.records[1].offset));
  expect_integrity(b, "blob 0 at offset " + std::to_string(l.records[0].offset) +
                          " does not match its index entry (record: handle 0x21 type 1, index: handle 0x20 "
                          "type 1): blobs were swapped, reordered or damaged");
}

// --- index ---

TEST_F(Corruption, FlippedBitInIndexEntryLabel) {
  Bytes b = good;
  flip(b, layout.entries[0].label_offset + 1);
  expect_integrity(b, "archive index is corrupt: its SHA-256 does not match (index at offset " +
                          std::to_string(layout.index_offset) + ")");
}

TEST_F(Corruption, FlippedBitInIndexEntryHash) {
  Bytes b = good;
  flip(b, layout.entries[2].hash_offset + 5);
  expect_integrity(b, "archive index is corrupt: its SHA-256 does not match");
}

TEST_F(Corruption, FlippedBitInIndexEntryOffset) {
  Bytes b = good;
  flip(b, layout.entries[1].offset, 4);
  expect_integrity(b, "archive index is corrupt: its SHA-256 does not match");
}

TEST_F(Corruption, FlippedBitInIndexCount) {
  Bytes b = good;
  flip(b, layout.index_offset + 8, 1);  // 3 -> 1
  expect_integrity(b, "archive index is corrupt: its SHA-256 does not match");
  Bytes huge = good;
  flip(huge, layout.index_offset + 15, 6);  // 3 + 2^62
  expect_integrity(huge, "archive index is corrupt: its SHA-256 does not match");
}

TEST_F(Corruption, FlippedBitInIndexDigest) {
  Bytes b = good;
  flip(b, layout.index_digest_offset + 3);
  expect_integrity(b, "archive index is corrupt: its SHA-256 does not match");
}

// --- trailer ---

TEST_F(Corruption, FlippedBitInTrailerDigest) {
  Bytes b = good;
  flip(b, layout.trailer_offset + 1);
  expect_integrity(b, "archive trailer signature does not verify with the HOK certificate's key");
}

TEST_F(Corruption, FlippedBitInTrailerSignature) {
  Bytes b = good;
  flip(b, layout.trailer_offset + 32 + 40, 3);
  expect_integrity(b, "archive trailer signature does not verify with the HOK certificate's key");
}

TEST_F(Corruption, FlippedBitInTrailerIndexOffset) {
  Bytes b = good;
  flip(b, layout.trailer_offset + 96, 0);
  expect_integrity(b, "archive has no index at offset " + std::to_string(layout.index_offset ^ 1));
  Bytes far = good;
  flip(far, layout.trailer_offset + 96 + 5, 0);
  expect_integrity(far, "archive trailer is corrupt: index offset");
}

TEST_F(Corruption, FlippedBitInTrailerMagic) {
  Bytes b = good;
  flip(b, b.size() - 1);
  expect_integrity(b, "archive has no trailer: it is truncated or was never finished");
}

TEST_F(Corruption, TrailerFromAnotherArchiveOfTheSameDevice) {
  // An authentic digest and signature, but of other bytes.
  Fleet fleet;
  ArchiveWriterOptions opt;
  opt.deterministic = true;
  auto w = ArchiveWriter::create(dir / "other", test::golden_header(fleet), fleet.signer(), opt);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->add_blob(9, BlobType::object, "other", Bytes(10, 9)).ok());
  ASSERT_TRUE((*w)->commit().ok());
  Bytes other = test::read_bytes(dir / "other");
  Bytes b = good;
  std::copy(other.end() - kTrailerSize, other.end() - kTrailerSize + 96,
            b.begin() + static_cast<long>(layout.trailer_offset));
  expect_integrity(b, "archive digest does not match its trailer: the archive was modified after it was signed");
}

// --- truncation and extension ---

TEST_F(Corruption, TruncatedAtSeveralPoints) {
  struct Cut {
    std::size_t size;
    std::string words;
  };
  const std::vector<Cut> cuts = {
      {5, "archive truncated: the file ends inside its first 16 bytes"},
      {16, "archive truncated: the header needs"},
      {layout.header_digest_offset, "archive truncated: the header needs"},
      {layout.header_end - 1, "archive truncated: the header needs"},
      {layout.header_end, "archive has no trailer"},
      {layout.records[1].sealed_offset + 3, "archive has no trailer"},
      {layout.index_offset, "archive has no trailer"},
      {layout.index_digest_offset + 10, "archive has no trailer"},
      {layout.trailer_offset, "archive has no trailer"},
      {good.size() - 1, "archive has no trailer"},
  };
  for (const auto& c : cuts) {
    SCOPED_TRACE("truncated to " + std::to_string(c.size) + " bytes");
    expect_integrity(Bytes(good.begin(), good.begin() + static_cast<long>(c.size)), c.words);
  }
}

TEST_F(Corruption, BytesAppendedAfterTheTrailer) {
  Bytes b = good;
  b.push_back(0);
  expect_integrity(b, "archive has no trailer");
}

// --- not an archive, a newer archive ---

TEST_F(Corruption, EmptyFileIsNotAnArchive) {
  expect_error({}, ErrorKind::integrity, "not an hsm-migrate archive: the file is empty");
}

TEST_F(Corruption, TextFileIsNotAnArchive) {
  std::string text = "# plan.toml\n[devices]\n";
  expect_error(Bytes(text.begin(), text.end()), ErrorKind::integrity,
               "not an hsm-migrate archive (the file does not start with the archive magic)");
  auto h = read_header(MemorySource(Bytes(text.begin(), text.end())));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().kind, ErrorKind::integrity);
}

TEST_F(Corruption, ShortForeignFileIsNotAnArchive) {
  expect_error(Bytes{'P', 'K'}, ErrorKind::integrity, "not an hsm-migrate archive");
}

TEST_F(Corruption, MissingPathOrFolderIsAUsageError) {
  auto missing = verify(dir / "no-such.hsmar");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::usage);
  EXPECT_NE(missing.error().message.find("cannot open archive"), std::string::npos);
  auto folder = verify(dir.path());
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.error().kind, ErrorKind::usage);
  EXPECT_NE(folder.error().message.find("not a regular file"), std::string::npos) << folder.error().message;
}

TEST_F(Corruption, UnknownFutureVersionIsRefusedWithAClearMessage) {
  Bytes b = good;
  b[8] = 2;
  expect_error(b, ErrorKind::integrity,
               "archive format version 2 is newer than this hsm-migrate understands (max 1); upgrade hsm-migrate");
  auto h = read_header(MemorySource(b));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().fix, "upgrade hsm-migrate");
  Bytes far = good;
  far[11] = 0x80;  // version 2^31 + 1
  expect_error(far, ErrorKind::integrity, "archive format version 2147483649 is newer");
}

TEST_F(Corruption, VersionZeroNeverExisted) {
  Bytes b = good;
  b[8] = 0;
  expect_integrity(b, "format version 0 never existed");
}

// --- certificate chain ---

class BadChain : public Corruption {
 protected:
  // A properly signed archive whose header carries `chain`.
  Bytes archive_with(std::vector<Bytes> chain, const Fleet& signer) {
    Fleet fleet;
    ArchiveHeader h = test::golden_header(fleet);
    h.certificates = std::move(chain);
    ArchiveWriterOptions opt;
    opt.deterministic = true;
    opt.check_chain = false;  // build it anyway
    auto w = ArchiveWriter::create(dir / "chain", h, signer.signer(), opt);
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
    EXPECT_TRUE((*w)->add_blob(1, BlobType::object, "k", Bytes(20, 1)).ok());
    auto c = (*w)->commit();
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    Bytes b = test::read_bytes(dir / "chain");
    std::filesystem::remove(dir / "chain");
    return b;
  }
};

TEST_F(BadChain, HokCertificateFromAnotherRootWithTheSameName) {
  Fleet fleet;
  Fleet forger(0x51, 0x21);  // another root key, same root name, same HOK key
  expect_integrity(archive_with({forger.hok_cert, fleet.root_cert}, fleet),
                   "certificate chain: HOK certificate /O=hsm-migrate emulated Luna/CN=hsm-a HOK is not signed by "
                   "/O=hsm-migrate emulated Luna/CN=Golden Manufacturing Root");
}

TEST_F(BadChain, HokCertificateNamingAnotherIssuer) {
  Fleet fleet;
  Fleet other(0x51, 0x21, "Other Root");
  expect_integrity(archive_with({other.hok_cert, fleet.root_cert}, fleet),
                   "certificate chain: HOK certificate /O=hsm-migrate emulated Luna/CN=hsm-a HOK was not issued by");
}

TEST_F(BadChain, RootThatIsNotSelfSigned) {
  Fleet fleet;
  auto stranger = test::ed25519_from_seed(test::seed_of(0x81));
  // The root's name and key, but signed by a stranger.
  Bytes fake_root = test::make_certificate(fleet.root.get(), "Golden Manufacturing Root", stranger.get(), nullptr, 1);
  expect_integrity(archive_with({fleet.hok_cert, fake_root}, fleet),
                   "certificate chain: root certificate /O=hsm-migrate emulated Luna/CN=Golden Manufacturing Root "
                   "is not self-signed");
}

TEST_F(BadChain, CertificateThatIsNotDer) {
  Fleet fleet;
  Bytes junk = fleet.root_cert;
  junk.push_back(0);  // trailing garbage after the DER
  expect_integrity(archive_with({fleet.hok_cert, junk}, fleet),
                   "certificate chain: certificate 1 is not one DER X.509 certificate");
}

// Regression (found by archive_reader_fuzz): a certificate whose public key
// does not decode made OpenSSL return no key, and the reader crashed.
TEST_F(BadChain, CertificateWithAKeyThatDoesNotDecode) {
  Fleet fleet;
  Bytes root = fleet.root_cert;
  // The second Ed25519 OID (1.3.101.112) is the key's algorithm; make it
  // Ed448 (1.3.101.113), whose keys are 57 bytes, not 32.
  const Bytes oid = {0x06, 0x03, 0x2b, 0x65, 0x70};
  auto first = std::search(root.begin(), root.end(), oid.begin(), oid.end());
  ASSERT_NE(first, root.end());
  auto second = std::search(first + 1, root.end(), oid.begin(), oid.end());
  ASSERT_NE(second, root.end());
  second[4] = 0x71;
  expect_integrity(archive_with({fleet.hok_cert, root}, fleet),
                   "certificate chain: certificate 1 does not hold an Ed25519 key");
}

TEST_F(BadChain, SignedByAKeyOtherThanTheHok) {
  // Chain fine, but the trailer was signed by the root, not the HOK. The
  // writer refuses to produce it; forge it by re-signing the good archive.
  Fleet fleet;
  Bytes b = good;
  Digest d{};
  std::copy(b.begin() + static_cast<long>(layout.trailer_offset),
            b.begin() + static_cast<long>(layout.trailer_offset + 32), d.begin());
  Bytes sig = test::ed25519_sign(fleet.root.get(), Bytes(d.begin(), d.end()));
  std::copy(sig.begin(), sig.end(), b.begin() + static_cast<long>(layout.trailer_offset + 32));
  expect_integrity(b, "archive trailer signature does not verify with the HOK certificate's key");
}

}  // namespace
}  // namespace hsm::formats
