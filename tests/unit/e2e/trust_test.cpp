// Authenticity end to end (issue 10 §1): an archive proves where it came
// from. verify, restore, drill and prune pin the trust root (the fleet's own
// manufacturing root, HOME/trust/, --trusted-root); format 2 binds the header
// and the blob count to the domain with the archive MAC, so that a forger
// holding a chain the user trusts, but not the domain secret, can neither
// drop a blob nor edit the header. Version 1 archives still restore, with a
// note that they are less protected.
//
// The forger below rebuilds a real archive with the formats library: it
// keeps the sealed blobs and the device's MAC (it cannot make new ones) and
// re-signs with a chain of its choosing.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <functional>

#include "../formats/test_support.hpp"
#include "formats/archive_reader.hpp"
#include "formats/archive_writer.hpp"
#include "harness.hpp"

namespace hsm::e2e {
namespace {

namespace ft = hsm::formats::test;

// A signer of forged archives: its own root (or another fleet's root key),
// and a HOK certificate with the common name it chooses.
struct Forger {
  ft::Key root, hok;
  api::Bytes root_cert, hok_cert;

  // A fresh self-made root.
  Forger(std::uint8_t seed, const std::string& hok_cn)
      : root(ft::ed25519_from_seed(ft::seed_of(seed))), hok(ft::ed25519_from_seed(ft::seed_of(seed + 0x20))) {
    root_cert = ft::make_certificate(root.get(), "forged root", root.get(), nullptr, 1);
    hok_cert = ft::make_certificate(hok.get(), hok_cn, root.get(), &root_cert, 2);
  }
  // Another fleet's root, from its HOME/factory (the forger owns that fleet).
  Forger(const fs::path& factory, const std::string& hok_cn) : hok(ft::ed25519_from_seed(ft::seed_of(0x77))) {
    const std::string key = slurp(factory / "root.key");
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    root.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(key.size())));
    if (!root) throw std::runtime_error("cannot read " + (factory / "root.key").string());
    const std::string der = slurp(factory / "root.crt");
    root_cert.assign(der.begin(), der.end());
    hok_cert = ft::make_certificate(hok.get(), hok_cn, root.get(), &root_cert, 99);
  }
};

struct Forgery {
  std::function<void(formats::ArchiveHeader&)> edit_header;  // may be empty
  bool drop_last = false;
};

// Rewrites `in` to `out` under the forger's chain.
void forge(const fs::path& in, const fs::path& out, const Forger& f, const Forgery& what) {
  formats::VerifyOptions any;
  any.any_root = true;
  auto archive = formats::VerifiedArchive::open(in, any);
  if (!archive.ok()) throw std::runtime_error("forge: " + archive.error().message);
  const formats::VerifyReport& rep = (*archive)->report();
  formats::ArchiveHeader h = rep.header;
  h.certificates = {f.hok_cert, f.root_cert};
  if (what.edit_header) what.edit_header(h);
  std::vector<formats::BlobRecord> blobs;
  auto st = (*archive)->for_each_blob([&](const formats::BlobRecord& b) -> api::Status {
    blobs.push_back(b);
    return {};
  });
  if (!st.ok()) throw std::runtime_error("forge: " + st.error().message);
  if (what.drop_last) blobs.pop_back();
  EVP_PKEY* hok = f.hok.get();
  const api::Bytes old_mac = rep.archive_mac;
  auto sealer = [hok, old_mac](const api::ArchiveFinish& fin) -> api::Result<api::ArchiveSeal> {
    return api::ArchiveSeal{ft::ed25519_sign(hok, api::Bytes(fin.archive_digest.begin(), fin.archive_digest.end())),
                            old_mac};
  };
  formats::ArchiveWriterOptions opt;
  opt.identity_given = true;
  opt.check_chain = false;  // a forger may name any device in its HOK certificate
  auto w = formats::ArchiveWriter::create(out, h, sealer, opt);
  if (!w.ok()) throw std::runtime_error("forge: " + w.error().message);
  for (const auto& b : blobs)
    if (auto s = (*w)->add_blob(b.handle, b.type, b.label, b.sealed); !s.ok())
      throw std::runtime_error("forge: " + s.error().message);
  if (auto c = (*w)->commit(); !c.ok()) throw std::runtime_error("forge: " + c.error().message);
}

class Trust : public Cli {
 protected:
  // hsm-6 (Luna 6) /src with 3 AES keys and an RSA pair; hsm-7 (Luna 7
  // 7.7.0) /dst and /scratch, all in one domain; a backup of /src.
  fs::path make_fleet_and_backup() {
    ok({"device", "create", "hsm-6", "--kind", "luna6", "--firmware", "6.10.9"});
    ok({"partition", "create", "hsm-6/src"});
    ok({"key", "generate", "hsm-6/src", "--type", "aes-256", "--count", "3", "--label", "k"});
    ok({"key", "generate", "hsm-6/src", "--type", "rsa-2048", "--label", "sig"});
    ok({"device", "create", "hsm-7", "--kind", "luna7", "--firmware", "7.7.0"});
    ok({"partition", "create", "hsm-7/dst"});
    ok({"partition", "create", "hsm-7/scratch"});
    const fs::path p = dir_ / "good.hsmar";
    ok({"backup", "hsm-6/src", "--archive", p.string()});
    return p;
  }
  std::uint64_t count(const std::string& part) {
    return ok({"object", "list", part, "--json"}).json()["count"].get<std::uint64_t>();
  }
  // Another fleet (its own manufacturing root) in dir_/other, same domain.
  fs::path other_fleet_backup() {
    const std::string home = env_["HSM_MIGRATE_HOME"];
    env_["HSM_MIGRATE_HOME"] = (dir_ / "other").string();
    ok({"device", "create", "hsm-x", "--kind", "luna7", "--firmware", "7.7.0"});
    ok({"partition", "create", "hsm-x/p"});
    ok({"key", "generate", "hsm-x/p", "--type", "aes-256", "--count", "2", "--label", "x"});
    const fs::path p = dir_ / "other.hsmar";
    ok({"backup", "hsm-x/p", "--archive", p.string()});
    env_["HSM_MIGRATE_HOME"] = home;
    return p;
  }
  void expect_one_line(const CliRun& r) { EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err; }
};

TEST_F(Trust, ASelfMadeChainIsRefusedByVerifyRestoreDrillAndPrune) {
  const fs::path good = make_fleet_and_backup();
  const fs::path forged = dir_ / "forged.hsmar";
  Forger f(0x90, "hsm-6 HOK");
  forge(good, forged, f, {{}, true});  // the last blob dropped, re-signed
  const std::string fp = formats::to_hex(formats::certificate_sha256(f.root_cert));

  auto v = run({"verify", forged.string()});
  EXPECT_EQ(v.rc, kIntegrity) << v.err;
  EXPECT_NE(v.err.find(fp), std::string::npos) << "names the root's fingerprint: " << v.err;
  EXPECT_NE(v.err.find("--trusted-root"), std::string::npos) << "names the fix: " << v.err;
  expect_one_line(v);
  auto r = run({"restore", forged.string(), "--to", "hsm-7/dst"});
  EXPECT_EQ(r.rc, kIntegrity) << r.err;
  EXPECT_EQ(count("hsm-7/dst"), 0u);
  auto d = run({"drill", forged.string(), "--scratch", "hsm-7/scratch"});
  EXPECT_EQ(d.rc, kIntegrity) << d.err;
  EXPECT_NE(d.err.find(fp), std::string::npos) << d.err;

  // --any-root checks the structure but says it is not authenticated, and
  // exits 4 unless asked otherwise.
  auto a = run({"verify", forged.string(), "--any-root"});
  EXPECT_EQ(a.rc, kIntegrity) << a.err;
  EXPECT_NE(a.out.find("NOT AUTHENTICATED"), std::string::npos) << a.out;
  auto aj = run({"verify", forged.string(), "--any-root", "--accept-unauthenticated", "--json"});
  EXPECT_EQ(aj.rc, kOk) << aj.err;
  EXPECT_FALSE(aj.json()["authenticated"].get<bool>());
  EXPECT_FALSE(aj.json()["root_trusted"].get<bool>());
  EXPECT_EQ(aj.json()["blobs_checked"], 4);

  // The genuine archive: authenticated by the fleet's own root, no flag.
  auto g = ok({"verify", good.string(), "--json"}).json();
  EXPECT_TRUE(g["authenticated"].get<bool>());
  EXPECT_NE(g["trusted_as"].get<std::string>().find("manufacturing root"), std::string::npos);
}

TEST_F(Trust, AnotherFleetsArchiveNeedsItsRootTrustedByFlagOrFolder) {
  make_fleet_and_backup();
  const fs::path foreign = other_fleet_backup();
  auto r = run({"restore", foreign.string(), "--to", "hsm-7/dst"});
  EXPECT_EQ(r.rc, kIntegrity) << r.err;
  EXPECT_EQ(count("hsm-7/dst"), 0u);
  const std::string root = (dir_ / "other" / "factory" / "root.crt").string();
  auto a = ok({"restore", foreign.string(), "--to", "hsm-7/dst", "--trusted-root", root, "--json"}).json();
  EXPECT_EQ(a["counts"]["created"], 2);
  // The trust folder of the home: a PEM copy of the root there.
  fs::create_directories(dir_ / "fleet" / "trust");
  {
    const std::string der = slurp(root);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<X509, decltype(&X509_free)> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
    ASSERT_TRUE(x);
    FILE* out = std::fopen((dir_ / "fleet" / "trust" / "site-b.pem").c_str(), "w");
    ASSERT_TRUE(out);
    PEM_write_X509(out, x.get());
    std::fclose(out);
  }
  auto v = ok({"verify", foreign.string(), "--json"}).json();
  EXPECT_TRUE(v["authenticated"].get<bool>());
  EXPECT_NE(v["trusted_as"].get<std::string>().find("site-b.pem"), std::string::npos);
  // A trust file that is no certificate: one clear line, usage.
  std::ofstream(dir_ / "junk.crt") << "not a certificate";
  auto j = run({"verify", foreign.string(), "--trusted-root", (dir_ / "junk.crt").string()});
  EXPECT_EQ(j.rc, kUsage) << j.err;
  EXPECT_NE(j.err.find("junk.crt"), std::string::npos) << j.err;
  expect_one_line(j);
}

// A forger who owns a trusted root (here: another fleet's, trusted through
// HOME/trust/) still lacks the domain secret: the MAC catches a dropped blob
// and an edited header, and nothing is written.
TEST_F(Trust, ATrustedForgerCannotDropABlobOrEditTheHeader) {
  const fs::path good = make_fleet_and_backup();
  other_fleet_backup();
  fs::create_directories(dir_ / "fleet" / "trust");
  fs::copy_file(dir_ / "other" / "factory" / "root.crt", dir_ / "fleet" / "trust" / "site-b.crt");
  const Forger f(dir_ / "other" / "factory", "hsm-6 HOK");

  const fs::path dropped = dir_ / "dropped.hsmar";
  forge(good, dropped, f, {{}, true});
  // verify alone cannot tell (no domain): it checks what it can and says so.
  auto v = ok({"verify", dropped.string(), "--json"}).json();
  EXPECT_EQ(v["blobs_checked"], 4);
  EXPECT_NE(v["mac"].get<std::string>().find("--deep"), std::string::npos);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"restore", dropped.string(), "--to", "hsm-7/dst"},
        std::vector<std::string>{"drill", dropped.string(), "--scratch", "hsm-7/scratch"},
        std::vector<std::string>{"verify", dropped.string(), "--deep", "--with", "hsm-7/dst"}}) {
    auto r = run(args);
    EXPECT_EQ(r.rc, kIntegrity) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("archive MAC does not verify"), std::string::npos) << args[0] << ": " << r.err;
    expect_one_line(r);
  }
  EXPECT_EQ(count("hsm-7/dst"), 0u);
  EXPECT_EQ(count("hsm-7/scratch"), 0u);

  const fs::path edited = dir_ / "edited.hsmar";
  forge(good, edited, f, {[](formats::ArchiveHeader& h) { h.firmware = "6.10.8"; }, false});
  auto e = run({"restore", edited.string(), "--to", "hsm-7/dst"});
  EXPECT_EQ(e.rc, kIntegrity) << e.err;
  EXPECT_NE(e.err.find("archive MAC does not verify"), std::string::npos) << e.err;
  EXPECT_EQ(count("hsm-7/dst"), 0u);
  // The untouched archive restores.
  auto r = ok({"restore", good.string(), "--to", "hsm-7/dst", "--json"}).json();
  EXPECT_EQ(r["counts"]["created"], 5);
  EXPECT_TRUE(r["mac_verified"].get<bool>());
}

// Issue 10 §1: a Luna 7 7.8.0 archive refused into a Luna 6 by P5 was
// restored with exit 0 once the header said luna6 6.10.9 and was re-signed.
TEST_F(Trust, AnEditedHeaderNoLongerBypassesP5) {
  ok({"device", "create", "hsm-78", "--kind", "luna7", "--firmware", "7.8.0"});
  ok({"partition", "create", "hsm-78/src"});
  ok({"key", "generate", "hsm-78/src", "--type", "aes-256", "--count", "2", "--label", "k"});
  ok({"device", "create", "hsm-6", "--kind", "luna6", "--firmware", "6.10.9"});
  ok({"partition", "create", "hsm-6/dst"});
  const fs::path good = dir_ / "78.hsmar";
  ok({"backup", "hsm-78/src", "--archive", good.string()});
  auto refused_run = run({"restore", good.string(), "--to", "hsm-6/dst"});
  EXPECT_EQ(refused_run.rc, kRefused) << refused_run.err;

  ok({"device", "create", "hsm-y", "--kind", "luna7", "--firmware", "7.7.0"});  // (same fleet root)
  const Forger f(dir_ / "fleet" / "factory", "hsm-78 HOK");  // even the fleet's own root
  const fs::path edited = dir_ / "edited.hsmar";
  forge(good, edited, f, {[](formats::ArchiveHeader& h) {
                            h.device_kind = "luna6";
                            h.firmware = "6.10.9";
                          },
                          false});
  auto r = run({"restore", edited.string(), "--to", "hsm-6/dst"});
  EXPECT_EQ(r.rc, kIntegrity) << r.err;
  EXPECT_NE(r.err.find("archive MAC does not verify"), std::string::npos) << r.err;
  EXPECT_EQ(count("hsm-6/dst"), 0u);
}

TEST_F(Trust, TheHokCertificateMustNameTheSourceDevice) {
  const fs::path good = make_fleet_and_backup();
  const Forger f(dir_ / "fleet" / "factory", "hsm-7 HOK");  // another device of the fleet
  const fs::path other = dir_ / "claims.hsmar";
  forge(good, other, f, {});
  auto v = run({"verify", other.string()});
  EXPECT_EQ(v.rc, kIntegrity) << v.err;
  EXPECT_NE(v.err.find("names \"hsm-7 HOK\", not the source device \"hsm-6\""), std::string::npos) << v.err;
  auto r = run({"restore", other.string(), "--to", "hsm-7/dst"});
  EXPECT_EQ(r.rc, kIntegrity);
  EXPECT_EQ(count("hsm-7/dst"), 0u);
}

// Yesterday's backups must restore: a version 1 archive and its fleet, made
// by the last hsm-migrate that wrote version 1 (tests/data/archive/v1-fleet).
TEST_F(Trust, AVersionOneArchiveStillRestoresAndSaysItIsLessProtected) {
  const fs::path data = fs::path(HSM_TEST_DATA_DIR) / "archive" / "v1-fleet";
  fs::remove_all(dir_ / "fleet");
  ASSERT_EQ(std::system(("tar xzf '" + (data / "fleet.tar.gz").string() + "' -C '" + dir_.string() + "'").c_str()), 0);
  ::chmod((dir_ / "fleet").c_str(), 0700);
  const fs::path v1 = data / "v1.hsmar";
  auto v = ok({"verify", v1.string(), "--json"});
  EXPECT_TRUE(v.json()["authenticated"].get<bool>());
  EXPECT_EQ(v.json()["header"]["format_version"], 1);
  EXPECT_EQ(v.json()["header"]["scope"], "unknown");
  EXPECT_NE(v.err.find("less protected"), std::string::npos) << v.err;
  auto r = ok({"restore", v1.string(), "--to", "hsm-7/dst", "--json"});
  EXPECT_EQ(r.json()["counts"]["created"], 7);
  EXPECT_FALSE(r.json()["mac_verified"].get<bool>());
  EXPECT_NE(r.err.find("format version 1"), std::string::npos) << r.err;
  // The same keys: equal fingerprints in the order of the source.
  auto src = ok({"object", "list", "hsm-6/src", "--json"}).json()["objects"];
  auto dst = ok({"object", "list", "hsm-7/dst", "--json"}).json()["objects"];
  ASSERT_EQ(src.size(), dst.size());
  for (std::size_t i = 0; i < src.size(); ++i) EXPECT_EQ(src[i]["fingerprint"], dst[i]["fingerprint"]);
  auto d = ok({"drill", v1.string(), "--scratch", "hsm-7/dst", "--json"}).json();
  EXPECT_TRUE(d["ok"].get<bool>());
}

}  // namespace
}  // namespace hsm::e2e
