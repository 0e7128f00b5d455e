// Live tests against the Ceph RADOS Gateway that the ctest fixture starts
// (tests/fixtures/rgw.sh, FIXTURES_SETUP rgw). The fixture writes an env file
// (HSM_RGW_ENV_FILE); a missing file means the gateway did not start, and
// every test here FAILS (never skips). Each test works in buckets of its own.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "formats/repo/s3/client.hpp"

namespace hsm::repo::s3::test {

inline std::map<std::string, std::string> read_env_file(const std::string& path) {
  std::map<std::string, std::string> vars;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return vars;
}

// Bytes that are not all the same (a shifted part would show).
inline std::vector<std::uint8_t> pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  std::mt19937 g(seed);
  for (auto& b : v) b = static_cast<std::uint8_t>(g());
  return v;
}

class RgwTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = read_env_file(HSM_RGW_ENV_FILE);
    ASSERT_TRUE(env_.count("S3_ENDPOINT") && env_.count("AWS_ACCESS_KEY_ID"))
        << "the RGW fixture did not start: no " << HSM_RGW_ENV_FILE
        << " (see the output of the ctest test s3_rgw_fixture_start)";
    auto c = Client::create(config(), fast_retries());
    ASSERT_TRUE(c.ok()) << c.error().message;
    client_ = std::move(c).value();
  }

  S3Config config(Addressing addressing = Addressing::path) const {
    S3Config c;
    c.endpoint = parse_endpoint(env_.at("S3_ENDPOINT")).value();
    c.endpoint_source = "the RGW fixture";
    c.region = "us-east-1";
    c.addressing = addressing;
    c.credentials.access_key_id = env_.at("AWS_ACCESS_KEY_ID");
    c.credentials.secret_access_key = api::secret_from(env_.at("AWS_SECRET_ACCESS_KEY"));
    c.credentials.source = "the RGW fixture's env file";
    return c;
  }

  // Retries that do not slow the tests down.
  static HttpOptions fast_retries() {
    HttpOptions o;
    o.retry.max_attempts = 4;
    o.retry.first_backoff = std::chrono::milliseconds(10);
    o.retry.max_backoff = std::chrono::milliseconds(100);
    return o;
  }

  // A fresh bucket name for this test (lower case, at most 63 characters).
  std::string bucket_name(const std::string& tag = "") {
    static std::atomic<int> counter{0};
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string b = "t";
    for (char c : name + tag)
      b.push_back(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '-');
    std::string suffix = "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    b = b.substr(0, 63 - suffix.size()) + suffix;
    return b;
  }

  // A new bucket with Object Lock; fails the test if it cannot be made.
  std::string make_bucket(LockMode mode = LockMode::governance, int days = 1) {
    std::string b = bucket_name();
    auto st = client_->create_bucket(b, mode, days);
    EXPECT_TRUE(st.ok()) << st.error().message;
    return b;
  }

  std::map<std::string, std::string> env_;
  std::unique_ptr<Client> client_;
};

}  // namespace hsm::repo::s3::test
