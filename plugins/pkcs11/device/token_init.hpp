// Tokens that hsm-migrate sets up itself, for a plan that brings its own
// software token (issue 12 §7: `kind = "pkcs11"` with `softhsm2_folder` in a
// plan). Two registration options, both optional:
//   "softhsm2-folder" DIR  SoftHSM2 keeps its tokens in DIR/tokens under its
//                          own configuration DIR/softhsm2.conf (written when
//                          absent, 0600, in a 0700 folder), which becomes the
//                          module's SOFTHSM2_CONF in the registration, so
//                          every later command loads the module the same way.
//   "init-token" = "yes"   when the module has no initialised token with the
//                          label, one is initialised on a free slot
//                          (C_InitToken) and its user PIN set (C_InitPIN) to
//                          the registration's credential.
// The security officer PIN of a token made this way is random and kept
// nowhere: nobody can re-initialise its user PIN, as nobody needs to for a
// token that exists to hand its keys to a Luna partition. A token that needs
// an SO is made with the module's own tool and then registered.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"
#include "plugins/pkcs11/token/module.hpp"

namespace hsm::p11::plugin {

// Creates DIR (0700), DIR/tokens (0700) and DIR/softhsm2.conf when absent,
// and sets SOFTHSM2_CONF in `module_env` to that file. DIR is absolute.
api::Status prepare_softhsm2_folder(const std::filesystem::path& dir, api::Attributes& module_env);

// The token labelled `label`, initialised when the module has none with a
// user PIN: on a free slot, with a random SO PIN and `user_pin`. Returns the
// serial of the token to register: the new one, or the one that existed
// ("" when several with the label exist: the lookup by label says so).
// A token with that label whose user PIN was never set (an initialisation a
// crash interrupted between C_InitToken and C_InitPIN) cannot be initialised
// again without its lost SO PIN: it is left as it is (it holds nothing) and
// a new one made, which the registration then names by its serial (T1).
api::Result<std::string> ensure_token(Module& module, const std::string& label,
                                      const api::SecretBytes& user_pin);

}  // namespace hsm::p11::plugin
