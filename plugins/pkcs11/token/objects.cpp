#include "plugins/pkcs11/token/objects.hpp"

#include <array>
#include <cstdio>

#include "plugins/pkcs11/token/curves.hpp"
#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/template.hpp"

namespace hsm::p11 {

using api::Result;
using api::Status;

Result<std::vector<CK_OBJECT_HANDLE>> find_objects(Session& s, const ObjectFilter& f,
                                                   CK_ULONG batch, std::size_t limit) {
  Template t;
  if (f.cls) t.add_ulong(CKA_CLASS, *f.cls);
  if (f.key_type) t.add_ulong(CKA_KEY_TYPE, *f.key_type);
  if (f.label) t.add_bytes(CKA_LABEL, *f.label);
  if (f.id) t.add_bytes(CKA_ID, *f.id);
  if (f.token) t.add_bool(CKA_TOKEN, *f.token);
  if (batch == 0) batch = kFindBatch;

  auto* fn = s.fn();
  HSM_TRY(check(fn->C_FindObjectsInit(s.handle(), t.data(), t.size()), "C_FindObjectsInit"));
  std::vector<CK_OBJECT_HANDLE> out;
  Status st;
  while (out.size() < limit) {
    const std::size_t want = std::min<std::size_t>(batch, limit - out.size());
    const std::size_t at = out.size();
    out.resize(at + want);
    CK_ULONG got = 0;
    st = check(fn->C_FindObjects(s.handle(), out.data() + at, want, &got), "C_FindObjects");
    out.resize(at + (st.ok() ? got : 0));
    if (!st.ok() || got == 0) break;
  }
  // Always end the search, also after a failure, so the session can search again.
  const Status fin = check(fn->C_FindObjectsFinal(s.handle()), "C_FindObjectsFinal");
  HSM_TRY(st);
  HSM_TRY(fin);
  return out;
}

namespace {

// Buffers of the first C_GetAttributeValue for the variable-length values:
// long enough for labels, ids and curve parameters in practice; a longer
// value costs a second call.
constexpr std::size_t kInlineValue = 128;

bool available(const CK_ATTRIBUTE& a) {
  return a.ulValueLen != CK_UNAVAILABLE_INFORMATION;
}

// C_GetAttributeValue answers these when some attribute is missing or too
// long; every other attribute of the template is still filled in.
bool partial_ok(CK_RV rv) {
  return rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
         rv == CKR_BUFFER_TOO_SMALL;
}

// Reads one variable-length attribute on its own: the length, then the value.
Status read_long_value(Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, api::Bytes& out) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1);
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE || !available(a)) return {};
  HSM_TRY(check(rv, "C_GetAttributeValue"));
  out.resize(a.ulValueLen);
  a.pValue = out.data();
  HSM_TRY(check(s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1), "C_GetAttributeValue"));
  out.resize(a.ulValueLen);
  return {};
}

// Whether an object of this class and key type has the attribute, so that
// an unavailable value is worth a second look.
bool expected(const ObjectInfo& o, CK_ATTRIBUTE_TYPE type) {
  switch (type) {
    case CKA_EC_PARAMS:
      return o.key_type == CKK_EC || o.key_type == CKK_EC_EDWARDS;
    case CKA_CHECK_VALUE:
      return o.cls == CKO_SECRET_KEY;
    default:
      return true;  // CKA_LABEL, CKA_ID
  }
}

CK_ULONG bit_length(const api::Bytes& n) {
  std::size_t i = 0;
  while (i < n.size() && n[i] == 0) ++i;
  if (i == n.size()) return 0;
  CK_ULONG bits = (n.size() - i) * 8;
  for (std::uint8_t top = n[i]; (top & 0x80) == 0; top <<= 1) --bits;
  return bits;
}

}  // namespace

Result<ObjectInfo> read_object(Session& s, CK_OBJECT_HANDLE h) {
  constexpr std::size_t nb = std::size(kBooleanAttributes);
  std::array<CK_BBOOL, nb> b{};
  CK_ULONG cls = 0, key_type = 0, value_len = 0, modulus_bits = 0, gen_mech = 0;
  constexpr CK_ATTRIBUTE_TYPE kVariable[] = {CKA_LABEL, CKA_ID, CKA_EC_PARAMS, CKA_CHECK_VALUE};
  std::array<std::array<std::uint8_t, kInlineValue>, std::size(kVariable)> vbuf{};

  std::vector<CK_ATTRIBUTE> t;
  t.reserve(nb + 10);
  t.push_back({CKA_CLASS, &cls, sizeof cls});
  t.push_back({CKA_KEY_TYPE, &key_type, sizeof key_type});
  t.push_back({CKA_VALUE_LEN, &value_len, sizeof value_len});
  t.push_back({CKA_MODULUS_BITS, &modulus_bits, sizeof modulus_bits});
  t.push_back({CKA_KEY_GEN_MECHANISM, &gen_mech, sizeof gen_mech});
  constexpr std::size_t kFirstVariable = 5;
  for (std::size_t i = 0; i < std::size(kVariable); ++i)
    t.push_back({kVariable[i], vbuf[i].data(), kInlineValue});
  const std::size_t first_bool = t.size();
  for (std::size_t i = 0; i < nb; ++i)
    t.push_back({kBooleanAttributes[i], &b[i], sizeof(CK_BBOOL)});

  // RSA private keys have no CKA_MODULUS_BITS (PKCS#11 2.40, 2.1.3): their
  // size comes from the public CKA_MODULUS, readable on sensitive keys too.
  std::array<std::uint8_t, 1024> modulus{};
  const std::size_t modulus_at = t.size();
  t.push_back({CKA_MODULUS, modulus.data(), modulus.size()});

  const CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, t.data(), t.size());
  if (!partial_ok(rv)) return ck_error(rv, "C_GetAttributeValue");
  if (!available(t[0]))
    return ck_error(CKR_ATTRIBUTE_TYPE_INVALID, "C_GetAttributeValue", "CKA_CLASS");

  ObjectInfo o;
  o.handle = h;
  o.cls = cls;
  if (available(t[1])) o.key_type = key_type;
  if (available(t[2])) o.value_len = value_len;
  if (available(t[3])) o.modulus_bits = modulus_bits;
  if (available(t[4])) o.key_gen_mechanism = gen_mech;
  api::Bytes* dest[] = {&o.label, &o.id, &o.ec_params, &o.check_value};
  for (std::size_t i = 0; i < std::size(kVariable); ++i) {
    const CK_ATTRIBUTE& a = t[kFirstVariable + i];
    if (available(a)) {
      dest[i]->assign(vbuf[i].begin(), vbuf[i].begin() + a.ulValueLen);
    } else if (rv != CKR_OK && expected(o, kVariable[i])) {
      // Unavailable: missing or longer than the buffer, and with several
      // problems the return value names only one. Ask on its own.
      HSM_TRY(read_long_value(s, h, kVariable[i], *dest[i]));
    }
  }
  for (std::size_t i = 0; i < nb; ++i)
    if (available(t[first_bool + i])) o.flags.emplace_back(kBooleanAttributes[i], b[i] == CK_TRUE);
  if (!o.modulus_bits && o.key_type == CKK_RSA) {
    api::Bytes n;
    if (available(t[modulus_at])) {
      n.assign(modulus.begin(), modulus.begin() + t[modulus_at].ulValueLen);
    } else if (rv != CKR_OK) {
      HSM_TRY(read_long_value(s, h, CKA_MODULUS, n));
    }
    o.modulus_bits = bit_length(n);
  }
  return o;
}

Status destroy_object(Session& s, CK_OBJECT_HANDLE h) {
  return check(s.fn()->C_DestroyObject(s.handle(), h), "C_DestroyObject");
}

std::optional<bool> ObjectInfo::flag(CK_ATTRIBUTE_TYPE type) const {
  for (const auto& [t, v] : flags)
    if (t == type) return v;
  return std::nullopt;
}

int ObjectInfo::bits() const {
  if (modulus_bits) return static_cast<int>(*modulus_bits);
  if (!ec_params.empty()) {
    const Curve* c = curve_by_params(ec_params);
    return c != nullptr ? c->bits : 0;
  }
  if (value_len && *value_len > 0) return static_cast<int>(*value_len * 8);
  return 0;
}

bool is_utf8(std::span<const std::uint8_t> b) {
  std::size_t i = 0;
  while (i < b.size()) {
    const std::uint8_t c = b[i];
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= b.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if ((b[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

std::string printable(std::span<const std::uint8_t> b) {
  std::string out;
  char buf[8];
  std::size_t i = 0;
  while (i < b.size()) {
    // Take the longest valid UTF-8 sequence starting here (1 to 4 bytes).
    std::size_t len = 0;
    for (std::size_t n = 1; n <= 4 && i + n <= b.size(); ++n)
      if (is_utf8(b.subspan(i, n))) {
        len = n;
        break;
      }
    if (len == 0 || (len == 1 && (b[i] < 0x20 || b[i] == 0x7F || b[i] == '\\'))) {
      std::snprintf(buf, sizeof buf, "\\x%02X", b[i]);
      out += buf;
      ++i;
      continue;
    }
    out.append(reinterpret_cast<const char*>(b.data() + i), len);
    i += len;
  }
  return out;
}

std::string hex(std::span<const std::uint8_t> b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (std::uint8_t c : b) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

}  // namespace hsm::p11
