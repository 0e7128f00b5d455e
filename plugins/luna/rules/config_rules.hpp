// Rules that govern a device's own configuration (not cloning): firmware
// ranges, upgrades, FM, partition creation, policies, domains, suites and
// capacity. Pure functions of descriptions; the emulated device calls them
// before every change, and `plan check` calls them on simulated states.
// Each returns an empty Status when allowed, or a refused Error naming the rule.
#pragma once

#include <cstdint>
#include <string_view>

#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::luna::rules {

// P1 + kind ranges: luna6/backup-g5 6.x, luna7 7.0.0+, cloud 7.8.0+.
api::Status check_firmware(api::DeviceKind kind, const api::Version& fw);
// Upward only, and within the kind's range (P1).
api::Status check_upgrade(const api::DeviceDesc& dev, const api::Version& to);
// S2: needs firmware >= 7.4.0, one-way (not twice); S3: never on a Backup HSM.
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

// C1: a cloud service holds at most 100 token objects. K1 for generation.
api::Status check_capacity(const api::DeviceDesc& dev, const api::PartitionDesc& part,
                           std::uint64_t adding);
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
