// Finding objects and reading what they are. Handles are valid in the
// session's load of the module only; callers keep CKA_ID and labels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"
#include "plugins/pkcs11/token/session.hpp"

namespace hsm::p11 {

struct ObjectFilter {
  std::optional<CK_OBJECT_CLASS> cls;
  std::optional<CK_KEY_TYPE> key_type;
  std::optional<api::Bytes> label;
  std::optional<api::Bytes> id;
  std::optional<bool> token;  // true: token objects only; false: session objects only
};

// Handles asked per C_FindObjects call: bounded, so a token with 100,000
// objects is read in steps (SoftHSM scans all its objects per search).
inline constexpr CK_ULONG kFindBatch = 256;

// Every matching handle (at most limit), in the token's order.
api::Result<std::vector<CK_OBJECT_HANDLE>> find_objects(
    Session& s, const ObjectFilter& filter, CK_ULONG batch = kFindBatch,
    std::size_t limit = std::numeric_limits<std::size_t>::max());

// The boolean attributes read for every object, in this order.
inline constexpr CK_ATTRIBUTE_TYPE kBooleanAttributes[] = {
    CKA_TOKEN,       CKA_PRIVATE,
    CKA_MODIFIABLE,  CKA_COPYABLE,
    CKA_DESTROYABLE, CKA_LOCAL,
    CKA_SENSITIVE,   CKA_ALWAYS_SENSITIVE,
    CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE,
    CKA_ENCRYPT,     CKA_DECRYPT,
    CKA_SIGN,        CKA_SIGN_RECOVER,
    CKA_VERIFY,      CKA_VERIFY_RECOVER,
    CKA_WRAP,        CKA_UNWRAP,
    CKA_DERIVE,      CKA_WRAP_WITH_TRUSTED,
    CKA_TRUSTED,     CKA_ALWAYS_AUTHENTICATE,
};

// What an object is. Optional fields are empty when the object has no such
// attribute (an AES key has no CKA_MODULUS_BITS).
struct ObjectInfo {
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;  // this session's load only
  CK_OBJECT_CLASS cls = 0;
  std::optional<CK_KEY_TYPE> key_type;
  api::Bytes label;                      // as stored: not necessarily UTF-8 (see printable())
  api::Bytes id;                         // CKA_ID: not unique on most tokens
  std::optional<CK_ULONG> value_len;     // secret keys, bytes; SoftHSM: 0 after an unwrap
  std::optional<CK_ULONG> modulus_bits;  // RSA (from CKA_MODULUS for private keys)
  api::Bytes ec_params;                  // EC and Edwards keys: DER
  api::Bytes check_value;                // secret keys: KCV, when the token gives one
  std::optional<CK_MECHANISM_TYPE> key_gen_mechanism;
  std::vector<std::pair<CK_ATTRIBUTE_TYPE, bool>> flags;  // those the object has

  std::optional<bool> flag(CK_ATTRIBUTE_TYPE type) const;
  bool is(CK_ATTRIBUTE_TYPE type) const { return flag(type).value_or(false); }
  // Key size in bits (value length, modulus, or curve); 0 when unknown.
  int bits() const;
};

// One C_GetAttributeValue in the common case; a second only for a value
// longer than the first call's buffers.
api::Result<ObjectInfo> read_object(Session& s, CK_OBJECT_HANDLE h);

api::Status destroy_object(Session& s, CK_OBJECT_HANDLE h);

// Labels and ids for people: valid UTF-8 as is (control characters escaped),
// any other byte as \xNN. The stored bytes are never changed.
bool is_utf8(std::span<const std::uint8_t> bytes);
std::string printable(std::span<const std::uint8_t> bytes);
std::string hex(std::span<const std::uint8_t> bytes);

}  // namespace hsm::p11
