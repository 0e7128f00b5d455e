#include "formats/archive_format.hpp"

#include "formats/archive_codec.hpp"

namespace hsm::formats {

std::string_view to_string(BlobType t) {
  switch (t) {
    case BlobType::object: return "object";
    case BlobType::sim4: return "sim4";
    case BlobType::smk: return "smk";
  }
  return "unknown";
}

std::string_view to_string(ArchiveScope s) {
  switch (s) {
    case ArchiveScope::unknown: return "unknown";
    case ArchiveScope::complete: return "complete";
    case ArchiveScope::subset: return "subset";
  }
  return "unknown";
}

std::optional<BlobType> blob_type_from_u8(std::uint8_t v) {
  switch (v) {
    case 1: return BlobType::object;
    case 2: return BlobType::sim4;
    case 3: return BlobType::smk;
    default: return std::nullopt;
  }
}

Bytes blob_associated_data(const ArchiveId& archive_id, std::uint64_t index, std::uint64_t handle,
                           std::uint8_t type) {
  Bytes ad;
  ad.reserve(kAdContext.size() + archive_id.size() + 8 + 8 + 1);
  ad.insert(ad.end(), kAdContext.begin(), kAdContext.end());
  ad.insert(ad.end(), archive_id.begin(), archive_id.end());
  detail::put_u64(ad, index);
  detail::put_u64(ad, handle);
  detail::put_u8(ad, type);
  return ad;
}

Digest certificate_sha256(const Bytes& der) { return detail::sha256(der.data(), der.size()); }

std::string to_hex(const std::uint8_t* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    s.push_back(kDigits[data[i] >> 4]);
    s.push_back(kDigits[data[i] & 15]);
  }
  return s;
}

std::optional<Digest> digest_from_hex(std::string_view hex) {
  if (hex.size() != 2 * kDigestSize) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return d;
}

}  // namespace hsm::formats
