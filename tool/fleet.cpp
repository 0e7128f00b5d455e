#include "tool/fleet.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace hsm::tool {

namespace fs = std::filesystem;
using api::Error;
using api::Result;
using api::Status;

Status check_device_name(std::string_view name) {
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
          std::string_view::npos ||
      name[0] == '.')
    return Error::usage("device name \"" + std::string(name) +
                        "\" is invalid: use 1-64 letters, digits, '-', '_' or '.'");
  return {};
}

Result<Address> parse_address(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size() ||
      text.find('/', slash + 1) != std::string_view::npos)
    return Error::usage("\"" + std::string(text) + "\" is not a partition address",
                        "write DEVICE/PARTITION, e.g. hsm-a/p1");
  Address a{std::string(text.substr(0, slash)), std::string(text.substr(slash + 1))};
  HSM_TRY(check_device_name(a.device));
  return a;
}

Fleet::Fleet(fs::path home, const PluginLoader& plugins) : home_(std::move(home)), plugins_(plugins) {}

fs::path Fleet::default_home() {
  if (const char* h = std::getenv("HSM_MIGRATE_HOME"); h && *h) return h;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return fs::path(x) / "hsm-migrate";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".local" / "state" / "hsm-migrate";
}

Status Fleet::ensure_home() const {
  std::error_code ec;
  fs::create_directories(home_ / "devices", ec);
  if (ec) return Error::other("cannot create " + (home_ / "devices").string() + ": " + ec.message());
  ::chmod(home_.c_str(), 0700);
  ::chmod((home_ / "devices").c_str(), 0700);
  return {};
}

Result<std::unique_ptr<api::Device>> Fleet::create(const std::string& name, const std::string& kind,
                                                   api::DeviceCreateRequest req) {
  HSM_TRY(check_device_name(name));
  api::Backend* backend = plugins_.find(kind);
  if (!backend)
    return Error::usage("no plugin for device kind \"" + kind + "\"",
                        "see `hsm-migrate plugins` for the kinds loaded");
  HSM_TRY(ensure_home());
  const fs::path dir = home_ / "devices" / name;
  // mkdir is the atomic claim on the name.
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST)
      return Error::usage("device " + name + " already exists in " + home_.string(),
                          "choose another name, or use --home for another fleet");
    return Error::other("cannot create " + dir.string() + ": " + std::strerror(errno));
  }
  req.name = name;
  req.factory_dir = home_ / "factory";
  auto dev = backend->create_device(dir, req);
  Status st;
  if (dev.ok()) {
    // The kind file is written last: a folder without it is an unfinished create.
    const fs::path tmp = dir / "kind.tmp";
    int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    const std::string body = kind + "\n";
    if (fd < 0 || ::write(fd, body.data(), body.size()) != static_cast<ssize_t>(body.size()) ||
        ::fsync(fd) != 0 || ::rename(tmp.c_str(), (dir / "kind").c_str()) != 0)
      st = Error::other("cannot write " + (dir / "kind").string() + ": " + std::strerror(errno));
    if (fd >= 0) ::close(fd);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  } else {
    st = dev.error();
  }
  if (!st.ok()) {
    std::error_code ec;
    fs::remove_all(dir, ec);  // nothing half-made stays behind
    return st.error();
  }
  return dev;
}

Result<std::string> Fleet::kind_of(const std::string& name) const {
  HSM_TRY(check_device_name(name));
  std::ifstream in(home_ / "devices" / name / "kind");
  std::string kind;
  if (!in || !(in >> kind))
    return Error::usage("no device named " + name + " in " + home_.string(),
                        "see `hsm-migrate device list`, or create it with `hsm-migrate device create`");
  return kind;
}

Result<std::unique_ptr<api::Device>> Fleet::open(const std::string& name) const {
  HSM_TRY_ASSIGN(std::string kind, kind_of(name));
  api::Backend* backend = plugins_.find(kind);
  if (!backend)
    return Error::usage("device " + name + " is a " + kind + " device but no " + kind +
                            " plugin is loaded",
                        "see `hsm-migrate plugins`");
  return backend->open_device(home_ / "devices" / name);
}

Result<std::vector<std::string>> Fleet::names() const {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(home_ / "devices", ec)) return out;
  for (const auto& e : fs::directory_iterator(home_ / "devices", ec))
    if (e.is_directory() && fs::exists(e.path() / "kind")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::unique_ptr<api::Partition>> Fleet::open_partition(const Address& a) const {
  HSM_TRY_ASSIGN(auto dev, open(a.device));
  auto part = dev->open_partition(a.partition);
  kept_.push_back(std::move(dev));
  return part;
}

}  // namespace hsm::tool
