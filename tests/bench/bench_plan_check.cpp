// Benchmark: `plan check` on a generated plan of 200 described devices and
// 1,000 steps (goal: check_plan < 1 s). Run by hand: build/bin/bench_plan_check
// [--devices N] [--steps N] [--runs N] [--print].
//
// The plan is deterministic (a fixed LCG): Luna 7 HA groups of three members
// upgraded members-first, Luna 6 sources cloned into Luna 7 partitions with
// policy 42 toggled around the clone, backups to Backup HSM G5 partitions and
// restores from them, archives written, verified and drilled, cloud services
// filled within C1, domain and suite changes on 7.8 partitions. Most steps
// pass; some are refused on purpose (a primary upgraded first now and then,
// a clone to a Luna 6 after its source was upgraded, groups still mixed when
// the plan ends), so the counterfactual "caused by" search runs too.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "migrations/check.hpp"
#include "migrations/plan.hpp"

namespace {

struct Lcg {
  std::uint64_t s = 0x2545F4914F6CDD1DULL;
  std::uint32_t next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>(s >> 33);
  }
  std::size_t below(std::size_t n) { return n ? next() % n : 0; }
};

std::string device(const std::string& name, const char* kind, const std::string& fw, const std::string& parts) {
  return "\n[[device]]\nname = \"" + name + "\"\ndescribed = true\nkind = \"" + kind + "\"\nfirmware = \"" + fw +
         "\"\n" + parts;
}
std::string partition(const std::string& name, const std::string& extra = "") {
  return "[[device.partition]]\nname = \"" + name + "\"\ndomain = \"corp\"\n" + extra;
}
std::string step(const std::string& body) { return "\n[[step]]\n" + body + "\n"; }

std::string generate(std::size_t n_devices, std::size_t n_steps) {
  Lcg rng;
  std::string t = "[plan]\nname = \"bench\"\ndescription = \"generated\"\n";
  // Device mix: 60% Luna 7 (in groups of three), 20% Luna 6, 10% cloud, 10% Backup HSM G5.
  const std::size_t n_groups = n_devices * 6 / 10 / 3;
  const std::size_t n_luna7 = n_groups * 3;
  const std::size_t n_luna6 = n_devices / 5;
  const std::size_t n_cloud = n_devices / 10;
  const std::size_t n_bk = n_devices - n_luna7 - n_luna6 - n_cloud;
  std::vector<std::string> luna7, luna6, cloud, bk;
  const char* keyset =
      "[[device.partition.keys]]\ntype = \"aes-256\"\ncount = 12\nlabel = \"k\"\n"
      "[[device.partition.keys]]\ntype = \"rsa-2048\"\ncount = 3\nlabel = \"s\"\n"
      "[[device.partition.keys]]\ntype = \"ec-p256\"\ncount = 1\nlabel = \"e\"\n";
  for (std::size_t i = 0; i < n_luna7; ++i) {
    luna7.push_back("l7-" + std::to_string(i));
    // Groups of three at 7.2.0 (to be upgraded); every fourth group at 7.8.0.
    const bool modern = (i / 3) % 4 == 3;
    t += device(luna7.back(), "luna7", modern ? "7.8.0" : "7.2.0",
                partition("app", i % 3 == 0 ? keyset : "") + partition("dr"));
  }
  for (std::size_t i = 0; i < n_luna6; ++i) {
    luna6.push_back("l6-" + std::to_string(i));
    t += device(luna6.back(), "luna6", "6.10.9", partition("app", keyset));
  }
  for (std::size_t i = 0; i < n_cloud; ++i) {
    cloud.push_back("svc-" + std::to_string(i));
    t += device(cloud.back(), "cloud", "7.8.0", partition("svc"));
  }
  for (std::size_t i = 0; i < n_bk; ++i) {
    bk.push_back("bk-" + std::to_string(i));
    t += device(bk.back(), "backup-g5", "6.28.0", partition("vault") + partition("vault2"));
  }
  for (std::size_t g = 0; g < n_groups; ++g)
    t += "\n[[hagroup]]\nname = \"g" + std::to_string(g) + "\"\nmembers = [\"" + luna7[g * 3] + "/app\", \"" +
         luna7[g * 3 + 1] + "/app\", \"" + luna7[g * 3 + 2] + "/app\"]\n";

  // Steps, in rounds of small scenarios until n_steps are written.
  std::size_t steps = 0;
  std::vector<int> upgraded(n_groups, 0);  // members upgraded so far (0..3)
  std::vector<bool> primary_first(n_groups, false);
  auto add = [&](const std::string& body) {
    if (steps < n_steps) {
      t += step(body);
      ++steps;
    }
  };
  std::size_t archive = 0;
  while (steps < n_steps) {
    switch (rng.below(9)) {
      case 0: {  // upgrade a group member, members first (now and then the primary first: refused, H7)
        const std::size_t g = rng.below(n_groups);
        if (g % 4 == 3 || upgraded[g] >= 3) break;
        if (upgraded[g] == 0 && rng.below(10) == 0) primary_first[g] = true;
        static constexpr std::size_t kSafe[] = {2, 1, 0}, kWrong[] = {0, 2, 1};
        const std::size_t member = (primary_first[g] ? kWrong : kSafe)[upgraded[g]];
        add("action = \"upgrade\"\ndevice = \"" + luna7[g * 3 + member] + "\"\nfirmware = \"7.7.0\"");
        ++upgraded[g];
        break;
      }
      case 1: {  // Luna 6 -> Luna 7 dr partition at 7.8: policy 42 on, clone, policy 42 off
        const std::size_t g = rng.below(n_groups / 4) * 4 + 3;
        const std::string dst = luna7[g * 3 + rng.below(3)] + "/dr";
        const std::string src = luna6[rng.below(luna6.size())] + "/app";
        add("action = \"policy\"\npartition = \"" + dst + "\"\nset = [\"42=1\"]");
        add("action = \"clone\"\nfrom = \"" + src + "\"\nto = \"" + dst + "\"");
        add("action = \"policy\"\npartition = \"" + dst + "\"\nset = [\"42=0\"]");
        break;
      }
      case 2: {  // backup to a G5 and restore into another partition
        const std::string src = luna6[rng.below(luna6.size())] + "/app";
        const std::string vault = bk[rng.below(bk.size())] + (rng.below(2) ? "/vault" : "/vault2");
        add("action = \"backup\"\nfrom = \"" + src + "\"\nto = \"" + vault + "\"");
        const std::string dst = luna6[rng.below(luna6.size())] + "/app";
        if (dst != src) add("action = \"restore\"\nfrom = \"" + vault + "\"\nto = \"" + dst + "\"");
        break;
      }
      case 3: {  // archive: backup, verify, drill
        const std::size_t g = rng.below(n_groups);
        const std::string src = luna7[g * 3] + "/app";
        const std::string a = "arch/" + std::to_string(archive++) + "-%Y%m%d.hsmar";
        add("action = \"backup\"\nfrom = \"" + src + "\"\narchive = \"" + a + "\"");
        add("action = \"verify\"\narchive = \"" + a + "\"\nwith = \"" + luna7[g * 3 + 1] + "/app\"");
        add("action = \"drill\"\narchive = \"" + a + "\"\nscratch = \"" + luna7[g * 3 + 1] + "/dr\"");
        break;
      }
      case 4: {  // a cloud service filled within C1 (one 20-object clone per Luna 7.8 source)
        const std::size_t g = rng.below(n_groups / 4) * 4 + 3;
        add("action = \"clone\"\nfrom = \"" + luna7[g * 3] + "/app\"\nto = \"" + cloud[rng.below(cloud.size())] +
            "/svc\"\nobjects = \"k-" + std::to_string(1 + rng.below(12)) + "\"");
        break;
      }
      case 5: {  // domain management on a 7.8 partition: add a second domain, relabel it, delete it
        const std::size_t g = rng.below(n_groups / 4) * 4 + 3;
        const std::string p = luna7[g * 3 + rng.below(3)] + "/dr";
        const std::string label = "l" + std::to_string(steps);
        add("action = \"policy\"\npartition = \"" + p + "\"\nset = [\"44=1\"]");
        add("action = \"domain-add\"\npartition = \"" + p + "\"\ndomain = \"d" + std::to_string(steps) +
            "\"\nlabel = \"" + label + "\"");
        add("action = \"domain-label\"\npartition = \"" + p + "\"\nlabel = \"" + label + "\"\nnew_label = \"" +
            label + "x\"");
        add("action = \"domain-delete\"\npartition = \"" + p + "\"\nlabel = \"" + label + "x\"");
        break;
      }
      case 6: {  // suites on a 7.8 partition
        const std::size_t g = rng.below(n_groups / 4) * 4 + 3;
        add("action = \"suites\"\npartition = \"" + luna7[g * 3 + rng.below(3)] +
            "/dr\"\nenable = [\"aes-256-gcm\", \"chacha20-poly1305\"]");
        break;
      }
      case 7: {  // replication inside a group
        const std::size_t g = rng.below(n_groups);
        add("action = \"clone\"\nfrom = \"" + luna7[g * 3] + "/app\"\nto = \"" + luna7[g * 3 + 1 + rng.below(2)] +
            "/app\"");
        break;
      }
      case 8: {  // a group member's keys to a Luna 6: CPv1 works until the member is upgraded (P8, with cause)
        const std::size_t g = rng.below(n_groups);
        if (g % 4 == 3) break;
        add("action = \"clone\"\nfrom = \"" + luna7[g * 3] + "/app\"\nto = \"" + luna6[rng.below(luna6.size())] +
            "/app\"\nobjects = \"s-1\"");
        break;
      }
    }
  }
  return t;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n_devices = 200, n_steps = 1000, runs = 5;
  bool print = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--devices") && i + 1 < argc) n_devices = std::strtoul(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) n_steps = std::strtoul(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::strtoul(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--print")) print = true;
    else {
      std::fprintf(stderr, "usage: bench_plan_check [--devices N] [--steps N] [--runs N] [--print]\n");
      return 2;
    }
  }
  const std::string text = generate(n_devices, n_steps);
  if (print) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto parsed = hsm::plans::parse_plan_string(text, "bench.toml");
  const double parse_ms = ms_since(t0);
  if (!parsed.ok()) {
    std::fprintf(stderr, "generated plan does not parse:\n%s\n", parsed.error().message.c_str());
    return 1;
  }
  const hsm::plans::Plan& plan = parsed.value();
  t0 = std::chrono::steady_clock::now();
  const hsm::plans::FleetState fleet = hsm::plans::fleet_from_plan(plan);
  const double fleet_ms = ms_since(t0);

  std::vector<double> times;
  hsm::plans::CheckReport rep;
  for (std::size_t r = 0; r < std::max<std::size_t>(runs, 1); ++r) {
    t0 = std::chrono::steady_clock::now();
    rep = hsm::plans::check_plan(plan, fleet);
    times.push_back(ms_since(t0));
  }
  std::sort(times.begin(), times.end());
  std::size_t objects = 0, caused = 0;
  for (const auto& s : rep.steps) objects += s.objects;
  for (const auto& p : rep.problems) caused += p.caused_by != 0;
  std::printf("plan: %zu devices, %zu HA groups, %zu steps (%zu bytes of TOML)\n", plan.devices.size(),
              plan.groups.size(), plan.steps.size(), text.size());
  std::printf("parse_plan_string: %.1f ms\n", parse_ms);
  std::printf("fleet_from_plan:   %.1f ms\n", fleet_ms);
  std::printf("check_plan:        median %.1f ms, min %.1f ms, max %.1f ms over %zu run(s) (goal < 1000 ms)\n",
              times[times.size() / 2], times.front(), times.back(), times.size());
  std::printf("result: %zu refusal(s) (%zu with an earlier cause found), %zu warning(s), %zu objects moved\n",
              rep.refusals(), caused, rep.warnings(), objects);
  return times[times.size() / 2] < 1000.0 ? 0 : 1;
}
