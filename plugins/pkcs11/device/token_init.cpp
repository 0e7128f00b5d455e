#include "plugins/pkcs11/device/token_init.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/pkcs11/device/registration.hpp"
#include "plugins/pkcs11/token/session.hpp"
#include "plugins/pkcs11/token/token.hpp"

namespace hsm::p11::plugin {

namespace fs = std::filesystem;
using api::Error;
using api::Result;
using api::Status;

namespace {

// mkdir 0700 when absent; an existing folder keeps its mode (it is the
// user's), but must be a folder.
Status private_folder(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return {};
    return Error::usage(dir.string() + " exists and is not a folder",
                        "remove it or name another softhsm2_folder");
  }
  return Error::other("cannot create " + dir.string() + ": " + std::strerror(errno));
}

}  // namespace

Status prepare_softhsm2_folder(const fs::path& dir, api::Attributes& module_env) {
  if (!dir.is_absolute())
    return Error::usage("softhsm2-folder must be an absolute path, not " + dir.string());
  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  if (ec) return Error::other("cannot create " + dir.parent_path().string() + ": " + ec.message());
  HSM_TRY(private_folder(dir));
  HSM_TRY(private_folder(dir / "tokens"));
  const fs::path conf = dir / "softhsm2.conf";
  if (!fs::exists(conf, ec)) {
    // The token folder's path ends in '/', as SoftHSM2's own default does.
    HSM_TRY(write_private_file(conf,
                               "# Written by hsm-migrate: the tokens of this folder only.\n"
                               "directories.tokendir = " +
                                   (dir / "tokens").string() +
                                   "/\n"
                                   "objectstore.backend = file\n"
                                   "log.level = ERROR\n"
                                   "slots.removable = false\n"));
  }
  for (auto it = module_env.begin(); it != module_env.end();)
    it = it->first == "SOFTHSM2_CONF" ? module_env.erase(it) : it + 1;
  module_env.emplace_back("SOFTHSM2_CONF", conf.string());
  return {};
}

Result<std::string> ensure_token(Module& module, const std::string& label,
                                 const api::SecretBytes& user_pin) {
  if (user_pin.empty())
    return Error::usage("a token is initialised with its user PIN, and none was given");
  HSM_TRY_ASSIGN(auto before, module.tokens());
  // Made before (a token a user can log in to): used as it is. Several with
  // the label: "" lets the registration's lookup name the ambiguity (T1).
  std::vector<std::string> usable;
  for (const auto& t : before)
    if (t.initialized() && t.label == label && (t.flags & CKF_USER_PIN_INITIALIZED))
      usable.push_back(t.serial);
  if (usable.size() == 1) return usable.front();
  if (usable.size() > 1) return std::string();
  // 32 random hex characters; never written anywhere (see token_init.hpp).
  api::SecretBytes so_pin;
  so_pin.reserve(32);
  {
    const api::SecretBytes raw = luna::crypto::random_secret(16);
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::uint8_t b : raw) {
      so_pin.push_back(static_cast<std::uint8_t>(kHex[b >> 4]));
      so_pin.push_back(static_cast<std::uint8_t>(kHex[b & 15]));
    }
  }
  HSM_TRY_ASSIGN(CK_SLOT_ID slot, module.free_slot());
  HSM_TRY(module.init_token(slot, so_pin, label));
  // The slot id is stale after C_InitToken on SoftHSM2 (T1): the new token
  // is the one with the label and a serial that was not there before.
  HSM_TRY_ASSIGN(auto after, module.tokens());
  std::string serial;
  for (const auto& t : after) {
    const bool old = std::any_of(before.begin(), before.end(), [&](const TokenInfo& b) {
      return b.initialized() && b.serial == t.serial;
    });
    if (t.initialized() && t.label == label && !old) serial = t.serial;
  }
  if (serial.empty()) return Error::other("token '" + label + "' is not found after C_InitToken");
  HSM_TRY_ASSIGN(Token token, module.find_token(label, serial));
  HSM_TRY_ASSIGN(Session s, Session::open(token, true));
  HSM_TRY(s.login(so_pin, CKU_SO));
  HSM_TRY(s.init_user_pin(user_pin));
  HSM_TRY(s.logout());
  return serial;
}

}  // namespace hsm::p11::plugin
