// Descriptions: plain values that describe a device, a partition, an object
// and the client. The rules (plugins/luna/rules) are pure functions of these,
// so the same verdict serves `check`, `clone` and `plan check` (which builds
// descriptions of devices that exist only in a plan).
//
// Persisted enums are stored by their string names (to_string/parse below),
// never by number.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugins/api/version.hpp"

namespace hsm::api {

using Bytes = std::vector<std::uint8_t>;

enum class DeviceKind { luna6, luna7, cloud, backup_g5, pkcs11 };
enum class FmState { never, enabled };  // S2: enabling is one-way
enum class PartitionType { v0, v1 };
enum class AuthKind { password, mfa };
enum class DomainKind { text, ped };
// kwp: hsm-migrate's cross-family transport between an emulated Luna and a
// PKCS#11 token, or two tokens, of one cloning domain (RFC 5649 key wrap
// under the domain key, records sealed by AES-GCM: the portable form,
// plugins/pkcs11/portable-form.md).
enum class Protocol { cpv1, cpv3, cpv4, kwp };
enum class ObjectClass { secret_key, private_key, public_key, data, certificate };
enum class KeyType { aes, des3, rsa, ec, ed25519, generic };
enum class KeygenMechanism { none, pkcs, x9_31, fips186_3 };  // K3/K4

// String forms used in JSON, SQLite and plans ("luna6", "backup-g5", "CPv4"...).
std::string_view to_string(DeviceKind);
std::string_view to_string(FmState);
std::string_view to_string(PartitionType);
std::string_view to_string(AuthKind);
std::string_view to_string(DomainKind);
std::string_view to_string(Protocol);
std::string_view to_string(ObjectClass);
std::string_view to_string(KeyType);
std::string_view to_string(KeygenMechanism);
std::optional<DeviceKind> parse_device_kind(std::string_view);
std::optional<FmState> parse_fm_state(std::string_view);
std::optional<PartitionType> parse_partition_type(std::string_view);
std::optional<AuthKind> parse_auth_kind(std::string_view);
std::optional<DomainKind> parse_domain_kind(std::string_view);
std::optional<Protocol> parse_protocol(std::string_view);
std::optional<ObjectClass> parse_object_class(std::string_view);
std::optional<KeyType> parse_key_type(std::string_view);
std::optional<KeygenMechanism> parse_keygen_mechanism(std::string_view);

// Well-known policy numbers (seed 003, spec section 8).
namespace policy {
inline constexpr int hsm_allow_cloning = 7;          // X1
inline constexpr int hsm_allow_non_fips = 12;        // X2: 0 = whole HSM in FIPS mode
inline constexpr int hsm_network_replication = 16;   // X8
inline constexpr int hsm_allow_fm = 50;              // X9
inline constexpr int hsm_allow_clock_sync = 57;      // U3
inline constexpr int part_private_key_cloning = 0;   // X1
inline constexpr int part_private_key_wrapping = 1;  // X1
inline constexpr int part_secret_key_cloning = 4;    // X1
inline constexpr int part_network_replication = 16;  // U5
inline constexpr int part_allow_cpv1 = 42;           // P5
inline constexpr int part_allow_non_fips = 43;       // X2
inline constexpr int part_domain_management = 44;    // D1
}  // namespace policy

// What a backend reports beyond the fields of a description, and the options
// a device was registered with, as ordered name/value pairs (style: ccache's
// remote storage attributes): the interface grows no field per backend. A
// pkcs11 device: "module", "token", "serial", "manufacturer", "model",
// "mechanism CKM_AES_KEY_WRAP_PAD", ...; a token object: "CKA_SIGN" = "true".
// Never a secret.
using Attributes = std::vector<std::pair<std::string, std::string>>;

// A key kind a partition can move in and out by key wrap, as the device
// itself found it by trying (rule T3): a key type, its size range in bits
// and, for EC and Edwards keys, the curves by name ("P-256", "Ed25519").
struct KeyCapability {
  KeyType type = KeyType::aes;
  int min_bits = 0;
  int max_bits = 0;
  std::vector<std::string> curves;
};

struct DomainDesc {
  std::string label;        // "" = unlabelled (D2)
  DomainKind kind = DomainKind::text;
  bool primary = false;     // D3: exactly one per partition
  std::string fingerprint;  // hex; equal fingerprints = same domain. Never the secret.
};

struct DeviceDesc {
  std::string name;
  DeviceKind kind = DeviceKind::luna7;
  Version firmware;
  FmState fm = FmState::never;
  std::map<int, int> hsm_policies;
  std::int64_t clock_offset_s = 0;  // emulated skew against host time (U3)
  bool safexcel = false;            // H6: Luna 6 SafeXcel 1746 co-processor enabled
  // Backend facts (pkcs11: module, token, mechanisms...). By convention a
  // device the backend cannot reach now is still described from what it
  // registered, with an attribute "state" saying why ("unreachable: ...").
  Attributes attributes;
};

struct PartitionDesc {
  std::string name;
  PartitionType type = PartitionType::v0;
  AuthKind auth = AuthKind::password;
  bool fips = false;  // effective FIPS mode (X2: partition flag or HSM policy 12 = 0)
  std::map<int, int> policies;
  std::vector<DomainDesc> domains;            // in order; D1..D4
  std::vector<std::string> suites_available;  // CPv4 cipher suites (7.8.0+)
  std::vector<std::string> suites_enabled;
  std::uint64_t object_count = 0;
  // Content fingerprints of objects the partition already holds, as far as
  // the caller looked: describe() leaves it empty (the list can be long), and
  // a caller may keep only those of the objects it asks about. Rule C1 counts
  // only objects that would be created, so one whose fingerprint is here
  // takes no room.
  std::set<std::string> held_fingerprints;
  // A PKCS#11 token (DeviceKind::pkcs11): the key kinds it can wrap out and
  // unwrap in (rule T3), found by trying when the token was registered.
  // Empty for Luna partitions (their kind's rules say, K1/K2); for a token
  // target, empty means it can take none.
  std::vector<KeyCapability> transport;
};

// A partition on a device: what the rules take for a source or a target.
struct Endpoint {
  DeviceDesc device;
  PartitionDesc partition;
  std::string address() const { return device.name + "/" + partition.name; }
};

struct ObjectDesc {
  std::uint64_t handle = 0;  // per-partition object handle
  std::string label;
  std::string id_hex;  // CKA_ID
  ObjectClass cls = ObjectClass::secret_key;
  KeyType key_type = KeyType::aes;
  int bits = 0;        // key size in bits (RSA modulus, AES key, EC field)
  std::string curve;   // "P-256", "P-384", "P-521", "Ed25519" or ""
  bool extractable = true;
  bool sensitive = true;
  bool assigned = false;        // CKA_ASSIGNED (S5)
  bool per_key_auth = false;    // CKA_PER_KEY_AUTH_DATA set (S5)
  bool key_ring = false;        // key-ring vendor attributes present (S5)
  bool des3_counters = false;   // CKA_BYTES_REMAINING etc. present (S5, X6)
  bool unknown_attribute = false;  // carries an attribute newer firmware rejects (S5)
  KeygenMechanism keygen = KeygenMechanism::none;  // K3
  FmState origin_fm = FmState::never;              // S2/S3: FM class of the creating HSM
  std::vector<Protocol> travelled;                 // S3: protocols it came in by
  std::string fingerprint;                         // hex content fingerprint (dedup)
  std::string pair_id;  // objects of one key pair share it (private+public)
  // Further attributes as the backend reports them, by PKCS#11 name (a
  // token object's usage flags, CKA_LOCAL, CKA_NEVER_EXTRACTABLE, ...);
  // empty for emulated Luna objects, whose model keeps none.
  Attributes attributes;
};

struct ClientDesc {
  Version version{10, 9, 0};  // U6 default
  bool cv_ha_ui = true;       // H4: lunacm_cv_ha_ui (1 = cloud as standby only)
};

// An HA group as the client configures it (a client-side construct, like
// Chrystoki.conf's HA section): members[0] is the primary (H3); standby[i]
// marks a member added as a standby (H4). standby has members.size() entries.
struct HaGroup {
  std::string name;
  std::vector<Endpoint> members;
  std::vector<bool> standby;
  // What replication carries to every member: the primary's objects (each
  // member's held_fingerprints says which it already holds, rule C1). Empty
  // when the caller did not look; then capacity is not judged.
  std::vector<ObjectDesc> primary_objects;
};

// A rule's answer. Refusals are values, not exceptions.
struct Verdict {
  bool allowed = true;
  std::optional<Protocol> protocol;
  std::string rule;     // rule ID of a refusal ("" when allowed)
  std::string code;     // CKR_ name of a refusal
  std::string message;  // one line
  std::string fix;      // "" when none
  std::vector<std::string> warnings;  // e.g. H8 one-way pairs
  bool stripped = false;              // S5: permissive attributes stripped
};

// A clone judged as a whole: the pair, each object (same order as given),
// and how many objects one operation may carry (C2).
struct Evaluation {
  Verdict pair;
  std::vector<Verdict> objects;
  std::size_t batch_limit = 0;
  bool allowed() const {
    if (!pair.allowed) return false;
    for (const auto& o : objects)
      if (!o.allowed) return false;
    return true;
  }
};

}  // namespace hsm::api
