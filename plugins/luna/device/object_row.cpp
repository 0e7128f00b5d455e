#include "plugins/luna/device/object_row.hpp"

namespace hsm::luna {

void read_object_row(const store::Stmt& q, api::ObjectDesc& d) {
  d.handle = static_cast<std::uint64_t>(q.i64(0));
  d.label = q.text(1);
  d.id_hex = q.text(2);
  d.cls = api::parse_object_class(q.text(3)).value_or(api::ObjectClass::data);
  d.key_type = api::parse_key_type(q.text(4)).value_or(api::KeyType::generic);
  d.bits = static_cast<int>(q.i64(5));
  d.curve = q.text(6);
  d.extractable = q.i64(7) != 0;
  d.sensitive = q.i64(8) != 0;
  d.assigned = q.i64(9) != 0;
  d.per_key_auth = q.i64(10) != 0;
  d.key_ring = q.i64(11) != 0;
  d.des3_counters = q.i64(12) != 0;
  d.unknown_attribute = q.i64(13) != 0;
  d.keygen = api::parse_keygen_mechanism(q.text(14)).value_or(api::KeygenMechanism::none);
  d.origin_fm = api::parse_fm_state(q.text(15)).value_or(api::FmState::never);
  d.travelled = split_protocols(q.text(16));
  d.fingerprint = q.text(17);
  d.pair_id = q.text(18);
}

std::string join_protocols(const std::vector<api::Protocol>& ps) {
  std::string s;
  for (auto p : ps) s += (s.empty() ? "" : ",") + std::string(api::to_string(p));
  return s;
}

std::vector<api::Protocol> split_protocols(const std::string& s) {
  std::vector<api::Protocol> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (auto p = api::parse_protocol(std::string_view(s).substr(start, end - start))) out.push_back(*p);
    start = end + 1;
  }
  return out;
}

}  // namespace hsm::luna
