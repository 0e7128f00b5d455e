// libsodium adapters: randomness, XChaCha20-Poly1305, Argon2id.
#include <sodium.h>

#include <mutex>

#include "plugins/luna/crypto/crypto.hpp"

namespace hsm::luna::crypto {

using api::Error;

namespace {
void ensure_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();  // no randomness source: nothing is safe
  });
}
}  // namespace

SecretBytes random_secret(std::size_t n) {
  ensure_init();
  SecretBytes out(n);
  randombytes_buf(out.data(), n);
  return out;
}

Bytes random_bytes(std::size_t n) {
  ensure_init();
  Bytes out(n);
  randombytes_buf(out.data(), n);
  return out;
}

Bytes aead_seal(const SecretBytes& key, const Bytes& ad, const std::uint8_t* pt, std::size_t n) {
  ensure_init();
  constexpr std::size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  Bytes out(nb + n + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  randombytes_buf(out.data(), nb);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + nb, &clen, pt, n, ad.data(), ad.size(),
                                             nullptr, out.data(), key.data());
  out.resize(nb + clen);
  return out;
}

Result<SecretBytes> aead_open(const SecretBytes& key, const Bytes& ad, const Bytes& sealed) {
  ensure_init();
  constexpr std::size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  constexpr std::size_t tb = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (key.size() != kAeadKeyBytes) return Error::other("AEAD key must be 32 bytes");
  if (sealed.size() < nb + tb) return Error::integrity("sealed data too short");
  SecretBytes out(sealed.size() - nb - tb);
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &mlen, nullptr, sealed.data() + nb,
                                                 sealed.size() - nb, ad.data(), ad.size(),
                                                 sealed.data(), key.data()) != 0)
    return Error::integrity("authentication failed: wrong key, wrong binding or tampered data");
  out.resize(mlen);
  return out;
}

Result<SecretBytes> stretch_domain(const SecretBytes& text) {
  ensure_init();
  // Fixed salt: the same domain string must give the same key everywhere.
  unsigned char salt[crypto_pwhash_SALTBYTES];
  crypto_generichash(salt, sizeof salt,
                     reinterpret_cast<const unsigned char*>("hsm-migrate text domain v1"), 26,
                     nullptr, 0);
  SecretBytes key(32);
  if (crypto_pwhash(key.data(), key.size(), reinterpret_cast<const char*>(text.data()), text.size(),
                    salt, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Error::other("out of memory while stretching the domain secret");
  return key;
}

Result<std::string> hash_pin(const SecretBytes& pin) {
  ensure_init();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, reinterpret_cast<const char*>(pin.data()), pin.size(),
                        crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return Error::other("out of memory while hashing the PIN");
  return std::string(out);
}

bool verify_pin(const std::string& stored, const SecretBytes& pin) {
  ensure_init();
  return crypto_pwhash_str_verify(stored.c_str(), reinterpret_cast<const char*>(pin.data()),
                                  pin.size()) == 0;
}

}  // namespace hsm::luna::crypto
