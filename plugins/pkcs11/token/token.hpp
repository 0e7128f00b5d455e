// A token found by label (T1), and what this process has learned about it by
// trying. A Token keeps its Module loaded.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "plugins/pkcs11/token/module.hpp"

namespace hsm::p11 {

// Behaviours that differ between tokens, learned on first use and kept for
// the life of the Token (shared by its sessions). Tokens disagree and their
// mechanism lists do not say (softhsm2-facts.md 2.4, 4.2):
struct TokenQuirks {
  // Whether an AES unwrap template must carry CKA_VALUE_LEN: SoftHSM refuses
  // it (CKR_ATTRIBUTE_READ_ONLY), Luna requires it. 0 unknown, 1 yes, 2 no.
  std::atomic<int> value_len_on_unwrap{0};
  // The RFC 5649 mechanism the token takes: 2.40's CKM_AES_KEY_WRAP_PAD or
  // 3.0's CKM_AES_KEY_WRAP_KWP (byte-compatible). Tried in this order.
  std::atomic<CK_MECHANISM_TYPE> kwp{CKM_AES_KEY_WRAP_PAD};
};

class Token {
 public:
  Token(std::shared_ptr<Module> module, TokenInfo info);

  const TokenInfo& info() const { return info_; }
  CK_SLOT_ID slot() const { return info_.slot; }
  Module& module() const { return *module_; }
  CK_FUNCTION_LIST* fn() const { return module_->fn(); }
  TokenQuirks& quirks() const { return *quirks_; }
  // "token 'LABEL' (serial S)", for messages.
  std::string name() const;

  api::Result<std::vector<MechanismInfo>> mechanisms() const { return module_->mechanisms(slot()); }

 private:
  std::shared_ptr<Module> module_;
  TokenInfo info_;
  std::shared_ptr<TokenQuirks> quirks_;
};

}  // namespace hsm::p11
