// The SigV4 signer against the AWS SigV4 test suite (tests/data/sigv4/,
// README there): each case's request is signed and the four published
// stages compared (canonical request, string to sign, signature,
// Authorization header).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "formats/repo/s3/digest.hpp"
#include "formats/repo/s3/sigv4.hpp"

namespace hsm::repo::s3 {
namespace {

const std::filesystem::path kSuite = std::filesystem::path(HSM_TEST_DATA_DIR) / "sigv4";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct Case {
  SigningRequest request;
  std::string body;
  Credentials credentials;
  SigningScope scope;
  SigningOptions options;
};

// request.txt: "METHOD TARGET HTTP/1.1", header lines (a line starting with
// white space continues the previous header), a blank line, the body.
Case load(const std::string& name) {
  const auto dir = kSuite / name;
  Case c;
  std::string text = slurp(dir / "request.txt");
  std::size_t eol = text.find('\n');
  std::string first = text.substr(0, eol);
  std::size_t sp = first.find(' '), http = first.rfind(" HTTP/");
  c.request.method = first.substr(0, sp);
  std::string target = first.substr(sp + 1, http - sp - 1);
  std::size_t q = target.find('?');
  c.request.path = percent_decode(target.substr(0, q));
  if (q != std::string::npos) {
    std::string query = target.substr(q + 1);
    std::size_t i = 0;
    while (i <= query.size()) {
      std::size_t amp = query.find('&', i);
      if (amp == std::string::npos) amp = query.size();
      std::string kv = query.substr(i, amp - i);
      std::size_t eq = kv.find('=');
      c.request.query.emplace_back(
          percent_decode(kv.substr(0, eq)),
          eq == std::string::npos ? "" : percent_decode(kv.substr(eq + 1)));
      i = amp + 1;
    }
  }
  std::size_t pos = eol + 1;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      c.body = pos < text.size() ? text.substr(pos) : "";
      break;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      c.request.headers.back().second += "\n" + line;
    } else {
      std::size_t colon = line.find(':');
      c.request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    }
  }
  auto ctx = nlohmann::json::parse(slurp(dir / "context.json"));
  c.credentials.access_key_id = ctx["credentials"]["access_key_id"];
  c.credentials.secret_access_key =
      api::secret_from(ctx["credentials"]["secret_access_key"].get<std::string>());
  if (ctx["credentials"].contains("token"))
    c.credentials.session_token = api::secret_from(ctx["credentials"]["token"].get<std::string>());
  c.scope.region = ctx["region"];
  c.scope.service = ctx["service"];
  EXPECT_EQ(ctx["timestamp"], "2015-08-30T12:36:00Z");  // every case of the suite
  c.scope.time = 1440938160;
  c.options.normalize_path = ctx.value("normalize", false);
  c.options.sign_session_token = !ctx.value("omit_session_token", false);
  c.request.payload_sha256_hex = hex(sha256(c.body));
  if (ctx.value("sign_body", false))
    c.request.headers.emplace_back("x-amz-content-sha256", c.request.payload_sha256_hex);
  return c;
}

std::string authorization_line(const std::string& signed_request) {
  std::istringstream in(signed_request);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Authorization:", 0) == 0) return line.substr(14);
  return {};
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(kSuite))
    if (e.is_directory()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class SigV4Suite : public ::testing::TestWithParam<std::string> {};

TEST_P(SigV4Suite, AllFourStagesMatchThePublishedVectors) {
  const auto dir = kSuite / GetParam();
  Case c = load(GetParam());
  Signed s = sign(c.request, c.credentials, c.scope, c.options);
  EXPECT_EQ(s.canonical_request, slurp(dir / "header-canonical-request.txt"));
  EXPECT_EQ(s.string_to_sign, slurp(dir / "header-string-to-sign.txt"));
  EXPECT_EQ(s.signature, slurp(dir / "header-signature.txt"));
  std::string authz;
  for (const auto& [n, v] : s.headers_to_add)
    if (n == "Authorization") authz = v;
  EXPECT_EQ(authz, authorization_line(slurp(dir / "header-signed-request.txt")));
  // the secret never appears in what goes on the wire
  for (const auto& [n, v] : s.headers_to_add)
    EXPECT_EQ(v.find("wJalrXUtnFEMI"), std::string::npos) << n;
}

INSTANTIATE_TEST_SUITE_P(Aws, SigV4Suite, ::testing::ValuesIn(case_names()), [](const auto& info) {
  std::string n = info.param;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

TEST(SigV4Suite, HasEveryCase) {
  // 38 header-signing cases: a missing folder would silently shrink the suite
  EXPECT_EQ(case_names().size(), 38u);
}

TEST(SigV4, UriEncodingKeepsUnreservedAndSlashOnlyInPaths) {
  EXPECT_EQ(uri_encode("a b/c~d_e.f-g", true), "a%20b/c~d_e.f-g");
  EXPECT_EQ(uri_encode("a b/c", false), "a%20b%2Fc");
  EXPECT_EQ(uri_encode("\xe1\x88\xb4+=&", false), "%E1%88%B4%2B%3D%26");
}

TEST(SigV4, ValuelessQueryParametersAreSignedWithEquals) {
  // S3's ?uploads and ?object-lock: the canonical query needs "uploads="
  SigningRequest r;
  r.method = "POST";
  r.path = "/bucket/key";
  r.query = {{"uploads", ""}};
  r.headers = {{"host", "s3.example"}};
  r.payload_sha256_hex = hex(sha256(""));
  Credentials cred{"AKID", api::secret_from("secret"), {}, "test"};
  Signed s = sign(r, cred, SigningScope{"us-east-1", "s3", 0});
  EXPECT_NE(s.canonical_request.find("\nuploads=\n"), std::string::npos) << s.canonical_request;
}

}  // namespace
}  // namespace hsm::repo::s3
