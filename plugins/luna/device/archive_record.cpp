#include "plugins/luna/device/archive_record.hpp"

#include <string>

namespace hsm::luna::archive_record {

using api::Bytes;
using api::Error;
using api::Result;
using api::SecretBytes;

namespace {
constexpr std::uint16_t kVersion = 1;
}

Bytes kcv(const crypto::KeyMaterial& m) {
  static const std::string ctx = "hsm-migrate key check value v1";
  Bytes h = crypto::hmac_sha256(m.secret, Bytes(ctx.begin(), ctx.end()));
  h.resize(3);
  return h;
}

Check check_of(api::ObjectClass cls, const crypto::KeyMaterial& m) {
  switch (cls) {
    case api::ObjectClass::secret_key: return {kCheckKcv, kcv(m)};
    case api::ObjectClass::private_key:
    case api::ObjectClass::public_key: return {kCheckPublic, crypto::sha256(m.public_der)};
    default: return {kCheckContent, crypto::sha256(m.secret.data(), m.secret.size())};
  }
}

void encode(const Check& c, const SecretBytes& flat, SecretBytes& out) {
  out.clear();
  out.reserve(8 + c.value.size() + flat.size());
  out.insert(out.end(), {'H', 'M', 'A', 'B', static_cast<std::uint8_t>(kVersion & 0xff),
                         static_cast<std::uint8_t>(kVersion >> 8), c.kind,
                         static_cast<std::uint8_t>(c.value.size())});
  out.insert(out.end(), c.value.begin(), c.value.end());
  out.insert(out.end(), flat.begin(), flat.end());
}

Result<cloning::FlatObject> decode(const SecretBytes& p, Check& check) {
  if (p.size() < 8 || p[0] != 'H' || p[1] != 'M' || p[2] != 'A' || p[3] != 'B')
    return Error::integrity("an archive blob opened but is not an object record (bad magic)");
  const unsigned version = p[4] | (p[5] << 8);
  if (version != kVersion)
    return Error::integrity("an archive object record has version " + std::to_string(version) +
                            "; this device reads version " + std::to_string(kVersion));
  check.kind = p[6];
  const std::size_t n = p[7];
  if (check.kind < kCheckKcv || check.kind > kCheckContent || 8 + n > p.size())
    return Error::integrity("an archive object record has a bad check value");
  check.value.assign(p.begin() + 8, p.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  return cloning::decode_flat(p.data() + 8 + n, p.size() - 8 - n);
}

}  // namespace hsm::luna::archive_record
