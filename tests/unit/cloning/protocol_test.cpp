// CPv1 / CPv3 / CPv4 with real keys: round trips, tampering, wrong domains,
// replays, clocks, expiry and trust. Tests that check a rule are named after it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugins/luna/cloning/protocol.hpp"
#include "tests/unit/cloning/fleet.hpp"

namespace hsm::luna::cloning::testing {
namespace {

using ::testing::HasSubstr;

std::vector<FlatObject> some_objects() {
  return {make_object("rsa-2048", "rsa"), make_object("aes-256", "aes"), make_object("ec-p256", "ec"),
          make_object("ed25519", "ed"), make_object("des3", "des3")};
}

const std::vector<FlatObject>& objects() {
  static const std::vector<FlatObject> objs = some_objects();
  return objs;
}

void expect_arrived_identical(const std::vector<FlatObject>& sent, const Opened& got) {
  ASSERT_EQ(got.objects.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    SCOPED_TRACE(sent[i].desc.label);
    expect_same_desc(sent[i].desc, got.objects[i].desc);
    expect_same_key(sent[i], got.objects[i]);
  }
}

void expect_integrity(const api::Result<Opened>& r, const std::string& what = {}) {
  ASSERT_FALSE(r.ok()) << "opened " << what;
  EXPECT_EQ(r.error().kind, api::ErrorKind::integrity) << what << ": " << r.error().message;
}

// --- round trips ---

// rule P2: CPv1 wraps each object under the target's RSA-2048 TWC.
TEST(RuleP2, Cpv1MovesIdenticalKeysOneWrapPerObject) {
  Clone c;
  c.protocol = Protocol::cpv1;
  auto offer = must(c.offer());
  EXPECT_EQ(offer.offer.accepts, std::vector<Protocol>{Protocol::cpv1});
  auto info = verify_offer(c.src, offer.offer);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->target, "hsm-b");
  auto msgs = must(c.seal_for(offer.offer, objects()));
  EXPECT_EQ(msgs.protocol, Protocol::cpv1);
  EXPECT_TRUE(msgs.session.empty());  // one session per object: no shared header
  ASSERT_EQ(msgs.objects.size(), objects().size());
  auto got = c.open_with(offer.session, msgs);
  ASSERT_TRUE(got.ok()) << got.error().message;
  expect_arrived_identical(objects(), *got);
  EXPECT_EQ(got->source, "hsm-a");
  EXPECT_EQ(got->domain_fingerprint, c.src_domains[0].fingerprint);
}

// rule P4: CPv3 uses the RSA-4096 TWC signed by the HOK.
TEST(RuleP4, Cpv3MovesIdenticalKeys) {
  Clone c;
  c.protocol = Protocol::cpv3;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, objects()));
  EXPECT_TRUE(msgs.session.empty());
  auto got = c.open_with(offer.session, msgs);
  ASSERT_TRUE(got.ok()) << got.error().message;
  expect_arrived_identical(objects(), *got);
}

TEST(RuleP4, TwcSizeMustMatchTheProtocol) {
  Clone c;
  OfferParams p;
  p.protocol = Protocol::cpv3;
  p.twc = &b2048();  // CPv3 needs the 4096-bit TWC
  p.domain_fingerprints = {c.dst_domains[0].fingerprint};
  EXPECT_FALSE(make_offer(c.dst, p).ok());
}

class Cpv4Suites : public ::testing::TestWithParam<std::string> {};

// rule U1: CPv4 negotiates one session for all objects of a command.
TEST_P(Cpv4Suites, OneSessionMovesIdenticalKeys) {
  Clone c;
  c.suite = GetParam();
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, objects()));
  EXPECT_EQ(msgs.protocol, Protocol::cpv4);
  EXPECT_FALSE(msgs.session.empty());
  auto got = c.open_with(offer.session, msgs);
  ASSERT_TRUE(got.ok()) << got.error().message;
  expect_arrived_identical(objects(), *got);
  EXPECT_EQ(got->suite, GetParam());
  EXPECT_EQ(got->source, "hsm-a");
}

// rule S1 (CPv4): any common domain, not only the primary.
TEST_P(Cpv4Suites, AnyCommonDomainWorks) {
  Clone c;
  c.suite = GetParam();
  auto shared = make_domain(false);
  c.src_domains = {make_domain(true), shared};
  c.dst_domains = {make_domain(true), make_domain(false), shared};
  c.domain = shared.fingerprint;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, objects()));
  auto got = c.open_with(offer.session, msgs);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->domain_fingerprint, shared.fingerprint);
}

INSTANTIATE_TEST_SUITE_P(CPv4, Cpv4Suites, ::testing::Values("aes-256-gcm", "chacha20-poly1305"),
                         [](const auto& info) {
                           return info.param == "aes-256-gcm" ? std::string("Aes256Gcm")
                                                              : std::string("ChaCha20Poly1305");
                         });

TEST(Cpv4, EmptyCommandStillNegotiates) {
  Clone c;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, {}));
  auto got = c.open_with(offer.session, msgs);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_TRUE(got->objects.empty());
}

// --- tampering ---

TEST(Integrity, FlippedByteInAnyCpv4MessageByteIsRefused) {
  Clone c;
  auto offer = must(c.offer());
  const std::vector<FlatObject> objs{make_object("aes-256", "a1"), make_object("aes-256", "a2")};
  auto msgs = must(c.seal_for(offer.offer, objs));
  for (std::size_t i = 0; i < msgs.objects[1].size(); ++i) {
    auto bad = msgs;
    bad.objects[1][i] ^= 0x01;
    TargetSession s = offer.session;
    expect_integrity(c.open_with(s, bad), "byte " + std::to_string(i));
  }
  auto bad = msgs;
  bad.objects[1][40] ^= 0x80;
  TargetSession s = offer.session;
  auto r = c.open_with(s, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "CPv4 message 2 failed authentication (wrong domain, tampered or replayed)");
  // Nothing was consumed by the failures: the genuine messages still open once.
  ASSERT_TRUE(c.open_with(offer.session, msgs).ok());
}

TEST(Integrity, FlippedByteInTheCpv4SessionHeaderIsRefused) {
  Clone c;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
  for (std::size_t i = 0; i < msgs.session.size(); i += 3) {
    auto bad = msgs;
    bad.session[i] ^= 0x04;
    TargetSession s = offer.session;
    expect_integrity(c.open_with(s, bad), "header byte " + std::to_string(i));
  }
}

TEST(Integrity, FlippedByteInTheOfferIsRefusedBySeal) {
  for (Protocol p : {Protocol::cpv1, Protocol::cpv4}) {
    Clone c;
    c.protocol = p;
    auto offer = must(c.offer());
    for (std::size_t i = 0; i < offer.offer.blob.size(); i += 2) {
      api::CloneOffer bad = offer.offer;
      bad.blob[i] ^= 0x10;
      auto r = c.seal_for(bad, {make_object("aes-256", "a")});
      ASSERT_FALSE(r.ok()) << api::to_string(p) << " offer byte " << i;
      EXPECT_EQ(r.error().kind, api::ErrorKind::integrity) << r.error().message;
    }
  }
}

TEST(Integrity, FlippedByteInACpv1MessageIsRefused) {
  Clone c;
  c.protocol = Protocol::cpv1;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
  // CPv1 has no signed header: a tampered domain name reads as a domain
  // the target does not hold (S1); everything else as an integrity failure.
  const std::string msg(msgs.objects[0].begin(), msgs.objects[0].end());
  const auto fp_at = msg.find(c.src_domains[0].fingerprint);
  ASSERT_NE(fp_at, std::string::npos);
  for (std::size_t i = 0; i < msgs.objects[0].size(); i += 3) {
    auto bad = msgs;
    bad.objects[0][i] ^= 0x02;
    TargetSession s = offer.session;
    auto r = c.open_with(s, bad);
    ASSERT_FALSE(r.ok()) << "byte " << i;
    if (i >= fp_at && i < fp_at + c.src_domains[0].fingerprint.size())
      EXPECT_EQ(r.error().rule, "S1") << "byte " << i;
    else
      EXPECT_EQ(r.error().kind, api::ErrorKind::integrity) << "byte " << i << ": " << r.error().message;
  }
}

TEST(Integrity, Cpv3TamperedWrapOrBodyIsRefused) {
  Clone c;
  c.protocol = Protocol::cpv3;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
  const std::size_t n = msgs.objects[0].size();
  for (std::size_t i : {std::size_t{100}, std::size_t{300}, n - 60, n - 1}) {
    auto bad = msgs;
    bad.objects[0][i] ^= 0x02;
    TargetSession s = offer.session;
    expect_integrity(c.open_with(s, bad), "byte " + std::to_string(i));
  }
}

TEST(Integrity, RelabelledProtocolIsRefused) {
  Clone c;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
  msgs.protocol = Protocol::cpv3;
  expect_integrity(c.open_with(offer.session, msgs));
}

// --- domains (rule S1): bound into the cryptography ---

// The target is handed the attacker's key under the right domain name, so the
// name check passes: only the key derivation stands in the way.
TEST(RuleS1, Cpv4TargetWithAWrongDomainKeyFailsCryptographically) {
  for (const std::string suite : {"aes-256-gcm", "chacha20-poly1305"}) {
    Clone c;
    c.suite = suite;
    c.dst_domains[0].key = crypto::random_secret(32);  // same fingerprint, wrong secret
    auto offer = must(c.offer());
    auto msgs = must(c.seal_for(offer.offer, objects()));
    auto r = c.open_with(offer.session, msgs);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, api::ErrorKind::integrity);
    EXPECT_EQ(r.error().message, "CPv4 message 1 failed authentication (wrong domain, tampered or replayed)");
  }
}

TEST(RuleS1, Cpv1AndCpv3TargetWithAWrongDomainKeyFailCryptographically) {
  for (Protocol p : {Protocol::cpv1, Protocol::cpv3}) {
    Clone c;
    c.protocol = p;
    c.dst_domains[0].key = crypto::random_secret(32);
    auto offer = must(c.offer());
    auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
    auto r = c.open_with(offer.session, msgs);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, api::ErrorKind::integrity);
    EXPECT_EQ(r.error().message, std::string(api::to_string(p)) +
                                     " message 1 failed authentication (wrong domain, tampered or replayed)");
  }
}

// A source that lacks the domain but claims it (a guessed key under the
// target's fingerprint) passes every check of its own and still cannot forge.
TEST(RuleS1, SourceWithoutTheDomainKeyCannotForge) {
  for (Protocol p : {Protocol::cpv1, Protocol::cpv4}) {
    Clone c;
    c.protocol = p;
    c.src_domains[0].key = crypto::random_secret(32);
    auto offer = must(c.offer());
    auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
    expect_integrity(c.open_with(offer.session, msgs), std::string(api::to_string(p)));
  }
}

// Messages sealed for one domain, replayed to a target that holds another
// domain which the attacker relabels with the sealed domain's name.
TEST(RuleS1, ReplayToATargetHoldingAnotherDomainFailsCryptographically) {
  Clone c;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, objects()));
  TargetSession replay = offer.session;  // the attacker also replays the target's state
  DomainKey other = make_domain();
  other.fingerprint = c.src_domains[0].fingerprint;
  auto r = open(c.dst, replay, nullptr, {other}, msgs, "hsm-a");
  expect_integrity(r);
  // The genuine target opens them.
  ASSERT_TRUE(c.open_with(offer.session, msgs).ok());
}

TEST(RuleS1, TargetWithoutTheNamedDomainRefuses) {
  Clone c;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
  auto r = open(c.dst, offer.session, nullptr, {make_domain()}, msgs, "hsm-a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, api::ErrorKind::refused);
  EXPECT_EQ(r.error().rule, "S1");
  EXPECT_EQ(r.error().code, "CKR_CERTIFICATE_INVALID");
}

TEST(RuleS1, SourceRefusesADomainItLacksOrTheTargetLacks) {
  Clone c;
  auto offer = must(c.offer());
  c.domain = make_domain().fingerprint;  // held by neither
  auto r = c.seal_for(offer.offer, {make_object("aes-256", "a")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rule, "S1");
  auto extra = make_domain();
  c.src_domains.push_back(extra);  // held by the source only
  c.domain = extra.fingerprint;
  r = c.seal_for(offer.offer, {make_object("aes-256", "a")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rule, "S1");
  EXPECT_THAT(r.error().message, HasSubstr("hsm-b does not hold"));
}

// --- replay and ordering ---

TEST(Replay, Cpv4ReplayedCountersAreRefused) {
  Clone c;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, objects()));
  ASSERT_TRUE(c.open_with(offer.session, msgs).ok());
  auto again = c.open_with(offer.session, msgs);  // the same session again
  expect_integrity(again);
  EXPECT_THAT(again.error().message, HasSubstr("replayed or out of order"));

  // Within one command: a message repeated in place of the next one.
  auto offer2 = must(c.offer());
  auto m2 = must(c.seal_for(offer2.offer, objects()));
  m2.objects[2] = m2.objects[1];
  expect_integrity(c.open_with(offer2.session, m2));
  // Reordered.
  auto m3 = must(c.seal_for(offer2.offer, objects()));
  std::swap(m3.objects[0], m3.objects[1]);
  expect_integrity(c.open_with(offer2.session, m3));
}

TEST(Replay, Cpv4TruncatedOrPaddedCommandIsRefused) {
  Clone c;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, objects()));
  auto dropped = msgs;
  dropped.objects.pop_back();
  expect_integrity(c.open_with(offer.session, dropped));
  auto padded = msgs;
  padded.objects.push_back(msgs.objects.back());
  expect_integrity(c.open_with(offer.session, padded));
}

TEST(Replay, Cpv4MessageFromAnotherSessionIsRefused) {
  Clone c;
  auto offer = must(c.offer());
  auto m1 = must(c.seal_for(offer.offer, objects()));
  auto m2 = must(c.seal_for(offer.offer, objects()));  // a second source session, same offer
  m2.objects[0] = m1.objects[0];                       // spliced from the first session
  expect_integrity(c.open_with(offer.session, m2));
}

TEST(Replay, MessagesForAnotherOfferAreRefused) {
  for (Protocol p : {Protocol::cpv1, Protocol::cpv4}) {
    Clone c;
    c.protocol = p;
    auto offer1 = must(c.offer());
    auto offer2 = must(c.offer());
    auto msgs = must(c.seal_for(offer1.offer, {make_object("aes-256", "a")}));
    expect_integrity(c.open_with(offer2.session, msgs), std::string(api::to_string(p)));
  }
}

TEST(Replay, Cpv1ReplayedMessageIsRefused) {
  Clone c;
  c.protocol = Protocol::cpv1;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a"), make_object("aes-256", "b")}));
  ASSERT_TRUE(c.open_with(offer.session, msgs).ok());
  auto r = c.open_with(offer.session, msgs);
  expect_integrity(r);
  EXPECT_THAT(r.error().message, HasSubstr("replayed"));
  auto swapped = must(c.seal_for(offer.offer, {make_object("aes-256", "a"), make_object("aes-256", "b")}));
  std::swap(swapped.objects[0], swapped.objects[1]);
  expect_integrity(c.open_with(offer.session, swapped));
}

TEST(Replay, SourceNameIsChecked) {
  Clone c;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
  expect_integrity(open(c.dst, offer.session, nullptr, c.dst_domains, msgs, "hsm-z"));
}

// --- clocks (rule U3) ---

TEST(RuleU3, SourceRefusesAnOfferFrom360SecondsAway) {
  for (std::int64_t skew : {360, -360}) {
    Clone c;
    c.src.now = c.dst.now + skew;
    auto offer = must(c.offer());
    auto r = c.seal_for(offer.offer, {make_object("aes-256", "a")});
    ASSERT_FALSE(r.ok()) << skew;
    EXPECT_EQ(r.error().kind, api::ErrorKind::refused);
    EXPECT_EQ(r.error().rule, "U3");
    EXPECT_EQ(r.error().code, "CKR_CLOCK_NOT_IN_SYNC");
  }
}

TEST(RuleU3, TwoHundredFortySecondsAreForgiven) {
  for (std::int64_t skew : {240, -240}) {
    Clone c;
    c.src.now = c.dst.now + skew;
    auto offer = must(c.offer());
    auto msgs = must(c.seal_for(offer.offer, objects()));
    auto got = c.open_with(offer.session, msgs);
    ASSERT_TRUE(got.ok()) << skew << ": " << got.error().message;
    expect_arrived_identical(objects(), *got);
  }
}

TEST(RuleU3, TargetRefusesASessionStamped360SecondsFromItsClock) {
  Clone c;
  c.lifetime_s = 3600;  // so that expiry (U1) is not what stops it
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
  c.dst.now += 360;
  auto r = c.open_with(offer.session, msgs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rule, "U3");
  EXPECT_EQ(r.error().code, "CKR_CLOCK_NOT_IN_SYNC");
}

TEST(RuleU3, Cpv1AndCpv3HaveNoClockCheck) {
  Clone c;
  c.protocol = Protocol::cpv1;
  c.src.now = c.dst.now + 3600;
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
  ASSERT_TRUE(c.open_with(offer.session, msgs).ok());
}

// --- session expiry (rule U1) ---

TEST(RuleU1, AnExpiredSessionNeedsRenegotiation) {
  for (Protocol p : {Protocol::cpv1, Protocol::cpv4}) {
    Clone c;
    c.protocol = p;
    auto offer = must(c.offer());
    auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
    c.dst.now += kSessionLifetimeS + 1;
    EXPECT_TRUE(expired(offer.session, c.dst.now));
    auto r = c.open_with(offer.session, msgs);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, api::ErrorKind::refused);
    EXPECT_EQ(r.error().rule, "U1");
    EXPECT_THAT(r.error().fix, HasSubstr("new offer"));
    // Renegotiate: a new offer at the target's current time.
    c.src.now = c.dst.now;
    auto fresh = must(c.offer());
    auto m2 = must(c.seal_for(fresh.offer, {make_object("aes-256", "a")}));
    ASSERT_TRUE(c.open_with(fresh.session, m2).ok()) << api::to_string(p);
  }
}

TEST(RuleU1, SealRefusesAnOfferPastItsMessageBudget) {
  Clone c;
  c.max_messages = 3;
  auto offer = must(c.offer());
  std::vector<FlatObject> four(4, make_object("aes-256", "a"));
  auto r = c.seal_for(offer.offer, four);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rule, "U1");
  // Within the budget it works; the target counts what it accepted.
  auto three = must(c.seal_for(offer.offer, std::vector<FlatObject>(four.begin(), four.end() - 1)));
  ASSERT_TRUE(c.open_with(offer.session, three).ok());
  auto one_more = must(c.seal_for(offer.offer, {four[0]}));
  auto r2 = c.open_with(offer.session, one_more);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().rule, "U1");
}

TEST(RuleU1, EveryOfferHasItsOwnEphemeralKeyAndNonce) {
  Clone c;
  auto o1 = must(c.offer());
  auto o2 = must(c.offer());
  EXPECT_NE(o1.session.ephemeral_private_der, o2.session.ephemeral_private_der);
  EXPECT_NE(o1.session.nonce, o2.session.nonce);
  EXPECT_NE(o1.offer.blob, o2.offer.blob);
}

// --- rule U2: suites ---

TEST(RuleU2, ASuiteTheTargetDidNotOfferIsRefused) {
  Clone c;
  c.suites = {"chacha20-poly1305"};
  c.suite = "aes-256-gcm";
  auto offer = must(c.offer());
  auto r = c.seal_for(offer.offer, {make_object("aes-256", "a")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rule, "U2");
}

TEST(RuleU2, NoEnabledSuiteMeansNoCpv4Offer) {
  Clone c;
  c.suites = {};
  auto r = c.offer();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rule, "U2");
}

// --- trust: the manufacturing root ---

TEST(Trust, AnOfferWhoseHokWasIssuedByAnotherRootIsRefused) {
  for (Protocol p : {Protocol::cpv1, Protocol::cpv4}) {
    Clone c;
    c.protocol = p;
    // A look-alike "hsm-b" whose HOK another manufacturer issued.
    DeviceIdentity fake = make_device(fleet().evil, "hsm-b");
    c.dst = fake;
    OfferParams op;
    op.protocol = p;
    Twc fake_twc;
    if (p == Protocol::cpv1) {
      fake_twc = must(make_twc(fake, 2048));
      op.twc = &fake_twc;
    } else {
      op.suites = c.suites;
    }
    op.domain_fingerprints = {c.dst_domains[0].fingerprint};
    auto offer = must(make_offer(fake, op));
    auto r = c.seal_for(offer.offer, {make_object("aes-256", "a")});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, api::ErrorKind::integrity);
    EXPECT_THAT(r.error().message, HasSubstr("not issued by this fleet's manufacturing root"));
  }
}

TEST(Trust, ATargetRefusesASourceFromAnotherRoot) {
  Clone c;
  c.src = make_device(fleet().evil, "hsm-a", &fleet().root);  // trusts our root, is not of it
  auto offer = must(c.offer());
  auto msgs = must(c.seal_for(offer.offer, {make_object("aes-256", "a")}));
  auto r = c.open_with(offer.session, msgs);
  expect_integrity(r);
  EXPECT_THAT(r.error().message, HasSubstr("manufacturing root"));
}

TEST(Trust, AnOfferSignedUnderAnotherDevicesNameIsRefused) {
  Clone c;
  DeviceIdentity impostor = fleet().a;  // hsm-a's HOK...
  impostor.name = "hsm-b";              // ...claiming to be hsm-b
  c.dst = impostor;
  auto offer = must(c.offer());
  auto r = c.seal_for(offer.offer, {make_object("aes-256", "a")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, api::ErrorKind::integrity);
}

TEST(Trust, ATwcNotIssuedByTheOfferingHokIsRefused) {
  Clone c;
  c.protocol = Protocol::cpv1;
  Twc other = must(make_twc(fleet().a, 2048));  // hsm-a's TWC in hsm-b's offer
  OfferParams op;
  op.protocol = Protocol::cpv1;
  op.twc = &other;
  op.domain_fingerprints = {c.dst_domains[0].fingerprint};
  auto offer = must(make_offer(c.dst, op));
  auto r = c.seal_for(offer.offer, {make_object("aes-256", "a")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, api::ErrorKind::integrity);
  EXPECT_THAT(r.error().message, HasSubstr("not issued by its HOK"));
}

}  // namespace
}  // namespace hsm::luna::cloning::testing
