#include "plugins/pkcs11/device/token_objects.hpp"

#include <charconv>

#include "plugins/luna/device/portable_form.hpp"
#include "plugins/pkcs11/token/curves.hpp"
#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/names.hpp"
#include "plugins/pkcs11/token/public_key.hpp"
#include "plugins/pkcs11/token/transport.hpp"

namespace hsm::p11::plugin {

using api::Error;
using api::Result;
namespace portable = luna::portable;

api::Bytes bytes_of(std::string_view s) { return api::Bytes(s.begin(), s.end()); }

bool is_own_object(const ObjectInfo& o) {
  return o.label.size() >= kOwnLabelPrefix.size() &&
         std::equal(kOwnLabelPrefix.begin(), kOwnLabelPrefix.end(), o.label.begin());
}

std::optional<api::ObjectClass> class_of(CK_OBJECT_CLASS c) {
  switch (c) {
    case CKO_SECRET_KEY: return api::ObjectClass::secret_key;
    case CKO_PRIVATE_KEY: return api::ObjectClass::private_key;
    case CKO_PUBLIC_KEY: return api::ObjectClass::public_key;
    case CKO_CERTIFICATE: return api::ObjectClass::certificate;
    case CKO_DATA: return api::ObjectClass::data;
    default: return std::nullopt;
  }
}

api::KeyType key_type_of(const ObjectInfo& o) {
  if (!o.key_type) return api::KeyType::generic;
  switch (*o.key_type) {
    case CKK_AES: return api::KeyType::aes;
    case CKK_DES3: return api::KeyType::des3;
    case CKK_RSA: return api::KeyType::rsa;
    case CKK_EC: return api::KeyType::ec;
    case CKK_EC_EDWARDS: {
      const Curve* c = curve_by_params(o.ec_params);
      return c != nullptr && c->name == "Ed25519" ? api::KeyType::ed25519 : api::KeyType::generic;
    }
    default: return api::KeyType::generic;
  }
}

api::ObjectDesc describe_object(const ObjectInfo& o) {
  api::ObjectDesc d;
  d.handle = o.handle;
  d.label.assign(o.label.begin(), o.label.end());
  d.id_hex = hex(o.id);
  d.cls = class_of(o.cls).value_or(api::ObjectClass::data);
  d.key_type = key_type_of(o);
  d.bits = o.bits();
  if (const Curve* c = curve_by_params(o.ec_params)) d.curve = std::string(c->name);
  d.extractable = o.is(CKA_EXTRACTABLE);
  d.sensitive = o.is(CKA_SENSITIVE);
  if (d.cls == api::ObjectClass::private_key || d.cls == api::ObjectClass::public_key) d.pair_id = d.id_hex;
  for (const auto& [type, value] : o.flags) d.attributes.emplace_back(attribute_name(type), value ? "true" : "false");
  if (o.key_gen_mechanism) d.attributes.emplace_back("CKA_KEY_GEN_MECHANISM", mechanism_name(*o.key_gen_mechanism));
  if (!o.check_value.empty()) d.attributes.emplace_back("CKA_CHECK_VALUE", hex(o.check_value));
  return d;
}

Result<PublicKeyIndex> index_public_keys(Session& s) {
  ObjectFilter f = token_objects();
  f.cls = CKO_PUBLIC_KEY;
  HSM_TRY_ASSIGN(auto handles, find_objects(s, f));
  PublicKeyIndex index;
  for (CK_OBJECT_HANDLE h : handles) {
    std::uint8_t buf[256];
    CK_ATTRIBUTE a{CKA_ID, buf, sizeof buf};
    if (s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1) != CKR_OK || a.ulValueLen > sizeof buf) continue;
    index.emplace(api::Bytes(buf, buf + a.ulValueLen), h);
  }
  return index;
}

Result<api::Bytes> spki_of(Session& s, const ObjectInfo& o, const PublicKeyIndex* index) {
  if (o.cls == CKO_PUBLIC_KEY) return public_key_der(s, o.handle);
  if (o.cls != CKO_PRIVATE_KEY) return api::Bytes{};
  std::optional<CK_OBJECT_HANDLE> pub;
  if (index != nullptr) {
    auto [first, last] = index->equal_range(o.id);
    if (first != last && std::next(first) == last) pub = first->second;
  } else if (auto found = find_public_key(s, o); found.ok()) {
    pub = *found;
  }
  if (pub) return public_key_der(s, *pub);
  if (o.key_type == CKK_RSA) return public_key_der(s, o.handle);  // CKA_MODULUS and CKA_PUBLIC_EXPONENT
  return api::Bytes{};
}

Result<std::string> fingerprint_of(Session& s, const ObjectInfo& o, CK_OBJECT_HANDLE kek, const api::Bytes& spki,
                                   int* bits_out) {
  const auto cls = class_of(o.cls);
  if (!cls) return std::string();
  const api::KeyType type = key_type_of(o);
  if (!spki.empty()) return portable::public_fingerprint(*cls, type, spki);
  if (kek == CK_INVALID_HANDLE || !o.is(CKA_EXTRACTABLE) || o.is(CKA_WRAP_WITH_TRUSTED)) return std::string();
  if (o.cls != CKO_SECRET_KEY && o.cls != CKO_PRIVATE_KEY) return std::string();
  auto wrapped = wrap_key(s, kek, o.handle, 512);
  if (!wrapped.ok()) return std::string();  // a key the token will not wrap (T3): no fingerprint
  // RFC 5649: 8 bytes of integrity check value, the key padded to 8 bytes.
  if (bits_out && o.cls == CKO_SECRET_KEY && wrapped->size() >= 16)
    *bits_out = static_cast<int>((wrapped->size() - 8) * 8);
  return portable::secret_fingerprint(*cls, type, *wrapped);
}

Result<std::vector<CK_OBJECT_HANDLE>> select_objects(Session& s, std::string_view sel) {
  ObjectFilter f = token_objects();
  std::vector<CK_OBJECT_HANDLE> handles;
  if (sel.starts_with("#")) {
    CK_OBJECT_HANDLE h = 0;
    auto r = std::from_chars(sel.data() + 1, sel.data() + sel.size(), h);
    if (r.ec != std::errc() || r.ptr != sel.data() + sel.size())
      return Error::usage("bad object handle \"" + std::string(sel) + "\"", "write a handle as #12");
    auto o = read_object(s, h);
    if (!o.ok() || is_own_object(*o)) return handles;  // no such object (handles are per process)
    handles.push_back(h);
    return handles;
  }
  if (sel.starts_with("id:")) {
    api::Bytes id;
    const auto h = sel.substr(3);
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
      unsigned v = 0;
      auto r = std::from_chars(h.data() + i, h.data() + i + 2, v, 16);
      if (r.ec != std::errc() || r.ptr != h.data() + i + 2)
        return Error::usage("bad CKA_ID \"" + std::string(h) + "\"", "write it in hex, e.g. id:0a1b");
      id.push_back(static_cast<std::uint8_t>(v));
    }
    if (h.size() % 2) return Error::usage("bad CKA_ID \"" + std::string(h) + "\"", "write it in hex, e.g. id:0a1b");
    f.id = std::move(id);
  } else if (!sel.empty() && sel != "all") {
    f.label = bytes_of(sel);
  }
  HSM_TRY_ASSIGN(auto all, find_objects(s, f));
  if (f.label && std::string_view(sel).starts_with(kOwnLabelPrefix)) return handles;
  if (!f.label) {
    // Leave hsm-migrate's own objects out: their labels are read once each.
    for (CK_OBJECT_HANDLE h : all) {
      std::uint8_t buf[64];
      CK_ATTRIBUTE a{CKA_LABEL, buf, sizeof buf};
      const CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1);
      const bool own = rv == CKR_OK && a.ulValueLen >= kOwnLabelPrefix.size() &&
                       std::equal(kOwnLabelPrefix.begin(), kOwnLabelPrefix.end(), buf);
      if (!own) handles.push_back(h);
    }
    return handles;
  }
  return all;
}

}  // namespace hsm::p11::plugin
