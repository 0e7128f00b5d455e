// V1 (SKS) partitions, rule U4 / X7: cryptoki objects never leave
// individually. The partition's SKS master key (SMK, 32 bytes) clones by
// CPv3/CPv4 as one FlatObject of kind sks_master_key, and objects travel as
// SIM4 blobs: FlatObjects sealed under a key derived from the SMK.
//
// SIM4 blob, version 1 (little-endian):
//   "SIM4"  u16 version=1  u64 blob_id  str label  bytes sealed
// sealed = XChaCha20-Poly1305 (crypto::aead_seal: nonce || ct || tag) of the
// FlatObject encoding under HKDF(SMK, info = "hsm-migrate SIM4 blob key v1"),
// with AD = everything before `sealed`: the id and label are visible (a
// Backup HSM sees only ids and labels, X7) and authenticated, so a blob
// renamed, renumbered or swapped fails to open.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "plugins/luna/cloning/flat_object.hpp"

namespace hsm::luna::cloning {

inline constexpr std::size_t kSmkBytes = 32;

// The SMK as the one object a V1 partition clones (by CPv3 or CPv4).
FlatObject make_smk_object(const SecretBytes& smk, std::string_view label);
// The SMK carried by such an object (kind sks_master_key, 32 bytes).
Result<SecretBytes> smk_of(const FlatObject& o);

Result<Bytes> seal_sim4(const SecretBytes& smk, const FlatObject& o, std::uint64_t blob_id);

struct Sim4Header {
  std::uint64_t blob_id = 0;
  std::string label;
};
// Reads the visible header WITHOUT authenticating it (for listings only).
Result<Sim4Header> sim4_header(const Bytes& blob);
// Opens a blob; blob_id must be the id the caller expects (from its index).
// Errors: integrity with CKR_SIM_CORRUPT_DATA (wrong SMK, tampered, swapped),
// CKR_SIM_VERSION_UNSUPPORTED (unknown version).
Result<FlatObject> open_sim4(const SecretBytes& smk, const Bytes& blob, std::uint64_t blob_id);

}  // namespace hsm::luna::cloning
