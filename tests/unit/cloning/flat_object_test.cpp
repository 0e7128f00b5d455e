// The FlatObject codec: canonical, versioned, every length checked.
#include <gtest/gtest.h>

#include "plugins/luna/cloning/flat_object.hpp"
#include "tests/unit/cloning/fleet.hpp"

namespace hsm::luna::cloning::testing {
namespace {

FlatObject full_object() {
  FlatObject o = make_object("ec-p384", "signing-key");
  o.desc.handle = 42;  // not encoded
  o.desc.extractable = false;
  o.desc.sensitive = true;
  o.desc.assigned = true;
  o.desc.per_key_auth = true;
  o.desc.key_ring = true;
  o.desc.des3_counters = true;
  o.desc.unknown_attribute = true;
  o.desc.keygen = api::KeygenMechanism::x9_31;
  o.desc.origin_fm = api::FmState::enabled;
  o.desc.travelled = {Protocol::cpv1, Protocol::cpv3, Protocol::cpv4};
  return o;
}

TEST(FlatObject, RoundTripKeepsEveryFieldButTheHandle) {
  const FlatObject o = full_object();
  const SecretBytes enc = encode_flat(o);
  EXPECT_EQ(enc.size(), flat_size(o));
  auto back = decode_flat(enc);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->kind, FlatKind::object);
  EXPECT_EQ(back->desc.handle, 0u);
  expect_same_desc(o.desc, back->desc);
  EXPECT_EQ(back->material.type, o.material.type);
  EXPECT_EQ(back->material.bits, o.material.bits);
  EXPECT_EQ(back->material.curve, o.material.curve);
  expect_same_key(o, *back);
  // Canonical: re-encoding gives the same bytes.
  EXPECT_EQ(encode_flat(*back), enc);
}

TEST(FlatObject, EncodingReusesTheBuffer) {
  const FlatObject o = make_object("aes-256", "k");
  SecretBytes buf;
  encode_flat(o, buf);
  const SecretBytes first = buf;
  encode_flat(o, buf);
  EXPECT_EQ(buf, first);
}

TEST(FlatObject, EveryTruncationIsRefused) {
  const SecretBytes enc = encode_flat(full_object());
  for (std::size_t n = 0; n < enc.size(); ++n) {
    auto r = decode_flat(enc.data(), n);
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.error().kind, api::ErrorKind::integrity);
  }
}

TEST(FlatObject, TrailingBytesAreRefused) {
  SecretBytes enc = encode_flat(full_object());
  enc.push_back(0);
  auto r = decode_flat(enc);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("trailing"), std::string::npos);
}

TEST(FlatObject, UnknownVersionIsRefused) {
  SecretBytes enc = encode_flat(full_object());
  enc[4] = 2;  // u16 version after the 4-byte magic
  auto r = decode_flat(enc);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("version 2"), std::string::npos);
}

TEST(FlatObject, HugeLengthIsRefusedWithoutReading) {
  SecretBytes enc = encode_flat(full_object());
  // The kind string's u32 length follows magic (4) and version (2).
  enc[6] = enc[7] = enc[8] = enc[9] = 0xff;
  EXPECT_FALSE(decode_flat(enc).ok());
}

// rule S5: an object of a kind or with a value this firmware does not know is refused.
TEST(RuleS5, UnknownEnumNamesAndReservedFlagsAreRefused) {
  const SecretBytes enc = encode_flat(full_object());
  const std::string s(enc.begin(), enc.end());
  for (const std::string_view n :
       {api::to_string(api::ObjectClass::private_key), api::to_string(api::KeyType::ec),
        api::to_string(api::KeygenMechanism::x9_31), api::to_string(api::FmState::enabled),
        api::to_string(Protocol::cpv3)}) {
    const std::string name(n);
    // Find the field itself: its u32 length, then the name.
    std::string field(4, '\0');
    field[0] = static_cast<char>(name.size());
    const auto at = s.find(field + name);
    ASSERT_NE(at, std::string::npos) << name;
    const auto pos = at + 4;
    SecretBytes bad = enc;
    bad[pos] = '#';  // no longer a known name
    EXPECT_FALSE(decode_flat(bad).ok()) << name;
  }
  // The flags byte follows curve "P-384" (u32 length + 5 bytes).
  const auto pos = s.find("P-384");
  SecretBytes bad = enc;
  bad[pos + 5] |= 0x80;
  EXPECT_FALSE(decode_flat(bad).ok());
}

}  // namespace
}  // namespace hsm::luna::cloning::testing

namespace hsm::luna::cloning::testing {
namespace {

FlatObject golden_object() {
  FlatObject o;
  o.desc.label = "k1";
  o.desc.id_hex = "01";
  o.desc.cls = api::ObjectClass::secret_key;
  o.desc.key_type = api::KeyType::aes;
  o.desc.bits = 128;
  o.desc.extractable = true;
  o.desc.sensitive = true;
  o.desc.travelled = {Protocol::cpv4};
  o.desc.fingerprint = "ff";
  o.material.type = api::KeyType::aes;
  o.material.bits = 128;
  o.material.secret = SecretBytes(16, 0xab);
  return o;
}

// The format is shared with the archive writer: pin its bytes.
TEST(FlatObject, GoldenEncodingVersion1) {
  const SecretBytes enc = encode_flat(golden_object());
  EXPECT_EQ(crypto::hex(enc.data(), enc.size()),
            "484d464f"                          // "HMFO"
            "0100"                              // version 1
            "060000006f626a656374"              // kind "object"
            "020000006b31"                      // label "k1"
            "020000003031"                      // id_hex "01"
            "0a0000007365637265742d6b6579"      // class "secret-key"
            "03000000616573"                    // key type "aes"
            "80000000"                          // bits 128
            "00000000"                          // curve ""
            "03"                                // flags: extractable, sensitive
            "040000006e6f6e65"                  // keygen "none"
            "050000006e65766572"                // origin FM "never"
            "0100" "0400000043507634"           // travelled ["CPv4"]
            "020000006666"                      // fingerprint "ff"
            "00000000"                          // pair_id ""
            "03000000616573" "80000000" "00000000"  // material aes, 128, ""
            "10000000abababababababababababababababab"  // secret (16 bytes)
            "00000000");                        // public_der ""
  auto back = decode_flat(enc);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(encode_flat(*back), enc);
}

TEST(FlatObject, ManyHopsRoundTrip) {
  FlatObject o = golden_object();
  o.desc.travelled.assign(300, Protocol::cpv3);
  auto back = decode_flat(encode_flat(o));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->desc.travelled, o.desc.travelled);
}

}  // namespace
}  // namespace hsm::luna::cloning::testing
