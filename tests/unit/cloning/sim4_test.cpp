// rule U4: V1 partitions clone only their SKS master key (by CPv3/CPv4);
// their objects travel as SIM4 blobs sealed under it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugins/luna/cloning/sim4.hpp"
#include "tests/unit/cloning/fleet.hpp"

namespace hsm::luna::cloning::testing {
namespace {

using ::testing::HasSubstr;

TEST(RuleU4, SmkClonesByCpv3AndCpv4AndTheBlobsOpenOnTheTarget) {
  const SecretBytes smk = crypto::random_secret(kSmkBytes);
  const FlatObject key = make_object("rsa-2048", "v1-key");
  auto blob = seal_sim4(smk, key, 17);
  ASSERT_TRUE(blob.ok()) << blob.error().message;

  for (Protocol p : {Protocol::cpv3, Protocol::cpv4}) {
    Clone c;
    c.protocol = p;
    auto offer = must(c.offer());
    auto msgs = must(c.seal_for(offer.offer, {make_smk_object(smk, "v1-part SMK")}));
    auto got = c.open_with(offer.session, msgs);
    ASSERT_TRUE(got.ok()) << got.error().message;
    ASSERT_EQ(got->objects.size(), 1u);
    EXPECT_EQ(got->objects[0].kind, FlatKind::sks_master_key);
    auto target_smk = smk_of(got->objects[0]);
    ASSERT_TRUE(target_smk.ok());
    // The target, now holding the SMK, opens the blob made on the source.
    auto opened = open_sim4(*target_smk, *blob, 17);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    expect_same_desc(key.desc, opened->desc);
    expect_same_key(key, *opened);
  }
}

TEST(RuleU4, TheSmkNeverTravelsByCpv1) {
  Clone c;
  c.protocol = Protocol::cpv1;
  auto offer = must(c.offer());
  auto r = c.seal_for(offer.offer, {make_smk_object(crypto::random_secret(kSmkBytes), "SMK")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rule, "U4");
}

TEST(RuleU4, AnSmkIsNotAnObjectAndViceVersa) {
  EXPECT_FALSE(smk_of(make_object("aes-256", "k")).ok());
  const SecretBytes smk = crypto::random_secret(kSmkBytes);
  EXPECT_FALSE(seal_sim4(smk, make_smk_object(smk, "SMK"), 1).ok());
}

TEST(Sim4, HeaderShowsOnlyIdAndLabel) {
  auto blob = seal_sim4(crypto::random_secret(kSmkBytes), make_object("aes-256", "visible"), 9);
  ASSERT_TRUE(blob.ok());
  auto h = sim4_header(*blob);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->blob_id, 9u);
  EXPECT_EQ(h->label, "visible");
}

TEST(Sim4, WrongSmkSwappedIdOrTamperingFails) {
  const SecretBytes smk = crypto::random_secret(kSmkBytes);
  auto blob = seal_sim4(smk, make_object("aes-256", "k"), 5);
  ASSERT_TRUE(blob.ok());
  auto r = open_sim4(crypto::random_secret(kSmkBytes), *blob, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "CKR_SIM_CORRUPT_DATA");
  EXPECT_FALSE(open_sim4(smk, *blob, 6).ok());
  for (std::size_t i = 0; i < blob->size(); ++i) {
    Bytes bad = *blob;
    bad[i] ^= 0x01;
    auto rr = open_sim4(smk, bad, 5);
    ASSERT_FALSE(rr.ok()) << "byte " << i;
    EXPECT_EQ(rr.error().kind, api::ErrorKind::integrity);
  }
  Bytes longer = *blob;
  longer.push_back(0);
  EXPECT_FALSE(open_sim4(smk, longer, 5).ok());
}

TEST(Sim4, UnknownVersionIsNamed) {
  const SecretBytes smk = crypto::random_secret(kSmkBytes);
  auto blob = seal_sim4(smk, make_object("aes-256", "k"), 5);
  ASSERT_TRUE(blob.ok());
  (*blob)[4] = 9;
  auto r = open_sim4(smk, *blob, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "CKR_SIM_VERSION_UNSUPPORTED");
}

}  // namespace
}  // namespace hsm::luna::cloning::testing
