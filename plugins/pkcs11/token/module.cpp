#include "plugins/pkcs11/token/module.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <system_error>
#include <utility>

#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/token.hpp"

namespace hsm::p11 {

namespace fs = std::filesystem;
using api::Error;
using api::Result;
using api::Status;

namespace {

// One Module per library per process (PKCS#11: one C_Initialize per
// process). The mutex is also held while a Module is destroyed, so a load
// never races the C_Finalize of the Module it replaces.
std::recursive_mutex
    g_registry_mutex;  // recursive: a failed load destroys its Module under the lock
std::map<std::string, std::weak_ptr<Module>>& registry() {
  static std::map<std::string, std::weak_ptr<Module>> r;
  return r;
}

// PKCS#11 text fields are fixed-size and blank-padded, not NUL-terminated.
std::string padded(const unsigned char* p, std::size_t n) {
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0')) --n;
  return std::string(reinterpret_cast<const char*>(p), n);
}

std::string version_text(CK_VERSION v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor);
}

bool supported_major(CK_BYTE major) {
  return major == 2 || major == 3;
}

}  // namespace

Result<std::shared_ptr<Module>> Module::load(const fs::path& path) {
  const std::string shown = path.string();
  const std::string fix =
      "give the path of the token vendor's PKCS#11 library (SoftHSM2: "
      "/usr/lib/softhsm/libsofthsm2.so from the softhsm2 package)";
  if (path.empty()) return Error::usage("no PKCS#11 module path given", fix);
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return Error::usage("PKCS#11 module " + shown + " not found", fix);
  if (!fs::is_regular_file(st))
    return Error::usage("PKCS#11 module " + shown + " is not a file", fix);
  const std::string key = fs::canonical(path, ec).string();
  if (ec) return Error::usage("PKCS#11 module " + shown + ": " + ec.message(), fix);

  std::lock_guard lock(g_registry_mutex);
  if (auto existing = registry()[key].lock()) return existing;

  // The deleter takes the registry lock: see g_registry_mutex.
  std::shared_ptr<Module> m(new Module(), [](Module* p) {
    std::lock_guard l(g_registry_mutex);
    delete p;
  });
  m->path_ = path;

  ::dlerror();
  m->handle_ = ::dlopen(key.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (m->handle_ == nullptr) {
    const char* why = ::dlerror();
    return Error::usage("PKCS#11 module " + shown +
                            " is not a PKCS#11 module: " + (why != nullptr ? why : "dlopen failed"),
                        fix);
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(m->handle_, "C_GetFunctionList"));
  if (get_list == nullptr)
    return Error::usage(
        "PKCS#11 module " + shown + " is not a PKCS#11 module: it has no C_GetFunctionList", fix);
  CK_FUNCTION_LIST* fl = nullptr;
  HSM_TRY(check(get_list(&fl), "C_GetFunctionList", shown));
  if (fl == nullptr)
    return Error::usage(
        "PKCS#11 module " + shown + " is not a PKCS#11 module: C_GetFunctionList gave no list",
        fix);
  if (!supported_major(fl->version.major))
    return Error::usage(
        "PKCS#11 module " + shown + " has a cryptoki " + version_text(fl->version) +
            " function list; hsm-migrate speaks PKCS#11 2.x (and 3.x modules' 2.x list)",
        fix);
  m->fn_ = fl;

  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  const CK_RV rv = fl->C_Initialize(&args);
  if (rv == CKR_OK) {
    m->finalize_ = true;
  } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    // Someone else in this process initialised it: use it, leave C_Finalize
    // to them. Any other answer is a failure.
    return ck_error(rv, "C_Initialize", shown);
  }

  CK_INFO info{};
  HSM_TRY(check(fl->C_GetInfo(&info), "C_GetInfo", shown));
  if (!supported_major(info.cryptokiVersion.major))
    return Error::usage("PKCS#11 module " + shown + " speaks cryptoki " +
                            version_text(info.cryptokiVersion) + "; hsm-migrate speaks 2.x and 3.x",
                        fix);
  m->info_.cryptoki = info.cryptokiVersion;
  m->info_.manufacturer = padded(info.manufacturerID, sizeof info.manufacturerID);
  m->info_.description = padded(info.libraryDescription, sizeof info.libraryDescription);
  m->info_.library = info.libraryVersion;

  registry()[key] = m;
  return m;
}

Module::~Module() {
  if (fn_ != nullptr && finalize_) (void)fn_->C_Finalize(nullptr);
  if (handle_ != nullptr) ::dlclose(handle_);
}

Result<TokenInfo> Module::token_info(CK_SLOT_ID slot) const {
  CK_TOKEN_INFO ti{};
  HSM_TRY(check(fn_->C_GetTokenInfo(slot, &ti), "C_GetTokenInfo"));
  TokenInfo t;
  t.slot = slot;
  t.label = padded(ti.label, sizeof ti.label);
  t.manufacturer = padded(ti.manufacturerID, sizeof ti.manufacturerID);
  t.model = padded(ti.model, sizeof ti.model);
  t.serial = padded(ti.serialNumber, sizeof ti.serialNumber);
  t.hardware = ti.hardwareVersion;
  t.firmware = ti.firmwareVersion;
  t.flags = ti.flags;
  return t;
}

Result<std::vector<TokenInfo>> Module::tokens() const {
  CK_ULONG n = 0;
  HSM_TRY(check(fn_->C_GetSlotList(CK_TRUE, nullptr, &n), "C_GetSlotList"));
  std::vector<CK_SLOT_ID> slots(n);
  // The list may grow between the two calls (a token inserted): ask again.
  for (;;) {
    const CK_RV rv = fn_->C_GetSlotList(CK_TRUE, slots.data(), &n);
    if (rv == CKR_BUFFER_TOO_SMALL) {
      slots.resize(n);
      continue;
    }
    HSM_TRY(check(rv, "C_GetSlotList"));
    break;
  }
  slots.resize(n);
  std::vector<TokenInfo> out;
  for (CK_SLOT_ID s : slots) {
    HSM_TRY_ASSIGN(auto t, token_info(s));
    out.push_back(std::move(t));
  }
  return out;
}

Result<Token> Module::find_token(std::string_view label, std::string_view serial) {
  const std::string shown = path_.string();
  if (label.empty())
    return Error::usage("no token label given", "name the token by its label (T1)");
  if (label.size() > sizeof(CK_TOKEN_INFO{}.label))
    return Error::usage("token label '" + std::string(label) +
                        "' is longer than the 32 bytes a label can have");
  HSM_TRY_ASSIGN(auto all, tokens());
  std::vector<TokenInfo> found;
  std::string labels;
  for (auto& t : all) {
    if (!t.initialized()) continue;
    labels += (labels.empty() ? "'" : ", '") + t.label + "'";
    if (t.label == label) found.push_back(t);
  }
  if (found.empty())
    return Error::usage(
        "no token labelled '" + std::string(label) + "' in PKCS#11 module " + shown +
            (labels.empty() ? " (it has no initialised token)" : " (tokens: " + labels + ")"),
        "check the label (T1: tokens are found by label, never by slot)");
  if (!serial.empty()) {
    auto it = std::find_if(found.begin(), found.end(),
                           [&](const TokenInfo& t) { return t.serial == serial; });
    if (it == found.end())
      return Error::usage("token '" + std::string(label) + "' has serial " + found.front().serial +
                              ", not " + std::string(serial),
                          "the token was re-initialised or is another token; register it again if "
                          "it is the right one");
    return Token(shared_from_this(), *it);
  }
  if (found.size() > 1) {
    std::string serials;
    for (const auto& t : found) serials += (serials.empty() ? "" : ", ") + t.serial;
    return Error::usage(std::to_string(found.size()) + " tokens are labelled '" +
                            std::string(label) + "' (serials " + serials + ")",
                        "give the token's serial too");
  }
  return Token(shared_from_this(), found.front());
}

Result<CK_SLOT_ID> Module::free_slot() const {
  HSM_TRY_ASSIGN(auto all, tokens());
  for (const auto& t : all)
    if (!t.initialized()) return t.slot;
  return Error::usage("PKCS#11 module " + path_.string() + " has no uninitialised token to set up");
}

Status Module::init_token(CK_SLOT_ID slot, const api::SecretBytes& so_pin, std::string_view label) {
  if (label.empty() || label.size() > 32)
    return Error::usage("a token label has 1 to 32 bytes; '" + std::string(label) + "' has " +
                        std::to_string(label.size()));
  CK_UTF8CHAR padded_label[32];
  std::memset(padded_label, ' ', sizeof padded_label);
  std::memcpy(padded_label, label.data(), label.size());
  return check(
      fn_->C_InitToken(slot, const_cast<CK_UTF8CHAR*>(so_pin.data()), so_pin.size(), padded_label),
      "C_InitToken", label);
}

Result<std::vector<MechanismInfo>> Module::mechanisms(CK_SLOT_ID slot) const {
  CK_ULONG n = 0;
  HSM_TRY(check(fn_->C_GetMechanismList(slot, nullptr, &n), "C_GetMechanismList"));
  std::vector<CK_MECHANISM_TYPE> types(n);
  HSM_TRY(check(fn_->C_GetMechanismList(slot, types.data(), &n), "C_GetMechanismList"));
  types.resize(n);
  std::vector<MechanismInfo> out;
  out.reserve(n);
  for (CK_MECHANISM_TYPE t : types) {
    CK_MECHANISM_INFO mi{};
    HSM_TRY(check(fn_->C_GetMechanismInfo(slot, t, &mi), "C_GetMechanismInfo"));
    out.push_back({t, mi.ulMinKeySize, mi.ulMaxKeySize, mi.flags});
  }
  return out;
}

}  // namespace hsm::p11
