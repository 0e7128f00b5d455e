// PKCS#11 tokens in plans (issue 12 §7), end to end: the built-in plan
// softhsm-to-luna7 on a fresh home makes its own SoftHSM2 token in
// HOME/tokens (never the machine's or the test's token folder), registers
// it, joins it to the domain, generates its keys, backs it up, clones the
// keys into a Luna 7 7.8.0 partition by KWP and drills the archive there.
// The keys are proven by use across the families; a rerun doubles nothing.
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include "tests/unit/e2e_pkcs11/pkcs11_harness.hpp"

namespace hsm::e2e {
namespace {

using nlohmann::json;

class PlanToken : public Pkcs11Cli {
 protected:
  fs::path home() const { return dir_ / "fleet"; }
  fs::path plan_conf() const { return home() / "tokens" / "softhsm2.conf"; }

  int mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return static_cast<int>(st.st_mode & 0777);
  }

  std::vector<std::string> labels(const std::string& partition) {
    CliRun r = ok({"--json", "object", "list", partition});
    std::vector<std::string> out;
    const json doc = r.json();  // kept: a range-for over a temporary's member dangles
    for (const auto& o : doc["objects"]) out.push_back(o["label"].get<std::string>());
    EXPECT_FALSE(out.empty()) << r.out;
    std::sort(out.begin(), out.end());
    return out;
  }

  // The plan's archive name has one-second resolution: a second run in the
  // same second would meet the first run's archive and rightly refuse it.
  static void next_second() {
    const std::time_t t = std::time(nullptr);
    while (std::time(nullptr) == t) ::usleep(20'000);
  }

  void prove_signature(const std::string& signer, const std::string& verifier,
                       const std::string& label) {
    write(dir_ / "msg", "signed on " + signer + ", verified on " + verifier);
    ok({"key", "sign", signer, "--object", label, "--in", (dir_ / "msg").string(), "--out",
        (dir_ / "sig").string()});
    ok({"key", "verify", verifier, "--object", label, "--in", (dir_ / "msg").string(),
        "--signature", (dir_ / "sig").string()});
  }
};

TEST_F(PlanToken, BuiltinPlanMovesItsOwnSoftwareTokenIntoLuna7) {
  ok({"plan", "check", "softhsm-to-luna7"});
  CliRun run1 = ok({"plan", "run", "softhsm-to-luna7"});
  EXPECT_NE(run1.out.find("registered token \"apptoken\" as soft/apptoken"), std::string::npos)
      << run1.out;
  EXPECT_NE(run1.out.find("joined domain corp"), std::string::npos) << run1.out;

  // Its own SoftHSM2 folder in the home, private; the test's folder untouched.
  ASSERT_TRUE(fs::exists(plan_conf()));
  EXPECT_EQ(mode_of(plan_conf()), 0600);
  EXPECT_EQ(mode_of(home() / "tokens"), 0700);
  EXPECT_EQ(mode_of(home() / "tokens" / "tokens"), 0700);
  EXPECT_TRUE(fs::is_empty(tokens_)) << "the plan touched another token folder";
  // Registered with that configuration, never a PIN.
  const std::string reg = slurp(home() / "devices" / "soft" / "token.json");
  EXPECT_NE(reg.find(plan_conf().string()), std::string::npos) << reg;
  EXPECT_EQ(reg.find(env_["HSM_MIGRATE_PIN"]), std::string::npos);

  // The token, seen by a real client through the plan's configuration.
  env_["SOFTHSM2_CONF"] = plan_conf().string();
  CliRun slots = exec({"pkcs11-tool", "--module", kSoftHsm, "--list-token-slots"});
  EXPECT_NE(slots.out.find("apptoken"), std::string::npos) << slots.out;
  const int on_token = count_objects("apptoken");
  env_["SOFTHSM2_CONF"] = conf_.string();

  // Every key of the token in the Luna partition, once.
  const std::vector<std::string> want{"data-key-1", "data-key-2", "data-key-3", "data-key-4",
                                      "signing",    "signing",    "tls",        "tls"};
  EXPECT_EQ(labels("soft/apptoken"), want);
  EXPECT_EQ(labels("luna7-new/app"), want);
  // Proven by use, both ways: the same keys.
  prove_signature("luna7-new/app", "soft/apptoken", "tls");
  prove_signature("soft/apptoken", "luna7-new/app", "signing");
  write(dir_ / "plain", "AES from the token, decrypted in the Luna");
  ok({"key", "encrypt", "soft/apptoken", "--object", "data-key-3", "--in",
      (dir_ / "plain").string(), "--out", (dir_ / "c").string()});
  ok({"key", "decrypt", "luna7-new/app", "--object", "data-key-3", "--in", (dir_ / "c").string(),
      "--out", (dir_ / "p").string()});
  EXPECT_EQ(slurp(dir_ / "p"), slurp(dir_ / "plain"));
  // The archive it wrote verifies in the domain.
  std::vector<fs::path> archives;
  for (const auto& e : fs::directory_iterator(home() / "archives")) archives.push_back(e.path());
  ASSERT_EQ(archives.size(), 1u);
  ok({"verify", archives[0].string(), "--deep", "--with", "luna7-new/app"});

  // Again: no second token, no key generated twice, nothing doubled.
  next_second();
  CliRun run2 = ok({"plan", "run", "softhsm-to-luna7", "--again"});
  EXPECT_NE(run2.out.find("0 cloned, 8 already present"), std::string::npos) << run2.out;
  EXPECT_EQ(labels("luna7-new/app"), want);
  EXPECT_EQ(labels("soft/apptoken"), want);
  env_["SOFTHSM2_CONF"] = plan_conf().string();
  EXPECT_EQ(count_objects("apptoken"), on_token);
  slots = exec({"pkcs11-tool", "--module", kSoftHsm, "--list-token-slots"});
  std::size_t tokens = 0;
  for (std::size_t at = 0; (at = slots.out.find("token label", at)) != std::string::npos; ++at)
    ++tokens;
  EXPECT_EQ(tokens, 1u) << slots.out;  // apptoken (and SoftHSM's free slot, uninitialised)
}

// A run interrupted between C_InitToken and C_InitPIN left a token no one
// can log in to, and its random SO PIN is gone: the next run leaves it (it
// holds nothing), makes a new one and registers that one by its serial.
TEST_F(PlanToken, AHalfInitialisedTokenIsLeftAndANewOneMade) {
  fs::create_directories(home() / "tokens" / "tokens");
  std::ofstream(plan_conf())
      << "directories.tokendir = " << (home() / "tokens" / "tokens").string() << "/\n"
      << "objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n";
  ::setenv("SOFTHSM2_CONF", plan_conf().c_str(), 1);
  {
    auto m = p11::Module::load(kSoftHsm);
    ASSERT_TRUE(m.ok()) << m.error().message;
    auto slot = (*m)->free_slot();
    ASSERT_TRUE(slot.ok());
    ASSERT_TRUE((*m)->init_token(*slot, api::secret_from(kSoPin), "apptoken").ok());
  }
  ::setenv("SOFTHSM2_CONF", conf_.c_str(), 1);
  ok({"plan", "run", "softhsm-to-luna7"});
  EXPECT_EQ(labels("luna7-new/app").size(), 8u);
  EXPECT_EQ(labels("soft/apptoken").size(), 8u);
  // Again (the same token, found by label and serial): nothing doubled.
  next_second();
  ok({"plan", "run", "softhsm-to-luna7", "--again"});
  EXPECT_EQ(labels("luna7-new/app").size(), 8u);
  EXPECT_EQ(labels("soft/apptoken").size(), 8u);
}

// A plan naming a module that is not there: plan run stops at setup with
// one line naming the module (exit 2), and nothing is registered.
TEST_F(PlanToken, AMissingModuleIsOneClearLine) {
  write(dir_ / "missing.toml",
        "[plan]\nname = \"missing\"\n\n[[device]]\nname = \"soft\"\nkind = \"pkcs11\"\n"
        "module = \"/nonexistent/libnothing.so\"\nsofthsm2_folder = \"tokens\"\n\n"
        "[[device.partition]]\nname = \"tok\"\ndomain = \"corp\"\n\n"
        "[[device]]\nname = \"luna\"\nemulated = true\nkind = \"luna7\"\nfirmware = \"7.8.0\"\n\n"
        "[[device.partition]]\nname = \"p\"\ndomain = \"corp\"\n\n"
        "[[step]]\naction = \"clone\"\nfrom = \"soft/tok\"\nto = \"luna/p\"\n");
  CliRun r = run({"plan", "run", (dir_ / "missing.toml").string()});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/libnothing.so"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(home() / "devices" / "soft" / "kind"));
}

}  // namespace
}  // namespace hsm::e2e
