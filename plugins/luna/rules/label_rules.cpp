#include "plugins/luna/rules/label_rules.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace hsm::luna::rules {

namespace {

// Decodes one strict UTF-8 code point at s[i]; false on anything else
// (overlong forms, surrogates, above U+10FFFF, truncation).
bool next_code_point(std::string_view s, std::size_t& i, std::uint32_t& cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len;
  if (c < 0x80) {
    cp = c;
    ++i;
    return true;
  }
  if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
  else return false;
  if (s.size() - i < len) return false;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  i += len;
  return true;
}

api::Error bad(const std::string& why) {
  return api::Error::usage("rule X10: an object label is 1 to " + std::to_string(kMaxLabelChars) +
                               " characters of UTF-8 without control characters; " + why,
                           "give --label a shorter, printable label");
}

}  // namespace

api::Status check_label(std::string_view label) {
  if (label.empty()) return bad("this one is empty");
  std::size_t chars = 0;
  for (std::size_t i = 0; i < label.size();) {
    std::uint32_t cp = 0;
    if (!next_code_point(label, i, cp)) return bad("this one is not valid UTF-8");
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F))
      return bad("this one holds a control character (U+" + [cp] {
        char b[8];
        std::snprintf(b, sizeof b, "%04X", static_cast<unsigned>(cp));
        return std::string(b);
      }() + ")");
    ++chars;
  }
  if (chars > kMaxLabelChars) return bad("this one has " + std::to_string(chars));
  return {};
}

}  // namespace hsm::luna::rules
