// Keys made and used on the token. Every template is explicit: a usage flag
// left out of a template defaults to true on SoftHSM (softhsm2-facts.md 2.3),
// so this layer sets each one.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"
#include "plugins/pkcs11/token/curves.hpp"
#include "plugins/pkcs11/token/session.hpp"

namespace hsm::p11 {

enum class Algorithm { aes, rsa, ec, edwards };

struct KeyKind {
  Algorithm algorithm = Algorithm::aes;
  int bits = 256;                // AES and RSA
  const Curve* curve = nullptr;  // EC and Edwards
};

// "aes-128", "aes-192", "aes-256", "rsa-2048", "rsa-3072", "rsa-4096",
// "ec-p256", "ec-p384", "ec-p521", "ed25519" (the names of KeyGenRequest).
api::Result<KeyKind> parse_key_kind(std::string_view name);

struct Usage {
  bool encrypt = false, decrypt = false, sign = false, verify = false;
  bool wrap = false, unwrap = false, derive = false;
};
// encrypt/decrypt for AES, sign/verify for the others.
Usage default_usage(const KeyKind& kind);

struct KeySpec {
  api::Bytes label;
  api::Bytes id;
  bool token = true;         // a token object (persistent) or a session object
  bool extractable = false;  // SoftHSM's default too: such a key never leaves
  bool sensitive = true;
  bool private_ = true;        // CKA_PRIVATE of the secret or private key
  std::optional<Usage> usage;  // default_usage(kind) when empty
};

struct KeyPair {
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
};

api::Result<CK_OBJECT_HANDLE> generate_secret_key(Session& s, const KeyKind& kind,
                                                  const KeySpec& spec);
// The public key gets the same label and id, the public halves of the usage
// (encrypt, verify, wrap), is a public, non-private token object when spec.token.
api::Result<KeyPair> generate_key_pair(Session& s, const KeyKind& kind, const KeySpec& spec);

// Signatures. ECDSA is SHA-256 over the data on the host (the data is not
// secret; SoftHSM 2.6.1 has no CKM_ECDSA_SHA256) then CKM_ECDSA on the token,
// giving r||s (ecdsa_signature_der() converts). RSA-PSS uses SHA-256, MGF1
// with SHA-256 and a 32-byte salt.
enum class SignMechanism { rsa_pkcs1_sha256, rsa_pss_sha256, ecdsa_sha256, eddsa };
api::Result<api::Bytes> sign(Session& s, CK_OBJECT_HANDLE key, SignMechanism m,
                             std::span<const std::uint8_t> data);
// false when the token says the signature does not verify; errors otherwise.
api::Result<bool> verify(Session& s, CK_OBJECT_HANDLE key, SignMechanism m,
                         std::span<const std::uint8_t> data,
                         std::span<const std::uint8_t> signature);

// AES-GCM on the token: 12-byte IV, the associated data authenticated, a
// 128-bit tag appended to the ciphertext. A failed tag or other associated
// data is an integrity error (SoftHSM: CKR_GENERAL_ERROR).
inline constexpr std::size_t kGcmIvBytes = 12;
inline constexpr std::size_t kGcmTagBytes = 16;
api::Result<api::Bytes> gcm_encrypt(Session& s, CK_OBJECT_HANDLE key,
                                    std::span<const std::uint8_t> iv,
                                    std::span<const std::uint8_t> aad,
                                    std::span<const std::uint8_t> plaintext);
api::Result<api::SecretBytes> gcm_decrypt(Session& s, CK_OBJECT_HANDLE key,
                                          std::span<const std::uint8_t> iv,
                                          std::span<const std::uint8_t> aad,
                                          std::span<const std::uint8_t> ciphertext_and_tag);

// The domain key-encryption key (T4): AES-256, a private token object,
// sensitive, never extractable, wrap and unwrap only (CKA_ENCRYPT, DECRYPT,
// SIGN, VERIFY, DERIVE false), not modifiable. Made once from 32 given bytes
// by C_CreateObject at `partition domain add`; the bytes stay in the caller's
// SecretBytes.
api::Result<CK_OBJECT_HANDLE> create_domain_kek(Session& s, const api::SecretBytes& value,
                                                std::span<const std::uint8_t> label,
                                                std::span<const std::uint8_t> id);
// The one domain KEK with this label and id. Usage errors when there is none
// (the token is not in the domain) or several; an error when the key found is
// not a wrap/unwrap-only, non-extractable AES-256 key.
api::Result<CK_OBJECT_HANDLE> find_domain_kek(Session& s, std::span<const std::uint8_t> label,
                                              std::span<const std::uint8_t> id);

}  // namespace hsm::p11
