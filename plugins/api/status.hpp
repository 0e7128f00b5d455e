// Errors as values (style: LevelDB Status, ccache expected). Nothing throws
// across the plugin boundary: every Backend/Device/Partition verb returns a
// Result, and the tool maps Error::kind to one documented exit code.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace hsm::api {

// Outcome classes. The numeric values are the process exit codes documented
// in man/hsm-migrate.1 -- never renumber.
enum class ErrorKind : int {
  other = 1,      // I/O, unexpected internal failure
  usage = 2,      // bad command line, bad input file, unknown device/partition
  refused = 3,    // a Luna rule refused the operation (rule ID set)
  integrity = 4,  // corrupt state, failed authentication, bad signature
  busy = 5,       // a lock is held by a live process
  auth = 6,       // a wrong PIN (CKR_PIN_INCORRECT) or a partition locked by failed logins (CKR_PIN_LOCKED)
};

// One problem found in an input file (a plan): where, and what. An input
// with several problems reports them all at once, as a compiler does.
struct Problem {
  std::string file;
  int line = 0;
  std::string message;  // one line
};

struct Error {
  ErrorKind kind = ErrorKind::other;
  std::string message;  // one line: what is wrong (and for refusals, with whom)
  std::string rule;     // e.g. "P5"; empty when no rule applies
  std::string code;     // PKCS#11-style code, e.g. "CKR_TEMPLATE_INCONSISTENT"
  std::string fix;      // how to fix it; empty when there is none
  std::vector<Problem> problems;  // an input's problems, each its own line; usually none

  static Error usage(std::string m, std::string fix = {}) {
    return {ErrorKind::usage, std::move(m), {}, {}, std::move(fix)};
  }
  static Error other(std::string m) { return {ErrorKind::other, std::move(m), {}, {}, {}}; }
  static Error integrity(std::string m) { return {ErrorKind::integrity, std::move(m), {}, {}, {}}; }
  static Error busy(std::string m) { return {ErrorKind::busy, std::move(m), {}, {}, {}}; }
  static Error auth(std::string code, std::string m, std::string fix = {}) {
    return {ErrorKind::auth, std::move(m), {}, std::move(code), std::move(fix)};
  }
  static Error refused(std::string rule, std::string code, std::string m, std::string fix = {}) {
    return {ErrorKind::refused, std::move(m), std::move(rule), std::move(code), std::move(fix)};
  }
};

// A value or an Error. Minimal on purpose: C++20 has no std::expected.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace hsm::api

// Propagate an error: HSM_TRY(expr) returns expr's Error from the current
// function; HSM_TRY_ASSIGN(var, expr) also binds the value.
#define HSM_CONCAT_INNER(a, b) a##b
#define HSM_CONCAT(a, b) HSM_CONCAT_INNER(a, b)
#define HSM_TRY(expr)                                   \
  do {                                                  \
    auto&& hsm_try_r_ = (expr);                         \
    if (!hsm_try_r_.ok()) return hsm_try_r_.error();    \
  } while (0)
#define HSM_TRY_ASSIGN_IMPL(tmp, var, expr) \
  auto tmp = (expr);                        \
  if (!tmp.ok()) return tmp.error();        \
  var = std::move(tmp).value()
#define HSM_TRY_ASSIGN(var, expr) HSM_TRY_ASSIGN_IMPL(HSM_CONCAT(hsm_try_v_, __LINE__), var, expr)
