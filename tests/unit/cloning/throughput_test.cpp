// Throughput figures (not a timed unit test: disabled by default).
//   test_cloning --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "tests/unit/cloning/fleet.hpp"

namespace hsm::luna::cloning::testing {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void measure(Protocol p, const std::string& suite, std::size_t n) {
  Clone c;
  c.protocol = p;
  c.suite = suite;
  std::vector<FlatObject> objs;
  objs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) objs.push_back(make_object("aes-256", "aes-" + std::to_string(i)));
  auto offer = must(c.offer());
  auto t0 = std::chrono::steady_clock::now();
  auto msgs = must(c.seal_for(offer.offer, objs));
  const double seal_s = seconds_since(t0);
  auto t1 = std::chrono::steady_clock::now();
  auto got = c.open_with(offer.session, msgs);
  const double open_s = seconds_since(t1);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got->objects.size(), n);
  const double total = seal_s + open_s;
  std::printf("%-5s %-18s %6zu objects: seal %8.4f s, open %8.4f s, seal+open %10.0f objects/s (%.2f us/object)\n",
              std::string(api::to_string(p)).c_str(), suite.c_str(), n, seal_s, open_s,
              static_cast<double>(n) / total, 1e6 * total / static_cast<double>(n));
}

TEST(DISABLED_Throughput, Cpv4TenThousandAes256Objects) {
  measure(Protocol::cpv4, "aes-256-gcm", 10000);
  measure(Protocol::cpv4, "chacha20-poly1305", 10000);
}
TEST(DISABLED_Throughput, Cpv1TwoHundredAes256Objects) { measure(Protocol::cpv1, "", 200); }
TEST(DISABLED_Throughput, Cpv3TwoHundredAes256Objects) { measure(Protocol::cpv3, "", 200); }

}  // namespace
}  // namespace hsm::luna::cloning::testing
