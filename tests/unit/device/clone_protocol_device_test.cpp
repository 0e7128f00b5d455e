// The clone verbs of a partition, in-process, with the tool's checks
// skipped: a tampered byte, a message replayed to a target in another domain
// or replayed twice, and an expired session (U1) must all be stopped by the
// target's cryptography and bookkeeping, and create nothing.
#include <gtest/gtest.h>

#include <filesystem>

#include "plugins/luna/device/luna_backend.hpp"
#include "plugins/luna/device/luna_partition.hpp"

namespace hsm::luna {
namespace {

namespace fs = std::filesystem;

class CloneProtocolDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() / ("hsm-clone-dev-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_ / "devices");
  }
  void TearDown() override { fs::remove_all(home_); }

  api::Device& device(const std::string& name, api::Version fw = {7, 8, 0}) {
    fs::create_directory(home_ / "devices" / name);
    api::DeviceCreateRequest req{name, fw, false, home_ / "factory"};
    auto d = backend_for(api::DeviceKind::luna7).create_device(home_ / "devices" / name, req);
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    devices_.push_back(std::move(d).value());
    return *devices_.back();
  }
  std::unique_ptr<api::Partition> partition(api::Device& dev, const std::string& domain = "domain-a") {
    api::PartitionCreateRequest r;
    r.name = "p";
    r.domain.secret = api::secret_from(domain);
    r.pin = api::secret_from("partition-pin");
    auto p = dev.create_partition(r);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    EXPECT_TRUE(p.value()->login(r.pin).ok());
    return std::move(p).value();
  }
  std::vector<std::uint64_t> keys(api::Partition& p, int count) {
    api::KeyGenRequest req;
    req.type = "aes-256";
    req.count = count;
    req.label = "k";
    auto r = p.generate_keys(req);
    EXPECT_TRUE(r.ok()) << r.error().message;
    std::vector<std::uint64_t> handles;
    for (const auto& o : r->created) handles.push_back(o.handle);
    return handles;
  }
  std::uint64_t count(api::Partition& p) {
    std::uint64_t n = 0;
    EXPECT_TRUE(p.for_each_object([&](const api::ObjectDesc&) { return ++n, true; }).ok());
    return n;
  }
  api::Endpoint ep(api::Partition& p) { return p.describe().value(); }

  // Offer from dst, messages from src: what the tool would carry.
  api::CloneMessages seal(api::Partition& src, api::Partition& dst, const std::vector<std::uint64_t>& h) {
    auto offer = dst.clone_offer(ep(src), client_);
    EXPECT_TRUE(offer.ok()) << offer.error().message;
    auto out = src.clone_out(*offer, ep(dst), h, client_);
    EXPECT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(out->messages.objects.size(), h.size());
    return out->messages;
  }

  fs::path home_;
  std::vector<std::unique_ptr<api::Device>> devices_;
  api::ClientDesc client_{{10, 9, 0}};
};

TEST_F(CloneProtocolDevice, RuleS1_OneFlippedByteFailsIntegrityAndCreatesNothing) {
  auto src = partition(device("a"));
  auto dst = partition(device("b"));
  auto h = keys(*src, 3);
  for (std::size_t at : {std::size_t{0}, std::size_t{1}, std::size_t{2}}) {
    api::CloneMessages m = seal(*src, *dst, h);
    ASSERT_FALSE(m.objects[at].empty());
    api::Bytes& msg = m.objects[at];
    msg[msg.size() / 2] ^= 0x01;
    auto in = dst->clone_in(ep(*src), m, client_);
    ASSERT_FALSE(in.ok()) << "a flipped byte in message " << at << " was accepted";
    EXPECT_EQ(in.error().kind, api::ErrorKind::integrity) << in.error().message;
    EXPECT_EQ(count(*dst), 0u) << "nothing of the batch is created";
  }
  // The untouched messages go through: the test can fail the other way.
  auto in = dst->clone_in(ep(*src), seal(*src, *dst, h), client_);
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_EQ(in->created.size(), 3u);
}

TEST_F(CloneProtocolDevice, RuleS1_MessageReplayedToATargetInAnotherDomainFails) {
  auto src = partition(device("a"));
  auto in_a = partition(device("b"), "domain-a");
  auto in_b = partition(device("c"), "domain-b");
  auto h = keys(*src, 2);
  api::CloneMessages sealed_for_a = seal(*src, *in_a, h);
  // The rule check is skipped: the other target opens a session of its own
  // (it would refuse the pair by S1 before any cryptography otherwise, so its
  // offer is made to a source endpoint that claims its domain) and is handed
  // the messages sealed for domain A.
  api::Endpoint claimed = ep(*src);
  claimed.partition.domains = ep(*in_b).partition.domains;
  auto offer = in_b->clone_offer(claimed, client_);
  ASSERT_TRUE(offer.ok()) << offer.error().message;
  auto replay = in_b->clone_in(claimed, sealed_for_a, client_);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().kind, api::ErrorKind::integrity) << replay.error().message;
  EXPECT_EQ(count(*in_b), 0u);
  // The intended target opens them.
  auto in = in_a->clone_in(ep(*src), sealed_for_a, client_);
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_EQ(in->created.size(), 2u);
}

TEST_F(CloneProtocolDevice, RuleU1_MessageReplayedToTheSameTargetCreatesOnce) {
  auto src = partition(device("a"));
  auto dst = partition(device("b"));
  auto h = keys(*src, 4);
  api::CloneMessages m = seal(*src, *dst, h);
  auto first = dst->clone_in(ep(*src), m, client_);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->created.size(), 4u);
  auto second = dst->clone_in(ep(*src), m, client_);
  if (second.ok()) {
    EXPECT_TRUE(second->created.empty());
  }
  EXPECT_EQ(count(*dst), 4u) << "a replay creates nothing twice";
}

// X5: replace_all deletes the target's objects in the transaction that
// creates the clones; a failed replace (tampered message) deletes nothing.
TEST_F(CloneProtocolDevice, RuleX5_ReplaceAllDeletesFirstInTheSameTransaction) {
  auto src = partition(device("a"));
  auto dst = partition(device("b"));
  auto h = keys(*src, 3);
  keys(*dst, 2);
  api::CloneMessages bad = seal(*src, *dst, h);
  bad.objects.back()[bad.objects.back().size() / 2] ^= 0x01;
  auto failed = dst->clone_in(ep(*src), bad, client_, api::CloneInMode::replace_all);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(count(*dst), 2u) << "a failed replace deletes nothing";
  auto in = dst->clone_in(ep(*src), seal(*src, *dst, h), client_, api::CloneInMode::replace_all);
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_EQ(in->deleted, 2u);
  EXPECT_EQ(in->created.size(), 3u);
  EXPECT_TRUE(in->already_present.empty());
  EXPECT_EQ(count(*dst), 3u);
  // Replacing with the same objects again: deleted and created, not doubled.
  auto again = dst->clone_in(ep(*src), seal(*src, *dst, h), client_, api::CloneInMode::replace_all);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->deleted, 3u);
  EXPECT_EQ(count(*dst), 3u);
}

TEST_F(CloneProtocolDevice, RuleU1_SessionExpiredOnTheTargetClockThenRenegotiated) {
  auto src = partition(device("a"));
  api::Device& target_dev = device("b");
  auto dst = partition(target_dev);
  auto h = keys(*src, 2);
  api::CloneMessages m = seal(*src, *dst, h);
  // 130 s pass on the target between the offer and clone_in: past the 120 s
  // session lifetime, still inside the 300 s clock window (U3).
  ASSERT_TRUE(target_dev.set_clock_skew(130).ok());
  auto late = dst->clone_in(ep(*src), m, client_);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().rule, "U1") << late.error().message;
  EXPECT_EQ(count(*dst), 0u);
  // Renegotiate: a new offer (on the skewed clock) and the batch sealed again.
  auto in = dst->clone_in(ep(*src), seal(*src, *dst, h), client_);
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_EQ(in->created.size(), 2u);
}

TEST_F(CloneProtocolDevice, RuleU1_FreshSessionAllowed) {
  auto src = partition(device("a"));
  auto dst = partition(device("b"));
  auto h = keys(*src, 1);
  auto in = dst->clone_in(ep(*src), seal(*src, *dst, h), client_);
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_EQ(in->created.size(), 1u);
}

}  // namespace
}  // namespace hsm::luna
