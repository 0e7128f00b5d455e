// Where the S3 client finds its endpoint, region, addressing style and
// credentials: the standard places of the AWS tools, in their order, and
// never the command line for a secret.
//
//   endpoint    option (--s3-endpoint) > AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL
//               > `endpoint_url` of the profile in the config file
//               > https://s3.REGION.amazonaws.com
//   region      option > AWS_REGION > AWS_DEFAULT_REGION > `region` of the
//               profile in the config file > us-east-1
//   addressing  option > `s3 = addressing_style = path|virtual` of the profile
//               > path for a custom endpoint (Ceph RGW, MinIO: no wildcard
//               DNS needed), virtual-host for AWS
//   credentials with an explicit profile (option): that profile only;
//               otherwise AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
//               (+ AWS_SESSION_TOKEN); otherwise the profile AWS_PROFILE (or
//               "default") of the shared credentials file
//               (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials),
//               which must not be accessible to group or others (fix:
//               chmod 600).
//   CA bundle   AWS_CA_BUNDLE > `ca_bundle` of the profile > the system's
//   config file AWS_CONFIG_FILE, default ~/.aws/config ([default],
//               [profile NAME]); optional.
//
// Secrets go from the environment or the file straight into SecretBytes.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "formats/repo/s3/credentials.hpp"
#include "plugins/api/status.hpp"

namespace hsm::repo::s3 {

using api::Error;
using api::Result;
using api::Status;

enum class Addressing { path, virtual_host };

struct ConfigOptions {
  std::string endpoint;  // e.g. "http://127.0.0.1:7480"; empty: the standard places
  std::string profile;   // empty: AWS_PROFILE or "default"
  std::string region;    // empty: the standard places
  std::optional<Addressing> addressing;
};

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // host[:port], as in the Host header
  std::string url() const { return scheme + "://" + host; }
};

struct S3Config {
  Endpoint endpoint;
  std::string endpoint_source;  // "--s3-endpoint", "AWS_ENDPOINT_URL", ...
  std::string region;
  Addressing addressing = Addressing::path;
  std::string ca_bundle;  // a PEM file of CAs for https; empty: the system's
  Credentials credentials;
};

// Looks up an environment variable; nullptr when unset. A function so tests
// give their own environment; the default reads the process's.
using EnvLookup = std::function<const char*(const char* name)>;
EnvLookup process_environment();

// Errors: usage (a malformed endpoint, half a key pair, a missing profile, a
// credentials file open to group/others, no credentials anywhere), other
// (an unreadable file).
Result<S3Config> load_config(const ConfigOptions& options,
                             const EnvLookup& env = process_environment());

// "http://host:port" or "https://host" (a trailing '/' allowed, nothing
// else after the authority). Errors: usage.
Result<Endpoint> parse_endpoint(std::string_view url);

}  // namespace hsm::repo::s3
