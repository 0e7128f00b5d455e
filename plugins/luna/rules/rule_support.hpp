// What the Luna rules files share, each written once: the client version a
// rule names in two places, a partition or HSM policy read with its default,
// and a refusal verdict. Internal to plugins/luna/rules/*.cpp.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "plugins/api/types.hpp"

namespace hsm::luna::rules {

// S6 (clone) and H2 (HA group): mixing FIPS and non-FIPS members needs a
// client of 10.4.0 or newer.
inline constexpr api::Version kClientMixedFips{10, 4, 0};

// A policy's value, or `missing` when the device or partition does not list it.
inline int policy_value(const std::map<int, int>& p, int id, int missing) {
  auto it = p.find(id);
  return it == p.end() ? missing : it->second;
}

// A refusal naming its rule, its CKR_ code, and the fix if there is one.
inline api::Verdict refuse(std::string rule, std::string code, std::string message, std::string fix = {},
                           std::optional<api::Protocol> protocol = std::nullopt) {
  api::Verdict v;
  v.allowed = false;
  v.protocol = protocol;
  v.rule = std::move(rule);
  v.code = std::move(code);
  v.message = std::move(message);
  v.fix = std::move(fix);
  return v;
}

}  // namespace hsm::luna::rules
