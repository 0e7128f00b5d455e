// A token's objects as the plugin reports them: api::ObjectDesc from what
// the token says (token/objects.hpp), the objects hsm-migrate keeps on the
// token for itself (never listed, never backed up), public keys as
// SubjectPublicKeyInfo, and content fingerprints computed on the token.
//
// Handles: a token object's handle is valid for one load of the module (one
// process); ObjectDesc::handle is that handle, so "#12" selects within one
// command only. Select by label or id:HEX across commands. Archives record
// a position instead (portable-form.md).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"
#include "plugins/pkcs11/token/objects.hpp"
#include "plugins/pkcs11/token/session.hpp"

namespace hsm::p11::plugin {

// hsm-migrate's own objects on a token: the domain key-encryption keys (T4)
// and the identity key pair. Their labels start with this prefix.
inline constexpr std::string_view kOwnLabelPrefix = "hsm-migrate:";
inline constexpr std::string_view kDomainKekLabel = "hsm-migrate:domain";
inline constexpr std::string_view kIdentityLabel = "hsm-migrate:identity";
bool is_own_object(const ObjectInfo& o);
api::Bytes bytes_of(std::string_view s);

// The filter every listing of a token's keys starts from: token objects
// only. The session objects this process makes while it works (the
// per-archive keys, keys unwrapped to compute a fingerprint, T3 probes)
// are visible to its own searches and are never the token's contents.
inline ObjectFilter token_objects() {
  ObjectFilter f;
  f.token = true;
  return f;
}

std::optional<api::ObjectClass> class_of(CK_OBJECT_CLASS c);
api::KeyType key_type_of(const ObjectInfo& o);

// The description of an object (fingerprint and public key left to the caller).
api::ObjectDesc describe_object(const ObjectInfo& o);

// The public keys of a token by CKA_ID, found in one pass (a search per
// private key would scan the whole token each time on SoftHSM).
using PublicKeyIndex = std::multimap<api::Bytes, CK_OBJECT_HANDLE>;
api::Result<PublicKeyIndex> index_public_keys(Session& s);

// SubjectPublicKeyInfo DER: of a public key; of a private key, from its
// public key object (same CKA_ID and key type) or, for RSA, from its own
// modulus. Empty when the token holds no public half (an EC private key
// alone).
api::Result<api::Bytes> spki_of(Session& s, const ObjectInfo& o, const PublicKeyIndex* index = nullptr);

// The content fingerprint (portable_form.hpp), computed on the token:
// public and private keys from the public key; secret keys as SHA-256 of
// the key wrapped (RFC 5649, deterministic) under the domain key `kek`,
// which needs the key to be extractable. "" when it cannot be computed
// (no domain, a non-extractable secret key). bits_out receives a secret
// key's size learned from the wrap (SoftHSM reads CKA_VALUE_LEN 0 after an unwrap).
api::Result<std::string> fingerprint_of(Session& s, const ObjectInfo& o, CK_OBJECT_HANDLE kek,
                                        const api::Bytes& spki, int* bits_out = nullptr);

// Objects selected by "all", a label, "#handle" or "id:HEX", in the token's
// order, hsm-migrate's own left out. Errors: usage for a bad selector.
api::Result<std::vector<CK_OBJECT_HANDLE>> select_objects(Session& s, std::string_view selector);

}  // namespace hsm::p11::plugin
