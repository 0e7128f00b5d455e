#include "tool/object_diff.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace hsm::tool {

namespace {

// A listing is plain nlohmann::json (the tool's own documents are ordered_json).
using Listing = nlohmann::json;

std::string field(const Listing& o, const char* name) {
  auto it = o.find(name);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

ObjectDiff diff_objects(const Listing& a, const Listing& b) {
  ObjectDiff d;
  // B's objects by fingerprint, each usable once (a multiset pairing).
  std::multimap<std::string, std::size_t> b_by_fingerprint;
  for (std::size_t i = 0; i < b.size(); ++i)
    b_by_fingerprint.emplace(field(b[i], "fingerprint"), i);
  std::vector<bool> b_used(b.size(), false);
  std::vector<std::size_t> a_left;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto it = b_by_fingerprint.find(field(a[i], "fingerprint"));
    if (it != b_by_fingerprint.end() && !field(a[i], "fingerprint").empty()) {
      b_used[it->second] = true;
      b_by_fingerprint.erase(it);
      ++d.same;
    } else {
      a_left.push_back(i);
    }
  }
  // What is left of B, by class and label, in B's order.
  std::multimap<std::pair<std::string, std::string>, std::size_t> b_by_name;
  for (std::size_t i = 0; i < b.size(); ++i)
    if (!b_used[i])
      b_by_name.emplace(std::make_pair(field(b[i], "class"), field(b[i], "label")), i);
  for (std::size_t i : a_left) {
    auto it = b_by_name.find({field(a[i], "class"), field(a[i], "label")});
    if (it == b_by_name.end()) {
      d.only_in_a.push_back(a[i]);
      continue;
    }
    b_used[it->second] = true;
    d.changed.push_back({{"a", a[i]}, {"b", b[it->second]}});
    b_by_name.erase(it);
  }
  for (std::size_t i = 0; i < b.size(); ++i)
    if (!b_used[i]) d.only_in_b.push_back(b[i]);
  return d;
}

}  // namespace hsm::tool
