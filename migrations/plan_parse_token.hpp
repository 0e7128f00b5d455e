// The plan parser's part for PKCS#11 tokens (kind = "pkcs11", issue 12 §7);
// internal to migrations/plan_parse*.cpp. A token is one device with one
// partition (T1) that the plan registers in --home when absent, optionally
// in a SoftHSM2 folder of the home that the plan sets up itself.
#pragma once

#include <vector>

#include "migrations/plan.hpp"
#include "migrations/plan_reader.hpp"

namespace hsm::plans::detail {

// The keys of a [[device]] only a token has.
inline const std::vector<std::string> kTokenDeviceKeys{"module", "token", "module_env",
                                                       "softhsm2_folder"};

// A [[device]] of kind pkcs11: its token keys, and the Luna-only keys it
// must not have. Called after `kind` was read.
void read_token_device(Reader& r, DeviceSpec& d);
// A [[device]] of another kind must not have the token keys.
void refuse_token_keys(Reader& r);
// A token's [[device.partition]]: the Luna-only keys it must not have.
void check_token_partition(Reader& r);
// After its partitions were read: exactly one (T1), and the token label.
void finish_token_device(Reader& r, DeviceSpec& d);

}  // namespace hsm::plans::detail
