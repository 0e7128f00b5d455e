#include "plugins/luna/device/archive_keys.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/crypto/suites.hpp"

namespace hsm::luna::archive_keys {

using api::Bytes;
using api::Error;
using api::Result;
using api::SecretBytes;

namespace {

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

bool has_form(const Bytes& w, std::string_view form) {
  return w.size() >= form.size() && std::equal(form.begin(), form.end(), w.begin());
}

std::string id_hex(const api::ArchiveId& id) { return crypto::hex(id.data(), id.size()); }

}  // namespace

Result<SecretBytes> bound_domain_key(const SecretBytes& domain_key, const api::ArchiveId& id) {
  return crypto::stretch_for_archive(domain_key, id);
}

Result<std::string> domain_tag_hex(const SecretBytes& bound_key) {
  HSM_TRY_ASSIGN(SecretBytes tag, crypto::hkdf_sha256(bound_key, {}, bytes_of("hsm-migrate archive domain tag v2"), 32));
  return crypto::hex(tag.data(), tag.size());
}

Result<Bytes> wrap_v2(const SecretBytes& bound_key, const api::ArchiveId& id, const SecretBytes& amk) {
  HSM_TRY_ASSIGN(SecretBytes wk, crypto::hkdf_sha256(bound_key, {}, bytes_of("hsm-migrate archive master key wrap v2"), 32));
  Bytes out = bytes_of("AMK2");
  const Bytes sealed = crypto::aead_seal(wk, bytes_of("hsm-migrate archive master key v2|" + id_hex(id)), amk);
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

Result<SecretBytes> unwrap_v2(const SecretBytes& bound_key, const api::ArchiveId& id, const Bytes& wrapped) {
  if (!has_form(wrapped, "AMK2"))
    return Error::integrity("the archive's wrapped master key is not in a form this device knows for format 2");
  HSM_TRY_ASSIGN(SecretBytes wk, crypto::hkdf_sha256(bound_key, {}, bytes_of("hsm-migrate archive master key wrap v2"), 32));
  auto amk = crypto::aead_open(wk, bytes_of("hsm-migrate archive master key v2|" + id_hex(id)),
                               Bytes(wrapped.begin() + 4, wrapped.end()));
  if (!amk.ok() || amk->size() != 32)
    return Error::integrity("the archive's master key does not unwrap: the archive is not of this domain, "
                            "or its header was tampered with");
  return std::move(*amk);
}

Result<SecretBytes> unwrap_v1(const SecretBytes& domain_key, const std::string& fp, const Bytes& wrapped) {
  if (!has_form(wrapped, "AMK1"))
    return Error::integrity("the archive's wrapped master key is not in a form this device knows for format 1");
  HSM_TRY_ASSIGN(SecretBytes wk,
                 crypto::hkdf_sha256(domain_key, {}, bytes_of("hsm-migrate archive master key wrap v1|" + fp), 32));
  auto amk = crypto::aead_open(wk, bytes_of("hsm-migrate archive master key v1|" + fp),
                               Bytes(wrapped.begin() + 4, wrapped.end()));
  if (!amk.ok() || amk->size() != 32)
    return Error::integrity("the archive's master key does not unwrap with domain " + fp.substr(0, 16) +
                            ": the archive is not of this domain or was tampered with");
  return std::move(*amk);
}

namespace {

Result<Bytes> gmac(const SecretBytes& amk, const api::ArchiveFinish& f, const std::uint8_t* nonce) {
  HSM_TRY_ASSIGN(SecretBytes key, crypto::hkdf_sha256(amk, {}, bytes_of("hsm-migrate archive mac v2"), 32));
  HSM_TRY_ASSIGN(crypto::SuiteAead aead, crypto::SuiteAead::create(crypto::Suite::aes_256_gcm, key));
  const Bytes msg = api::archive_mac_message(f);
  Bytes out(nonce, nonce + crypto::kSuiteNonceBytes);
  out.resize(kMacBytes);
  HSM_TRY(aead.seal(nonce, msg.data(), msg.size(), nullptr, 0, out.data() + crypto::kSuiteNonceBytes));
  return out;
}

}  // namespace

Result<Bytes> archive_mac(const SecretBytes& amk, const api::ArchiveFinish& f) {
  const Bytes nonce = crypto::random_bytes(crypto::kSuiteNonceBytes);
  return gmac(amk, f, nonce.data());
}

api::Status check_archive_mac(const SecretBytes& amk, const api::ArchiveFinish& f, const Bytes& mac) {
  if (mac.size() != kMacBytes) return Error::integrity("the archive MAC is missing or has the wrong size");
  HSM_TRY_ASSIGN(Bytes expect, gmac(amk, f, mac.data()));
  if (CRYPTO_memcmp(expect.data(), mac.data(), kMacBytes) != 0)
    return Error::integrity("the archive MAC does not verify under the domain: its header, blob count or "
                            "contents were changed after the backup (" + std::to_string(f.blob_count) +
                            " blob(s) claimed)");
  return {};
}

}  // namespace hsm::luna::archive_keys
