// Clone benchmarks (issue 3): objects per second through the real device
// verbs (clone_offer on the target, clone_out on the source, clone_in on the
// target, SQLite stores in a temp folder), one offer per run as the tool does.
//   CPv4  7.8.0 -> 7.8.0, 10,000 AES-256 keys   goal >= 50,000 objects/s
//   CPv3  7.8.0 -> 7.7.1, fewer keys, scaled    goal: CPv4 >= 50x CPv3 per object
//   CPv1  7.2.0 -> 7.2.0, fewer keys, scaled
//   cli   `hsm-migrate clone` end to end, 10,000 CPv4 objects
// Usage: bench_clone [cpv4] [cpv3] [cpv1] [cli] (default: all). Report the
// figures with the machine noted (they depend on it).
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "plugins/luna/device/luna_backend.hpp"
#include "plugins/luna/device/luna_partition.hpp"

namespace fs = std::filesystem;
using namespace hsm;  // NOLINT(google-build-using-namespace)

namespace {

fs::path g_home;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_clone: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T must(api::Result<T> r, const char* what) {
  if (!r.ok()) die(std::string(what) + ": " + r.error().message);
  return std::move(r).value();
}

struct Pair {
  std::vector<std::unique_ptr<api::Device>> devices;
  std::unique_ptr<api::Partition> src, dst;
  std::vector<std::uint64_t> handles;
};

std::unique_ptr<api::Partition> make_partition(Pair& p, const std::string& name, api::Version fw) {
  const fs::path dir = g_home / "devices" / name;
  fs::create_directories(dir);
  api::DeviceCreateRequest req{name, fw, false, g_home / "factory"};
  p.devices.push_back(must(luna::backend_for(api::DeviceKind::luna7).create_device(dir, req), "device"));
  api::PartitionCreateRequest r;
  r.name = "p";
  r.domain.secret = api::secret_from("bench-domain");
  r.pin = api::secret_from("bench-pin");
  auto part = must(p.devices.back()->create_partition(r), "partition");
  if (auto s = part->login(r.pin); !s.ok()) die("login: " + s.error().message);
  return part;
}

void bench_device(const char* name, api::Version fw_src, api::Version fw_dst, int n, double* per_object) {
  fs::remove_all(g_home);
  Pair p;
  p.src = make_partition(p, std::string(name) + "-src", fw_src);
  p.dst = make_partition(p, std::string(name) + "-dst", fw_dst);
  api::KeyGenRequest req;
  req.type = "aes-256";
  req.count = n;
  req.label = "k";
  for (const auto& o : must(p.src->generate_keys(req), "generate").created) p.handles.push_back(o.handle);
  api::ClientDesc client{{10, 9, 0}};
  const api::Endpoint src_ep = must(p.src->describe(), "describe");
  const api::Endpoint dst_ep = must(p.dst->describe(), "describe");
  auto t0 = std::chrono::steady_clock::now();
  auto offer = must(p.dst->clone_offer(src_ep, client), "offer");
  const double t_offer = seconds_since(t0);
  auto t1 = std::chrono::steady_clock::now();
  auto out = must(p.src->clone_out(offer, dst_ep, p.handles, client), "clone_out");
  const double t_out = seconds_since(t1);
  auto t2 = std::chrono::steady_clock::now();
  auto in = must(p.dst->clone_in(src_ep, out.messages, client), "clone_in");
  const double t_in = seconds_since(t2);
  const double total = seconds_since(t0);
  if (in.created.size() != static_cast<std::size_t>(n))
    die(std::string(name) + ": created " + std::to_string(in.created.size()) + " of " + std::to_string(n));
  *per_object = total / n;
  std::printf("%-5s %6d AES-256 keys: %8.3f s  %10.0f objects/s  (offer %.3f s, out %.3f s, in %.3f s)\n",
              name, n, total, n / total, t_offer, t_out, t_in);
}

void bench_cli(int n) {
  fs::remove_all(g_home);
  fs::create_directories(g_home);
  auto run = [](const std::vector<std::string>& args) {
    std::fflush(stdout);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv("HSM_MIGRATE_HOME", (g_home / "fleet").c_str(), 1);
      ::setenv("HSM_MIGRATE_PIN", "bench-partition-pin", 1);
      ::setenv("HSM_MIGRATE_DOMAIN", "bench-domain", 1);
      std::freopen("/dev/null", "w", stdout);
      std::vector<std::string> full{std::string(HSM_BIN_DIR) + "/hsm-migrate"};
      full.insert(full.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : full) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("hsm-migrate failed");
  };
  for (const char* d : {"a", "b"}) {
    run({"device", "create", d, "--kind", "luna7", "--firmware", "7.8.0"});
    run({"partition", "create", std::string(d) + "/p"});
  }
  run({"key", "generate", "a/p", "--type", "aes-256", "--count", std::to_string(n), "--label", "k"});
  auto t0 = std::chrono::steady_clock::now();
  run({"clone", "a/p", "b/p", "--quiet"});
  const double t = seconds_since(t0);
  std::printf("cli   %6d CPv4 objects `hsm-migrate clone`: %.3f s  %10.0f objects/s\n", n, t, n / t);
  auto t1 = std::chrono::steady_clock::now();
  run({"clone", "a/p", "b/p", "--quiet"});
  const double t2 = seconds_since(t1);
  std::printf("cli   %6d CPv4 objects rerun (all already present): %.3f s\n", n, t2);
}

}  // namespace

int main(int argc, char** argv) {
  std::set<std::string> which(argv + 1, argv + argc);
  auto want = [&](const char* w) { return which.empty() || which.count(w); };
  g_home = fs::temp_directory_path() / ("hsm-bench-clone-" + std::to_string(::getpid()));
  std::printf("machine: %ld online CPU(s)\n", ::sysconf(_SC_NPROCESSORS_ONLN));
  double v4 = 0, v3 = 0, v1 = 0;
  if (want("cpv4")) bench_device("CPv4", {7, 8, 0}, {7, 8, 0}, 10000, &v4);
  if (want("cpv3")) bench_device("CPv3", {7, 8, 0}, {7, 7, 1}, 500, &v3);
  if (want("cpv1")) bench_device("CPv1", {7, 2, 0}, {7, 2, 0}, 500, &v1);
  if (v4 > 0) std::printf("CPv4 goal >= 50,000 objects/s: %s\n", 1 / v4 >= 50000 ? "met" : "NOT met");
  if (v4 > 0 && v3 > 0)
    std::printf("CPv4 vs CPv3 per object: %.0fx (goal >= 50x): %s\n", v3 / v4, v3 / v4 >= 50 ? "met" : "NOT met");
  if (v4 > 0 && v1 > 0) std::printf("CPv4 vs CPv1 per object: %.0fx\n", v1 / v4);
  if (want("cli")) bench_cli(10000);
  fs::remove_all(g_home);
  return 0;
}
