// The plan parser: every key checked, errors as "FILE:LINE: ..." (Error::usage).
#include <gtest/gtest.h>

#include "plan_test_util.hpp"

namespace hsm::plans {
namespace {

using namespace testing;

const std::string kHeader = "[plan]\nname = \"t\"\n";  // lines 1-2

const std::string kOneDevice = kHeader +
                               "\n"                                 // 3
                               "[[device]]\n"                       // 4
                               "name = \"hsm-a\"\n"                 // 5
                               "emulated = true\n"                  // 6
                               "kind = \"luna7\"\n"                 // 7
                               "firmware = \"7.2.0\"\n"             // 8
                               "\n"                                 // 9
                               "[[device.partition]]\n"             // 10
                               "name = \"app\"\n"                   // 11
                               "domain = \"corp\"\n";               // 12

TEST(PlanParse, MinimalPlan) {
  Plan p = parse_ok(kOneDevice);
  EXPECT_EQ(p.name, "t");
  ASSERT_EQ(p.devices.size(), 1u);
  EXPECT_EQ(p.devices[0].mode, DeviceMode::emulated);
  EXPECT_EQ(p.devices[0].firmware, (api::Version{7, 2, 0}));
  ASSERT_EQ(p.devices[0].partitions.size(), 1u);
  ASSERT_EQ(p.devices[0].partitions[0].domains.size(), 1u);
  EXPECT_TRUE(p.devices[0].partitions[0].domains[0].primary);
  // The domain is implied, with the default secret source.
  ASSERT_NE(p.domain("corp"), nullptr);
  EXPECT_FALSE(p.domain("corp")->declared);
  EXPECT_EQ(p.client.version, (api::Version{10, 9, 0}));  // U6 default
  EXPECT_TRUE(p.client.cv_ha_ui);
}

TEST(PlanParse, EveryStepKindWithTypedFields) {
  const std::string text = kHeader + R"(
[[domain]]
name = "other"
secret_env = "OTHER_DOMAIN"

[[device]]
name = "a"
described = true
kind = "luna7"
firmware = "7.8.0"
hsm_policies = { 57 = 1 }

[[device.partition]]
name = "p"
domains = [{ name = "corp", label = "main", primary = true }, { name = "other", label = "b" }]
policies = { 44 = 1 }
suites = ["aes-256-gcm"]
objects = 12

[[device.partition.keys]]
type = "rsa-2048"
count = 2
keygen = "x9.31"
extractable = false

[[device]]
name = "bk"
described = true
kind = "backup-g5"
firmware = "6.28.0"

[[device.partition]]
name = "p"
domain = "corp"

[[step]]
action = "upgrade"
device = "a"
firmware = "7.8.1"

[[step]]
action = "enable-fm"
device = "a"

[[step]]
action = "policy"
partition = "a/p"
set = ["1=0", "0=1"]

[[step]]
action = "policy"
device = "a"
set = { 7 = 1, 16 = 1 }

[[step]]
action = "domain-add"
partition = "a/p"
domain = "third"
label = "c"

[[step]]
action = "domain-label"
partition = "a/p"
label = "c"
new_label = "d"
primary = true

[[step]]
action = "domain-delete"
partition = "a/p"
label = "b"

[[step]]
action = "suites"
partition = "a/p"
enable = ["chacha20-poly1305"]
disable = ["aes-256-gcm"]

[[step]]
action = "hagroup-create"
group = "g"
members = ["a/p"]

[[step]]
action = "hagroup-add"
group = "g"
member = "bk/p"
primary = true

[[step]]
action = "hagroup-remove"
group = "g"
member = "bk/p"

[[step]]
action = "clone"
from = "a/p"
to = "bk/p"
objects = "signing"

[[step]]
action = "backup"
from = "a/p"
to = "bk/p"
mode = "replace"

[[step]]
action = "backup"
from = "a/p"
archive = "x/%Y.hsmar"
force = true

[[step]]
action = "restore"
from = "bk/p"
to = "a/p"

[[step]]
action = "restore"
archive = "x/%Y.hsmar"
to = "a/p"
mode = "replace"

[[step]]
action = "verify"
archive = "x/%Y.hsmar"
with = "a/p"

[[step]]
action = "drill"
archive = "x/%Y.hsmar"
scratch = "a/p"

[[step]]
action = "prune"
dir = "x"
keep_daily = 3
)";
  Plan p = parse_ok(text);
  ASSERT_EQ(p.steps.size(), 19u);
  EXPECT_EQ(p.steps[0].action(), Action::upgrade);
  EXPECT_EQ(std::get<UpgradeStep>(p.steps[0].body).firmware, (api::Version{7, 8, 1}));
  const auto& pol = std::get<PolicyStep>(p.steps[2].body);
  ASSERT_EQ(pol.set.size(), 2u);  // the array form keeps the order given
  EXPECT_EQ(pol.set[0], (std::pair<int, int>{1, 0}));
  EXPECT_EQ(pol.set[1], (std::pair<int, int>{0, 1}));
  EXPECT_TRUE(std::get<PolicyStep>(p.steps[3].body).target.partition.empty());
  EXPECT_TRUE(std::get<DomainLabelStep>(p.steps[5].body).primary);
  EXPECT_EQ(std::get<HaGroupCreateStep>(p.steps[8].body).members.size(), 1u);
  EXPECT_EQ(std::get<CloneStep>(p.steps[11].body).objects, "signing");
  EXPECT_EQ(std::get<BackupStep>(p.steps[12].body).mode, CopyMode::replace);
  EXPECT_TRUE(std::get<BackupStep>(p.steps[13].body).force);
  EXPECT_FALSE(std::get<RestoreStep>(p.steps[15].body).from.has_value());
  EXPECT_EQ(std::get<PruneStep>(p.steps[18].body).keep_daily, 3);
  for (std::size_t i = 0; i < p.steps.size(); ++i) EXPECT_GT(p.steps[i].line, 0) << i;
  // Domains: one declared, two implied (corp by a partition, third by a step).
  EXPECT_TRUE(p.domain("other")->declared);
  EXPECT_EQ(p.domain("other")->secret.env, "OTHER_DOMAIN");
  EXPECT_NE(p.domain("third"), nullptr);
  const auto& part = p.devices[0].partitions[0];
  EXPECT_EQ(part.domains.size(), 2u);
  EXPECT_EQ(*part.objects, 12u);
  EXPECT_EQ(part.keys[0].keygen, api::KeygenMechanism::x9_31);
  // Round trip.
  auto again = parse_plan_string(plan_to_toml(p), "again.toml");
  ASSERT_TRUE(again.ok()) << again.error().message << "\n" << plan_to_toml(p);
  EXPECT_EQ(plan_to_toml(again.value()), plan_to_toml(p));
}

TEST(PlanParse, UnknownKeyNamesFileAndLine) {
  const std::string msg = parse_error(kOneDevice +
                                      "\n"                              // 13
                                      "[[step]]\n"                      // 14
                                      "action = \"upgrade\"\n"          // 15
                                      "device = \"hsm-a\"\n"            // 16
                                      "firmwre = \"7.7.0\"\n");         // 17
  EXPECT_TRUE(has(msg, "PLAN.toml:17: unknown key \"firmwre\"")) << msg;
  EXPECT_TRUE(has(msg, "expected one of: action, note, device, firmware")) << msg;
  // The missing firmware is reported too, at the step's line.
  EXPECT_TRUE(has(msg, "PLAN.toml:14: [[step]] 1 (upgrade) needs key \"firmware\"")) << msg;
}

TEST(PlanParse, UnknownKeyInDeviceAndTopLevel) {
  const std::string msg = parse_error(kHeader +
                                      "colour = \"blue\"\n"  // 3: inside [plan]
                                      "[[device]]\n"         // 4
                                      "name = \"x\"\n"       // 5
                                      "emulated = true\n"    // 6
                                      "kind = \"luna7\"\n"   // 7
                                      "serial = 42\n");      // 8
  EXPECT_TRUE(has(msg, "PLAN.toml:3: unknown key \"colour\" in [plan]")) << msg;
  EXPECT_TRUE(has(msg, "PLAN.toml:8: unknown key \"serial\" in [[device]] \"x\"")) << msg;
}

TEST(PlanParse, WrongTypeSaysWhatWasExpected) {
  const std::string msg = parse_error(kHeader +
                                      "[[device]]\n"        // 3
                                      "name = \"x\"\n"      // 4
                                      "described = true\n"  // 5
                                      "kind = \"luna7\"\n"  // 6
                                      "firmware = 7.7\n"    // 7
                                      "[[device.partition]]\n"  // 8
                                      "name = \"p\"\n"          // 9
                                      "domain = \"corp\"\n"     // 10
                                      "fips = \"yes\"\n"        // 11
                                      "[[device.partition.keys]]\n"  // 12
                                      "type = \"aes-256\"\n"         // 13
                                      "count = \"3\"\n");            // 14
  EXPECT_TRUE(has(msg, "PLAN.toml:7: key \"firmware\" in [[device]] \"x\": expected a version string like "
                       "\"7.7.0\", found a floating-point number"))
      << msg;
  EXPECT_TRUE(has(msg, "PLAN.toml:11: key \"fips\" in partition \"x/p\": expected true or false, found a string"))
      << msg;
  EXPECT_TRUE(has(msg, "PLAN.toml:14: key \"count\"")) << msg;
  EXPECT_TRUE(has(msg, "expected an integer from 1 to 1000000, found a string")) << msg;
}

TEST(PlanParse, BadValuesOfTheRightType) {
  const std::string msg = parse_error(kHeader +
                                      "[[device]]\n"            // 3
                                      "name = \"x\"\n"          // 4
                                      "described = true\n"      // 5
                                      "kind = \"luna8\"\n"      // 6
                                      "firmware = \"seven\"\n"  // 7
                                      "[[step]]\n"              // 8
                                      "action = \"explode\"\n");  // 9
  EXPECT_TRUE(has(msg, "PLAN.toml:6: key \"kind\" in [[device]] \"x\": \"luna8\" is not valid; expected one of "
                       "\"luna6\", \"luna7\", \"cloud\", \"backup-g5\" or \"pkcs11\""))
      << msg;
  EXPECT_TRUE(has(msg, "PLAN.toml:7:")) << msg;
  EXPECT_TRUE(has(msg, "PLAN.toml:9: [[step]] 1: unknown action \"explode\"")) << msg;
}

TEST(PlanParse, DanglingDeviceName) {
  const std::string msg = parse_error(kOneDevice +
                                      "[[step]]\n"               // 13
                                      "action = \"upgrade\"\n"   // 14
                                      "device = \"hsm-z\"\n"     // 15
                                      "firmware = \"7.7.0\"\n");  // 16
  EXPECT_TRUE(has(msg, "PLAN.toml:13: [[step]] 1 (upgrade): no device \"hsm-z\" in the plan; declare it with "
                       "[[device]] (devices: hsm-a)"))
      << msg;
}

TEST(PlanParse, DanglingPartitionAndGroupNames) {
  const std::string msg = parse_error(kOneDevice +
                                      "[[hagroup]]\n"                         // 13
                                      "name = \"g\"\n"                        // 14
                                      "members = [\"hsm-a/nope\"]\n"          // 15
                                      "[[step]]\n"                            // 16
                                      "action = \"hagroup-add\"\n"            // 17
                                      "group = \"missing\"\n"                 // 18
                                      "member = \"hsm-a/app\"\n"              // 19
                                      "[[step]]\n"                            // 20
                                      "action = \"clone\"\n"                  // 21
                                      "from = \"hsm-a/app\"\n"                // 22
                                      "to = \"hsm-a\"\n");                    // 23
  EXPECT_TRUE(has(msg, "PLAN.toml:13: [[hagroup]] \"g\": device \"hsm-a\" has no partition \"nope\"; expected one of "
                       "its [[device.partition]] names: app"))
      << msg;
  EXPECT_TRUE(has(msg, "PLAN.toml:16: [[step]] 1 (hagroup-add): no HA group \"missing\" exists at this step")) << msg;
  EXPECT_TRUE(has(msg, "PLAN.toml:23: key \"to\" in [[step]] 2 (clone): \"hsm-a\" is not a partition address; "
                       "expected \"DEVICE/PARTITION\""))
      << msg;
}

TEST(PlanParse, GroupUsedBeforeItIsCreated) {
  const std::string msg = parse_error(kOneDevice +
                                      "[[step]]\n"                       // 13
                                      "action = \"hagroup-remove\"\n"    // 14
                                      "group = \"g\"\n"                  // 15
                                      "member = \"hsm-a/app\"\n"         // 16
                                      "[[step]]\n"                       // 17
                                      "action = \"hagroup-create\"\n"    // 18
                                      "group = \"g\"\n"                  // 19
                                      "members = [\"hsm-a/app\"]\n");    // 20
  EXPECT_TRUE(has(msg, "PLAN.toml:13: [[step]] 1 (hagroup-remove): no HA group \"g\" exists at this step")) << msg;
  EXPECT_FALSE(has(msg, "PLAN.toml:17")) << msg;
}

TEST(PlanParse, TomlSyntaxErrorHasTheLine) {
  const std::string msg = parse_error(kHeader + "[[device]]\nname = \"x\"\nkind = {\n");
  EXPECT_TRUE(has(msg, "PLAN.toml:5:")) << msg;
}

TEST(PlanParse, ErrorsAreSortedByLine) {
  const std::string msg = parse_error(kHeader +
                                      "[[step]]\n"             // 3
                                      "action = \"prune\"\n"   // 4
                                      "dir = 5\n"              // 5
                                      "[[device]]\n"           // 6
                                      "name = \"x\"\n"         // 7
                                      "emulated = true\n"      // 8
                                      "described = true\n"     // 9
                                      "kind = \"luna7\"\n");   // 10
  const auto a = msg.find("PLAN.toml:3:"), b = msg.find("PLAN.toml:5:"), c = msg.find("PLAN.toml:6:");
  ASSERT_NE(a, std::string::npos) << msg;
  ASSERT_NE(b, std::string::npos) << msg;
  ASSERT_NE(c, std::string::npos) << msg;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_TRUE(has(msg, "set exactly one of emulated = true")) << msg;
}

// Every problem is its own entry with its file and line (issue 11 §6: plan
// parse errors come as an array); the headline counts them; one problem is
// one line that says it all.
TEST(PlanParse, ProblemsComeAsAListWithFileAndLine) {
  auto r = parse_plan_string(kHeader +
                                 "colour = \"blue\"\n"  // 3
                                 "[[device]]\n"         // 4
                                 "name = \"x\"\n"       // 5
                                 "emulated = true\n"    // 6
                                 "kind = \"luna9\"\n",  // 7
                             "p.toml");
  ASSERT_FALSE(r.ok());
  const api::Error& e = r.error();
  EXPECT_EQ(e.message, "plan p.toml has 2 problems");
  ASSERT_EQ(e.problems.size(), 2u);
  EXPECT_EQ(e.problems[0].file, "p.toml");
  EXPECT_EQ(e.problems[0].line, 3);
  EXPECT_TRUE(has(e.problems[0].message, "unknown key \"colour\" in [plan]")) << e.problems[0].message;
  EXPECT_EQ(e.problems[1].line, 7);
  EXPECT_TRUE(has(e.problems[1].message, "\"luna9\" is not valid")) << e.problems[1].message;
  for (const auto& p : e.problems) EXPECT_EQ(p.message.find('\n'), std::string::npos) << p.message;

  auto one = parse_plan_string(kHeader + "colour = \"blue\"\n", "p.toml");
  ASSERT_FALSE(one.ok());
  EXPECT_TRUE(has(one.error().message, "p.toml:3: unknown key \"colour\"")) << one.error().message;
  ASSERT_EQ(one.error().problems.size(), 1u);
  auto syntax = parse_plan_string(kHeader + "kind = {\n", "p.toml");
  ASSERT_FALSE(syntax.ok());
  ASSERT_EQ(syntax.error().problems.size(), 1u);
  EXPECT_EQ(syntax.error().problems[0].line, 3);
}

TEST(PlanParse, DescribedOnlyKeysOnAnEmulatedDevice) {
  const std::string msg = parse_error(kOneDevice +
                                      "objects = 4\n"                 // 13
                                      "[[device.partition.keys]]\n"   // 14
                                      "type = \"aes-256\"\n"          // 15
                                      "unknown_attribute = true\n");  // 16
  EXPECT_TRUE(has(msg, "PLAN.toml:13:")) << msg;
  EXPECT_TRUE(has(msg, "PLAN.toml:16:")) << msg;
  EXPECT_TRUE(has(msg, "only for described devices")) << msg;
}

TEST(PlanParse, DomainsNeedDistinctSecretsOnEmulatedDevices) {
  const std::string msg = parse_error(kOneDevice +
                                      "[[device.partition]]\n"   // 13
                                      "name = \"app2\"\n"        // 14
                                      "domain = \"other\"\n");   // 15
  EXPECT_TRUE(has(msg, "domains \"corp\" and \"other\" would both take their secret from $HSM_MIGRATE_DOMAIN"))
      << msg;
  EXPECT_TRUE(has(msg, "PLAN.toml:15:")) << msg;
}

TEST(PlanParse, DomainRulesOfADescription) {
  const std::string msg =
      parse_error(kHeader + described_luna7("x", "7.8.0", "",
                                            "[[device.partition]]\nname = \"q\"\n"
                                            "domains = [{ name = \"a\", primary = true }, { name = \"b\", primary = true }]\n"));
  EXPECT_TRUE(has(msg, "exactly one domain is primary (D3)")) << msg;
  EXPECT_TRUE(has(msg, "every label must be set and differ (D2)")) << msg;
}

TEST(PlanParse, BackupTargetMustBeABackupHsm) {
  const std::string msg = parse_error(kHeader + described_luna7("a", "7.8.0") + described_luna7("b", "7.8.0") +
                                      "[[step]]\naction = \"backup\"\nfrom = \"a/p\"\nto = \"b/p\"\n");
  EXPECT_TRUE(has(msg, "is not on a Backup HSM G5")) << msg;
}

TEST(PlanParse, MalformedShapesAreUsageErrorsNotCrashes) {
  const std::vector<std::string> bad = {
      "",
      "plan = 3",
      "[plan]\nname = 1",
      kHeader + "step = 5",
      kHeader + "device = [1, 2]",
      kHeader + "[device]\nname = \"x\"",
      kHeader + "[[step]]\naction = [\"clone\"]",
      kHeader + "[[step]]\n",
      kHeader + "[[device]]\nname = \"x\"\nemulated = true\nkind = \"luna7\"\npartition = \"p\"",
      kHeader + "[[device]]\nname = \"x\"\nemulated = true\nkind = \"luna7\"\n[[device.partition]]\nname = \"p\"\n"
                "domains = []",
      kHeader + "[[device]]\nname = \"x\"\nemulated = true\nkind = \"luna7\"\n[[device.partition]]\nname = \"p\"\n"
                "domains = [\"corp\"]",
      kHeader + "[[device]]\nname = \"x\"\nemulated = true\nkind = \"luna7\"\nhsm_policies = { abc = 1, 7 = 2 }",
      kHeader + "[[hagroup]]\nname = \"g\"\nmembers = []",
      kHeader + "[[step]]\naction = \"policy\"\ndevice = \"x\"\nset = [\"42\", \"a=1\", 7]",
      kHeader + "[[step]]\naction = \"policy\"\ndevice = \"x\"\nset = {}",
      kHeader + "[[step]]\naction = \"backup\"\nfrom = \"a/b\"\nto = \"c/d\"\narchive = \"z\"",
      kHeader + "[[step]]\naction = \"restore\"\nto = \"a/b\"",
      kHeader + "[[step]]\naction = \"prune\"\ndir = \"d\"\nkeep_daily = -1",
      kHeader + "[[step]]\naction = \"clone\"\nfrom = \"/\"\nto = \"a/b/c\"",
      kHeader + "[[step]]\naction = \"upgrade\"\ndevice = \"..\"\nfirmware = \"1.2.3.4\"",
      kHeader + "[[domain]]\nname = \"d\"\nkind = \"ped\"\nsecret_env = \"X\"",
  };
  for (const auto& text : bad) {
    auto r = parse_plan_string(text, "bad.toml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().kind, api::ErrorKind::usage) << text;
    // Each problem names the file and its line; one problem is the message itself.
    ASSERT_FALSE(r.error().problems.empty()) << text;
    for (const auto& p : r.error().problems) {
      EXPECT_EQ(p.file, "bad.toml") << text;
      EXPECT_GT(p.line, 0) << text;
    }
    EXPECT_TRUE(r.error().message.starts_with(r.error().problems.size() == 1 ? "bad.toml:" : "plan bad.toml has "))
        << text << "\n" << r.error().message;
  }
}

TEST(PlanParse, MissingFileIsAUsageError) {
  auto r = parse_plan("/nonexistent/plan.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, api::ErrorKind::usage);
}

TEST(PlanParse, ReadsAFileWithItsName) {
  auto r = parse_plan(builtin_dir() + "/nightly-backup.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(has(r->source, "nightly-backup.toml"));
}

// Found by plan_parse_fuzz: a prune step whose keep counts are all 0 parses
// (plan check refuses it with rule "plan"), and its canonical form must parse
// back to the same step.
TEST(PlanParse, PruneKeepingNothingSurvivesItsCanonicalForm) {
  auto r = parse_plan_string(kHeader + "[[step]]\naction = \"prune\"\ndir = \"d\"\nkeep_daily = 0", "p.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string text = plan_to_toml(r.value());
  auto again = parse_plan_string(text, "again.toml");
  ASSERT_TRUE(again.ok()) << again.error().message << "\n" << text;
  EXPECT_EQ(plan_to_toml(again.value()), text);
}

// toml++ quotes the offending character raw; a message stays one line.
TEST(PlanParse, ControlCharactersInASyntaxErrorAreEscaped) {
  for (const std::string& text : {std::string("a = \"x\ny\""), std::string("a = \x1b[31m")}) {
    auto r = parse_plan_string(text, "bad.toml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find('\x1b'), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace hsm::plans
