#include "plugins/pkcs11/device/token_setup.hpp"

#include <algorithm>
#include <ctime>

#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/device/device_core.hpp"
#include "plugins/luna/device/luna_partition.hpp"
#include "plugins/pkcs11/device/token_objects.hpp"
#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/keys.hpp"
#include "plugins/pkcs11/token/public_key.hpp"
#include "plugins/pkcs11/token/transport.hpp"

namespace hsm::p11::plugin {

using api::Bytes;
using api::Error;
using api::Result;
using api::Status;

namespace {

Bytes fingerprint_id(const std::string& hex) {
  Bytes id;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    auto nib = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    id.push_back(static_cast<std::uint8_t>(nib(hex[i]) << 4 | nib(hex[i + 1])));
  }
  return id;
}

}  // namespace

Result<CK_OBJECT_HANDLE> find_kek(Session& s, const std::string& fingerprint) {
  return find_domain_kek(s, bytes_of(kDomainKekLabel), fingerprint_id(fingerprint));
}

Result<CK_OBJECT_HANDLE> primary_kek(Session& s, const Registration& r) {
  for (const auto& d : r.domains)
    if (d.primary) return find_kek(s, d.fingerprint);
  return CK_OBJECT_HANDLE{CK_INVALID_HANDLE};
}

Status add_domain(Session& s, Registration& r, const api::DomainSecret& domain, bool primary) {
  // The same derivation as an emulated Luna partition's (luna_partition.cpp).
  HSM_TRY_ASSIGN(api::SecretBytes key, luna::domain_key(domain));
  const std::string fp = luna::domain_fingerprint(key);
  for (const auto& d : r.domains) {
    if (d.fingerprint == fp)
      return Error::usage(r.device + "/" + r.partition + " is already in this domain (T4)" +
                          (d.label.empty() ? "" : ", labelled \"" + d.label + "\""));
    if (d.label == domain.label)
      return Error::usage(
          r.device + "/" + r.partition + " already has a domain labelled \"" + domain.label + "\"",
          "give the new domain another --label");
  }
  // Imported once; the host's copy is zeroised with `key`. A KEK of this
  // domain already on the token (a registration that failed to save after
  // the import) is adopted, not imported twice.
  if (!find_kek(s, fp).ok())
    HSM_TRY(create_domain_kek(s, key, bytes_of(kDomainKekLabel), fingerprint_id(fp)));
  if (primary || r.domains.empty())
    for (auto& d : r.domains) d.primary = false;
  r.domains.push_back({domain.label, domain.kind, primary || r.domains.empty(), fp});
  return {};
}

Status delete_domain(Session& s, Registration& r, std::string_view label) {
  auto it = std::find_if(r.domains.begin(), r.domains.end(),
                         [&](const api::DomainDesc& d) { return d.label == label; });
  if (it == r.domains.end())
    return Error::usage(r.device + "/" + r.partition + " has no domain labelled \"" +
                        std::string(label) + "\"");
  if (it->primary && r.domains.size() > 1)
    return Error::usage("the primary domain goes last (D3)",
                        "make another domain the primary first");
  auto kek = find_kek(s, it->fingerprint);
  if (kek.ok()) HSM_TRY(destroy_object(s, *kek));
  r.domains.erase(it);
  return {};
}

Status relabel_domain(Registration& r, std::string_view label, std::string_view new_label,
                      bool primary) {
  auto it = std::find_if(r.domains.begin(), r.domains.end(),
                         [&](const api::DomainDesc& d) { return d.label == label; });
  if (it == r.domains.end())
    return Error::usage(r.device + "/" + r.partition + " has no domain labelled \"" +
                        std::string(label) + "\"");
  it->label = std::string(new_label);
  if (primary)
    for (auto& d : r.domains) d.primary = &d == &*it;
  return {};
}

Status create_identity(Session& s, Registration& r, const std::filesystem::path& factory_dir,
                       const std::string& prefer) {
  HSM_TRY_ASSIGN(luna::Factory factory, luna::Factory::load_or_create(factory_dir));
  HSM_TRY_ASSIGN(Bytes rnd, s.random(8));
  KeySpec spec;
  spec.label = bytes_of(kIdentityLabel);
  spec.id = bytes_of("hsm-migrate:hok:" + hex(rnd));
  spec.token = true;
  spec.extractable = false;
  spec.sensitive = true;
  spec.private_ = true;
  spec.usage = Usage{false, false, true, true, false, false, false};
  const std::array<std::pair<const char*, std::string_view>, 2> kinds{
      {{"ed25519", "ed25519"}, {"p256", "ec-p256"}}};
  Error last = Error::other("no identity key kind to try");
  for (const auto& [name, kind_name] : kinds) {
    if (!prefer.empty() && prefer != name) continue;
    HSM_TRY_ASSIGN(KeyKind kind, parse_key_kind(kind_name));
    auto kp = generate_key_pair(s, kind, spec);
    if (!kp.ok()) {
      last = kp.error();
      continue;
    }
    // Proven by use: a token may generate a kind it cannot sign with.
    const SignMechanism m =
        std::string_view(name) == "ed25519" ? SignMechanism::eddsa : SignMechanism::ecdsa_sha256;
    const Bytes probe = bytes_of("hsm-migrate identity probe");
    auto sig = sign(s, kp->private_key, m, probe);
    auto pub = sig.ok() ? public_key_der(s, kp->public_key) : Result<Bytes>(sig.error());
    Result<Bytes> cert = pub.ok() ? luna::crypto::issue_certificate(
                                        *pub, r.device + " HOK", factory.root_private,
                                        factory.root_cert, std::time(nullptr) - 60, 36500, 2)
                                  : Result<Bytes>(pub.error());
    if (!cert.ok()) {
      last = cert.error();
      (void)destroy_object(s, kp->private_key);
      (void)destroy_object(s, kp->public_key);
      continue;
    }
    r.identity_key = name;
    r.identity_id = spec.id;
    r.hok_cert = std::move(*cert);
    r.root_cert = factory.root_cert;
    return {};
  }
  last.message =
      s.token().name() + " cannot make an identity key (Ed25519 or ECDSA P-256): " + last.message;
  return last;
}

Result<Bytes> sign_digest(Session& s, const Registration& r, const api::Digest32& digest,
                          CK_OBJECT_HANDLE known) {
  std::vector<CK_OBJECT_HANDLE> found;
  if (known != CK_INVALID_HANDLE) {
    found.push_back(known);
  } else {
    ObjectFilter f;
    f.cls = CKO_PRIVATE_KEY;
    f.id = r.identity_id;
    HSM_TRY_ASSIGN(found, find_objects(s, f, kFindBatch, 2));
  }
  if (found.size() != 1)
    return Error::integrity(s.token().name() + " no longer holds the identity key registered for " +
                            r.device + " (CKA_ID " + hex(r.identity_id) + ")");
  const SignMechanism m =
      r.identity_key == "ed25519" ? SignMechanism::eddsa : SignMechanism::ecdsa_sha256;
  HSM_TRY_ASSIGN(Bytes sig, sign(s, found.front(), m, digest));
  if (sig.size() != 64)
    return Error::other("the identity key's signature is " + std::to_string(sig.size()) +
                        " bytes, not 64");
  return sig;
}

Result<std::vector<api::KeyCapability>> probe_capabilities(Session& s) {
  HSM_TRY_ASSIGN(auto mechs, s.token().mechanisms());
  auto range = [&](CK_MECHANISM_TYPE m, int scale) -> std::optional<std::pair<int, int>> {
    for (const auto& mi : mechs)
      if (mi.type == m) {
        const auto cap = [](CK_ULONG v) {
          return static_cast<int>(std::min<CK_ULONG>(v, 1u << 20));
        };
        return std::pair{cap(mi.min_key_size) * scale, cap(mi.max_key_size) * scale};
      }
    return std::nullopt;
  };
  auto works = [&](std::string_view kind) {
    auto k = parse_key_kind(kind);
    return k.ok() && probe_transport(s, *k).ok();
  };
  std::vector<api::KeyCapability> out;
  if (auto r = range(CKM_AES_KEY_GEN, 8)) {
    api::KeyCapability c{api::KeyType::aes, 0, 0, {}};
    for (int bits : {128, 192, 256})
      if (bits >= r->first && bits <= r->second && works("aes-" + std::to_string(bits))) {
        if (c.min_bits == 0) c.min_bits = bits;
        c.max_bits = bits;
      }
    if (c.max_bits) out.push_back(c);
  }
  if (auto r = range(CKM_RSA_PKCS_KEY_PAIR_GEN, 1); r && works("rsa-2048"))
    out.push_back({api::KeyType::rsa, r->first, r->second, {}});
  if (range(CKM_EC_KEY_PAIR_GEN, 1)) {
    api::KeyCapability c{api::KeyType::ec, 0, 0, {}};
    for (const char* curve : {"p256", "p384", "p521"})
      if (works(std::string("ec-") + curve)) {
        const int bits = std::string_view(curve) == "p256"   ? 256
                         : std::string_view(curve) == "p384" ? 384
                                                             : 521;
        c.curves.push_back(std::string("P-") + std::to_string(bits));
        if (c.min_bits == 0) c.min_bits = bits;
        c.max_bits = bits;
      }
    if (!c.curves.empty()) out.push_back(c);
  }
  if (range(CKM_EC_EDWARDS_KEY_PAIR_GEN, 1) && works("ed25519"))
    out.push_back({api::KeyType::ed25519, 256, 256, {"Ed25519"}});
  return out;
}

}  // namespace hsm::p11::plugin
