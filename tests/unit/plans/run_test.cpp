// plan run's executor (migrations/run.cpp) with a fake StepRunner: the
// journal records, resume after a failure at any point, a finished plan run
// again, an unfinished one without --resume, dry runs, torn journal lines.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "migrations/journal.hpp"
#include "migrations/run.hpp"
#include "plan_test_util.hpp"

namespace hsm::plans {
namespace {

using namespace testing;
namespace fs = std::filesystem;

const std::string kPlan = R"([plan]
name = "fake"

[[device]]
name = "a"
emulated = true
kind = "luna7"
firmware = "7.8.0"

[[device.partition]]
name = "p"
domain = "corp"

[[device.partition.keys]]
type = "aes-256"
count = 3

[[device]]
name = "b"
emulated = true
kind = "luna7"
firmware = "7.8.0"

[[device.partition]]
name = "p"
domain = "corp"

[[step]]
action = "policy"
partition = "b/p"
set = ["0=1"]

[[step]]
action = "clone"
from = "a/p"
to = "b/p"

[[step]]
action = "hagroup-create"
group = "g"
members = ["a/p", "b/p"]
)";

// Records what it is asked; fails once at call number `fail_at` (1-based).
class FakeRunner : public StepRunner {
 public:
  std::vector<std::string> calls;
  int fail_at = 0;
  FleetState live_state;

  api::Result<FleetState> live() override { return live_state; }
  api::Result<std::string> create_device(const DeviceSpec& d) override { return call("device " + d.name); }
  api::Result<std::string> create_partition(const DeviceSpec& d, const PartitionSpec& p) override {
    return call("partition " + d.name + "/" + p.name);
  }
  api::Result<std::string> generate_keys(const DeviceSpec& d, const PartitionSpec&, const KeySpec& k) override {
    return call("keys " + d.name + " " + k.type);
  }
  api::Result<std::string> create_group(const GroupSpec& g) override { return call("group " + g.name); }
  api::Result<std::string> upgrade(const UpgradeStep&) override { return call("upgrade"); }
  api::Result<std::string> enable_fm(const EnableFmStep&) override { return call("enable-fm"); }
  api::Result<std::string> policy(const PolicyStep& s) override { return call("policy " + s.target.str()); }
  api::Result<std::string> domain_add(const DomainAddStep&) override { return call("domain-add"); }
  api::Result<std::string> domain_label(const DomainLabelStep&) override { return call("domain-label"); }
  api::Result<std::string> domain_delete(const DomainDeleteStep&) override { return call("domain-delete"); }
  api::Result<std::string> suites(const SuitesStep&) override { return call("suites"); }
  api::Result<std::string> hagroup_create(const HaGroupCreateStep& s) override { return call("hagroup " + s.group); }
  api::Result<std::string> hagroup_add(const HaGroupAddStep&) override { return call("hagroup-add"); }
  api::Result<std::string> hagroup_remove(const HaGroupRemoveStep&) override { return call("hagroup-remove"); }
  api::Result<std::string> clone(const CloneStep& s, const BatchHook& hook) override {
    // Two batches, as a cloud target would take them (C2).
    HSM_TRY(call("clone-batch1 " + s.from.str()));
    HSM_TRY(hook(1, 2, 0));
    HSM_TRY(call("clone-batch2"));
    HSM_TRY(hook(2, 1, 0));
    return std::string("cloned 3");
  }
  api::Result<std::string> backup(const BackupStep&, const std::string& a, const std::set<std::string>&,
                                  const ArchiveIdHook&, const BatchHook&) override {
    return call("backup " + a);
  }
  api::Result<std::string> restore(const RestoreStep&, const std::string&, const BatchHook&) override {
    return call("restore");
  }
  api::Result<std::string> verify(const VerifyStep&, const std::string& a) override { return call("verify " + a); }
  api::Result<std::string> drill(const DrillStep&, const std::string&) override { return call("drill"); }
  api::Result<std::string> prune(const PruneStep&) override { return call("prune"); }

 private:
  api::Result<std::string> call(const std::string& what) {
    calls.push_back(what);
    if (fail_at && static_cast<int>(calls.size()) == fail_at) return api::Error::other("injected failure");
    return what + " ok";
  }
};

class PlanRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hsm-plan-run-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    plan_ = parse_ok(kPlan, "fake.toml");
    opt_.journal_dir = dir_ / "journal";
  }
  void TearDown() override { fs::remove_all(dir_); }
  api::Result<RunResult> run(FakeRunner& r, bool resume = false) {
    RunOptions o = opt_;
    o.resume = resume;
    return run_plan(plan_, kPlan, r, o);
  }
  std::vector<nlohmann::json> records() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(opt_.journal_dir / (plan_id(kPlan) + ".jsonl"));
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  fs::path dir_;
  Plan plan_;
  RunOptions opt_;
};

TEST_F(PlanRun, JournalsSetupStepsAndBatchesBeforeAndAfter) {
  FakeRunner r;
  auto res = run(r);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_FALSE(res->refused) << render_report(plan_, res->report);
  EXPECT_EQ(r.calls, (std::vector<std::string>{"device a", "partition a/p", "keys a aes-256", "device b",
                                               "partition b/p", "policy b/p", "clone-batch1 a/p", "clone-batch2",
                                               "hagroup g"}));
  const auto recs = records();
  std::vector<std::string> events;
  for (const auto& rec : recs) events.push_back(rec["event"]);
  EXPECT_EQ(events, (std::vector<std::string>{
                        "run-start",   "setup-begin", "setup-done", "setup-begin", "setup-done", "setup-begin",
                        "setup-done",  "setup-begin", "setup-done", "setup-begin", "setup-done", "step-begin",
                        "step-done",   "step-begin",  "batch-done", "batch-done",  "step-done",  "step-begin",
                        "step-done",   "run-done"}));
  for (std::size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i]["seq"], i + 1);
  EXPECT_EQ(recs.front()["id"], plan_id(kPlan));
  EXPECT_EQ(plan_id(kPlan).size(), 64u);
}

TEST_F(PlanRun, FinishedPlanRunAgainDoesNothing) {
  FakeRunner r;
  ASSERT_TRUE(run(r).ok());
  FakeRunner again;
  auto res = run(again);
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res->already_finished);
  EXPECT_TRUE(again.calls.empty());
  // --again starts a new run and keeps the old journal.
  RunOptions o = opt_;
  o.again = true;
  FakeRunner third;
  auto res3 = run_plan(plan_, kPlan, third, o);
  ASSERT_TRUE(res3.ok());
  EXPECT_FALSE(res3->already_finished);
  EXPECT_EQ(third.calls.size(), 9u);
  std::size_t journals = 0;
  for (const auto& e : fs::directory_iterator(opt_.journal_dir)) journals += e.path().extension() == ".jsonl";
  EXPECT_EQ(journals, 2u);
}

TEST_F(PlanRun, EditedPlanIsANewRun) {
  EXPECT_NE(plan_id(kPlan), plan_id(kPlan + "\n# edited\n"));
}

// A failure at every call: --resume finishes the plan, doing each setup item
// and step recorded done exactly once, and redoing the interrupted one.
TEST_F(PlanRun, ResumeAfterAFailureAnywhereFinishesThePlan) {
  for (int k = 1; k <= 9; ++k) {
    fs::remove_all(opt_.journal_dir);
    FakeRunner first;
    first.fail_at = k;
    auto r1 = run(first);
    ASSERT_FALSE(r1.ok()) << k;
    EXPECT_NE(r1.error().message.find("injected failure"), std::string::npos);
    FakeRunner plain;
    auto r2 = run(plain);  // without --resume: refused, naming --resume
    ASSERT_FALSE(r2.ok());
    EXPECT_EQ(r2.error().kind, api::ErrorKind::usage);
    EXPECT_NE(r2.error().fix.find("--resume"), std::string::npos);
    EXPECT_TRUE(plain.calls.empty());
    FakeRunner second;
    auto r3 = run(second, true);
    ASSERT_TRUE(r3.ok()) << k << ": " << r3.error().message;
    EXPECT_TRUE(r3->doc["finished"].get<bool>());
    // Together the two runs made every call; the second began at the
    // interrupted item (a clone restarts at its first batch: it is idempotent).
    std::vector<std::string> all(first.calls.begin(), first.calls.end() - 1);
    if (first.calls.back() == "clone-batch2") all.pop_back();  // the clone is redone whole
    all.insert(all.end(), second.calls.begin(), second.calls.end());
    EXPECT_EQ(all.size(), 9u) << k;
    EXPECT_EQ(all.back(), "hagroup g");
    FakeRunner done;
    auto r4 = run(done, true);
    ASSERT_TRUE(r4.ok());
    EXPECT_TRUE(r4->already_finished);
  }
}

TEST_F(PlanRun, DryRunChangesNothing) {
  FakeRunner r;
  RunOptions o = opt_;
  o.dry_run = true;
  std::vector<std::string> lines;
  o.progress = [&](const std::string& l) { lines.push_back(l); };
  auto res = run_plan(plan_, kPlan, r, o);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_TRUE(r.calls.empty());
  EXPECT_FALSE(fs::exists(opt_.journal_dir));
  ASSERT_EQ(res->doc["steps"].size(), 3u);
  EXPECT_EQ(res->doc["steps"][1]["status"], "would run");
  EXPECT_TRUE(has(res->doc["steps"][1]["summary"].get<std::string>(), "clone 3 object(s)"));
  bool said = false;
  for (const auto& l : lines) said = said || has(l, "would create device a");
  EXPECT_TRUE(said);
}

TEST_F(PlanRun, RefusesToStartWhenTheCheckFindsProblems) {
  const std::string bad = kPlan + "\n[[step]]\naction = \"policy\"\npartition = \"b/p\"\nset = [\"99=1\"]\n"
                                  "\n[[step]]\naction = \"upgrade\"\ndevice = \"a\"\nfirmware = \"7.2.0\"\n";
  const Plan p = parse_ok(bad, "bad.toml");
  FakeRunner r;
  auto res = run_plan(p, bad, r, opt_);
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res->refused);
  EXPECT_FALSE(res->report.ok());
  EXPECT_TRUE(r.calls.empty());
  EXPECT_GE(refusals(res->report).size(), 1u);
}

TEST_F(PlanRun, DescribedDevicesCannotRun) {
  const std::string text = "[plan]\nname = \"d\"\n" + described_luna7("x", "7.8.0") +
                           "\n[[step]]\naction = \"upgrade\"\ndevice = \"x\"\nfirmware = \"7.8.1\"\n";
  const Plan p = parse_ok(text);
  FakeRunner r;
  auto res = run_plan(p, text, r, opt_);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, api::ErrorKind::usage);
  EXPECT_TRUE(has(res.error().message, "described"));
}

TEST_F(PlanRun, TornLastLineIsCutAndTheRunResumes) {
  FakeRunner first;
  first.fail_at = 7;  // inside the clone
  ASSERT_FALSE(run(first).ok());
  const fs::path j = opt_.journal_dir / (plan_id(kPlan) + ".jsonl");
  { std::ofstream(j, std::ios::app) << "{\"seq\":99,\"event\":\"step-do"; }  // a crash mid-write
  FakeRunner second;
  auto res = run(second, true);
  ASSERT_TRUE(res.ok()) << res.error().message;
  for (const auto& rec : records()) EXPECT_TRUE(rec.contains("event"));
  EXPECT_EQ(records().back()["event"], "run-done");
}

TEST_F(PlanRun, ArchiveTemplatesExpandOnceForTheWholeRun) {
  EXPECT_EQ(expand_template("b/x-%Y%m%d.hsmar", 0), "b/x-19700101.hsmar");
  EXPECT_EQ(expand_template("plain.hsmar", 12345), "plain.hsmar");
}

TEST_F(PlanRun, SecondRunOfTheSamePlanAtOnceIsBusy) {
  auto j1 = Journal::open(opt_.journal_dir, "abc");
  ASSERT_TRUE(j1.ok());
  auto j2 = Journal::open(opt_.journal_dir, "abc");
  ASSERT_FALSE(j2.ok());
  EXPECT_EQ(j2.error().kind, api::ErrorKind::busy);
}

}  // namespace
}  // namespace hsm::plans
