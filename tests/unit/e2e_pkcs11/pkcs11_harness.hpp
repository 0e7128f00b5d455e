// End-to-end tests of the pkcs11 backend: the built hsm-migrate and its
// plugins against SoftHSM2 tokens made by the test in a folder of its own
// (SOFTHSM2_CONF; the token folder on /dev/shm when there is one: SoftHSM
// writes two files per object and a busy disk makes that ~10 objects/s).
// Real clients check the keys from outside: pkcs11-tool (OpenSC) and openssl.
// A missing SoftHSM2, softhsm2-util, pkcs11-tool or openssl FAILS the test.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "plugins/pkcs11/token/module.hpp"
#include "plugins/pkcs11/token/session.hpp"
#include "plugins/pkcs11/token/token.hpp"
#include "tests/unit/e2e/harness.hpp"

namespace hsm::e2e {

inline const std::string kSoftHsm = "/usr/lib/softhsm/libsofthsm2.so";
inline const char* kSoPin = "so-pin-e2e-1234";

class Pkcs11Cli : public Cli {
 public:
  // Helpers that fill a token take the fixture (token_archive_test.cpp).
  using Cli::ok;
  using Cli::run;

 protected:
  void SetUp() override {
    Cli::SetUp();
    ASSERT_TRUE(fs::exists(kSoftHsm)) << "SoftHSM2 is missing: install softhsm2 (.ci/install-deps)";
    for (const char* tool : {"softhsm2-util", "pkcs11-tool", "openssl"})
      ASSERT_EQ(std::system((std::string("command -v ") + tool + " >/dev/null").c_str()), 0)
          << tool << " is missing: install softhsm2, opensc and openssl (.ci/install-deps)";
    const fs::path shm = "/dev/shm";
    tokens_ = (fs::is_directory(shm) ? shm / ("hsm-e2e-p11-" + dir_.filename().string()) : dir_ / "tokens");
    fs::remove_all(tokens_);
    fs::create_directories(tokens_);
    conf_ = dir_ / "softhsm2.conf";
    std::ofstream(conf_) << "directories.tokendir = " << tokens_.string() << "/\n"
                         << "objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
                         << "slots.mechanisms = ALL\nlibrary.reset_on_fork = false\n";
    env_["SOFTHSM2_CONF"] = conf_.string();
    ::setenv("SOFTHSM2_CONF", conf_.c_str(), 1);
    env_["PKCS11_PIN"] = env_["HSM_MIGRATE_PIN"];  // pkcs11-tool --pin env:PKCS11_PIN
    // Under the sanitizers: SoftHSM 2.6.1 leaks 37 bytes per EdDSA signature
    // inside the module (token layer README); only leaks in it are suppressed.
    std::ofstream(dir_ / "lsan.supp") << "leak:libsofthsm2.so\n";
    // print_suppressions=0: the statistics LSan prints at exit would be a
    // second line on stderr, where the tests count one line per error.
    env_["LSAN_OPTIONS"] = "suppressions=" + (dir_ / "lsan.supp").string() + ":print_suppressions=0";
    env_["ASAN_OPTIONS"] = "fast_unwind_on_malloc=0";
  }
  void TearDown() override {
    ::unsetenv("SOFTHSM2_CONF");
    fs::remove_all(tokens_);
    Cli::TearDown();
  }

  // A new token with the user PIN of HSM_MIGRATE_PIN, made through the module
  // (C_InitToken, C_InitPIN: the PINs stay in memory). The module is
  // released again, so the processes under test see the token folder as is.
  void make_token(const std::string& label) {
    auto m = p11::Module::load(kSoftHsm);
    ASSERT_TRUE(m.ok()) << m.error().message;
    auto slot = (*m)->free_slot();
    ASSERT_TRUE(slot.ok()) << slot.error().message;
    ASSERT_TRUE((*m)->init_token(*slot, api::secret_from(kSoPin), label).ok());
    auto tok = (*m)->find_token(label);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    auto s = p11::Session::open(*tok);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s->login(api::secret_from(kSoPin), CKU_SO).ok());
    ASSERT_TRUE(s->init_user_pin(api::secret_from(env_["HSM_MIGRATE_PIN"])).ok());
    ASSERT_TRUE(s->logout().ok());
  }

  // Registers the token as a device and joins it to the e2e domain (T4).
  void add_token(const std::string& device, const std::string& label, bool with_domain = true) {
    ok({"device", "add", device, "--kind", "pkcs11", "--module", kSoftHsm, "--token", label});
    if (with_domain) ok({"partition", "domain", "add", device + "/" + label, "--label", "e2e"});
  }

  // Another program, with the test's environment (no shell).
  CliRun exec(const std::vector<std::string>& args) { return run_process(args, env_, true, dir_ / "exec"); }

  // pkcs11-tool on token `label` (logged in with PKCS11_PIN when `login`).
  CliRun pkcs11_tool(const std::string& label, std::vector<std::string> args, bool login = true) {
    std::vector<std::string> full{"pkcs11-tool", "--module", kSoftHsm, "--token-label", label};
    if (login) full.insert(full.end(), {"--login", "--pin", "env:PKCS11_PIN"});
    full.insert(full.end(), args.begin(), args.end());
    return exec(full);
  }

  // The number of objects on a token as pkcs11-tool lists them (logged in).
  int count_objects(const std::string& label) {
    CliRun r = pkcs11_tool(label, {"--list-objects"});
    EXPECT_EQ(r.rc, 0) << r.err;
    int n = 0;
    for (std::size_t at = 0; (at = r.out.find("Object;", at)) != std::string::npos; ++at) ++n;
    return n;
  }

  void write(const fs::path& p, const std::string& body) { std::ofstream(p, std::ios::binary) << body; }

  fs::path tokens_, conf_;
};

}  // namespace hsm::e2e
