#include "formats/repo/layout.hpp"

#include <time.h>

#include <cctype>

#include "formats/repo/s3/address.hpp"

namespace hsm::repo {

namespace {

std::string_view trimmed_prefix(std::string_view prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  return prefix;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string escape_component(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (std::isalnum(c) || c == '-' || c == '_' || (c == '.' && i > 0)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<std::string> unescape_component(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  // only the canonical spelling is ours (one key per name)
  if (escape_component(out) != s) return std::nullopt;
  return out;
}

std::string utc_stamp(std::int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::optional<std::int64_t> parse_utc_stamp(std::string_view text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return std::nullopt;
  auto num = [&](std::size_t at, std::size_t n) -> int {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  struct tm tm {};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 ||
      tm.tm_sec < 0)
    return std::nullopt;
  std::int64_t t = timegm(&tm);
  if (utc_stamp(t) != text) return std::nullopt;  // 20261331T... and friends
  return t;
}

api::Result<std::string> archive_key(std::string_view prefix, const ArchiveKey& a) {
  if (a.device.empty() || a.partition.empty())
    return api::Error::usage("an archive key needs a device and a partition name");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (auto b : a.archive_id) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 15]);
  }
  std::string key = listing_prefix(prefix, a.device, a.partition) + utc_stamp(a.created_at) + "-" +
                    id + std::string(kArchiveSuffix);
  HSM_TRY(s3::check_key(key));
  return key;
}

std::string listing_prefix(std::string_view prefix, std::string_view device,
                           std::string_view partition) {
  std::string out(trimmed_prefix(prefix));
  if (!out.empty()) out.push_back('/');
  if (device.empty()) return out;
  out.append(escape_component(device)).push_back('/');
  if (partition.empty()) return out;
  out.append(escape_component(partition)).push_back('/');
  return out;
}

std::optional<ArchiveKey> parse_archive_key(std::string_view prefix, std::string_view key) {
  std::string root = listing_prefix(prefix);
  if (key.rfind(root, 0) != 0) return std::nullopt;
  std::string_view rest = key.substr(root.size());
  std::size_t s1 = rest.find('/');
  if (s1 == std::string_view::npos) return std::nullopt;
  std::size_t s2 = rest.find('/', s1 + 1);
  if (s2 == std::string_view::npos || rest.find('/', s2 + 1) != std::string_view::npos)
    return std::nullopt;
  std::string_view name = rest.substr(s2 + 1);
  // <16-char stamp>-<32 hex>.hsmar
  if (name.size() != 16 + 1 + 32 + kArchiveSuffix.size() || name[16] != '-' ||
      name.substr(49) != kArchiveSuffix)
    return std::nullopt;
  ArchiveKey a;
  auto device = unescape_component(rest.substr(0, s1));
  auto partition = unescape_component(rest.substr(s1 + 1, s2 - s1 - 1));
  auto when = parse_utc_stamp(name.substr(0, 16));
  if (!device || !partition || device->empty() || partition->empty() || !when) return std::nullopt;
  for (std::size_t i = 0; i < a.archive_id.size(); ++i) {
    char hi = name[17 + 2 * i], lo = name[18 + 2 * i];
    // lower-case only: archive_key() writes lower case
    if (std::isupper(static_cast<unsigned char>(hi)) ||
        std::isupper(static_cast<unsigned char>(lo)))
      return std::nullopt;
    int h = hex_value(hi), l = hex_value(lo);
    if (h < 0 || l < 0) return std::nullopt;
    a.archive_id[i] = static_cast<std::uint8_t>(h << 4 | l);
  }
  a.device = std::move(*device);
  a.partition = std::move(*partition);
  a.created_at = *when;
  return a;
}

}  // namespace hsm::repo
