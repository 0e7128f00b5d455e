#include "migrations/plan_parse_token.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

namespace hsm::plans::detail {

namespace {

// What hsm-migrate keeps at the top of a fleet home (tool/fleet.cpp,
// tool/lock.cpp, tool/trust.cpp, the plan journal, the Backup HSM factory):
// a token folder there would be read as one of them (a folder under
// devices/ as a device).
constexpr std::string_view kHomeOwnEntries[] = {
    "devices", "locks", "trust", "journal", "factory", "hagroups.json", "hagroups.lock"};

// "" when `path` names a folder strictly inside the home that is not one of
// hsm-migrate's own, else what is wrong with it.
std::string inside_home_problem(const std::string& path) {
  if (path.empty() || path.front() == '/')
    return "must be a folder inside --home (a relative path without \"..\")";
  std::vector<std::string_view> parts;
  for (std::size_t start = 0; start <= path.size();) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part(path.data() + start, end - start);
    if (part == "..") return "must be a folder inside --home (a relative path without \"..\")";
    if (!part.empty() && part != ".") parts.push_back(part);
    start = end + 1;
  }
  if (parts.empty()) return "must be a folder inside --home, not the home itself (e.g. \"tokens\")";
  for (std::string_view own : kHomeOwnEntries)
    if (parts.front() == own)
      return "is inside \"" + std::string(own) +
             "\", which hsm-migrate keeps for itself in the home; choose another folder (e.g. "
             "\"tokens\")";
  return "";
}

}  // namespace

void read_token_device(Reader& r, DeviceSpec& d) {
  d.mode = DeviceMode::token;
  d.token.line = r.line();
  // A token is neither emulated nor described: it is registered.
  for (const char* k : {"emulated", "described"})
    if (r.has(k))
      r.error(r.line_of_key(k),
              r.what() + ": \"" + std::string(k) +
                  "\" is for Luna devices; a pkcs11 token is registered in --home when "
                  "absent (remove the key)");
  for (const char* k : {"firmware", "fm", "hsm_policies", "safexcel", "clock_offset"})
    if (r.has(k))
      r.error(r.line_of_key(k),
              r.what() + ": \"" + std::string(k) +
                  "\" is a Luna setting; a PKCS#11 token has none (remove the key)");
  if (auto s = r.str("module", true,
                     "the path of the PKCS#11 library, e.g. "
                     "\"/usr/lib/softhsm/libsofthsm2.so\"")) {
    d.token.module = *s;
    if (d.token.module.empty() || d.token.module.front() != '/')
      r.error(r.line_of_key("module"), r.what() + ": module = \"" + printable(d.token.module) +
                                           "\" must be an absolute path to the PKCS#11 library");
  }
  if (auto s = r.str("token")) {
    d.token.label = *s;
    if (d.token.label.empty() || d.token.label.size() > 32)
      r.error(r.line_of_key("token"), r.what() + ": a token label has 1 to 32 bytes");
  }
  if (const toml::node* n = r.node("module_env")) {
    if (!n->is_table()) {
      r.wrong("module_env", *n,
              "a table of NAME = \"VALUE\" (e.g. { SOFTHSM2_CONF = \"/etc/softhsm/x.conf\" })");
    } else {
      for (const auto& [k, v] : *n->as_table()) {
        const std::string name(k.str());
        if (!v.is_string() || name.empty() || name.find('=') != std::string::npos)
          r.error(line_of(v), r.what() + ": module_env." + printable(name) + " must be a string");
        else
          d.token.module_env[name] = v.as_string()->get();
      }
    }
  }
  if (auto s = r.str("softhsm2_folder")) {
    d.token.softhsm2_folder = *s;
    if (const std::string problem = inside_home_problem(*s); !problem.empty())
      r.error(r.line_of_key("softhsm2_folder"),
              r.what() + ": softhsm2_folder = \"" + printable(*s) + "\" " + problem);
    if (d.token.module_env.count("SOFTHSM2_CONF"))
      r.error(r.line_of_key("softhsm2_folder"),
              r.what() +
                  ": softhsm2_folder writes its own SOFTHSM2_CONF; "
                  "remove it from module_env");
  }
}

void refuse_token_keys(Reader& r) {
  for (const auto& k : kTokenDeviceKeys)
    if (r.has(k))
      r.error(r.line_of_key(k),
              r.what() + ": \"" + k + "\" is for kind = \"pkcs11\" (a PKCS#11 token)");
}

void check_token_partition(Reader& r) {
  for (const char* k : {"type", "auth", "fips", "policies", "suites", "objects"})
    if (r.has(k))
      r.error(r.line_of_key(k),
              r.what() + ": \"" + std::string(k) +
                  "\" is a Luna partition setting; a PKCS#11 token has none (remove the key)");
}

void finish_token_device(Reader& r, DeviceSpec& d) {
  if (d.partitions.size() != 1)
    r.error(r.line(), r.what() +
                          ": a PKCS#11 token is one partition (T1): declare exactly one "
                          "[[device.partition]], named as the token is known in the fleet");
  if (d.token.label.empty() && !d.partitions.empty()) d.token.label = d.partitions.front().name;
}

}  // namespace hsm::plans::detail
