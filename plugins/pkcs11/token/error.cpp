#include "plugins/pkcs11/token/error.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "plugins/pkcs11/token/names.hpp"

namespace hsm::p11 {

namespace {

// Input the user gave: a PIN, a token that is not there or not set up.
constexpr CK_RV kUsage[] = {
    CKR_PIN_INCORRECT,
    CKR_PIN_INVALID,
    CKR_PIN_LEN_RANGE,
    CKR_PIN_EXPIRED,
    CKR_PIN_LOCKED,
    CKR_USER_PIN_NOT_INITIALIZED,
    CKR_TOKEN_NOT_PRESENT,
    CKR_TOKEN_NOT_RECOGNIZED,
    CKR_SLOT_ID_INVALID,
    CKR_USER_TYPE_INVALID,
    CKR_TOKEN_WRITE_PROTECTED,
};

// Data that does not authenticate or parse.
constexpr CK_RV kIntegrity[] = {
    CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_WRAPPED_KEY_INVALID,
    CKR_WRAPPED_KEY_LEN_RANGE,  CKR_SIGNATURE_INVALID,        CKR_SIGNATURE_LEN_RANGE,
};

constexpr CK_RV kRefusals[] = {
    CKR_KEY_UNEXTRACTABLE,          CKR_KEY_NOT_WRAPPABLE,
    CKR_KEY_TYPE_INCONSISTENT,      CKR_KEY_SIZE_RANGE,
    CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_INDIGESTIBLE,
    CKR_MECHANISM_INVALID,          CKR_MECHANISM_PARAM_INVALID,
    CKR_TEMPLATE_INCOMPLETE,        CKR_TEMPLATE_INCONSISTENT,
    CKR_ATTRIBUTE_READ_ONLY,        CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_VALUE_INVALID,    CKR_CURVE_NOT_SUPPORTED,
    CKR_DOMAIN_PARAMS_INVALID,      CKR_FUNCTION_NOT_SUPPORTED,
    CKR_ACTION_PROHIBITED,          CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_WRAPPING_KEY_SIZE_RANGE,    CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_UNWRAPPING_KEY_SIZE_RANGE,
};

template <std::size_t N>
bool in(const CK_RV (&set)[N], CK_RV rv) {
  return std::find(std::begin(set), std::end(set), rv) != std::end(set);
}

std::string fix_for(CK_RV rv) {
  switch (rv) {
    case CKR_PIN_INCORRECT:
      return "check the token's user PIN";
    case CKR_PIN_LOCKED:
      return "the token's security officer must unlock the user PIN";
    case CKR_USER_PIN_NOT_INITIALIZED:
      return "the token's security officer must set a user PIN first";
    case CKR_KEY_UNEXTRACTABLE:
      return "a key made with CKA_EXTRACTABLE=false can never leave its token";
    default:
      return {};
  }
}

}  // namespace

api::Error ck_error(CK_RV rv, std::string_view call, std::string_view context, CallKind kind) {
  std::string msg(call);
  if (!context.empty()) msg.append(" (").append(context).append(")");
  char hex[24];
  std::snprintf(hex, sizeof hex, " (0x%lX)", rv);
  msg.append(": ").append(ckr_name(rv)).append(hex);

  api::Error e;
  e.kind = api::ErrorKind::other;
  if (in(kUsage, rv)) e.kind = api::ErrorKind::usage;
  if (in(kIntegrity, rv)) e.kind = api::ErrorKind::integrity;
  if (kind == CallKind::opens_sealed_data && rv == CKR_GENERAL_ERROR) {
    e.kind = api::ErrorKind::integrity;
    msg.append(
        ": the data is damaged, was sealed for other associated data, or the key is not the one it "
        "was made with");
  }
  e.message = std::move(msg);
  e.code = ckr_name(rv);
  e.fix = fix_for(rv);
  return e;
}

api::Status check(CK_RV rv, std::string_view call, std::string_view context, CallKind kind) {
  if (rv == CKR_OK) return {};
  return ck_error(rv, call, context, kind);
}

bool has_ckr(const api::Error& err, CK_RV rv) {
  return err.code == ckr_name(rv);
}

bool token_refused(const api::Error& err) {
  for (CK_RV rv : kRefusals)
    if (has_ckr(err, rv)) return true;
  return false;
}

}  // namespace hsm::p11
