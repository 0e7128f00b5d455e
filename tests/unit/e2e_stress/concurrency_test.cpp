// Concurrent writers never double an object (issue 10 §3). Two or four
// `clone` of 5,000 keys into one target started at once used to leave up to
// 20,000 objects, every run reporting success: "already present" was decided
// before the write transaction and clone took no lock. Now every writer
// holds the target's lock and the device decides inside BEGIN IMMEDIATE.
#include <algorithm>
#include <set>

#include "tests/unit/e2e/harness.hpp"

namespace hsm::e2e {
namespace {

class Concurrency : public Cli {
 protected:
  std::uint64_t count(const std::string& part) {
    return ok({"object", "list", part, "--json"}).json()["count"].get<std::uint64_t>();
  }
  std::set<std::string> fingerprints(const std::string& part) {
    std::set<std::string> out;
    const nlohmann::json doc = ok({"object", "list", part, "--json"}).json();
    for (const auto& o : doc["objects"]) out.insert(o["fingerprint"].get<std::string>());
    return out;
  }
};

TEST_F(Concurrency, TwoAndFourClonesAtOnceLeaveExactlyTheSourcesObjects) {
  ok({"device", "create", "src", "--kind", "luna7", "--firmware", "7.8.0"});
  ok({"partition", "create", "src/p"});
  ok({"key", "generate", "src/p", "--type", "aes-256", "--count", "5000", "--label", "k"});
  ok({"device", "create", "dst", "--kind", "luna7", "--firmware", "7.8.0"});
  const std::set<std::string> want = fingerprints("src/p");
  ASSERT_EQ(want.size(), 5000u);
  for (int writers : {2, 4}) {
    const int trials = std::max<int>(2, 20 / static_cast<int>(test_stride()));
    for (int trial = 0; trial < trials; ++trial) {
      const std::string target = "dst/t" + std::to_string(writers) + "-" + std::to_string(trial);
      ok({"partition", "create", target});
      std::vector<pid_t> pids;
      for (int w = 0; w < writers; ++w)
        pids.push_back(spawn({"clone", "src/p", target, "--wait", "120", "--json"}, std::to_string(w)));
      std::uint64_t created = 0, present = 0;
      for (int w = 0; w < writers; ++w) {
        CliRun r = finish(pids[static_cast<std::size_t>(w)], std::to_string(w));
        ASSERT_EQ(r.rc, kOk) << target << " writer " << w << ": " << r.err;
        const auto doc = r.json();
        created += doc["cloned"].size();
        present += doc["already_present"].size();
      }
      // Exactly the source's objects, each once; the writers between them
      // created each object once and found it present the other times.
      EXPECT_EQ(count(target), 5000u) << target;
      EXPECT_EQ(created, 5000u) << target;
      EXPECT_EQ(present, 5000u * static_cast<std::uint64_t>(writers - 1)) << target;
      if (trial == 0) {
        EXPECT_EQ(fingerprints(target), want) << target;
      }
    }
  }
}

}  // namespace
}  // namespace hsm::e2e
