// check and clone end to end through the built binary, named after the rules
// of ../shared/spec/luna-rules.md. After every successful clone the test
// proves the target holds the same key (a signature made on one side
// verifies on the other, both ways; a ciphertext made on one side decrypts
// on the other, both ways), that non-extractable stays non-extractable (S4),
// and that a rerun reports everything as already present and doubles nothing.
#include "harness.hpp"

namespace hsm::e2e {
namespace {

class Clone : public Cli {
 protected:
  // A device with one partition "p" (the fleet's default domain unless given).
  void device(const std::string& name, const std::string& kind, const std::string& firmware,
              std::vector<std::string> partition_args = {}, std::vector<std::string> device_args = {}) {
    std::vector<std::string> d{"device", "create", name, "--kind", kind};
    if (!firmware.empty()) d.insert(d.end(), {"--firmware", firmware});
    d.insert(d.end(), device_args.begin(), device_args.end());
    ok(d);
    std::vector<std::string> p{"partition", "create", name + "/p"};
    p.insert(p.end(), partition_args.begin(), partition_args.end());
    ok(p);
  }
  void key(const std::string& part, const std::string& type, const std::string& label,
           std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"key", "generate", part, "--type", type, "--label", label};
    a.insert(a.end(), extra.begin(), extra.end());
    ok(a);
  }
  std::string file(const std::string& name, const std::string& content) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  // Signs on `a`, verifies on `b` (and the reverse): the same key pair.
  void same_signing_key(const std::string& a, const std::string& b, const std::string& label) {
    const std::string data = file("data-" + label, "proof of the same key: " + label);
    for (auto [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
      const std::string sig = (dir_ / ("sig-" + label)).string();
      ok({"key", "sign", from, "--object", label, "--in", data, "--out", sig});
      EXPECT_EQ(fs::status(sig).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
      auto j = ok({"key", "verify", to, "--object", label, "--in", data, "--signature", sig, "--json"}).json();
      EXPECT_TRUE(j["verified"]) << label << " signed on " << from << ", verified on " << to;
      // A changed message does not verify (exit 4): the check can fail.
      const std::string other = file("other-" + label, "something else");
      EXPECT_EQ(run({"key", "verify", to, "--object", label, "--in", other, "--signature", sig}).rc, kIntegrity);
    }
  }
  // Encrypts on `a`, decrypts on `b` (and the reverse): the same secret key.
  void same_secret_key(const std::string& a, const std::string& b, const std::string& label) {
    const std::string plain = "secret proof of the same key: " + label;
    const std::string in = file("plain-" + label, plain);
    for (auto [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
      const std::string ct = (dir_ / ("ct-" + label)).string(), back = (dir_ / ("back-" + label)).string();
      ok({"key", "encrypt", from, "--object", label, "--in", in, "--out", ct});
      EXPECT_NE(slurp(ct), plain);
      ok({"key", "decrypt", to, "--object", label, "--in", ct, "--out", back});
      EXPECT_EQ(slurp(back), plain) << label << " encrypted on " << from << ", decrypted on " << to;
    }
  }
  nlohmann::json objects(const std::string& part) { return ok({"object", "list", part, "--json"}).json(); }
  nlohmann::json object(const std::string& part, const std::string& label, const std::string& cls) {
    const auto all = objects(part);  // keep the document alive while iterating
    for (const auto& o : all["objects"])
      if (o["label"] == label && o["class"] == cls) return o;
    ADD_FAILURE() << "no " << cls << " " << label << " in " << part;
    return {};
  }
  // Clones, checks the protocol and the count, then reruns: nothing doubles.
  nlohmann::json clone_twice(const std::string& src, const std::string& dst, const std::string& protocol,
                             std::size_t expected) {
    auto c = ok({"check", src, dst, "--json"}).json();
    EXPECT_TRUE(c["allowed"]);
    EXPECT_EQ(c["protocol"], protocol);
    EXPECT_TRUE(c["rule"].is_null());
    EXPECT_TRUE(c["code"].is_null());
    EXPECT_TRUE(c["fix"].is_null());
    auto j = ok({"clone", src, dst, "--json"}).json();
    EXPECT_EQ(j["protocol"], protocol);
    EXPECT_EQ(j["dry_run"], false);
    EXPECT_EQ(j["cloned"].size(), expected);
    EXPECT_TRUE(j["refused"].empty()) << j.dump();
    const auto count = objects(dst)["count"];
    auto again = ok({"clone", src, dst, "--json"}).json();
    EXPECT_TRUE(again["cloned"].empty()) << again.dump();
    EXPECT_EQ(again["already_present"].size(), expected);
    EXPECT_EQ(objects(dst)["count"], count) << "a rerun doubles nothing";
    return j;
  }
  void expect_refused_pair(const std::string& src, const std::string& dst, const std::string& rule) {
    auto r = run({"check", src, dst, "--json"});
    EXPECT_EQ(r.rc, kRefused);
    auto j = r.json();
    EXPECT_FALSE(j["allowed"]);  // `protocol` may name the protocol that was refused
    EXPECT_EQ(j["rule"], rule) << j.dump();
    EXPECT_FALSE(j["message"].get<std::string>().empty());
    EXPECT_FALSE(j["fix"].is_null()) << "a refusal names the fix: " << j.dump();
    refused({"check", src, dst}, rule);
    refused({"clone", src, dst}, rule);
    EXPECT_EQ(objects(dst)["count"], 0) << "a refused pair moves nothing";
  }
};

TEST_F(Clone, RuleP2_Luna6ToLuna7_72ByCpv1SameKeys) {
  device("old", "luna6", "6.10.9");
  device("new", "luna7", "7.2.0");
  key("old/p", "aes-256", "aes", {"--non-extractable"});
  key("old/p", "des3", "des");
  key("old/p", "rsa-2048", "rsa");
  key("old/p", "ec-p256", "ec");
  auto c = ok({"check", "old/p", "new/p", "--object", "all", "--json"}).json();
  ASSERT_EQ(c["objects"].size(), 6u);
  for (const auto& o : c["objects"]) {
    EXPECT_TRUE(o["allowed"]);
    for (const char* f : {"protocol", "rule", "code", "message", "fix", "handle", "label"})
      EXPECT_TRUE(o.contains(f)) << f;
  }
  clone_twice("old/p", "new/p", "CPv1", 6);
  same_secret_key("old/p", "new/p", "aes");
  same_secret_key("old/p", "new/p", "des");
  same_signing_key("old/p", "new/p", "rsa");
  same_signing_key("old/p", "new/p", "ec");
  EXPECT_EQ(object("new/p", "aes", "secret-key")["extractable"], false);  // rule S4
  EXPECT_EQ(object("new/p", "rsa", "private-key")["extractable"], true);
}

TEST_F(Clone, RuleP4_Luna6To770ByCpv1In) {
  device("old", "luna6", "6.10.9");
  device("mid", "luna7", "7.7.0");
  key("old/p", "rsa-2048", "rsa", {"--non-extractable"});
  clone_twice("old/p", "mid/p", "CPv1", 2);
  same_signing_key("old/p", "mid/p", "rsa");
  EXPECT_EQ(object("mid/p", "rsa", "private-key")["extractable"], false);  // rule S4
}

TEST_F(Clone, RuleP8_770ToLuna6Refused) {
  device("mid", "luna7", "7.7.0");
  device("old", "luna6", "6.10.9");
  key("mid/p", "aes-256", "aes");
  expect_refused_pair("mid/p", "old/p", "P8");
}

TEST_F(Clone, RuleP7_770ToCloudRefused) {
  device("mid", "luna7", "7.7.0");
  device("svc", "cloud", "");
  key("mid/p", "aes-256", "aes");
  auto r = run({"check", "mid/p", "svc/p", "--json"});
  EXPECT_EQ(r.rc, kRefused);
  const std::string rule = r.json()["rule"];
  EXPECT_TRUE(rule == "P7" || rule == "P8") << rule;  // P7 follows from P4 and P8
  expect_refused_pair("mid/p", "svc/p", rule);
}

TEST_F(Clone, RuleP5_771ToCloudRefusedUntilPolicy42On) {
  device("mid", "luna7", "7.7.1");
  device("svc", "cloud", "");
  key("mid/p", "rsa-2048", "rsa");
  expect_refused_pair("mid/p", "svc/p", "P5");
  ok({"partition", "policy", "mid/p", "--set", "42=1"});
  clone_twice("mid/p", "svc/p", "CPv1", 2);
  same_signing_key("mid/p", "svc/p", "rsa");
}

TEST_F(Clone, RuleP6_78To78ByCpv4SameKeys) {
  device("a", "luna7", "7.8.0");
  device("b", "luna7", "7.8.0");
  key("a/p", "aes-256", "aes", {"--non-extractable"});
  key("a/p", "rsa-2048", "rsa", {"--non-extractable"});
  key("a/p", "ec-p384", "ec");
  key("a/p", "ed25519", "ed");
  clone_twice("a/p", "b/p", "CPv4", 7);
  same_secret_key("a/p", "b/p", "aes");
  same_signing_key("a/p", "b/p", "rsa");
  same_signing_key("a/p", "b/p", "ec");
  same_signing_key("a/p", "b/p", "ed");
  EXPECT_EQ(object("b/p", "aes", "secret-key")["extractable"], false);  // rule S4
  EXPECT_EQ(object("b/p", "rsa", "private-key")["extractable"], false);
}

TEST_F(Clone, RuleP6_78To771ByCpv3) {
  device("a", "luna7", "7.8.0");
  device("b", "luna7", "7.7.1");
  key("a/p", "aes-256", "aes", {"--non-extractable"});
  key("a/p", "rsa-3072", "rsa");
  clone_twice("a/p", "b/p", "CPv3", 3);
  same_secret_key("a/p", "b/p", "aes");
  same_signing_key("a/p", "b/p", "rsa");
  EXPECT_EQ(object("b/p", "aes", "secret-key")["extractable"], false);  // rule S4
}

TEST_F(Clone, RuleP7_78ToCloudByCpv4) {
  device("a", "luna7", "7.8.0");
  device("svc", "cloud", "");
  key("a/p", "aes-256", "aes", {"--non-extractable"});
  key("a/p", "ec-p256", "ec");
  clone_twice("a/p", "svc/p", "CPv4", 3);
  same_secret_key("a/p", "svc/p", "aes");
  same_signing_key("a/p", "svc/p", "ec");
  EXPECT_EQ(object("svc/p", "aes", "secret-key")["extractable"], false);  // rule S4
}

TEST_F(Clone, RuleS1_DomainMismatchRefused) {
  device("a", "luna7", "7.8.0");
  device("b", "luna7", "7.8.0", {"--domain-file", file("other-domain", "another-domain")});
  key("a/p", "aes-256", "aes");
  expect_refused_pair("a/p", "b/p", "S1");
}

TEST_F(Clone, RuleS1_NonPrimarySharedDomainBetween78Allowed) {
  const std::string shared = file("shared", "shared-secondary-domain");
  device("a", "luna7", "7.8.0", {"--domain-file", file("da", "domain-a"), "--domain-label", "a"});
  device("b", "luna7", "7.8.0", {"--domain-file", file("db", "domain-b"), "--domain-label", "b"});
  for (const char* p : {"a/p", "b/p"}) {
    ok({"partition", "policy", p, "--set", "44=1"});
    ok({"partition", "domain", "add", p, "--domain-file", shared, "--label", "shared"});
  }
  key("a/p", "rsa-2048", "rsa");
  clone_twice("a/p", "b/p", "CPv4", 2);
  same_signing_key("a/p", "b/p", "rsa");
}

TEST_F(Clone, RuleS2_FmNeverToFmEnabledRefused) {
  device("plain", "luna7", "7.8.0");
  device("fm", "luna7", "7.8.0", {}, {"--fm", "enabled"});
  key("plain/p", "aes-256", "aes");
  expect_refused_pair("plain/p", "fm/p", "S2");
}

TEST_F(Clone, RuleU3_SixMinutesSkewRefusedFourAllowed) {
  device("a", "luna7", "7.8.0");
  device("b", "luna7", "7.8.0");
  key("a/p", "aes-256", "aes");
  ok({"device", "clock", "b", "--skew", "360"});
  auto r = run({"check", "a/p", "b/p", "--json"});
  EXPECT_EQ(r.rc, kRefused);
  EXPECT_EQ(r.json()["code"], "CKR_CLOCK_NOT_IN_SYNC");
  expect_refused_pair("a/p", "b/p", "U3");
  ok({"device", "clock", "b", "--skew", "240"});
  clone_twice("a/p", "b/p", "CPv4", 1);
  same_secret_key("a/p", "b/p", "aes");
}

TEST_F(Clone, RuleK2_KeyBelowFipsMinimumRefusedOthersCloned) {
  device("a", "luna7", "7.8.0");
  device("f", "luna7", "7.8.0", {"--fips"});
  key("a/p", "rsa-1024", "small");
  key("a/p", "aes-256", "aes");
  auto r = run({"check", "a/p", "f/p", "--object", "all", "--json"});
  EXPECT_EQ(r.rc, kRefused);
  std::size_t k2 = 0;
  const auto checked = r.json();
  for (const auto& o : checked["objects"])
    if (o["label"] == "small") {
      EXPECT_EQ(o["rule"], "K2");
      EXPECT_EQ(o["code"], "CKR_KEY_SIZE_RANGE");
      EXPECT_FALSE(o["fix"].is_null());
      ++k2;
    } else {
      EXPECT_TRUE(o["allowed"]);
    }
  EXPECT_EQ(k2, 2u);  // the private and the public object
  auto c = run({"clone", "a/p", "f/p", "--json"});
  EXPECT_EQ(c.rc, kRefused);
  auto j = c.json();
  EXPECT_EQ(j["cloned"].size(), 1u);
  ASSERT_EQ(j["refused"].size(), 2u);
  for (const auto& o : j["refused"]) {
    EXPECT_EQ(o["label"], "small");
    EXPECT_EQ(o["rule"], "K2");
  }
  // Text form: each refused object on a line with its rule and fix.
  auto t = run({"clone", "a/p", "f/p"});
  EXPECT_EQ(t.rc, kRefused);
  EXPECT_NE(t.out.find("rule K2"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("fix:"), std::string::npos) << t.out;
  same_secret_key("a/p", "f/p", "aes");
}

TEST_F(Clone, RuleK3_X931RsaToLuna7Refused) {
  device("old", "luna6", "6.10.9");
  device("new", "luna7", "7.2.0");
  // rule K4: a client >= 10.1.0 would remap X9.31 to 186-3 on Luna 6; 10.0.0 keeps it.
  key("old/p", "rsa-2048", "x931", {"--keygen-mechanism", "x9.31", "--client-version", "10.0.0"});
  key("old/p", "rsa-2048", "pss", {"--keygen-mechanism", "186-3"});
  auto c = run({"clone", "old/p", "new/p", "--json"});
  EXPECT_EQ(c.rc, kRefused);
  auto j = c.json();
  EXPECT_EQ(j["cloned"].size(), 2u);
  for (const auto& o : j["refused"]) {
    EXPECT_EQ(o["label"], "x931");
    EXPECT_EQ(o["rule"], "K3");
  }
  EXPECT_FALSE(j["refused"].empty());
  same_signing_key("old/p", "new/p", "pss");
}

TEST_F(Clone, RuleC1C2_150ObjectsToCloudInBatchesOf100) {
  device("a", "luna7", "7.8.0");
  device("svc", "cloud", "");
  ok({"key", "generate", "a/p", "--type", "aes-256", "--count", "150", "--label", "k"});
  auto c = ok({"check", "a/p", "svc/p", "--json"}).json();
  EXPECT_EQ(c["batch_limit"], 100);  // rule C2
  auto dry = run({"clone", "a/p", "svc/p", "--dry-run", "--json"});
  EXPECT_EQ(objects("svc/p")["count"], 0) << "a dry run changes nothing";
  auto r = run({"clone", "a/p", "svc/p", "--json"});
  EXPECT_EQ(r.rc, kRefused);
  auto j = r.json();
  EXPECT_EQ(j["cloned"].size(), 100u);
  ASSERT_EQ(j["refused"].size(), 50u);
  for (const auto& o : j["refused"]) {
    EXPECT_EQ(o["rule"], "C1");
    EXPECT_NE(o["label"].get<std::string>().find("k-"), std::string::npos) << "names the source object";
  }
  EXPECT_EQ(j["batch_limit"], 100);
  EXPECT_GE(j["batches"].get<int>(), 1);
  EXPECT_LE(j["batches"].get<int>(), 2);
  EXPECT_EQ(objects("svc/p")["count"], 100);
  same_secret_key("a/p", "svc/p", "k-1");
  same_secret_key("a/p", "svc/p", "k-100");
}

TEST_F(Clone, DryRunReportsWouldCloneAndMovesNothing) {
  device("a", "luna7", "7.8.0");
  device("b", "luna7", "7.8.0");
  key("a/p", "aes-256", "aes");
  auto j = ok({"clone", "a/p", "b/p", "--dry-run", "--json"}).json();
  EXPECT_EQ(j["dry_run"], true);
  EXPECT_EQ(j["would_clone"].size(), 1u);
  EXPECT_EQ(objects("b/p")["count"], 0);
}

}  // namespace
}  // namespace hsm::e2e
