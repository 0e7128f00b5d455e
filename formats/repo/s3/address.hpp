// Repository addresses: s3://BUCKET[/KEY-OR-PREFIX].
//
// Bucket names follow S3's rules for new buckets (3-63 characters: lower-case
// letters, digits, '-' and '.', starting and ending with a letter or digit,
// not shaped like an IPv4 address, no "..", no "xn--" prefix or "-s3alias"
// suffix). Keys are UTF-8, at most 1,024 bytes (S3's limit), with no
// control character, no leading '/', and no "." or ".." segment (some
// clients and proxies rewrite those).
#pragma once

#include <string>
#include <string_view>

#include "plugins/api/status.hpp"

namespace hsm::repo::s3 {

inline constexpr std::size_t kMaxKeyBytes = 1024;

struct S3Address {
  std::string bucket;
  std::string key;  // a key or a prefix, no leading '/'; may be empty
  std::string to_string() const { return "s3://" + bucket + (key.empty() ? "" : "/" + key); }
};

bool is_s3_address(std::string_view text);

// Errors: usage, naming what is wrong.
api::Result<S3Address> parse_s3_address(std::string_view text);
api::Status check_bucket_name(std::string_view bucket);
api::Status check_key(std::string_view key);

}  // namespace hsm::repo::s3
