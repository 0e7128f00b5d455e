// Helpers shared by the migrations/ sources; not part of the public API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "migrations/check.hpp"
#include "plugins/api/status.hpp"

namespace hsm::plans::detail {

// Every step action's name, comma-separated (for "expected one of ...").
std::string action_names();

// Key types as `key generate --type` takes them (kept in step with
// crypto::parse_key_spec, which this library does not link).
struct KeyShape {
  api::KeyType type;
  int bits;
  std::string curve;
};
std::optional<KeyShape> key_shape(std::string_view type);
inline constexpr const char* kKeyTypeChoices =
    "aes-128, aes-192, aes-256, des3, rsa-1024, rsa-2048, rsa-3072, rsa-4096, ec-p256, ec-p384, ec-p521, "
    "ed25519";
bool asymmetric(api::KeyType t);

// The objects a KeySpec stands for (a private and a public object per
// asymmetric key), labelled as `key generate` labels them.
std::vector<api::ObjectDesc> objects_of(const DeviceState& dev, const PartitionState& part, const KeySpec& k,
                                        api::KeygenMechanism mech, std::uint64_t& next_handle);

Problem setup_problem(const api::Error& e, int line, std::vector<std::string> devices);

}  // namespace hsm::plans::detail
