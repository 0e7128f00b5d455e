// Cross-family (issue 12 §3, §5): a SoftHSM2 token and an emulated Luna 7
// 7.8.0 partition of the same domain restore each other's archives in the
// portable form and clone to each other (KWP) through the middle-man flow;
// keys are proven by signing on one family and verifying on the other. A
// Luna non-extractable key is refused toward a token (T2); a Luna default
// archive is refused by a token with the fix (--portable).
#include "tests/unit/e2e_pkcs11/pkcs11_harness.hpp"

namespace hsm::e2e {
namespace {

using nlohmann::json;

class CrossFamily : public Pkcs11Cli {
 protected:
  void SetUp() override {
    Pkcs11Cli::SetUp();
    make_token("tokA");
    make_token("tokB");
    add_token("soft1", "tokA");
    add_token("soft2", "tokB");
    ok({"device", "create", "luna", "--kind", "luna7", "--firmware", "7.8.0"});
    ok({"partition", "create", "luna/p1"});  // domain from HSM_MIGRATE_DOMAIN: the tokens' domain
  }

  // Signs on one partition and verifies on another (by label): the same key.
  void prove_signature(const std::string& signer, const std::string& verifier, const std::string& label) {
    write(dir_ / "msg", "signed on " + signer + ", verified on " + verifier);
    ok({"key", "sign", signer, "--object", label, "--in", (dir_ / "msg").string(), "--out", (dir_ / "sig").string()});
    ok({"key", "verify", verifier, "--object", label, "--in", (dir_ / "msg").string(), "--signature",
        (dir_ / "sig").string()});
  }
  void prove_aes(const std::string& a, const std::string& b, const std::string& label) {
    write(dir_ / "plain", "AES round trip between " + a + " and " + b);
    ok({"key", "encrypt", a, "--object", label, "--in", (dir_ / "plain").string(), "--out", (dir_ / "c").string()});
    ok({"key", "decrypt", b, "--object", label, "--in", (dir_ / "c").string(), "--out", (dir_ / "p").string()});
    EXPECT_EQ(slurp(dir_ / "p"), slurp(dir_ / "plain"));
  }
};

TEST_F(CrossFamily, TokenArchiveRestoresIntoLunaAndKeysAreTheSame) {
  ok({"key", "generate", "soft1/tokA", "--type", "ec-p256", "--label", "t-ec"});
  ok({"key", "generate", "soft1/tokA", "--type", "rsa-2048", "--label", "t-rsa"});
  ok({"key", "generate", "soft1/tokA", "--type", "aes-256", "--label", "t-aes"});
  const std::string archive = (dir_ / "tok.hsmar").string();
  ok({"backup", "soft1/tokA", "--archive", archive});
  CliRun r = ok({"--json", "restore", archive, "--to", "luna/p1"});
  EXPECT_EQ(r.json()["counts"]["created"], 5);
  prove_signature("soft1/tokA", "luna/p1", "t-ec");
  prove_signature("luna/p1", "soft1/tokA", "t-ec");
  prove_signature("luna/p1", "soft1/tokA", "t-rsa");
  prove_aes("soft1/tokA", "luna/p1", "t-aes");
  prove_aes("luna/p1", "soft1/tokA", "t-aes");
  // A drill of the token's archive in the Luna partition.
  ok({"drill", archive, "--scratch", "luna/p1"});
}

TEST_F(CrossFamily, LunaPortableArchiveRestoresIntoATokenAndDefaultArchivesAreRefused) {
  ok({"key", "generate", "luna/p1", "--type", "ec-p256", "--label", "l-ec"});
  ok({"key", "generate", "luna/p1", "--type", "aes-256", "--label", "l-aes"});
  ok({"key", "generate", "luna/p1", "--type", "rsa-2048", "--label", "l-locked", "--non-extractable"});
  ok({"key", "generate", "luna/p1", "--type", "ed25519", "--label", "l-ed"});
  // Luna's default archive: a token cannot open it (T3) and says what to do.
  const std::string native = (dir_ / "native.hsmar").string();
  ok({"backup", "luna/p1", "--archive", native});
  const int before = count_objects("tokB");
  CliRun n = run({"restore", native, "--to", "soft2/tokB"});
  EXPECT_EQ(n.rc, kRefused) << n.err;
  EXPECT_NE(n.err.find("rule T3"), std::string::npos) << n.err;
  EXPECT_NE(n.err.find("--portable"), std::string::npos) << n.err;
  EXPECT_EQ(count_objects("tokB"), before);
  // The portable form: a token restores it; the Luna non-extractable key
  // (T2) and the Ed25519 key SoftHSM 2.6.1 cannot unwrap (T3) are refused.
  const std::string portable = (dir_ / "portable.hsmar").string();
  ok({"backup", "luna/p1", "--portable", "--archive", portable});
  ok({"verify", portable});
  // A selector that names no archived object: an error, and --replace
  // deletes nothing.
  const int kept = count_objects("tokB");
  CliRun none = run({"restore", portable, "--to", "soft2/tokB", "--objects", "no-such-label", "--replace"});
  EXPECT_EQ(none.rc, kUsage) << none.err;
  EXPECT_NE(none.err.find("no archived object matches"), std::string::npos) << none.err;
  EXPECT_EQ(count_objects("tokB"), kept);
  // A dry run: the same verdicts, nothing on the token.
  CliRun dry = run({"--json", "restore", portable, "--to", "soft2/tokB", "--dry-run"});
  EXPECT_EQ(dry.rc, kRefused) << dry.err;
  const json dj = json::parse(dry.out.substr(0, dry.out.find("\n{\n  \"ok\"")));
  EXPECT_EQ(dj["counts"]["created"], 4) << dry.out;
  EXPECT_EQ(count_objects("tokB"), kept);
  CliRun r = run({"--json", "restore", portable, "--to", "soft2/tokB"});
  EXPECT_EQ(r.rc, kRefused) << r.err;
  const json rj = json::parse(r.out.substr(0, r.out.find("\n{\n  \"ok\"")));
  // l-ec (2 objects), l-aes, and l-locked's public key: T2 holds back the
  // private key only; its public half travels, so the token can verify what
  // the Luna key signs.
  EXPECT_EQ(rj["counts"]["created"], 4) << r.out;
  std::map<std::string, std::string> rules;
  for (const auto& o : rj["refused"]) rules[o["label"]] = o["rule"];
  EXPECT_EQ(rules["l-locked"], "T2");
  EXPECT_EQ(rules["l-ed"], "T3");
  prove_signature("soft2/tokB", "luna/p1", "l-ec");
  prove_aes("luna/p1", "soft2/tokB", "l-aes");
  // A Luna partition restores its own portable archive too.
  ok({"device", "create", "luna2", "--kind", "luna7", "--firmware", "7.8.0"});
  ok({"partition", "create", "luna2/p1"});
  CliRun l2 = ok({"--json", "restore", portable, "--to", "luna2/p1"});
  EXPECT_EQ(l2.json()["counts"]["created"], 7);
}

TEST_F(CrossFamily, ClonesBothWaysAndBetweenTokensWithoutDuplicates) {
  ok({"key", "generate", "soft1/tokA", "--type", "ec-p256", "--label", "t-ec"});
  ok({"key", "generate", "soft1/tokA", "--type", "aes-128", "--label", "t-aes"});
  ok({"key", "generate", "soft1/tokA", "--type", "aes-256", "--label", "t-locked", "--non-extractable"});
  ok({"key", "generate", "luna/p1", "--type", "rsa-2048", "--label", "l-rsa"});
  ok({"key", "generate", "luna/p1", "--type", "aes-256", "--label", "l-locked", "--non-extractable"});

  // check: a verdict per object for every pair of families.
  CliRun c1 = run({"--json", "check", "soft1/tokA", "luna/p1", "--objects", "all"});
  EXPECT_NE(c1.out.find("\"T2\""), std::string::npos) << c1.out;
  CliRun c2 = run({"--json", "check", "luna/p1", "soft2/tokB", "--objects", "all"});
  EXPECT_NE(c2.out.find("\"T2\""), std::string::npos) << c2.out;
  EXPECT_NE(c2.out.find("KWP"), std::string::npos) << c2.out;

  // token -> Luna 7.8.0, by KWP; the non-extractable key refused (T2).
  CliRun a = run({"--json", "clone", "soft1/tokA", "luna/p1"});
  EXPECT_EQ(a.rc, kRefused) << a.err;
  const json aj = json::parse(a.out.substr(0, a.out.find("\n{\n  \"ok\"")));
  EXPECT_EQ(aj["protocol"], "KWP");
  EXPECT_EQ(aj["cloned"].size(), 3u);
  prove_signature("luna/p1", "soft1/tokA", "t-ec");
  prove_aes("soft1/tokA", "luna/p1", "t-aes");
  // Rerun: nothing doubled.
  CliRun a2 = run({"--json", "clone", "soft1/tokA", "luna/p1"});
  const json a2j = json::parse(a2.out.substr(0, a2.out.find("\n{\n  \"ok\"")));
  EXPECT_EQ(a2j["cloned"].size(), 0u);
  EXPECT_EQ(a2j["already_present"].size(), 3u);

  // Luna -> token: the Luna non-extractable key refused toward a token (T2).
  CliRun b = run({"--json", "clone", "luna/p1", "soft2/tokB", "--objects", "all"});
  EXPECT_EQ(b.rc, kRefused) << b.err;
  EXPECT_NE(b.out.find("cannot promise"), std::string::npos) << b.out;
  prove_signature("soft2/tokB", "luna/p1", "l-rsa");

  // token -> token, twice: the second run creates nothing. (tokB already
  // holds tokA's keys, which came through luna/p1, so a fresh token.)
  make_token("tokC");
  add_token("soft3", "tokC");
  const int c_before = count_objects("tokC");  // hsm-migrate's own objects
  CliRun t1 = run({"--json", "clone", "soft1/tokA", "soft3/tokC"});
  EXPECT_EQ(t1.rc, kRefused) << t1.err;  // t-locked (T2)
  const json t1j = json::parse(t1.out.substr(0, t1.out.find("\n{\n  \"ok\"")));
  EXPECT_EQ(t1j["cloned"].size(), 3u) << t1.out;
  CliRun t2 = run({"--json", "clone", "soft1/tokA", "soft3/tokC"});
  const json t2j = json::parse(t2.out.substr(0, t2.out.find("\n{\n  \"ok\"")));
  EXPECT_EQ(t2j["cloned"].size(), 0u);
  EXPECT_EQ(t2j["already_present"].size(), 3u);
  EXPECT_EQ(count_objects("tokC"), c_before + 3);
  // Through luna/p1, tokB got tokA's keys too: still once each.
  CliRun t3 = run({"--json", "clone", "soft1/tokA", "soft2/tokB"});
  const json t3j = json::parse(t3.out.substr(0, t3.out.find("\n{\n  \"ok\"")));
  EXPECT_EQ(t3j["cloned"].size(), 0u);
  EXPECT_EQ(t3j["already_present"].size(), 3u);
  prove_signature("soft3/tokC", "soft1/tokA", "t-ec");
  prove_signature("soft2/tokB", "soft1/tokA", "t-ec");
}

TEST_F(CrossFamily, OlderLunaFirmwareHasNoKwpWithTokens) {
  ok({"device", "create", "old", "--kind", "luna7", "--firmware", "7.7.1"});
  ok({"partition", "create", "old/p1"});
  ok({"key", "generate", "old/p1", "--type", "aes-256"});
  refused({"clone", "old/p1", "soft2/tokB"}, "P6");
}

}  // namespace
}  // namespace hsm::e2e
