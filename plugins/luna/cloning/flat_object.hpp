// A flattened object: what travels inside a cloning message, a SIM4 blob or
// an archive. Everything of api::ObjectDesc except the per-partition handle,
// plus the key material in clear. Standalone on purpose (the archive writer
// uses it too): depends only on plugins/api and the crypto KeyMaterial type.
//
// Encoding, version 1 (little-endian; str = u32 length + UTF-8 bytes,
// bytes = u32 length + bytes; enums by their api::to_string names):
//
//   "HMFO"  u16 version=1  str kind ("object" | "sks-master-key")
//   str label  str id_hex  str class  str key_type  u32 bits  str curve
//   u8 flags (bit 0 extractable, 1 sensitive, 2 assigned, 3 per_key_auth,
//             4 key_ring, 5 des3_counters, 6 unknown_attribute; bit 7 = 0)
//   str keygen  str origin_fm  u16 n (<= 1024)  n x str protocol (travelled)
//   str fingerprint  str pair_id
//   str material.type  u32 material.bits  str material.curve
//   bytes material.secret  bytes material.public_der
//
// Decoding checks every length against the input and a limit (wire.hpp),
// refuses unknown versions, unknown enum names, set reserved bits and
// trailing bytes, and returns ErrorKind::integrity with the offending field.
#pragma once

#include <cstddef>
#include <cstdint>

#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"
#include "plugins/luna/crypto/crypto.hpp"

namespace hsm::luna::cloning {

using api::Bytes;
using api::Result;
using api::SecretBytes;

// What a flattened object is. A V1 partition's SKS master key (rule U4) is
// cloned by CPv3/CPv4 as one object of kind sks_master_key (see sim4.hpp).
enum class FlatKind : std::uint8_t { object, sks_master_key };

struct FlatObject {
  FlatKind kind = FlatKind::object;
  api::ObjectDesc desc;  // desc.handle is not encoded; 0 after decoding
  crypto::KeyMaterial material;
};

inline constexpr std::uint16_t kFlatVersion = 1;
inline constexpr std::size_t kMaxTravelled = 1024;  // hops recorded in `travelled`

// Exact encoded size (for reserving).
std::size_t flat_size(const FlatObject& o);
// Replaces out's contents with the encoding (reuses out's capacity).
void encode_flat(const FlatObject& o, SecretBytes& out);
SecretBytes encode_flat(const FlatObject& o);

Result<FlatObject> decode_flat(const std::uint8_t* p, std::size_t n);
inline Result<FlatObject> decode_flat(const SecretBytes& s) { return decode_flat(s.data(), s.size()); }

}  // namespace hsm::luna::cloning
