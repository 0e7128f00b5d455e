#include "plugins/pkcs11/token/transport.hpp"

#include <algorithm>
#include <functional>

#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/names.hpp"

namespace hsm::p11 {

using api::Error;
using api::Result;
using api::Status;

namespace {

// Runs op with the token's RFC 5649 mechanism; when the token does not know
// that name, tries the other one and remembers the one that works.
CK_RV with_kwp(Session& s, const std::function<CK_RV(CK_MECHANISM_TYPE)>& op) {
  auto& known = s.token().quirks().kwp;
  const CK_MECHANISM_TYPE first = known.load();
  CK_RV rv = op(first);
  if (rv != CKR_MECHANISM_INVALID) return rv;
  const CK_MECHANISM_TYPE other =
      first == CKM_AES_KEY_WRAP_PAD ? CKM_AES_KEY_WRAP_KWP : CKM_AES_KEY_WRAP_PAD;
  rv = op(other);
  if (rv == CKR_OK) known.store(other);
  return rv;
}

// Archive keys: sealing and wrapping, nothing else.
void archive_key_template(Template& t, bool extractable) {
  t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_AES);
  t.add_bool(CKA_TOKEN, false).add_bool(CKA_PRIVATE, true);
  t.add_bool(CKA_SENSITIVE, true).add_bool(CKA_EXTRACTABLE, extractable);
  t.add_bool(CKA_ENCRYPT, true).add_bool(CKA_DECRYPT, true);
  t.add_bool(CKA_WRAP, true).add_bool(CKA_UNWRAP, true);
  t.add_bool(CKA_SIGN, false).add_bool(CKA_VERIFY, false).add_bool(CKA_DERIVE, false);
}

// Codes with which a token refuses CKA_VALUE_LEN in an AES unwrap template
// (SoftHSM: read-only), or asks for it (Luna: missing).
bool refuses_value_len(const Error& e) {
  return has_ckr(e, CKR_ATTRIBUTE_READ_ONLY) || has_ckr(e, CKR_TEMPLATE_INCONSISTENT) ||
         has_ckr(e, CKR_ATTRIBUTE_TYPE_INVALID);
}
bool wants_value_len(const Error& e) {
  return has_ckr(e, CKR_TEMPLATE_INCOMPLETE) || has_ckr(e, CKR_ATTRIBUTE_TYPE_INVALID);
}

}  // namespace

Result<CK_OBJECT_HANDLE> generate_archive_key(Session& s) {
  Template t;
  archive_key_template(t, true);
  t.add_ulong(CKA_VALUE_LEN, 32);
  CK_MECHANISM m{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  HSM_TRY(check(s.fn()->C_GenerateKey(s.handle(), &m, t.data(), t.size(), &h), "C_GenerateKey",
                "archive key"));
  return h;
}

Result<api::Bytes> wrap_key(Session& s, CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key,
                            std::size_t size_hint) {
  // One call in the common case (an RSA-4096 private key wraps to ~2.4 KB);
  // the exact length and a second call otherwise.
  api::Bytes out(std::max<std::size_t>(size_hint, 16));  // never a NULL buffer (a length query)
  CK_ULONG n = out.size();
  auto wrap = [&](CK_MECHANISM_TYPE mt) {
    CK_MECHANISM m{mt, nullptr, 0};
    n = out.size();
    CK_RV rv = s.fn()->C_WrapKey(s.handle(), &m, wrapping_key, key, out.data(), &n);
    if (rv == CKR_BUFFER_TOO_SMALL) {
      out.resize(n);
      rv = s.fn()->C_WrapKey(s.handle(), &m, wrapping_key, key, out.data(), &n);
    }
    return rv;
  };
  HSM_TRY(check(with_kwp(s, wrap), "C_WrapKey", "AES key wrap with padding"));
  out.resize(n);
  return out;
}

Result<CK_OBJECT_HANDLE> unwrap_archive_key(Session& s, CK_OBJECT_HANDLE kek,
                                            std::span<const std::uint8_t> blob) {
  Template t;
  archive_key_template(t, false);
  return unwrap_with_template(s, kek, blob, t);
}

Result<Template> unwrap_template(const ObjectInfo& c, bool token_object, bool with_value_len) {
  if (c.cls != CKO_SECRET_KEY && c.cls != CKO_PRIVATE_KEY)
    return Error::usage(
        "only secret and private keys travel wrapped; public keys, certificates and data are "
        "created from their values");
  if (!c.key_type) return Error::usage("the carried attributes have no CKA_KEY_TYPE");
  if (c.is(CKA_TRUSTED))
    return Error::usage(
        "CKA_TRUSTED=true cannot be restored: only the token's security officer may set it (T5)");

  Template t;
  t.add_ulong(CKA_CLASS, c.cls).add_ulong(CKA_KEY_TYPE, *c.key_type);
  t.add_bool(CKA_TOKEN, token_object);
  t.add_bytes(CKA_LABEL, c.label).add_bytes(CKA_ID, c.id);
  // What the token would otherwise default permissively: unknown usage is
  // "no", unknown protection is "protected".
  t.add_bool(CKA_PRIVATE, c.flag(CKA_PRIVATE).value_or(true));
  t.add_bool(CKA_SENSITIVE, c.flag(CKA_SENSITIVE).value_or(true));
  t.add_bool(CKA_EXTRACTABLE, c.is(CKA_EXTRACTABLE));
  // The usage flags of the class (PKCS#11 2.40, 4.9 and 4.10): every one set.
  static constexpr CK_ATTRIBUTE_TYPE kSecretUsage[] = {
      CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN,   CKA_VERIFY,
      CKA_WRAP,    CKA_UNWRAP,  CKA_DERIVE, CKA_WRAP_WITH_TRUSTED};
  static constexpr CK_ATTRIBUTE_TYPE kPrivateUsage[] = {CKA_DECRYPT,
                                                        CKA_SIGN,
                                                        CKA_SIGN_RECOVER,
                                                        CKA_UNWRAP,
                                                        CKA_DERIVE,
                                                        CKA_WRAP_WITH_TRUSTED,
                                                        CKA_ALWAYS_AUTHENTICATE};
  if (c.cls == CKO_SECRET_KEY) {
    for (CK_ATTRIBUTE_TYPE a : kSecretUsage) t.add_bool(a, c.is(a));
  } else {
    for (CK_ATTRIBUTE_TYPE a : kPrivateUsage) t.add_bool(a, c.is(a));
  }
  // Their defaults (true) are safe; set only what the source said.
  for (CK_ATTRIBUTE_TYPE a : {CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE})
    if (auto v = c.flag(a)) t.add_bool(a, *v);
  if (with_value_len && c.cls == CKO_SECRET_KEY && c.value_len && *c.value_len > 0)
    t.add_ulong(CKA_VALUE_LEN, *c.value_len);
  return t;
}

Result<CK_OBJECT_HANDLE> unwrap_with_template(Session& s, CK_OBJECT_HANDLE wrapping_key,
                                              std::span<const std::uint8_t> blob, Template& t) {
  if (t.size() > kMaxUnwrapTemplate)
    return Error::usage("an unwrap template of " + std::to_string(t.size()) +
                        " attributes is longer than the " + std::to_string(kMaxUnwrapTemplate) +
                        " SoftHSM takes (" + t.names() + ")");
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  auto unwrap = [&](CK_MECHANISM_TYPE mt) {
    CK_MECHANISM m{mt, nullptr, 0};
    return s.fn()->C_UnwrapKey(s.handle(), &m, wrapping_key, const_cast<std::uint8_t*>(blob.data()),
                               blob.size(), t.data(), t.size(), &h);
  };
  const CK_RV rv = with_kwp(s, unwrap);
  if (rv == CKR_OK) return h;
  Error e = ck_error(rv, "C_UnwrapKey", "AES key wrap with padding", CallKind::opens_sealed_data);
  // T5: a refused template is named, attribute by attribute.
  if (token_refused(e)) e.message += " (template: " + t.names() + ")";
  return e;
}

Result<CK_OBJECT_HANDLE> unwrap_key(Session& s, CK_OBJECT_HANDLE wrapping_key,
                                    std::span<const std::uint8_t> blob, const ObjectInfo& carried,
                                    bool token_object) {
  auto& quirk = s.token().quirks().value_len_on_unwrap;
  const bool aes_len = carried.cls == CKO_SECRET_KEY && carried.value_len && *carried.value_len > 0;
  const bool with = quirk.load() == 1;
  HSM_TRY_ASSIGN(auto t, unwrap_template(carried, token_object, with));
  auto r = unwrap_with_template(s, wrapping_key, blob, t);
  if (!aes_len) return r;
  if (r.ok()) {
    quirk.store(with ? 1 : 2);
    return r;
  }
  // Try the other way once: the token may want CKA_VALUE_LEN (Luna) or
  // refuse it (SoftHSM), and says so only by failing.
  if (with ? !refuses_value_len(r.error()) : !wants_value_len(r.error())) return r;
  HSM_TRY_ASSIGN(auto t2, unwrap_template(carried, token_object, !with));
  auto r2 = unwrap_with_template(s, wrapping_key, blob, t2);
  if (r2.ok()) quirk.store(with ? 2 : 1);
  return r2.ok() ? r2 : r;
}

Status probe_transport(Session& s, const KeyKind& kind) {
  std::vector<CK_OBJECT_HANDLE> made;
  auto run = [&]() -> Status {
    KeySpec spec;
    spec.label = {'h', 's', 'm', '-', 'p', 'r', 'o', 'b', 'e'};
    spec.token = false;
    spec.extractable = true;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    if (kind.algorithm == Algorithm::aes) {
      HSM_TRY_ASSIGN(key, generate_secret_key(s, kind, spec));
      made.push_back(key);
    } else {
      HSM_TRY_ASSIGN(KeyPair kp, generate_key_pair(s, kind, spec));
      made.push_back(kp.public_key);
      made.push_back(key = kp.private_key);
    }
    HSM_TRY_ASSIGN(CK_OBJECT_HANDLE ak, generate_archive_key(s));
    made.push_back(ak);
    HSM_TRY_ASSIGN(ObjectInfo info, read_object(s, key));
    HSM_TRY_ASSIGN(api::Bytes blob, wrap_key(s, ak, key));
    HSM_TRY_ASSIGN(CK_OBJECT_HANDLE back, unwrap_key(s, ak, blob, info, false));
    made.push_back(back);
    return {};
  };
  Status st = run();
  for (CK_OBJECT_HANDLE h : made) (void)s.fn()->C_DestroyObject(s.handle(), h);
  if (!st.ok()) {
    Error e = st.error();
    e.message =
        "moving a key of this kind is not possible on " + s.token().name() + ": " + e.message;
    return e;
  }
  return {};
}

}  // namespace hsm::p11
