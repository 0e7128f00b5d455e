// S3 repositories end to end: the built hsm-migrate against the Ceph RADOS
// Gateway the ctest fixture starts (tests/fixtures/rgw.sh, FIXTURES_REQUIRED
// rgw). The binary gets the endpoint and credentials as a user's cron job
// would, from AWS_* variables; the test reads the bucket directly (its own
// S3 client) to check what the tool claims: objects, versions, retention,
// pending uploads. A fixture that did not start FAILS every test.
#pragma once

#include <signal.h>

#include <atomic>
#include <cctype>

#include "../e2e/harness.hpp"
#include "formats/repo/s3/client.hpp"

namespace hsm::e2e {

inline std::map<std::string, std::string> read_env_file(const std::string& path) {
  std::map<std::string, std::string> vars;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return vars;
}

class S3Cli : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    rgw_ = read_env_file(HSM_RGW_ENV_FILE);
    ASSERT_TRUE(rgw_.count("S3_ENDPOINT") && rgw_.count("AWS_ACCESS_KEY_ID"))
        << "the RGW fixture did not start: no " << HSM_RGW_ENV_FILE
        << " (see the output of the ctest test s3_rgw_fixture_start)";
    env_["HSM_MIGRATE_PLUGIN_PATH"] = HSM_PLUGIN_DIR;
    env_["AWS_ENDPOINT_URL"] = rgw_.at("S3_ENDPOINT");
    env_["AWS_ACCESS_KEY_ID"] = rgw_.at("AWS_ACCESS_KEY_ID");
    env_["AWS_SECRET_ACCESS_KEY"] = rgw_.at("AWS_SECRET_ACCESS_KEY");
    env_["AWS_REGION"] = "us-east-1";
    // No profile files of the machine's user leak in.
    env_["AWS_SHARED_CREDENTIALS_FILE"] = (dir_ / "no-credentials").string();
    env_["AWS_CONFIG_FILE"] = (dir_ / "no-config").string();
    env_["AWS_PROFILE"] = "";
    env_["AWS_ENDPOINT_URL_S3"] = "";
    env_["AWS_SESSION_TOKEN"] = "";
    client_ = make_client(rgw_.at("S3_ENDPOINT"));
    ASSERT_TRUE(client_);
  }

  std::unique_ptr<repo::s3::Client> make_client(const std::string& endpoint) {
    repo::s3::S3Config c;
    c.endpoint = repo::s3::parse_endpoint(endpoint).value();
    c.endpoint_source = "the RGW fixture";
    c.region = "us-east-1";
    c.credentials.access_key_id = rgw_.at("AWS_ACCESS_KEY_ID");
    c.credentials.secret_access_key = api::secret_from(rgw_.at("AWS_SECRET_ACCESS_KEY"));
    c.credentials.source = "the RGW fixture's env file";
    repo::s3::HttpOptions o;
    o.retry.max_attempts = 2;
    o.retry.first_backoff = std::chrono::milliseconds(10);
    auto r = repo::s3::Client::create(std::move(c), o);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // A fresh bucket name for this test (S3 rules: lower case, <= 63).
  std::string bucket_name(const std::string& tag = "") {
    static std::atomic<int> counter{0};
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string b = "e";
    for (char c : name + tag)
      if (std::isalnum(static_cast<unsigned char>(c))) b.push_back(static_cast<char>(std::tolower(c)));
    std::string suffix = "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    return b.substr(0, 63 - suffix.size()) + suffix;
  }

  // repo init through the binary: Object Lock, `days` days.
  std::string init_bucket(const std::string& mode = "GOVERNANCE", int days = 1) {
    const std::string b = bucket_name();
    ok({"repo", "init", "s3://" + b, "--lock-mode", mode, "--lock-days", std::to_string(days)});
    return b;
  }

  // hsm-6 (Luna 6) /src with `aes` AES keys and an RSA pair; hsm-7 /dst and
  // /scratch; one domain.
  void make_fleet(int aes = 3) {
    ok({"device", "create", "hsm-6", "--kind", "luna6", "--firmware", "6.10.9"});
    ok({"partition", "create", "hsm-6/src"});
    ok({"key", "generate", "hsm-6/src", "--type", "aes-256", "--count", std::to_string(aes), "--label", "k"});
    ok({"key", "generate", "hsm-6/src", "--type", "rsa-2048", "--label", "sig"});
    ok({"device", "create", "hsm-7", "--kind", "luna7", "--firmware", "7.7.0"});
    ok({"partition", "create", "hsm-7/dst"});
    ok({"partition", "create", "hsm-7/scratch"});
  }

  std::vector<repo::s3::ObjectEntry> objects(const std::string& bucket, const std::string& prefix = "") {
    auto r = client_->list_objects(bucket, prefix);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : std::vector<repo::s3::ObjectEntry>{};
  }
  std::vector<repo::s3::PendingUpload> uploads(const std::string& bucket) {
    auto r = client_->list_multipart_uploads(bucket, "");
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : std::vector<repo::s3::PendingUpload>{};
  }

  // The one error line a failing command prints.
  static void expect_one_line(const CliRun& r) {
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }

  std::map<std::string, std::string> rgw_;
  std::unique_ptr<repo::s3::Client> client_;
};

}  // namespace hsm::e2e
