// Issue 12, "Done when", against SoftHSM2: register -> list -> back up a token
// holding AES-128/256, RSA-2048 and EC P-256 (extractable) and
// non-extractable keys (T2/S4 refusals named, the others archived) ->
// verify -> restore into a second token of the same domain -> pkcs11-tool
// signs with the restored EC and RSA keys and OpenSSL verifies against the
// original public keys; AES round-trips. A restore into a token without the
// domain writes nothing. Wrong PIN, missing module, a file that is no
// PKCS#11 module, an unknown label: one line each, documented exit codes.
#include "tests/unit/e2e_pkcs11/pkcs11_harness.hpp"

namespace hsm::e2e {
namespace {

using nlohmann::json;

struct Keys {
  std::string rsa_id, ec_id;
};

// Keys on soft1/srcA: 4 extractable kinds and 2 non-extractable ones.
Keys populate(Pkcs11Cli& t, const std::string& part) {
  Keys k;
  auto id_of = [](const CliRun& r, const std::string& cls) {
    const json doc = r.json();  // (a range-for over r.json()["created"] would outlive the temporary)
    for (const auto& o : doc["created"])
      if (o["class"] == cls) return o["id"].get<std::string>();
    return std::string();
  };
  t.ok({"key", "generate", part, "--type", "aes-128", "--label", "aes128"});
  t.ok({"key", "generate", part, "--type", "aes-256", "--label", "aes256"});
  k.rsa_id = id_of(t.ok({"--json", "key", "generate", part, "--type", "rsa-2048", "--label", "rsa"}), "private-key");
  k.ec_id = id_of(t.ok({"--json", "key", "generate", part, "--type", "ec-p256", "--label", "ec"}), "private-key");
  t.ok({"key", "generate", part, "--type", "aes-256", "--label", "locked-aes", "--non-extractable"});
  t.ok({"key", "generate", part, "--type", "ec-p256", "--label", "locked-ec", "--non-extractable"});
  return k;
}

TEST_F(Pkcs11Cli, RegisterListBackupVerifyRestoreAndProveWithRealClients) {
  make_token("srcA");
  make_token("dstB");
  // T1: registered by label (and its serial), never by slot.
  CliRun reg = ok({"--json", "device", "add", "soft1", "--kind", "pkcs11", "--module", kSoftHsm, "--token", "srcA"});
  const json dev = reg.json()["registered"];
  EXPECT_EQ(dev["kind"], "pkcs11");
  EXPECT_EQ(dev["partitions"], json::array({"srcA"}));
  EXPECT_EQ(dev["attributes"]["manufacturer"], "SoftHSM project");
  EXPECT_FALSE(dev["attributes"]["serial"].get<std::string>().empty());
  const std::string registration = slurp(dir_ / "fleet" / "devices" / "soft1" / "token.json");
  EXPECT_EQ(registration.find(env_["HSM_MIGRATE_PIN"]), std::string::npos) << "never a PIN";
  EXPECT_NE(registration.find("\"serial\""), std::string::npos);
  ok({"partition", "domain", "add", "soft1/srcA", "--label", "e2e"});
  add_token("soft2", "dstB");

  // device show / partition show: what the module says.
  CliRun show = ok({"--json", "device", "show", "soft1"});
  EXPECT_TRUE(show.json()["attributes"].contains("mechanism CKM_AES_KEY_WRAP_PAD")) << show.out;
  CliRun pshow = ok({"--json", "partition", "show", "soft1/srcA"});
  EXPECT_EQ(pshow.json()["partition"]["domains"].size(), 1u);
  bool ed25519 = false;
  const json pdoc = pshow.json();
  for (const auto& c : pdoc["partition"]["transport"]) ed25519 |= c["type"] == "ed25519";
  EXPECT_FALSE(ed25519) << "T3: SoftHSM 2.6.1 cannot move Ed25519, found by trying";

  const Keys keys = populate(*this, "soft1/srcA");
  // object list: the real attributes; hsm-migrate's own objects are not listed.
  CliRun list = ok({"--json", "object", "list", "soft1/srcA"});
  const json objects = list.json()["objects"];
  EXPECT_EQ(list.json()["count"], 9);  // 3 secret, 2 pairs, 1 secret locked, 1 pair locked
  for (const auto& o : objects) {
    EXPECT_NE(o["label"].get<std::string>().rfind("hsm-migrate:", 0), 0u);
    if (o["label"] == "locked-aes") {
      EXPECT_FALSE(o["extractable"].get<bool>());
    }
    if (o["label"] == "aes128") {
      EXPECT_EQ(o["bits"], 128);
    }
  }

  const std::string archive = (dir_ / "srcA.hsmar").string();
  // T2: the non-extractable keys are refused up front and named; the others archived.
  CliRun b = run({"--json", "backup", "soft1/srcA", "--archive", archive});
  EXPECT_EQ(b.rc, kRefused) << b.err;
  ASSERT_TRUE(fs::exists(archive)) << b.err;
  const json bj = json::parse(b.out.substr(0, b.out.find("\n{\n  \"ok\"")));
  EXPECT_EQ(bj["objects"], 7);
  ASSERT_EQ(bj["refused"].size(), 2u);
  for (const auto& r : bj["refused"]) {
    EXPECT_EQ(r["rule"], "T2");
    EXPECT_EQ(r["code"], "CKR_KEY_UNEXTRACTABLE");
    EXPECT_TRUE(r["label"] == "locked-aes" || r["label"] == "locked-ec") << r;
  }
  CliRun text = run({"backup", "soft1/srcA", "--archive", archive, "--force"});
  EXPECT_EQ(text.rc, kRefused);
  EXPECT_NE(text.err.find("rule T2 (CKR_KEY_UNEXTRACTABLE)"), std::string::npos) << text.err;
  EXPECT_EQ(std::count(text.err.begin(), text.err.end(), '\n'), 1) << text.err;

  CliRun v = ok({"--json", "verify", archive});
  EXPECT_TRUE(v.json()["authenticated"].get<bool>());
  EXPECT_TRUE(v.json()["hok_subject"].get<std::string>().ends_with("CN=soft1 HOK")) << v.out;
  EXPECT_EQ(v.json()["header"]["device_kind"], "pkcs11");
  ok({"verify", archive, "--deep", "--with", "soft2/dstB"});

  CliRun r = ok({"--json", "restore", archive, "--to", "soft2/dstB"});
  EXPECT_EQ(r.json()["counts"]["created"], 7);
  EXPECT_TRUE(r.json()["mac_verified"].get<bool>());
  // Rerun: nothing doubled (content fingerprints computed on the token).
  CliRun again = ok({"--json", "restore", archive, "--to", "soft2/dstB"});
  EXPECT_EQ(again.json()["counts"]["created"], 0);
  EXPECT_EQ(again.json()["counts"]["already_present"], 7);

  // A real client: pkcs11-tool signs on dstB with the restored keys; OpenSSL
  // verifies with the ORIGINAL public keys read from srcA.
  write(dir_ / "data", "proof of the restored key\n");
  ASSERT_EQ(exec({"openssl", "dgst", "-sha256", "-binary", "-out", (dir_ / "data.sha256").string(),
                  (dir_ / "data").string()}).rc, 0);
  for (const auto& [id, kind] : {std::pair{keys.ec_id, "ec"}, std::pair{keys.rsa_id, "rsa"}}) {
    const std::string pub = (dir_ / (std::string(kind) + ".pub.der")).string(), sig = (dir_ / (std::string(kind) + ".sig")).string();
    CliRun rd = pkcs11_tool("srcA", {"--read-object", "--type", "pubkey", "--id", id, "-o", pub}, false);
    ASSERT_EQ(rd.rc, 0) << rd.err;
    CliRun sg = std::string(kind) == "ec"
                    ? pkcs11_tool("dstB", {"--sign", "--mechanism", "ECDSA", "--id", id, "--signature-format", "openssl",
                                           "-i", (dir_ / "data.sha256").string(), "-o", sig})
                    : pkcs11_tool("dstB", {"--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", id, "-i",
                                           (dir_ / "data").string(), "-o", sig});
    ASSERT_EQ(sg.rc, 0) << sg.err;
    CliRun vf = std::string(kind) == "ec"
                    ? exec({"openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub, "-in",
                            (dir_ / "data.sha256").string(), "-sigfile", sig})
                    : exec({"openssl", "dgst", "-sha256", "-keyform", "DER", "-verify", pub, "-signature", sig,
                            (dir_ / "data").string()});
    EXPECT_EQ(vf.rc, 0) << kind << ": " << vf.out << vf.err;
    EXPECT_NE(vf.out.find("Verified"), std::string::npos) << kind << ": " << vf.out;
  }
  // AES round trip: encrypted on the source token, decrypted on the target.
  ok({"key", "encrypt", "soft1/srcA", "--object", "aes256", "--in", (dir_ / "data").string(), "--out",
      (dir_ / "ct").string()});
  ok({"key", "decrypt", "soft2/dstB", "--object", "aes256", "--in", (dir_ / "ct").string(), "--out",
      (dir_ / "pt").string()});
  EXPECT_EQ(slurp(dir_ / "pt"), slurp(dir_ / "data"));
  // And the other way, with the AES-128 key.
  ok({"key", "encrypt", "soft2/dstB", "--object", "aes128", "--in", (dir_ / "data").string(), "--out",
      (dir_ / "ct2").string()});
  ok({"key", "decrypt", "soft1/srcA", "--object", "aes128", "--in", (dir_ / "ct2").string(), "--out",
      (dir_ / "pt2").string()});
  EXPECT_EQ(slurp(dir_ / "pt2"), slurp(dir_ / "data"));

  // A drill on the second token restores as session objects: nothing stays.
  const int before = count_objects("dstB");
  CliRun d = ok({"--json", "drill", archive, "--scratch", "soft2/dstB"});
  EXPECT_EQ(d.json()["counts"]["passed"], 7);
  EXPECT_EQ(count_objects("dstB"), before);
}

TEST_F(Pkcs11Cli, RestoreIntoATokenWithoutTheDomainWritesNothing) {
  make_token("srcA");
  make_token("other");
  add_token("soft1", "srcA");
  add_token("soft3", "other", false);
  ok({"key", "generate", "soft1/srcA", "--type", "aes-256", "--label", "k", "--count", "3"});
  const std::string archive = (dir_ / "a.hsmar").string();
  ok({"backup", "soft1/srcA", "--archive", archive});
  const int before = count_objects("other");
  CliRun r = run({"restore", archive, "--to", "soft3/other"});
  EXPECT_EQ(r.rc, kIntegrity) << r.err;  // as for S1: the archive does not open here
  EXPECT_NE(r.err.find("rule T4 (CKR_CERTIFICATE_INVALID)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was written"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(count_objects("other"), before);
  // Another domain on it: still not the archive's.
  env_["HSM_MIGRATE_DOMAIN"] = "another-domain";
  ok({"partition", "domain", "add", "soft3/other", "--label", "x"});
  const int with_kek = count_objects("other");
  EXPECT_EQ(run({"restore", archive, "--to", "soft3/other"}).rc, kIntegrity);
  EXPECT_EQ(count_objects("other"), with_kek);
}

// Two token objects holding one key value are one key to a restore: into an
// empty token (judged by their wraps under the archive's W) and into a token
// holding other keys (judged by content fingerprint) alike, one is created.
TEST_F(Pkcs11Cli, ARestoreCreatesTwinKeysOfOneArchiveOnce) {
  make_token("srcA");
  make_token("empty");
  make_token("busy");
  add_token("soft1", "srcA");
  add_token("soft2", "empty");
  add_token("soft3", "busy");
  std::string value(32, '\0');
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(0x5a ^ (i * 7));
  write(dir_ / "twin.key", value);
  for (const char* label : {"twin-a", "twin-b"}) {
    CliRun w = pkcs11_tool("srcA", {"--write-object", (dir_ / "twin.key").string(), "--type", "secrkey", "--key-type",
                                    "AES:32", "--label", label, "--extractable", "--usage-decrypt"});
    ASSERT_EQ(w.rc, 0) << w.err;
  }
  ok({"key", "generate", "soft1/srcA", "--type", "aes-256", "--label", "other"});
  ok({"key", "generate", "soft3/busy", "--type", "aes-128", "--label", "resident"});
  const std::string archive = (dir_ / "twins.hsmar").string();
  ok({"backup", "soft1/srcA", "--archive", archive});

  for (const char* target : {"soft2/empty", "soft3/busy"}) {
    CliRun r = ok({"--json", "restore", archive, "--to", target});
    const json doc = r.json();
    EXPECT_EQ(doc["counts"]["created"], 2) << target << r.out;
    EXPECT_EQ(doc["counts"]["already_present"], 1) << target << r.out;
    ASSERT_EQ(doc["already_present"].size(), 1u) << target;
    const std::string twin = doc["already_present"][0]["label"];
    EXPECT_TRUE(twin == "twin-a" || twin == "twin-b") << twin;
    // A rerun doubles nothing.
    CliRun again = ok({"--json", "restore", archive, "--to", target});
    EXPECT_EQ(again.json()["counts"]["created"], 0) << target;
    EXPECT_EQ(again.json()["counts"]["already_present"], 3) << target;
  }
  EXPECT_EQ(ok({"--json", "object", "list", "soft2/empty"}).json()["count"], 2);
  EXPECT_EQ(ok({"--json", "object", "list", "soft3/busy"}).json()["count"], 3);
}

TEST_F(Pkcs11Cli, BadInputGivesOneClearLineAndItsExitCode) {
  make_token("srcA");
  // A module that does not exist: usage (2).
  CliRun missing = run({"device", "add", "x", "--kind", "pkcs11", "--module", "/nonexistent/libp11.so", "--token", "srcA"});
  EXPECT_EQ(missing.rc, kUsage);
  EXPECT_NE(missing.err.find("PKCS#11 module /nonexistent/libp11.so not found"), std::string::npos) << missing.err;
  // A file that is not a PKCS#11 module: usage (2).
  write(dir_ / "not-a-module.so", "this is text\n");
  CliRun text = run({"device", "add", "x", "--kind", "pkcs11", "--module", (dir_ / "not-a-module.so").string(),
                     "--token", "srcA"});
  EXPECT_EQ(text.rc, kUsage);
  EXPECT_NE(text.err.find("is not a PKCS#11 module"), std::string::npos) << text.err;
  CliRun lib = run({"device", "add", "x", "--kind", "pkcs11", "--module", "/lib/x86_64-linux-gnu/libz.so.1",
                    "--token", "srcA"});
  EXPECT_EQ(lib.rc, kUsage);
  EXPECT_NE(lib.err.find("no C_GetFunctionList"), std::string::npos) << lib.err;
  // A label that does not exist: usage (2), the labels there are listed.
  CliRun label = run({"device", "add", "x", "--kind", "pkcs11", "--module", kSoftHsm, "--token", "nope"});
  EXPECT_EQ(label.rc, kUsage);
  EXPECT_NE(label.err.find("no token labelled 'nope'"), std::string::npos) << label.err;
  EXPECT_NE(label.err.find("'srcA'"), std::string::npos) << label.err;
  // A wrong PIN: auth (6), CKR_PIN_INCORRECT, at registration and later.
  env_["HSM_MIGRATE_PIN"] = "wrong-pin";
  CliRun pin = run({"device", "add", "x", "--kind", "pkcs11", "--module", kSoftHsm, "--token", "srcA"});
  EXPECT_EQ(pin.rc, kAuth) << pin.err;
  EXPECT_NE(pin.err.find("CKR_PIN_INCORRECT"), std::string::npos) << pin.err;
  EXPECT_FALSE(fs::exists(dir_ / "fleet" / "devices" / "x")) << "nothing half-registered";
  env_["HSM_MIGRATE_PIN"] = env_["PKCS11_PIN"];
  add_token("soft1", "srcA");
  env_["HSM_MIGRATE_PIN"] = "wrong-pin";
  CliRun later = run({"object", "list", "soft1/srcA"});
  EXPECT_EQ(later.rc, kAuth) << later.err;
  for (const CliRun* r : {&missing, &text, &lib, &label, &pin, &later})
    EXPECT_EQ(std::count(r->err.begin(), r->err.end(), '\n'), 1) << r->err;
}

// The module's environment is registered with the device: later commands
// need no SOFTHSM2_CONF of their own.
TEST_F(Pkcs11Cli, ModuleEnvironmentIsRegisteredNotThePin) {
  make_token("srcA");
  ok({"device", "add", "soft1", "--kind", "pkcs11", "--module", kSoftHsm, "--token", "srcA", "--module-env",
      "SOFTHSM2_CONF=" + conf_.string()});
  env_["SOFTHSM2_CONF"] = "";  // unset for the commands below
  ok({"partition", "domain", "add", "soft1/srcA", "--label", "e2e"});
  ok({"key", "generate", "soft1/srcA", "--type", "aes-256"});
  CliRun l = ok({"--json", "object", "list", "soft1/srcA"});
  EXPECT_EQ(l.json()["count"], 1);
  // A token the fleet cannot reach any more is still listed, said so.
  fs::rename(tokens_, tokens_.string() + ".gone");
  CliRun dl = ok({"--json", "device", "list"});
  EXPECT_NE(dl.out.find("unreachable"), std::string::npos) << dl.out;
  fs::rename(tokens_.string() + ".gone", tokens_);
}

}  // namespace
}  // namespace hsm::e2e
