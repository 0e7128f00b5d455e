// Archive writer and reader together: formats/archive_writer.hpp,
// formats/archive_reader.hpp, spec formats/archive-format.md.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

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

std::array<std::uint8_t, 32> key() { return test::golden_blob_key(); }
std::array<std::uint8_t, 24> nonce(std::uint64_t i) {
  std::array<std::uint8_t, 24> n{};
  n.fill(0x33);
  for (int b = 0; b < 8; ++b) n[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(i >> (8 * b));
  return n;
}

ArchiveHeader header(const Fleet& fleet, std::string partition_type = "v0") {
  ArchiveHeader h = test::golden_header(fleet);
  h.partition_type = std::move(partition_type);
  return h;
}

// Writes `blobs` sealed like a device would; returns the summary.
Result<WriteSummary> write(const std::filesystem::path& path, const Fleet& fleet, const std::vector<Blob>& blobs,
                           ArchiveWriterOptions opt = {}) {
  HSM_TRY_ASSIGN(auto w, ArchiveWriter::create(path, header(fleet), fleet.signer(), opt));
  for (const auto& b : blobs) {
    Bytes sealed = test::seal(key(), nonce(w->next_index()), b.plaintext, w->next_associated_data(b.handle, b.type));
    HSM_TRY(w->add_blob(b.handle, b.type, b.label, sealed));
  }
  return w->commit();
}

std::vector<Blob> sample_blobs() {
  return {{0x101, BlobType::object, "aes-1", "AES-256 key object"},
          {0x102, BlobType::object, "", "unlabelled object"},
          {0x2, BlobType::smk, "SMK", "SKS master key"},
          {0x3, BlobType::sim4, std::string(255, 'L'), "SIM4 blob with the longest label"},
          {0xffffffffffffffffull, BlobType::sim4, "\xe6\x97\xa5\xe6\x9c\xac", "largest handle, UTF-8 label"}};
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

  auto rep = verify(dir / "a.hsmar");
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->blobs_checked, 5u);
  EXPECT_EQ(rep->objects, 2u);
  EXPECT_EQ(rep->smk_blobs, 1u);
  EXPECT_EQ(rep->sim4_blobs, 2u);
  EXPECT_EQ(rep->sealed_bytes, sum->sealed_bytes);
  EXPECT_EQ(rep->bytes_checked, sum->file_bytes);
  EXPECT_EQ(rep->archive_digest, sum->archive_digest);
  EXPECT_EQ(rep->root_sha256, certificate_sha256(fleet.root_cert));
  EXPECT_FALSE(rep->root_trusted);
  EXPECT_NE(rep->hok_subject.find("CN=hsm-a HOK"), std::string::npos) << rep->hok_subject;
  EXPECT_EQ(rep->header.archive_id, sum->archive_id);

  std::size_t i = 0;
  Status s = for_each_blob(dir / "a.hsmar", [&](const BlobRecord& r) -> Status {
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
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(i, blobs.size());
}

TEST(ArchiveRoundTrip, ReadHeaderReturnsWhatWasWritten) {
  TempDir dir;
  Fleet fleet;
  ArchiveWriterOptions opt;
  opt.deterministic = true;
  ASSERT_TRUE(write(dir / "a", fleet, sample_blobs(), opt).ok());
  auto h = read_header(dir / "a");
  ASSERT_TRUE(h.ok()) << h.error().message;
  ArchiveHeader want = header(fleet);
  EXPECT_EQ(h->format_version, kFormatVersion);
  EXPECT_EQ(h->archive_id, want.archive_id);
  EXPECT_EQ(h->created_at, want.created_at);
  EXPECT_EQ(h->source_device, want.source_device);
  EXPECT_EQ(h->device_kind, want.device_kind);
  EXPECT_EQ(h->firmware, want.firmware);
  EXPECT_EQ(h->fm_class, want.fm_class);
  EXPECT_EQ(h->partition_name, want.partition_name);
  EXPECT_EQ(h->partition_type, want.partition_type);
  EXPECT_EQ(h->domain_fingerprint, want.domain_fingerprint);
  EXPECT_EQ(h->wrapped_master_key, want.wrapped_master_key);
  EXPECT_EQ(h->certificates, want.certificates);
}

TEST(ArchiveRoundTrip, DeterministicModeGivesEqualBytes) {
  TempDir dir;
  Fleet fleet;
  ArchiveWriterOptions opt;
  opt.deterministic = true;
  ASSERT_TRUE(write(dir / "a", fleet, sample_blobs(), opt).ok());
  ASSERT_TRUE(write(dir / "b", fleet, sample_blobs(), opt).ok());
  EXPECT_EQ(test::read_bytes(dir / "a"), test::read_bytes(dir / "b"));
}

TEST(ArchiveRoundTrip, NormalModeDrawsAFreshIdAndTheCurrentTime) {
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
}

TEST(ArchiveRoundTrip, LargeBlobsStreamThroughTheBuffers) {
  TempDir dir;
  Fleet fleet;
  std::vector<Blob> blobs = {{1, BlobType::object, "big", std::string(3u << 20, 'x')},
                             {2, BlobType::object, "small", "s"},
                             {3, BlobType::object, "max", std::string(kMaxSealed - 40, 'y')}};
  auto sum = write(dir / "a", fleet, blobs);
  ASSERT_TRUE(sum.ok()) << sum.error().message;
  auto rep = verify(dir / "a");
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->blobs_checked, 3u);
  std::size_t i = 0;
  ASSERT_TRUE(for_each_blob(dir / "a", [&](const BlobRecord& r) -> Status {
                auto pt = test::open_sealed(key(), r.sealed,
                                            blob_associated_data(rep->header.archive_id, r.index, r.handle, 1));
                EXPECT_TRUE(pt && *pt == blobs[i].plaintext);
                ++i;
                return {};
              }).ok());
  EXPECT_EQ(i, 3u);
}

TEST(ArchiveRoundTrip, TrustedRootIsCheckedWhenGiven) {
  TempDir dir;
  Fleet fleet;
  ASSERT_TRUE(write(dir / "a", fleet, sample_blobs()).ok());
  VerifyOptions opt;
  opt.trusted_root_sha256 = certificate_sha256(fleet.root_cert);
  auto ok = verify(dir / "a", opt);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(ok->root_trusted);

  Fleet other(0x51, 0x61, "Another Root");
  opt.trusted_root_sha256 = certificate_sha256(other.root_cert);
  auto bad = verify(dir / "a", opt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::integrity);
  EXPECT_NE(bad.error().message.find("is not the trusted root"), std::string::npos) << bad.error().message;
  int calls = 0;
  Status s = for_each_blob(dir / "a", [&](const BlobRecord&) -> Status {
    ++calls;
    return {};
  }, opt);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(calls, 0);
}

TEST(ArchiveRoundTrip, CallbackErrorStopsTheIteration) {
  TempDir dir;
  Fleet fleet;
  ASSERT_TRUE(write(dir / "a", fleet, sample_blobs()).ok());
  int calls = 0;
  Status s = for_each_blob(dir / "a", [&](const BlobRecord&) -> Status {
    if (++calls == 2) return Error::refused("S5", "CKR_TEMPLATE_INCONSISTENT", "target refused");
    return {};
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::refused);
  EXPECT_EQ(calls, 2);
}

// --- the associated data ---

TEST(BlobAssociatedData, KnownAnswer) {
  // archive-format.md, "Blob associated data": 49 bytes.
  Bytes ad = blob_associated_data(test::golden_archive_id(), 2, 0x11, 2);
  EXPECT_EQ(to_hex(ad),
            "48534d41522d41442d424c4f422d7631"   // "HSMAR-AD-BLOB-v1"
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"   // archive id
            "0200000000000000"                   // index 2
            "1100000000000000"                   // handle 0x11
            "02");                               // type sim4
}

TEST(BlobAssociatedData, WriterHandsOutTheAdOfTheNextPosition) {
  TempDir dir;
  Fleet fleet;
  ArchiveWriterOptions opt;
  opt.deterministic = true;
  auto w = ArchiveWriter::create(dir / "a", header(fleet), fleet.signer(), opt);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->next_associated_data(7, BlobType::object), blob_associated_data(test::golden_archive_id(), 0, 7, 1));
  ASSERT_TRUE((*w)->add_blob(7, BlobType::object, "x", Bytes{1, 2, 3}).ok());
  EXPECT_EQ((*w)->next_index(), 1u);
  EXPECT_EQ((*w)->next_associated_data(8, BlobType::smk), blob_associated_data(test::golden_archive_id(), 1, 8, 3));
}

// A structurally perfect, properly signed archive whose blobs sit at the
// wrong position (or come from another archive) still fails to open: the
// associated data binds each blob to its archive, position, handle and type.
TEST(BlobAssociatedData, SwappedBlobFailsToOpenEvenInAValidArchive) {
  TempDir dir;
  Fleet fleet;
  auto w = ArchiveWriter::create(dir / "a", header(fleet), fleet.signer());
  ASSERT_TRUE(w.ok());
  ArchiveId id = (*w)->header().archive_id;
  Bytes s0 = test::seal(key(), nonce(0), "first", blob_associated_data(id, 0, 1, 1));
  Bytes s1 = test::seal(key(), nonce(1), "second", blob_associated_data(id, 1, 2, 1));
  ASSERT_TRUE((*w)->add_blob(1, BlobType::object, "one", s1).ok());  // swapped by a faulty host
  ASSERT_TRUE((*w)->add_blob(2, BlobType::object, "two", s0).ok());
  ASSERT_TRUE((*w)->commit().ok());
  ASSERT_TRUE(verify(dir / "a").ok());  // the framing is intact...
  int opened = 0;
  ASSERT_TRUE(for_each_blob(dir / "a", [&](const BlobRecord& r) -> Status {
                auto ad = blob_associated_data(id, r.index, r.handle, static_cast<std::uint8_t>(r.type));
                if (test::open_sealed(key(), r.sealed, ad)) ++opened;
                return {};
              }).ok());
  EXPECT_EQ(opened, 0);  // ...but no blob opens
}

TEST(BlobAssociatedData, ReplayedBlobFromAnotherArchiveFailsToOpen) {
  TempDir dir;
  Fleet fleet;
  auto first = ArchiveWriter::create(dir / "a", header(fleet), fleet.signer());
  auto second = ArchiveWriter::create(dir / "b", header(fleet), fleet.signer());
  ASSERT_TRUE(first.ok() && second.ok());
  Bytes sealed = (test::seal(key(), nonce(0), "secret", (*first)->next_associated_data(5, BlobType::object)));
  ASSERT_TRUE((*first)->add_blob(5, BlobType::object, "k", sealed).ok());
  ASSERT_TRUE((*second)->add_blob(5, BlobType::object, "k", sealed).ok());  // replayed
  ASSERT_TRUE((*first)->commit().ok());
  ASSERT_TRUE((*second)->commit().ok());
  auto open_all = [&](const std::filesystem::path& p) {
    auto h = read_header(p);
    int opened = 0;
    EXPECT_TRUE(for_each_blob(p, [&](const BlobRecord& r) -> Status {
                  if (test::open_sealed(key(), r.sealed, blob_associated_data(h->archive_id, r.index, r.handle, 1)))
                    ++opened;
                  return {};
                }).ok());
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
    auto w = ArchiveWriter::create(dir / "a", std::move(h), fleet.signer());
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
    return w.ok() ? std::move(w).value() : nullptr;
  }
  void expect_usage(const Status& s, const std::string& words) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().kind, ErrorKind::usage);
    EXPECT_NE(s.error().message.find(words), std::string::npos) << s.error().message;
    EXPECT_TRUE(dir.names().empty()) << "temporary file left behind";
  }
};

TEST_F(WriterRefuses, LabelOver255Bytes) {
  auto w = open(header(fleet));
  expect_usage(w->add_blob(1, BlobType::object, std::string(256, 'a'), Bytes{1}), "label is 256 bytes");
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
  expect_usage(open(header(fleet))->add_blob(1, static_cast<BlobType>(9), "x", Bytes{1}), "unknown blob type 9");
}

TEST_F(WriterRefuses, AnArchiveThatChecksNothing) {
  auto r = open(header(fleet))->commit();
  ASSERT_FALSE(r.ok());
  expect_usage(Status(r.error()), "at least one blob");
}

TEST_F(WriterRefuses, BadHeaderFields) {
  auto try_header = [&](auto edit, const std::string& words) {
    ArchiveHeader h = header(fleet);
    edit(h);
    auto w = ArchiveWriter::create(dir / "a", h, fleet.signer());
    ASSERT_FALSE(w.ok()) << words;
    expect_usage(Status(w.error()), words);
  };
  try_header([](ArchiveHeader& h) { h.fm_class = "sometimes"; }, "FM class");
  try_header([](ArchiveHeader& h) { h.partition_type = "v2"; }, "partition type");
  try_header([](ArchiveHeader& h) { h.source_device = std::string(256, 'd'); }, "source device is 256 bytes");
  try_header([](ArchiveHeader& h) { h.wrapped_master_key.clear(); }, "wrapped master key");
  try_header([](ArchiveHeader& h) { h.certificates.pop_back(); }, "certificates");
  try_header([](ArchiveHeader& h) { h.format_version = 2; }, "format version 2");
  try_header([&](ArchiveHeader& h) { h.certificates[1] = Fleet(0x51, 0x61, "Other Root").root_cert; },
             "certificate chain");
}

TEST_F(WriterRefuses, ExistingDestinationUnlessAskedToOverwrite) {
  test::write_bytes(dir / "a", Bytes{'o', 'l', 'd'});
  auto w = ArchiveWriter::create(dir / "a", header(fleet), fleet.signer());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::usage);
  EXPECT_EQ(test::read_bytes(dir / "a"), (Bytes{'o', 'l', 'd'}));
  ArchiveWriterOptions opt;
  opt.overwrite = true;
  ASSERT_TRUE(write(dir / "a", fleet, sample_blobs(), opt).ok());
  EXPECT_TRUE(verify(dir / "a").ok());
}

TEST_F(WriterRefuses, ASignatureByAnotherKey) {
  Fleet impostor(0x01, 0x71);  // same root, another HOK key
  auto w = ArchiveWriter::create(dir / "a", header(fleet), impostor.signer());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->add_blob(1, BlobType::object, "x", Bytes{1}).ok());
  auto r = (*w)->commit();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::integrity);
  EXPECT_TRUE(dir.names().empty());
}

TEST_F(WriterRefuses, ASignerThatFails) {
  auto w = ArchiveWriter::create(dir / "a", header(fleet),
                                 [](const Bytes&) -> Result<Bytes> { return Error::busy("device busy"); });
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->add_blob(1, BlobType::object, "x", Bytes{1}).ok());
  auto r = (*w)->commit();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::busy);
  EXPECT_TRUE(dir.names().empty());
}

TEST(ArchiveWriter, DestroyedWithoutCommitLeavesNothing) {
  TempDir dir;
  Fleet fleet;
  {
    auto w = ArchiveWriter::create(dir / "a", header(fleet), fleet.signer());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->add_blob(1, BlobType::object, "x", Bytes{1, 2}).ok());
    EXPECT_EQ(dir.names().size(), 1u);  // the temporary file (the index scratch file has no name)
  }
  EXPECT_TRUE(dir.names().empty());
}

TEST(ArchiveWriter, KilledBackupNeverLeavesAHalfValidArchive) {
  TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Fleet fleet;
    auto w = ArchiveWriter::create(dir / "a", header(fleet), fleet.signer());
    if (!w.ok()) ::_exit(2);
    for (int i = 0; i < 5000; ++i)
      if (!(*w)->add_blob(static_cast<std::uint64_t>(i), BlobType::object, "k", Bytes(300, 7)).ok()) ::_exit(3);
    ::_exit(0);  // killed: no commit, no destructor
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "a"));
  auto names = dir.names();
  ASSERT_EQ(names.size(), 1u);
  auto rep = verify(dir / names[0]);  // what the killed writer left is not an archive
  ASSERT_FALSE(rep.ok());
  EXPECT_EQ(rep.error().kind, ErrorKind::integrity);
  EXPECT_NE(rep.error().message.find("no trailer"), std::string::npos) << rep.error().message;
}

}  // namespace
}  // namespace hsm::formats
