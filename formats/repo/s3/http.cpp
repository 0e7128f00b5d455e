#include "formats/repo/s3/http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

#include "formats/repo/s3/digest.hpp"
#include "formats/repo/s3/xml.hpp"

namespace hsm::repo::s3 {

using api::Error;
using api::Result;

namespace {

// Error documents and XML replies (a ListObjectsV2 page of 1,000 keys is
// ~300 KB); anything bigger is not a reply we asked for.
constexpr std::size_t kMaxReplyBody = 16u << 20;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool retryable_curl(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

// S3 error codes that mean "try again" (AWS's list for its SDKs' standard
// retry mode, narrowed to what S3 returns).
bool retryable_code(std::string_view code) {
  return code == "InternalError" || code == "ServiceUnavailable" || code == "SlowDown" ||
         code == "RequestTimeout" || code == "Throttling";
}

bool retryable_status(long status) {
  return status == 500 || status == 502 || status == 503 || status == 504 || status == 429;
}

std::string what_of(const HttpRequest& r) {
  std::string s = r.operation.empty() ? r.method : r.operation;
  s += " s3://" + r.bucket;
  if (!r.key.empty()) s += "/" + r.key;
  for (const auto& [k, v] : r.query)
    if (k == "partNumber") s += " part " + v;
  return s;
}

std::once_flag g_curl_init;
CURLcode g_curl_init_rc = CURLE_OK;

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return {};
}

struct Http::Attempt {
  const HttpRequest* request = nullptr;
  CURL* curl = nullptr;
  std::size_t sent = 0;
  std::optional<std::size_t> cut_at;
  std::optional<std::size_t> flip_at;
  bool cut = false;
  bool out_overflow = false;
  bool reply_too_big = false;
  HttpResponse response;

  static std::size_t read(char* buf, std::size_t size, std::size_t n, void* self) {
    auto* a = static_cast<Attempt*>(self);
    std::size_t left = a->request->body_size - a->sent;
    if (a->cut_at) {
      if (a->sent >= *a->cut_at) {
        a->cut = true;
        return CURL_READFUNC_ABORT;
      }
      left = std::min(left, *a->cut_at - a->sent);
    }
    std::size_t k = std::min(size * n, left);
    if (k) std::memcpy(buf, a->request->body + a->sent, k);
    if (a->flip_at && *a->flip_at >= a->sent && *a->flip_at < a->sent + k)
      buf[*a->flip_at - a->sent] ^= 1;
    a->sent += k;
    return k;
  }

  static int seek(void* self, curl_off_t offset, int origin) {
    auto* a = static_cast<Attempt*>(self);
    if (origin != SEEK_SET || offset < 0 ||
        static_cast<std::size_t>(offset) > a->request->body_size)
      return CURL_SEEKFUNC_FAIL;
    a->sent = static_cast<std::size_t>(offset);
    return CURL_SEEKFUNC_OK;
  }

  static std::size_t header(char* buf, std::size_t size, std::size_t n, void* self) {
    auto* a = static_cast<Attempt*>(self);
    std::string_view line(buf, size * n);
    if (line.rfind("HTTP/", 0) == 0) {
      a->response.headers.clear();  // a new status line (after 100 Continue)
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
      a->response.headers.emplace_back(lower_ascii(trim(line.substr(0, colon))),
                                       std::string(trim(line.substr(colon + 1))));
    }
    return size * n;
  }

  static std::size_t write(char* buf, std::size_t size, std::size_t n, void* self) {
    auto* a = static_cast<Attempt*>(self);
    std::size_t k = size * n;
    long status = 0;
    curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300 && a->request->out) {
      if (a->response.out_written + k > a->request->out_size) {
        a->out_overflow = true;
        return 0;
      }
      std::memcpy(a->request->out + a->response.out_written, buf, k);
      a->response.out_written += k;
      return k;
    }
    if (a->response.body.size() + k > kMaxReplyBody) {
      a->reply_too_big = true;
      return 0;
    }
    a->response.body.append(buf, k);
    return k;
  }
};

Result<std::unique_ptr<Http>> Http::create(S3Config config, HttpOptions options) {
  std::call_once(g_curl_init, [] { g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (g_curl_init_rc != CURLE_OK) return Error::other("cannot initialise libcurl");
  CURL* curl = curl_easy_init();
  if (!curl) return Error::other("cannot initialise libcurl");
  return std::unique_ptr<Http>(new Http(std::move(config), std::move(options), curl));
}

Http::Http(S3Config config, HttpOptions options, void* curl)
    : config_(std::move(config)), options_(std::move(options)), curl_(curl) {}

Http::~Http() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Http::Target Http::target(const HttpRequest& r) const {
  Target t;
  // Virtual-host addressing puts the bucket in the host name; a bucket with
  // dots would not match an https wildcard certificate: path style then.
  bool virtual_host =
      config_.addressing == Addressing::virtual_host && !r.bucket.empty() &&
      !(config_.endpoint.scheme == "https" && r.bucket.find('.') != std::string::npos);
  if (virtual_host) {
    t.host = r.bucket + "." + config_.endpoint.host;
    t.path = "/" + r.key;
  } else {
    t.host = config_.endpoint.host;
    t.path = "/" + r.bucket + (r.key.empty() ? "" : "/" + r.key);
  }
  t.url = config_.endpoint.scheme + "://" + t.host + uri_encode(t.path, true);
  std::string q;
  for (const auto& [k, v] : r.query)
    q += (q.empty() ? "?" : "&") + uri_encode(k, false) + "=" + uri_encode(v, false);
  t.url += q;
  return t;
}

Result<HttpResponse> Http::attempt(const HttpRequest& r, const Target& t,
                                   const std::string& payload_sha256, int number,
                                   std::string& transport_error, bool& retryable) {
  CURL* curl = static_cast<CURL*>(curl_);
  Attempt a;
  a.request = &r;
  a.curl = curl;
  retryable = false;
  if (options_.fault) {
    if (auto f = options_.fault(r, number)) {
      a.cut_at = f->cut_after_body_bytes;
      a.flip_at = f->flip_body_byte;
    }
  }

  SigningRequest sr;
  sr.method = r.method;
  sr.path = t.path;
  sr.query = r.query;
  sr.headers = r.headers;
  sr.headers.emplace_back("Host", t.host);
  sr.headers.emplace_back("x-amz-content-sha256", payload_sha256);
  sr.payload_sha256_hex = payload_sha256;
  SigningScope scope{config_.region, "s3", static_cast<std::int64_t>(std::time(nullptr))};
  Signed s = sign(sr, config_.credentials, scope);

  struct curl_slist* list = nullptr;
  auto add = [&list](const std::string& line) { list = curl_slist_append(list, line.c_str()); };
  for (const auto& [n, v] : sr.headers) add(n + ": " + v);
  for (const auto& [n, v] : s.headers_to_add) add(n + ": " + v);
  add("Expect:");  // no 100-continue round trip
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(list, curl_slist_free_all);

  curl_easy_reset(curl);  // keeps the connection cache
  curl_easy_setopt(curl, CURLOPT_URL, t.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  if (!config_.ca_bundle.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, config_.ca_bundle.c_str());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Attempt::header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Attempt::write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
  if (r.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  if (r.method == "PUT" || r.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body_size));
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &Attempt::read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &a);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, &Attempt::seek);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &a);
  }

  CURLcode rc = curl_easy_perform(curl);
  if (a.out_overflow)
    return Error::other("S3 sent more than the " + std::to_string(r.out_size) +
                        " bytes asked for (" + what_of(r) + ")");
  if (a.reply_too_big) return Error::other("S3 reply over 16 MiB (" + what_of(r) + ")");
  if (rc != CURLE_OK) {
    if (a.cut) {
      transport_error =
          "connection dropped after " + std::to_string(a.sent) + " body bytes (injected fault)";
      retryable = true;
    } else {
      transport_error = curl_easy_strerror(rc);
      retryable = retryable_curl(rc);
    }
    return Error::other(transport_error);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.response.status);
  if (retryable_status(a.response.status)) {
    retryable = true;
  } else if ((a.response.status == 400 || a.response.ok()) && !a.response.body.empty()) {
    std::string code = xml::parse_error(a.response.body).code;
    retryable = !code.empty() && retryable_code(code);
  }
  if (retryable) {
    std::string code = xml::parse_error(a.response.body).code;
    transport_error =
        "HTTP " + std::to_string(a.response.status) + (code.empty() ? "" : " " + code);
  }
  return std::move(a.response);
}

Result<HttpResponse> Http::send(const HttpRequest& r) {
  const Target t = target(r);
  const std::string payload_sha256 =
      hex(sha256(r.body ? r.body : reinterpret_cast<const std::uint8_t*>(""), r.body_size));
  ++stats_.requests;
  std::minstd_rand jitter(std::random_device{}());
  const int max_attempts = std::max(1, options_.retry.max_attempts);
  for (int n = 1;; ++n) {
    ++stats_.attempts;
    std::string reason;
    bool retryable = false;
    auto result = attempt(r, t, payload_sha256, n, reason, retryable);
    if (!retryable || n == max_attempts) {
      if (result.ok()) {
        result->attempts = n;
        if (result->ok()) stats_.body_bytes_sent += r.body_size;
        return result;
      }
      if (reason.empty()) return result.error();  // not a transport error: as is
      return Error::other("cannot reach S3 at " + config_.endpoint.url() + ": " + reason + " (" +
                          what_of(r) + ", " + std::to_string(n) +
                          (n == 1 ? " attempt" : " attempts") + ")");
    }
    // exponential backoff, capped, with "equal jitter": [d/2, d]
    auto d = options_.retry.first_backoff * (1LL << std::min(n - 1, 20));
    d = std::min<std::chrono::milliseconds>(d, options_.retry.max_backoff);
    std::uniform_int_distribution<long long> pick(d.count() / 2, std::max<long long>(d.count(), 0));
    std::chrono::milliseconds delay(pick(jitter));
    std::string line = what_of(r) + ": " + reason + "; attempt " + std::to_string(n + 1) + " of " +
                       std::to_string(max_attempts) + " in " + std::to_string(delay.count()) +
                       " ms";
    ++stats_.retries;
    if (stats_.retry_log.size() < 100) stats_.retry_log.push_back(line);
    if (options_.on_retry) options_.on_retry(line);
    std::this_thread::sleep_for(delay);
  }
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace hsm::repo::s3
