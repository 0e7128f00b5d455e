// The domain-keyed cryptography of an emulated Luna's archives
// (formats/archive-format.md, "Domain binding", "Archive MAC"): how the
// archive master key (AMK) is wrapped for a cloning domain, how a partition
// recognises its domain in an archive, and the archive MAC. Pure functions
// over keys; the partition verbs (partition_archive.cpp) call them.
//
// Wrapped-key forms (the first 4 bytes of the header's wrapped master key):
//   "AMK1" (format 1, read only): XChaCha20-Poly1305 under
//          HKDF-SHA256(domain key, info "hsm-migrate archive master key wrap v1|" || fp)
//          with AD "hsm-migrate archive master key v1|" || fp   (fp: fingerprint, hex)
//   "AMK2" (format 2): with A = stretch_for_archive(domain key, archive id)
//          (Argon2id at the PIN verifier's cost, the archive id as salt),
//          domain tag = HKDF-SHA256(A, info "hsm-migrate archive domain tag v2"),
//          XChaCha20-Poly1305 under HKDF-SHA256(A, info "hsm-migrate archive master key wrap v2")
//          with AD "hsm-migrate archive master key v2|" || archive id (hex).
// Archive MAC (format 2): AES-256-GCM under
//   HKDF-SHA256(AMK, info "hsm-migrate archive mac v2"), a random 12-byte
//   nonce, no plaintext, api::archive_mac_message() as the associated data;
//   stored as nonce || tag (28 bytes).
#pragma once

#include <string>

#include "plugins/api/archive.hpp"
#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"

namespace hsm::luna::archive_keys {

inline constexpr std::size_t kMacBytes = 28;

// Format 2: the archive-bound domain key A (costly: one Argon2id).
api::Result<api::SecretBytes> bound_domain_key(const api::SecretBytes& domain_key, const api::ArchiveId& id);
// Format 2: the per-archive domain tag, hex (the header's domain field).
api::Result<std::string> domain_tag_hex(const api::SecretBytes& bound_key);
api::Result<api::Bytes> wrap_v2(const api::SecretBytes& bound_key, const api::ArchiveId& id,
                                const api::SecretBytes& amk);
// Errors: integrity (not this form, wrong key, tampered).
api::Result<api::SecretBytes> unwrap_v2(const api::SecretBytes& bound_key, const api::ArchiveId& id,
                                        const api::Bytes& wrapped);
// Format 1 (read only): fp is the domain fingerprint in hex.
api::Result<api::SecretBytes> unwrap_v1(const api::SecretBytes& domain_key, const std::string& fp,
                                        const api::Bytes& wrapped);

api::Result<api::Bytes> archive_mac(const api::SecretBytes& amk, const api::ArchiveFinish& finish);
// Errors: integrity, naming what the MAC protects.
api::Status check_archive_mac(const api::SecretBytes& amk, const api::ArchiveFinish& finish, const api::Bytes& mac);

}  // namespace hsm::luna::archive_keys
