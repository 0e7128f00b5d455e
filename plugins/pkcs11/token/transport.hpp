// Key transport on the token: the host carries wrapped keys and sealed
// records, never key material in clear.
//
//   domain KEK (token object, T4) --KWP--> per-archive key (session object)
//   per-archive key --KWP--> each secret or private key
//   per-archive key --AES-GCM(AAD = the record's associated data)--> record
//
// RFC 5649 (KWP) is the only wrap that round-trips on SoftHSM 2.6.1 for
// secret and private keys alike (softhsm2-facts.md 2.1); the mechanism's name
// differs between 2.40 and 3.0 and is probed once per token (TokenQuirks).
#pragma once

#include <span>

#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"
#include "plugins/pkcs11/token/keys.hpp"
#include "plugins/pkcs11/token/objects.hpp"
#include "plugins/pkcs11/token/session.hpp"
#include "plugins/pkcs11/token/template.hpp"

namespace hsm::p11 {

// A per-archive key: AES-256 session object, private and sensitive,
// extractable (it travels wrapped under the domain KEK), usable to seal
// (encrypt/decrypt) and to wrap/unwrap, nothing else.
api::Result<CK_OBJECT_HANDLE> generate_archive_key(Session& s);

// KWP-wraps key under wrapping_key. A key with CKA_EXTRACTABLE=false gives
// CKR_KEY_UNEXTRACTABLE; an Ed25519 key on SoftHSM 2.6.1 CKR_KEY_NOT_WRAPPABLE.
// size_hint: the buffer of the first call (a longer blob costs a second call).
api::Result<api::Bytes> wrap_key(Session& s, CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key,
                                 std::size_t size_hint = 4096);

// A per-archive key back from its KWP blob under the domain KEK: a session
// object, not extractable, same uses as generate_archive_key's.
api::Result<CK_OBJECT_HANDLE> unwrap_archive_key(Session& s, CK_OBJECT_HANDLE kek,
                                                 std::span<const std::uint8_t> blob);

// SoftHSM 2.6.1 refuses unwrap templates longer than this
// (CKR_TEMPLATE_INCONSISTENT); a longer one is refused here, before the call.
inline constexpr CK_ULONG kMaxUnwrapTemplate = 28;

// T5: the full, explicit template that restores a secret or private key with
// the attributes the source had (carried). Every usage flag is set; a flag
// the source did not have is set false. CKA_MODIFIABLE/COPYABLE/DESTROYABLE
// are set when carried. Never in it: CKA_EC_PARAMS and key components (the
// blob carries them), CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE,
// CKA_CHECK_VALUE (the token sets them). CKA_VALUE_LEN only when
// with_value_len (Luna needs it, SoftHSM refuses it). Errors name what cannot
// be restored: a class other than secret/private key, a missing key type,
// CKA_TRUSTED=true (only a security officer may set it).
api::Result<Template> unwrap_template(const ObjectInfo& carried, bool token_object,
                                      bool with_value_len);

// C_UnwrapKey with KWP and the given template (checked against
// kMaxUnwrapTemplate first). A damaged blob or the wrong wrapping key is an
// integrity error; a refused template names its attributes.
api::Result<CK_OBJECT_HANDLE> unwrap_with_template(Session& s, CK_OBJECT_HANDLE wrapping_key,
                                                   std::span<const std::uint8_t> blob,
                                                   Template& tmpl);

// Restores a wrapped key with unwrap_template(carried). Whether the token
// wants CKA_VALUE_LEN for AES is learned by trying (TokenQuirks).
api::Result<CK_OBJECT_HANDLE> unwrap_key(Session& s, CK_OBJECT_HANDLE wrapping_key,
                                         std::span<const std::uint8_t> blob,
                                         const ObjectInfo& carried, bool token_object = true);

// T3, by trying: whether this token can move a key of this kind both ways
// under KWP. Makes an extractable session key of the kind and a session
// archive key, wraps and unwraps (as a session object), and destroys all
// three. Mechanism lists over-promise: SoftHSM 2.6.1 lists everything an
// Ed25519 transport needs and refuses it (CKR_KEY_NOT_WRAPPABLE). The error
// names the step and keeps the token's CKR code; nothing stays on the token.
api::Status probe_transport(Session& s, const KeyKind& kind);

}  // namespace hsm::p11
