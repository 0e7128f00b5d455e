#include "plugins/luna/rules/kind_profile.hpp"

namespace hsm::luna {

using api::DeviceKind;
using api::KeyType;
using api::Version;

const KindProfile& profile(DeviceKind kind) {
  // Firmware ranges: Luna 6 and the Backup HSM G5 run 6.x, Luna 7 runs 7.0.0
  // and newer; below 6.0 nothing is supported (rule P1). A cloud service is
  // already at the 7.8.0 level (P6, P7).
  static const KindProfile kLuna6{DeviceKind::luna6, {6, 0, 0}, Version{7, 0, 0}, {6, 10, 9},
                                  100, std::nullopt, true, false, true, 0,
                                  "Luna 6 (firmware 6.x, CPv1)"};
  static const KindProfile kLuna7{DeviceKind::luna7, {7, 0, 0}, std::nullopt, {7, 8, 0},
                                  100, std::nullopt, true, false, true, 0,
                                  "Luna 7 (firmware 7.x, CPv1/CPv3/CPv4)"};
  static const KindProfile kCloud{DeviceKind::cloud, {7, 8, 0}, std::nullopt, {7, 8, 0},
                                  1, 100, false, true, true, 20,
                                  "Luna Cloud HSM service (CPv1/CPv4, 100 objects)"};
  static const KindProfile kBackup{DeviceKind::backup_g5, {6, 0, 0}, Version{7, 0, 0},
                                   {6, 28, 0}, 100, std::nullopt, false, false, false, 0,
                                   "Luna Backup HSM G5 (CPv1, CPv3 from 6.28.0)"};
  switch (kind) {
    case DeviceKind::luna6: return kLuna6;
    case DeviceKind::luna7: return kLuna7;
    case DeviceKind::cloud: return kCloud;
    case DeviceKind::backup_g5: return kBackup;
  }
  return kLuna7;
}

std::optional<Version> first_firmware_for(KeyType type, DeviceKind kind) {
  switch (type) {
    case KeyType::aes:
    case KeyType::des3:
    case KeyType::rsa:
    case KeyType::ec:
    case KeyType::generic:
      return Version{6, 0, 0};
    case KeyType::ed25519:
      // Model: EdDSA arrived with Luna 7 firmware; Luna 6 never had it; the
      // Backup HSM stores it from 6.28.0 (its CPv3 release).
      switch (kind) {
        case DeviceKind::luna6: return std::nullopt;
        case DeviceKind::luna7: return Version{7, 0, 0};
        case DeviceKind::cloud: return Version{7, 8, 0};
        case DeviceKind::backup_g5: return Version{6, 28, 0};
      }
  }
  return std::nullopt;
}

const std::vector<std::string>& cpv4_suites() {
  static const std::vector<std::string> kSuites{"aes-256-gcm", "chacha20-poly1305"};
  return kSuites;
}

bool is_cloud(const api::DeviceDesc& d) { return d.kind == DeviceKind::cloud; }

}  // namespace hsm::luna
