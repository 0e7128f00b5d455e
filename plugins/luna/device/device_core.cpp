#include "plugins/luna/device/device_core.hpp"

#include "plugins/luna/device/schema.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace hsm::luna {

using api::Error;
using api::Result;
using api::SecretBytes;
using api::Status;

std::int64_t host_time() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status write_secret_file(const std::filesystem::path& path, const SecretBytes& data) {
  int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return Error::other("cannot create " + path.string() + ": " + std::strerror(errno));
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return Error::other("cannot write " + path.string() + ": " + std::strerror(e));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Error::other("cannot sync " + path.string() + ": " + std::strerror(e));
  }
  ::close(fd);
  return {};
}

Result<SecretBytes> read_secret_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::other("cannot read " + path.string() + ": " + std::strerror(errno));
  SecretBytes out(4096);
  std::size_t off = 0;
  for (;;) {
    if (off == out.size()) out.resize(out.size() * 2);
    ssize_t n = ::read(fd, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Error::other("cannot read " + path.string());
    }
    if (n == 0) break;
    off += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(off);
  return out;
}

Result<std::shared_ptr<DeviceCore>> DeviceCore::open(const KindProfile& profile,
                                                     const std::filesystem::path& dir) {
  auto core = std::make_shared<DeviceCore>();
  core->profile = &profile;
  core->dir = dir;
  HSM_TRY_ASSIGN(core->db, store::Db::open(dir / "state.db", false));
  HSM_TRY_ASSIGN(core->storage_key, read_secret_file(dir / "hardware.key"));
  if (core->storage_key.size() != crypto::kAeadKeyBytes)
    return Error::integrity("device " + dir.filename().string() + ": hardware.key is damaged");
  HSM_TRY_ASSIGN(std::string version, core->meta("schema_version"));
  HSM_TRY(core->upgrade_schema(version));
  HSM_TRY_ASSIGN(version, core->meta("schema_version"));
  if (version != std::to_string(kSchemaVersion))
    return Error::integrity("device " + dir.filename().string() + " has state schema version " +
                            version + "; this plugin reads version " +
                            std::to_string(kSchemaVersion));
  HSM_TRY_ASSIGN(std::string kind, core->meta("kind"));
  if (kind != api::to_string(profile.kind))
    return Error::usage("device " + dir.filename().string() + " is a " + kind + " device, not " +
                        std::string(api::to_string(profile.kind)));
  HSM_TRY_ASSIGN(core->uuid, core->meta("uuid"));
  return core;
}

Status DeviceCore::upgrade_schema(const std::string& version) {
  int v = 0;
  for (char c : version) {
    if (c < '0' || c > '9' || v > 1000) return {};  // not a number: the caller reports it
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v >= kSchemaVersion) return {};
  store::Transaction tx(*db);
  HSM_TRY(tx.begin());
  // Re-read inside the transaction: another process may have upgraded it.
  HSM_TRY_ASSIGN(std::string now, meta("schema_version"));
  if (now != version) return {};
  for (int from = v; from < kSchemaVersion; ++from) HSM_TRY(db->exec(kSchemaUpgrades[from - 1]));
  store::Stmt q(*db, "UPDATE meta SET value = ? WHERE key = 'schema_version'");
  q.bind(1, std::to_string(kSchemaVersion));
  HSM_TRY(q.run());
  return tx.commit();
}

Result<std::string> DeviceCore::meta(std::string_view key) {
  store::Stmt q(*db, "SELECT value FROM meta WHERE key = ?");
  q.bind(1, key);
  if (q.step()) return q.text(0);
  HSM_TRY(q.status());
  return Error::integrity("device state lacks meta." + std::string(key));
}

Status DeviceCore::set_meta(std::string_view key, std::string_view value) {
  store::Stmt q(*db, "INSERT INTO meta(key, value) VALUES(?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  q.bind(1, key).bind(2, value);
  return q.run();
}

Status DeviceCore::audit(std::string_view what) {
  store::Stmt q(*db, "INSERT INTO audit(at, what) VALUES(?, ?)");
  q.bind(1, host_time()).bind(2, what);
  return q.run();
}

Result<api::DeviceDesc> DeviceCore::describe() {
  api::DeviceDesc d;
  d.kind = profile->kind;
  HSM_TRY_ASSIGN(d.name, meta("name"));
  HSM_TRY_ASSIGN(std::string fw, meta("firmware"));
  auto v = api::Version::parse(fw);
  if (!v) return Error::integrity("device state has a bad firmware version \"" + fw + "\"");
  d.firmware = *v;
  HSM_TRY_ASSIGN(std::string fm, meta("fm"));
  d.fm = api::parse_fm_state(fm).value_or(api::FmState::never);
  HSM_TRY_ASSIGN(std::string skew, meta("clock_offset"));
  d.clock_offset_s = std::strtoll(skew.c_str(), nullptr, 10);
  store::Stmt q(*db, "SELECT id, value FROM hsm_policy ORDER BY id");
  while (q.step()) d.hsm_policies[static_cast<int>(q.i64(0))] = static_cast<int>(q.i64(1));
  HSM_TRY(q.status());
  return d;
}

namespace {
api::Bytes binding(std::string_view uuid, std::string_view what, std::int64_t a, std::int64_t b) {
  std::string s = "hsm-migrate sealed v1|" + std::string(uuid) + "|" + std::string(what) + "|" +
                  std::to_string(a) + "|" + std::to_string(b);
  return api::Bytes(s.begin(), s.end());
}
}  // namespace

api::Bytes DeviceCore::seal(std::string_view what, std::int64_t a, std::int64_t b,
                            const SecretBytes& s) {
  return crypto::aead_seal(storage_key, binding(uuid, what, a, b), s);
}

Result<SecretBytes> DeviceCore::open_sealed(std::string_view what, std::int64_t a, std::int64_t b,
                                            const api::Bytes& sealed) {
  auto r = crypto::aead_open(storage_key, binding(uuid, what, a, b), sealed);
  if (!r.ok())
    return Error::integrity("device " + dir.filename().string() + ": sealed " + std::string(what) +
                            " " + std::to_string(a) + "/" + std::to_string(b) +
                            " fails authentication (state tampered with)");
  return r;
}

Status DeviceCore::put_secret(std::string_view name, const SecretBytes& secret) {
  store::Stmt q(*db, "INSERT INTO secret(name, sealed) VALUES(?, ?) "
                     "ON CONFLICT(name) DO UPDATE SET sealed = excluded.sealed");
  q.bind(1, name).bind(2, seal(name, 0, 0, secret));
  return q.run();
}

Result<SecretBytes> DeviceCore::get_secret(std::string_view name) {
  store::Stmt q(*db, "SELECT sealed FROM secret WHERE name = ?");
  q.bind(1, name);
  if (!q.step()) {
    HSM_TRY(q.status());
    return Error::usage("device has no " + std::string(name));
  }
  return open_sealed(name, 0, 0, q.blob(0));
}

Status DeviceCore::put_cert(std::string_view name, const api::Bytes& der) {
  store::Stmt q(*db, "INSERT INTO cert(name, der) VALUES(?, ?) "
                     "ON CONFLICT(name) DO UPDATE SET der = excluded.der");
  q.bind(1, name).bind(2, der);
  return q.run();
}

Result<api::Bytes> DeviceCore::get_cert(std::string_view name) {
  store::Stmt q(*db, "SELECT der FROM cert WHERE name = ?");
  q.bind(1, name);
  if (!q.step()) {
    HSM_TRY(q.status());
    return Error::usage("device has no certificate " + std::string(name));
  }
  return q.blob(0);
}

std::int64_t DeviceCore::now(const api::DeviceDesc& d) const { return host_time() + d.clock_offset_s; }

void DeviceCore::network_latency() const {
  if (profile->latency_ms <= 0) return;
  int ms = profile->latency_ms;
  if (const char* env = std::getenv("HSM_MIGRATE_CLOUD_LATENCY_MS")) ms = std::atoi(env);
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

Result<Factory> Factory::load_or_create(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error::other("cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  // Serialise first creation between concurrent processes.
  int lock = ::open((dir / "lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (lock < 0) return Error::other("cannot lock " + dir.string());
  ::flock(lock, LOCK_EX);
  Factory f;
  auto key_path = dir / "root.key", cert_path = dir / "root.crt";
  Status st;
  if (!std::filesystem::exists(key_path)) {
    auto k = crypto::generate({api::KeyType::ed25519, 256, "Ed25519"});
    if (!k.ok()) st = k.error();
    auto cert = st.ok() ? crypto::make_self_signed(k->secret, "hsm-migrate emulated manufacturing root",
                                                   host_time() - 86400, 36500)
                        : api::Result<api::Bytes>(st.error());
    if (st.ok() && !cert.ok()) st = cert.error();
    if (st.ok()) st = write_secret_file(key_path, k->secret);
    if (st.ok()) st = write_secret_file(cert_path, SecretBytes(cert->begin(), cert->end()));
  }
  if (st.ok()) {
    auto k = read_secret_file(key_path);
    auto c = read_secret_file(cert_path);
    if (!k.ok()) st = k.error();
    else if (!c.ok()) st = c.error();
    else {
      f.root_private = std::move(k).value();
      f.root_cert.assign(c->begin(), c->end());
    }
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  if (!st.ok()) return st.error();
  return f;
}

}  // namespace hsm::luna
