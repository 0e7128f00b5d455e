// A loaded PKCS#11 module (style: OpenSC pkcs11-tool.c, p11-kit modules.c):
// dlopen the library, take C_GetFunctionList, check the cryptoki version,
// C_Initialize with CKF_OS_LOCKING_OK, and C_Finalize when the last user lets
// go. One Module per library per process: PKCS#11 allows one initialisation
// per process, so load() of a library already loaded returns the same Module.
//
// SoftHSM2 reads $SOFTHSM2_CONF (and every token in its token folder) at
// C_Initialize: set it before load(), and let every Module of the previous
// configuration go before loading again.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/pkcs11/token/cryptoki.hpp"

namespace hsm::p11 {

struct ModuleInfo {
  CK_VERSION cryptoki{};  // the interface version the module speaks
  std::string manufacturer;
  std::string description;
  CK_VERSION library{};
};

// What C_GetTokenInfo says. The slot id is valid for this load of the module
// only (T1: ids change when tokens are initialised); find tokens by label.
struct TokenInfo {
  CK_SLOT_ID slot = 0;
  std::string label;  // blank padding removed; bytes as the token has them
  std::string manufacturer;
  std::string model;
  std::string serial;
  CK_VERSION hardware{};
  CK_VERSION firmware{};
  CK_FLAGS flags = 0;
  bool initialized() const { return (flags & CKF_TOKEN_INITIALIZED) != 0; }
};

// One entry of the mechanism list with its C_GetMechanismInfo. The list
// over-promises (SoftHSM 2.6.1 lists DES wrap it refuses): a capability is
// proven by trying, never by this list alone (T3).
struct MechanismInfo {
  CK_MECHANISM_TYPE type = 0;
  CK_ULONG min_key_size = 0;  // bits or bytes, as the mechanism defines
  CK_ULONG max_key_size = 0;
  CK_FLAGS flags = 0;
};

class Token;

class Module : public std::enable_shared_from_this<Module> {
 public:
  // Errors (kind usage, one line each): the file does not exist; it is not a
  // loadable library or has no C_GetFunctionList ("not a PKCS#11 module");
  // it speaks a cryptoki version other than 2.x/3.x.
  static api::Result<std::shared_ptr<Module>> load(const std::filesystem::path& path);

  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module();

  CK_FUNCTION_LIST* fn() const { return fn_; }
  const std::filesystem::path& path() const { return path_; }
  const ModuleInfo& info() const { return info_; }

  // Every slot with a token present, initialised or not.
  api::Result<std::vector<TokenInfo>> tokens() const;
  // T1: the one initialised token with this label (and serial, when given).
  // Usage errors name what is wrong: no such label (with the labels there
  // are), several tokens with it and no serial, or another serial.
  api::Result<Token> find_token(std::string_view label, std::string_view serial = {});
  // A slot holding a token that is not initialised yet (SoftHSM keeps one).
  api::Result<CK_SLOT_ID> free_slot() const;
  // C_InitToken: erases the token in slot and gives it label and SO PIN. The
  // slot id is stale afterwards on SoftHSM: find the token again by label.
  api::Status init_token(CK_SLOT_ID slot, const api::SecretBytes& so_pin, std::string_view label);

  api::Result<TokenInfo> token_info(CK_SLOT_ID slot) const;
  api::Result<std::vector<MechanismInfo>> mechanisms(CK_SLOT_ID slot) const;

 private:
  Module() = default;
  std::filesystem::path path_;
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* fn_ = nullptr;
  bool finalize_ = false;  // false when someone else in the process initialised it
  ModuleInfo info_;
};

}  // namespace hsm::p11
