// diff_objects (tool/object_diff.hpp): the pairing by fingerprint, then by
// class and label, on listings as the tool reads them.
#include "tool/object_diff.hpp"

#include <gtest/gtest.h>

namespace hsm::tool {
namespace {

using nlohmann::json;

json obj(const std::string& label, const std::string& fp, const std::string& cls = "secret_key") {
  return {{"label", label}, {"class", cls}, {"fingerprint", fp}};
}

TEST(ObjectDiff, EqualListingsInAnyOrderAreIdentical) {
  const json a = json::array({obj("k1", "f1"), obj("k2", "f2")});
  const json b = json::array({obj("k2", "f2"), obj("k1", "f1")});
  const ObjectDiff d = diff_objects(a, b);
  EXPECT_TRUE(d.identical());
  EXPECT_EQ(d.same, 2u);
}

TEST(ObjectDiff, AKeyHeldTwiceOnOneSideIsOnlyInThatSideOnce) {
  // Multiset pairing: a clone run twice without its duplicate check would
  // show up here, not be hidden by the first copy.
  const ObjectDiff d =
      diff_objects(json::array({obj("k", "f"), obj("k", "f")}), json::array({obj("k", "f")}));
  EXPECT_EQ(d.same, 1u);
  ASSERT_EQ(d.only_in_a.size(), 1u);
  EXPECT_TRUE(d.changed.empty());  // same fingerprint: a copy, not a change
  EXPECT_FALSE(d.identical());
}

TEST(ObjectDiff, SameNameAnotherFingerprintIsChanged) {
  const ObjectDiff d = diff_objects(json::array({obj("k", "f1"), obj("gone", "f3")}),
                                    json::array({obj("k", "f2"), obj("new", "f4")}));
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0]["a"]["fingerprint"], "f1");
  EXPECT_EQ(d.changed[0]["b"]["fingerprint"], "f2");
  ASSERT_EQ(d.only_in_a.size(), 1u);
  EXPECT_EQ(d.only_in_a[0]["label"], "gone");
  ASSERT_EQ(d.only_in_b.size(), 1u);
  EXPECT_EQ(d.only_in_b[0]["label"], "new");
}

TEST(ObjectDiff, TheClassIsPartOfTheName) {
  // A private key and a public key of one label are not one object changed.
  const ObjectDiff d = diff_objects(json::array({obj("e", "f1", "private_key")}),
                                    json::array({obj("e", "f2", "public_key")}));
  EXPECT_TRUE(d.changed.empty());
  EXPECT_EQ(d.only_in_a.size(), 1u);
  EXPECT_EQ(d.only_in_b.size(), 1u);
}

TEST(ObjectDiff, AnObjectWithoutAFingerprintIsNeverTheSame) {
  const ObjectDiff d = diff_objects(json::array({obj("k", "")}), json::array({obj("k", "")}));
  EXPECT_EQ(d.same, 0u);
  EXPECT_FALSE(d.identical());
}

TEST(ObjectDiff, EmptySidesAreIdentical) {
  EXPECT_TRUE(diff_objects(json::array(), json::array()).identical());
  const ObjectDiff d = diff_objects(json::array(), json::array({obj("k", "f")}));
  EXPECT_EQ(d.only_in_b.size(), 1u);
}

}  // namespace
}  // namespace hsm::tool
