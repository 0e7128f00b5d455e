// Names of PKCS#11 numbers for messages and descriptions. A number the
// tables do not know prints in hex with its family prefix (CKM_0x80000001),
// so nothing is ever shown as a bare number without context.
#pragma once

#include <string>
#include <vector>

#include "plugins/pkcs11/token/cryptoki.hpp"

namespace hsm::p11 {

std::string ckr_name(CK_RV rv);                                 // "CKR_PIN_INCORRECT"
std::string mechanism_name(CK_MECHANISM_TYPE m);                // "CKM_AES_KEY_WRAP_PAD"
std::string attribute_name(CK_ATTRIBUTE_TYPE a);                // "CKA_VALUE_LEN"
std::vector<std::string> token_flag_names(CK_FLAGS flags);      // CK_TOKEN_INFO.flags
std::vector<std::string> mechanism_flag_names(CK_FLAGS flags);  // CK_MECHANISM_INFO.flags

}  // namespace hsm::p11
