// The plugin interface (ABI version 3).
//
// Each module in the plugin folder exports two symbols:
//   hsm_migrate_abi_version  -- extern "C" const std::uint32_t, read first;
//                               must equal kAbiVersion or the module is refused.
//   hsm_migrate_backend      -- BOOST_DLL_ALIAS of a function returning the
//                               module's Backend singleton (Backend& ()).
// Shape (style: ccache remote storage): a Backend is a factory that creates or
// opens Devices from a state folder; a Device opens Partitions; every verb
// returns a Result. No exception crosses this boundary. Objects handed out by
// a module must not outlive it: the loader keeps modules loaded for the life
// of the process.
//
// ABI history (bump kAbiVersion on any change to these classes):
//   version 1: devices, partitions, keys, key use, cloning, blob export.
//              Amended in place (no module was ever released without it):
//              Backend::check_ha_group, the HA group rules as a pure
//              function (every module in the tree implements it).
//              Amended in place: Partition backup_begin/backup_seal/
//              backup_sign/restore_begin/restore_blobs (archives, issue 4).
//              Amended in place: clone_in's CloneInMode and
//              CloneInResult::deleted (restore --replace from a Backup HSM).
//   version 2: archive format 2 (trust and retention work, issue 10):
//              backup_begin takes the archive id; backup_sign became
//              backup_finish (signature and archive MAC); ArchiveSource
//              carries the MAC and what it covers; restore counts say
//              replace_blocked and mac_verified. Archive types moved to
//              plugins/api/archive.hpp. generate_keys returns a
//              KeyGenResult (objects and notices such as K4). Partition
//              reset_pin; ErrorKind::auth (a wrong or locked PIN).
//   version 3: a second backend family, PKCS#11 tokens (issue 12), without
//              a field per backend: DeviceKind::pkcs11; Protocol::kwp (the
//              cross-family transport); Attributes (name/value pairs) on
//              DeviceDesc and ObjectDesc for what a backend reports, and on
//              DeviceCreateRequest as registration options (`device add`)
//              with its credential; PartitionDesc::transport (KeyCapability,
//              rule T3); ArchiveBeginRequest::portable; Partition::
//              backup_refused (objects a backup left out, with the rule).
//              Amended in place (version 3 was not yet released):
//              ArchiveRestoreOptions::dry_run; api::archive_selects, the
//              archive selector's one meaning; Error::problems (a plan's
//              problems, each with its file and line); KeyGenRequest::
//              progress.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/api/archive.hpp"
#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::api {

inline constexpr std::uint32_t kAbiVersion = 3;
inline constexpr const char* kAbiSymbol = "hsm_migrate_abi_version";
inline constexpr const char* kBackendSymbol = "hsm_migrate_backend";

struct DomainSecret {
  DomainKind kind = DomainKind::text;
  std::string label;   // "" allowed for the first domain (D2)
  SecretBytes secret;  // text: the domain string; ped: the PED-key secret bytes
};

struct DeviceCreateRequest {
  std::string name;
  Version firmware;
  bool fm_enabled = false;
  // The fleet's emulated manufacturer: its root certificate signs every
  // device's hardware origin key (HOK) certificate. Shared by all devices of
  // one --home; created on first use.
  std::filesystem::path factory_dir;
  // Registering a device that exists outside hsm-migrate (`device add`, a
  // PKCS#11 token): the options it is found by, as the backend names them
  // (pkcs11: "module", "token" or "slot", "serial", "partition",
  // "module-env", "softhsm2-folder", "init-token"), and the credential to set it up with (a token's user
  // PIN). The credential is never stored.
  Attributes options;
  SecretBytes credential;
};

struct PartitionCreateRequest {
  std::string name;
  PartitionType type = PartitionType::v0;
  AuthKind auth = AuthKind::password;
  bool fips = false;
  DomainSecret domain;
  SecretBytes pin;  // the partition (PO) password / PED PIN
};

struct KeyGenResult {
  std::vector<ObjectDesc> created;
  // What the device did other than what was asked, each naming its rule
  // (allowed verdicts), e.g. K4: the client remapped the RSA mechanism.
  std::vector<Verdict> notices;
};

struct KeyGenRequest {
  std::string type;  // "aes-256", "rsa-2048", "ec-p384", "ed25519", "des3", ...
  int count = 1;
  std::string label;  // base label; with count > 1 a "-N" suffix is added
  bool extractable = true;
  KeygenMechanism mechanism = KeygenMechanism::none;  // RSA only; K3
  ClientDesc client;  // K4: the client may remap the mechanism
  // Called after each key is made (done of total keys asked for); the tool
  // draws its progress line from it. May be empty.
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

// What a target accepts, produced by the target and carried by the tool.
struct CloneOffer {
  std::vector<Protocol> accepts;  // informational; the blob is authoritative
  Bytes blob;                     // certificates / signed ephemeral key (opaque)
};

// Opaque protocol messages produced by a source for one target.
struct CloneMessages {
  Protocol protocol = Protocol::cpv1;
  Bytes session;              // CPv4: the source half of the handshake; else empty
  std::vector<Bytes> objects;  // one sealed message per object
  // rule U4: a V1 source sends its SKS master key as the one protocol
  // message and its objects as SIM4 blobs (sealed under that key).
  std::vector<Bytes> sim4;
};

struct ObjectVerdict {
  ObjectDesc object;
  Verdict verdict;
};

struct CloneOutResult {
  CloneMessages messages;
  std::vector<ObjectDesc> sent;         // in the order of messages.objects
  std::vector<ObjectVerdict> refused;   // refused by the source's rules
};

// lunacm's restore modes, for a clone into a partition: add keeps the
// partition's objects; replace_all deletes them first, in the same
// transaction as the objects created.
enum class CloneInMode { add, replace_all };

struct CloneInResult {
  std::uint64_t deleted = 0;                // replace_all: objects deleted first
  std::vector<ObjectDesc> created;
  std::vector<ObjectDesc> already_present;  // matched by content fingerprint
  std::vector<ObjectVerdict> refused;       // refused by the target's rules
};

class Partition {
 public:
  virtual ~Partition() = default;

  virtual Result<Endpoint> describe() = 0;
  // The PO role: mutating and key-using verbs fail until login succeeds,
  // and objects that are private (every key but a public key) are listed
  // only after it, as in PKCS#11. A wrong PIN is Error::auth with
  // CKR_PIN_INCORRECT; consecutive failures lock the partition
  // (CKR_PIN_LOCKED) until reset_pin.
  virtual Status login(const SecretBytes& pin) = 0;
  // The HSM SO's reset of a partition's PIN (after a lockout, or a lost
  // PIN): sets new_pin and clears the failure count; needs no login.
  virtual Status reset_pin(const SecretBytes& new_pin) = 0;

  // Streams objects in handle order; the visitor returns false to stop.
  // Memory stays bounded whatever the object count.
  virtual Status for_each_object(const std::function<bool(const ObjectDesc&)>& visit) = 0;
  // selector: "all", a label, a handle ("#12") or a CKA_ID in hex ("id:0a1b").
  virtual Result<std::vector<ObjectDesc>> find_objects(std::string_view selector) = 0;

  virtual Result<KeyGenResult> generate_keys(const KeyGenRequest& req) = 0;
  virtual Status set_policy(int id, int value) = 0;
  virtual Status domain_add(const DomainSecret& domain, bool primary) = 0;
  virtual Status domain_label(std::string_view label, std::string_view new_label,
                              bool primary) = 0;
  virtual Status domain_delete(std::string_view label) = 0;
  virtual Status set_suite(std::string_view suite, bool enabled) = 0;

  // Key use, for drills and for proving a clone moved the same key.
  virtual Result<Bytes> sign(std::uint64_t handle, const Bytes& data) = 0;
  virtual Result<bool> verify(std::uint64_t handle, const Bytes& data, const Bytes& sig) = 0;
  virtual Result<Bytes> encrypt(std::uint64_t handle, const Bytes& plaintext) = 0;
  virtual Result<Bytes> decrypt(std::uint64_t handle, const Bytes& ciphertext) = 0;

  // Cloning. The tool is only the middle-man: the target makes an offer, the
  // source checks it and seals the objects, the target checks and creates.
  // Target side: what this partition accepts from `source` (certificate or
  // signed ephemeral key, per protocol). Valid until the session expires.
  virtual Result<CloneOffer> clone_offer(const Endpoint& source, const ClientDesc& client) = 0;
  // Source side: objects (by handle) sealed for the target that made `offer`.
  // Objects the source's rules refuse are listed, not sent. An Error with
  // rule "U1" means the offer's session expired: ask for a new offer.
  virtual Result<CloneOutResult> clone_out(const CloneOffer& offer, const Endpoint& target,
                                           const std::vector<std::uint64_t>& handles,
                                           const ClientDesc& client) = 0;
  // Target side: opens, checks and creates the objects in one transaction.
  // Objects whose content fingerprint is already present are not doubled.
  virtual Result<CloneInResult> clone_in(const Endpoint& source, const CloneMessages& messages,
                                         const ClientDesc& client, CloneInMode mode) = 0;
  Result<CloneInResult> clone_in(const Endpoint& source, const CloneMessages& messages, const ClientDesc& client) {
    return clone_in(source, messages, client, CloneInMode::add);
  }

  // Archives (plugins/api/archive.hpp). Source side: header material (a fresh
  // archive master key, kept in memory and wrapped for the primary domain,
  // bound to the archive id), then every selected object sealed under it with
  // the associated data ad_for gives, in handle order (V1, rule U4: the SMK
  // first, then SIM4 blobs), then the HOK's signature of the archive digest
  // and (v2) the archive MAC. Returns the blob count.
  virtual Result<ArchiveBegin> backup_begin(const ArchiveBeginRequest& request) = 0;
  virtual Result<std::uint64_t> backup_seal(std::string_view selector, const ArchiveAdFor& ad_for,
                                            const ArchiveSink& sink) = 0;
  virtual Result<ArchiveSeal> backup_finish(const ArchiveFinish& finish) = 0;
  // The objects the last backup_seal left out, each with its refusal (a
  // PKCS#11 token: T2, a non-extractable key never leaves; T3, a key kind it
  // cannot wrap), judged from their attributes before anything was wrapped.
  // An emulated Luna archives every selected object: empty.
  virtual std::vector<ArchiveObjectReport> backup_refused() const { return {}; }
  // Target side: recognises the archive's domain (S1 refusal when it holds
  // none; integrity when the crypto fails), unwraps the master key and (v2)
  // checks the archive MAC; then opens and checks every blob (rules as for a
  // clone) in ONE store transaction: any integrity failure, a blob count
  // that differs from the MAC'd one, or (replace) any refusal writes nothing.
  virtual Status restore_begin(const ArchiveSource& source) = 0;
  virtual Result<ArchiveRestoreCounts> restore_blobs(const ArchiveBlobSource& blobs,
                                                     const ArchiveRestoreOptions& options,
                                                     const ArchiveReport& report) = 0;
};

class Device {
 public:
  virtual ~Device() = default;

  virtual Result<DeviceDesc> describe() = 0;
  virtual Result<std::vector<std::string>> partition_names() = 0;
  virtual Result<std::unique_ptr<Partition>> open_partition(std::string_view name) = 0;
  virtual Result<std::unique_ptr<Partition>> create_partition(const PartitionCreateRequest& r) = 0;

  virtual Status upgrade(const Version& firmware) = 0;
  virtual Status enable_fm() = 0;
  virtual Status set_clock_skew(std::int64_t seconds) = 0;  // emulation: skew the clock
  virtual Status sync_clock() = 0;  // U3: the SO syncs with host time (needs HSM policy 57)
  virtual Status set_hsm_policy(int id, int value) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view kind() const = 0;     // "luna6", "luna7", "cloud", "backup-g5", "pkcs11"
  virtual std::string_view version() const = 0;  // the module's own version
  virtual std::string_view summary() const = 0;  // one line for `plugins`

  // `dir` is the device's own folder (created 0700 by the caller).
  virtual Result<std::unique_ptr<Device>> create_device(const std::filesystem::path& dir,
                                                        const DeviceCreateRequest& req) = 0;
  virtual Result<std::unique_ptr<Device>> open_device(const std::filesystem::path& dir) = 0;

  // The rules as a pure function of descriptions: the pair, then each object
  // in order (capacity included). `check`, `clone` and `plan check` all ask
  // this, so a verdict never differs between them.
  virtual Evaluation evaluate(const Endpoint& source, const Endpoint& target,
                              const std::vector<ObjectDesc>& objects,
                              const ClientDesc& client) const = 0;

  // The HA group rules (H1-H8, X8) as a pure function of descriptions: every
  // refusal (allowed = false) and warning (allowed = true, `warnings` set)
  // for the group; empty when it is fine. The tool asks the primary's
  // backend and stores the group; it knows no rule itself.
  virtual std::vector<Verdict> check_ha_group(const HaGroup& group, const ClientDesc& client) const = 0;
};

using BackendEntry = Backend&();

}  // namespace hsm::api
