// Public keys out of the token, in the form every other tool reads: a DER
// SubjectPublicKeyInfo (built with OpenSSL from CKA_MODULUS/EXPONENT or
// CKA_EC_PARAMS/EC_POINT, since tokens rarely fill CKA_PUBLIC_KEY_INFO).
#pragma once

#include <span>

#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"
#include "plugins/pkcs11/token/objects.hpp"
#include "plugins/pkcs11/token/session.hpp"

namespace hsm::p11 {

api::Result<api::Bytes> public_key_der(Session& s, CK_OBJECT_HANDLE public_key);

// The public key object of a private key: same CKA_ID and key type. Usage
// error when there is none, or several (CKA_ID is not unique on tokens).
api::Result<CK_OBJECT_HANDLE> find_public_key(Session& s, const ObjectInfo& private_key);

// A PKCS#11 ECDSA signature (r||s, each half the curve size) as the DER
// ECDSA-Sig-Value OpenSSL and X.509 use.
api::Result<api::Bytes> ecdsa_signature_der(std::span<const std::uint8_t> raw);

}  // namespace hsm::p11
