#include "plugins/luna/device/portable_archive.hpp"

#include <algorithm>

#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/crypto/kwp.hpp"

namespace hsm::luna::portable {

using api::Bytes;
using api::Error;
using api::Result;
using api::SecretBytes;

namespace {

// The length of the DER element at the start of b (0 when it is not one).
std::size_t der_length(std::span<const std::uint8_t> b) {
  if (b.size() < 2 || b[0] != 0x30) return 0;
  if (b[1] < 0x80) return 2 + std::size_t{b[1]};
  const std::size_t n = b[1] & 0x7F;
  if (n == 0 || n > 4 || b.size() < 2 + n) return 0;
  std::size_t len = 0;
  for (std::size_t i = 0; i < n; ++i) len = (len << 8) | b[2 + i];
  return 2 + n + len;
}

// SoftHSM 2.6.1 pads a private key's PKCS#8 with zeros to 8 bytes before
// RFC 5649 (softhsm2-facts.md 2.2): the padding goes, the DER stays.
void trim_der_padding(SecretBytes& der) {
  const std::size_t n = der_length(der);
  if (n == 0 || n >= der.size()) return;
  if (std::all_of(der.begin() + static_cast<std::ptrdiff_t>(n), der.end(), [](std::uint8_t c) { return c == 0; }))
    der.resize(n);
}

Bytes random_nonce() { return crypto::random_bytes(kNonceBytes); }

}  // namespace

Keys new_keys() { return Keys{crypto::random_secret(32), crypto::random_secret(32)}; }

Result<WrappedKeys> wrap_keys(const SecretBytes& d, const Keys& k) {
  WrappedKeys w;
  HSM_TRY_ASSIGN(w.seal, crypto::kwp_wrap(d, k.seal));
  HSM_TRY_ASSIGN(w.wrap, crypto::kwp_wrap(d, k.wrap));
  return w;
}

Result<Keys> unwrap_keys(const SecretBytes& d, const WrappedKeys& w) {
  auto s = crypto::kwp_unwrap(d, w.seal);
  auto k = crypto::kwp_unwrap(d, w.wrap);
  if (!s.ok() || !k.ok() || s->size() != 32 || k->size() != 32)
    return Error::integrity("the portable archive keys do not unwrap under the domain key: the archive is not of "
                            "this domain, or its header was tampered with");
  return Keys{std::move(*s), std::move(*k)};
}

Result<std::string> domain_tag(const SecretBytes& d, const api::ArchiveId& id) {
  const Bytes input = tag_input(id);
  HSM_TRY_ASSIGN(Bytes wrapped, crypto::kwp_wrap(d, input));
  return tag_hex(wrapped);
}

Result<Bytes> seal_object(const ArchiveState& a, const cloning::FlatObject& f, std::uint64_t position,
                          std::span<const std::uint8_t> aad) {
  const api::ObjectDesc& d = f.desc;
  const auto& m = f.material;
  Record r;
  r.position = position;
  switch (d.cls) {
    case api::ObjectClass::secret_key: {
      HSM_TRY_ASSIGN(r.wrapped_key, crypto::kwp_wrap(a.keys.wrap, m.secret));
      HSM_TRY_ASSIGN(Bytes under_domain, crypto::kwp_wrap(a.domain_key, m.secret));
      r.fingerprint = secret_fingerprint(d.cls, d.key_type, under_domain);
      break;
    }
    case api::ObjectClass::private_key: {
      // A token unwraps a PKCS#8 PrivateKeyInfo (the model keeps OpenSSL's own form).
      HSM_TRY_ASSIGN(SecretBytes pkcs8, crypto::private_to_pkcs8(m.secret));
      HSM_TRY_ASSIGN(r.wrapped_key, crypto::kwp_wrap(a.keys.wrap, pkcs8));
      r.fingerprint = public_fingerprint(d.cls, d.key_type, m.public_der);
      break;
    }
    case api::ObjectClass::public_key:
      r.fingerprint = public_fingerprint(d.cls, d.key_type, m.public_der);
      break;
    default:
      return Error::usage("the portable form carries keys only: " + std::string(api::to_string(d.cls)) +
                          " object \"" + d.label + "\" cannot be archived in it");
  }
  r.attributes = attributes_of(d, m.public_der, d.cls == api::ObjectClass::secret_key ? m.secret.size() : 0);
  const Bytes plain = encode_record(r);
  Bytes out = random_nonce();
  HSM_TRY_ASSIGN(Bytes ct, crypto::gcm_seal(a.keys.seal, out, aad, plain));
  out.insert(out.end(), ct.begin(), ct.end());
  return out;
}

Result<cloning::FlatObject> open_object(const Keys& k, std::span<const std::uint8_t> aad,
                                        std::span<const std::uint8_t> sealed) {
  if (sealed.size() < kNonceBytes + kTagBytes) return Error::integrity("a portable blob is shorter than its nonce and tag");
  auto plain = crypto::gcm_open(k.seal, sealed.first(kNonceBytes), aad, sealed.subspan(kNonceBytes));
  if (!plain.ok())
    return Error::integrity("a portable blob does not open: not of this archive or batch, moved, swapped or tampered with");
  HSM_TRY_ASSIGN(Record r, decode_record(*plain));
  cloning::FlatObject f;
  HSM_TRY_ASSIGN(f.desc, desc_of(r));
  api::ObjectDesc& d = f.desc;
  auto& m = f.material;
  m.type = d.key_type;
  m.curve = d.curve;
  if (const Attribute* p = r.find(cka::kPublicKeyInfo)) m.public_der = p->value;
  if (d.cls == api::ObjectClass::secret_key || d.cls == api::ObjectClass::private_key) {
    if (r.wrapped_key.empty()) return Error::integrity("a portable record of a key carries no wrapped key");
    auto v = crypto::kwp_unwrap(k.wrap, r.wrapped_key);
    if (!v.ok()) return Error::integrity("the key in a portable record does not unwrap under the archive key");
    m.secret = std::move(*v);
    if (d.cls == api::ObjectClass::private_key) {
      trim_der_padding(m.secret);
      auto model = crypto::private_to_model(m.secret);  // the model's own form
      if (!model.ok()) return Error::integrity("the private key in a portable record does not parse as PKCS#8");
      m.secret = std::move(*model);
      if (m.public_der.empty()) {
        auto pub = crypto::public_of(m.secret);
        if (!pub.ok()) return Error::integrity("the private key in a portable record does not parse as PKCS#8");
        m.public_der = std::move(*pub);
      }
    } else {
      d.bits = static_cast<int>(m.secret.size() * 8);
      if (d.key_type == api::KeyType::des3) d.bits = 168;
    }
  } else if (d.cls == api::ObjectClass::public_key) {
    if (m.public_der.empty()) return Error::integrity("a portable record of a public key carries no CKA_PUBLIC_KEY_INFO");
  } else {
    return Error::integrity("a portable record holds a " + std::string(api::to_string(d.cls)) + " object");
  }
  m.bits = d.bits;
  // This device's own fingerprint of what it will hold (dedup, C1).
  d.fingerprint = crypto::fingerprint(d.cls, m);
  return f;
}

Result<Bytes> archive_mac(const Keys& k, const api::ArchiveFinish& f) {
  Bytes out = random_nonce();
  HSM_TRY_ASSIGN(Bytes tag, crypto::gcm_seal(k.seal, out, api::archive_mac_message(f), {}));
  out.insert(out.end(), tag.begin(), tag.end());
  return out;
}

api::Status check_archive_mac(const Keys& k, const api::ArchiveFinish& f, const Bytes& mac) {
  if (mac.size() != kNonceBytes + kTagBytes) return Error::integrity("the archive MAC is missing or has the wrong size");
  auto ok = crypto::gcm_open(k.seal, std::span(mac).first(kNonceBytes), api::archive_mac_message(f),
                             std::span(mac).subspan(kNonceBytes));
  if (!ok.ok())
    return Error::integrity("the archive MAC does not verify under the domain: its header, blob count or contents "
                            "were changed after the backup (" + std::to_string(f.blob_count) + " blob(s) claimed)");
  return {};
}

}  // namespace hsm::luna::portable
