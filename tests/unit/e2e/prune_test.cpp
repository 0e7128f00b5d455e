// prune end to end (issue 4): a folder of 30 dated archives spanning four
// months keeps exactly what the retention policy says, by the times INSIDE
// the archives (file names and mtimes are deliberately misleading, and the
// binary runs with a far-east TZ to catch local-time slips); --dry-run
// removes nothing; files that are not archives are left alone.
//
// The archives are written with the formats library in deterministic mode
// (header.created_at as given), signed by the test HOK of
// tests/unit/formats/test_support.hpp.
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

  // Writes one signed archive of `source` ("DEV/PART") created at `when`.
  fs::path write_archive(const std::string& file, const std::string& when, const std::string& device = "hsm-a",
                         const std::string& partition = "payments") {
    ft::Fleet fleet;
    formats::ArchiveHeader h = ft::golden_header(fleet);
    h.created_at = utc(when);
    h.source_device = device;
    h.partition_name = partition;
    for (std::size_t i = 0; i < h.archive_id.size(); ++i)
      h.archive_id[i] = static_cast<std::uint8_t>(std::hash<std::string>{}(file + when) >> (i % 8 * 8));
    formats::ArchiveWriterOptions opt;
    opt.deterministic = true;
    const fs::path path = folder_ / file;
    auto w = formats::ArchiveWriter::create(path, h, fleet.signer(), opt);
    if (!w.ok()) throw std::runtime_error("archive writer: " + w.error().message);
    const auto b = ft::golden_blobs()[1];
    const auto sealed = ft::seal(ft::golden_blob_key(), ft::golden_nonce(0), b.plaintext,
                                 (*w)->next_associated_data(b.handle, b.type));
    if (auto s = (*w)->add_blob(b.handle, b.type, b.label, sealed); !s.ok())
      throw std::runtime_error("add_blob: " + s.error().message);
    if (auto c = (*w)->commit(); !c.ok()) throw std::runtime_error("commit: " + c.error().message);
    return path;
  }

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

  std::vector<std::string> keep_args() const {
    return {"prune", folder_.string(), "--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "3"};
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
    EXPECT_EQ(k["source"], "hsm-a/payments");
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
  EXPECT_NE(real.find("11 kept, 19 removed, 2 skipped"), std::string::npos) << real;
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
  auto j = ok({"prune", folder_.string(), "--keep-daily", "1", "--json"}).json();
  EXPECT_EQ(files(), (std::set<std::string>{"a-1.hsmar", "b-1.hsmar"}));
  EXPECT_EQ(j["series"].size(), 2u);
  EXPECT_EQ(j["removed"][0]["file"], "a-2.hsmar");
}

TEST_F(Prune, AllKeepCountsZeroIsRefusedAndNothingIsRemoved) {
  write_archive("a-1.hsmar", "2026-11-23 02:00");
  auto r = run({"prune", folder_.string()});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  EXPECT_NE(r.err.find("would remove every archive"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fix: give at least one of --keep-daily"), std::string::npos) << r.err;
  r = run({"prune", folder_.string(), "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0"});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  EXPECT_EQ(files(), std::set<std::string>{"a-1.hsmar"});
  EXPECT_EQ(run({"prune", (dir_ / "missing").string(), "--keep-daily", "1"}).rc, kUsage);
}

}  // namespace
}  // namespace hsm::e2e
