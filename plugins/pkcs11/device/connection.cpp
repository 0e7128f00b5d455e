#include "plugins/pkcs11/device/connection.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/names.hpp"

namespace hsm::p11::plugin {

using api::Error;
using api::Result;

namespace {

std::mutex g_env_mutex;
// The environment each module was first loaded with in this process.
std::map<std::string, api::Attributes>& loaded_env() {
  static std::map<std::string, api::Attributes> m;
  return m;
}

std::string version(CK_VERSION v) { return std::to_string(v.major) + "." + std::to_string(v.minor); }

}  // namespace

Result<std::shared_ptr<Module>> load_module(const std::string& path, const api::Attributes& env) {
  std::lock_guard lock(g_env_mutex);
  auto it = loaded_env().find(path);
  if (it != loaded_env().end() && it->second != env)
    return Error::usage("PKCS#11 module " + path + " is already loaded in this process with another environment",
                        "run one command per module environment");
  for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
  HSM_TRY_ASSIGN(std::shared_ptr<Module> m, Module::load(path));
  loaded_env()[path] = env;
  // Keep the library mapped until the process ends (C_Finalize still runs
  // when the last user lets go): leak reports inside a vendor module then
  // name it (SoftHSM 2.6.1 leaks in C_SignInit for EdDSA), and a module that
  // registers atexit handlers is never unmapped under them.
  static std::map<std::string, void*> pinned;
  if (!pinned.count(path)) pinned[path] = ::dlopen(path.c_str(), RTLD_NOW | RTLD_NODELETE | RTLD_LOCAL);
  return m;
}

Result<Token> find_registered_token(const Registration& r) {
  HSM_TRY_ASSIGN(std::shared_ptr<Module> m, load_module(r.module, r.module_env));
  return m->find_token(r.token_label, r.token_serial);  // rule T1
}

api::Status login_user(Session& s, const api::SecretBytes& pin) {
  api::Status st = s.login(pin, CKU_USER);
  if (st.ok()) return st;
  const Error& e = st.error();
  if (has_ckr(e, CKR_PIN_INCORRECT) || has_ckr(e, CKR_PIN_LOCKED) || has_ckr(e, CKR_PIN_EXPIRED) ||
      has_ckr(e, CKR_PIN_LEN_RANGE))
    return Error::auth(e.code,
                       (has_ckr(e, CKR_PIN_INCORRECT) ? "wrong PIN for " : "PIN refused by ") + s.token().name() +
                           " (" + e.message + ")",
                       has_ckr(e, CKR_PIN_LOCKED) ? "the token's security officer must unlock the user PIN"
                                                  : "check HSM_MIGRATE_PIN or the --pin-file contents");
  return st;
}

Result<api::Attributes> token_attributes(const Token& t) {
  api::Attributes a;
  const TokenInfo& ti = t.info();
  const ModuleInfo& mi = t.module().info();
  a.emplace_back("module", t.module().path().string());
  a.emplace_back("library", mi.manufacturer + " " + mi.description + " " + version(mi.library));
  a.emplace_back("cryptoki", version(mi.cryptoki));
  a.emplace_back("token", ti.label);
  a.emplace_back("serial", ti.serial);
  a.emplace_back("manufacturer", ti.manufacturer);
  a.emplace_back("model", ti.model);
  a.emplace_back("hardware", version(ti.hardware));
  a.emplace_back("firmware", version(ti.firmware));
  std::string flags;
  for (const auto& f : token_flag_names(ti.flags)) flags += (flags.empty() ? "" : " ") + f;
  a.emplace_back("flags", flags);
  HSM_TRY_ASSIGN(auto mechs, t.mechanisms());
  for (const auto& m : mechs) {
    std::string v = std::to_string(m.min_key_size) + "-" + std::to_string(m.max_key_size);
    for (const auto& f : mechanism_flag_names(m.flags)) v += " " + f;
    a.emplace_back("mechanism " + mechanism_name(m.type), v);
  }
  return a;
}

}  // namespace hsm::p11::plugin
