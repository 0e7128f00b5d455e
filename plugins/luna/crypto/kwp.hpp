// RFC 5649 AES key wrap with padding (KWP) and single-shot AES-256-GCM with
// an explicit nonce: the two primitives of the portable form
// (plugins/pkcs11/portable-form.md), which PKCS#11 tokens compute as
// CKM_AES_KEY_WRAP_PAD (2.40) / CKM_AES_KEY_WRAP_KWP (3.0) and CKM_AES_GCM.
// Thin adapters over OpenSSL EVP (id-aes256-wrap-pad, AES-256-GCM); no
// primitive is implemented here.
#pragma once

#include <cstdint>
#include <span>

#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::luna::crypto {

// KWP of `key` (1 byte and more) under a 32-byte wrapping key: the output is
// ceil(n / 8) * 8 + 8 bytes (a 32-byte key wraps to 40).
api::Result<api::Bytes> kwp_wrap(const api::SecretBytes& kek, std::span<const std::uint8_t> key);
// Errors: integrity when the blob does not unwrap under kek (damaged, or
// another wrapping key).
api::Result<api::SecretBytes> kwp_unwrap(const api::SecretBytes& kek, std::span<const std::uint8_t> blob);

// AES-256-GCM, 12-byte nonce, 16-byte tag appended: ciphertext || tag.
api::Result<api::Bytes> gcm_seal(const api::SecretBytes& key, std::span<const std::uint8_t> nonce,
                                 std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext);
// Errors: integrity when the tag does not verify (wrong key, other
// associated data, damage).
api::Result<api::SecretBytes> gcm_open(const api::SecretBytes& key, std::span<const std::uint8_t> nonce,
                                       std::span<const std::uint8_t> aad,
                                       std::span<const std::uint8_t> ciphertext_and_tag);

// Private keys between the families: a token's KWP carries a PKCS#8
// PrivateKeyInfo; the emulated Luna keeps OpenSSL's own form
// (i2d_PrivateKey: PKCS#1 for RSA, SEC1 for EC). Errors: integrity when the
// DER is not a private key.
api::Result<api::SecretBytes> private_to_pkcs8(const api::SecretBytes& der);
api::Result<api::SecretBytes> private_to_model(const api::SecretBytes& der);

}  // namespace hsm::luna::crypto
