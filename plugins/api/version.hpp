// Firmware and client versions: "7.7.1" style triples, compared numerically.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace hsm::api {

struct Version {
  int major = 0;
  int minor = 0;
  int patch = 0;

  // Accepts "X", "X.Y" or "X.Y.Z" (missing parts are 0). nullopt on junk.
  static std::optional<Version> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const Version&) const = default;
};

inline constexpr Version v(int a, int b = 0, int c = 0) { return Version{a, b, c}; }

inline std::optional<Version> Version::parse(std::string_view text) {
  Version out;
  int* parts[3] = {&out.major, &out.minor, &out.patch};
  int idx = 0;
  bool digit_seen = false;
  long acc = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      acc = acc * 10 + (c - '0');
      if (acc > 100000) return std::nullopt;
      digit_seen = true;
    } else if (c == '.') {
      if (!digit_seen || idx == 2) return std::nullopt;
      *parts[idx++] = static_cast<int>(acc);
      acc = 0;
      digit_seen = false;
    } else {
      return std::nullopt;
    }
  }
  if (!digit_seen) return std::nullopt;
  *parts[idx] = static_cast<int>(acc);
  return out;
}

inline std::string Version::str() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace hsm::api
