// The PKCS#11 header, in one place. p11-kit's pkcs11.h (PKCS#11 2.40,
// permissive licence, see /usr/share/doc/libp11-kit-dev/copyright) in its
// default CRYPTOKI_COMPAT mode gives the standard CK_* names; it #defines and
// then #undefs some lower-case words, so include it only through this file.
//
// The few PKCS#11 3.0 constants this layer uses are defined below (the 2.40
// header lacks them); values from the PKCS#11 3.0 specification.
#pragma once

#include <p11-kit/pkcs11.h>

#ifndef CKM_AES_KEY_WRAP_KWP
// 3.0 name of RFC 5649 key wrap; byte-compatible with CKM_AES_KEY_WRAP_PAD.
#define CKM_AES_KEY_WRAP_KWP (0x210BUL)
#endif
#ifndef CKA_UNIQUE_ID
#define CKA_UNIQUE_ID (0x4UL)
#endif
#ifndef CKR_TOKEN_RESOURCE_EXCEEDED
#define CKR_TOKEN_RESOURCE_EXCEEDED (0x201UL)
#endif
#ifndef CKR_OPERATION_CANCEL_FAILED
#define CKR_OPERATION_CANCEL_FAILED (0x202UL)
#endif

static_assert(CRYPTOKI_VERSION_MAJOR == 2,
              "the token layer is written against the PKCS#11 2.x header");
