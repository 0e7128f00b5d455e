// One partition of an emulated Luna device. Internal to plugins/luna.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plugins/api/backend.hpp"
#include "plugins/luna/cloning/protocol.hpp"
#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/device/device_core.hpp"
#include "plugins/luna/device/portable_archive.hpp"

namespace hsm::luna {

// An object with its key material in clear: exists only inside the device.
struct StoredObject {
  api::ObjectDesc desc;
  crypto::KeyMaterial material;
};

class LunaPartition final : public api::Partition {
 public:
  LunaPartition(std::shared_ptr<DeviceCore> core, std::int64_t id, std::string name);

  api::Result<api::Endpoint> describe() override;
  api::Status login(const api::SecretBytes& pin) override;
  api::Status reset_pin(const api::SecretBytes& new_pin) override;
  api::Status for_each_object(const std::function<bool(const api::ObjectDesc&)>& visit) override;
  api::Result<std::vector<api::ObjectDesc>> find_objects(std::string_view selector) override;
  api::Result<api::KeyGenResult> generate_keys(const api::KeyGenRequest& req) override;
  api::Status set_policy(int id, int value) override;
  api::Status domain_add(const api::DomainSecret& domain, bool primary) override;
  api::Status domain_label(std::string_view label, std::string_view new_label, bool primary) override;
  api::Status domain_delete(std::string_view label) override;
  api::Status set_suite(std::string_view suite, bool enabled) override;
  api::Result<api::Bytes> sign(std::uint64_t handle, const api::Bytes& data) override;
  api::Result<bool> verify(std::uint64_t handle, const api::Bytes& data, const api::Bytes& sig) override;
  api::Result<api::Bytes> encrypt(std::uint64_t handle, const api::Bytes& plaintext) override;
  api::Result<api::Bytes> decrypt(std::uint64_t handle, const api::Bytes& ciphertext) override;
  // Cloning verbs: partition_cloning.cpp.
  api::Result<api::CloneOffer> clone_offer(const api::Endpoint& source, const api::ClientDesc& client) override;
  api::Result<api::CloneOutResult> clone_out(const api::CloneOffer& offer, const api::Endpoint& target,
                                             const std::vector<std::uint64_t>& handles,
                                             const api::ClientDesc& client) override;
  using api::Partition::clone_in;  // the add-mode shorthand
  api::Result<api::CloneInResult> clone_in(const api::Endpoint& source, const api::CloneMessages& messages,
                                           const api::ClientDesc& client, api::CloneInMode mode) override;
  // Archive verbs: partition_archive.cpp.
  api::Result<api::ArchiveBegin> backup_begin(const api::ArchiveBeginRequest& request) override;
  api::Result<std::uint64_t> backup_seal(std::string_view selector, const api::ArchiveAdFor& ad_for,
                                         const api::ArchiveSink& sink) override;
  api::Result<api::ArchiveSeal> backup_finish(const api::ArchiveFinish& finish) override;
  api::Status restore_begin(const api::ArchiveSource& source) override;
  api::Result<api::ArchiveRestoreCounts> restore_blobs(const api::ArchiveBlobSource& blobs,
                                                       const api::ArchiveRestoreOptions& options,
                                                       const api::ArchiveReport& report) override;

  // For the cloning and archive layers of the model. A loop over many
  // handles prepares the query once (load_statement) and passes it in:
  // preparing it per object was most of a CPv4 clone_out's time.
  api::Result<StoredObject> load(std::uint64_t handle);
  std::unique_ptr<store::Stmt> load_statement();
  api::Result<StoredObject> load(store::Stmt& q, std::uint64_t handle);
  // Inserts objects (handles assigned here) inside the caller's transaction.
  api::Result<std::vector<api::ObjectDesc>> insert_objects(std::vector<StoredObject>& objects);
  api::Status require_login() const;
  std::int64_t id() const { return id_; }
  // The device identity (HOK, certificate chain, clock) the protocols sign with.
  api::Result<cloning::DeviceIdentity> identity(const api::DeviceDesc& dev);
  // This partition's cloning domain keys, in order (D1-D4).
  api::Result<std::vector<cloning::DomainKey>> domain_keys();
  // A V1 partition's SKS master key (rule U4).
  api::Result<api::SecretBytes> smk();
  // The handle of an object with this content fingerprint, or 0 (dedup).
  api::Result<std::uint64_t> handle_of_fingerprint(const std::string& fingerprint);
  DeviceCore& core() { return *core_; }

 private:
  api::Result<api::PartitionDesc> load_desc(const api::DeviceDesc& dev);
  const char* visible() const;  // the listing filter before login
  api::Result<api::SecretBytes> derive_domain_key(const api::DomainSecret& d);

  std::shared_ptr<DeviceCore> core_;
  std::int64_t id_;
  std::string name_;
  api::Result<cloning::Twc> twc(const cloning::DeviceIdentity& me, int bits);

  bool logged_in_ = false;
  // Target side of a clone: the offer this partition made, kept in memory
  // only (its ephemeral key never touches the disk), and the TWC it named.
  std::optional<cloning::TargetSession> session_;
  std::optional<cloning::Twc> session_twc_;
  // Archives: the master key of the backup or restore in progress, in
  // memory only (SecretBytes zeroises it), and the archive's source.
  std::optional<api::SecretBytes> archive_key_;
  std::optional<api::ArchiveId> archive_id_;  // the backup in progress
  std::optional<api::ArchiveSource> archive_source_;

  // The portable form with PKCS#11 tokens (issue 12; portable_archive.cpp,
  // portable_clone.cpp): a portable archive in progress (`backup
  // --portable`, or the restore of a portable archive), and the KWP clone
  // offer this partition made to a token.
  api::Status backup_begin_portable(api::ArchiveBegin& b, const cloning::DomainKey& primary,
                                    const api::ArchiveId& id);
  api::Status restore_begin_portable(const api::ArchiveSource& source,
                                     const std::vector<cloning::DomainKey>& domains);
  api::Result<api::CloneOffer> clone_offer_kwp(const api::Endpoint& me);
  api::Result<api::CloneOutResult> clone_out_kwp(const api::Endpoint& me, const api::CloneOffer& offer,
                                                 const api::Endpoint& target,
                                                 const std::vector<std::uint64_t>& handles,
                                                 const api::ClientDesc& client);
  api::Result<cloning::Opened> open_kwp(const std::vector<cloning::DomainKey>& domains,
                                        const api::CloneMessages& messages, const api::Endpoint& source);
  std::optional<portable::ArchiveState> portable_;
  std::optional<portable::CloneTarget> kwp_offer_;
};

// Derives the 32-byte key of a domain: Argon2id for a text domain, HKDF for
// a PED-key secret; and its public fingerprint.
api::Result<api::SecretBytes> domain_key(const api::DomainSecret& d);
std::string domain_fingerprint(const api::SecretBytes& key);

}  // namespace hsm::luna
