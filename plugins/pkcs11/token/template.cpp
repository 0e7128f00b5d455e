#include "plugins/pkcs11/token/template.hpp"

#include <algorithm>

#include "plugins/pkcs11/token/names.hpp"

namespace hsm::p11 {

Template& Template::add_bool(CK_ATTRIBUTE_TYPE type, bool value) {
  bools_.push_back(value ? CK_TRUE : CK_FALSE);
  attrs_.push_back({type, &bools_.back(), sizeof(CK_BBOOL)});
  return *this;
}

Template& Template::add_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
  ulongs_.push_back(value);
  attrs_.push_back({type, &ulongs_.back(), sizeof(CK_ULONG)});
  return *this;
}

Template& Template::add_bytes(CK_ATTRIBUTE_TYPE type, std::span<const std::uint8_t> value) {
  bytes_.emplace_back(value.begin(), value.end());
  // An empty value is legal (an empty label); give it a non-null pointer
  // that survives a move of the template.
  static std::uint8_t empty = 0;
  attrs_.push_back(
      {type, bytes_.back().empty() ? &empty : bytes_.back().data(), bytes_.back().size()});
  return *this;
}

Template& Template::add_secret(CK_ATTRIBUTE_TYPE type, const api::SecretBytes& secret) {
  attrs_.push_back({type, const_cast<std::uint8_t*>(secret.data()), secret.size()});
  return *this;
}

bool Template::has(CK_ATTRIBUTE_TYPE type) const {
  return std::any_of(attrs_.begin(), attrs_.end(),
                     [&](const CK_ATTRIBUTE& a) { return a.type == type; });
}

void Template::remove(CK_ATTRIBUTE_TYPE type) {
  std::erase_if(attrs_, [&](const CK_ATTRIBUTE& a) { return a.type == type; });
}

std::string Template::names() const {
  std::string out;
  for (const auto& a : attrs_) out += (out.empty() ? "" : ", ") + attribute_name(a.type);
  return out;
}

}  // namespace hsm::p11
