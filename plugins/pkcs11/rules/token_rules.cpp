#include "plugins/pkcs11/rules/token_rules.hpp"

#include <algorithm>

namespace hsm::p11::rules {

using api::Endpoint;
using api::ObjectDesc;
using api::Protocol;
using api::Verdict;

namespace {

Verdict refuse(std::string rule, std::string code, std::string message, std::string fix,
               std::optional<Protocol> protocol) {
  Verdict v;
  v.allowed = false;
  v.protocol = protocol;
  v.rule = std::move(rule);
  v.code = std::move(code);
  v.message = std::move(message);
  v.fix = std::move(fix);
  return v;
}

std::string object_name(const ObjectDesc& o) {
  return (o.label.empty() ? std::string("object") : "\"" + o.label + "\"") + " (#" + std::to_string(o.handle) +
         (o.id_hex.empty() ? "" : ", id " + o.id_hex) + ")";
}

std::string kind_name(const ObjectDesc& o) {
  std::string k(api::to_string(o.key_type));
  if (!o.curve.empty()) return k + " " + o.curve;
  if (o.bits > 0) return k + "-" + std::to_string(o.bits);
  return k;
}

std::string who(const Endpoint& ep) {
  return ep.address() + (is_token(ep.device) ? " (PKCS#11 token)" : " (" + std::string(api::to_string(ep.device.kind)) + ")");
}

const api::DomainDesc* primary_of(const api::PartitionDesc& p) {
  for (const auto& d : p.domains)
    if (d.primary) return &d;
  return p.domains.empty() ? nullptr : &p.domains.front();
}

bool holds(const api::PartitionDesc& p, const std::string& fp) {
  return std::any_of(p.domains.begin(), p.domains.end(), [&](const api::DomainDesc& d) { return d.fingerprint == fp; });
}

std::string attr(const ObjectDesc& o, std::string_view name) {
  for (const auto& [k, v] : o.attributes)
    if (k == name) return v;
  return "";
}

}  // namespace

bool is_token(const api::DeviceDesc& d) { return d.kind == api::DeviceKind::pkcs11; }

std::optional<std::string> common_domain(const Endpoint& src, const Endpoint& dst) {
  const api::DomainDesc* sp = primary_of(src.partition);
  if (!sp) return std::nullopt;
  if (holds(dst.partition, sp->fingerprint)) return sp->fingerprint;
  for (const auto& d : src.partition.domains)
    if (&d != sp && holds(dst.partition, d.fingerprint)) return d.fingerprint;
  return std::nullopt;
}

Verdict t4_refusal(const Endpoint& src, const Endpoint& dst) {
  const std::string t = dst.address();
  return refuse("T4", "CKR_CERTIFICATE_INVALID",
                who(dst) + " shares no cloning domain with " + who(src) +
                    (dst.partition.domains.empty() && is_token(dst.device) ? " (the token holds no domain key)" : ""),
                "add the source's domain to " + t + " with `hsm-migrate partition domain add " + t + "`",
                Protocol::kwp);
}

bool can_move(const std::vector<api::KeyCapability>& caps, const ObjectDesc& o) {
  for (const auto& c : caps) {
    if (c.type != o.key_type) continue;
    if (!c.curves.empty() && std::find(c.curves.begin(), c.curves.end(), o.curve) == c.curves.end()) continue;
    if (o.bits > 0 && c.max_bits > 0 && (o.bits < c.min_bits || o.bits > c.max_bits)) continue;
    return true;
  }
  return false;
}

std::string describe(const std::vector<api::KeyCapability>& caps) {
  if (caps.empty()) return "no key kind";
  std::string out;
  for (const auto& c : caps) {
    out += (out.empty() ? "" : ", ") + std::string(api::to_string(c.type));
    if (!c.curves.empty()) {
      out += " ";
      for (std::size_t i = 0; i < c.curves.size(); ++i) out += (i ? "/" : "") + c.curves[i];
    } else if (c.max_bits > 0) {
      out += " " + std::to_string(c.min_bits) + "-" + std::to_string(c.max_bits);
    }
  }
  return out;
}

std::optional<Verdict> check_t2(const Endpoint& src, const Endpoint& dst, const ObjectDesc& obj, Protocol p) {
  const std::string o = object_name(obj), s = src.address(), t = dst.address();
  const bool key = obj.cls == api::ObjectClass::secret_key || obj.cls == api::ObjectClass::private_key;
  if (!key) return std::nullopt;  // public keys and data are not secret: they never need a wrap
  if (!obj.extractable) {
    if (is_token(src.device))
      return refuse("T2", "CKR_KEY_UNEXTRACTABLE",
                    o + " on " + s + " has CKA_EXTRACTABLE=false: a non-extractable key never leaves its token",
                    "it cannot be moved or backed up; make a new key on " + t + " and replace its uses", p);
    if (is_token(dst.device))
      return refuse("T2", "CKR_KEY_UNEXTRACTABLE",
                    o + " is not extractable on " + s + " and " + t +
                        " is a PKCS#11 token, which cannot promise to keep it non-extractable",
                    "keep it on Luna partitions of the domain (clone it to a Luna 7 partition instead)", p);
  }
  if (is_token(src.device) && attr(obj, "CKA_WRAP_WITH_TRUSTED") == "true")
    return refuse("T2", "CKR_KEY_NOT_WRAPPABLE",
                  o + " on " + s + " has CKA_WRAP_WITH_TRUSTED=true: the token wraps it only under a key its "
                      "security officer marked trusted, never under an archive key",
                  "it cannot be moved by hsm-migrate", p);
  return std::nullopt;
}

std::optional<Verdict> check_t3(const Endpoint& src, const Endpoint& dst, const ObjectDesc& obj, Protocol p) {
  const bool movable = obj.cls == api::ObjectClass::secret_key || obj.cls == api::ObjectClass::private_key ||
                       obj.cls == api::ObjectClass::public_key;
  if (!movable) return std::nullopt;  // T5 names objects that are no keys
  const std::string o = object_name(obj);
  // The source side: empty = not described (an archive's source), judged by
  // the token when it wrapped the key.
  if (is_token(src.device) && !src.partition.transport.empty() && !can_move(src.partition.transport, obj))
    return refuse("T3", obj.curve.empty() ? "CKR_KEY_SIZE_RANGE" : "CKR_KEY_NOT_WRAPPABLE",
                  kind_name(obj) + " key " + o + " cannot be wrapped out of " + who(src) + ", which moves " +
                      describe(src.partition.transport) + " (found by trying when it was registered)",
                  "a newer token firmware or module may move it (SoftHSM 2.7.0 wraps Ed25519); it cannot leave this one",
                  p);
  if (is_token(dst.device) && !can_move(dst.partition.transport, obj))
    return refuse("T3", obj.key_type == api::KeyType::rsa || obj.key_type == api::KeyType::aes ? "CKR_KEY_SIZE_RANGE"
                                                                                              : "CKR_KEY_TYPE_INCONSISTENT",
                  kind_name(obj) + " key " + o + " from " + src.address() + " cannot be unwrapped by " + who(dst) +
                      ", which takes " + describe(dst.partition.transport) + " (found by trying when it was registered)",
                  "restore or clone it to a partition that takes " + kind_name(obj) + " keys (an emulated Luna 7)", p);
  return std::nullopt;
}

std::optional<Verdict> check_t5_token_target(const Endpoint& src, const Endpoint& dst, const ObjectDesc& obj,
                                             Protocol p) {
  if (!is_token(dst.device)) return std::nullopt;
  const std::string o = object_name(obj), t = who(dst);
  if (obj.cls == api::ObjectClass::data || obj.cls == api::ObjectClass::certificate)
    return refuse("T5", "CKR_TEMPLATE_INCOMPLETE",
                  std::string(api::to_string(obj.cls)) + " object " + o + " from " + src.address() +
                      " is not carried to " + t + ": the portable form moves keys only",
                  "copy it by its value with the token's own tools", p);
  std::vector<std::string> names;
  if (obj.assigned) names.push_back("CKA_ASSIGNED=true");
  if (obj.per_key_auth) names.push_back("CKA_PER_KEY_AUTH_DATA");
  if (obj.key_ring) names.push_back("key-ring attributes");
  if (obj.des3_counters) names.push_back("CKA_BYTES_REMAINING (DES3 usage counters)");
  if (obj.unknown_attribute) names.push_back("a vendor attribute unknown to PKCS#11");
  if (!names.empty()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    return refuse("T5", "CKR_ATTRIBUTE_TYPE_INVALID",
                  o + " from " + src.address() + " carries Luna attributes a PKCS#11 token cannot take: " + list,
                  "keep it on Luna partitions of the domain", p);
  }
  if (attr(obj, "CKA_TRUSTED") == "true")
    return refuse("T5", "CKR_ATTRIBUTE_READ_ONLY",
                  o + " from " + src.address() + " has CKA_TRUSTED=true, which only the security officer of " + t +
                      " may set",
                  "have the target's security officer mark the key trusted after the move, if it must be", p);
  return std::nullopt;
}

std::vector<std::string> t5_not_kept_by_luna(const ObjectDesc& obj) {
  // The model's uses by class (plugins/luna/device: secret keys encrypt and
  // decrypt, private keys sign and RSA ones decrypt, public keys verify and
  // RSA ones encrypt); any other usage value is not kept.
  const bool rsa = obj.key_type == api::KeyType::rsa;
  struct Use {
    const char* name;
    bool model;
  };
  std::vector<Use> uses;
  switch (obj.cls) {
    case api::ObjectClass::secret_key:
      uses = {{"CKA_ENCRYPT", true}, {"CKA_DECRYPT", true}, {"CKA_SIGN", false}, {"CKA_VERIFY", false},
              {"CKA_WRAP", false},   {"CKA_UNWRAP", false}, {"CKA_DERIVE", false}};
      break;
    case api::ObjectClass::private_key:
      uses = {{"CKA_SIGN", true}, {"CKA_DECRYPT", rsa}, {"CKA_SIGN_RECOVER", false}, {"CKA_UNWRAP", false},
              {"CKA_DERIVE", false}};
      break;
    case api::ObjectClass::public_key:
      uses = {{"CKA_VERIFY", true}, {"CKA_ENCRYPT", rsa}, {"CKA_VERIFY_RECOVER", false}, {"CKA_WRAP", false},
              {"CKA_DERIVE", false}};
      break;
    default:
      break;
  }
  std::vector<std::string> out;
  for (const auto& u : uses) {
    const std::string v = attr(obj, u.name);
    if (!v.empty() && (v == "true") != u.model) out.push_back(std::string(u.name) + "=" + v);
  }
  for (const char* n : {"CKA_MODIFIABLE", "CKA_COPYABLE", "CKA_DESTROYABLE"})
    if (attr(obj, n) == "false") out.push_back(std::string(n) + "=false");
  return out;
}

std::optional<Verdict> check_t5_luna_target(const Endpoint& src, const Endpoint& dst, const ObjectDesc& obj,
                                            Protocol p) {
  if (!is_token(src.device) || is_token(dst.device)) return std::nullopt;
  const std::string o = object_name(obj);
  for (const char* n : {"CKA_ALWAYS_AUTHENTICATE", "CKA_TRUSTED"})
    if (attr(obj, n) == "true")
      return refuse("T5", "CKR_ATTRIBUTE_TYPE_INVALID",
                    o + " on " + src.address() + " has " + n + "=true, which the emulated Luna model of " +
                        dst.address() + " cannot keep",
                    "keep it on PKCS#11 tokens of the domain", p);
  const auto lost = t5_not_kept_by_luna(obj);
  if (lost.empty()) return std::nullopt;
  Verdict v;
  v.allowed = true;
  v.protocol = p;
  std::string list;
  for (const auto& l : lost) list += (list.empty() ? "" : ", ") + l;
  v.warnings.push_back("rule T5: " + o + ": the emulated Luna model of " + dst.address() +
                       " keeps no usage flags; not kept: " + list);
  return v;
}

std::optional<Verdict> check_backup(const Endpoint& src, const ObjectDesc& obj) {
  Endpoint archive;
  archive.device.name = "an archive of";
  archive.partition.name = src.partition.name;
  const Protocol p = Protocol::kwp;
  if (obj.cls == api::ObjectClass::data || obj.cls == api::ObjectClass::certificate)
    return refuse("T5", "CKR_TEMPLATE_INCOMPLETE",
                  std::string(api::to_string(obj.cls)) + " object " + object_name(obj) + " on " + src.address() +
                      " is not archived: the portable form carries keys only",
                  "keep a copy of its value with the token's own tools", p);
  if (!obj.extractable && (obj.cls == api::ObjectClass::secret_key || obj.cls == api::ObjectClass::private_key))
    return refuse("T2", "CKR_KEY_UNEXTRACTABLE",
                  object_name(obj) + " on " + src.address() +
                      " has CKA_EXTRACTABLE=false: a non-extractable key never leaves its token (S4), so it is not "
                      "in the archive",
                  "no backup can hold it; generate keys that must be backed up with CKA_EXTRACTABLE=true", p);
  if (auto r = check_t2(src, archive, obj, p)) return r;
  if (auto r = check_t3(src, archive, obj, p)) return r;
  return std::nullopt;
}

Verdict evaluate_pair(const Endpoint& src, const Endpoint& dst) {
  if (!common_domain(src, dst)) return t4_refusal(src, dst);
  Verdict v;
  v.allowed = true;
  v.protocol = Protocol::kwp;
  v.message = src.address() + " moves keys to " + dst.address() + " by KWP (domain " +
              common_domain(src, dst)->substr(0, 16) + ")";
  return v;
}

Verdict evaluate_object(const Endpoint& src, const Endpoint& dst, const ObjectDesc& obj) {
  const Protocol p = Protocol::kwp;
  if (auto r = check_t5_token_target(src, dst, obj, p)) return *r;
  if (auto r = check_t2(src, dst, obj, p)) return *r;
  if (auto r = check_t3(src, dst, obj, p)) return *r;
  Verdict v;
  v.allowed = true;
  v.protocol = p;
  v.message = object_name(obj) + " may move from " + src.address() + " to " + dst.address() + " by KWP";
  return v;
}

}  // namespace hsm::p11::rules
