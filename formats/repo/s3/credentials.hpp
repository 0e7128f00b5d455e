// S3 credentials as the signer uses them. The secret and the session token
// live in wiped memory (api::SecretBytes); the access key id is not a secret
// (it names the key, like a user name) and may appear in error messages.
#pragma once

#include <string>

#include "plugins/api/secret.hpp"

namespace hsm::repo::s3 {

struct Credentials {
  std::string access_key_id;
  api::SecretBytes secret_access_key;
  api::SecretBytes session_token;  // empty: long-term credentials
  // Where they came from, for error messages: "environment variables
  // AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", "profile 'x' in FILE", ...
  std::string source;
};

}  // namespace hsm::repo::s3
