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
  // Not a Luna: a PKCS#11 token as the Luna rules see a peer (one partition,
  // no object limit of its own, no FMs). Its key kinds come from the token
  // itself (PartitionDesc::transport, rule T3), never from this table.
  static const KindProfile kPkcs11{DeviceKind::pkcs11, {0, 0, 0}, std::nullopt, {0, 0, 0},
                                   1, std::nullopt, false, false, true, 0,
                                   "PKCS#11 token (one token = one partition; moves keys by KWP)"};
  switch (kind) {
    case DeviceKind::luna6: return kLuna6;
    case DeviceKind::luna7: return kLuna7;
    case DeviceKind::cloud: return kCloud;
    case DeviceKind::backup_g5: return kBackup;
    case DeviceKind::pkcs11: return kPkcs11;
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
        case DeviceKind::pkcs11: return Version{0, 0, 0};  // rule T3 judges tokens
      }
  }
  return std::nullopt;
}

const std::vector<UpdatePath>& update_paths() {
  auto one = [](Version v) { return VersionRange{v, v}; };
  static const std::vector<UpdatePath> kPaths{
      // rule X9: "Valid paths to 7.7.0: from 7.0.1 through 7.4.2" -- the
      // releases of that span (there is no 7.5 or 7.6).
      {DeviceKind::luna7,
       {7, 7, 0},
       {one({7, 0, 1}), one({7, 0, 2}), one({7, 0, 3}), one({7, 1, 0}), one({7, 2, 0}),
        one({7, 3, 0}), one({7, 3, 3}), one({7, 4, 0}), one({7, 4, 1}), one({7, 4, 2})},
       "X9"},
      // rule X9: 7.8.4 accepts an update from any firmware 7.0.1 through 7.8.2.
      {DeviceKind::luna7, {7, 8, 4}, {{{7, 0, 1}, {7, 8, 2}}}, "X9"},
      // rule X6: the Backup HSM G5 reaches 6.28.0 from 6.10.9, 6.26.0 or 6.27.0.
      {DeviceKind::backup_g5,
       {6, 28, 0},
       {one({6, 10, 9}), one({6, 26, 0}), one({6, 27, 0})},
       "X6"},
  };
  return kPaths;
}

const UpdatePath* update_path_to(DeviceKind kind, const Version& release) {
  for (const auto& p : update_paths())
    if (p.kind == kind && p.release == release) return &p;
  return nullptr;
}

const std::vector<std::string>& cpv4_suites() {
  static const std::vector<std::string> kSuites{"aes-256-gcm", "chacha20-poly1305"};
  return kSuites;
}

bool is_cloud(const api::DeviceDesc& d) { return d.kind == DeviceKind::cloud; }

}  // namespace hsm::luna
