// diff A B through the binary (issue 11 §5): partitions and archives,
// compared by fingerprint; an archive is opened by a partition of its
// domain, writing nothing; what cannot be opened is never called the same.
#include "tests/unit/e2e/harness.hpp"

namespace hsm::e2e {
namespace {

class Diff : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    ok({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.8.0"});
    ok({"partition", "create", "hsm-a/p1"});
    ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--label", "k", "--count", "3"});
    ok({"key", "generate", "hsm-a/p1", "--type", "ec-p256", "--label", "e"});
  }
  std::size_t objects(const std::string& part) {
    return ok({"--json", "object", "list", part}).json()["count"].get<std::size_t>();
  }
  static std::vector<std::string> labels(const nlohmann::json& list) {
    std::vector<std::string> out;
    for (const auto& o : list) out.push_back(o["label"].get<std::string>());
    return out;
  }
};

TEST_F(Diff, APartitionAndItsCloneAreIdentical) {
  ok({"partition", "create", "hsm-a/p2"});
  ok({"clone", "hsm-a/p1", "hsm-a/p2"});
  auto d = ok({"--json", "diff", "hsm-a/p1", "hsm-a/p2"}).json();
  EXPECT_EQ(d["identical"], true);
  EXPECT_EQ(d["same"], 5);  // 3 AES keys and an EC pair
  EXPECT_EQ(d["a"]["kind"], "partition");
  EXPECT_TRUE(d["only_in_a"].empty() && d["only_in_b"].empty() && d["changed"].empty()) << d.dump();
  auto text = ok({"diff", "hsm-a/p1", "hsm-a/p2"}).out;
  EXPECT_NE(text.find("identical: the same 5 object(s) by fingerprint"), std::string::npos) << text;
}

TEST_F(Diff, OnlyInEachSideAndChangedAreTold) {
  ok({"partition", "create", "hsm-a/p2"});
  ok({"clone", "hsm-a/p1", "hsm-a/p2", "--objects", "k-1"});
  ok({"key", "generate", "hsm-a/p2", "--type", "aes-256", "--label",
      "k-2"});  // same name, another key
  ok({"key", "generate", "hsm-a/p2", "--type", "aes-128", "--label", "new"});
  auto d = ok({"--json", "diff", "hsm-a/p1", "hsm-a/p2"}).json();
  EXPECT_EQ(d["identical"], false);
  EXPECT_EQ(d["same"], 1);  // k-1
  ASSERT_EQ(d["changed"].size(), 1u) << d.dump();
  EXPECT_EQ(d["changed"][0]["a"]["label"], "k-2");
  EXPECT_NE(d["changed"][0]["a"]["fingerprint"], d["changed"][0]["b"]["fingerprint"]);
  const auto only_a = labels(d["only_in_a"]);
  EXPECT_EQ(only_a, (std::vector<std::string>{"k-3", "e", "e"}))
      << d.dump();  // the pair's two halves
  EXPECT_EQ(labels(d["only_in_b"]), std::vector<std::string>{"new"});
  auto text = ok({"diff", "hsm-a/p1", "hsm-a/p2"}).out;
  EXPECT_NE(text.find("1 the same, 3 only in A, 1 only in B, 1 changed"), std::string::npos)
      << text;
  EXPECT_NE(text.find("only in B #"), std::string::npos) << text;
}

// An archive's fingerprints are sealed: the partition on the other side
// opens it (writing nothing); two archives need --with.
TEST_F(Diff, AnArchiveAgainstAPartitionAndTwoArchives) {
  const std::string a1 = (dir_ / "a1.hsmar").string(), a2 = (dir_ / "a2.hsmar").string();
  ok({"backup", "hsm-a/p1", "--archive", a1});
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-128", "--label", "later"});
  ok({"backup", "hsm-a/p1", "--archive", a2});
  const std::size_t before = objects("hsm-a/p1");

  auto d = ok({"--json", "diff", a1, "hsm-a/p1"}).json();
  EXPECT_EQ(d["a"]["kind"], "archive");
  EXPECT_EQ(d["opened_with"], "hsm-a/p1");
  EXPECT_EQ(d["same"], 5);
  EXPECT_EQ(labels(d["only_in_b"]), std::vector<std::string>{"later"});
  EXPECT_TRUE(d["only_in_a"].empty());
  EXPECT_EQ(objects("hsm-a/p1"), before) << "opening an archive writes nothing";

  auto two = run({"diff", a1, a2});
  EXPECT_EQ(two.rc, kUsage) << two.err;
  EXPECT_NE(two.err.find("two archives need --with DEV/PART"), std::string::npos) << two.err;
  ok({"partition", "create", "hsm-a/scratch"});
  auto w = ok({"--json", "diff", a2, a1, "--with", "hsm-a/scratch"}).json();
  EXPECT_EQ(labels(w["only_in_a"]), std::vector<std::string>{"later"});
  EXPECT_EQ(w["same"], 5);
  EXPECT_EQ(objects("hsm-a/scratch"), 0u);
}

// A partition of another domain cannot open the archive (rule S1): the
// diff fails rather than compare what it could not read.
TEST_F(Diff, AnArchiveOfAnotherDomainIsNotCompared) {
  const std::string a1 = (dir_ / "a1.hsmar").string();
  ok({"backup", "hsm-a/p1", "--archive", a1});
  env_["HSM_MIGRATE_DOMAIN"] = "another-domain";
  ok({"partition", "create", "hsm-a/other"});
  auto r = run({"--json", "diff", a1, "hsm-a/other"});
  EXPECT_EQ(r.rc, kIntegrity) << r.err;
  EXPECT_NE(r.err.find("rule S1 "), std::string::npos) << r.err;
  EXPECT_EQ(r.json()["ok"], false);
  EXPECT_FALSE(r.json().contains("identical"));
}

TEST_F(Diff, AnUnknownSideIsOneClearLine) {
  auto r = run({"diff", "hsm-a/p1", "nowhere/p9"});
  EXPECT_EQ(r.rc, kUsage);
  EXPECT_NE(
      r.err.find("nowhere/p9 is neither an archive (no such file) nor a partition of this fleet"),
      std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace hsm::e2e
