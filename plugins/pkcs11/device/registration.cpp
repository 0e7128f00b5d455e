#include "plugins/pkcs11/device/registration.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace hsm::p11::plugin {

namespace fs = std::filesystem;
using api::Error;
using api::Result;
using json = nlohmann::ordered_json;

namespace {

std::string to_hex(const api::Bytes& b) {
  static constexpr char d[] = "0123456789abcdef";
  std::string s;
  for (auto c : b) s += {d[c >> 4], d[c & 15]};
  return s;
}

bool from_hex(const std::string& h, api::Bytes& out) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (h.size() % 2) return false;
  out.clear();
  for (std::size_t i = 0; i < h.size(); i += 2) {
    const int a = nib(h[i]), b = nib(h[i + 1]);
    if (a < 0 || b < 0) return false;
    out.push_back(static_cast<std::uint8_t>(a << 4 | b));
  }
  return true;
}

json to_json(const Registration& r) {
  json env = json::array();
  for (const auto& [k, v] : r.module_env) env.push_back({{"name", k}, {"value", v}});
  json domains = json::array();
  for (const auto& d : r.domains)
    domains.push_back({{"label", d.label},
                       {"kind", api::to_string(d.kind)},
                       {"primary", d.primary},
                       {"fingerprint", d.fingerprint}});
  json transport = json::array();
  for (const auto& c : r.transport)
    transport.push_back(
        {{"type", api::to_string(c.type)}, {"min_bits", c.min_bits}, {"max_bits", c.max_bits}, {"curves", c.curves}});
  return {{"format", kRegistrationFormat},
          {"device", r.device},
          {"partition", r.partition},
          {"module", r.module},
          {"module_env", env},
          {"token", {{"label", r.token_label}, {"serial", r.token_serial}}},
          {"identity",
           {{"key", r.identity_key},
            {"id", to_hex(r.identity_id)},
            {"certificate", to_hex(r.hok_cert)},
            {"root", to_hex(r.root_cert)}}},
          {"domains", domains},
          {"transport", transport},
          {"registered_at", r.registered_at}};
}

Result<Registration> from_json(const json& j, const std::string& where) {
  auto bad = [&](const std::string& what) {
    return Error::integrity(where + " is damaged: " + what);
  };
  if (!j.is_object() || j.value("format", 0) != kRegistrationFormat)
    return bad("unknown format (this hsm-migrate reads format " + std::to_string(kRegistrationFormat) + ")");
  Registration r;
  try {
    r.device = j.at("device").get<std::string>();
    r.partition = j.at("partition").get<std::string>();
    r.module = j.at("module").get<std::string>();
    for (const auto& e : j.at("module_env")) r.module_env.emplace_back(e.at("name"), e.at("value"));
    r.token_label = j.at("token").at("label").get<std::string>();
    r.token_serial = j.at("token").at("serial").get<std::string>();
    const auto& id = j.at("identity");
    r.identity_key = id.at("key").get<std::string>();
    if (!from_hex(id.at("id").get<std::string>(), r.identity_id) ||
        !from_hex(id.at("certificate").get<std::string>(), r.hok_cert) ||
        !from_hex(id.at("root").get<std::string>(), r.root_cert))
      return bad("identity is not hex");
    for (const auto& d : j.at("domains")) {
      api::DomainDesc dd;
      dd.label = d.at("label").get<std::string>();
      dd.kind = api::parse_domain_kind(d.at("kind").get<std::string>()).value_or(api::DomainKind::text);
      dd.primary = d.at("primary").get<bool>();
      dd.fingerprint = d.at("fingerprint").get<std::string>();
      r.domains.push_back(std::move(dd));
    }
    for (const auto& c : j.at("transport")) {
      api::KeyCapability k;
      auto t = api::parse_key_type(c.at("type").get<std::string>());
      if (!t) return bad("unknown key type in transport");
      k.type = *t;
      k.min_bits = c.at("min_bits").get<int>();
      k.max_bits = c.at("max_bits").get<int>();
      k.curves = c.at("curves").get<std::vector<std::string>>();
      r.transport.push_back(std::move(k));
    }
    r.registered_at = j.value("registered_at", std::int64_t{0});
  } catch (const json::exception& e) {
    return bad(e.what());
  }
  return r;
}

}  // namespace

Result<Registration> load_registration(const fs::path& dir) {
  const fs::path p = dir / kRegistrationFile;
  std::ifstream in(p);
  if (!in)
    return Error::usage("device folder " + dir.string() + " has no " + kRegistrationFile,
                        "register the token again with `hsm-migrate device add`");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return Error::integrity(p.string() + " is damaged: not JSON");
  return from_json(j, p.string());
}

api::Status write_private_file(const fs::path& p, std::string_view body) {
  const fs::path tmp = p.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return Error::other("cannot write " + tmp.string() + ": " + std::strerror(errno));
  const bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), p.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Error::other("cannot write " + p.string() + ": " + why);
  }
  const int dfd = ::open(p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

api::Status save_registration(const fs::path& dir, const Registration& r) {
  return write_private_file(dir / kRegistrationFile, to_json(r).dump(2) + "\n");
}

}  // namespace hsm::p11::plugin
