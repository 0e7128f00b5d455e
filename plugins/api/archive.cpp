#include "plugins/api/archive.hpp"

#include <string_view>

namespace hsm::api {

Bytes archive_mac_message(const ArchiveFinish& f) {
  static constexpr std::string_view kContext = "HSMAR-MAC-v2";
  Bytes m;
  m.reserve(kContext.size() + f.archive_id.size() + 8 + f.header_digest.size() + f.archive_digest.size());
  m.insert(m.end(), kContext.begin(), kContext.end());
  m.insert(m.end(), f.archive_id.begin(), f.archive_id.end());
  for (int i = 0; i < 8; ++i) m.push_back(static_cast<std::uint8_t>(f.blob_count >> (8 * i)));
  m.insert(m.end(), f.header_digest.begin(), f.header_digest.end());
  m.insert(m.end(), f.archive_digest.begin(), f.archive_digest.end());
  return m;
}

}  // namespace hsm::api
