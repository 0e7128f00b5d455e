// `plan run luna6-to-luna7` killed with SIGKILL at every journal record
// boundary (right after a record is written, and right before the records
// that report object work: the work done, not yet journaled), then finished
// with --resume: the targets hold exactly the source's objects (same content
// fingerprints, no duplicates) and the HA group is made.
//
// Kill points come from the journal's test hook (migrations/journal.hpp):
// HSM_MIGRATE_CRASH_AFTER_RECORDS=N / HSM_MIGRATE_CRASH_BEFORE_RECORD=N count
// the records one process writes. To stay fast:
// - the plan's setup (which generates RSA keys) runs once, killed right after
//   its last record, and the fleet folder is copied from there;
// - the state "killed after record k" is built as a chain: a copy of the
//   state after record k-1, resumed and killed after its first record (the
//   same executor, so the same state as a run killed at k from the start);
// - the resumes that check each kill point run on two workers (2 cores);
// - the prepared fleet has each target device's token wrapping certificate
//   made once (a CPv3 one is an RSA-4096 key, seconds to generate), by
//   clones into extra "warm" partitions the plan does not touch.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "tests/unit/e2e/harness.hpp"

namespace hsm::e2e {
namespace {

constexpr int kKilled = 128 + 9;  // what the harness reports for SIGKILL

class PlanCrash : public Cli {
 protected:
  // Thread-safe: its own output files, its own environment.
  CliRun cli(const fs::path& home, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& extra = {}) {
    std::map<std::string, std::string> env = env_;
    env["HSM_MIGRATE_HOME"] = home.string();
    for (const auto& [k, v] : extra) env[k] = v;
    return run_with_env(args, env, dir_ / ("run-" + std::to_string(counter_++)));
  }
  static std::size_t journal_records(const fs::path& home) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(home / "journal")) {
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);) n += !line.empty();
    }
    return n;
  }
  static std::string last_event(const fs::path& home) {
    std::string last;
    for (const auto& e : fs::directory_iterator(home / "journal")) {
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);)
        if (!line.empty()) last = nlohmann::json::parse(line)["event"];
    }
    return last;
  }
  std::multiset<std::string> fingerprints(const fs::path& home, const std::string& address, std::string& why) {
    std::multiset<std::string> out;
    auto r = cli(home, {"object", "list", address, "--json"});
    if (r.rc != kOk) {
      why += "object list " + address + ": " + r.err;
      return out;
    }
    const auto doc = r.json();
    for (const auto& o : doc["objects"]) out.insert(o["fingerprint"].get<std::string>());
    return out;
  }
  // Resumes `home` to the end and checks the end state; "" when all is well.
  std::string resume_and_verify(const fs::path& home) {
    auto r = cli(home, {"plan", "run", "luna6-to-luna7", "--resume"});
    if (r.rc != kOk) return "--resume exited " + std::to_string(r.rc) + ": " + r.out + r.err;
    std::string why;
    const auto source = fingerprints(home, "luna6-a/app", why);
    if (source.size() != 12) why += "the source holds " + std::to_string(source.size()) + " objects; ";
    for (const char* t : {"luna6-b/app", "luna7-a/app", "luna7-b/app", "backup-hsm/app"})
      if (fingerprints(home, t, why) != source) why += std::string(t) + " does not hold exactly the source's objects; ";
    auto g = cli(home, {"hagroup", "show", "modern", "--json"});
    if (g.rc != kOk || g.json()["group"]["members"].size() != 2) why += "HA group modern missing; ";
    return why;
  }
  std::atomic<int> counter_{0};
};

TEST_F(PlanCrash, KilledAtEveryJournalRecordThenResumed) {
  // The fleet as the plan's setup leaves it: killed right after the last
  // setup record (run-start, then a begin and a done record for each of 5
  // devices, 5 partitions, 3 key sets and the HA group legacy).
  const int setup_records = 1 + 2 * (5 + 5 + 3 + 1);
  const fs::path prepared = dir_ / "s0";
  auto first = cli(prepared, {"plan", "run", "luna6-to-luna7"},
                   {{"HSM_MIGRATE_CRASH_AFTER_RECORDS", std::to_string(setup_records)}});
  ASSERT_EQ(first.rc, kKilled) << first.out << first.err;
  ASSERT_EQ(journal_records(prepared), static_cast<std::size_t>(setup_records));
  for (const std::vector<std::string>& c : std::vector<std::vector<std::string>>{
           {"partition", "create", "luna6-b/warm"},
           {"partition", "create", "luna7-a/warm"},
           {"partition", "create", "luna7-b/warm"},
           {"partition", "create", "backup-hsm/warm"},
           {"partition", "policy", "luna7-a/warm", "--set", "42=1"},
           {"clone", "luna6-a/app", "luna6-b/warm", "--objects", "tls"},
           {"clone", "luna6-a/app", "luna7-a/warm", "--objects", "tls"},
           {"clone", "luna6-a/app", "backup-hsm/warm", "--objects", "tls"},
           {"clone", "backup-hsm/warm", "luna7-b/warm"}}) {
    auto r = cli(prepared, c);
    ASSERT_EQ(r.rc, kOk) << r.err;
  }

  // The chain of states "killed after record k" of the steps, and for the
  // records that report object work, "killed just before record k".
  struct Point {
    std::string name;
    fs::path home;
    std::string expect_last;  // the journal's last event after the kill
  };
  std::vector<Point> points;
  fs::path prev = prepared;
  for (int k = 1; k < 200; ++k) {
    const fs::path before = dir_ / ("b" + std::to_string(k));
    fs::copy(prev, before, fs::copy_options::recursive);
    auto b = cli(before, {"plan", "run", "luna6-to-luna7", "--resume"}, {{"HSM_MIGRATE_CRASH_BEFORE_RECORD", "1"}});
    ASSERT_EQ(b.rc, kKilled) << "before record " << k << ": " << b.out << b.err;
    const fs::path after = dir_ / ("s" + std::to_string(k));
    fs::copy(prev, after, fs::copy_options::recursive);
    auto a = cli(after, {"plan", "run", "luna6-to-luna7", "--resume"}, {{"HSM_MIGRATE_CRASH_AFTER_RECORDS", "1"}});
    ASSERT_EQ(a.rc, kKilled) << "after record " << k << ": " << a.out << a.err;
    const std::string ev = last_event(after);
    // "Before" kills matter most where object work precedes the record: a
    // batch the target committed but the journal does not know of.
    if (ev == "batch-done")
      points.push_back({"killed before step record " + std::to_string(k) + " (" + ev + ")", before, ""});
    else
      fs::remove_all(before);
    points.push_back({"killed after step record " + std::to_string(k) + " (" + ev + ")", after, ev});
    prev = after;
    if (ev == "run-done") break;
  }
  // Kill points inside the setup, from an empty folder: a device being
  // created, keys generated but not yet journaled.
  for (int k : {2, 7}) points.push_back({"killed before setup record " + std::to_string(k), dir_ / ("e" + std::to_string(k)), "setup"});
  ASSERT_GE(points.size(), 20u);
  points = every_stride(points);

  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next++) < points.size();) {
      const Point& p = points[i];
      if (p.expect_last == "setup") {
        const int k = std::stoi(p.name.substr(p.name.rfind(' ') + 1));
        auto r = cli(p.home, {"plan", "run", "luna6-to-luna7"}, {{"HSM_MIGRATE_CRASH_BEFORE_RECORD", std::to_string(k)}});
        if (r.rc != kKilled) {
          std::lock_guard<std::mutex> l(mu);
          failures.push_back(p.name + ": not killed (" + std::to_string(r.rc) + ")");
          continue;
        }
      }
      const std::string why = resume_and_verify(p.home);
      // A finished plan run again does nothing.
      std::string again;
      if (why.empty()) {
        auto r = cli(p.home, {"plan", "run", "luna6-to-luna7"});
        if (r.rc != kOk || r.out.find("already finished") == std::string::npos) again = "run again: " + r.out + r.err;
      }
      fs::remove_all(p.home);
      if (!why.empty() || !again.empty()) {
        std::lock_guard<std::mutex> l(mu);
        failures.push_back(p.name + ": " + why + again);
      }
    }
  };
  std::thread t1(worker), t2(worker);
  t1.join();
  t2.join();
  for (const auto& f : failures) ADD_FAILURE() << f;
  RecordProperty("kill_points", static_cast<int>(points.size()));
}

}  // namespace
}  // namespace hsm::e2e
