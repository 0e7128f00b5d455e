// Test fixtures for the cloning protocols: a manufacturing root, devices
// with real HOKs, TWCs (made once per process: RSA-4096 is slow), domains
// and real key objects.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "plugins/luna/cloning/flat_object.hpp"
#include "plugins/luna/cloning/protocol.hpp"
#include "plugins/luna/crypto/crypto.hpp"

namespace hsm::luna::cloning::testing {

using api::Bytes;
using api::Protocol;
using api::SecretBytes;

inline constexpr std::int64_t kT0 = 1'700'000'000;

template <class T>
T must(api::Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << "unexpected error: " << r.error().message;
    std::abort();
  }
  return std::move(r).value();
}

struct Root {
  SecretBytes priv;
  Bytes cert;
};

inline Root make_root(const std::string& cn) {
  auto k = must(crypto::generate({api::KeyType::ed25519, 256, "Ed25519"}));
  Root r;
  r.cert = must(crypto::make_self_signed(k.secret, cn, kT0 - 86400, 3650));
  r.priv = k.secret;
  return r;
}

// A device of `root`'s fleet (trusting `trust`, normally the same root).
inline DeviceIdentity make_device(const Root& root, const std::string& name, const Root* trust = nullptr) {
  auto k = must(crypto::generate({api::KeyType::ed25519, 256, "Ed25519"}));
  DeviceIdentity d;
  d.name = name;
  d.hok_private_der = k.secret;
  d.hok_cert_der = must(crypto::issue_certificate(k.public_der, name + " HOK", root.priv, root.cert,
                                                  kT0 - 3600, 3650, 7));
  d.root_cert_der = (trust ? *trust : root).cert;
  d.now = kT0;
  return d;
}

struct Fleet {
  Root root = make_root("test manufacturing root");
  Root evil = make_root("another manufacturer");
  DeviceIdentity a = make_device(root, "hsm-a");
  DeviceIdentity b = make_device(root, "hsm-b");
};

inline Fleet& fleet() {
  static Fleet f;
  return f;
}
// hsm-b's TWCs, made on first use (ctest runs each test in its own process).
inline const Twc& b2048() {
  static const Twc t = must(make_twc(fleet().b, 2048));
  return t;
}
inline const Twc& b4096() {
  static const Twc t = must(make_twc(fleet().b, 4096));
  return t;
}

inline DomainKey make_domain(bool primary = true) {
  DomainKey d;
  d.key = crypto::random_secret(32);
  d.fingerprint = crypto::hex(crypto::sha256(Bytes(d.key.begin(), d.key.end()))).substr(0, 16);
  d.primary = primary;
  return d;
}

inline FlatObject make_object(const std::string& spec, const std::string& label) {
  FlatObject o;
  auto ks = must(crypto::parse_key_spec(spec));
  o.material = must(crypto::generate(ks));
  o.desc.label = label;
  o.desc.id_hex = "0a1b" + label;
  o.desc.key_type = ks.type;
  o.desc.bits = ks.bits;
  o.desc.curve = ks.curve;
  o.desc.cls = ks.type == api::KeyType::aes || ks.type == api::KeyType::des3
                   ? api::ObjectClass::secret_key
                   : api::ObjectClass::private_key;
  o.desc.fingerprint = crypto::fingerprint(o.desc.cls, o.material);
  o.desc.pair_id = o.desc.cls == api::ObjectClass::private_key ? "pair-" + label : "";
  o.desc.travelled = {Protocol::cpv1};
  return o;
}

// The same key material, shown by use: what one signs the other verifies,
// what one encrypts the other decrypts (both ways).
inline void expect_same_key(const FlatObject& sent, const FlatObject& got) {
  EXPECT_EQ(sent.material.secret, got.material.secret);
  EXPECT_EQ(sent.material.public_der, got.material.public_der);
  const Bytes msg{'c', 'l', 'o', 'n', 'e', 'd'};
  switch (sent.material.type) {
    case api::KeyType::aes:
    case api::KeyType::des3: {
      auto ct = must(crypto::encrypt(sent.material, msg));
      EXPECT_EQ(must(crypto::decrypt(got.material, ct)), msg);
      auto ct2 = must(crypto::encrypt(got.material, msg));
      EXPECT_EQ(must(crypto::decrypt(sent.material, ct2)), msg);
      break;
    }
    default: {
      auto sig = must(crypto::sign(sent.material, msg));
      EXPECT_TRUE(must(crypto::verify(got.material.type, got.material.public_der, msg, sig)));
      auto sig2 = must(crypto::sign(got.material, msg));
      EXPECT_TRUE(must(crypto::verify(sent.material.type, sent.material.public_der, msg, sig2)));
      if (sent.material.type == api::KeyType::rsa) {
        auto ct = must(crypto::encrypt(sent.material, msg));
        EXPECT_EQ(must(crypto::decrypt(got.material, ct)), msg);
      }
    }
  }
}

inline void expect_same_desc(const api::ObjectDesc& a, const api::ObjectDesc& b) {
  EXPECT_EQ(a.label, b.label);
  EXPECT_EQ(a.id_hex, b.id_hex);
  EXPECT_EQ(a.cls, b.cls);
  EXPECT_EQ(a.key_type, b.key_type);
  EXPECT_EQ(a.bits, b.bits);
  EXPECT_EQ(a.curve, b.curve);
  EXPECT_EQ(a.extractable, b.extractable);
  EXPECT_EQ(a.sensitive, b.sensitive);
  EXPECT_EQ(a.assigned, b.assigned);
  EXPECT_EQ(a.per_key_auth, b.per_key_auth);
  EXPECT_EQ(a.key_ring, b.key_ring);
  EXPECT_EQ(a.des3_counters, b.des3_counters);
  EXPECT_EQ(a.unknown_attribute, b.unknown_attribute);
  EXPECT_EQ(a.keygen, b.keygen);
  EXPECT_EQ(a.origin_fm, b.origin_fm);
  EXPECT_EQ(a.travelled, b.travelled);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.pair_id, b.pair_id);
}

// One clone from `src` to `dst`: offer, seal, open.
struct Clone {
  DeviceIdentity src, dst;
  Protocol protocol = Protocol::cpv4;
  std::string suite = "aes-256-gcm";
  std::vector<std::string> suites{"aes-256-gcm", "chacha20-poly1305"};
  std::vector<DomainKey> src_domains, dst_domains;
  std::string domain;  // chosen fingerprint; default: the first source domain
  std::int64_t lifetime_s = kSessionLifetimeS;
  std::uint64_t max_messages = kSessionMaxMessages;

  Clone() : src(fleet().a), dst(fleet().b) {
    auto d = make_domain();
    src_domains = {d};
    dst_domains = {d};
  }
  const Twc* twc() const {
    return protocol == Protocol::cpv1 ? &b2048() : protocol == Protocol::cpv3 ? &b4096() : nullptr;
  }
  api::Result<Offer> offer() const {
    OfferParams p;
    p.protocol = protocol;
    p.twc = twc();
    if (protocol == Protocol::cpv4) p.suites = suites;
    for (const auto& d : dst_domains) p.domain_fingerprints.push_back(d.fingerprint);
    p.lifetime_s = lifetime_s;
    p.max_messages = max_messages;
    return make_offer(dst, p);
  }
  api::Result<api::CloneMessages> seal_for(const api::CloneOffer& o, const std::vector<FlatObject>& objs) const {
    SealParams sp;
    sp.domain_fingerprint = domain.empty() ? src_domains.front().fingerprint : domain;
    sp.suite = protocol == Protocol::cpv4 ? suite : "";
    return seal(src, o, src_domains, sp, objs);
  }
  api::Result<Opened> open_with(TargetSession& s, const api::CloneMessages& m) const {
    return cloning::open(dst, s, twc(), dst_domains, m, src.name);
  }
};

}  // namespace hsm::luna::cloning::testing
