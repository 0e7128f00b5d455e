#include "plugins/pkcs11/token/token.hpp"

#include <utility>

namespace hsm::p11 {

Token::Token(std::shared_ptr<Module> module, TokenInfo info)
    : module_(std::move(module)),
      info_(std::move(info)),
      quirks_(std::make_shared<TokenQuirks>()) {}

std::string Token::name() const {
  return "token '" + info_.label + "' (serial " + info_.serial + ")";
}

}  // namespace hsm::p11
