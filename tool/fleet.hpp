// The fleet: emulated devices in a home folder (--home, else
// $HSM_MIGRATE_HOME, else $XDG_STATE_HOME/hsm-migrate, else
// ~/.local/state/hsm-migrate). Layout:
//   HOME/devices/NAME/kind       the device kind, one word (selects the plugin)
//   HOME/devices/NAME/...        the plugin's own state (state.db, hardware.key)
//   HOME/factory/                the emulated manufacturer (root certificate)
// The tool knows no Luna rule; it only finds the plugin for each device.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "plugins/api/backend.hpp"
#include "tool/plugin_loader.hpp"

namespace hsm::tool {

struct Address {
  std::string device;
  std::string partition;
};
api::Result<Address> parse_address(std::string_view text);
api::Status check_device_name(std::string_view name);

class Fleet {
 public:
  Fleet(std::filesystem::path home, const PluginLoader& plugins);
  // --home, else $HSM_MIGRATE_HOME, else $XDG_STATE_HOME/hsm-migrate, else
  // $HOME/.local/state/hsm-migrate; empty when there is no absolute base.
  static std::filesystem::path default_home();
  // Errors (usage): no home at all; an existing home that is not a folder,
  // that others can write to, or that belongs to another user. Never changes
  // a folder's mode.
  api::Status check_home() const;
  // check_home, then creates the home 0700 when absent.
  api::Status ensure_home() const;

  const std::filesystem::path& home() const { return home_; }
  api::Result<std::unique_ptr<api::Device>> create(const std::string& name, const std::string& kind,
                                                   api::DeviceCreateRequest req);
  api::Result<std::unique_ptr<api::Device>> open(const std::string& name) const;
  api::Result<std::string> kind_of(const std::string& name) const;
  api::Result<std::vector<std::string>> names() const;
  api::Result<std::unique_ptr<api::Partition>> open_partition(const Address& a) const;

 private:
  std::filesystem::path home_;
  const PluginLoader& plugins_;
  // Devices opened through open_partition stay alive as long as the fleet.
  mutable std::vector<std::unique_ptr<api::Device>> kept_;
};

}  // namespace hsm::tool
