// The backup-g5 plugin: the shared Luna model configured as a Luna Backup HSM G5.
// Everything kind-specific lives in plugins/luna/rules/kind_profile.cpp.
#include <boost/dll/alias.hpp>

#include "plugins/luna/device/luna_backend.hpp"

HSM_LUNA_PLUGIN(hsm::api::DeviceKind::backup_g5)
