// Endpoint, region, addressing and credentials from the standard places
// (formats/repo/s3/config.hpp), in a fake environment and temporary files.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "formats/repo/s3/config.hpp"
#include "test_util.hpp"

namespace hsm::repo::s3 {
namespace {

namespace fs = std::filesystem;

class S3Config : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "hsm-s3-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    env_.vars["HOME"] = dir_.string();  // ~/.aws/... never the real one
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text, mode_t mode = 0600) {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }
  api::Result<s3::S3Config> load(const ConfigOptions& o = {}) {
    return load_config(o, env_.lookup());
  }
  static std::string secret(const s3::S3Config& c) {
    return std::string(c.credentials.secret_access_key.begin(),
                       c.credentials.secret_access_key.end());
  }

  fs::path dir_;
  test::FakeEnv env_;
};

TEST_F(S3Config, EnvironmentKeysAndDefaults) {
  env_.vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  env_.vars["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  auto c = load();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->credentials.access_key_id, "AKIDENV");
  EXPECT_EQ(secret(*c), "env-secret");
  EXPECT_TRUE(c->credentials.session_token.empty());
  EXPECT_NE(c->credentials.source.find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_EQ(c->region, "us-east-1");  // the default
  EXPECT_EQ(c->endpoint.url(), "https://s3.us-east-1.amazonaws.com");
  EXPECT_EQ(c->addressing, Addressing::virtual_host);  // AWS: virtual-host
}

TEST_F(S3Config, EndpointRegionAndTokenFromTheEnvironment) {
  env_.vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  env_.vars["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  env_.vars["AWS_SESSION_TOKEN"] = "tok";
  env_.vars["AWS_REGION"] = "eu-west-3";
  env_.vars["AWS_DEFAULT_REGION"] = "ignored-when-AWS_REGION-is-set";
  env_.vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:7480/";
  env_.vars["AWS_CA_BUNDLE"] = "/etc/ssl/private-ca.pem";
  auto c = load();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->region, "eu-west-3");
  EXPECT_EQ(c->endpoint.scheme, "http");
  EXPECT_EQ(c->endpoint.host, "127.0.0.1:7480");
  EXPECT_EQ(c->endpoint_source, "AWS_ENDPOINT_URL");
  EXPECT_EQ(c->ca_bundle, "/etc/ssl/private-ca.pem");
  EXPECT_EQ(c->addressing, Addressing::path);  // a custom endpoint: path style
  EXPECT_EQ(std::string(c->credentials.session_token.begin(), c->credentials.session_token.end()),
            "tok");

  // the service-specific variable and the explicit option win, in that order
  env_.vars["AWS_ENDPOINT_URL_S3"] = "https://s3.example.net";
  EXPECT_EQ(load()->endpoint.host, "s3.example.net");
  ConfigOptions o;
  o.endpoint = "http://[::1]:9000";
  o.addressing = Addressing::virtual_host;
  auto c2 = load(o);
  ASSERT_TRUE(c2.ok()) << c2.error().message;
  EXPECT_EQ(c2->endpoint.host, "[::1]:9000");
  EXPECT_EQ(c2->endpoint_source, "--s3-endpoint");
  EXPECT_EQ(c2->addressing, Addressing::virtual_host);
}

TEST_F(S3Config, HalfAKeyPairIsRefused) {
  env_.vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  auto c = load();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, api::ErrorKind::usage);
  EXPECT_NE(c.error().message.find("AWS_SECRET_ACCESS_KEY is not set"), std::string::npos);
}

TEST_F(S3Config, SharedCredentialsFileAndProfile) {
  write(".aws/credentials",
        "# a comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = "
        "default-secret\n\n"
        "[backup]\naws_access_key_id=AKIDBACKUP\naws_secret_access_key=backup/secret+x=\n"
        "aws_session_token = tok2\n");
  write(".aws/config",
        "[default]\nregion = eu-central-1\n[profile backup]\nregion = ap-south-1\n"
        "endpoint_url = http://rgw.internal:8080\ns3 =\n  addressing_style = virtual\n");
  auto d = load();
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->credentials.access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(secret(*d), "default-secret");
  EXPECT_EQ(d->region, "eu-central-1");
  EXPECT_NE(d->credentials.source.find("profile 'default'"), std::string::npos);

  env_.vars["AWS_PROFILE"] = "backup";
  auto b = load();
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->credentials.access_key_id, "AKIDBACKUP");
  EXPECT_EQ(secret(*b), "backup/secret+x=");  // '=' in a value kept
  EXPECT_EQ(std::string(b->credentials.session_token.begin(), b->credentials.session_token.end()),
            "tok2");
  EXPECT_EQ(b->region, "ap-south-1");
  EXPECT_EQ(b->endpoint.url(), "http://rgw.internal:8080");
  EXPECT_EQ(b->addressing, Addressing::virtual_host);  // nested s3.addressing_style
  EXPECT_EQ(b->ca_bundle, "");
  EXPECT_NE(
      b->credentials.source.find("profile 'backup' in " + (dir_ / ".aws/credentials").string()),
      std::string::npos);

  // environment keys win over AWS_PROFILE; an explicit profile wins over both
  env_.vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  env_.vars["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  EXPECT_EQ(load()->credentials.access_key_id, "AKIDENV");
  ConfigOptions o;
  o.profile = "default";
  EXPECT_EQ(load(o)->credentials.access_key_id, "AKIDDEFAULT");
}

TEST_F(S3Config, CredentialsFileFromTheVariableAndMissingProfile) {
  fs::path f =
      write("elsewhere/creds", "[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = s\n");
  env_.vars["AWS_SHARED_CREDENTIALS_FILE"] = f.string();
  env_.vars["AWS_PROFILE"] = "ops";
  auto c = load();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->credentials.access_key_id, "AKIDOPS");

  env_.vars["AWS_PROFILE"] = "nope";
  auto missing = load();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, api::ErrorKind::usage);
  EXPECT_NE(missing.error().message.find("no [nope] in " + f.string()), std::string::npos);
}

TEST_F(S3Config, CredentialsFileOpenToOthersIsRefusedWithTheFix) {
  fs::path f = write(".aws/credentials",
                     "[default]\naws_access_key_id = A\naws_secret_access_key = s\n", 0644);
  auto c = load();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, api::ErrorKind::usage);
  EXPECT_NE(c.error().message.find("mode 0644"), std::string::npos) << c.error().message;
  EXPECT_EQ(c.error().fix, "chmod 600 " + f.string());
  ::chmod(f.c_str(), 0640);  // group-readable is refused too
  EXPECT_FALSE(load().ok());
  ::chmod(f.c_str(), 0600);
  EXPECT_TRUE(load().ok());
}

TEST_F(S3Config, NoCredentialsAnywhereSaysWhereToPutThem) {
  auto c = load();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, api::ErrorKind::usage);
  EXPECT_NE(c.error().message.find("no S3 credentials"), std::string::npos);
  EXPECT_NE(c.error().fix.find("AWS_ACCESS_KEY_ID"), std::string::npos);
}

TEST_F(S3Config, IncompleteProfileAndBadAddressingStyle) {
  write(".aws/credentials", "[default]\naws_access_key_id = A\n");
  auto c = load();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("aws_secret_access_key"), std::string::npos);
  write(".aws/credentials", "[default]\naws_access_key_id = A\naws_secret_access_key = s\n");
  write(".aws/config", "[default]\ns3 =\n  addressing_style = sideways\n");
  auto bad = load();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("sideways"), std::string::npos);
}

TEST(S3Endpoint, Parsing) {
  EXPECT_EQ(parse_endpoint("https://s3.example.com")->host, "s3.example.com");
  EXPECT_EQ(parse_endpoint("http://127.0.0.1:7480/")->url(), "http://127.0.0.1:7480");
  for (const char* bad :
       {"s3.example.com", "ftp://x", "http://", "http://h/path", "http://user@h", "http://h?x=1"}) {
    auto e = parse_endpoint(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.error().kind, api::ErrorKind::usage);
  }
}

}  // namespace
}  // namespace hsm::repo::s3
