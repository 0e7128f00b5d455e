#include "tests/unit/pkcs11/softhsm_fixture.hpp"

#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

// Under LeakSanitizer: SoftHSM 2.6.1 itself leaks 37 bytes per EdDSA
// signature (an ASN1 string decoded in C_SignInit, never freed). Leaks
// allocated inside the module are its own, not this project's; suppress
// those only. LSan can name the module only if it is still mapped at exit
// (hence the pin in SetUp) and if the allocation's stack reaches it through
// libcrypto, which has no frame pointers (hence the slow unwinder).
extern "C" __attribute__((visibility("default"))) const char* __lsan_default_suppressions() {
  return "leak:libsofthsm2.so\n";
}
extern "C" __attribute__((visibility("default"))) const char* __asan_default_options() {
  return "fast_unwind_on_malloc=0";
}

namespace hsm::p11::test {

void SoftHsmTest::SetUp() {
  ASSERT_TRUE(fs::exists(kSoftHsmModule))
      << "SoftHSM2 module " << kSoftHsmModule << " is missing: install softhsm2 (.ci/install-deps)";
  ASSERT_EQ(run({"/bin/sh", "-c", "command -v softhsm2-util >/dev/null"}), 0)
      << "softhsm2-util is missing: install softhsm2 (.ci/install-deps)";
  // Keeps the module mapped until exit (see __lsan_default_suppressions);
  // C_Finalize and C_Initialize still run per Module as in production.
  static void* const pin = ::dlopen(kSoftHsmModule.c_str(), RTLD_NOW | RTLD_NODELETE);
  ASSERT_NE(pin, nullptr);
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = fs::temp_directory_path() / ("hsm-p11-" + std::to_string(::getpid()) + "-" +
                                      info->test_suite_name() + "-" + info->name());
  fs::remove_all(dir_);
  fs::create_directories(dir_ / "tokens");
  {
    std::ofstream conf(dir_ / "softhsm2.conf");
    conf << "directories.tokendir = " << (dir_ / "tokens").string() << "/\n"
         << "objectstore.backend = file\n"
         << "log.level = ERROR\n"
         << "slots.removable = false\n"
         << "slots.mechanisms = ALL\n"
         << "library.reset_on_fork = false\n";
  }
  ::setenv("SOFTHSM2_CONF", (dir_ / "softhsm2.conf").c_str(), 1);
}

void SoftHsmTest::TearDown() {
  module_.reset();
  ::unsetenv("SOFTHSM2_CONF");
  fs::remove_all(dir_);
}

std::shared_ptr<Module> SoftHsmTest::module() {
  if (!module_) {
    auto m = Module::load(kSoftHsmModule);
    if (!m.ok()) {
      ADD_FAILURE() << "loading SoftHSM2: " << m.error().message;
      return nullptr;
    }
    module_ = m.value();
  }
  return module_;
}

TokenInfo SoftHsmTest::make_token(const std::string& label) {
  auto m = module();
  if (!m) return {};
  // Tokens with this label already there: the new one is the other serial.
  auto before = m->tokens();
  auto slot = m->free_slot();
  if (!before.ok() || !slot.ok()) {
    ADD_FAILURE() << "listing tokens failed";
    return {};
  }
  if (auto st = m->init_token(slot.value(), so_pin(), label); !st.ok()) {
    ADD_FAILURE() << st.error().message;
    return {};
  }
  auto after = m->tokens();
  if (!after.ok()) {
    ADD_FAILURE() << after.error().message;
    return {};
  }
  const TokenInfo* made = nullptr;
  for (const auto& t : after.value()) {
    const bool old = std::any_of(before->begin(), before->end(), [&](const TokenInfo& b) {
      return b.initialized() && b.serial == t.serial;
    });
    if (t.initialized() && t.label == label && !old) made = &t;
  }
  if (made == nullptr) {
    ADD_FAILURE() << "token '" << label << "' not found after C_InitToken";
    return {};
  }
  auto s = Session::open(Token(m, *made));
  if (!s.ok()) {
    ADD_FAILURE() << s.error().message;
    return {};
  }
  for (const api::Status& st :
       {s->login(so_pin(), CKU_SO), s->init_user_pin(user_pin()), s->logout()})
    if (!st.ok()) ADD_FAILURE() << st.error().message;
  return *made;
}

Token SoftHsmTest::token(const std::string& label) {
  auto tok = module()->find_token(label);
  if (!tok.ok()) throw std::runtime_error(tok.error().message);
  return tok.value();
}

Session SoftHsmTest::user_session(const std::string& label) {
  auto s = Session::open(token(label));
  if (!s.ok()) throw std::runtime_error(s.error().message);
  if (auto st = s->login(user_pin()); !st.ok()) throw std::runtime_error(st.error().message);
  return std::move(s).value();
}

int SoftHsmTest::run(const std::vector<std::string>& argv, std::string* out) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out != nullptr) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace hsm::p11::test
