#include "plugins/luna/device/portable_form.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include "plugins/luna/crypto/crypto.hpp"

namespace hsm::luna::portable {

using api::Error;
using api::Result;

namespace {

void put_u16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v));
  b.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put_u32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_u64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_str8(Bytes& b, std::string_view s) {
  b.push_back(static_cast<std::uint8_t>(std::min<std::size_t>(s.size(), 255)));
  b.insert(b.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(s.size(), 255)));
}

// Bounds-checked reading: every length is checked before it is used.
struct Reader {
  std::span<const std::uint8_t> d;
  std::size_t at = 0;
  std::string what;
  bool need(std::size_t n) const { return n <= d.size() - at; }
  Result<std::uint64_t> uint(int bytes) {
    if (!need(static_cast<std::size_t>(bytes))) return short_of("an integer");
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t{d[at + static_cast<std::size_t>(i)]} << (8 * i);
    at += static_cast<std::size_t>(bytes);
    return v;
  }
  Result<Bytes> bytes(std::size_t n) {
    if (!need(n)) return short_of(std::to_string(n) + " bytes");
    Bytes out(d.begin() + static_cast<std::ptrdiff_t>(at), d.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
    return out;
  }
  Result<std::string> str8() {
    HSM_TRY_ASSIGN(std::uint64_t n, uint(1));
    HSM_TRY_ASSIGN(Bytes b, bytes(n));
    return std::string(b.begin(), b.end());
  }
  Error short_of(const std::string& field) const {
    return Error::integrity(what + " ends before " + field + " (at byte " + std::to_string(at) + ")");
  }
  api::Status end() const {
    if (at != d.size())
      return Error::integrity(what + " has " + std::to_string(d.size() - at) + " trailing byte(s)");
    return {};
  }
};

// Hex to bytes; a pair that is not hex ends the parse (callers give hex they made).
Bytes from_hex(std::string_view h) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  for (std::size_t k = 0; k + 1 < h.size(); k += 2) {
    const int hi = nib(h[k]), lo = nib(h[k + 1]);
    if (hi < 0 || lo < 0) break;
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

Bytes fingerprint_bytes(std::string_view hex) {
  Bytes fp = from_hex(hex);
  fp.resize(32, 0);
  return fp;
}

bool starts_with(std::span<const std::uint8_t> b, std::string_view magic) {
  return b.size() >= magic.size() && std::equal(magic.begin(), magic.end(), b.begin());
}

Bytes sha256_of(std::string_view context, std::span<const std::uint8_t> data) {
  Bytes msg(context.begin(), context.end());
  msg.insert(msg.end(), data.begin(), data.end());
  return crypto::sha256(msg);
}

struct Name {
  std::uint32_t type;
  const char* name;
};
constexpr Name kNames[] = {
    {cka::kClass, "CKA_CLASS"},
    {cka::kToken, "CKA_TOKEN"},
    {cka::kPrivate, "CKA_PRIVATE"},
    {cka::kLabel, "CKA_LABEL"},
    {cka::kTrusted, "CKA_TRUSTED"},
    {cka::kKeyType, "CKA_KEY_TYPE"},
    {cka::kId, "CKA_ID"},
    {cka::kSensitive, "CKA_SENSITIVE"},
    {cka::kEncrypt, "CKA_ENCRYPT"},
    {cka::kDecrypt, "CKA_DECRYPT"},
    {cka::kWrap, "CKA_WRAP"},
    {cka::kUnwrap, "CKA_UNWRAP"},
    {cka::kSign, "CKA_SIGN"},
    {cka::kSignRecover, "CKA_SIGN_RECOVER"},
    {cka::kVerify, "CKA_VERIFY"},
    {cka::kVerifyRecover, "CKA_VERIFY_RECOVER"},
    {cka::kDerive, "CKA_DERIVE"},
    {cka::kModulusBits, "CKA_MODULUS_BITS"},
    {cka::kPublicKeyInfo, "CKA_PUBLIC_KEY_INFO"},
    {cka::kValueLen, "CKA_VALUE_LEN"},
    {cka::kExtractable, "CKA_EXTRACTABLE"},
    {cka::kLocal, "CKA_LOCAL"},
    {cka::kNeverExtractable, "CKA_NEVER_EXTRACTABLE"},
    {cka::kAlwaysSensitive, "CKA_ALWAYS_SENSITIVE"},
    {cka::kKeyGenMechanism, "CKA_KEY_GEN_MECHANISM"},
    {cka::kModifiable, "CKA_MODIFIABLE"},
    {cka::kCopyable, "CKA_COPYABLE"},
    {cka::kDestroyable, "CKA_DESTROYABLE"},
    {cka::kEcParams, "CKA_EC_PARAMS"},
    {cka::kAlwaysAuthenticate, "CKA_ALWAYS_AUTHENTICATE"},
    {cka::kWrapWithTrusted, "CKA_WRAP_WITH_TRUSTED"},
    {cka::kHmOriginFm, "hsm-migrate origin FM class"},
    {cka::kHmTravelled, "hsm-migrate travelled"},
    {cka::kHmKeygen, "hsm-migrate key-generation mechanism"},
    {cka::kHmPairId, "hsm-migrate pair id"},
    {cka::kHmLunaFlags, "Luna vendor attributes"},
};

// Boolean attributes shown in ObjectDesc::attributes, in this order.
constexpr std::uint32_t kShownFlags[] = {
    cka::kToken,     cka::kPrivate,        cka::kModifiable,  cka::kCopyable,         cka::kDestroyable,
    cka::kLocal,     cka::kSensitive,      cka::kAlwaysSensitive, cka::kExtractable, cka::kNeverExtractable,
    cka::kEncrypt,   cka::kDecrypt,        cka::kSign,        cka::kSignRecover,      cka::kVerify,
    cka::kVerifyRecover, cka::kWrap,       cka::kUnwrap,      cka::kDerive,           cka::kWrapWithTrusted,
    cka::kTrusted,   cka::kAlwaysAuthenticate,
};

struct CurveOid {
  std::string_view name;
  std::array<std::uint8_t, 10> der;
  std::size_t n;
};
constexpr CurveOid kCurves[] = {
    {"P-256", {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07}, 10},
    {"P-384", {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22}, 7},
    {"P-521", {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23}, 7},
    {"Ed25519", {0x06, 0x03, 0x2B, 0x65, 0x70}, 5},
};
// Edwards curves may also be named by a PrintableString (softhsm2-facts.md 4.2).
constexpr std::uint8_t kEd25519Printable[] = {0x13, 0x0C, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};

}  // namespace

std::string attribute_name(std::uint32_t type) {
  for (const auto& n : kNames)
    if (n.type == type) return n.name;
  char buf[24];
  std::snprintf(buf, sizeof buf, "CKA_0x%X", type);
  return buf;
}

Attribute bool_attribute(std::uint32_t type, bool v) { return {type, Bytes{static_cast<std::uint8_t>(v ? 1 : 0)}}; }
Attribute ulong_attribute(std::uint32_t type, std::uint64_t v) {
  Attribute a{type, {}};
  put_u64(a.value, v);
  return a;
}
Attribute bytes_attribute(std::uint32_t type, std::span<const std::uint8_t> v) {
  return {type, Bytes(v.begin(), v.end())};
}
Attribute text_attribute(std::uint32_t type, std::string_view v) { return {type, Bytes(v.begin(), v.end())}; }

const Attribute* Record::find(std::uint32_t type) const {
  for (const auto& a : attributes)
    if (a.type == type) return &a;
  return nullptr;
}
std::optional<bool> Record::flag(std::uint32_t type) const {
  const Attribute* a = find(type);
  if (!a || a->value.size() != 1) return std::nullopt;
  return a->value[0] != 0;
}
std::optional<std::uint64_t> Record::ulong(std::uint32_t type) const {
  const Attribute* a = find(type);
  if (!a || a->value.size() != 8) return std::nullopt;
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{a->value[static_cast<std::size_t>(i)]} << (8 * i);
  return v;
}
std::string Record::text(std::uint32_t type) const {
  const Attribute* a = find(type);
  return a ? std::string(a->value.begin(), a->value.end()) : std::string();
}

Bytes encode_record(const Record& r) {
  Bytes b{'P', 'K', 'R', '1'};
  put_u64(b, r.position);
  put_str8(b, r.fingerprint);
  put_u16(b, static_cast<std::uint16_t>(r.attributes.size()));
  for (const auto& a : r.attributes) {
    put_u32(b, a.type);
    put_u32(b, static_cast<std::uint32_t>(a.value.size()));
    b.insert(b.end(), a.value.begin(), a.value.end());
  }
  put_u32(b, static_cast<std::uint32_t>(r.wrapped_key.size()));
  b.insert(b.end(), r.wrapped_key.begin(), r.wrapped_key.end());
  return b;
}

Result<Record> decode_record(std::span<const std::uint8_t> data) {
  if (!starts_with(data, "PKR1")) return Error::integrity("a portable blob opened but holds no record (bad magic)");
  Reader rd{data, 4, "a portable record"};
  Record r;
  HSM_TRY_ASSIGN(r.position, rd.uint(8));
  HSM_TRY_ASSIGN(r.fingerprint, rd.str8());
  HSM_TRY_ASSIGN(std::uint64_t n, rd.uint(2));
  if (n > kMaxAttributes) return Error::integrity("a portable record claims " + std::to_string(n) + " attributes");
  for (std::uint64_t i = 0; i < n; ++i) {
    Attribute a;
    HSM_TRY_ASSIGN(std::uint64_t type, rd.uint(4));
    HSM_TRY_ASSIGN(std::uint64_t len, rd.uint(4));
    if (len > kMaxAttributeBytes) return Error::integrity("a portable record has an attribute of " + std::to_string(len) + " bytes");
    a.type = static_cast<std::uint32_t>(type);
    HSM_TRY_ASSIGN(a.value, rd.bytes(len));
    r.attributes.push_back(std::move(a));
  }
  HSM_TRY_ASSIGN(std::uint64_t w, rd.uint(4));
  if (w > kMaxAttributeBytes) return Error::integrity("a portable record has a wrapped key of " + std::to_string(w) + " bytes");
  HSM_TRY_ASSIGN(r.wrapped_key, rd.bytes(w));
  HSM_TRY(rd.end());
  return r;
}

bool is_portable(const Bytes& w) { return starts_with(w, kWrappedForm); }

Bytes encode_wrapped(const WrappedKeys& k) {
  Bytes b(kWrappedForm.begin(), kWrappedForm.end());
  b.insert(b.end(), k.seal.begin(), k.seal.end());
  b.insert(b.end(), k.wrap.begin(), k.wrap.end());
  return b;
}

Result<WrappedKeys> decode_wrapped(const Bytes& w) {
  if (!is_portable(w) || w.size() != kWrappedBytes)
    return Error::integrity("the archive's wrapped master key is not in the portable form (PKW1, " +
                            std::to_string(kWrappedBytes) + " bytes)");
  WrappedKeys k;
  k.seal.assign(w.begin() + 4, w.begin() + 4 + kKwpOf32);
  k.wrap.assign(w.begin() + 4 + kKwpOf32, w.end());
  return k;
}

Bytes tag_input(const api::ArchiveId& id) { return sha256_of("hsm-migrate portable tag input v1", id); }

std::string tag_hex(std::span<const std::uint8_t> wrapped) {
  return crypto::hex(sha256_of("hsm-migrate portable domain tag v1", wrapped));
}

std::string secret_fingerprint(api::ObjectClass cls, api::KeyType type, std::span<const std::uint8_t> wrapped) {
  const std::string ctx = "hsm-migrate portable fingerprint v1|" + std::string(api::to_string(cls)) + "|" +
                          std::string(api::to_string(type)) + "|";
  return crypto::hex(sha256_of(ctx, wrapped));
}

std::string public_fingerprint(api::ObjectClass cls, api::KeyType type, std::span<const std::uint8_t> spki) {
  const std::string ctx = "hsm-migrate fingerprint v1|" + std::string(api::to_string(cls)) + "|" +
                          std::string(api::to_string(type)) + "|";
  return crypto::hex(sha256_of(ctx, spki));
}

Bytes encode_offer(const Offer& o) {
  Bytes b{'P', 'K', 'O', '1'};
  put_str8(b, o.target);
  b.insert(b.end(), o.nonce.begin(), o.nonce.end());
  b.push_back(static_cast<std::uint8_t>(std::min<std::size_t>(o.domains.size(), 255)));
  for (std::size_t i = 0; i < o.domains.size() && i < 255; ++i) {
    const Bytes fp = fingerprint_bytes(o.domains[i]);
    b.insert(b.end(), fp.begin(), fp.end());
  }
  return b;
}

Result<Offer> decode_offer(const Bytes& blob) {
  if (!starts_with(blob, "PKO1")) return Error::integrity("not a KWP clone offer (bad magic)");
  Reader rd{blob, 4, "a KWP clone offer"};
  Offer o;
  HSM_TRY_ASSIGN(o.target, rd.str8());
  HSM_TRY_ASSIGN(o.nonce, rd.bytes(32));
  HSM_TRY_ASSIGN(std::uint64_t n, rd.uint(1));
  for (std::uint64_t i = 0; i < n; ++i) {
    HSM_TRY_ASSIGN(Bytes fp, rd.bytes(32));
    o.domains.push_back(crypto::hex(fp));
  }
  HSM_TRY(rd.end());
  return o;
}

Bytes encode_session(const Session& s) {
  Bytes b{'P', 'K', 'S', '1'};
  const Bytes fp = fingerprint_bytes(s.domain);
  b.insert(b.end(), fp.begin(), fp.end());
  b.insert(b.end(), s.keys.seal.begin(), s.keys.seal.end());
  b.insert(b.end(), s.keys.wrap.begin(), s.keys.wrap.end());
  put_str8(b, s.source);
  return b;
}

Result<Session> decode_session(const Bytes& blob) {
  if (!starts_with(blob, "PKS1")) return Error::integrity("not a KWP clone session (bad magic)");
  Reader rd{blob, 4, "a KWP clone session"};
  Session s;
  HSM_TRY_ASSIGN(Bytes fp, rd.bytes(32));
  s.domain = crypto::hex(fp);
  HSM_TRY_ASSIGN(s.keys.seal, rd.bytes(kKwpOf32));
  HSM_TRY_ASSIGN(s.keys.wrap, rd.bytes(kKwpOf32));
  HSM_TRY_ASSIGN(s.source, rd.str8());
  HSM_TRY(rd.end());
  return s;
}

Bytes clone_aad(const Bytes& offer_blob, const Bytes& session_blob, std::uint64_t index) {
  static constexpr std::string_view kContext = "hsm-migrate KWP clone v1";
  Bytes b(kContext.begin(), kContext.end());
  const Bytes ho = crypto::sha256(offer_blob), hs = crypto::sha256(session_blob);
  b.insert(b.end(), ho.begin(), ho.end());
  b.insert(b.end(), hs.begin(), hs.end());
  put_u64(b, index);
  return b;
}

std::optional<std::uint64_t> ckk_of(api::KeyType t) {
  switch (t) {
    case api::KeyType::aes: return ckk::kAes;
    case api::KeyType::des3: return ckk::kDes3;
    case api::KeyType::rsa: return ckk::kRsa;
    case api::KeyType::ec: return ckk::kEc;
    case api::KeyType::ed25519: return ckk::kEdwards;
    case api::KeyType::generic: return ckk::kGenericSecret;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> cko_of(api::ObjectClass c) {
  switch (c) {
    case api::ObjectClass::secret_key: return cko::kSecretKey;
    case api::ObjectClass::private_key: return cko::kPrivateKey;
    case api::ObjectClass::public_key: return cko::kPublicKey;
    case api::ObjectClass::data: return cko::kData;
    case api::ObjectClass::certificate: return cko::kCertificate;
  }
  return std::nullopt;
}

Bytes ec_params_of(std::string_view curve) {
  for (const auto& c : kCurves)
    if (c.name == curve) return Bytes(c.der.begin(), c.der.begin() + static_cast<std::ptrdiff_t>(c.n));
  return {};
}

std::string curve_of(std::span<const std::uint8_t> p) {
  for (const auto& c : kCurves)
    if (p.size() == c.n && std::equal(p.begin(), p.end(), c.der.begin())) return std::string(c.name);
  if (p.size() == sizeof kEd25519Printable && std::equal(p.begin(), p.end(), kEd25519Printable)) return "Ed25519";
  return "";
}

namespace {

int curve_bits(const std::string& curve) {
  if (curve == "P-256" || curve == "Ed25519") return 256;
  if (curve == "P-384") return 384;
  if (curve == "P-521") return 521;
  return 0;
}

}  // namespace

Result<api::ObjectDesc> desc_of(const Record& r) {
  api::ObjectDesc d;
  const auto cls = r.ulong(cka::kClass);
  const auto type = r.ulong(cka::kKeyType);
  if (!cls) return Error::integrity("a portable record has no CKA_CLASS");
  switch (*cls) {
    case cko::kSecretKey: d.cls = api::ObjectClass::secret_key; break;
    case cko::kPrivateKey: d.cls = api::ObjectClass::private_key; break;
    case cko::kPublicKey: d.cls = api::ObjectClass::public_key; break;
    case cko::kCertificate: d.cls = api::ObjectClass::certificate; break;
    case cko::kData: d.cls = api::ObjectClass::data; break;
    default: return Error::integrity("a portable record has an unknown CKA_CLASS " + std::to_string(*cls));
  }
  if (const Attribute* p = r.find(cka::kEcParams)) d.curve = curve_of(p->value);
  d.key_type = api::KeyType::generic;
  if (type) {
    switch (*type) {
      case ckk::kAes: d.key_type = api::KeyType::aes; break;
      case ckk::kDes3: d.key_type = api::KeyType::des3; break;
      case ckk::kRsa: d.key_type = api::KeyType::rsa; break;
      case ckk::kEc: d.key_type = api::KeyType::ec; break;
      case ckk::kEdwards: d.key_type = d.curve == "Ed25519" ? api::KeyType::ed25519 : api::KeyType::generic; break;
      default: d.key_type = api::KeyType::generic; break;
    }
  }
  if (auto v = r.ulong(cka::kValueLen); v && *v > 0) d.bits = static_cast<int>(*v * 8);
  if (auto v = r.ulong(cka::kModulusBits); v && *v > 0) d.bits = static_cast<int>(*v);
  if (d.bits == 0) d.bits = curve_bits(d.curve);
  if (d.key_type == api::KeyType::des3 && d.bits == 192) d.bits = 168;  // the Luna model's DES3 size
  d.label = r.text(cka::kLabel);
  if (const Attribute* id = r.find(cka::kId)) d.id_hex = crypto::hex(id->value);
  d.extractable = r.flag(cka::kExtractable).value_or(false);
  d.sensitive = r.flag(cka::kSensitive).value_or(d.cls != api::ObjectClass::public_key);
  d.fingerprint = r.fingerprint;
  if (auto fm = api::parse_fm_state(r.text(cka::kHmOriginFm))) d.origin_fm = *fm;
  if (auto k = api::parse_keygen_mechanism(r.text(cka::kHmKeygen))) d.keygen = *k;
  d.pair_id = r.text(cka::kHmPairId);
  const std::string travelled = r.text(cka::kHmTravelled);
  for (std::size_t at = 0; at < travelled.size();) {
    const std::size_t comma = std::min(travelled.find(',', at), travelled.size());
    if (auto p = api::parse_protocol(travelled.substr(at, comma - at))) d.travelled.push_back(*p);
    at = comma + 1;
  }
  if (const Attribute* f = r.find(cka::kHmLunaFlags); f && f->value.size() == 1) {
    const std::uint8_t v = f->value[0];
    d.assigned = v & luna_flag::kAssigned;
    d.per_key_auth = v & luna_flag::kPerKeyAuth;
    d.key_ring = v & luna_flag::kKeyRing;
    d.des3_counters = v & luna_flag::kDes3Counters;
    d.unknown_attribute = v & luna_flag::kUnknown;
  }
  for (std::uint32_t t : kShownFlags)
    if (auto v = r.flag(t)) d.attributes.emplace_back(attribute_name(t), *v ? "true" : "false");
  if (auto m = r.ulong(cka::kKeyGenMechanism)) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llX", static_cast<unsigned long long>(*m));
    d.attributes.emplace_back("CKA_KEY_GEN_MECHANISM", buf);
  }
  return d;
}

std::vector<Attribute> attributes_of(const api::ObjectDesc& d, std::span<const std::uint8_t> public_der,
                                     std::size_t value_len) {
  std::vector<Attribute> a;
  if (auto c = cko_of(d.cls)) a.push_back(ulong_attribute(cka::kClass, *c));
  if (auto k = ckk_of(d.key_type)) a.push_back(ulong_attribute(cka::kKeyType, *k));
  a.push_back(text_attribute(cka::kLabel, d.label));
  a.push_back(bytes_attribute(cka::kId, from_hex(d.id_hex)));
  const bool pub = d.cls == api::ObjectClass::public_key;
  const bool secret = d.cls == api::ObjectClass::secret_key;
  const bool priv = d.cls == api::ObjectClass::private_key;
  a.push_back(bool_attribute(cka::kToken, true));
  a.push_back(bool_attribute(cka::kPrivate, !pub));
  if (!pub) {
    a.push_back(bool_attribute(cka::kSensitive, d.sensitive));
    a.push_back(bool_attribute(cka::kExtractable, d.extractable));
  }
  // The Luna model's verbs: secret keys encrypt/decrypt, private keys sign
  // (RSA also decrypts), public keys verify (RSA also encrypts).
  const bool rsa = d.key_type == api::KeyType::rsa;
  if (secret) {
    for (auto [t, v] : {std::pair{cka::kEncrypt, true}, {cka::kDecrypt, true}, {cka::kSign, false},
                        {cka::kVerify, false}, {cka::kWrap, false}, {cka::kUnwrap, false}, {cka::kDerive, false}})
      a.push_back(bool_attribute(t, v));
  } else if (priv) {
    for (auto [t, v] : {std::pair{cka::kSign, true}, {cka::kDecrypt, rsa}, {cka::kSignRecover, false},
                        {cka::kUnwrap, false}, {cka::kDerive, false}})
      a.push_back(bool_attribute(t, v));
  } else if (pub) {
    for (auto [t, v] : {std::pair{cka::kVerify, true}, {cka::kEncrypt, rsa}, {cka::kVerifyRecover, false},
                        {cka::kWrap, false}, {cka::kDerive, false}})
      a.push_back(bool_attribute(t, v));
  }
  if (secret && value_len > 0) a.push_back(ulong_attribute(cka::kValueLen, value_len));
  if (rsa && d.bits > 0) a.push_back(ulong_attribute(cka::kModulusBits, static_cast<std::uint64_t>(d.bits)));
  if (const Bytes p = ec_params_of(d.curve); !p.empty()) a.push_back(bytes_attribute(cka::kEcParams, p));
  if (!public_der.empty()) a.push_back(bytes_attribute(cka::kPublicKeyInfo, public_der));
  // The Luna model's provenance and vendor attributes travel as hsm-migrate's own.
  a.push_back(text_attribute(cka::kHmOriginFm, api::to_string(d.origin_fm)));
  if (d.keygen != api::KeygenMechanism::none) a.push_back(text_attribute(cka::kHmKeygen, api::to_string(d.keygen)));
  if (!d.pair_id.empty()) a.push_back(text_attribute(cka::kHmPairId, d.pair_id));
  if (!d.travelled.empty()) {
    std::string t;
    for (auto p : d.travelled) t += (t.empty() ? "" : ",") + std::string(api::to_string(p));
    a.push_back(text_attribute(cka::kHmTravelled, t));
  }
  std::uint8_t flags = 0;
  if (d.assigned) flags |= luna_flag::kAssigned;
  if (d.per_key_auth) flags |= luna_flag::kPerKeyAuth;
  if (d.key_ring) flags |= luna_flag::kKeyRing;
  if (d.des3_counters) flags |= luna_flag::kDes3Counters;
  if (d.unknown_attribute) flags |= luna_flag::kUnknown;
  if (flags) a.push_back(Attribute{cka::kHmLunaFlags, Bytes{flags}});
  return a;
}

}  // namespace hsm::luna::portable
