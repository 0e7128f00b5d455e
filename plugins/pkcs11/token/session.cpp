#include "plugins/pkcs11/token/session.hpp"

#include <utility>

#include "plugins/pkcs11/token/error.hpp"

namespace hsm::p11 {

using api::Result;
using api::Status;

Result<Session> Session::open(const Token& token, bool read_write) {
  CK_FLAGS flags = CKF_SERIAL_SESSION;
  if (read_write) flags |= CKF_RW_SESSION;
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  HSM_TRY(check(token.fn()->C_OpenSession(token.slot(), flags, nullptr, nullptr, &h),
                "C_OpenSession", token.name()));
  return Session(token, h);
}

Session::Session(Session&& other) noexcept
    : token_(other.token_), handle_(std::exchange(other.handle_, CK_INVALID_HANDLE)) {}

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    if (handle_ != CK_INVALID_HANDLE) (void)fn()->C_CloseSession(handle_);
    token_ = other.token_;
    handle_ = std::exchange(other.handle_, CK_INVALID_HANDLE);
  }
  return *this;
}

Session::~Session() {
  if (handle_ != CK_INVALID_HANDLE) (void)fn()->C_CloseSession(handle_);
}

Status Session::login(const api::SecretBytes& pin, CK_USER_TYPE user) {
  const CK_RV rv = fn()->C_Login(handle_, user, const_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
  if (rv == CKR_USER_ALREADY_LOGGED_IN) return {};
  return check(rv, "C_Login", token_.name());
}

Status Session::logout() {
  return check(fn()->C_Logout(handle_), "C_Logout", token_.name());
}

Status Session::init_user_pin(const api::SecretBytes& pin) {
  return check(fn()->C_InitPIN(handle_, const_cast<CK_UTF8CHAR*>(pin.data()), pin.size()),
               "C_InitPIN", token_.name());
}

Result<api::Bytes> Session::random(std::size_t n) {
  api::Bytes out(n);
  HSM_TRY(check(fn()->C_GenerateRandom(handle_, out.data(), out.size()), "C_GenerateRandom"));
  return out;
}

}  // namespace hsm::p11
