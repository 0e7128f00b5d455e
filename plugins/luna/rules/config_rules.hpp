// Rules that govern a device's own configuration (not cloning): firmware
// ranges, upgrades, FM, partition creation, policies, domains, suites and
// capacity. Pure functions of descriptions; the emulated device calls them
// before every change, and `plan check` calls them on simulated states.
// Each returns an empty Status when allowed, or a refused Error naming the rule.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::luna::rules {

// P1 + kind ranges: luna6/backup-g5 6.x, luna7 7.0.0+, cloud 7.8.0+.
api::Status check_firmware(api::DeviceKind kind, const api::Version& fw);
// Upward only, and within the kind's range (P1); along a documented update
// path (X9 for Luna 7, X6 for the Backup HSM G5: kind_profile's
// update_paths). A refusal's fix names the path to take ("update to 7.4.2
// first, then to 7.7.0") when the table has one.
api::Status check_upgrade(const api::DeviceDesc& dev, const api::Version& to);
// The flag for an allowed upgrade to a release the table does not know (no
// entry in update_paths): one line naming it; "" when the table knows `to`.
std::string upgrade_path_flag(const api::DeviceDesc& dev, const api::Version& to);
// The rule ID of the update paths of a kind: X6 (Backup HSM G5), else X9.
const char* update_rule(api::DeviceKind kind);
// The upgrades to run in order, each allowed by check_upgrade, from `from`
// to `to` (the last element is `to`); empty when no documented path leads
// there. Prefers the newest intermediate release.
std::vector<api::Version> upgrade_route(api::DeviceKind kind, const api::Version& from,
                                        const api::Version& to);
// S2: needs firmware >= 7.4.0, one-way (not twice); S3: never on a Backup HSM;
// X9: needs HSM policy 50 (allow Functionality Modules) = 1.
api::Status check_enable_fm(const api::DeviceDesc& dev);

struct PartitionSpec {
  std::string_view name;
  api::PartitionType type = api::PartitionType::v0;
  api::AuthKind auth = api::AuthKind::password;
  bool fips = false;
};
// X7: V1 only from 7.7.0; C4/X10: a cloud service is one password partition;
// partition-count limits; name syntax.
api::Status check_partition_create(const api::DeviceDesc& dev, int existing_partitions,
                                   const PartitionSpec& spec);

// Policies a new partition starts with (P5: 42 starts OFF from 7.7.1; D1: 44 OFF).
std::map<int, int> initial_partition_policies(const api::DeviceDesc& dev, const PartitionSpec& s);
// On an upgrade crossing 7.7.1 / 7.8.0, the policies that appear (P5, D1).
std::map<int, int> policies_added_by_upgrade(const api::Version& from, const api::Version& to);

// P5 (42 only non-FIPS, never V1, only 7.7.1+), D1 (44 only 7.8.0+), X1.
api::Status check_partition_policy(const api::DeviceDesc& dev, const api::PartitionDesc& part,
                                   int id, int value);
// X2 (policy 12 = 0 would put every partition in FIPS: refused while any has 42 ON), X1.
api::Status check_hsm_policy(const api::DeviceDesc& dev,
                             const std::vector<api::PartitionDesc>& parts, int id, int value);

// D1-D4. `label` names the domain to act on ("" = the unlabelled first one).
api::Status check_domain_add(const api::DeviceDesc& dev, const api::PartitionDesc& part,
                             std::string_view label, std::string_view fingerprint);
api::Status check_domain_label(const api::DeviceDesc& dev, const api::PartitionDesc& part,
                               std::string_view label, std::string_view new_label);
api::Status check_domain_delete(const api::DeviceDesc& dev, const api::PartitionDesc& part,
                                std::string_view label);

// U2: suites exist only from 7.8.0 (cloud included) and must be known.
api::Status check_suite_change(const api::DeviceDesc& dev, const api::PartitionDesc& part,
                               std::string_view suite);

// C1: a cloud service holds at most 100 token objects. `adding` counts
// objects that would be created (not those already present). K1 for generation.
api::Status check_capacity(const api::DeviceDesc& dev, const api::PartitionDesc& part,
                           std::uint64_t adding);

// rule C1 over objects that arrive one after another (a clone, a restore,
// HA replication): an object whose content fingerprint the partition already
// holds (part.held_fingerprints), or that came earlier in the same run, is
// not created again and takes no room; every other object takes one. The one
// count behind evaluate_clone, HA replication and the plan checker.
class CapacityCount {
 public:
  // Keeps a reference to part.held_fingerprints: `part` must outlive the count.
  CapacityCount(const api::DeviceDesc& dev, const api::PartitionDesc& part);
  // Empty when `o` fits or is already present; else the C1 refusal (the
  // object is then not counted).
  api::Status take(const api::ObjectDesc& o);
  bool present(const api::ObjectDesc& o) const;
  std::uint64_t created() const { return created_; }
  std::uint64_t already_present() const { return already_; }

 private:
  std::string where_;
  std::optional<std::uint64_t> limit_;
  std::uint64_t holds_ = 0;
  std::uint64_t created_ = 0;
  std::uint64_t already_ = 0;
  const std::set<std::string>* held_;
  std::set<std::string> seen_;
};
api::Status check_key_generation(const api::DeviceDesc& dev, const api::PartitionDesc& part,
                                 api::KeyType type, int bits, api::KeygenMechanism mech);

// rule K4: the client remaps RSA PKCS / X9.31 key generation to FIPS 186-3
// automatically when client >= 10.1.0 and firmware < 7.7.1, and with client
// >= 10.4.0 when the partition is in FIPS mode. Returns the mechanism used.
api::KeygenMechanism remap_keygen(const api::DeviceDesc& dev, const api::PartitionDesc& part,
                                  api::KeygenMechanism requested, const api::ClientDesc& client);

// Effective FIPS mode of a partition (X2).
bool effective_fips(const api::DeviceDesc& dev, bool partition_fips_flag);

}  // namespace hsm::luna::rules
