// A session on a token. Object handles belong to the session's load of the
// module and are not stable across sessions or processes: callers keep
// labels and CKA_IDs, never handles.
//
// Login is per application and token in PKCS#11: every session of a token
// shares it, and the token logs the user out when its last session closes.
// C_Logout also destroys the private session objects (a per-archive key), so
// keep one login for the whole of an operation.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "plugins/api/secret.hpp"
#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"
#include "plugins/pkcs11/token/token.hpp"

namespace hsm::p11 {

class Session {
 public:
  // A serial session; read_write for anything that creates objects.
  static api::Result<Session> open(const Token& token, bool read_write = true);

  Session(Session&& other) noexcept;
  Session& operator=(Session&& other) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();  // C_CloseSession

  // Errors keep the CKR name in Error::code: a wrong PIN is usage with code
  // CKR_PIN_INCORRECT. Logging in when the token already has this user
  // logged in (another session) is success.
  api::Status login(const api::SecretBytes& pin, CK_USER_TYPE user = CKU_USER);
  api::Status logout();
  // C_InitPIN: sets the user PIN; the session must be logged in as CKU_SO.
  api::Status init_user_pin(const api::SecretBytes& pin);

  // Random bytes from the token's generator (IVs).
  api::Result<api::Bytes> random(std::size_t n);

  const Token& token() const { return token_; }
  CK_FUNCTION_LIST* fn() const { return token_.fn(); }
  CK_SESSION_HANDLE handle() const { return handle_; }

 private:
  Session(Token token, CK_SESSION_HANDLE h) : token_(std::move(token)), handle_(h) {}
  Token token_;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
};

}  // namespace hsm::p11
