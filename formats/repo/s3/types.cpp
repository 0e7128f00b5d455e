#include "formats/repo/s3/types.hpp"

#include <time.h>

#include <cctype>
#include <cstring>

namespace hsm::repo::s3 {

std::string_view to_string(LockMode m) {
  return m == LockMode::compliance ? "COMPLIANCE" : "GOVERNANCE";
}

std::optional<LockMode> lock_mode_from(std::string_view s) {
  if (s == "COMPLIANCE") return LockMode::compliance;
  if (s == "GOVERNANCE") return LockMode::governance;
  return std::nullopt;
}

namespace {

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

std::optional<std::int64_t> to_unix(struct tm tm) {
  int mon = tm.tm_mon, mday = tm.tm_mday, hour = tm.tm_hour, min = tm.tm_min, sec = tm.tm_sec;
  std::int64_t t = timegm(&tm);
  // timegm normalises out-of-range fields: a changed field was invalid
  if (tm.tm_mon != mon || tm.tm_mday != mday || tm.tm_hour != hour || tm.tm_min != min ||
      tm.tm_sec != sec)
    return std::nullopt;
  return t;
}

}  // namespace

std::optional<std::int64_t> parse_iso8601(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)
  struct tm tm {};
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || s[10] != 'T' || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
    return std::nullopt;
  std::string_view rest = s.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    std::size_t n = 0;
    while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) ++n;
    if (n == 0) return std::nullopt;
    rest.remove_prefix(n);
  }
  if (rest != "Z" && rest != "+00:00") return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  return to_unix(tm);
}

std::string iso8601(std::int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::int64_t> parse_http_date(std::string_view s) {
  // "Tue, 01 Dec 2026 04:50:21 GMT"
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm {};
  int d, y, h, mi, se;
  if (s.size() != 29 || s[3] != ',' || !digits(s, 5, 2, d) || !digits(s, 12, 4, y) ||
      !digits(s, 17, 2, h) || s[19] != ':' || !digits(s, 20, 2, mi) || s[22] != ':' ||
      !digits(s, 23, 2, se) || s.substr(25) != " GMT")
    return std::nullopt;
  int mon = -1;
  for (int i = 0; i < 12; ++i)
    if (s.substr(8, 3) == kMonths[i]) mon = i;
  if (mon < 0) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mon;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  return to_unix(tm);
}

}  // namespace hsm::repo::s3
