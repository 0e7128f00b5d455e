// `plan run luna6-to-luna7` killed with SIGKILL at every journal record
// boundary (right after a record is written, and right before, when the work
// it reports is done but not yet journaled), then finished with --resume: the
// targets hold exactly the source's objects (same content fingerprints, no
// duplicates), and the HA group is made.
//
// The kill points come from the journal's test hook (migrations/journal.hpp):
// HSM_MIGRATE_CRASH_AFTER_RECORDS=N / HSM_MIGRATE_CRASH_BEFORE_RECORD=N. To
// stay fast, the fleet is created once (the plan's setup, which generates RSA
// keys) and copied for each kill point of the steps; a few kill points inside
// the setup itself start from an empty folder.
#include <set>

#include "harness.hpp"

namespace hsm::e2e {
namespace {

constexpr int kKilled = 128 + 9;  // what the harness reports for SIGKILL

class PlanCrash : public Cli {
 protected:
  fs::path home(const std::string& name) const { return dir_ / name; }
  void use(const fs::path& h) { env_["HSM_MIGRATE_HOME"] = h.string(); }
  void crash(const char* var, int n) {
    env_["HSM_MIGRATE_CRASH_AFTER_RECORDS"] = "";
    env_["HSM_MIGRATE_CRASH_BEFORE_RECORD"] = "";
    if (var) env_[var] = std::to_string(n);
  }
  std::size_t journal_records(const fs::path& h) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(h / "journal")) {
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);) n += !line.empty();
    }
    return n;
  }
  std::multiset<std::string> fingerprints(const std::string& address) {
    std::multiset<std::string> out;
    auto r = run({"object", "list", address, "--json"});
    EXPECT_EQ(r.rc, kOk) << r.err;
    if (r.rc != kOk) return out;
    for (const auto& o : r.json()["objects"]) out.insert(o["fingerprint"]);
    return out;
  }
  // The end state every kill point must reach.
  void expect_complete(const std::string& point) {
    const auto source = fingerprints("luna6-a/app");
    EXPECT_EQ(source.size(), 12u) << point;
    for (const char* t : {"luna6-b/app", "luna7-a/app", "luna7-b/app", "backup-hsm/app"})
      EXPECT_EQ(fingerprints(t), source) << point << ": " << t;
    auto g = run({"hagroup", "show", "modern", "--json"});
    ASSERT_EQ(g.rc, kOk) << point << ": " << g.err;
    EXPECT_EQ(g.json()["group"]["members"].size(), 2u) << point;
    auto again = run({"plan", "run", "luna6-to-luna7"});
    EXPECT_EQ(again.rc, kOk) << point;
    EXPECT_NE(again.out.find("already finished"), std::string::npos) << point << ": " << again.out;
  }
  // Kill at one point, then --resume to the end.
  void kill_and_resume(const std::string& point, bool resume_first) {
    std::vector<std::string> args{"plan", "run", "luna6-to-luna7"};
    if (resume_first) args.push_back("--resume");
    auto killed = run(args);
    if (killed.rc != kKilled) {
      ADD_FAILURE() << point << ": expected SIGKILL, got " << killed.rc << "\n" << killed.out << killed.err;
      return;
    }
    crash(nullptr, 0);
    auto r = run({"plan", "run", "luna6-to-luna7", "--resume"});
    ASSERT_EQ(r.rc, kOk) << point << "\n" << r.out << r.err;
    expect_complete(point);
  }
};

TEST_F(PlanCrash, KilledAtEveryJournalRecordThenResumed) {
  // The fleet as the plan's setup leaves it: kill right after the last setup
  // record (run-start and 2 records per setup item: 5 devices, 5 partitions,
  // 3 key sets, 1 HA group).
  const int setup_records = 1 + 2 * (5 + 5 + 3 + 1);
  const fs::path prepared = home("prepared");
  use(prepared);
  crash("HSM_MIGRATE_CRASH_AFTER_RECORDS", setup_records);
  auto first = run({"plan", "run", "luna6-to-luna7"});
  ASSERT_EQ(first.rc, kKilled) << first.out << first.err;
  ASSERT_EQ(journal_records(prepared), static_cast<std::size_t>(setup_records));

  // How many records the steps write: one clean resumed run on a copy.
  const fs::path whole = home("whole");
  fs::copy(prepared, whole, fs::copy_options::recursive);
  use(whole);
  crash(nullptr, 0);
  auto full = run({"plan", "run", "luna6-to-luna7", "--resume"});
  if (full.err.find("is not built in this tree") != std::string::npos) GTEST_SKIP() << full.err;
  ASSERT_EQ(full.rc, kOk) << full.out << full.err;
  expect_complete("no crash");
  const int step_records = static_cast<int>(journal_records(whole)) - setup_records;
  ASSERT_GE(step_records, 7 * 2 + 1);  // a begin and a done per step, and run-done

  int points = 0;
  for (const char* var : {"HSM_MIGRATE_CRASH_AFTER_RECORDS", "HSM_MIGRATE_CRASH_BEFORE_RECORD"}) {
    for (int k = 1; k <= step_records; ++k) {
      const std::string point = std::string(var) + "=" + std::to_string(k) + " (steps)";
      const fs::path h = home("k" + std::to_string(points));
      fs::copy(prepared, h, fs::copy_options::recursive);
      use(h);
      crash(var, k);
      kill_and_resume(point, true);
      fs::remove_all(h);
      ++points;
      if (HasFatalFailure()) return;
    }
  }
  // Kill points inside the setup (a device, a partition, keys half-way).
  for (int k : {2, 3, 7, 9}) {
    const std::string point = "HSM_MIGRATE_CRASH_BEFORE_RECORD=" + std::to_string(k) + " (setup)";
    const fs::path h = home("s" + std::to_string(k));
    use(h);
    crash("HSM_MIGRATE_CRASH_BEFORE_RECORD", k);
    kill_and_resume(point, false);
    ++points;
    if (HasFatalFailure()) return;
  }
  EXPECT_GE(points, 20);
}

}  // namespace
}  // namespace hsm::e2e
