// FlatObject codec (format in flat_object.hpp).
#include "plugins/luna/cloning/flat_object.hpp"

#include <optional>
#include <string>
#include <string_view>

#include "plugins/luna/cloning/wire.hpp"

namespace hsm::luna::cloning {

using api::Error;

namespace {

constexpr char kFlatObjectMagic[4] = {'H', 'M', 'F', 'O'};

std::string_view kind_name(FlatKind k) {
  return k == FlatKind::sks_master_key ? "sks-master-key" : "object";
}
std::optional<FlatKind> parse_kind(std::string_view s) {
  if (s == "object") return FlatKind::object;
  if (s == "sks-master-key") return FlatKind::sks_master_key;
  return std::nullopt;
}

std::uint8_t flags_of(const api::ObjectDesc& d) {
  return static_cast<std::uint8_t>((d.extractable ? 1 : 0) | (d.sensitive ? 2 : 0) |
                                   (d.assigned ? 4 : 0) | (d.per_key_auth ? 8 : 0) |
                                   (d.key_ring ? 16 : 0) | (d.des3_counters ? 32 : 0) |
                                   (d.unknown_attribute ? 64 : 0));
}

constexpr int kMaxBits = 65536;

Error bad(std::string_view field) {
  Error e =
      Error::integrity("flattened object is corrupt or unsupported (" + std::string(field) + ")");
  e.code = "CKR_OBJECT_TYPE_INVALID";
  return e;
}

}  // namespace

std::size_t flat_size(const FlatObject& o) {
  using wire::str_size;
  const auto& d = o.desc;
  const auto& m = o.material;
  std::size_t n = 4 + 2 + str_size(kind_name(o.kind)) + str_size(d.label) + str_size(d.id_hex) +
                  str_size(api::to_string(d.cls)) + str_size(api::to_string(d.key_type)) + 4 +
                  str_size(d.curve) + 1 + str_size(api::to_string(d.keygen)) +
                  str_size(api::to_string(d.origin_fm)) + 2;
  for (auto p : d.travelled) n += str_size(api::to_string(p));
  n += str_size(d.fingerprint) + str_size(d.pair_id) + str_size(api::to_string(m.type)) + 4 +
       str_size(m.curve) + wire::blob_size(m.secret) + wire::blob_size(m.public_der);
  return n;
}

void encode_flat(const FlatObject& o, SecretBytes& out) {
  out.clear();
  out.reserve(flat_size(o));
  wire::Writer<SecretBytes> w(out);
  const auto& d = o.desc;
  const auto& m = o.material;
  w.raw(reinterpret_cast<const std::uint8_t*>(kFlatObjectMagic), 4);
  w.u16(kFlatVersion);
  w.str(kind_name(o.kind));
  w.str(d.label);
  w.str(d.id_hex);
  w.str(api::to_string(d.cls));
  w.str(api::to_string(d.key_type));
  w.u32(static_cast<std::uint32_t>(d.bits));
  w.str(d.curve);
  w.u8(flags_of(d));
  w.str(api::to_string(d.keygen));
  w.str(api::to_string(d.origin_fm));
  w.u16(static_cast<std::uint16_t>(d.travelled.size()));
  for (auto p : d.travelled) w.str(api::to_string(p));
  w.str(d.fingerprint);
  w.str(d.pair_id);
  w.str(api::to_string(m.type));
  w.u32(static_cast<std::uint32_t>(m.bits));
  w.str(m.curve);
  w.blob(m.secret);
  w.blob(m.public_der);
}

SecretBytes encode_flat(const FlatObject& o) {
  SecretBytes out;
  encode_flat(o, out);
  return out;
}

Result<FlatObject> decode_flat(const std::uint8_t* p, std::size_t n) {
  wire::Reader r(p, n);
  if (!r.expect(kFlatObjectMagic, 4)) return bad("magic");
  const std::uint16_t version = r.u16();
  if (!r.ok()) return bad("version");
  if (version != kFlatVersion) {
    Error e = Error::integrity("flattened object version " + std::to_string(version) +
                               " is not supported (this firmware reads version " +
                               std::to_string(kFlatVersion) + ")");
    e.code = "CKR_OBJECT_TYPE_INVALID";
    return e;
  }
  FlatObject o;
  auto& d = o.desc;
  auto& m = o.material;
  auto k = parse_kind(r.str());
  if (!r.ok() || !k) return bad("kind");
  o.kind = *k;
  // A label is checked when a key is made (X10), but objects made before
  // that, or by another tool, may carry a long one: it must travel back.
  d.label = r.str(wire::kMaxBlob);
  d.id_hex = r.str();
  if (!r.ok()) return bad("label/id");
  auto cls = api::parse_object_class(r.str());
  if (!r.ok() || !cls) return bad("class");
  d.cls = *cls;
  auto kt = api::parse_key_type(r.str());
  if (!r.ok() || !kt) return bad("key type");
  d.key_type = *kt;
  const std::uint32_t bits = r.u32();
  if (!r.ok() || bits > kMaxBits) return bad("bits");
  d.bits = static_cast<int>(bits);
  d.curve = r.str();
  const std::uint8_t flags = r.u8();
  if (!r.ok() || (flags & 0x80)) return bad("flags");
  d.extractable = flags & 1;
  d.sensitive = flags & 2;
  d.assigned = flags & 4;
  d.per_key_auth = flags & 8;
  d.key_ring = flags & 16;
  d.des3_counters = flags & 32;
  d.unknown_attribute = flags & 64;
  auto kg = api::parse_keygen_mechanism(r.str());
  if (!r.ok() || !kg) return bad("keygen");
  d.keygen = *kg;
  auto fm = api::parse_fm_state(r.str());
  if (!r.ok() || !fm) return bad("origin FM state");
  d.origin_fm = *fm;
  const std::uint16_t nt = r.u16();
  if (!r.ok() || nt > kMaxTravelled) return bad("travelled");
  d.travelled.reserve(nt);
  for (std::uint16_t i = 0; i < nt; ++i) {
    auto pr = api::parse_protocol(r.str());
    if (!r.ok() || !pr) return bad("travelled");
    d.travelled.push_back(*pr);
  }
  d.fingerprint = r.str();
  d.pair_id = r.str();
  if (!r.ok()) return bad("fingerprint/pair id");
  auto mt = api::parse_key_type(r.str());
  if (!r.ok() || !mt) return bad("material type");
  m.type = *mt;
  const std::uint32_t mbits = r.u32();
  if (!r.ok() || mbits > kMaxBits) return bad("material bits");
  m.bits = static_cast<int>(mbits);
  m.curve = r.str();
  m.secret = r.blob<SecretBytes>();
  m.public_der = r.blob<Bytes>();
  if (!r.ok()) return bad("key material");
  if (!r.at_end()) return bad("trailing bytes");
  return o;
}

}  // namespace hsm::luna::cloning
