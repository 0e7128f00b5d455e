// PKCS#11 tokens in plan files (issue 12 §7): kind = "pkcs11" devices parse
// with their registration keys, refuse what only a Luna has (T1), round-trip
// through TOML, and are judged by the T rules in plan check like any pair.
#include <gtest/gtest.h>

#include <algorithm>

#include "plan_test_util.hpp"

namespace hsm::plans {
namespace {

using namespace testing;

const std::string kHead = "[plan]\nname = \"t\"\n";

std::string token(const std::string& extra = "", const std::string& partition_extra = "",
                  const std::string& keys = "") {
  return "[[device]]\nname = \"soft\"\nkind = \"pkcs11\"\nmodule = "
         "\"/usr/lib/softhsm/libsofthsm2.so\"\n" +
         extra + "\n[[device.partition]]\nname = \"tok\"\ndomain = \"corp\"\n" + partition_extra +
         "\n" + keys;
}

std::string luna7(const std::string& fw = "7.8.0") {
  return "[[device]]\nname = \"luna\"\nemulated = true\nkind = \"luna7\"\nfirmware = \"" + fw +
         "\"\n\n[[device.partition]]\nname = \"p\"\ndomain = \"corp\"\n";
}

const std::string kClone = "[[step]]\naction = \"clone\"\nfrom = \"soft/tok\"\nto = \"luna/p\"\n";

TEST(TokenPlan, ParsesTheRegistrationKeys) {
  const Plan p =
      parse_ok(kHead + token("token = \"app-keys\"\nsofthsm2_folder = \"tokens/a\"\n"
                             "module_env = { HSM_X = \"1\" }\n",
                             "", "[[device.partition.keys]]\ntype = \"aes-256\"\ncount = 2\n"));
  ASSERT_EQ(p.devices.size(), 1u);
  const DeviceSpec& d = p.devices[0];
  EXPECT_EQ(d.mode, DeviceMode::token);
  EXPECT_EQ(d.kind, api::DeviceKind::pkcs11);
  EXPECT_EQ(d.token.module, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(d.token.label, "app-keys");
  EXPECT_EQ(d.token.softhsm2_folder, "tokens/a");
  EXPECT_EQ(d.token.module_env.at("HSM_X"), "1");
  ASSERT_EQ(d.partitions.size(), 1u);
  EXPECT_EQ(d.partitions[0].keys[0].count, 2);
}

TEST(TokenPlan, TheLabelDefaultsToThePartitionName) {
  const Plan p = parse_ok(kHead + token());
  EXPECT_EQ(p.devices[0].token.label, "tok");
}

TEST(TokenPlan, LunaSettingsOnATokenAreRefusedWithTheKey) {
  const std::string e =
      parse_error(kHead + token("emulated = true\nfirmware = \"7.8.0\"\nfm = true\n",
                                "fips = true\npolicies = { 22 = 1 }\n"));
  EXPECT_TRUE(has(e, "\"emulated\" is for Luna devices")) << e;
  EXPECT_TRUE(has(e, "\"firmware\" is a Luna setting")) << e;
  EXPECT_TRUE(has(e, "\"fm\" is a Luna setting")) << e;
  EXPECT_TRUE(has(e, "\"fips\" is a Luna partition setting")) << e;
  EXPECT_TRUE(has(e, "\"policies\" is a Luna partition setting")) << e;
}

TEST(TokenPlan, ModuleIsRequiredAndAbsolute) {
  std::string e =
      parse_error(kHead +
                  "[[device]]\nname = \"soft\"\nkind = \"pkcs11\"\n\n[[device.partition]]\n"
                  "name = \"tok\"\ndomain = \"corp\"\n");
  EXPECT_TRUE(has(e, "needs key \"module\"")) << e;
  e = parse_error(kHead +
                  "[[device]]\nname = \"soft\"\nkind = \"pkcs11\"\nmodule = \"libsofthsm2.so\"\n\n"
                  "[[device.partition]]\nname = \"tok\"\ndomain = \"corp\"\n");
  EXPECT_TRUE(has(e, "must be an absolute path")) << e;
}

TEST(TokenPlan, SoftHsmFolderStaysInsideTheHome) {
  for (const char* bad : {"/tmp/tokens", "../tokens", "a/../../b", ""}) {
    const std::string e =
        parse_error(kHead + token("softhsm2_folder = \"" + std::string(bad) + "\"\n"));
    EXPECT_TRUE(has(e, "must be a folder inside --home")) << bad << ": " << e;
  }
  for (const char* home_itself : {".", "./", "./."}) {
    const std::string e =
        parse_error(kHead + token("softhsm2_folder = \"" + std::string(home_itself) + "\"\n"));
    EXPECT_TRUE(has(e, "not the home itself")) << home_itself << ": " << e;
  }
  // A token folder under devices/ would be listed as a broken device.
  for (const char* own : {"devices/tok", "./locks", "trust", "journal/x"}) {
    const std::string e =
        parse_error(kHead + token("softhsm2_folder = \"" + std::string(own) + "\"\n"));
    EXPECT_TRUE(has(e, "which hsm-migrate keeps for itself")) << own << ": " << e;
  }
  EXPECT_EQ(parse_ok(kHead + token("softhsm2_folder = \"./tokens/devices\"\n"))
                .devices[0]
                .token.softhsm2_folder,
            "./tokens/devices");
  const std::string e =
      parse_error(kHead + token("softhsm2_folder = \"t\"\nmodule_env = { SOFTHSM2_CONF = "
                                "\"/etc/softhsm/softhsm2.conf\" }\n"));
  EXPECT_TRUE(has(e, "writes its own SOFTHSM2_CONF")) << e;
}

TEST(TokenPlan, ATokenIsOnePartition) {
  const std::string e =
      parse_error(kHead + token() + "[[device.partition]]\nname = \"two\"\ndomain = \"corp\"\n");
  EXPECT_TRUE(has(e, "one partition (T1)")) << e;
}

TEST(TokenPlan, TokenKeysOnALunaDeviceAreRefused) {
  const std::string e =
      parse_error(kHead +
                  "[[device]]\nname = \"luna\"\nemulated = true\nkind = \"luna7\"\n"
                  "module = \"/usr/lib/x.so\"\n\n[[device.partition]]\nname = \"p\"\n"
                  "domain = \"corp\"\n");
  EXPECT_TRUE(has(e, "\"module\" is for kind = \"pkcs11\"")) << e;
}

TEST(TokenPlan, LunaVerbsOnATokenAreRefused) {
  const std::string e =
      parse_error(kHead + token() + luna7() +
                  "[[step]]\naction = \"upgrade\"\ndevice = \"soft\"\nfirmware = \"7.8.0\"\n"
                  "[[step]]\naction = \"policy\"\npartition = \"soft/tok\"\nset = [\"22=1\"]\n"
                  "[[step]]\naction = \"hagroup-create\"\ngroup = \"g\"\nmembers = [\"luna/p\", "
                  "\"soft/tok\"]\n");
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n') + 1, 3) << e;
  EXPECT_TRUE(has(e, "soft is a PKCS#11 token, which has no firmware")) << e;
  EXPECT_TRUE(has(e, "(T1)")) << e;
}

TEST(TokenPlan, RoundTripsThroughToml) {
  const Plan p = parse_ok(kHead +
                          token("token = \"App Keys\"\nsofthsm2_folder = \"tokens\"\n"
                                "module_env = { A = \"1\", B = \"two words\" }\n",
                                "", "[[device.partition.keys]]\ntype = \"ec-p256\"\n") +
                          luna7() + kClone);
  const std::string text = plan_to_toml(p);
  const Plan again = parse_ok(text, "round-trip.toml");
  EXPECT_EQ(plan_to_toml(again), text);
  EXPECT_EQ(again.devices[0].token.label, "App Keys");
  EXPECT_EQ(again.devices[0].token.module_env.at("B"), "two words");
  EXPECT_EQ(again.devices[0].mode, DeviceMode::token);
}

TEST(TokenPlan, CheckClonesATokenIntoLuna780ByKwp) {
  const Plan p = parse_ok(kHead +
                          token("", "",
                                "[[device.partition.keys]]\ntype = \"aes-256\"\ncount = 3\n"
                                "[[device.partition.keys]]\ntype = \"ec-p256\"\n") +
                          luna7() + kClone);
  const CheckReport rep = check(p);
  ASSERT_TRUE(rep.ok()) << dump(p, rep);
  ASSERT_EQ(rep.steps.size(), 1u);
  ASSERT_TRUE(rep.steps[0].protocol.has_value());
  EXPECT_EQ(*rep.steps[0].protocol, api::Protocol::kwp);
  EXPECT_EQ(rep.steps[0].objects, 5u);  // 3 AES + the EC pair
}

// rule T2: a non-extractable key never leaves its token; the plan check says
// so before anything runs.
TEST(TokenPlan, CheckRefusesANonExtractableTokenKeyByT2) {
  const Plan p = parse_ok(kHead +
                          token("", "",
                                "[[device.partition.keys]]\ntype = \"aes-256\"\n"
                                "extractable = false\nlabel = \"pinned\"\n") +
                          luna7() + kClone);
  const CheckReport rep = check(p);
  EXPECT_FALSE(rep.ok());
  const auto r = refusals(rep, 1);
  ASSERT_FALSE(r.empty()) << dump(p, rep);
  EXPECT_EQ(r[0].rule, "T2") << dump(p, rep);
}

// rule T3 (KWP needs firmware 7.8.0 on the Luna side, P6 before it).
TEST(TokenPlan, CheckRefusesATokenCloneIntoAnOlderLuna) {
  const Plan p = parse_ok(kHead + token("", "", "[[device.partition.keys]]\ntype = \"aes-256\"\n") +
                          luna7("7.7.1") + kClone);
  const CheckReport rep = check(p);
  EXPECT_FALSE(rep.ok()) << dump(p, rep);
}

// rule T4/S1: a token of another domain cannot take the keys.
TEST(TokenPlan, CheckRefusesAnotherDomain) {
  std::string t = token("", "", "[[device.partition.keys]]\ntype = \"aes-256\"\n");
  t.replace(t.find("domain = \"corp\""), 15, "domain = \"other\"");
  const Plan p = parse_ok(kHead + "[[domain]]\nname = \"other\"\nsecret_env = \"OTHER\"\n" + t +
                          luna7() + kClone);
  const CheckReport rep = check(p);
  EXPECT_FALSE(rep.ok()) << dump(p, rep);
}

}  // namespace
}  // namespace hsm::plans
