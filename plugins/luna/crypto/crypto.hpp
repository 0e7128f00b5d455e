// Thin wrappers over OpenSSL 3 (asymmetric keys, X.509, AES/DES3) and
// libsodium (randomness, XChaCha20-Poly1305, Argon2id). No primitive is
// implemented here; each function only adapts a library call to our types.
// Private keys travel as DER (PKCS#8) inside SecretBytes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::luna::crypto {

using api::Bytes;
using api::Result;
using api::SecretBytes;

// --- randomness (libsodium) ---
SecretBytes random_secret(std::size_t n);
Bytes random_bytes(std::size_t n);

// --- hashing (OpenSSL) ---
Bytes sha256(const std::uint8_t* data, std::size_t n);
inline Bytes sha256(const Bytes& b) { return sha256(b.data(), b.size()); }
std::string hex(const Bytes& b);
std::string hex(const std::uint8_t* p, std::size_t n);
Bytes hmac_sha256(const SecretBytes& key, const Bytes& msg);
// HKDF-SHA256 (RFC 5869) via OpenSSL's KDF.
// Fails (never returns a weak key) if the library refuses.
Result<SecretBytes> hkdf_sha256(const SecretBytes& ikm, const Bytes& salt, const Bytes& info,
                                std::size_t out_len);

// --- authenticated encryption for storage and blobs (libsodium
// XChaCha20-Poly1305-IETF). Output layout: nonce(24) || ciphertext || tag(16).
inline constexpr std::size_t kAeadKeyBytes = 32;
Bytes aead_seal(const SecretBytes& key, const Bytes& ad, const std::uint8_t* pt, std::size_t n);
inline Bytes aead_seal(const SecretBytes& key, const Bytes& ad, const SecretBytes& pt) {
  return aead_seal(key, ad, pt.data(), pt.size());
}
Result<SecretBytes> aead_open(const SecretBytes& key, const Bytes& ad, const Bytes& sealed);

// --- password hashing / domain stretching (libsodium Argon2id) ---
// Stretch a text domain to a 32-byte domain key. The salt is fixed (derived
// from a context string) on purpose: every partition given the same domain
// string must derive the same key, as on a real Luna.
Result<SecretBytes> stretch_domain(const SecretBytes& domain_text);
// A domain key bound to one archive: Argon2id(domain key, salt = the 16-byte
// archive id) at the PIN verifier's cost (19 MiB, 2 passes). The fixed salt
// of stretch_domain lets one precomputed table serve every fleet; this salt
// is per archive, so each guess tested against an archive costs this much.
Result<SecretBytes> stretch_for_archive(const SecretBytes& domain_key, const std::array<std::uint8_t, 16>& salt);
Result<std::string> hash_pin(const SecretBytes& pin);
bool verify_pin(const std::string& stored, const SecretBytes& pin);

// --- key generation and use (OpenSSL EVP) ---
struct KeyMaterial {
  api::KeyType type = api::KeyType::aes;
  int bits = 0;
  std::string curve;
  SecretBytes secret;  // raw bytes (AES, DES3) or PKCS#8 DER (RSA, EC, Ed25519)
  Bytes public_der;    // SubjectPublicKeyInfo DER for asymmetric keys; empty otherwise
};

// "aes-256", "des3", "rsa-2048", "ec-p256", "ed25519", "x25519" -> type/bits/curve.
struct KeySpec {
  api::KeyType type;
  int bits;
  std::string curve;
};
Result<KeySpec> parse_key_spec(std::string_view spec);
Result<KeyMaterial> generate(const KeySpec& spec);
Result<KeyMaterial> generate_x25519();

// Signatures: RSA-PSS/SHA-256, ECDSA/SHA-256, Ed25519 (pure).
Result<Bytes> sign(const KeyMaterial& key, const std::uint8_t* data, std::size_t n);
Result<bool> verify(api::KeyType type, const Bytes& public_der, const std::uint8_t* data,
                    std::size_t n, const Bytes& sig);
inline Result<Bytes> sign(const KeyMaterial& key, const Bytes& data) {
  return sign(key, data.data(), data.size());
}
inline Result<bool> verify(api::KeyType type, const Bytes& pub, const Bytes& data, const Bytes& sig) {
  return verify(type, pub, data.data(), data.size(), sig);
}
// Encryption: AES-GCM and DES3-CBC for secret keys (iv || ct [|| tag]); RSA-OAEP
// (SHA-256) for RSA keys, with the public key to encrypt and the private to decrypt.
Result<Bytes> encrypt(const KeyMaterial& key, const Bytes& plaintext);
Result<Bytes> decrypt(const KeyMaterial& key, const Bytes& ciphertext);
Result<Bytes> rsa_oaep_encrypt(const Bytes& public_der, const std::uint8_t* data, std::size_t n,
                               const Bytes& label);
Result<SecretBytes> rsa_oaep_decrypt(const SecretBytes& private_der, const Bytes& ct,
                                     const Bytes& label);
// X25519 shared secret.
Result<SecretBytes> x25519(const SecretBytes& private_der, const Bytes& peer_public_der);
// Public part of a private key, as SubjectPublicKeyInfo DER.
Result<Bytes> public_of(const SecretBytes& private_der);

// A content fingerprint that identifies a key without revealing it: for
// secret keys HMAC-SHA256(key, "hsm-migrate fingerprint v1"|class|type); for
// asymmetric keys SHA-256(class|type|public key DER). Hex.
std::string fingerprint(api::ObjectClass cls, const KeyMaterial& key);

// --- X.509 (OpenSSL) ---
// A self-signed CA certificate for an Ed25519 key (the manufacturing root).
Result<Bytes> make_self_signed(const SecretBytes& ca_private_der, std::string_view common_name,
                               std::int64_t not_before, int days);
// A certificate for subject_public_der issued by issuer (Ed25519 private key + its certificate).
Result<Bytes> issue_certificate(const Bytes& subject_public_der, std::string_view common_name,
                                const SecretBytes& issuer_private_der, const Bytes& issuer_cert_der,
                                std::int64_t not_before, int days, std::uint64_t serial);
// Checks that cert was signed by issuer's key; returns the subject's public key DER.
Result<Bytes> verify_certificate(const Bytes& cert_der, const Bytes& issuer_cert_der);
Result<Bytes> certificate_public_key(const Bytes& cert_der);
Result<std::string> certificate_subject(const Bytes& cert_der);

}  // namespace hsm::luna::crypto
