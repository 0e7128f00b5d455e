// The archive verbs of a partition, in-process (issue 4): the device seals,
// signs, unwraps and opens; these tests hold the sealed blobs in memory as
// the tool would frame them, with one associated data per position.
#include <gtest/gtest.h>

#include <filesystem>

#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/device/luna_backend.hpp"
#include "plugins/luna/device/luna_partition.hpp"

namespace hsm::luna {
namespace {

namespace fs = std::filesystem;

struct Blob {
  std::uint64_t handle;
  std::uint8_t type;
  api::Bytes ad;
  api::Bytes sealed;
};

// What the tool keeps of one archive: the device's header material, what the
// trailer covers, and the device's signature and MAC.
struct Archive : api::ArchiveBegin {
  api::ArchiveFinish finish;
  api::ArchiveSeal seal;
};

api::Bytes ad_of(std::uint64_t index, std::uint64_t handle, std::uint8_t type) {
  const std::string s = "test-archive|" + std::to_string(index) + "|" + std::to_string(handle) + "|" +
                        std::to_string(type);
  return api::Bytes(s.begin(), s.end());
}

class ArchiveDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() / ("hsm-archive-dev-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_ / "devices");
  }
  void TearDown() override { fs::remove_all(home_); }

  api::Device& device(const std::string& name, api::Version fw = {7, 7, 0}) {
    fs::create_directory(home_ / "devices" / name);
    api::DeviceCreateRequest req{name, fw, false, home_ / "factory"};
    auto d = backend_for(api::DeviceKind::luna7).create_device(home_ / "devices" / name, req);
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    devices_.push_back(std::move(d).value());
    return *devices_.back();
  }
  std::unique_ptr<api::Partition> partition(api::Device& dev, const std::string& name,
                                            const std::string& domain = "archive-domain",
                                            api::PartitionType type = api::PartitionType::v0, bool fips = false) {
    api::PartitionCreateRequest r;
    r.name = name;
    r.type = type;
    r.fips = fips;
    r.domain.secret = api::secret_from(domain);
    r.pin = api::secret_from("partition-pin");
    auto p = dev.create_partition(r);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    EXPECT_TRUE(p.value()->login(r.pin).ok());
    return std::move(p).value();
  }
  void keys(api::Partition& p, const std::string& type, int count, const std::string& label) {
    api::KeyGenRequest req;
    req.type = type;
    req.count = count;
    req.label = label;
    auto r = p.generate_keys(req);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  // backup_begin + backup_seal + backup_finish, as the tool does; the
  // digests stand for the file's (the device MACs whatever they are).
  std::vector<Blob> backup(api::Partition& p, Archive& a) {
    api::ArchiveBeginRequest req;
    for (std::size_t i = 0; i < req.archive_id.size(); ++i) req.archive_id[i] = static_cast<std::uint8_t>(next_id_ + i);
    ++next_id_;
    auto b = p.backup_begin(req);
    EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
    static_cast<api::ArchiveBegin&>(a) = *b;
    std::vector<Blob> blobs;
    auto n = p.backup_seal(
        "all", [&](std::uint64_t h, std::uint8_t t) { return ad_of(blobs.size(), h, t); },
        [&](const api::ObjectDesc& d, std::uint8_t t, const api::Bytes& sealed) -> api::Status {
          blobs.push_back({d.handle, t, ad_of(blobs.size(), d.handle, t), sealed});
          return {};
        });
    EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.error().message);
    EXPECT_EQ(*n, blobs.size());
    a.finish.archive_id = req.archive_id;
    a.finish.blob_count = blobs.size();
    a.finish.header_digest.fill(0x11);
    a.finish.archive_digest.fill(0x22);
    auto seal = p.backup_finish(a.finish);
    EXPECT_TRUE(seal.ok()) << (seal.ok() ? "" : seal.error().message);
    a.seal = *seal;
    EXPECT_EQ(a.seal.mac.size(), 28u);
    // The signature is the HOK's: it verifies with the HOK certificate's key.
    auto pub = crypto::certificate_public_key(a.certificates.at(0));
    EXPECT_TRUE(pub.ok());
    auto good = crypto::verify(api::KeyType::ed25519, *pub,
                               api::Bytes(a.finish.archive_digest.begin(), a.finish.archive_digest.end()),
                               a.seal.signature);
    EXPECT_TRUE(good.ok() && *good);
    return blobs;
  }
  api::ArchiveSource source_of(const Archive& b) {
    api::ArchiveSource s;
    s.format_version = 2;
    s.source.device.name = b.source.device.name;
    s.source.device.kind = b.source.device.kind;
    s.source.device.firmware = b.source.device.firmware;
    s.source.device.fm = b.source.device.fm;
    s.source.partition.name = b.source.partition.name;
    s.source.partition.type = b.source.partition.type;
    s.domain_fingerprint = b.domain_fingerprint;
    s.wrapped_master_key = b.wrapped_master_key;
    s.finish = b.finish;
    s.mac = b.seal.mac;
    return s;
  }
  api::Result<api::ArchiveRestoreCounts> restore(api::Partition& p, const Archive& begin,
                                                 const std::vector<Blob>& blobs,
                                                 api::ArchiveRestoreMode mode = api::ArchiveRestoreMode::add,
                                                 std::vector<api::ArchiveObjectReport>* reports = nullptr) {
    HSM_TRY(p.restore_begin(source_of(begin)));
    api::ArchiveRestoreOptions opt;
    opt.mode = mode;
    auto src = [&](const api::ArchiveBlobVisitor& visit) -> api::Status {
      for (const auto& b : blobs) HSM_TRY(visit({b.handle, b.type, b.ad, &b.sealed}));
      return {};
    };
    return p.restore_blobs(src, opt, [&](const api::ArchiveObjectReport& r) {
      if (reports) reports->push_back(r);
    });
  }
  std::uint64_t count(api::Partition& p) { return p.describe()->partition.object_count; }
  std::uint64_t handle_of(api::Partition& p, const std::string& label) {
    auto f = p.find_objects(label);
    EXPECT_TRUE(f.ok() && !f->empty()) << label;
    return f->at(0).handle;
  }

  fs::path home_;
  std::vector<std::unique_ptr<api::Device>> devices_;
  std::uint8_t next_id_ = 1;
};

TEST_F(ArchiveDevice, SameDomainRestoresTheSameKeys) {
  auto src = partition(device("hsm-a"), "src");
  keys(*src, "aes-256", 2, "k");
  keys(*src, "ec-p256", 1, "sig");
  Archive begin;
  auto blobs = backup(*src, begin);
  ASSERT_EQ(blobs.size(), 4u);  // two AES keys, an EC pair
  for (const auto& b : blobs) EXPECT_EQ(b.type, 1);
  EXPECT_EQ(begin.certificates.size(), 2u);
  // Format 2 names the domain by a per-archive tag, never by its fingerprint
  // (which would let one precomputed table test guesses against every fleet).
  EXPECT_NE(begin.domain_fingerprint, begin.source.partition.domains.at(0).fingerprint);
  EXPECT_EQ(begin.domain_fingerprint.size(), 64u);

  auto dst = partition(device("hsm-b"), "dst");
  auto r = restore(*dst, begin, blobs);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->created, 4u);
  // Same keys: sign on the source, verify on the target; encrypt on the
  // source, decrypt on the target.
  const api::Bytes msg{'d', 'r', 'i', 'l', 'l'};
  auto sig = src->sign(handle_of(*src, "sig"), msg);
  ASSERT_TRUE(sig.ok());
  auto pub = dst->find_objects("sig");
  ASSERT_EQ(pub->size(), 2u);
  auto ok = dst->verify(pub->at(1).handle, msg, *sig);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(*ok);
  auto ct = src->encrypt(handle_of(*src, "k-1"), msg);
  ASSERT_TRUE(ct.ok());
  auto pt = dst->decrypt(handle_of(*dst, "k-1"), *ct);
  ASSERT_TRUE(pt.ok());
  EXPECT_EQ(*pt, msg);
}

TEST_F(ArchiveDevice, S1WrongDomainIsAnIntegrityFailureAndTheCryptoFailsToo) {
  auto src = partition(device("hsm-a"), "src");
  keys(*src, "aes-256", 1, "k");
  Archive begin;
  auto blobs = backup(*src, begin);
  auto other = partition(device("hsm-b"), "other", "another-domain");
  auto r = restore(*other, begin, blobs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, api::ErrorKind::integrity);
  EXPECT_EQ(r.error().rule, "S1");
  // Even when the header lies about the domain (the tag the other domain
  // would give this archive id), the wrap does not open: it is keyed by the
  // source's domain.
  Archive mine;
  auto theirs = partition(devices_.back().operator*(), "donor", "another-domain");
  keys(*theirs, "aes-256", 1, "x");
  next_id_ = 1;  // the same archive id as `begin`
  (void)backup(*theirs, mine);
  ASSERT_EQ(mine.finish.archive_id, begin.finish.archive_id);
  Archive forged = begin;
  forged.domain_fingerprint = mine.domain_fingerprint;
  auto f = restore(*other, forged, blobs);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().kind, api::ErrorKind::integrity);
  EXPECT_NE(f.error().message.find("does not unwrap"), std::string::npos) << f.error().message;
  EXPECT_EQ(count(*other), 0u);
}

TEST_F(ArchiveDevice, SwappedOrMovedBlobFailsAndNothingIsWritten) {
  auto src = partition(device("hsm-a"), "src");
  keys(*src, "aes-256", 300, "k");  // more than one insert batch
  Archive begin;
  auto blobs = backup(*src, begin);
  auto dst = partition(device("hsm-b"), "dst");
  // The last two blobs swapped (their associated data stays with the position).
  auto swapped = blobs;
  std::swap(swapped[298].sealed, swapped[299].sealed);
  std::swap(swapped[298].handle, swapped[299].handle);
  auto r = restore(*dst, begin, swapped);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, api::ErrorKind::integrity);
  EXPECT_NE(r.error().message.find("does not open"), std::string::npos) << r.error().message;
  EXPECT_EQ(count(*dst), 0u);  // one transaction: the first 256 were rolled back
  // A blob of another archive (another master key) fails the same way.
  Archive begin2;
  auto blobs2 = backup(*src, begin2);
  auto mixed = blobs;
  mixed[5].sealed = blobs2[5].sealed;
  auto m = restore(*dst, begin, mixed);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().kind, api::ErrorKind::integrity);
  EXPECT_EQ(count(*dst), 0u);
  // The intact archive restores.
  auto ok = restore(*dst, begin, blobs);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(count(*dst), 300u);
}

TEST_F(ArchiveDevice, V1PartitionArchivesItsSmkAndSim4Blobs) {
  auto src = partition(device("hsm-a"), "src", "archive-domain", api::PartitionType::v1);
  keys(*src, "aes-256", 2, "k");
  Archive begin;
  auto blobs = backup(*src, begin);
  ASSERT_EQ(blobs.size(), 3u);
  EXPECT_EQ(blobs[0].type, 3);  // rule U4: the SMK first
  EXPECT_EQ(blobs[1].type, 2);
  EXPECT_EQ(blobs[2].type, 2);
  auto dst = partition(device("hsm-b"), "dst", "archive-domain", api::PartitionType::v1);
  auto r = restore(*dst, begin, blobs);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->created, 2u);
  // The target adopted the source's SMK.
  auto* s = dynamic_cast<LunaPartition*>(src.get());
  auto* d = dynamic_cast<LunaPartition*>(dst.get());
  ASSERT_TRUE(s && d);
  auto s_smk = s->smk(), d_smk = d->smk();
  ASSERT_TRUE(s_smk.ok() && d_smk.ok());
  EXPECT_EQ(*s_smk, *d_smk);
  const api::Bytes msg{1, 2, 3};
  auto ct = src->encrypt(handle_of(*src, "k-2"), msg);
  auto pt = dst->decrypt(handle_of(*dst, "k-2"), *ct);
  ASSERT_TRUE(pt.ok());
  EXPECT_EQ(*pt, msg);
  // A SIM4 blob moved to another handle does not open.
  auto moved = blobs;
  moved[2].handle = moved[1].handle;
  auto dst2 = partition(devices_.back().operator*(), "dst2", "archive-domain", api::PartitionType::v1);
  auto m = restore(*dst2, begin, moved);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().kind, api::ErrorKind::integrity);
  EXPECT_EQ(count(*dst2), 0u);
}

TEST_F(ArchiveDevice, AddKeepsReplaceDeletesFirstAndDuplicatesAreNotDoubled) {
  auto src = partition(device("hsm-a"), "src");
  keys(*src, "aes-256", 3, "k");
  Archive begin;
  auto blobs = backup(*src, begin);
  auto dst = partition(device("hsm-b"), "dst");
  keys(*dst, "aes-128", 1, "resident");
  auto a = restore(*dst, begin, blobs, api::ArchiveRestoreMode::add);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->created, 3u);
  EXPECT_EQ(count(*dst), 4u);
  auto again = restore(*dst, begin, blobs, api::ArchiveRestoreMode::add);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->created, 0u);
  EXPECT_EQ(again->already_present, 3u);
  EXPECT_EQ(count(*dst), 4u);
  auto rep = restore(*dst, begin, blobs, api::ArchiveRestoreMode::replace);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->deleted, 4u);
  EXPECT_EQ(rep->created, 3u);
  EXPECT_EQ(count(*dst), 3u);
  EXPECT_TRUE(dst->find_objects("resident")->empty());
}

TEST_F(ArchiveDevice, OpenWritesNothingAndDrillUsesEveryKeyThenRollsBack) {
  auto src = partition(device("hsm-a"), "src");
  keys(*src, "aes-256", 2, "k");
  keys(*src, "rsa-2048", 1, "sig");
  keys(*src, "ed25519", 1, "ed");
  Archive begin;
  auto blobs = backup(*src, begin);
  auto dst = partition(device("hsm-b"), "dst");
  auto o = restore(*dst, begin, blobs, api::ArchiveRestoreMode::open);
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->opened, 6u);
  EXPECT_EQ(count(*dst), 0u);
  std::vector<api::ArchiveObjectReport> reports;
  auto d = restore(*dst, begin, blobs, api::ArchiveRestoreMode::drill, &reports);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->passed, 6u);
  EXPECT_EQ(d->failed, 0u);
  for (const auto& r : reports) EXPECT_EQ(r.status, "passed") << r.object.label << ": " << r.detail;
  EXPECT_EQ(count(*dst), 0u);
  // A restore after the drill still works (the master key was unwrapped again).
  auto a = restore(*dst, begin, blobs);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(count(*dst), 6u);
}

// Format 2: the archive MAC binds the blob count and the header digest to
// the domain. A host that drops a blob, or edits the header and has the file
// re-signed (even by a chain the reader trusts), gets nothing written.
TEST_F(ArchiveDevice, ArchiveMacBindsTheBlobCountAndTheHeader) {
  auto src = partition(device("hsm-a"), "src");
  keys(*src, "aes-256", 4, "k");
  Archive begin;
  auto blobs = backup(*src, begin);
  auto dst = partition(device("hsm-b"), "dst");
  // Blobs dropped, count left alone: the device counts what it is given.
  auto fewer = blobs;
  fewer.pop_back();
  auto r = restore(*dst, begin, fewer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, api::ErrorKind::integrity);
  EXPECT_NE(r.error().message.find("blob(s) but 3 were given"), std::string::npos) << r.error().message;
  EXPECT_EQ(count(*dst), 0u);
  // Blobs dropped and the count changed to match: the MAC fails.
  Archive lying = begin;
  lying.finish.blob_count = 3;
  auto c = restore(*dst, lying, fewer);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, api::ErrorKind::integrity);
  EXPECT_NE(c.error().message.find("archive MAC does not verify"), std::string::npos) << c.error().message;
  // An edited header (another header digest), or another archive digest.
  for (int which = 0; which < 2; ++which) {
    Archive edited = begin;
    (which == 0 ? edited.finish.header_digest : edited.finish.archive_digest)[7] ^= 1;
    auto e = restore(*dst, edited, blobs);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("archive MAC does not verify"), std::string::npos) << e.error().message;
  }
  // No MAC at all in a format 2 archive: refused.
  Archive bare = begin;
  bare.seal.mac.clear();
  EXPECT_FALSE(restore(*dst, bare, blobs).ok());
  EXPECT_EQ(count(*dst), 0u);
  auto ok = restore(*dst, begin, blobs);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(ok->mac_verified);
  EXPECT_EQ(count(*dst), 4u);
}

// Rule X4 (model): a replace is all or nothing. An RSA-1024 key refused by
// a FIPS partition (X3) blocks the whole replace: nothing deleted, nothing
// written.
TEST_F(ArchiveDevice, X4ReplaceWithARefusedObjectDeletesNothing) {
  auto src = partition(device("hsm-a"), "src");
  keys(*src, "aes-256", 2, "k");
  keys(*src, "rsa-1024", 1, "weak");
  Archive begin;
  auto blobs = backup(*src, begin);
  auto dst = partition(device("hsm-b", {7, 8, 0}), "dst", "archive-domain", api::PartitionType::v0, true);
  keys(*dst, "aes-128", 3, "resident");
  std::vector<api::ArchiveObjectReport> reports;
  auto r = restore(*dst, begin, blobs, api::ArchiveRestoreMode::replace, &reports);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->replace_blocked);
  EXPECT_EQ(r->refused, 2u);  // the RSA-1024 pair
  EXPECT_EQ(r->created, 0u);
  EXPECT_EQ(r->deleted, 0u);
  EXPECT_EQ(count(*dst), 3u);
  EXPECT_EQ(dst->find_objects("resident-3")->size(), 1u);
  // add keeps what it can (per object, as before).
  auto a = restore(*dst, begin, blobs, api::ArchiveRestoreMode::add);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->replace_blocked);
  EXPECT_EQ(a->created, 2u);
  EXPECT_EQ(count(*dst), 5u);
}

// The domain tag is per archive: two backups of one partition share nothing
// an offline guesser could reuse.
TEST_F(ArchiveDevice, DomainTagDiffersPerArchive) {
  auto src = partition(device("hsm-a"), "src");
  keys(*src, "aes-256", 1, "k");
  Archive a, b;
  (void)backup(*src, a);
  (void)backup(*src, b);
  EXPECT_NE(a.domain_fingerprint, b.domain_fingerprint);
  EXPECT_NE(a.wrapped_master_key, b.wrapped_master_key);
}

TEST_F(ArchiveDevice, SealWithoutBeginIsAUsageError) {
  auto src = partition(device("hsm-a"), "src");
  auto n = src->backup_seal(
      "all", [](std::uint64_t, std::uint8_t) { return api::Bytes{}; },
      [](const api::ObjectDesc&, std::uint8_t, const api::Bytes&) -> api::Status { return {}; });
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().kind, api::ErrorKind::usage);
  auto r = src->restore_blobs([](const api::ArchiveBlobVisitor&) -> api::Status { return {}; }, {}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, api::ErrorKind::usage);
}

}  // namespace
}  // namespace hsm::luna
