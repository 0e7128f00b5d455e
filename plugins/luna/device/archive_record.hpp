// The plaintext of an emulated Luna's object blob in an archive (sealed with
// the archive master key by partition_archive.cpp), and the check value a
// drill compares a restored key with.
//
// Object blob plaintext ("HMAB", u16le version = 1):
//   u8 check kind (1 KCV, 2 public key SHA-256, 3 content SHA-256)  u8 n  n bytes check
//   the flattened object (cloning/flat_object.hpp) to the end
// KCV = the first 3 bytes of HMAC-SHA256(secret key, "hsm-migrate key check value v1").
#pragma once

#include <cstdint>

#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"
#include "plugins/luna/cloning/flat_object.hpp"
#include "plugins/luna/crypto/crypto.hpp"

namespace hsm::luna::archive_record {

inline constexpr std::uint8_t kCheckKcv = 1, kCheckPublic = 2, kCheckContent = 3;

// What a drill compares with: recorded at backup time, inside the sealed blob.
struct Check {
  std::uint8_t kind = 0;
  api::Bytes value;
};

api::Bytes kcv(const crypto::KeyMaterial& m);
Check check_of(api::ObjectClass cls, const crypto::KeyMaterial& m);

void encode(const Check& c, const api::SecretBytes& flat, api::SecretBytes& out);
// Errors: integrity (not an object record, unknown version, bad check).
api::Result<cloning::FlatObject> decode(const api::SecretBytes& plain, Check& check);

}  // namespace hsm::luna::archive_record
