// prune end to end (issue 4): a folder of 30 dated archives spanning four
// months keeps exactly what the retention policy says, by the times INSIDE
// the archives (file names and mtimes are deliberately misleading, and the
// binary runs with a far-east TZ to catch local-time slips); --dry-run
// removes nothing; files that are not archives are left alone.
//
// The archives are written with the formats library (header.created_at as
// given), signed by the test HOKs of tests/unit/formats/test_support.hpp, and
// pinned with --trusted-root to their test roots (issue 10: prune verifies
// every archive against the trusted roots). Issue 10's guarantees follow the
// 30-archive case: a damaged newest archive never displaces the last good
// one, a subset backup never fills the partition's slot, fleets that reuse a
// device/partition name are separate groups, stale temporary files go.
#include <algorithm>
#include <ctime>
#include <set>

#include "../formats/test_support.hpp"
#include "harness.hpp"

namespace hsm::e2e {
namespace {

namespace ft = hsm::formats::test;

// "YYYY-MM-DD HH:MM" UTC -> unix seconds (C library, not the code under test).
std::int64_t utc(const std::string& text) {
  std::tm tm{};
  if (std::sscanf(text.c_str(), "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min) != 5)
    throw std::runtime_error("bad date in test: " + text);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(::timegm(&tm));
}

// 30 archive times of one partition, 2026-08-03 .. 2026-11-23 (UTC). 11-23 is
// a Monday (ISO week 48). Two archives on 08-31, 09-14 and 11-17.
const std::vector<std::string> kTimes = {
    "2026-08-03 02:00", "2026-08-10 02:00", "2026-08-17 02:00", "2026-08-31 02:00", "2026-08-31 14:00",
    "2026-09-01 02:00", "2026-09-07 02:00", "2026-09-14 02:00", "2026-09-14 14:00", "2026-09-21 02:00",
    "2026-09-28 02:00", "2026-09-30 23:30",  // 10-01 in Auckland: the TZ trap
    "2026-10-05 02:00", "2026-10-12 02:00", "2026-10-19 02:00", "2026-10-26 02:00", "2026-10-31 02:00",
    "2026-11-01 02:00", "2026-11-02 02:00", "2026-11-09 02:00", "2026-11-15 02:00", "2026-11-16 02:00",
    "2026-11-17 02:00", "2026-11-17 14:00", "2026-11-18 02:00", "2026-11-19 02:00", "2026-11-20 02:00",
    "2026-11-21 02:00", "2026-11-22 02:00", "2026-11-23 02:00"};

// --keep-daily 7 --keep-weekly 4 --keep-monthly 3, worked out by hand:
//  daily:   the 7 newest days with archives: 11-23 .. 11-18, and 11-17 (its
//           14:00 archive, the newer of the two)
//  weekly:  W48 11-23, W47 (Nov 16-22) 11-22, W46 (Nov 9-15) 11-15,
//           W45 (Nov 2-8) 11-02
//  monthly: Nov 11-23, Oct 10-31, Sep 09-30 23:30
const std::map<std::string, std::vector<std::string>> kExpectedKept = {
    {"2026-11-23 02:00", {"daily", "weekly", "monthly"}},
    {"2026-11-22 02:00", {"daily", "weekly"}},
    {"2026-11-21 02:00", {"daily"}},
    {"2026-11-20 02:00", {"daily"}},
    {"2026-11-19 02:00", {"daily"}},
    {"2026-11-18 02:00", {"daily"}},
    {"2026-11-17 14:00", {"daily"}},
    {"2026-11-15 02:00", {"weekly"}},
    {"2026-11-02 02:00", {"weekly"}},
    {"2026-10-31 02:00", {"monthly"}},
    {"2026-09-30 23:30", {"monthly"}},
};

class Prune : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    folder_ = dir_ / "backups";
    fs::create_directories(folder_);
    env_["TZ"] = "Pacific/Auckland";  // UTC+12/+13: a local-time slip moves days and months
  }

  // Writes one signed archive of `source` ("DEV/PART") created at `when`,
  // under the test fleet `fleet` (its root must be trusted), complete unless
  // a selector is given.
  fs::path write_archive(const std::string& file, const std::string& when, const std::string& device = "hsm-a",
                         const std::string& partition = "payments", const ft::Fleet& fleet = default_fleet(),
                         const std::string& selector = "") {
    const std::string hok_cn = device + " HOK";
    ft::Fleet signer(fleet_seed(fleet), 0x21, "Golden Manufacturing Root", hok_cn);
    formats::ArchiveHeader h = ft::golden_header(signer);
    h.created_at = utc(when);
    h.source_device = device;
    h.partition_name = partition;
    h.scope = selector.empty() ? formats::ArchiveScope::complete : formats::ArchiveScope::subset;
    h.selector = selector;
    for (std::size_t i = 0; i < h.archive_id.size(); ++i)
      h.archive_id[i] = static_cast<std::uint8_t>(std::hash<std::string>{}(file + when) >> (i % 8 * 8));
    formats::ArchiveWriterOptions opt;
    opt.identity_given = true;
    const fs::path path = folder_ / file;
    EVP_PKEY* hok = signer.hok.get();
    auto sealer = [hok](const api::ArchiveFinish& f) -> api::Result<api::ArchiveSeal> {
      api::ArchiveSeal seal;
      seal.signature = ft::ed25519_sign(hok, api::Bytes(f.archive_digest.begin(), f.archive_digest.end()));
      seal.mac.assign(28, 0x4d);  // opaque to prune: only a partition of the domain checks it
      return seal;
    };
    auto w = formats::ArchiveWriter::create(path, h, sealer, opt);
    if (!w.ok()) throw std::runtime_error("archive writer: " + w.error().message);
    const auto b = ft::golden_blobs()[1];
    const auto sealed = ft::seal(ft::golden_blob_key(), ft::golden_nonce(0), b.plaintext,
                                 (*w)->next_associated_data(b.handle, b.type));
    if (auto s = (*w)->add_blob(b.handle, b.type, b.label, sealed); !s.ok())
      throw std::runtime_error("add_blob: " + s.error().message);
    if (auto c = (*w)->commit(); !c.ok()) throw std::runtime_error("commit: " + c.error().message);
    return path;
  }
  static const ft::Fleet& default_fleet() {
    static const ft::Fleet f(0x01);
    return f;
  }
  static const ft::Fleet& other_fleet() {
    static const ft::Fleet f(0x51);
    return f;
  }
  static std::uint8_t fleet_seed(const ft::Fleet& f) { return &f == &other_fleet() ? 0x51 : 0x01; }
  // A file holding a test root's SHA-256 in hex, for --trusted-root.
  std::string root_file(const ft::Fleet& f, const std::string& name) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << formats::to_hex(formats::certificate_sha256(f.root_cert)) << "\n";
    return p.string();
  }
  std::vector<std::string> trust() { return {"--trusted-root", root_file(default_fleet(), "root-a.txt")}; }

  // The 30 archives, named so that name order contradicts time order
  // (oldest gets the greatest name), with mtimes that contradict it too.
  void write_thirty() {
    const auto now = fs::file_time_type::clock::now();
    for (std::size_t i = 0; i < kTimes.size(); ++i) {
      const std::string file = "nightly-" + std::to_string(100 - i) + ".hsmar";
      const fs::path p = write_archive(file, kTimes[i]);
      fs::last_write_time(p, now - std::chrono::hours(static_cast<int>(kTimes.size() - i) * 24));
      name_of_[kTimes[i]] = file;
    }
    std::ofstream(folder_ / "README.txt") << "not an archive: prune must leave me alone\n";
    std::ofstream(folder_ / "truncated.hsmar") << "HSMAR";  // looks like one by name only
  }

  std::set<std::string> files() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(folder_)) out.insert(e.path().filename().string());
    return out;
  }
  std::set<std::string> expected_kept_files() const {
    std::set<std::string> out;
    for (const auto& [when, reasons] : kExpectedKept) out.insert(name_of_.at(when));
    return out;
  }

  std::vector<std::string> keep_args() {
    std::vector<std::string> a{"prune", folder_.string(), "--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "3"};
    for (const auto& t : trust()) a.push_back(t);
    return a;
  }

  fs::path folder_;
  std::map<std::string, std::string> name_of_;  // time -> file
};

TEST_F(Prune, ThirtyDatedArchivesKeepExactlyWhatThePolicySays) {
  write_thirty();
  const std::set<std::string> before = files();
  ASSERT_EQ(before.size(), 32u);

  // --dry-run: the same decisions, nothing removed.
  auto args = keep_args();
  args.push_back("--dry-run");
  args.push_back("--json");
  auto dry = ok(args).json();
  EXPECT_EQ(files(), before);
  EXPECT_EQ(dry["dry_run"], true);
  EXPECT_EQ(dry["counts"]["kept"], kExpectedKept.size());
  EXPECT_EQ(dry["counts"]["removed"], 30 - kExpectedKept.size());
  EXPECT_EQ(dry["counts"]["skipped"], 2);

  // Kept, with their reasons and created_at, exactly as worked out by hand.
  std::map<std::string, std::string> when_of;
  for (const auto& [when, file] : name_of_) when_of[file] = when;
  std::set<std::string> kept_files;
  for (const auto& k : dry["kept"]) {
    const std::string file = k["file"];
    kept_files.insert(file);
    ASSERT_TRUE(when_of.count(file)) << file;
    EXPECT_EQ(k["created_at"].get<std::int64_t>(), utc(when_of[file])) << file;
    EXPECT_NE(k["series"].get<std::string>().find(" hsm-a/payments complete"), std::string::npos) << k["series"];
    ASSERT_TRUE(kExpectedKept.count(when_of[file])) << "kept but should not be: " << when_of[file];
    EXPECT_EQ(k["reasons"].get<std::vector<std::string>>(), kExpectedKept.at(when_of[file])) << when_of[file];
  }
  EXPECT_EQ(kept_files, expected_kept_files());
  EXPECT_EQ(dry["kept"][0]["periods"]["weekly"], "2026-W48");
  EXPECT_EQ(dry["kept"][0]["created"], "2026-11-23T02:00:00Z");
  std::set<std::string> removed_files;
  for (const auto& r : dry["removed"]) removed_files.insert(r["file"].get<std::string>());
  EXPECT_EQ(removed_files.size(), 30 - kExpectedKept.size());
  for (const auto& f : removed_files) EXPECT_FALSE(kept_files.count(f)) << f;
  std::set<std::string> skipped;
  for (const auto& s : dry["skipped"]) skipped.insert(s["file"].get<std::string>());
  EXPECT_EQ(skipped, (std::set<std::string>{"README.txt", "truncated.hsmar"}));

  // For real: exactly the kept archives and the two non-archives remain.
  auto real = ok(keep_args()).out;
  EXPECT_NE(real.find("11 kept, 19 removed, 0 damaged or untrusted (kept), 0 stale temporary file(s) removed, 2 skipped"),
            std::string::npos)
      << real;
  std::set<std::string> expected = expected_kept_files();
  expected.insert("README.txt");
  expected.insert("truncated.hsmar");
  EXPECT_EQ(files(), expected);

  // Again: nothing more to remove.
  auto again = ok([&] {
                 auto a = keep_args();
                 a.push_back("--json");
                 return a;
               }())
                   .json();
  EXPECT_EQ(again["counts"]["removed"], 0);
  EXPECT_EQ(again["counts"]["kept"], kExpectedKept.size());
  EXPECT_EQ(files(), expected);
}

TEST_F(Prune, EachSourcePartitionIsItsOwnSeries) {
  // One archive of another partition, older the same day: pruned on its own
  // series it is that series' newest, so it stays.
  write_archive("a-1.hsmar", "2026-11-23 02:00");
  write_archive("a-2.hsmar", "2026-11-22 02:00");
  write_archive("b-1.hsmar", "2026-11-23 01:00", "hsm-b", "db");
  auto args = std::vector<std::string>{"prune", folder_.string(), "--keep-daily", "1", "--json"};
  for (const auto& t : trust()) args.push_back(t);
  auto j = ok(args).json();
  EXPECT_EQ(files(), (std::set<std::string>{"a-1.hsmar", "b-1.hsmar"}));
  EXPECT_EQ(j["series"].size(), 2u);
  EXPECT_EQ(j["removed"][0]["file"], "a-2.hsmar");
}

TEST_F(Prune, NoKeepRuleIsRefusedAndNothingIsRemoved) {
  write_archive("a-1.hsmar", "2026-11-23 02:00");
  auto r = run({"prune", folder_.string()});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  EXPECT_NE(r.err.find("would remove every archive"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fix: give at least one of --keep-last"), std::string::npos) << r.err;
  r = run({"prune", folder_.string(), "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0"});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  r = run({"prune", folder_.string(), "--keep-within", "3x"});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  EXPECT_NE(r.err.find("is not a duration"), std::string::npos) << r.err;
  EXPECT_EQ(files(), std::set<std::string>{"a-1.hsmar"});
  EXPECT_EQ(run({"prune", (dir_ / "missing").string(), "--keep-daily", "1"}).rc, kUsage);
}

// Issue 10 §4: the newest archive of the day is truncated (a backup killed as
// it was copied, a full disk). Old prune kept it and deleted the good one.
TEST_F(Prune, ADamagedNewestArchiveNeverDisplacesTheLastGoodOne) {
  write_archive("good.hsmar", "2026-11-23 02:00");
  const fs::path newer = write_archive("newer.hsmar", "2026-11-23 14:00");
  const std::string bytes = slurp(newer);
  std::ofstream(newer, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 30);
  write_archive("older.hsmar", "2026-11-22 02:00");
  auto args = std::vector<std::string>{"prune", folder_.string(), "--keep-daily", "1", "--json"};
  for (const auto& t : trust()) args.push_back(t);
  auto r = run(args);
  EXPECT_EQ(r.rc, kIntegrity) << r.err;  // the damage is reported, after the rest was done
  auto j = r.json();
  EXPECT_EQ(j["counts"]["damaged"], 1);
  EXPECT_EQ(j["damaged"][0]["file"], "newer.hsmar");
  EXPECT_EQ(j["kept"][0]["file"], "good.hsmar");
  // The truncated file is never deleted; the good one is kept; the older one goes.
  EXPECT_EQ(files(), (std::set<std::string>{"good.hsmar", "newer.hsmar"}));
  auto text = run({"prune", folder_.string(), "--keep-daily", "1", "--trusted-root", trust()[1]});
  EXPECT_EQ(text.rc, kIntegrity);
  EXPECT_NE(text.err.find("newer.hsmar"), std::string::npos) << text.err;
  EXPECT_EQ(std::count(text.err.begin(), text.err.end(), '\n'), 1) << text.err;
}

// Issue 10 §4: a one-object `backup --objects` archive no longer wins the
// day's slot over the full backup: it is a series of its own.
TEST_F(Prune, ASubsetBackupNeverFillsThePartitionsSlot) {
  write_archive("full.hsmar", "2026-11-23 02:00");
  write_archive("one-key.hsmar", "2026-11-23 09:00", "hsm-a", "payments", default_fleet(), "k-1");
  write_archive("full-old.hsmar", "2026-11-22 02:00");
  auto args = std::vector<std::string>{"prune", folder_.string(), "--keep-daily", "1", "--json"};
  for (const auto& t : trust()) args.push_back(t);
  auto j = ok(args).json();
  EXPECT_EQ(files(), (std::set<std::string>{"full.hsmar", "one-key.hsmar"}));
  bool subset_series = false;
  for (const auto& s : j["series"])
    if (s["series"].get<std::string>().find("subset \"k-1\"") != std::string::npos) subset_series = true;
  EXPECT_TRUE(subset_series) << j["series"].dump();
}

// Issue 10 §4: two fleets that both name a partition hsm-a/payments are two
// groups (by root fingerprint); an archive of a root not trusted is kept and
// reported, never deleted.
TEST_F(Prune, FleetsThatReuseANameAreSeparateGroups) {
  write_archive("a-new.hsmar", "2026-11-23 02:00");
  write_archive("a-old.hsmar", "2026-11-22 02:00");
  write_archive("b-old.hsmar", "2026-11-21 02:00", "hsm-a", "payments", other_fleet());
  // Without the other fleet's root: its archive is untrusted, kept, exit 4.
  auto args = std::vector<std::string>{"prune", folder_.string(), "--keep-daily", "1", "--json"};
  for (const auto& t : trust()) args.push_back(t);
  auto r = run(args);
  EXPECT_EQ(r.rc, kIntegrity) << r.err;
  EXPECT_NE(r.json()["damaged"][0]["reason"].get<std::string>().find("not trusted"), std::string::npos);
  EXPECT_EQ(files(), (std::set<std::string>{"a-new.hsmar", "b-old.hsmar"}));
  // Trusted too: the other fleet's archive is its group's newest: it stays.
  write_archive("a-old.hsmar", "2026-11-22 02:00");
  args.push_back("--trusted-root");
  args.push_back(root_file(other_fleet(), "root-b.txt"));
  auto j = ok(args).json();
  EXPECT_EQ(j["series"].size(), 2u);
  EXPECT_EQ(files(), (std::set<std::string>{"a-new.hsmar", "b-old.hsmar"}));
}

// Issue 10 §4: restic's other rules, end to end (the unit tests pin them).
TEST_F(Prune, KeepLastHourlyYearlyAndWithin) {
  write_archive("h1.hsmar", "2026-11-23 14:10");
  write_archive("h2.hsmar", "2026-11-23 14:40");
  write_archive("h3.hsmar", "2026-11-23 13:05");
  write_archive("d1.hsmar", "2026-11-20 02:00");
  write_archive("y1.hsmar", "2025-06-01 02:00");
  auto run_keep = [&](std::vector<std::string> keep) {
    std::vector<std::string> a{"prune", folder_.string(), "--dry-run", "--json"};
    a.insert(a.end(), keep.begin(), keep.end());
    for (const auto& t : trust()) a.push_back(t);
    std::set<std::string> kept;
    const nlohmann::json doc = ok(a).json();  // (a temporary would die before the loop)
    for (const auto& k : doc["kept"]) kept.insert(k["file"].get<std::string>());
    return kept;
  };
  EXPECT_EQ(run_keep({"--keep-last", "2"}), (std::set<std::string>{"h2.hsmar", "h1.hsmar"}));
  EXPECT_EQ(run_keep({"--keep-hourly", "2"}), (std::set<std::string>{"h2.hsmar", "h3.hsmar"}));
  EXPECT_EQ(run_keep({"--keep-yearly", "2"}), (std::set<std::string>{"h2.hsmar", "y1.hsmar"}));
  // Within of the NEWEST archive (11-23 14:40): 3d reaches back to 11-20 14:40.
  EXPECT_EQ(run_keep({"--keep-within", "3d"}), (std::set<std::string>{"h1.hsmar", "h2.hsmar", "h3.hsmar"}));
  EXPECT_EQ(run_keep({"--keep-within", "3d13h"}), (std::set<std::string>{"h1.hsmar", "h2.hsmar", "h3.hsmar", "d1.hsmar"}));
  EXPECT_EQ(files().size(), 5u);  // dry runs
}

// Issue 10 §4: temporary files of interrupted backups (the writer's own
// naming) older than a day are removed and listed; younger ones and other
// hidden files stay.
TEST_F(Prune, StaleTemporaryFilesOfTheWriterAreRemoved) {
  write_archive("a.hsmar", "2026-11-23 02:00");
  auto make = [&](const std::string& name, int hours_old) {
    const fs::path p = folder_ / name;
    std::ofstream(p) << "partial";
    fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::hours(hours_old));
  };
  make(".a-2026.hsmar.tmp-Ab12Cd", 30);
  make(".hsm-migrate-index.tmp-x9Y8z7", 48);
  make(".b.hsmar.tmp-Zz99aa", 2);  // a backup may still be writing it
  make(".bashrc", 100);            // not ours
  make(".c.hsmar.tmp-short", 100); // not the writer's pattern (5 characters)
  auto args = std::vector<std::string>{"prune", folder_.string(), "--keep-daily", "1", "--json"};
  for (const auto& t : trust()) args.push_back(t);
  auto j = ok(args).json();
  EXPECT_EQ(j["counts"]["temporary_files_removed"], 2);
  EXPECT_EQ(files(), (std::set<std::string>{"a.hsmar", ".b.hsmar.tmp-Zz99aa", ".bashrc", ".c.hsmar.tmp-short"}));
}

}  // namespace
}  // namespace hsm::e2e
