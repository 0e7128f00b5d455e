// The state every open Device and Partition of one emulated HSM shares: its
// SQLite store, its storage key and its profile. Internal to plugins/luna.
//
// On disk, a device is a folder (0700):
//   state.db       SQLite: configuration, partitions, objects (sealed), audit
//   hardware.key   32 bytes: the storage key. It emulates the HSM's internal
//                  tamper-resistant memory, so it is kept out of state.db;
//                  everything secret in state.db is sealed under it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "plugins/api/backend.hpp"
#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/rules/kind_profile.hpp"
#include "plugins/luna/store/sqlite.hpp"

namespace hsm::luna {

// Schema history (meta.schema_version):
//   version 1: meta, hsm_policy, secret, cert, partition, partition_policy,
//              domain, suite, object, audit.
//   version 2: partition.failed_logins (login lockout). Version 1 stores
//              are upgraded in place when opened (schema.hpp).
inline constexpr int kSchemaVersion = 2;

struct DeviceCore {
  const KindProfile* profile = nullptr;
  std::filesystem::path dir;
  std::unique_ptr<store::Db> db;
  api::SecretBytes storage_key;
  std::string uuid;

  static api::Result<std::shared_ptr<DeviceCore>> open(const KindProfile& profile,
                                                       const std::filesystem::path& dir);

  api::Result<api::DeviceDesc> describe();
  // Applies the schema upgrades of schema.hpp to a store of an older version.
  api::Status upgrade_schema(const std::string& version);
  api::Result<std::string> meta(std::string_view key);
  api::Status set_meta(std::string_view key, std::string_view value);
  api::Status audit(std::string_view what);

  // Seal/open a secret bound to its place ("what" + ids) under the storage key.
  api::Bytes seal(std::string_view what, std::int64_t a, std::int64_t b, const api::SecretBytes& s);
  api::Result<api::SecretBytes> open_sealed(std::string_view what, std::int64_t a, std::int64_t b,
                                            const api::Bytes& sealed);

  // The device's own secrets (HOK, TWCs) by name, and certificates.
  api::Status put_secret(std::string_view name, const api::SecretBytes& secret);
  api::Result<api::SecretBytes> get_secret(std::string_view name);
  api::Status put_cert(std::string_view name, const api::Bytes& der);
  api::Result<api::Bytes> get_cert(std::string_view name);

  // The device's clock: host time plus its emulated skew.
  std::int64_t now(const api::DeviceDesc& d) const;
  // rule C4 (model): a cloud service sits behind a network.
  void network_latency() const;
};

// The emulated manufacturer of one fleet: an Ed25519 root key and its
// self-signed certificate in factory_dir (created on first use, 0600).
struct Factory {
  api::SecretBytes root_private;
  api::Bytes root_cert;
  static api::Result<Factory> load_or_create(const std::filesystem::path& factory_dir);
};

// Reads/writes a small secret file: created 0600 with O_EXCL, fsynced.
api::Status write_secret_file(const std::filesystem::path& path, const api::SecretBytes& data);
api::Result<api::SecretBytes> read_secret_file(const std::filesystem::path& path);

std::int64_t host_time();

}  // namespace hsm::luna
