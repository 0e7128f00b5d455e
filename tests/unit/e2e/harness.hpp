// Runs the built hsm-migrate binary in a scratch fleet folder, the way a
// user or a cron job would, and captures exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace hsm::e2e {

namespace fs = std::filesystem;

// Exit codes (man/hsm-migrate.1).
inline constexpr int kOk = 0, kOther = 1, kUsage = 2, kRefused = 3, kIntegrity = 4, kBusy = 5, kAuth = 6;

struct CliRun {
  int rc = -1;
  std::string out;
  std::string err;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
};

// Stress tests (kill points, concurrent trials) take every Nth case when
// HSM_MIGRATE_TEST_STRIDE=N is set, for a quick local run under the
// sanitizers (each case costs three times as much or more there). CI runs
// every case in its plain stage and leaves the stress suites out of the
// sanitizer stage (.ci/run).
inline std::size_t test_stride() {
  const char* s = std::getenv("HSM_MIGRATE_TEST_STRIDE");
  const long n = s ? std::strtol(s, nullptr, 10) : 1;
  return n > 1 ? static_cast<std::size_t>(n) : 1;
}

// Every test_stride()-th element, the last one always kept.
template <class T>
std::vector<T> every_stride(const std::vector<T>& all) {
  std::vector<T> out;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (i % test_stride() == 0 || i + 1 == all.size()) out.push_back(all[i]);
  return out;
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a program (argv[0] looked up in PATH; no shell) and waits for it.
// `inherit`: this process's environment with `env` over it (an empty value
// unsets); else exactly `env` (empty values left out). Output goes through
// `scratch`.out/.err, removed afterwards, so parallel runs (the stress tests'
// trials) each name their own; nothing in this process changes.
inline CliRun run_process(std::vector<std::string> argv_s, const std::map<std::string, std::string>& env,
                          bool inherit, const fs::path& scratch) {
  const fs::path out = scratch.string() + ".out", err = scratch.string() + ".err";
  std::vector<std::string> envs;
  for (const auto& [k, v] : env)
    if (!v.empty()) envs.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    (void)std::freopen(out.c_str(), "w", stdout);
    (void)std::freopen(err.c_str(), "w", stderr);
    (void)std::freopen("/dev/null", "r", stdin);
    if (inherit) {
      for (const auto& [k, v] : env) {
        if (v.empty()) ::unsetenv(k.c_str());
        else ::setenv(k.c_str(), v.c_str(), 1);
      }
      ::execvp(argv[0], argv.data());
    } else {
      ::execvpe(argv[0], argv.data(), envp.data());
    }
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CliRun r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

// Runs argv with stdin, stdout and stderr on one pseudo-terminal of
// `columns` columns, as a person at a terminal sees it: `out` is everything
// the terminal received (its line discipline turns "\n" into "\r\n"); `err`
// stays empty. env is put over the test's environment.
inline CliRun run_on_terminal(const std::vector<std::string>& argv_s, const std::map<std::string, std::string>& env,
                              unsigned short columns = 120) {
  std::vector<std::string> args = argv_s;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  struct winsize ws {};
  ws.ws_row = 40;
  ws.ws_col = columns;
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
  CliRun r;
  if (pid < 0) {
    r.err = "forkpty failed";
    return r;
  }
  if (pid == 0) {
    for (const auto& [k, v] : env) {
      if (v.empty()) ::unsetenv(k.c_str());
      else ::setenv(k.c_str(), v.c_str(), 1);
    }
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  char buf[4096];
  for (;;) {  // until the child's side closes (EIO on Linux)
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) r.out.append(buf, static_cast<std::size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// hsm-migrate with exactly `env` (run_process).
inline CliRun run_with_env(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                           const fs::path& scratch) {
  std::vector<std::string> full{std::string(HSM_BIN_DIR) + "/hsm-migrate"};
  full.insert(full.end(), args.begin(), args.end());
  return run_process(std::move(full), env, false, scratch);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    // Secrets files the tests write are 0600, as an operator keeps them
    // (hsm-migrate refuses PIN and domain files others can read).
    ::umask(077);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("hsm-e2e-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    env_["HSM_MIGRATE_HOME"] = (dir_ / "fleet").string();
    env_["HSM_MIGRATE_PIN"] = "e2e-partition-pin";
    env_["HSM_MIGRATE_DOMAIN"] = "e2e-domain";
    env_["HSM_MIGRATE_CLOUD_LATENCY_MS"] = "0";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs hsm-migrate with args (no shell involved), env_ over the test's environment.
  CliRun run(const std::vector<std::string>& args) {
    std::vector<std::string> full{std::string(HSM_BIN_DIR) + "/hsm-migrate"};
    full.insert(full.end(), args.begin(), args.end());
    return run_process(std::move(full), env_, true, dir_ / "run");
  }

  // hsm-migrate on a terminal (run_on_terminal): progress lines are drawn.
  CliRun on_terminal(const std::vector<std::string>& args) {
    std::vector<std::string> full{std::string(HSM_BIN_DIR) + "/hsm-migrate"};
    full.insert(full.end(), args.begin(), args.end());
    return run_on_terminal(full, env_);
  }

  // Starts hsm-migrate without waiting (concurrency tests); `tag` names its
  // output files. Collect it with finish().
  pid_t spawn(const std::vector<std::string>& args, const std::string& tag) {
    const fs::path out = dir_ / ("stdout-" + tag), err = dir_ / ("stderr-" + tag);
    pid_t pid = ::fork();
    if (pid == 0) {
      for (const auto& [k, v] : env_) {
        if (v.empty()) ::unsetenv(k.c_str());
        else ::setenv(k.c_str(), v.c_str(), 1);
      }
      FILE* o = std::freopen(out.c_str(), "w", stdout);
      FILE* e = std::freopen(err.c_str(), "w", stderr);
      (void)o;
      (void)e;
      std::freopen("/dev/null", "r", stdin);
      std::vector<std::string> full{std::string(HSM_BIN_DIR) + "/hsm-migrate"};
      full.insert(full.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : full) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return pid;
  }
  CliRun finish(pid_t pid, const std::string& tag) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CliRun r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(dir_ / ("stdout-" + tag));
    r.err = slurp(dir_ / ("stderr-" + tag));
    return r;
  }

  // Runs and asserts success, returning the run.
  CliRun ok(const std::vector<std::string>& args) {
    CliRun r = run(args);
    EXPECT_EQ(r.rc, kOk) << "hsm-migrate";
    if (r.rc != kOk) {
      std::string line;
      for (const auto& a : args) line += " " + a;
      ADD_FAILURE() << "command:" << line << "\nstderr: " << r.err;
    }
    return r;
  }

  // Runs and asserts refusal by `rule` with the refused exit code; the one
  // error line names the rule.
  CliRun refused(const std::vector<std::string>& args, const std::string& rule) {
    CliRun r = run(args);
    EXPECT_EQ(r.rc, kRefused) << r.err;
    EXPECT_NE(r.err.find("rule " + rule + " "), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    return r;
  }

  fs::path dir_;
  std::map<std::string, std::string> env_;
};

}  // namespace hsm::e2e
