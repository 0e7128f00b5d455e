// S3 repository benchmarks (issue 13), through the built hsm-migrate as cron
// would run it, against a Ceph RADOS Gateway that this benchmark starts
// itself on loopback (tests/fixtures/rgw.sh: one monitor, one OSD on
// memstore, radosgw) and stops at the end:
//   backup-100k  backup of 100,000 AES-256 objects to RGW vs to a local
//                file, in the same run            goal: S3 >= 0.5x the file speed
//   verify       verify from RGW (ranged GETs)    reported in MB/s (file: for scale)
//   memory       peak RSS of S3 backups of 10,000 and 100,000 objects
//                                                 goal: flat (growth < 16 MB)
// Usage: bench_s3 (all of it; ~2 minutes on 2 cores). Wall time and the
// child's peak resident memory come from wait4's rusage, as bench_archive.
// Figures depend on the machine: report them with the machine noted. RGW
// on memstore keeps every byte in RAM: the network is loopback, the disk is
// not in the S3 path, so this measures the client and the gateway's CPU.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Sample {
  double seconds = 0;
  long max_rss_kb = 0;
};

fs::path g_home;
std::map<std::string, std::string> g_s3;  // the fixture's env file

Sample run(const std::vector<std::string>& args) {
  std::fflush(stdout);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("HSM_MIGRATE_HOME", g_home.c_str(), 1);
    ::setenv("HSM_MIGRATE_PIN", "bench-partition-pin", 1);
    ::setenv("HSM_MIGRATE_DOMAIN", "bench-domain", 1);
    ::setenv("AWS_ENDPOINT_URL", g_s3["S3_ENDPOINT"].c_str(), 1);
    ::setenv("AWS_ACCESS_KEY_ID", g_s3["AWS_ACCESS_KEY_ID"].c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", g_s3["AWS_SECRET_ACCESS_KEY"].c_str(), 1);
    ::setenv("AWS_REGION", "us-east-1", 1);
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
  std::printf("%-52s %12.1f %-9s goal %-14s %s\n", name, value, unit, goal, met ? "met" : "MISSED");
}

// A Luna 7 partition `part` holding `n` AES-256 keys.
void partition_with(const std::string& part, std::uint64_t n) {
  run({"partition", "create", "hsm-a/" + part});
  const std::uint64_t step = 100000;
  for (std::uint64_t made = 0; made < n; made += step)
    run({"key", "generate", "hsm-a/" + part, "--type", "aes-256", "--count", std::to_string(std::min(step, n - made)),
         "--label", "k" + std::to_string(made / step)});
}

std::string g_env_file;

void stop_gateway() {
  if (g_env_file.empty()) return;
  const std::string cmd = std::string(HSM_RGW_FIXTURE) + " stop " + g_env_file;
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "bench: the RGW fixture did not stop cleanly\n");
  g_env_file.clear();
}

}  // namespace

int main() {
  std::printf("hsm-migrate S3 repository benchmarks (%ld cores online; Ceph RGW on memstore, loopback)\n",
              ::sysconf(_SC_NPROCESSORS_ONLN));
  g_home = fs::temp_directory_path() / ("hsm-bench-s3-" + std::to_string(::getpid()));
  fs::remove_all(g_home);
  fs::create_directories(g_home);
  g_env_file = (g_home / "s3.env").string();
  const std::string start = std::string(HSM_RGW_FIXTURE) + " start " + g_env_file;
  if (std::system(start.c_str()) != 0) {
    std::fprintf(stderr, "bench: the RGW fixture did not start\n");
    return 1;
  }
  std::atexit(stop_gateway);
  std::ifstream in(g_env_file);
  for (std::string line; std::getline(in, line);)
    if (auto eq = line.find('='); eq != std::string::npos) g_s3[line.substr(0, eq)] = line.substr(eq + 1);
  const fs::path fleet = g_home / "fleet";
  g_home = fleet;

  run({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.8.4"});
  partition_with("small", 10000);
  partition_with("big", 100000);
  const std::string bucket = "bench-" + std::to_string(::getpid());
  run({"repo", "init", "s3://" + bucket, "--lock-mode", "GOVERNANCE", "--lock-days", "1"});

  // backup-100k: file and S3 alternately, so both see the same machine state.
  std::vector<double> file_s, s3_s;
  long s3_rss_big = 0;
  for (int i = 0; i < 3; ++i) {
    file_s.push_back(
        run({"backup", "hsm-a/big", "--archive", (fleet / "big.hsmar").string(), "--force", "--quiet"}).seconds);
    Sample s = run({"backup", "hsm-a/big", "--archive", "s3://" + bucket + "/bench/", "--quiet"});
    s3_s.push_back(s.seconds);
    s3_rss_big = std::max(s3_rss_big, s.max_rss_kb);
  }
  const double file_rate = 100000 / median(file_s), s3_rate = 100000 / median(s3_s);
  const double mb = static_cast<double>(fs::file_size(fleet / "big.hsmar")) / 1e6;
  std::printf("backup of 100,000 AES-256 objects (%.1f MB archive), median of 3, whole command:\n", mb);
  std::printf("  to a local file  %8.0f objects/s (%.2f s)\n", file_rate, median(file_s));
  std::printf("  to RGW (S3)      %8.0f objects/s (%.2f s)\n", s3_rate, median(s3_s));
  report("backup 100,000 to RGW / to a local file", s3_rate / file_rate, "x", ">= 0.5", s3_rate / file_rate >= 0.5);

  // verify from RGW: the newest archive under the partition's prefix.
  const std::string prefix = "s3://" + bucket + "/bench/hsm-a/big/";
  std::vector<double> v_s3, v_file;
  for (int i = 0; i < 3; ++i) {
    v_s3.push_back(run({"verify", prefix, "--quiet"}).seconds);
    v_file.push_back(run({"verify", (fleet / "big.hsmar").string(), "--quiet"}).seconds);
  }
  std::printf("verify of the 100,000-object archive, median of 3, whole command:\n");
  std::printf("  from a local file  %8.1f MB/s (%.2f s)\n", mb / median(v_file), median(v_file));
  report("verify from RGW (ranged GETs)", mb / median(v_s3), "MB/s", "(reported)", true);

  // memory: flat in object count.
  long s3_rss_small = 0;
  for (int i = 0; i < 2; ++i)
    s3_rss_small = std::max(
        s3_rss_small, run({"backup", "hsm-a/small", "--archive", "s3://" + bucket + "/bench/", "--quiet"}).max_rss_kb);
  const double small_mb = s3_rss_small / 1024.0, big_mb = s3_rss_big / 1024.0;
  std::printf("peak RSS of a backup to RGW: 10,000 objects %.1f MB, 100,000 objects %.1f MB\n", small_mb, big_mb);
  report("peak RSS growth, 10,000 -> 100,000 objects (S3)", big_mb - small_mb, "MB", "< 16", big_mb - small_mb < 16);

  stop_gateway();
  fs::remove_all(fleet.parent_path());
  return 0;
}
