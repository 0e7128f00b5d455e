// Setting a token up for hsm-migrate: its cloning domains (T4), its
// identity key pair (the HOK that signs its archives) and what key kinds it
// can move (T3). Done at `device add` and `partition domain add`; the host
// handles the domain secret only then, as at `partition create --domain-file`.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "plugins/api/archive.hpp"
#include "plugins/api/backend.hpp"
#include "plugins/pkcs11/device/registration.hpp"
#include "plugins/pkcs11/token/session.hpp"

namespace hsm::p11::plugin {

// rule T4: the domain KEK with this fingerprint (label kDomainKekLabel,
// CKA_ID = the 32 bytes of the fingerprint). Usage error when the token
// does not hold it.
api::Result<CK_OBJECT_HANDLE> find_kek(Session& s, const std::string& fingerprint);
// The KEK of the partition's primary domain, or CK_INVALID_HANDLE when it
// holds none.
api::Result<CK_OBJECT_HANDLE> primary_kek(Session& s, const Registration& r);

// rule T4: derives the domain key from the secret exactly as the emulated
// Luna partitions do (plugins/luna: Argon2id for a text domain, HKDF for a
// PED secret), imports it ONCE as a non-extractable, wrap/unwrap-only AES-256
// token object, and records the domain in `r` (the caller saves it).
api::Status add_domain(Session& s, Registration& r, const api::DomainSecret& domain, bool primary);
api::Status delete_domain(Session& s, Registration& r, std::string_view label);
api::Status relabel_domain(Registration& r, std::string_view label, std::string_view new_label,
                           bool primary);

// The identity key pair, generated on the token (non-extractable): Ed25519
// when the token signs with it, else ECDSA P-256 (archive format 2 allows
// either), certified by the fleet's manufacturing root with the CN
// "<device> HOK". Nothing stays on the token when it fails.
api::Status create_identity(Session& s, Registration& r, const std::filesystem::path& factory_dir,
                            const std::string& prefer);
// The 64-byte signature of an archive digest by the identity key: `known`
// when the caller already found it in this session (a search of SoftHSM2
// reads every object's file), else found by its registered CKA_ID.
api::Result<api::Bytes> sign_digest(Session& s, const Registration& r, const api::Digest32& digest,
                                    CK_OBJECT_HANDLE known = CK_INVALID_HANDLE);

// rule T3, by trying: the key kinds this token moves both ways (KWP wrap and
// unwrap, session objects only, nothing left behind), with the sizes its
// mechanism info allows.
api::Result<std::vector<api::KeyCapability>> probe_capabilities(Session& s);

}  // namespace hsm::p11::plugin
