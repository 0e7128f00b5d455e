// Reaching a registered token: the module loaded with the environment it was
// registered with, and the token found again by its label and serial (T1:
// never by slot id, which changes whenever a token is initialised).
#pragma once

#include <memory>
#include <string>

#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"
#include "plugins/pkcs11/device/registration.hpp"
#include "plugins/pkcs11/token/module.hpp"
#include "plugins/pkcs11/token/session.hpp"
#include "plugins/pkcs11/token/token.hpp"

namespace hsm::p11::plugin {

// Loads `path` with `env` set first. A module is initialised once per
// process: a second device that needs the same module with another
// environment is refused (usage), never silently given the first's tokens.
api::Result<std::shared_ptr<Module>> load_module(const std::string& path, const api::Attributes& env);

// T1: the registered token, by label and serial.
api::Result<Token> find_registered_token(const Registration& r);

// C_Login as the user. A wrong PIN is ErrorKind::auth with
// CKR_PIN_INCORRECT (exit 6), a locked one CKR_PIN_LOCKED, as for the Luna
// partitions; other failures keep the token layer's kind.
api::Status login_user(Session& s, const api::SecretBytes& pin);

// The module's and token's own words for `device show`: manufacturer,
// model, serial, firmware, flags, and every mechanism with its key-size
// range and flags ("mechanism CKM_AES_KEY_WRAP_PAD" = "1-2147483648 WRAP UNWRAP").
api::Result<api::Attributes> token_attributes(const Token& t);

}  // namespace hsm::p11::plugin
