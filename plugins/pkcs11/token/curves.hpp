// The named curves this layer generates and recognises, by their
// CKA_EC_PARAMS encoding. Edwards curves appear either as an OID or as a
// PrintableString ("edwards25519"); tokens accept one, the other or both
// (softhsm2-facts.md 4.2), so both are recognised.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace hsm::p11 {

struct Curve {
  std::string_view name;             // "P-256", "Ed25519"
  std::string_view ossl;             // OpenSSL's group or key name
  std::vector<std::uint8_t> params;  // DER of the OID, as generated
  int bits = 0;                      // the key size a mechanism range is checked against
  bool edwards = false;
};

const Curve* curve_by_params(std::span<const std::uint8_t> params);
const Curve* curve_by_name(std::string_view name);

}  // namespace hsm::p11
