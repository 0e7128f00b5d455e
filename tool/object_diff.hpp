// diff A B (issue 11 §5): which objects two listings share, by fingerprint.
// A listing is a JSON array of objects as `object list --json` and
// `archive show --with --json` print them ("label", "class", "fingerprint",
// and whatever else they carry, passed through).
//
// - same: an object of A whose fingerprint an object of B has (each object
//   of B pairs with one of A: a listing may hold a key twice);
// - changed: left over in both, with the same class and label: the name
//   stayed, the key or its attributes did not;
// - only in A / only in B: the rest.
// Pure: no device, no file; the order of each list is the listing's.
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

namespace hsm::tool {

struct ObjectDiff {
  std::size_t same = 0;
  nlohmann::json only_in_a = nlohmann::json::array();
  nlohmann::json only_in_b = nlohmann::json::array();
  nlohmann::json changed = nlohmann::json::array();  // [{"a": object, "b": object}]

  bool identical() const { return only_in_a.empty() && only_in_b.empty() && changed.empty(); }
};

ObjectDiff diff_objects(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace hsm::tool
