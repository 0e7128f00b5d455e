// The device store's schema (version kSchemaVersion in device_core.hpp).
// Stored enums are their string names (api::to_string), never numbers.
#pragma once

namespace hsm::luna {

inline constexpr const char* kSchemaSql = R"SQL(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE hsm_policy(id INTEGER PRIMARY KEY, value INTEGER NOT NULL);
-- Device secrets (HOK, FM-HOK, TWCs), sealed under the storage key.
CREATE TABLE secret(name TEXT PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE cert(name TEXT PRIMARY KEY, der BLOB NOT NULL);
CREATE TABLE partition(
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, type TEXT NOT NULL, auth TEXT NOT NULL,
  fips INTEGER NOT NULL, pin_hash TEXT NOT NULL, smk_sealed BLOB, created INTEGER NOT NULL,
  failed_logins INTEGER NOT NULL DEFAULT 0);
CREATE TABLE partition_policy(
  partition_id INTEGER NOT NULL REFERENCES partition(id) ON DELETE CASCADE,
  id INTEGER NOT NULL, value INTEGER NOT NULL, PRIMARY KEY(partition_id, id));
CREATE TABLE domain(
  partition_id INTEGER NOT NULL REFERENCES partition(id) ON DELETE CASCADE,
  position INTEGER NOT NULL, label TEXT NOT NULL, kind TEXT NOT NULL, is_primary INTEGER NOT NULL,
  fingerprint TEXT NOT NULL, key_sealed BLOB NOT NULL, PRIMARY KEY(partition_id, position));
CREATE TABLE suite(
  partition_id INTEGER NOT NULL REFERENCES partition(id) ON DELETE CASCADE,
  name TEXT NOT NULL, enabled INTEGER NOT NULL, PRIMARY KEY(partition_id, name));
-- Attributes are not secret and stay queryable; key material is sealed,
-- bound to (device, partition, handle).
CREATE TABLE object(
  partition_id INTEGER NOT NULL REFERENCES partition(id) ON DELETE CASCADE,
  handle INTEGER NOT NULL, label TEXT NOT NULL, id_hex TEXT NOT NULL, class TEXT NOT NULL,
  key_type TEXT NOT NULL, bits INTEGER NOT NULL, curve TEXT NOT NULL, extractable INTEGER NOT NULL,
  sensitive INTEGER NOT NULL, assigned INTEGER NOT NULL, per_key_auth INTEGER NOT NULL,
  key_ring INTEGER NOT NULL, des3_counters INTEGER NOT NULL, unknown_attr INTEGER NOT NULL,
  keygen TEXT NOT NULL, origin_fm TEXT NOT NULL, travelled TEXT NOT NULL,
  fingerprint TEXT NOT NULL, pair_id TEXT NOT NULL, public_der BLOB, material_sealed BLOB NOT NULL,
  created INTEGER NOT NULL, PRIMARY KEY(partition_id, handle));
CREATE INDEX object_fingerprint ON object(partition_id, fingerprint);
CREATE INDEX object_label ON object(partition_id, label);
CREATE TABLE audit(seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, what TEXT NOT NULL);
)SQL";

// Upgrades, applied in order in one transaction when a device is opened:
// kSchemaUpgrades[v - 1] takes a version v store to version v + 1.
inline constexpr const char* kSchemaUpgrades[] = {
    // 1 -> 2: consecutive wrong PINs per partition (login lockout).
    "ALTER TABLE partition ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;",
};

}  // namespace hsm::luna
