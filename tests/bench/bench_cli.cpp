// Command-level benchmarks: runs the built hsm-migrate as a user would and
// reports wall time and peak resident memory (from wait4's rusage) next to
// the goals of the issues. Usage: bench_cli [scenario...] (default: all).
// Figures depend on the machine: report them with the machine noted.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Sample {
  double seconds = 0;
  long max_rss_kb = 0;
  int rc = 0;
};

fs::path g_home;

Sample run(const std::vector<std::string>& args, bool quiet = true) {
  std::fflush(stdout);  // the child must not inherit buffered output
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("HSM_MIGRATE_HOME", g_home.c_str(), 1);
    ::setenv("HSM_MIGRATE_PIN", "bench-partition-pin", 1);
    ::setenv("HSM_MIGRATE_DOMAIN", "bench-domain", 1);
    ::setenv("HSM_MIGRATE_CLOUD_LATENCY_MS", "0", 1);
    if (quiet) {
      if (!std::freopen("/dev/null", "w", stdout)) ::_exit(126);
    }
    std::vector<std::string> full{std::string(HSM_BIN_DIR) + "/hsm-migrate"};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  rusage ru{};
  ::wait4(pid, &status, 0, &ru);
  Sample s;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  s.max_rss_kb = ru.ru_maxrss;
  s.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  if (s.rc != 0) {
    std::fprintf(stderr, "bench: command failed (exit %d):", s.rc);
    for (const auto& a : args) std::fprintf(stderr, " %s", a.c_str());
    std::fprintf(stderr, "\n");
    std::exit(1);
  }
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void report(const char* name, double value, const char* unit, const char* goal, bool met) {
  std::printf("%-44s %10.3f %-6s goal %-12s %s\n", name, value, unit, goal, met ? "met" : "MISSED");
}

void fresh_home(const std::string& tag) {
  g_home = fs::temp_directory_path() / ("hsm-bench-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(g_home);
}

void bench_device_create() {
  fresh_home("create");
  std::vector<double> t;
  for (int i = 0; i < 15; ++i)
    t.push_back(run({"device", "create", "d" + std::to_string(i), "--kind", "luna7"}).seconds);
  double m = median(t);
  report("device create (median of 15)", m, "s", "< 0.5 s", m < 0.5);
  fs::remove_all(g_home);
}

void bench_keygen_and_list() {
  fresh_home("keys");
  run({"device", "create", "hsm", "--kind", "luna7"});
  run({"partition", "create", "hsm/p1"});
  Sample s = run({"key", "generate", "hsm/p1", "--type", "aes-256", "--count", "10000"});
  report("key generate --count 10000 aes-256", s.seconds, "s", "< 2 s", s.seconds < 2.0);
  for (int i = 0; i < 9; ++i) run({"key", "generate", "hsm/p1", "--type", "aes-256", "--count", "10000"});
  Sample l = run({"object", "list", "hsm/p1"});
  report("object list, 100,000 objects (text)", l.seconds, "s", "< 1 s", l.seconds < 1.0);
  report("  peak memory", l.max_rss_kb / 1024.0, "MiB", "bounded", l.max_rss_kb < 64 * 1024);
  Sample j = run({"object", "list", "hsm/p1", "--json"});
  report("object list, 100,000 objects (--json)", j.seconds, "s", "< 1 s", j.seconds < 1.0);
  report("  peak memory", j.max_rss_kb / 1024.0, "MiB", "bounded", j.max_rss_kb < 64 * 1024);
  fs::remove_all(g_home);
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::function<void()>> scenarios{
      {"device-create", bench_device_create}, {"keys", bench_keygen_and_list}};
  std::vector<std::string> chosen(argv + 1, argv + argc);
  if (chosen.empty())
    for (const auto& [k, v] : scenarios) chosen.push_back(k);
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  std::printf("hsm-migrate command benchmarks (%ld CPUs)\n", cpus);
  for (const auto& c : chosen) {
    auto it = scenarios.find(c);
    if (it == scenarios.end()) {
      std::fprintf(stderr, "unknown scenario %s\n", c.c_str());
      return 2;
    }
    it->second();
  }
  return 0;
}
