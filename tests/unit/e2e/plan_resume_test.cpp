// plan run --resume accepts as "already written" only the archive this run's
// interrupted backup step wrote (issue 10 §5): the step journals the id of
// the archive before it writes it. With --again and a daily name template,
// the file already at the path used to be yesterday's (here: the previous
// run's 2-object archive while the partition held 7) and was accepted.
#include "harness.hpp"

namespace hsm::e2e {
namespace {

class PlanResume : public Cli {
 protected:
  fs::path plan(bool force) {
    const fs::path p = dir_ / (force ? "daily-force.toml" : "daily.toml");
    std::ofstream(p) << "[plan]\nname = \"daily\"\n"
                        "[[device]]\nname = \"prod\"\nemulated = true\nkind = \"luna7\"\nfirmware = \"7.8.0\"\n"
                        "[[device.partition]]\nname = \"app\"\ndomain = \"corp\"\n"
                        "[[device.partition.keys]]\ntype = \"aes-256\"\ncount = 2\nlabel = \"k\"\n"
                        "[[step]]\naction = \"backup\"\nfrom = \"prod/app\"\narchive = \"backups/app-%Y%m%d.hsmar\"\n"
                     << (force ? "force = true\n" : "")
                     << "[[step]]\naction = \"verify\"\narchive = \"backups/app-%Y%m%d.hsmar\"\n";
    return p;
  }
  fs::path archive() {
    for (const auto& e : fs::directory_iterator(dir_ / "fleet" / "backups")) return e.path();
    return {};
  }
  std::uint64_t objects_in(const fs::path& a) { return ok({"verify", a.string(), "--json"}).json()["objects"]; }
};

TEST_F(PlanResume, AnotherRunsArchiveAtTheStepsPathIsNeverTakenForThisRuns) {
  const fs::path p = plan(false);
  ok({"plan", "run", p.string()});
  const fs::path a = archive();
  ASSERT_EQ(objects_in(a), 2u);
  ok({"key", "generate", "prod/app", "--type", "aes-256", "--count", "5", "--label", "more"});
  // Tonight's run: the file at the daily path is the previous run's, so the
  // step stops (exit 2) before writing; the journal has the step begun.
  auto again = run({"plan", "run", p.string(), "--again"});
  EXPECT_EQ(again.rc, kUsage) << again.out << again.err;
  EXPECT_NE(again.err.find("was not written by this run of the plan"), std::string::npos) << again.err;
  // The resume used to take that file for "the archive the interrupted
  // attempt wrote" and finish with exit 0 and 2 of the 7 keys backed up.
  auto r = run({"plan", "run", p.string(), "--resume"});
  EXPECT_EQ(r.rc, kUsage) << r.out << r.err;
  EXPECT_NE(r.err.find("its archive id"), std::string::npos) << r.err;
  EXPECT_EQ(objects_in(a), 2u) << "the old archive is left alone";
}

TEST_F(PlanResume, ThisRunsArchiveWrittenBeforeTheCrashIsAcceptedAndVerified) {
  const fs::path p = plan(true);
  ok({"plan", "run", p.string()});
  ok({"key", "generate", "prod/app", "--type", "aes-256", "--count", "5", "--label", "more"});
  // Killed after the archive was committed, before the step was journaled
  // done: the resume finds this run's archive (its id is in the journal).
  env_["HSM_MIGRATE_CRASH_POINT"] = "after-write:1";
  EXPECT_EQ(run({"plan", "run", p.string(), "--again"}).rc, 128 + 9);
  env_["HSM_MIGRATE_CRASH_POINT"] = "";
  auto r = ok({"plan", "run", p.string(), "--resume"});
  EXPECT_NE(r.out.find("already written by the interrupted attempt"), std::string::npos) << r.out;
  EXPECT_EQ(objects_in(archive()), 7u);
  // And with force = true, an interrupted write over the previous run's
  // file is simply redone.
  ok({"key", "generate", "prod/app", "--type", "aes-256", "--count", "1", "--label", "one"});
  env_["HSM_MIGRATE_CRASH_POINT"] = "backup-blob:2";
  EXPECT_EQ(run({"plan", "run", p.string(), "--again"}).rc, 128 + 9);
  env_["HSM_MIGRATE_CRASH_POINT"] = "";
  ok({"plan", "run", p.string(), "--resume"});
  EXPECT_EQ(objects_in(archive()), 8u);
}

}  // namespace
}  // namespace hsm::e2e
