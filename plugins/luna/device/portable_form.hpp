// The portable form: archives and clone messages that an emulated Luna
// partition and a PKCS#11 token of the same cloning domain both produce and
// open (issue 12 §3). Specification: plugins/pkcs11/portable-form.md. This
// file is the codec both families share; the cryptography is each family's
// own (a token computes it on the token: plugins/pkcs11/device/; an emulated
// Luna in its model: portable_archive.hpp). Nothing here holds a key in
// clear: a record carries its key KWP-wrapped.
//
//   domain key D (32 bytes: the Luna domain key = the token's domain KEK, T4)
//   per archive / per clone batch: S (AES-256, AES-GCM) and W (AES-256, KWP)
//   wrapped master key  "PKW1" || KWP(D, S) || KWP(D, W)            84 bytes
//   domain tag          SHA-256("hsm-migrate portable domain tag v1" ||
//                               KWP(D, SHA-256("hsm-migrate portable tag input v1" || archive id)))
//   blob                nonce (12) || AES-GCM(S, nonce, AAD = the blob's
//                       associated data, record) || tag (16)
//   record              "PKR1" u64 position str8 fingerprint
//                       u16 n { u32 CKA type, u32 length, value } x n
//                       u32 w, w bytes KWP(W, key value) (0 for public keys)
//   archive MAC         nonce (12) || tag (16) of AES-GCM(S, nonce,
//                       AAD = api::archive_mac_message(), no plaintext)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/api/archive.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::luna::portable {

using api::Bytes;

// PKCS#11 2.40 attribute numbers the record carries (never renumber: they
// are the standard's), and hsm-migrate's own vendor attributes for the Luna
// model's provenance ("HM" in CKA_VENDOR_DEFINED space).
namespace cka {
inline constexpr std::uint32_t kClass = 0x0, kToken = 0x1, kPrivate = 0x2, kLabel = 0x3, kTrusted = 0x86,
                               kKeyType = 0x100, kId = 0x102, kSensitive = 0x103, kEncrypt = 0x104,
                               kDecrypt = 0x105, kWrap = 0x106, kUnwrap = 0x107, kSign = 0x108,
                               kSignRecover = 0x109, kVerify = 0x10A, kVerifyRecover = 0x10B,
                               kDerive = 0x10C, kModulusBits = 0x121, kPublicKeyInfo = 0x129,
                               kValueLen = 0x161, kExtractable = 0x162, kLocal = 0x163,
                               kNeverExtractable = 0x164, kAlwaysSensitive = 0x165,
                               kKeyGenMechanism = 0x166, kModifiable = 0x170, kCopyable = 0x171,
                               kDestroyable = 0x172, kEcParams = 0x180, kAlwaysAuthenticate = 0x202,
                               kWrapWithTrusted = 0x210;
// Vendor attributes of hsm-migrate: the Luna model's provenance (S2/S3/K3)
// and the Luna vendor attributes an object had (S5/T5), as a bit set.
inline constexpr std::uint32_t kHmOriginFm = 0xC84D0001, kHmTravelled = 0xC84D0002,
                               kHmKeygen = 0xC84D0003, kHmPairId = 0xC84D0004, kHmLunaFlags = 0xC84D0005;
}  // namespace cka
// Bits of kHmLunaFlags: Luna vendor attributes no generic token can take (T5).
namespace luna_flag {
inline constexpr std::uint8_t kAssigned = 1, kPerKeyAuth = 2, kKeyRing = 4, kDes3Counters = 8, kUnknown = 16;
}
namespace cko {
inline constexpr std::uint64_t kData = 0, kCertificate = 1, kPublicKey = 2, kPrivateKey = 3, kSecretKey = 4;
}
namespace ckk {
inline constexpr std::uint64_t kRsa = 0, kEc = 3, kGenericSecret = 0x10, kDes3 = 0x15, kAes = 0x1F, kEdwards = 0x40;
}

// "CKA_SIGN", or "CKA_0x..." for a number the table does not know.
std::string attribute_name(std::uint32_t type);

struct Attribute {
  std::uint32_t type = 0;
  Bytes value;  // CK_BBOOL: 1 byte; CK_ULONG: u64le; byte arrays as they are
};
Attribute bool_attribute(std::uint32_t type, bool v);
Attribute ulong_attribute(std::uint32_t type, std::uint64_t v);
Attribute bytes_attribute(std::uint32_t type, std::span<const std::uint8_t> v);
Attribute text_attribute(std::uint32_t type, std::string_view v);

// The plaintext of one sealed blob.
struct Record {
  // The object's stable place in this archive or batch (1, 2, ...): token
  // handles are valid for one load of a module only, so the archive records
  // this position (also the record's handle, bound by the associated data)
  // and the object's CKA_ID and CKA_LABEL in the attributes.
  std::uint64_t position = 0;
  std::string fingerprint;  // hex: see secret_fingerprint / public_fingerprint
  std::vector<Attribute> attributes;
  Bytes wrapped_key;  // KWP(W, value): raw for secret keys, PKCS#8 for private keys; empty for public keys

  const Attribute* find(std::uint32_t type) const;
  std::optional<bool> flag(std::uint32_t type) const;
  std::optional<std::uint64_t> ulong(std::uint32_t type) const;
  std::string text(std::uint32_t type) const;  // "" when absent
};

inline constexpr std::size_t kMaxAttributes = 64;
inline constexpr std::size_t kMaxAttributeBytes = 65536;

Bytes encode_record(const Record& r);
// Errors: integrity (not a record, a length past the end, trailing bytes).
api::Result<Record> decode_record(std::span<const std::uint8_t> data);

// ---- the wrapped master key and the domain tag -----------------------------
inline constexpr std::string_view kWrappedForm = "PKW1";
inline constexpr std::size_t kKwpOf32 = 40;  // RFC 5649 output for a 32-byte key
inline constexpr std::size_t kWrappedBytes = 4 + 2 * kKwpOf32;

struct WrappedKeys {
  Bytes seal;  // KWP(D, S)
  Bytes wrap;  // KWP(D, W)
};
bool is_portable(const Bytes& wrapped_master_key);
Bytes encode_wrapped(const WrappedKeys& k);
api::Result<WrappedKeys> decode_wrapped(const Bytes& wrapped_master_key);

// The 32 bytes whose KWP under the domain key names the domain in one
// archive: SHA-256("hsm-migrate portable tag input v1" || archive id). Not
// secret; a token imports them as an AES-256 session key to wrap them.
Bytes tag_input(const api::ArchiveId& id);
// The header's domain tag (hex) from KWP(D, tag_input(id)).
std::string tag_hex(std::span<const std::uint8_t> wrapped_tag_input);

// ---- fingerprints (the same on both families) ------------------------------
// Secret keys: SHA-256("hsm-migrate portable fingerprint v1|" class "|" type
// "|" || KWP(D, value)), D a domain key: computed on a token without the
// value leaving it (RFC 5649 is deterministic), the same for one key under
// one domain on any device of that domain, and useless to anyone else.
std::string secret_fingerprint(api::ObjectClass cls, api::KeyType type,
                               std::span<const std::uint8_t> wrapped_under_domain);
// Public and private keys: SHA-256("hsm-migrate fingerprint v1|" class "|"
// type "|" || SubjectPublicKeyInfo DER), the emulated Luna's own formula.
std::string public_fingerprint(api::ObjectClass cls, api::KeyType type, std::span<const std::uint8_t> spki);

// ---- sealed blobs -----------------------------------------------------------
inline constexpr std::size_t kNonceBytes = 12, kTagBytes = 16;

// ---- clone messages (protocol KWP) ------------------------------------------
// Offer (target -> source): "PKO1" str8 target nonce(32) u8 n, n x 32-byte domain fingerprints.
struct Offer {
  std::string target;
  Bytes nonce;
  std::vector<std::string> domains;  // hex fingerprints, the target's domains in order
};
Bytes encode_offer(const Offer& o);
api::Result<Offer> decode_offer(const Bytes& blob);
// Session (source -> target, once per batch): "PKS1" fingerprint(32) KWP(D,S) KWP(D,W) str8 source.
struct Session {
  std::string domain;  // hex fingerprint of D
  WrappedKeys keys;
  std::string source;
};
Bytes encode_session(const Session& s);
api::Result<Session> decode_session(const Bytes& blob);
// The associated data of clone message `index`: binds the offer, the
// session and the position.
Bytes clone_aad(const Bytes& offer_blob, const Bytes& session_blob, std::uint64_t index);

// ---- descriptions -------------------------------------------------------------
std::optional<std::uint64_t> ckk_of(api::KeyType t);
std::optional<std::uint64_t> cko_of(api::ObjectClass c);
// DER of a named curve's OID ("P-256", "P-384", "P-521", "Ed25519"); empty when unknown.
Bytes ec_params_of(std::string_view curve);
std::string curve_of(std::span<const std::uint8_t> ec_params);  // "" when unknown

// What a record says the object is: class, key type, size, curve, label,
// CKA_ID, extractable, sensitive, the Luna provenance, and every attribute
// by name in ObjectDesc::attributes. fingerprint as recorded.
api::Result<api::ObjectDesc> desc_of(const Record& r);
// The attributes of a Luna model object (which keeps no usage flags: the
// class's own uses are carried, every other flag false, so a token sets
// each one explicitly, T5).
std::vector<Attribute> attributes_of(const api::ObjectDesc& d, std::span<const std::uint8_t> public_der,
                                     std::size_t value_len);

}  // namespace hsm::luna::portable
