// Archive benchmarks (issue 4), through the built hsm-migrate as cron would
// run it: wall time and the child's peak resident memory (wait4's rusage).
//   backup-100k   backup of 100,000 AES-256 objects   goal >= 100,000 objects/s
//   verify        verify throughput (file bytes)      goal >= 500 MB/s
//   backup-1m     peak RSS of a backup of 1,000,000   goal < 200 MB (streaming);
//                 then a restore of it (time and peak RSS, for scale)
// Usage: bench_archive [backup-100k] [verify] [backup-1m] (default: all).
// Figures depend on the machine: report them with the machine noted.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Sample {
  double seconds = 0;
  long max_rss_kb = 0;
};

fs::path g_home;

Sample run(const std::vector<std::string>& args) {
  std::fflush(stdout);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("HSM_MIGRATE_HOME", g_home.c_str(), 1);
    ::setenv("HSM_MIGRATE_PIN", "bench-partition-pin", 1);
    ::setenv("HSM_MIGRATE_DOMAIN", "bench-domain", 1);
    if (!std::freopen("/dev/null", "w", stdout)) ::_exit(126);
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
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  if (rc != 0) {
    std::fprintf(stderr, "bench: command failed (exit %d):", rc);
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
  std::printf("%-46s %12.1f %-9s goal %-14s %s\n", name, value, unit, goal, met ? "met" : "MISSED");
}

// A Luna 7 partition holding `n` AES-256 keys.
void fleet_with(std::uint64_t n) {
  g_home = fs::temp_directory_path() / ("hsm-bench-archive-" + std::to_string(n) + "-" + std::to_string(::getpid()));
  fs::remove_all(g_home);
  run({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.8.4"});
  run({"partition", "create", "hsm-a/p1"});
  const std::uint64_t step = 100000;
  for (std::uint64_t made = 0; made < n; made += step)
    run({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--count", std::to_string(std::min(step, n - made)),
         "--label", "k" + std::to_string(made / step)});
}

fs::path archive_path(const std::string& name) { return g_home / name; }

void bench_backup_100k() {
  fleet_with(100000);
  std::vector<double> secs;
  for (int i = 0; i < 5; ++i)
    secs.push_back(run({"backup", "hsm-a/p1", "--archive", archive_path("b.hsmar").string(), "--force"}).seconds);
  const double rate = 100000 / median(secs);
  report("backup 100,000 AES-256 objects (whole command)", rate, "objects/s", ">= 100,000", rate >= 100000);
  std::vector<double> v;
  const double mb = static_cast<double>(fs::file_size(archive_path("b.hsmar"))) / 1e6;
  for (int i = 0; i < 5; ++i) v.push_back(run({"verify", archive_path("b.hsmar").string()}).seconds);
  const double tput = mb / median(v);
  report("verify, 100,000-object archive (whole command)", tput, "MB/s", ">= 500", tput >= 500);
  std::printf("  (archive %.1f MB, backup median %.3f s, verify median %.3f s)\n", mb, median(secs), median(v));
  fs::remove_all(g_home);
}

void bench_backup_1m(bool verify_too) {
  fleet_with(1000000);
  Sample s = run({"backup", "hsm-a/p1", "--archive", archive_path("m.hsmar").string()});
  const double mb_rss = static_cast<double>(s.max_rss_kb) / 1024.0;
  report("backup 1,000,000 objects: peak RSS", mb_rss, "MB", "< 200", mb_rss < 200);
  std::printf("  (backup of 1,000,000 took %.2f s: %.0f objects/s)\n", s.seconds, 1e6 / s.seconds);
  // Not a goal of the issue, reported for scale: restore streams too.
  run({"partition", "create", "hsm-a/p2"});
  Sample r = run({"restore", archive_path("m.hsmar").string(), "--to", "hsm-a/p2"});
  std::printf("  (restore of 1,000,000 into an empty partition: %.2f s, %.0f objects/s, peak RSS %.1f MB)\n",
              r.seconds, 1e6 / r.seconds, static_cast<double>(r.max_rss_kb) / 1024.0);
  if (verify_too) {
    const double mb = static_cast<double>(fs::file_size(archive_path("m.hsmar"))) / 1e6;
    std::vector<double> v;
    long rss = 0;
    for (int i = 0; i < 3; ++i) {
      Sample x = run({"verify", archive_path("m.hsmar").string()});
      v.push_back(x.seconds);
      rss = std::max(rss, x.max_rss_kb);
    }
    const double tput = mb / median(v);
    report("verify, 1,000,000-object archive", tput, "MB/s", ">= 500", tput >= 500);
    std::printf("  (archive %.1f MB, verify median %.3f s, peak RSS %.1f MB)\n", mb, median(v), rss / 1024.0);
  }
  fs::remove_all(g_home);
}

}  // namespace

int main(int argc, char** argv) {
  std::set<std::string> want(argv + 1, argv + argc);
  auto on = [&](const char* s) { return want.empty() || want.count(s) > 0; };
  std::printf("hsm-migrate archive benchmarks (%ld cores online)\n", ::sysconf(_SC_NPROCESSORS_ONLN));
  if (on("backup-100k")) bench_backup_100k();
  if (on("backup-1m") || on("verify")) bench_backup_1m(on("verify"));
  return 0;
}
