// What the fleet keeps of a registered token (`device add`), in the
// device's own folder: HOME/devices/NAME/token.json (0600, replaced
// atomically). The module and how to find the token again (T1: its label
// and serial, never a slot id), the partition name, the identity key's CKA_ID
// and certificates, the domains the token joined (T4), and the key kinds it
// was found to move (T3). Never a PIN, never key material.
//
// Format history (the "format" field):
//   1: issue 12, first version.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::p11::plugin {

inline constexpr int kRegistrationFormat = 1;
inline constexpr const char* kRegistrationFile = "token.json";

struct Registration {
  std::string device;     // the fleet's name for it
  std::string partition;  // the one partition's name (default: the token label)
  std::string module;     // path of the PKCS#11 library
  // Variables the module reads at C_Initialize (SoftHSM2: SOFTHSM2_CONF;
  // a Luna client: ChrystokiConfigurationPath), set before loading it.
  api::Attributes module_env;
  std::string token_label;   // T1
  std::string token_serial;  // T1
  // The identity (HOK) key pair generated on the token at registration.
  std::string identity_key;  // "ed25519" or "p256"
  api::Bytes identity_id;    // its CKA_ID
  api::Bytes hok_cert;       // issued by the fleet's manufacturing root, CN "<device> HOK"
  api::Bytes root_cert;
  std::vector<api::DomainDesc> domains;        // T4, in the order joined
  std::vector<api::KeyCapability> transport;  // T3, found by trying
  std::int64_t registered_at = 0;
};

api::Result<Registration> load_registration(const std::filesystem::path& dir);
api::Status save_registration(const std::filesystem::path& dir, const Registration& r);
// Writes a file of the device's state: 0600, temp file + fsync + rename.
api::Status write_private_file(const std::filesystem::path& path, std::string_view body);

}  // namespace hsm::p11::plugin
