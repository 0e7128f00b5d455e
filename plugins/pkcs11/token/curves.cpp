#include "plugins/pkcs11/token/curves.hpp"

#include <algorithm>
#include <array>

namespace hsm::p11 {

namespace {

const std::array<Curve, 5>& curves() {
  static const std::array<Curve, 5> c{{
      // 1.2.840.10045.3.1.7, 1.3.132.0.34, 1.3.132.0.35 (SEC 2)
      {"P-256",
       "prime256v1",
       {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07},
       256,
       false},
      {"P-384", "secp384r1", {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22}, 384, false},
      {"P-521", "secp521r1", {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23}, 521, false},
      // 1.3.101.112 and 1.3.101.113 (RFC 8410); SoftHSM's EDDSA range is 256..456
      {"Ed25519", "ED25519", {0x06, 0x03, 0x2B, 0x65, 0x70}, 256, true},
      {"Ed448", "ED448", {0x06, 0x03, 0x2B, 0x65, 0x71}, 456, true},
  }};
  return c;
}

// PrintableString forms of the Edwards curves (PKCS#11 3.0, 2.3.10).
bool printable_is(std::span<const std::uint8_t> p, std::string_view s) {
  return p.size() == s.size() + 2 && p[0] == 0x13 && p[1] == s.size() &&
         std::equal(s.begin(), s.end(), p.begin() + 2);
}

}  // namespace

const Curve* curve_by_params(std::span<const std::uint8_t> params) {
  for (const auto& c : curves())
    if (std::equal(params.begin(), params.end(), c.params.begin(), c.params.end())) return &c;
  if (printable_is(params, "edwards25519")) return curve_by_name("Ed25519");
  if (printable_is(params, "edwards448")) return curve_by_name("Ed448");
  return nullptr;
}

const Curve* curve_by_name(std::string_view name) {
  for (const auto& c : curves())
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace hsm::p11
