// Crash test (issue 10, "Done when"): backup, restore and clone killed with
// SIGKILL at over a hundred exact places (the HSM_MIGRATE_CRASH_POINT hook,
// plugins/api/crash_point.hpp: after each blob written, after each object a
// device inserts inside its transaction, just before a device commits, just
// after the work is complete), then run again. Each time: nothing lost,
// nothing doubled (the target's content fingerprints equal, as a multiset,
// what it must hold), no temporary file left, and any archive on disk
// verifies. `plan run` has its own crash test (plan_crash_test.cpp, every
// journal record); together they pass the hundred points many times over.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "tests/unit/e2e/harness.hpp"

namespace hsm::e2e {
namespace {

constexpr int kKilled = 128 + 9;

class Crash : public Cli {
 protected:
  // Thread-safe: its own output files, its own environment.
  CliRun cli(const std::vector<std::string>& args, const std::string& crash = "") {
    std::map<std::string, std::string> env = env_;
    if (!crash.empty()) env["HSM_MIGRATE_CRASH_POINT"] = crash;
    return run_with_env(args, env, dir_ / ("run-" + std::to_string(counter_++)));
  }
  std::multiset<std::string> fingerprints(const std::string& address, std::string& why) {
    std::multiset<std::string> out;
    auto r = cli({"object", "list", address, "--json"});
    if (r.rc != kOk) {
      why += "object list " + address + ": " + r.err;
      return out;
    }
    const auto doc = r.json();
    for (const auto& o : doc["objects"]) out.insert(o["fingerprint"].get<std::string>());
    return out;
  }
  // Files in a folder other than finished archives (a temporary file left).
  static std::vector<std::string> leftovers(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() != ".hsmar") out.push_back(e.path().filename().string());
    return out;
  }
  std::atomic<int> counter_{0};
};

struct Point {
  std::string what;                 // "backup", "restore-add", "restore-replace", "clone"
  std::string crash;                // NAME:N
  std::string source = "src/p";     // for clone
};

TEST_F(Crash, BackupRestoreAndCloneKilledAtOverAHundredPointsLoseAndDoubleNothing) {
  // The source: 300 AES keys and 20 EC pairs (340 objects), a Luna 7 7.8.0
  // (clones by CPv4); a Luna 6 (clones by CPv1) with 40 keys.
  ok({"device", "create", "src", "--kind", "luna7", "--firmware", "7.8.0"});
  ok({"partition", "create", "src/p"});
  ok({"key", "generate", "src/p", "--type", "aes-256", "--count", "300", "--label", "k"});
  ok({"key", "generate", "src/p", "--type", "ec-p256", "--count", "20", "--label", "e"});
  ok({"device", "create", "old", "--kind", "luna6", "--firmware", "6.10.9"});
  ok({"partition", "create", "old/p"});
  ok({"key", "generate", "old/p", "--type", "aes-256", "--count", "40", "--label", "o"});
  ok({"device", "create", "dst", "--kind", "luna7", "--firmware", "7.8.0"});
  std::string why;
  const auto source = fingerprints("src/p", why);
  const auto old_source = fingerprints("old/p", why);
  ASSERT_EQ(source.size(), 340u) << why;
  const fs::path good = dir_ / "good.hsmar";
  ok({"backup", "src/p", "--archive", good.string()});

  std::vector<Point> points;
  for (int k = 1; k <= 340; k += 10) points.push_back({"backup", "backup-blob:" + std::to_string(k)});
  points.push_back({"backup", "backup-before-commit:1"});
  points.push_back({"backup", "after-write:1"});
  for (const char* mode : {"restore-add", "restore-replace"}) {
    for (int k = 1; k <= 340; k += 20) points.push_back({mode, "device-insert:" + std::to_string(k)});
    points.push_back({mode, "device-before-commit:1"});
    points.push_back({mode, "after-write:1"});
  }
  for (int k = 1; k <= 340; k += 15) points.push_back({"clone", "device-insert:" + std::to_string(k)});
  points.push_back({"clone", "device-before-commit:1"});
  points.push_back({"clone", "after-write:1"});
  for (int k : {1, 13, 40}) points.push_back({"clone", "device-insert:" + std::to_string(k), "old/p"});
  points.push_back({"clone", "device-before-commit:1", "old/p"});
  ASSERT_GE(points.size(), 100u);
  points = every_stride(points);

  // Fresh targets for every restore and clone point, made up front (the
  // partitions of one device share its store: the workers write it at once).
  for (std::size_t i = 0; i < points.size(); ++i)
    if (points[i].what != "backup") {
      const std::string t = "dst/t" + std::to_string(i);
      ok({"partition", "create", t});
      ok({"key", "generate", t, "--type", "aes-128", "--count", "2", "--label", "resident"});
      if (points[i].source == "old/p") ok({"partition", "policy", t, "--set", "42=1"});  // P5: accept CPv1
    }

  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<std::size_t> next{0};
  auto fail = [&](const Point& p, const std::string& m) {
    std::lock_guard<std::mutex> l(mu);
    failures.push_back(p.what + " killed at " + p.crash + (p.source != "src/p" ? " from " + p.source : "") + ": " + m);
  };
  auto worker = [&] {
    for (std::size_t i; (i = next++) < points.size();) {
      const Point& p = points[i];
      const bool after = p.crash.rfind("after-write", 0) == 0;
      if (p.what == "backup") {
        const fs::path folder = dir_ / ("b" + std::to_string(i));
        fs::create_directories(folder);
        const fs::path a = folder / "nightly.hsmar";
        // (--wait: the other worker may be backing up the same source)
        auto r = cli({"backup", "src/p", "--archive", a.string(), "--wait", "60"}, p.crash);
        if (r.rc != kKilled) {
          fail(p, "not killed: " + std::to_string(r.rc) + " " + r.err);
          continue;
        }
        if (!leftovers(folder).empty()) fail(p, "left " + leftovers(folder)[0]);
        // Killed after the commit: a whole archive; before: none at all.
        if (after != fs::exists(a)) fail(p, after ? "the committed archive is missing" : "a partial archive appeared");
        if (after && cli({"verify", a.string()}).rc != kOk) fail(p, "the archive on disk does not verify");
        // Run again (cron's next night): a whole archive of every object.
        const fs::path again = folder / "again.hsmar";
        auto b = cli({"backup", "src/p", "--archive", again.string(), "--json", "--wait", "60"});
        auto v = cli({"verify", again.string(), "--json"});
        if (b.rc != kOk || v.rc != kOk || v.json()["objects"] != 340) fail(p, "the rerun failed: " + b.err + v.err);
        if (!leftovers(folder).empty()) fail(p, "the rerun left " + leftovers(folder)[0]);
        fs::remove_all(folder);
        continue;
      }
      const std::string t = "dst/t" + std::to_string(i);
      std::string w;
      const auto resident = fingerprints(t, w);
      std::vector<std::string> args;
      std::multiset<std::string> want;
      if (p.what == "clone") {
        args = {"clone", p.source, t};
        want = p.source == "src/p" ? source : old_source;
        want.insert(resident.begin(), resident.end());
      } else {
        const bool replace = p.what == "restore-replace";
        args = {"restore", good.string(), "--to", t, replace ? "--replace" : "--add"};
        want = source;
        if (!replace) want.insert(resident.begin(), resident.end());
      }
      auto r = cli(args, p.crash);
      if (r.rc != kKilled) {
        fail(p, "not killed: " + std::to_string(r.rc) + " " + r.err);
        continue;
      }
      // Killed before the commit: the target exactly as it was; after: done.
      const auto now = fingerprints(t, w);
      if (now != (after ? want : resident))
        fail(p, "after the kill the target holds " + std::to_string(now.size()) + " objects, not " +
                    std::to_string((after ? want : resident).size()) + w);
      auto again = cli(args);
      if (again.rc != kOk) fail(p, "the rerun failed: " + again.err);
      const auto end = fingerprints(t, w);
      if (end != want)
        fail(p, "after the rerun the target holds " + std::to_string(end.size()) + " objects, not exactly the " +
                    std::to_string(want.size()) + " it must" + w);
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
