// Archive writer and reader together: formats/archive_writer.hpp,
// formats/archive_reader.hpp, spec formats/archive-format.md.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "formats/archive_reader.hpp"
#include "formats/archive_writer.hpp"
#include "tests/unit/formats/test_support.hpp"

namespace hsm::formats {
namespace {

using test::Fleet;
using test::TempDir;

struct Blob {
  std::uint64_t handle;
  BlobType type;
  std::string label;
  std::string plaintext;
};

std::array<std::uint8_t, 32> key() {
  return test::golden_blob_key();
}
std::array<std::uint8_t, 24> nonce(std::uint64_t i) {
  std::array<std::uint8_t, 24> n{};
  n.fill(0x33);
  for (int b = 0; b < 8; ++b)
    n[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(i >> (8 * b));
  return n;
}

ArchiveHeader header(const Fleet& fleet, std::string partition_type = "v0") {
  ArchiveHeader h = test::golden_header(fleet);
  h.partition_type = std::move(partition_type);
  return h;
}

// Writes `blobs` sealed like a device would; returns the summary.
Result<WriteSummary> write(const std::filesystem::path& path, const Fleet& fleet,
                           const std::vector<Blob>& blobs, ArchiveWriterOptions opt = {},
                           ArchiveHeader h = {}) {
  if (h.certificates.empty()) h = header(fleet);
  HSM_TRY_ASSIGN(auto w,
                 ArchiveWriter::create(path, std::move(h), fleet.sealer(opt.format_version), opt));
  for (const auto& b : blobs) {
    Bytes sealed = test::seal(key(), nonce(w->next_index()), b.plaintext,
                              w->next_associated_data(b.handle, b.type));
    HSM_TRY(w->add_blob(b.handle, b.type, b.label, sealed));
  }
  return w->commit();
}

std::vector<Blob> sample_blobs() {
  return {{0x101, BlobType::object, "aes-1", "AES-256 key object"},
          {0x102, BlobType::object, "", "unlabelled object"},
          {0x2, BlobType::smk, "SMK", "SKS master key"},
          {0x3, BlobType::sim4, std::string(255, 'L'), "SIM4 blob with the longest label"},
          {0xffffffffffffffffull, BlobType::sim4, "\xe6\x97\xa5\xe6\x9c\xac",
           "largest handle, UTF-8 label"}};
}

TEST(ArchiveRoundTrip, WritesVerifiesAndYieldsEveryBlob) {
  TempDir dir;
  Fleet fleet;
  auto blobs = sample_blobs();
  auto sum = write(dir / "a.hsmar", fleet, blobs);
  ASSERT_TRUE(sum.ok()) << sum.error().message;
  EXPECT_EQ(sum->blob_count, blobs.size());
  EXPECT_EQ(sum->file_bytes, std::filesystem::file_size(dir / "a.hsmar"));
  EXPECT_EQ(dir.names(), std::vector<std::string>{"a.hsmar"});

  auto rep = verify(dir / "a.hsmar", fleet.trust());
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->header.format_version, 2u);
  EXPECT_EQ(rep->blobs_checked, 5u);
  EXPECT_EQ(rep->objects, 2u);
  EXPECT_EQ(rep->smk_blobs, 1u);
  EXPECT_EQ(rep->sim4_blobs, 2u);
  EXPECT_EQ(rep->sealed_bytes, sum->sealed_bytes);
  EXPECT_EQ(rep->bytes_checked, sum->file_bytes);
  EXPECT_EQ(rep->archive_digest, sum->archive_digest);
  EXPECT_EQ(rep->root_sha256, fleet.root_sha256());
  EXPECT_TRUE(rep->root_trusted);
  EXPECT_NE(rep->hok_subject.find("CN=hsm-a HOK"), std::string::npos) << rep->hok_subject;
  EXPECT_EQ(rep->header.archive_id, sum->archive_id);

  std::size_t i = 0;
  Status s = for_each_blob(
      dir / "a.hsmar",
      [&](const BlobRecord& r) -> Status {
        EXPECT_EQ(r.index, i);
        EXPECT_EQ(r.handle, blobs[i].handle);
        EXPECT_EQ(r.type, blobs[i].type);
        EXPECT_EQ(r.label, blobs[i].label);
        auto pt = test::open_sealed(key(), r.sealed,
                                    blob_associated_data(rep->header.archive_id, r.index, r.handle,
                                                         static_cast<std::uint8_t>(r.type)));
        EXPECT_EQ(pt, blobs[i].plaintext);
        ++i;
        return {};
      },
      fleet.trust());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(i, blobs.size());
}

// The archive MAC is the device's (the sealer's): the writer stores it in the
// trailer as given, the reader hands it back as read, and it is the GCM tag
// of api::archive_mac_message() over what the reader verified.
TEST(ArchiveRoundTrip, TheDevicesMacTravelsThroughTheTrailer) {
  TempDir dir;
  Fleet fleet;
  auto sum = write(dir / "a", fleet, sample_blobs());
  ASSERT_TRUE(sum.ok()) << sum.error().message;
  ASSERT_EQ(sum->archive_mac.size(), kMacSize);
  auto rep = verify(dir / "a", fleet.trust());
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->archive_mac, sum->archive_mac);
  api::ArchiveFinish f;
  f.archive_id = rep->header.archive_id;
  f.blob_count = rep->blobs_checked;
  f.header_digest = rep->header.header_digest;
  f.archive_digest = rep->archive_digest;
  EXPECT_EQ(rep->archive_mac,
            test::gcm_mac(test::mac_key_of(test::test_amk()),
                          test::golden_mac_nonce(test::Golden::v2), api::archive_mac_message(f)));
  const Bytes b = test::read_bytes(dir / "a");
  EXPECT_EQ(test::layout_of(b).trailer_size, kTrailerSizeV2);
}

TEST(ArchiveRoundTrip, ReadHeaderReturnsWhatWasWritten) {
  TempDir dir;
  Fleet fleet;
  ArchiveWriterOptions opt;
  opt.identity_given = true;
  ArchiveHeader want = header(fleet);
  want.scope = ArchiveScope::subset;
  want.selector = "id:0a1b";
  ASSERT_TRUE(write(dir / "a", fleet, sample_blobs(), opt, want).ok());
  auto h = read_header(dir / "a");
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->format_version, kFormatVersion);
  EXPECT_EQ(h->archive_id, want.archive_id);
  EXPECT_EQ(h->created_at, want.created_at);
  EXPECT_EQ(h->source_device, want.source_device);
  EXPECT_EQ(h->device_kind, want.device_kind);
  EXPECT_EQ(h->firmware, want.firmware);
  EXPECT_EQ(h->fm_class, want.fm_class);
  EXPECT_EQ(h->partition_name, want.partition_name);
  EXPECT_EQ(h->partition_type, want.partition_type);
  EXPECT_EQ(h->scope, ArchiveScope::subset);
  EXPECT_EQ(h->selector, "id:0a1b");
  EXPECT_EQ(h->domain_fingerprint, want.domain_fingerprint);
  EXPECT_EQ(h->wrapped_master_key, want.wrapped_master_key);
  EXPECT_EQ(h->certificates, want.certificates);

  ASSERT_TRUE(write(dir / "b", fleet, sample_blobs(), opt).ok());  // complete: no selector
  auto c = read_header(dir / "b");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->scope, ArchiveScope::complete);
  EXPECT_EQ(c->selector, "");
}

TEST(ArchiveRoundTrip, IdentityGivenGivesEqualBytes) {
  TempDir dir;
  Fleet fleet;
  ArchiveWriterOptions opt;
  opt.identity_given = true;
  ASSERT_TRUE(write(dir / "a", fleet, sample_blobs(), opt).ok());
  ASSERT_TRUE(write(dir / "b", fleet, sample_blobs(), opt).ok());
  EXPECT_EQ(test::read_bytes(dir / "a"), test::read_bytes(dir / "b"));
}

TEST(ArchiveRoundTrip, OtherwiseTheWriterDrawsAFreshIdAndTheCurrentTime) {
  TempDir dir;
  Fleet fleet;
  auto a = write(dir / "a", fleet, sample_blobs());
  auto b = write(dir / "b", fleet, sample_blobs());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->archive_id, b->archive_id);
  EXPECT_NE(a->archive_id, test::golden_archive_id());
  auto h = read_header(dir / "a");
  ASSERT_TRUE(h.ok());
  EXPECT_GT(h->created_at, 1700000000);
  auto x = new_archive_id(), y = new_archive_id();
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_NE(*x, *y);
}

// The writer's format_version = 1 path (only for the v1 golden vectors): no
// scope, no MAC, a 112-byte trailer; the reader reads it as scope unknown.
TEST(ArchiveRoundTrip, VersionOneStillWritesAndReadsAsScopeUnknownWithoutMac) {
  TempDir dir;
  Fleet fleet;
  ArchiveWriterOptions opt;
  opt.format_version = 1;
  auto sum = write(dir / "a", fleet, sample_blobs(), opt);
  ASSERT_TRUE(sum.ok()) << sum.error().message;
  EXPECT_TRUE(sum->archive_mac.empty());
  const Bytes b = test::read_bytes(dir / "a");
  EXPECT_EQ(test::le(b, 8, 4), 1u);
  EXPECT_EQ(test::layout_of(b).trailer_size, kTrailerSizeV1);
  auto rep = verify(dir / "a", fleet.trust());
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->header.format_version, 1u);
  EXPECT_EQ(rep->header.scope, ArchiveScope::unknown);
  EXPECT_TRUE(rep->archive_mac.empty());
  EXPECT_EQ(rep->blobs_checked, 5u);
}

TEST(ArchiveRoundTrip, LargeBlobsStreamThroughTheBuffers) {
  TempDir dir;
  Fleet fleet;
  std::vector<Blob> blobs = {{1, BlobType::object, "big", std::string(3u << 20, 'x')},
                             {2, BlobType::object, "small", "s"},
                             {3, BlobType::object, "max", std::string(kMaxSealed - 40, 'y')}};
  auto sum = write(dir / "a", fleet, blobs);
  ASSERT_TRUE(sum.ok()) << sum.error().message;
  auto rep = verify(dir / "a", fleet.trust());
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->blobs_checked, 3u);
  std::size_t i = 0;
  ASSERT_TRUE(for_each_blob(
                  dir / "a",
                  [&](const BlobRecord& r) -> Status {
                    auto pt = test::open_sealed(
                        key(), r.sealed,
                        blob_associated_data(rep->header.archive_id, r.index, r.handle, 1));
                    EXPECT_TRUE(pt && *pt == blobs[i].plaintext);
                    ++i;
                    return {};
                  },
                  fleet.trust())
                  .ok());
  EXPECT_EQ(i, 3u);
}

// --- trust (archive-format.md, "Certificate chain and trust") ---

class Trust : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(write(dir / "a", fleet, sample_blobs()).ok()); }
  TempDir dir;
  Fleet fleet;
  Fleet other{0x51, 0x61, "Another Root"};
};

TEST_F(Trust, ThePinnedRootVerifies) {
  VerifyOptions opt;
  opt.trusted_roots = {other.root_sha256(), fleet.root_sha256()};  // one of several
  auto ok = verify(dir / "a", opt);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(ok->root_trusted);
}

TEST_F(Trust, AnUntrustedRootFailsNamingItsFingerprint) {
  auto bad = verify(dir / "a", other.trust());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::integrity);
  EXPECT_NE(bad.error().message.find(to_hex(fleet.root_sha256())), std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("Golden Manufacturing Root"), std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("not trusted"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(bad.error().fix.empty());
  int calls = 0;
  Status s = for_each_blob(
      dir / "a",
      [&](const BlobRecord&) -> Status {
        ++calls;
        return {};
      },
      other.trust());
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(VerifiedArchive::open(dir / "a", other.trust()).ok());
}

TEST_F(Trust, NoPinTrustsNothing) {
  auto bad = verify(dir / "a");  // default options: an empty list
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::integrity);
  EXPECT_NE(bad.error().message.find(to_hex(fleet.root_sha256())), std::string::npos)
      << bad.error().message;
}

TEST_F(Trust, AnyRootChecksEverythingElseButSaysNotTrusted) {
  VerifyOptions any;
  any.any_root = true;
  auto rep = verify(dir / "a", any);
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_FALSE(rep->root_trusted);
  EXPECT_EQ(rep->root_sha256, fleet.root_sha256());
  EXPECT_EQ(rep->blobs_checked, 5u);
  any.trusted_roots = {fleet.root_sha256()};  // both: the pin still counts
  auto pinned = verify(dir / "a", any);
  ASSERT_TRUE(pinned.ok());
  EXPECT_TRUE(pinned->root_trusted);
  // any_root skips the pin only: a damaged archive still fails.
  Bytes b = test::read_bytes(dir / "a");
  b[test::layout_of(b).records[0].sealed_offset] ^= 1;
  EXPECT_FALSE(verify(MemorySource(b), any).ok());
}

// The HOK certificate's CN is "<source device> <role>": an archive
// whose header names another device than its HOK certificate is refused,
// whatever its version, before its signature is believed.
TEST_F(Trust, AHokCertificateNamingAnotherDeviceFails) {
  for (std::uint32_t version : {1u, 2u}) {
    SCOPED_TRACE("format version " + std::to_string(version));
    ArchiveWriterOptions opt;
    opt.format_version = version;
    opt.check_chain = false;  // the writer would refuse (below): build it anyway
    ArchiveHeader h = header(fleet);
    h.source_device = "hsm-b";
    const auto path = dir / ("other-device-v" + std::to_string(version));
    ASSERT_TRUE(write(path, fleet, sample_blobs(), opt, h).ok());
    auto rep = verify(path, fleet.trust());
    ASSERT_FALSE(rep.ok());
    EXPECT_EQ(rep.error().kind, ErrorKind::integrity);
    EXPECT_NE(rep.error().message.find(
                  "HOK certificate names \"hsm-a HOK\", not the source device \"hsm-b\""),
              std::string::npos)
        << rep.error().message;
  }
  // A name that merely starts with the device's, or names no role.
  for (const std::string cn : {"hsm-ab HOK", "hsm-a", "hsm-a ", "HOK hsm-a"}) {
    SCOPED_TRACE("CN \"" + cn + "\"");
    Fleet named(0x01, 0x21, "Golden Manufacturing Root", cn);
    ArchiveWriterOptions opt;
    opt.check_chain = false;
    ArchiveHeader h = header(named);
    const auto path = dir / "named";
    std::filesystem::remove(path);
    ASSERT_TRUE(write(path, named, sample_blobs(), opt, h).ok());
    auto rep = verify(path, named.trust());
    ASSERT_FALSE(rep.ok());
    EXPECT_NE(rep.error().message.find("not the source device \"hsm-a\""), std::string::npos)
        << rep.error().message;
  }
  // Another role of the same device is fine.
  Fleet fm(0x01, 0x21, "Golden Manufacturing Root", "hsm-a FM-HOK");
  ASSERT_TRUE(write(dir / "fm", fm, sample_blobs()).ok());
  EXPECT_TRUE(verify(dir / "fm", fm.trust()).ok());
}

// --- ECDSA P-256 HOK (version 2) ---

TEST(ArchiveRoundTrip, AP256HokSignsVersionTwoArchives) {
  TempDir dir;
  Fleet fleet(0x01, 0x21, "Golden Manufacturing Root", "hsm-a HOK", test::HokKind::p256);
  auto sum = write(dir / "a", fleet, sample_blobs());
  ASSERT_TRUE(sum.ok()) << sum.error().message;
  auto rep = verify(dir / "a", fleet.trust());
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->blobs_checked, 5u);
  // r || s of another digest does not verify.
  Bytes b = test::read_bytes(dir / "a");
  b[test::layout_of(b).signature_offset + 40] ^= 0x10;
  auto bad = verify(MemorySource(b), fleet.trust());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("signature does not verify"), std::string::npos)
      << bad.error().message;
}

TEST(ArchiveRoundTrip, AP256HokIsRefusedInVersionOne) {
  TempDir dir;
  Fleet fleet(0x01, 0x21, "Golden Manufacturing Root", "hsm-a HOK", test::HokKind::p256);
  ArchiveWriterOptions opt;
  opt.format_version = 1;
  auto r = write(dir / "a", fleet, sample_blobs(), opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::usage);
  EXPECT_NE(r.error().message.find("certificate 0 does not hold an Ed25519 key"), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(dir.names().empty());
}

// --- VerifiedArchive: verify once, then read ---

TEST(VerifiedArchive, YieldsEveryBlobOnceInOrderAfterTheReport) {
  TempDir dir;
  Fleet fleet;
  auto blobs = sample_blobs();
  auto sum = write(dir / "a", fleet, blobs);
  ASSERT_TRUE(sum.ok());
  auto va = VerifiedArchive::open(dir / "a", fleet.trust());
  ASSERT_TRUE(va.ok()) << va.error().message;
  // The report is there before any blob: what a restore hands the device first.
  const VerifyReport& rep = (*va)->report();
  EXPECT_EQ(rep.blobs_checked, blobs.size());
  EXPECT_EQ(rep.archive_mac, sum->archive_mac);
  EXPECT_EQ(rep.archive_digest, sum->archive_digest);
  for (int pass = 0; pass < 2; ++pass) {  // a second read yields the same
    std::vector<std::uint64_t> seen;
    Status s = (*va)->for_each_blob([&](const BlobRecord& r) -> Status {
      EXPECT_EQ(r.index, seen.size());
      EXPECT_EQ(r.handle, blobs[seen.size()].handle);
      EXPECT_EQ(r.label, blobs[seen.size()].label);
      seen.push_back(r.index);
      return {};
    });
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(seen, (std::vector<std::uint64_t>{0, 1, 2, 3, 4}));
  }
}

TEST(VerifiedArchive, AFileChangedBetweenThePassesStopsBeforeTheChangedBlob) {
  TempDir dir;
  Fleet fleet;
  ASSERT_TRUE(write(dir / "a", fleet, sample_blobs()).ok());
  const test::Layout l = test::layout_of(test::read_bytes(dir / "a"));
  auto va = VerifiedArchive::open(dir / "a", fleet.trust());
  ASSERT_TRUE(va.ok()) << va.error().message;
  {
    // Another process rewrites one byte of blob 2 in place after the check.
    std::fstream f(dir / "a", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(l.records[2].sealed_offset + 3));
    f.put('\x7f');
  }
  std::vector<std::uint64_t> seen;
  Status s = (*va)->for_each_blob([&](const BlobRecord& r) -> Status {
    seen.push_back(r.index);
    return {};
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::integrity);
  EXPECT_NE(s.error().message.find("archive blob 2 changed after it was verified"),
            std::string::npos)
      << s.error().message;
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{0, 1}));  // never the changed one
}

TEST(VerifiedArchive, AFileCutBetweenThePassesStops) {
  TempDir dir;
  Fleet fleet;
  ASSERT_TRUE(write(dir / "a", fleet, sample_blobs()).ok());
  const test::Layout l = test::layout_of(test::read_bytes(dir / "a"));
  auto va = VerifiedArchive::open(dir / "a", fleet.trust());
  ASSERT_TRUE(va.ok()) << va.error().message;
  std::filesystem::resize_file(dir / "a", l.records[1].offset + 5);
  int yielded = 0;
  Status s = (*va)->for_each_blob([&](const BlobRecord&) -> Status {
    ++yielded;
    return {};
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::integrity) << s.error().message;
  // The second pass reads ahead, so it may stop before blob 0; never does it
  // yield a blob past the cut.
  EXPECT_LE(yielded, 1);
}

TEST(ArchiveRoundTrip, CallbackErrorStopsTheIteration) {
  TempDir dir;
  Fleet fleet;
  ASSERT_TRUE(write(dir / "a", fleet, sample_blobs()).ok());
  int calls = 0;
  Status s = for_each_blob(
      dir / "a",
      [&](const BlobRecord&) -> Status {
        if (++calls == 2)
          return Error::refused("S5", "CKR_TEMPLATE_INCONSISTENT", "target refused");
        return {};
      },
      fleet.trust());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::refused);
  EXPECT_EQ(calls, 2);
}

// --- the associated data ---

TEST(BlobAssociatedData, KnownAnswer) {
  // archive-format.md, "Blob associated data": 49 bytes.
  Bytes ad = blob_associated_data(test::golden_archive_id(), 2, 0x11, 2);
  EXPECT_EQ(to_hex(ad),
            "48534d41522d41442d424c4f422d7631"  // "HSMAR-AD-BLOB-v1"
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"  // archive id
            "0200000000000000"                  // index 2
            "1100000000000000"                  // handle 0x11
            "02");                              // type sim4
}

TEST(BlobAssociatedData, WriterHandsOutTheAdOfTheNextPosition) {
  TempDir dir;
  Fleet fleet;
  ArchiveWriterOptions opt;
  opt.identity_given = true;
  auto w = ArchiveWriter::create(dir / "a", header(fleet), fleet.sealer(), opt);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->next_associated_data(7, BlobType::object),
            blob_associated_data(test::golden_archive_id(), 0, 7, 1));
  ASSERT_TRUE((*w)->add_blob(7, BlobType::object, "x", Bytes{1, 2, 3}).ok());
  EXPECT_EQ((*w)->next_index(), 1u);
  EXPECT_EQ((*w)->next_associated_data(8, BlobType::smk),
            blob_associated_data(test::golden_archive_id(), 1, 8, 3));
}

// A structurally perfect, properly signed archive whose blobs sit at the
// wrong position (or come from another archive) still fails to open: the
// associated data binds each blob to its archive, position, handle and type.
TEST(BlobAssociatedData, SwappedBlobFailsToOpenEvenInAValidArchive) {
  TempDir dir;
  Fleet fleet;
  auto w = ArchiveWriter::create(dir / "a", header(fleet), fleet.sealer());
  ASSERT_TRUE(w.ok());
  ArchiveId id = (*w)->header().archive_id;
  Bytes s0 = test::seal(key(), nonce(0), "first", blob_associated_data(id, 0, 1, 1));
  Bytes s1 = test::seal(key(), nonce(1), "second", blob_associated_data(id, 1, 2, 1));
  ASSERT_TRUE((*w)->add_blob(1, BlobType::object, "one", s1).ok());  // swapped by a faulty host
  ASSERT_TRUE((*w)->add_blob(2, BlobType::object, "two", s0).ok());
  ASSERT_TRUE((*w)->commit().ok());
  ASSERT_TRUE(verify(dir / "a", fleet.trust()).ok());  // the framing is intact...
  int opened = 0;
  ASSERT_TRUE(for_each_blob(
                  dir / "a",
                  [&](const BlobRecord& r) -> Status {
                    auto ad = blob_associated_data(id, r.index, r.handle,
                                                   static_cast<std::uint8_t>(r.type));
                    if (test::open_sealed(key(), r.sealed, ad)) ++opened;
                    return {};
                  },
                  fleet.trust())
                  .ok());
  EXPECT_EQ(opened, 0);  // ...but no blob opens
}

TEST(BlobAssociatedData, ReplayedBlobFromAnotherArchiveFailsToOpen) {
  TempDir dir;
  Fleet fleet;
  auto first = ArchiveWriter::create(dir / "a", header(fleet), fleet.sealer());
  auto second = ArchiveWriter::create(dir / "b", header(fleet), fleet.sealer());
  ASSERT_TRUE(first.ok() && second.ok());
  Bytes sealed =
      (test::seal(key(), nonce(0), "secret", (*first)->next_associated_data(5, BlobType::object)));
  ASSERT_TRUE((*first)->add_blob(5, BlobType::object, "k", sealed).ok());
  ASSERT_TRUE((*second)->add_blob(5, BlobType::object, "k", sealed).ok());  // replayed
  ASSERT_TRUE((*first)->commit().ok());
  ASSERT_TRUE((*second)->commit().ok());
  auto open_all = [&](const std::filesystem::path& p) {
    auto h = read_header(p);
    int opened = 0;
    EXPECT_TRUE(
        for_each_blob(
            p,
            [&](const BlobRecord& r) -> Status {
              if (test::open_sealed(key(), r.sealed,
                                    blob_associated_data(h->archive_id, r.index, r.handle, 1)))
                ++opened;
              return {};
            },
            fleet.trust())
            .ok());
    return opened;
  };
  EXPECT_EQ(open_all(dir / "a"), 1);
  EXPECT_EQ(open_all(dir / "b"), 0);
}

// --- the writer's refusals ---

class WriterRefuses : public ::testing::Test {
 protected:
  TempDir dir;
  Fleet fleet;
  std::unique_ptr<ArchiveWriter> open(ArchiveHeader h) {
    auto w = ArchiveWriter::create(dir / "a", std::move(h), fleet.sealer());
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
    return w.ok() ? std::move(w).value() : nullptr;
  }
  void expect_kind(const Status& s, ErrorKind kind, const std::string& words) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().kind, kind) << s.error().message;
    EXPECT_NE(s.error().message.find(words), std::string::npos) << s.error().message;
    EXPECT_TRUE(dir.names().empty()) << "temporary file left behind";
  }
  void expect_usage(const Status& s, const std::string& words) {
    expect_kind(s, ErrorKind::usage, words);
  }
  // Commits one blob with `sealer` under `opt`; expects `kind` naming `words`.
  void expect_commit_refused(ArchiveSealer sealer, ErrorKind kind, const std::string& words,
                             ArchiveWriterOptions opt = {}) {
    auto w = ArchiveWriter::create(dir / "a", header(fleet), std::move(sealer), opt);
    ASSERT_TRUE(w.ok()) << w.error().message;
    ASSERT_TRUE((*w)->add_blob(1, BlobType::object, "x", Bytes{1}).ok());
    auto r = (*w)->commit();
    ASSERT_FALSE(r.ok());
    expect_kind(Status(r.error()), kind, words);
    EXPECT_FALSE(std::filesystem::exists(dir / "a"));
  }
};

TEST_F(WriterRefuses, LabelOver255Bytes) {
  auto w = open(header(fleet));
  expect_usage(w->add_blob(1, BlobType::object, std::string(256, 'a'), Bytes{1}),
               "label is 256 bytes");
  auto r = w->commit();  // the writer stays failed
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::usage);
}

TEST_F(WriterRefuses, LabelNotUtf8) {
  auto w = open(header(fleet));
  expect_usage(w->add_blob(1, BlobType::object, "\xc0\xaf", Bytes{1}), "not valid UTF-8");
}

TEST_F(WriterRefuses, EmptyOrOversizedBlob) {
  expect_usage(open(header(fleet))->add_blob(1, BlobType::object, "x", Bytes{}), "sealed size 0");
  Bytes big(kMaxSealed + 1);
  expect_usage(open(header(fleet))->add_blob(1, BlobType::object, "x", big), "out of range");
}

TEST_F(WriterRefuses, UnknownBlobType) {
  expect_usage(open(header(fleet))->add_blob(1, static_cast<BlobType>(9), "x", Bytes{1}),
               "unknown blob type 9");
}

TEST_F(WriterRefuses, AnArchiveThatChecksNothing) {
  auto r = open(header(fleet))->commit();
  ASSERT_FALSE(r.ok());
  expect_usage(Status(r.error()), "at least one blob");
}

TEST_F(WriterRefuses, BadHeaderFields) {
  auto try_header = [&](auto edit, const std::string& words, ArchiveWriterOptions opt = {}) {
    ArchiveHeader h = header(fleet);
    edit(h);
    auto w = ArchiveWriter::create(dir / "a", h, fleet.sealer(), opt);
    ASSERT_FALSE(w.ok()) << words;
    expect_usage(Status(w.error()), words);
  };
  try_header([](ArchiveHeader& h) { h.fm_class = "sometimes"; }, "FM class");
  try_header([](ArchiveHeader& h) { h.partition_type = "v2"; }, "partition type");
  try_header([](ArchiveHeader& h) { h.source_device = std::string(256, 'd'); },
             "source device is 256 bytes");
  try_header([](ArchiveHeader& h) { h.wrapped_master_key.clear(); }, "wrapped master key");
  try_header([](ArchiveHeader& h) { h.certificates.pop_back(); }, "certificates");
  try_header(
      [&](ArchiveHeader& h) { h.certificates[1] = Fleet(0x51, 0x61, "Other Root").root_cert; },
      "certificate chain");
  // Version 2's scope and selector.
  try_header([](ArchiveHeader& h) { h.scope = static_cast<ArchiveScope>(3); },
             "scope 3 is neither complete");
  try_header([](ArchiveHeader& h) { h.scope = ArchiveScope::unknown; },
             "scope 0 is neither complete");
  try_header([](ArchiveHeader& h) { h.selector = "aes-1"; }, "a complete archive has no selector");
  try_header([](ArchiveHeader& h) { h.scope = ArchiveScope::subset; }, "a subset has one");
  try_header(
      [](ArchiveHeader& h) {
        h.scope = ArchiveScope::subset;
        h.selector = "\xc0\xaf";
      },
      "selector is not valid UTF-8");
  try_header(
      [](ArchiveHeader& h) {
        h.scope = ArchiveScope::subset;
        h.selector = std::string(256, 's');
      },
      "selector is 256 bytes");
  // Format versions this build does not write.
  for (std::uint32_t v : {0u, 3u}) {
    ArchiveWriterOptions opt;
    opt.format_version = v;
    try_header([](ArchiveHeader&) {}, "format version " + std::to_string(v), opt);
  }
}

// The HOK certificate names the device: the writer checks it too, and, as
// for every other bad header field, says so as a usage error (create()'s
// documented contract: "Errors: usage (bad header, ...)").
TEST_F(WriterRefuses, AHokCertificateNamingAnotherDevice) {
  ArchiveHeader h = header(fleet);
  h.source_device = "hsm-b";
  auto w = ArchiveWriter::create(dir / "a", h, fleet.sealer());
  ASSERT_FALSE(w.ok());
  expect_usage(Status(w.error()), "names \"hsm-a HOK\", not the source device \"hsm-b\"");
}

TEST_F(WriterRefuses, ExistingDestinationUnlessAskedToOverwrite) {
  test::write_bytes(dir / "a", Bytes{'o', 'l', 'd'});
  auto w = ArchiveWriter::create(dir / "a", header(fleet), fleet.sealer());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::usage);
  EXPECT_EQ(test::read_bytes(dir / "a"), (Bytes{'o', 'l', 'd'}));
  ArchiveWriterOptions opt;
  opt.overwrite = true;
  ASSERT_TRUE(write(dir / "a", fleet, sample_blobs(), opt).ok());
  EXPECT_TRUE(verify(dir / "a", fleet.trust()).ok());
}

TEST_F(WriterRefuses, ASignatureByAnotherKey) {
  Fleet impostor(0x01, 0x71);  // same root, another HOK key
  expect_commit_refused(impostor.sealer(), ErrorKind::integrity,
                        "signature of the archive does not verify");
}

TEST_F(WriterRefuses, ASealerThatFails) {
  expect_commit_refused(
      [](const api::ArchiveFinish&) -> Result<api::ArchiveSeal> {
        return Error::busy("device busy");
      },
      ErrorKind::busy, "device busy");
}

// Version 2 takes exactly a 28-byte MAC; version 1 none.
TEST_F(WriterRefuses, AMacOfTheWrongSize) {
  auto with_mac = [&](std::size_t n) {
    return [this, n](const api::ArchiveFinish& f) -> Result<api::ArchiveSeal> {
      api::ArchiveSeal s;
      s.signature = test::ed25519_sign(fleet.hok.get(),
                                       Bytes(f.archive_digest.begin(), f.archive_digest.end()));
      s.mac = Bytes(n, 0xab);
      return s;
    };
  };
  expect_commit_refused(with_mac(0), ErrorKind::integrity,
                        "archive MAC is 0 bytes; format version 2 takes 28");
  expect_commit_refused(with_mac(27), ErrorKind::integrity, "archive MAC is 27 bytes");
  expect_commit_refused(with_mac(29), ErrorKind::integrity, "archive MAC is 29 bytes");
  ArchiveWriterOptions v1;
  v1.format_version = 1;
  expect_commit_refused(with_mac(28), ErrorKind::integrity,
                        "archive MAC is 28 bytes; format version 1 takes 0", v1);
}

TEST(ArchiveWriter, DestroyedWithoutCommitLeavesNothing) {
  TempDir dir;
  Fleet fleet;
  {
    auto w = ArchiveWriter::create(dir / "a", header(fleet), fleet.sealer());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->add_blob(1, BlobType::object, "x", Bytes{1, 2}).ok());
    // The archive being written has no name where the file system allows
    // (O_TMPFILE), else one temporary name; the index scratch file never has.
    EXPECT_LE(dir.names().size(), 1u);
  }
  EXPECT_TRUE(dir.names().empty());
}

TEST(ArchiveWriter, KilledBackupNeverLeavesAHalfValidArchive) {
  TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Fleet fleet;
    auto w = ArchiveWriter::create(dir / "a", header(fleet), fleet.sealer());
    if (!w.ok()) ::_exit(2);
    for (int i = 0; i < 5000; ++i)
      if (!(*w)->add_blob(static_cast<std::uint64_t>(i), BlobType::object, "k", Bytes(300, 7)).ok())
        ::_exit(3);
    ::_exit(0);  // killed: no commit, no destructor
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "a"));
  auto names = dir.names();
  // Unnamed until commit (O_TMPFILE): a killed writer leaves nothing at all.
  // Where the file system has no unnamed files it leaves its temporary file,
  // which must not pass for an archive.
  if (names.empty()) return;
  ASSERT_EQ(names.size(), 1u);
  VerifyOptions any;
  any.any_root = true;
  auto rep = verify(dir / names[0], any);  // what the killed writer left is not an archive
  ASSERT_FALSE(rep.ok());
  EXPECT_EQ(rep.error().kind, ErrorKind::integrity);
  EXPECT_NE(rep.error().message.find("no trailer"), std::string::npos) << rep.error().message;
}

}  // namespace
}  // namespace hsm::formats
