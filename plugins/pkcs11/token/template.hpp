// An attribute template that owns its values. CK_ATTRIBUTE holds pointers,
// so values live in deques (stable addresses); a Template can be moved but
// not copied. Secret values (a key's CKA_VALUE) are referenced, not copied,
// so they stay only in the caller's SecretBytes.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "plugins/api/secret.hpp"
#include "plugins/pkcs11/token/cryptoki.hpp"

namespace hsm::p11 {

class Template {
 public:
  Template() = default;
  Template(Template&&) = default;
  Template& operator=(Template&&) = default;
  Template(const Template&) = delete;
  Template& operator=(const Template&) = delete;

  Template& add_bool(CK_ATTRIBUTE_TYPE type, bool value);
  Template& add_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
  Template& add_bytes(CK_ATTRIBUTE_TYPE type, std::span<const std::uint8_t> value);
  // References secret (no copy): secret must outlive every use of the template.
  Template& add_secret(CK_ATTRIBUTE_TYPE type, const api::SecretBytes& secret);

  bool has(CK_ATTRIBUTE_TYPE type) const;
  // Removes every entry of this type; a no-op when there is none.
  void remove(CK_ATTRIBUTE_TYPE type);

  CK_ATTRIBUTE* data() { return attrs_.data(); }
  CK_ULONG size() const { return attrs_.size(); }
  // "CKA_CLASS, CKA_KEY_TYPE, ...": named in errors (T5: never drop silently).
  std::string names() const;

 private:
  std::vector<CK_ATTRIBUTE> attrs_;
  std::deque<CK_BBOOL> bools_;
  std::deque<CK_ULONG> ulongs_;
  std::deque<std::vector<std::uint8_t>> bytes_;
};

}  // namespace hsm::p11
