#include "formats/repo/s3/sigv4.hpp"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "formats/repo/s3/digest.hpp"
#include "formats/repo/s3/http.hpp"

namespace hsm::repo::s3 {

namespace {

bool unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Trims the value and collapses every run of white space (folded lines
// included) into one space, as SigV4 canonical headers want.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// RFC 3986 section 5.2.4 for the path, with empty segments dropped.
std::string normalized(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view seg = path.substr(i, j - i);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    i = j + 1;
  }
  std::string out;
  for (auto seg : segments) out.append("/").append(seg);
  bool trailing = path.size() > 1 && path.back() == '/' && !segments.empty();
  if (out.empty() || trailing) out.push_back('/');
  return out;
}

std::string canonical_query(const HeaderList& query) {
  std::vector<std::pair<std::string, std::string>> q;
  q.reserve(query.size());
  for (const auto& [k, v] : query) q.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(q.begin(), q.end());
  std::string out;
  for (const auto& [k, v] : q) {
    if (!out.empty()) out.push_back('&');
    out.append(k).append("=").append(v);  // value-less: "name="
  }
  return out;
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string amz_date(std::int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Signed sign(const SigningRequest& request, const Credentials& credentials,
            const SigningScope& scope, const SigningOptions& options) {
  const std::string date_time = amz_date(scope.time);
  const std::string date = date_time.substr(0, 8);
  const std::string token(credentials.session_token.begin(), credentials.session_token.end());
  Signed out;
  out.headers_to_add.emplace_back("X-Amz-Date", date_time);
  if (!token.empty()) out.headers_to_add.emplace_back("X-Amz-Security-Token", token);

  // Canonical headers: lower-case names, sorted; repeated names joined by ','.
  std::map<std::string, std::string> merged;
  auto add = [&merged](std::string_view name, std::string_view value) {
    auto [it, fresh] = merged.try_emplace(lower_ascii(name), canonical_value(value));
    if (!fresh) it->second.append(",").append(canonical_value(value));
  };
  for (const auto& [n, v] : request.headers) add(n, v);
  add("x-amz-date", date_time);
  if (!token.empty() && options.sign_session_token) add("x-amz-security-token", token);
  std::string canonical_headers;
  for (const auto& [n, v] : merged) {
    canonical_headers.append(n).append(":").append(v).append("\n");
    if (!out.signed_headers.empty()) out.signed_headers.push_back(';');
    out.signed_headers.append(n);
  }

  const std::string path = options.normalize_path ? normalized(request.path) : request.path;
  out.canonical_request = request.method + "\n" + uri_encode(path, true) + "\n" +
                          canonical_query(request.query) + "\n" + canonical_headers + "\n" +
                          out.signed_headers + "\n" + request.payload_sha256_hex;
  const std::string credential_scope =
      date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  out.string_to_sign = "AWS4-HMAC-SHA256\n" + date_time + "\n" + credential_scope + "\n" +
                       hex(sha256(out.canonical_request));

  // The signing key chain; every intermediate key is wiped.
  api::SecretBytes k_secret = api::secret_from("AWS4");
  k_secret.insert(k_secret.end(), credentials.secret_access_key.begin(),
                  credentials.secret_access_key.end());
  Sha256Digest k = hmac_sha256(k_secret.data(), k_secret.size(), date);
  for (std::string_view part : {std::string_view(scope.region), std::string_view(scope.service),
                                std::string_view("aws4_request")})
    k = hmac_sha256(k.data(), k.size(), part);
  Sha256Digest sig = hmac_sha256(k.data(), k.size(), out.string_to_sign);
  api::secure_wipe(k.data(), k.size());
  out.signature = hex(sig);

  out.headers_to_add.emplace_back("Authorization",
                                  "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" +
                                      credential_scope + ", SignedHeaders=" + out.signed_headers +
                                      ", Signature=" + out.signature);
  return out;
}

}  // namespace hsm::repo::s3
