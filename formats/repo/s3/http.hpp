// The HTTP layer of the S3 client, over libcurl: builds the URL (path or
// virtual-host addressing), signs each attempt (SigV4, sigv4.hpp), and is
// the ONE place that retries (style 17: retries and backoff in one wrapper,
// not in each verb).
//
// Retried, with exponential backoff and jitter (first_backoff * 2^n, capped,
// each delay drawn in [half, full]): connection errors (refused, reset,
// nothing received, timeouts), HTTP 500/502/503/504, 429, 400
// RequestTimeout, and a 200 whose body is an S3 <Error> of those kinds
// (CompleteMultipartUpload can fail after its headers). Everything else is
// returned to the caller at once: a 403 stays a 403.
//
// A request body is sent from the caller's memory (which must stay valid for
// the call), so every retry resends the same bytes, with the same
// x-amz-content-sha256 and Content-MD5.
//
// Not thread-safe: one Http (one curl handle, its connections kept alive)
// per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/repo/s3/config.hpp"
#include "formats/repo/s3/sigv4.hpp"

namespace hsm::repo::s3 {

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string operation;       // S3's name, e.g. "UploadPart": messages, the fault hook
  std::string bucket;
  std::string key;                     // decoded; empty for a bucket operation
  HeaderList query;                    // decoded names and values ("uploads" -> "")
  HeaderList headers;                  // Range, Content-MD5, x-amz-... (all signed)
  const std::uint8_t* body = nullptr;  // not owned
  std::size_t body_size = 0;
  // A 2xx body goes here (at most out_size bytes; more is an error) instead
  // of HttpResponse::body: ranged GETs land in the caller's buffer.
  std::uint8_t* out = nullptr;
  std::size_t out_size = 0;
};

struct HttpResponse {
  long status = 0;
  HeaderList headers;  // names in lower case
  std::string body;    // error documents and XML replies
  std::size_t out_written = 0;
  int attempts = 1;  // 1 + retries
  // The header's value, or empty.
  std::string header(std::string_view lower_case_name) const;
  bool ok() const { return status >= 200 && status < 300; }
};

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds first_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
};

// The test seam: asked before each attempt, it can make that attempt meet
// the network's failures for real:
//   cut_after_body_bytes  the body stops after this many bytes and curl
//                         drops the connection (the server sees a truncated
//                         request; the wrapper sees a connection error);
//   flip_body_byte        this body byte goes out with its low bit flipped,
//                         after signing (corruption on the wire: the server
//                         must refuse it).
struct Fault {
  std::optional<std::size_t> cut_after_body_bytes;
  std::optional<std::size_t> flip_body_byte;
};
using FaultHook = std::function<std::optional<Fault>(const HttpRequest&, int attempt)>;

struct HttpOptions {
  RetryPolicy retry;
  std::chrono::milliseconds connect_timeout{10000};
  // A transfer slower than 1 byte/s for this long is a timeout (no total
  // timeout: a large part on a slow link is not an error).
  std::chrono::seconds stall_timeout{60};
  FaultHook fault;  // tests only
  // Called before each retry with one line: what failed and the next attempt.
  std::function<void(const std::string&)> on_retry;
};

struct HttpStats {
  std::uint64_t requests = 0;
  std::uint64_t attempts = 0;
  std::uint64_t retries = 0;
  std::uint64_t body_bytes_sent = 0;   // counted once per successful request
  std::vector<std::string> retry_log;  // one line per retry (capped at 100)
};

class Http {
 public:
  // Errors: other (curl cannot be initialised).
  static api::Result<std::unique_ptr<Http>> create(S3Config config, HttpOptions options = {});
  ~Http();
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  // Sends with retries. Returns the last response whatever its status (map
  // a non-2xx one with errors.hpp), or an Error when no response came after
  // the last attempt (other: "cannot reach ...").
  api::Result<HttpResponse> send(const HttpRequest& request);

  const S3Config& config() const { return config_; }
  const HttpStats& stats() const { return stats_; }
  HttpOptions& options() { return options_; }

  // The host, path and query the request goes to (the signer's view).
  struct Target {
    std::string host;
    std::string path;  // decoded
    std::string url;   // as sent
  };
  Target target(const HttpRequest& request) const;

 private:
  struct Attempt;
  Http(S3Config config, HttpOptions options, void* curl);
  api::Result<HttpResponse> attempt(const HttpRequest& request, const Target& target,
                                    const std::string& payload_sha256, int number,
                                    std::string& transport_error, bool& retryable);
  S3Config config_;
  HttpOptions options_;
  void* curl_;  // CURL*
  HttpStats stats_;
};

// ASCII lower case: header names are compared and signed in it.
std::string lower_ascii(std::string_view s);

}  // namespace hsm::repo::s3
