// Device kinds as configurations of the one Luna model: firmware ranges,
// partition and object limits, which features exist. The four plugins differ
// only by the KindProfile they hand to the shared model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plugins/api/types.hpp"

namespace hsm::luna {

struct KindProfile {
  api::DeviceKind kind;
  api::Version min_firmware;                   // inclusive (P1: never below 6.0)
  std::optional<api::Version> below_firmware;  // exclusive upper bound, if any
  api::Version default_firmware;
  int max_partitions;                        // cloud: one service = one partition
  std::optional<std::uint64_t> max_objects;  // per partition (C1: 100 on cloud)
  bool can_enable_fm;                        // S3: a Backup HSM stays FM-disabled
  bool password_only;                        // C4/X10: cloud services
  bool generates_keys;                       // a Backup HSM only stores clones
  int latency_ms;                            // C4: emulated network cost per call
  std::string summary;
};

const KindProfile& profile(api::DeviceKind kind);

// rule K1 (model): the first firmware of each device kind that recognises a
// key type; nullopt = never. The one home of the key-type table.
std::optional<api::Version> first_firmware_for(api::KeyType type, api::DeviceKind kind);

// rules X9 (Luna 7) and X6 (Backup HSM G5): the documented firmware update
// paths, the one table of them. An entry names a release and the firmware it
// accepts an update from, as inclusive ranges (a listed version is a range of
// one). A release without an entry is one the table does not know: the
// update is allowed and flagged (config_rules: check_upgrade,
// upgrade_path_flag; man/hsm-migrate.1, `device upgrade`).
struct VersionRange {
  api::Version first;
  api::Version last;
  bool contains(const api::Version& v) const { return first <= v && v <= last; }
};
struct UpdatePath {
  api::DeviceKind kind;
  api::Version release;
  std::vector<VersionRange> from;  // ascending
  const char* rule;                // "X9" (Luna 7) or "X6" (Backup HSM G5)
};
const std::vector<UpdatePath>& update_paths();
// The entry for `release` on `kind`, or null when the table does not know it.
const UpdatePath* update_path_to(api::DeviceKind kind, const api::Version& release);

// CPv4 cipher suites known to firmware 7.8.0+ and cloud services (U2).
const std::vector<std::string>& cpv4_suites();

// A cloud service counts as firmware >= 7.8.0 for protocol purposes (P6).
bool is_cloud(const api::DeviceDesc& d);

}  // namespace hsm::luna
