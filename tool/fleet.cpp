#include "tool/fleet.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
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
  std::error_code ec;
  if (const char* h = std::getenv("HSM_MIGRATE_HOME"); h && *h) return fs::absolute(h, ec);
  // XDG: a relative XDG_STATE_HOME or HOME is invalid and ignored; with no
  // absolute base there is no default (check_home says so), never "./...".
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x == '/') return fs::path(x) / "hsm-migrate";
  if (const char* home = std::getenv("HOME"); home && *home == '/')
    return fs::path(home) / ".local" / "state" / "hsm-migrate";
  return {};
}

Status Fleet::check_home() const {
  if (home_.empty())
    return Error::usage("no fleet folder: HOME is unset or not absolute, and neither --home nor HSM_MIGRATE_HOME is given",
                        "pass --home DIR or set HSM_MIGRATE_HOME to an absolute path");
  struct stat st {};
  if (::stat(home_.c_str(), &st) != 0) return {};  // created 0700 when first written
  if (!S_ISDIR(st.st_mode)) return Error::usage("the fleet folder " + home_.string() + " is not a folder");
  // The home holds device state and the fleet's manufacturing root: a folder
  // others can write to (as /tmp) could have them swapped. Its mode is never
  // changed here: an operator's folder is theirs.
  if ((st.st_mode & 022) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error::usage("the fleet folder " + home_.string() + " (mode " + mode + ") can be written by others",
                        "use a folder of your own (`mkdir -m 700 DIR` and --home DIR), or `chmod go-w " +
                            home_.string() + "`");
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    return Error::usage("the fleet folder " + home_.string() + " belongs to another user (uid " +
                            std::to_string(st.st_uid) + ")",
                        "use a folder of your own with --home DIR");
  return {};
}

Status Fleet::ensure_home() const {
  HSM_TRY(check_home());
  std::error_code ec;
  if (!fs::exists(home_, ec)) {
    // The parents as the umask says; the home itself 0700.
    if (home_.has_parent_path()) fs::create_directories(home_.parent_path(), ec);
    if (::mkdir(home_.c_str(), 0700) != 0 && errno != EEXIST)
      return Error::other("cannot create " + home_.string() + ": " + std::strerror(errno));
  }
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
  if (::mkdir((home_ / "devices").c_str(), 0700) != 0 && errno != EEXIST)
    return Error::other("cannot create " + (home_ / "devices").string() + ": " + std::strerror(errno));
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
