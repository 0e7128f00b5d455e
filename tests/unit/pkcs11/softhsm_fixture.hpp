// Each test gets its own SoftHSM2: a configuration file and a token folder
// in a temporary directory, pointed to by SOFTHSM2_CONF, so no test touches
// the machine's token folder (/var/lib/softhsm) or another test's tokens.
// SoftHSM reads the configuration at C_Initialize: the fixture loads the
// module after setting it and releases it before removing the folder.
//
// Tokens are initialised through the module (C_InitToken, C_InitPIN) with the
// PINs in memory, never on a command line. If the module or softhsm2-util
// (used to check the tokens from outside) is missing, the test FAILS: install
// softhsm2 (.ci/install-deps).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "plugins/api/secret.hpp"
#include "plugins/pkcs11/token/module.hpp"
#include "plugins/pkcs11/token/session.hpp"
#include "plugins/pkcs11/token/token.hpp"

namespace hsm::p11::test {

namespace fs = std::filesystem;

// Debian's path (a symlink to the multiarch file).
inline const fs::path kSoftHsmModule = "/usr/lib/softhsm/libsofthsm2.so";
inline const char* kSoPin = "so-pin-12345678";
inline const char* kUserPin = "user-pin-1234";

class SoftHsmTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  const fs::path& dir() const { return dir_; }
  // The module, loaded on first use with this test's configuration.
  std::shared_ptr<Module> module();
  // Unloads the module (C_Finalize): the next module() reads the token
  // folder again, as a new process would.
  void reload() { module_.reset(); }

  // A new token with kSoPin and kUserPin; returns its info.
  TokenInfo make_token(const std::string& label);
  Token token(const std::string& label);
  // A read-write session on the token, logged in as the user.
  Session user_session(const std::string& label);

  // Runs a program (no shell), returns its exit code; its stdout in *out.
  int run(const std::vector<std::string>& argv, std::string* out = nullptr);

 private:
  fs::path dir_;
  std::shared_ptr<Module> module_;
};

// ASSERT_TRUE-style helpers that print the error line on failure.
#define P11_ASSERT_OK(expr)                                              \
  do {                                                                   \
    auto&& p11_r_ = (expr);                                              \
    ASSERT_TRUE(p11_r_.ok()) << #expr << ": " << p11_r_.error().message; \
  } while (0)
#define P11_ASSIGN(var, expr)                                           \
  auto HSM_CONCAT(p11_v_, __LINE__) = (expr);                           \
  ASSERT_TRUE(HSM_CONCAT(p11_v_, __LINE__).ok())                        \
      << #expr << ": " << HSM_CONCAT(p11_v_, __LINE__).error().message; \
  var = std::move(HSM_CONCAT(p11_v_, __LINE__)).value()

inline api::SecretBytes so_pin() {
  return api::secret_from(kSoPin);
}
inline api::SecretBytes user_pin() {
  return api::secret_from(kUserPin);
}
inline api::Bytes bytes(std::string_view s) {
  return api::Bytes(s.begin(), s.end());
}

}  // namespace hsm::p11::test
