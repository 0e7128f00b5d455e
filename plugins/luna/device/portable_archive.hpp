// The emulated Luna's side of the portable form (portable_form.hpp;
// plugins/pkcs11/portable-form.md): the same bytes a PKCS#11 token computes
// on the token, computed here in the device model with OpenSSL (RFC 5649
// key wrap, AES-256-GCM). Used by `backup --portable`, by the restore of a
// portable archive (from a token, or a portable one from a Luna), and by
// KWP clones with tokens (portable_clone.cpp).
#pragma once

#include <set>
#include <span>
#include <string>

#include "plugins/api/archive.hpp"
#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/luna/cloning/flat_object.hpp"
#include "plugins/luna/device/portable_form.hpp"

namespace hsm::luna::portable {

// S (seal) and W (wrap) of one archive or clone batch: device memory only.
struct Keys {
  api::SecretBytes seal;
  api::SecretBytes wrap;
};
Keys new_keys();
api::Result<WrappedKeys> wrap_keys(const api::SecretBytes& domain_key, const Keys& k);
// Errors: integrity (not wrapped under this domain key, or damaged).
api::Result<Keys> unwrap_keys(const api::SecretBytes& domain_key, const WrappedKeys& w);
// The header's domain tag for one archive (hex).
api::Result<std::string> domain_tag(const api::SecretBytes& domain_key, const api::ArchiveId& id);

// A portable archive in progress (source) or being opened (target).
struct ArchiveState {
  Keys keys;
  api::SecretBytes domain_key;  // the archive's domain: secret fingerprints are computed under it
};

// A Luna model object as a sealed blob (nonce || GCM(S, aad, record)).
// position: the record's handle. Errors: usage for an object the portable
// form cannot carry (a data object).
api::Result<api::Bytes> seal_object(const ArchiveState& a, const cloning::FlatObject& f, std::uint64_t position,
                                    std::span<const std::uint8_t> aad);

// A sealed blob back as a Luna model object: the key unwrapped (a
// token's PKCS#8 without the zero padding SoftHSM 2.6.1 adds), the public
// key from CKA_PUBLIC_KEY_INFO (or derived), and the object's fingerprint
// computed by this device (crypto::fingerprint), not taken from the record.
// Errors: integrity (does not open, not a record, a key that does not
// unwrap or parse).
api::Result<cloning::FlatObject> open_object(const Keys& k, std::span<const std::uint8_t> aad,
                                             std::span<const std::uint8_t> sealed);

// The archive MAC of the portable form: nonce || GCM tag under S.
api::Result<api::Bytes> archive_mac(const Keys& k, const api::ArchiveFinish& f);
api::Status check_archive_mac(const Keys& k, const api::ArchiveFinish& f, const api::Bytes& mac);

// A clone offer this partition made to a token (KWP), kept in memory.
struct CloneTarget {
  api::Bytes offer_blob;
  std::set<api::Bytes> seen_sessions;  // SHA-256 of each session opened: no replay
};

}  // namespace hsm::luna::portable
