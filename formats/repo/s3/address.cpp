#include "formats/repo/s3/address.hpp"

#include <cctype>

namespace hsm::repo::s3 {

using api::Error;

namespace {

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t more = c < 0x80             ? 0
                       : (c & 0xe0) == 0xc0 ? 1
                       : (c & 0xf0) == 0xe0 ? 2
                       : (c & 0xf8) == 0xf0 ? 3
                                            : 4;
    if (more == 4 || i + more >= s.size()) return false;
    for (std::size_t k = 1; k <= more; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += more + 1;
  }
  return true;
}

bool looks_like_ipv4(std::string_view b) {
  int dots = 0;
  for (char c : b) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

}  // namespace

bool is_s3_address(std::string_view text) {
  return text.rfind("s3://", 0) == 0;
}

api::Status check_bucket_name(std::string_view b) {
  const std::string fix =
      "S3 bucket names are 3 to 63 characters: a-z, 0-9, '-' and '.', "
      "starting and ending with a letter or digit";
  auto bad = [&](const std::string& why) {
    return Error::usage("S3 bucket name '" + std::string(b) + "' " + why, fix);
  };
  if (b.size() < 3 || b.size() > 63) return bad("is not 3 to 63 characters long");
  for (char c : b)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.'))
      return bad("has a character other than a-z, 0-9, '-' and '.'");
  if (!std::isalnum(static_cast<unsigned char>(b.front())) ||
      !std::isalnum(static_cast<unsigned char>(b.back())))
    return bad("does not start and end with a letter or a digit");
  if (b.find("..") != std::string_view::npos) return bad("has two dots in a row");
  if (looks_like_ipv4(b)) return bad("looks like an IP address");
  if (b.rfind("xn--", 0) == 0 || (b.size() > 8 && b.substr(b.size() - 8) == "-s3alias"))
    return bad("uses a prefix or suffix S3 reserves");
  return {};
}

api::Status check_key(std::string_view key) {
  if (key.size() > kMaxKeyBytes)
    return Error::usage(
        "S3 key is " + std::to_string(key.size()) + " bytes, over S3's limit of 1,024",
        "use a shorter prefix");
  if (!valid_utf8(key)) return Error::usage("S3 key is not valid UTF-8");
  for (char c : key)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return Error::usage("S3 key '" + std::string(key) + "' has a control character");
  if (!key.empty() && key.front() == '/')
    return Error::usage("S3 key '" + std::string(key) + "' starts with '/'",
                        "write s3://BUCKET/PREFIX with a single '/' after the bucket");
  std::size_t i = 0;
  while (i <= key.size()) {
    std::size_t j = key.find('/', i);
    if (j == std::string_view::npos) j = key.size();
    std::string_view seg = key.substr(i, j - i);
    if (seg == "." || seg == "..")
      return Error::usage("S3 key '" + std::string(key) + "' has a '" + std::string(seg) +
                          "' segment");
    i = j + 1;
  }
  return {};
}

api::Result<S3Address> parse_s3_address(std::string_view text) {
  if (!is_s3_address(text))
    return Error::usage("'" + std::string(text) + "' is not an s3:// address",
                        "write s3://BUCKET/PREFIX");
  std::string_view rest = text.substr(5);
  std::size_t slash = rest.find('/');
  S3Address a;
  a.bucket = std::string(rest.substr(0, slash));
  if (a.bucket.empty())
    return Error::usage("'" + std::string(text) + "' names no bucket", "write s3://BUCKET/PREFIX");
  HSM_TRY(check_bucket_name(a.bucket));
  if (slash != std::string_view::npos) a.key = std::string(rest.substr(slash + 1));
  HSM_TRY(check_key(a.key));
  return a;
}

}  // namespace hsm::repo::s3
