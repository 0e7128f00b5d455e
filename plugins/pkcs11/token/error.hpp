// PKCS#11 return values as api::Error values. Every call into a module goes
// through check(), so the CKR name (and the call that returned it) reaches
// the message, and the CKR name is kept in Error::code for callers that must
// tell one failure from another (CKR_PIN_INCORRECT, CKR_KEY_UNEXTRACTABLE).
//
// Kinds: bad input from the user (PINs, labels, module paths) is `usage`;
// a blob or signature that does not authenticate is `integrity`; anything
// else, including a token refusing a key or mechanism, is `other`. This layer
// names no rule: the plugin turns a token refusal (token_refused()) into a
// T2/T3/T5 refusal where it checks those rules.
#pragma once

#include <string>
#include <string_view>

#include "plugins/api/status.hpp"
#include "plugins/pkcs11/token/cryptoki.hpp"

namespace hsm::p11 {

// What the call does with its input, for the kind of a failure: SoftHSM
// 2.6.1 returns CKR_GENERAL_ERROR for a damaged blob, a wrong key and a
// failed GCM tag alike, so after a decrypt or an unwrap it is an integrity
// failure, and elsewhere a plain failure.
enum class CallKind { plain, opens_sealed_data };

// CKR_OK -> ok; otherwise "CALL[ (CONTEXT)]: CKR_NAME (0xNN)".
api::Status check(CK_RV rv, std::string_view call, std::string_view context = {},
                  CallKind kind = CallKind::plain);
api::Error ck_error(CK_RV rv, std::string_view call, std::string_view context = {},
                    CallKind kind = CallKind::plain);

// True when err carries exactly this return value.
bool has_ckr(const api::Error& err, CK_RV rv);

// True when the token refused the key, mechanism or template (as opposed to
// failing): CKR_KEY_UNEXTRACTABLE, CKR_KEY_NOT_WRAPPABLE, CKR_MECHANISM_INVALID,
// CKR_TEMPLATE_INCONSISTENT, CKR_ATTRIBUTE_*, CKR_KEY_TYPE_INCONSISTENT, ...
bool token_refused(const api::Error& err);

}  // namespace hsm::p11
