// libsodium adapters: randomness, XChaCha20-Poly1305, Argon2id.
#include <sodium.h>

#include <array>
#include <mutex>
#include <set>

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

// A PIN verifier, Argon2id at OWASP's recommended minimum (19 MiB, 2 passes):
// a real Luna guards its PINs with hardware and lockout, the emulation with a
// memory-hard hash that a batch run (dozens of logins) can still afford. The
// parameters live in the stored string, so older verifiers still verify.
// stretch_for_archive uses the same pair: a guess at a domain secret tested
// against one archive costs at least a PIN-verifier guess.
constexpr unsigned long long kPinOps = 2;
constexpr std::size_t kPinMem = 19u << 20;

Result<SecretBytes> stretch_for_archive(const SecretBytes& domain_key, const std::array<std::uint8_t, 16>& salt) {
  ensure_init();
  static_assert(crypto_pwhash_SALTBYTES == 16, "the archive id is the salt");
  SecretBytes key(32);
  if (crypto_pwhash(key.data(), key.size(), reinterpret_cast<const char*>(domain_key.data()), domain_key.size(),
                    salt.data(), kPinOps, kPinMem, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Error::other("out of memory while deriving the archive's domain key");
  return key;
}

Result<std::string> hash_pin(const SecretBytes& pin) {
  ensure_init();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, reinterpret_cast<const char*>(pin.data()), pin.size(), kPinOps, kPinMem,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Error::other("out of memory while hashing the PIN");
  return std::string(out);
}

namespace {
// Logins this process has already verified, as keyed BLAKE2b tags of
// (verifier, PIN) under a per-process random key: a plan run logs in to the
// same partition once per step, as one PKCS#11 session would stay logged in.
// Neither a PIN nor anything that tests a PIN without the key is kept; a
// changed PIN has a new verifier (new salt), so it never matches.
class VerifiedLogins {
 public:
  static VerifiedLogins& instance() {
    static VerifiedLogins v;
    return v;
  }
  std::array<unsigned char, 32> tag(const std::string& stored, const SecretBytes& pin) const {
    std::array<unsigned char, 32> t{};
    crypto_generichash_state st;
    crypto_generichash_init(&st, key_.data(), key_.size(), t.size());
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(stored.data()), stored.size() + 1);
    crypto_generichash_update(&st, pin.data(), pin.size());
    crypto_generichash_final(&st, t.data(), t.size());
    sodium_memzero(&st, sizeof st);
    return t;
  }
  bool known(const std::array<unsigned char, 32>& t) {
    std::lock_guard<std::mutex> l(mu_);
    return tags_.count(t) > 0;
  }
  void remember(const std::array<unsigned char, 32>& t) {
    std::lock_guard<std::mutex> l(mu_);
    if (tags_.size() < 1024) tags_.insert(t);
  }

 private:
  VerifiedLogins() { randombytes_buf(key_.data(), key_.size()); }
  ~VerifiedLogins() { sodium_memzero(key_.data(), key_.size()); }
  std::array<unsigned char, crypto_generichash_KEYBYTES> key_{};
  std::mutex mu_;
  std::set<std::array<unsigned char, 32>> tags_;
};
}  // namespace

bool verify_pin(const std::string& stored, const SecretBytes& pin) {
  ensure_init();
  auto& cache = VerifiedLogins::instance();
  const auto t = cache.tag(stored, pin);
  if (cache.known(t)) return true;
  if (crypto_pwhash_str_verify(stored.c_str(), reinterpret_cast<const char*>(pin.data()), pin.size()) != 0)
    return false;
  cache.remember(t);
  return true;
}

}  // namespace hsm::luna::crypto
