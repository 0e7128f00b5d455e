// SIM4 blobs and the SMK object (format in sim4.hpp).
#include "plugins/luna/cloning/sim4.hpp"

#include "plugins/luna/cloning/wire.hpp"
#include "plugins/luna/crypto/crypto.hpp"

namespace hsm::luna::cloning {

using api::Error;

namespace {

constexpr char kSim4Magic[4] = {'S', 'I', 'M', '4'};
constexpr std::uint16_t kVersion = 1;
constexpr std::string_view kKeyInfo = "hsm-migrate SIM4 blob key v1";

Error corrupt(std::string m) {
  Error e = Error::integrity(std::move(m));
  e.code = "CKR_SIM_CORRUPT_DATA";
  return e;
}

Result<SecretBytes> blob_key(const SecretBytes& smk) {
  if (smk.size() != kSmkBytes) return Error::other("an SKS master key is 32 bytes");
  return crypto::hkdf_sha256(smk, {}, Bytes(kKeyInfo.begin(), kKeyInfo.end()),
                             crypto::kAeadKeyBytes);
}

struct Parsed {
  Sim4Header h;
  std::size_t header_len = 0;
  Bytes sealed;
};

Result<Parsed> parse(const Bytes& blob, bool want_sealed) {
  wire::Reader r(blob.data(), blob.size());
  if (!r.expect(kSim4Magic, 4)) return corrupt("not a SIM4 blob");
  const std::uint16_t v = r.u16();
  if (!r.ok()) return corrupt("SIM4 blob truncated");
  if (v != kVersion) {
    Error e = Error::integrity("SIM4 blob version " + std::to_string(v) + " is not supported");
    e.code = "CKR_SIM_VERSION_UNSUPPORTED";
    return e;
  }
  Parsed p;
  p.h.blob_id = r.u64();
  p.h.label = r.str();
  if (!r.ok()) return corrupt("SIM4 blob header truncated");
  p.header_len = static_cast<std::size_t>(r.pos() - blob.data());
  if (want_sealed) {
    p.sealed = r.blob();
    if (!r.at_end())
      return corrupt("SIM4 blob " + std::to_string(p.h.blob_id) + " is truncated or padded");
  }
  return p;
}

}  // namespace

FlatObject make_smk_object(const SecretBytes& smk, std::string_view label) {
  FlatObject o;
  o.kind = FlatKind::sks_master_key;
  o.desc.label = std::string(label);
  o.desc.cls = api::ObjectClass::secret_key;
  o.desc.key_type = api::KeyType::generic;
  o.desc.bits = static_cast<int>(smk.size() * 8);
  o.desc.extractable = false;
  o.desc.sensitive = true;
  o.material.type = api::KeyType::generic;
  o.material.bits = o.desc.bits;
  o.material.secret = smk;
  return o;
}

Result<SecretBytes> smk_of(const FlatObject& o) {
  if (o.kind != FlatKind::sks_master_key || o.material.secret.size() != kSmkBytes)
    return corrupt("the object is not an SKS master key");
  return o.material.secret;
}

Result<Bytes> seal_sim4(const SecretBytes& smk, const FlatObject& o, std::uint64_t blob_id) {
  if (o.kind != FlatKind::object)
    return Error::usage("an SKS master key never travels in a SIM4 blob");
  HSM_TRY_ASSIGN(SecretBytes key, blob_key(smk));
  Bytes blob;
  wire::Writer<Bytes> w(blob);
  w.raw(reinterpret_cast<const std::uint8_t*>(kSim4Magic), 4);
  w.u16(kVersion);
  w.u64(blob_id);
  w.str(o.desc.label);
  const SecretBytes flat = encode_flat(o);
  const Bytes sealed = crypto::aead_seal(key, blob, flat.data(), flat.size());
  w.blob(sealed);
  return blob;
}

Result<Sim4Header> sim4_header(const Bytes& blob) {
  HSM_TRY_ASSIGN(Parsed p, parse(blob, false));
  return p.h;
}

Result<FlatObject> open_sim4(const SecretBytes& smk, const Bytes& blob, std::uint64_t blob_id) {
  HSM_TRY_ASSIGN(Parsed p, parse(blob, true));
  if (p.h.blob_id != blob_id)
    return corrupt("SIM4 blob " + std::to_string(p.h.blob_id) + " found where blob " +
                   std::to_string(blob_id) + " was expected (swapped or replayed)");
  HSM_TRY_ASSIGN(SecretBytes key, blob_key(smk));
  const Bytes ad(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(p.header_len));
  auto pt = crypto::aead_open(key, ad, p.sealed);
  if (!pt)
    return corrupt("SIM4 blob " + std::to_string(blob_id) +
                   " failed authentication (wrong SKS master key or tampered)");
  auto o = decode_flat(*pt);
  if (!o) return corrupt("SIM4 blob " + std::to_string(blob_id) + ": " + o.error().message);
  if (o->kind != FlatKind::object)
    return corrupt("SIM4 blob " + std::to_string(blob_id) + " holds an SKS master key");
  return o;
}

}  // namespace hsm::luna::cloning
