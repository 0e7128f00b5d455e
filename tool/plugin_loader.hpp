// Loads backend modules with Boost.DLL. A module is refused -- with one line
// naming the file and the reason -- when it is not a loadable module, lacks
// the ABI version or the entry point, or has another interface version; the
// others still load. Modules stay loaded for the life of the loader.
#pragma once

#include <boost/dll/shared_library.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "plugins/api/backend.hpp"

namespace hsm::tool {

struct LoadedPlugin {
  std::string kind;
  std::string version;
  std::string summary;
  std::filesystem::path file;
  api::Backend* backend = nullptr;
};

struct RefusedPlugin {
  std::filesystem::path file;
  std::string reason;
};

class PluginLoader {
 public:
  // Folders to search, in order: --plugin-dir, else HSM_MIGRATE_PLUGIN_PATH
  // (colon-separated), else default_dirs(the executable's folder).
  static std::vector<std::filesystem::path> search_path(const std::string& plugin_dir_flag);
  // With no flag and no variable: the plugin folder relative to the folder
  // of the executable, in an install (<bin>/<HSM_MIGRATE_PLUGIN_DIR_FROM_BIN>,
  // set by the build from GNUInstallDirs) or in the build tree
  // (<bin>/../lib/hsm-migrate/plugins) -- the first that exists, else all
  // of them, so the "does not exist" refusals name every place looked in.
  static std::vector<std::filesystem::path> default_dirs(const std::filesystem::path& bin_dir);

  void load_from(const std::vector<std::filesystem::path>& dirs);
  const std::vector<LoadedPlugin>& loaded() const { return loaded_; }
  const std::vector<RefusedPlugin>& refused() const { return refused_; }
  api::Backend* find(std::string_view kind) const;

 private:
  void load_file(const std::filesystem::path& file);

  std::vector<boost::dll::shared_library> libs_;
  std::vector<LoadedPlugin> loaded_;
  std::vector<RefusedPlugin> refused_;
};

}  // namespace hsm::tool
