// Progress on a terminal (issue 11 §4) through the binary: key generation
// and plan run draw one progress line (phase, done/total, percent) on a
// terminal, erase it before the summary, and draw nothing when the output
// is not a terminal or with --quiet / --json.
#include "tests/unit/e2e/harness.hpp"

namespace hsm::e2e {
namespace {

class TerminalProgress : public Cli {
 protected:
  // The text just before `what` starts on a new line or over an erased
  // progress line (the cursor back at column 0).
  static bool starts_a_line(const std::string& out, const std::string& what) {
    const auto at = out.find(what);
    return at != std::string::npos && (at == 0 || out[at - 1] == '\r' || out[at - 1] == '\n');
  }
};

TEST_F(TerminalProgress, KeyGenerationDrawsALineAndTheSummaryStartsItsOwn) {
  ok({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.8.0"});
  ok({"partition", "create", "hsm-a/p1"});
  auto t = on_terminal({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--label", "k", "--count", "3000"});
  ASSERT_EQ(t.rc, kOk) << t.out;
  EXPECT_NE(t.out.find("generate: "), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("/3000 keys"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find('%'), std::string::npos) << t.out;
  EXPECT_TRUE(starts_a_line(t.out, "generated 3000 object(s)")) << t.out;
  // Not a terminal: no progress at all; --json on a terminal: the document only.
  auto plain = ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--label", "m", "--count", "3000"});
  EXPECT_EQ(plain.err, "");
  auto j = on_terminal({"--json", "key", "generate", "hsm-a/p1", "--type", "aes-128", "--label", "j", "--count", "500"});
  ASSERT_EQ(j.rc, kOk) << j.out;
  EXPECT_EQ(j.out.find('%'), std::string::npos) << j.out;
  EXPECT_EQ(j.out.find("generate: "), std::string::npos) << j.out;
}

TEST_F(TerminalProgress, PlanRunDrawsEachStepsWorkAndPrintsStepLinesOnTheirOwn) {
  const fs::path p = dir_ / "p.toml";
  const std::string archive = (dir_ / "a.hsmar").string();
  std::ofstream(p) << "[plan]\nname = \"progress\"\n"
                      "[[device]]\nname = \"prod\"\nemulated = true\nkind = \"luna7\"\nfirmware = \"7.8.0\"\n"
                      "[[device.partition]]\nname = \"app\"\ndomain = \"corp\"\n"
                      "[[device.partition.keys]]\ntype = \"aes-256\"\ncount = 3000\nlabel = \"k\"\n"
                      "[[step]]\naction = \"backup\"\nfrom = \"prod/app\"\nforce = true\narchive = \"" + archive + "\"\n"
                      "[[step]]\naction = \"verify\"\narchive = \"" + archive + "\"\n";
  auto t = on_terminal({"plan", "run", p.string()});
  ASSERT_EQ(t.rc, kOk) << t.out;
  EXPECT_NE(t.out.find("generate keys: "), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("/3000"), std::string::npos) << t.out;
  EXPECT_TRUE(starts_a_line(t.out, "step 1/2")) << t.out;
  EXPECT_TRUE(starts_a_line(t.out, "step 2/2")) << t.out;
  EXPECT_TRUE(starts_a_line(t.out, "plan progress finished")) << t.out;
  auto quiet = on_terminal({"--quiet", "plan", "run", p.string(), "--again"});
  ASSERT_EQ(quiet.rc, kOk) << quiet.out;
  EXPECT_EQ(quiet.out.find('%'), std::string::npos) << quiet.out;
}

}  // namespace
}  // namespace hsm::e2e
