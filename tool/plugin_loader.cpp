#include "tool/plugin_loader.hpp"

#include <boost/dll/runtime_symbol_info.hpp>

#include <algorithm>
#include <cstdlib>

namespace hsm::tool {

namespace fs = std::filesystem;

std::vector<fs::path> PluginLoader::search_path(const std::string& flag) {
  std::vector<fs::path> out;
  if (!flag.empty()) return {flag};
  if (const char* env = std::getenv("HSM_MIGRATE_PLUGIN_PATH"); env && *env) {
    std::string s = env;
    std::size_t start = 0;
    while (start <= s.size()) {
      auto end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) out.emplace_back(s.substr(start, end - start));
      start = end + 1;
    }
    return out;
  }
  return default_dirs(fs::path(boost::dll::program_location().string()).parent_path());
}

std::vector<fs::path> PluginLoader::default_dirs(const fs::path& bin_dir) {
  // The installed layout first (GNUInstallDirs: <prefix>/bin and
  // <prefix>/<libdir>/hsm-migrate/plugins, libdir lib or lib/<multiarch>),
  // then the build tree's <build>/bin and <build>/lib/hsm-migrate/plugins.
  std::vector<fs::path> candidates;
#ifdef HSM_MIGRATE_PLUGIN_DIR_FROM_BIN
  candidates.push_back((bin_dir / HSM_MIGRATE_PLUGIN_DIR_FROM_BIN).lexically_normal());
#endif
  const fs::path build_tree =
      (bin_dir / ".." / "lib" / "hsm-migrate" / "plugins").lexically_normal();
  if (std::find(candidates.begin(), candidates.end(), build_tree) == candidates.end())
    candidates.push_back(build_tree);
  // The first folder that exists is the one: searching both would load each
  // plugin twice when they are the same, and report a missing folder when
  // the other layout is simply not this one. None exists: name them all.
  std::error_code ec;
  for (const auto& c : candidates)
    if (fs::is_directory(c, ec)) return {c};
  return candidates;
}

void PluginLoader::load_from(const std::vector<fs::path>& dirs) {
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      refused_.push_back({dir, "plugin folder does not exist"});
      continue;
    }
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file() && e.path().extension() == ".so") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) load_file(f);
  }
}

void PluginLoader::load_file(const fs::path& file) {
  boost::dll::shared_library lib;
  boost::dll::fs::error_code ec;
  lib.load(file.string(), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec || !lib.is_loaded()) {
    refused_.push_back({file, "not a loadable module (" + ec.message() + ")"});
    return;
  }
  if (!lib.has(api::kAbiSymbol)) {
    refused_.push_back({file, std::string("missing the ") + api::kAbiSymbol + " symbol"});
    return;
  }
  const std::uint32_t abi = lib.get<const std::uint32_t>(api::kAbiSymbol);
  if (abi != api::kAbiVersion) {
    refused_.push_back({file, "plugin interface version " + std::to_string(abi) +
                                  ", this hsm-migrate needs version " +
                                  std::to_string(api::kAbiVersion) + "; rebuild the plugin"});
    return;
  }
  if (!lib.has(api::kBackendSymbol)) {
    refused_.push_back({file, std::string("missing the entry point ") + api::kBackendSymbol});
    return;
  }
  auto& entry = lib.get_alias<api::BackendEntry>(api::kBackendSymbol);
  api::Backend& backend = entry();
  std::string kind(backend.kind());
  if (find(kind)) {
    refused_.push_back({file, "a plugin for kind \"" + kind + "\" is already loaded"});
    return;
  }
  loaded_.push_back({kind, std::string(backend.version()), std::string(backend.summary()), file,
                     &backend});
  libs_.push_back(std::move(lib));
}

api::Backend* PluginLoader::find(std::string_view kind) const {
  for (const auto& p : loaded_)
    if (p.kind == kind) return p.backend;
  return nullptr;
}

}  // namespace hsm::tool
