// prune of an S3 repository under Object Lock (issue 13): the rules of a
// folder's prune (damaged kept with exit 4, the newest verified never
// removed), kept archives' retention extended, the others deleted by version
// id, a locked one reported "locked until DATE" without failing the run; a
// delete the bucket refuses is one clear line.
#include <thread>

#include "s3_harness.hpp"

namespace hsm::e2e {
namespace {

class S3Prune : public S3Cli {
 protected:
  // n archives of hsm-6/src under PREFIX, one second apart (distinct times),
  // oldest first: their listing entries.
  std::vector<nlohmann::json> backups(const std::string& b, int n) {
    for (int i = 0; i < n; ++i) {
      if (i) std::this_thread::sleep_for(std::chrono::milliseconds(1100));
      ok({"backup", "hsm-6/src", "--archive", "s3://" + b + "/nightly/", "--quiet"});
    }
    auto ls = ok({"archive", "list", "s3://" + b + "/nightly", "--json"}).json();
    return std::vector<nlohmann::json>(ls["archives"].begin(), ls["archives"].end());
  }
  // Shortens a GOVERNANCE retention to `seconds` from now (the owner may,
  // with the bypass header), so the version can be deleted once it passes.
  void unlock_soon(const std::string& b, const nlohmann::json& a, int seconds) {
    repo::s3::Retention r;
    r.mode = repo::s3::LockMode::governance;
    r.retain_until = static_cast<std::int64_t>(std::time(nullptr)) + seconds;
    auto st = client_->put_retention(b, a["name"], a["version_id"], r, true);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
};

TEST_F(S3Prune, LockedArchivesAreReportedUnlockedOnesDeletedTheNewestNever) {
  make_fleet(1);
  const std::string b = init_bucket("GOVERNANCE", 1);
  auto arch = backups(b, 4);
  ASSERT_EQ(arch.size(), 4u);
  unlock_soon(b, arch[0], 2);
  unlock_soon(b, arch[1], 2);
  // A damaged archive in the same series: one byte flipped in a copy.
  const std::string good = arch[3]["name"];
  std::string bytes(arch[3]["size"].get<std::size_t>(), '\0');
  ASSERT_TRUE(client_->get_range(b, good, 0, reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size()).ok());
  bytes[bytes.size() / 2] ^= 1;
  const std::string bad_key = "nightly/hsm-6/src/damaged-copy.hsmar";
  ASSERT_TRUE(client_->put_object(b, bad_key, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));

  auto dry = run({"prune", "s3://" + b + "/nightly", "--keep-last", "1", "--dry-run", "--json"});
  EXPECT_EQ(dry.rc, kIntegrity) << dry.err;
  EXPECT_EQ(dry.json()["counts"]["removed"], 3) << "a dry run decides, deletes nothing";
  EXPECT_EQ(objects(b).size(), 5u);

  auto r = run({"prune", "s3://" + b + "/nightly", "--keep-last", "1", "--json"});
  EXPECT_EQ(r.rc, kIntegrity) << "the damaged copy is kept and reported: " << r.err;
  auto doc = r.json();
  EXPECT_EQ(doc["counts"]["kept"], 1);
  EXPECT_EQ(doc["kept"][0]["file"], good) << "the newest verified archive is never removed";
  EXPECT_EQ(doc["counts"]["removed"], 2);
  EXPECT_EQ(doc["counts"]["locked"], 1);
  EXPECT_EQ(doc["locked"][0]["file"], arch[2]["name"]);
  EXPECT_FALSE(doc["locked"][0]["until"].is_null());
  EXPECT_EQ(doc["counts"]["damaged"], 1);
  EXPECT_EQ(doc["damaged"][0]["file"], bad_key);
  std::set<std::string> left;
  for (const auto& o : objects(b)) left.insert(o.key);
  EXPECT_EQ(left, (std::set<std::string>{good, arch[2]["name"], bad_key}));
  // The kept archive's retention now runs a full period from this prune.
  ASSERT_EQ(doc["retention_extended"].size(), 1u);
  auto ret = client_->get_retention(b, good, arch[3]["version_id"]);
  ASSERT_TRUE(ret.ok()) << ret.error().message;
  EXPECT_GE(ret->retain_until, static_cast<std::int64_t>(std::time(nullptr)) + 86400 - 120);
  EXPECT_EQ(ret->mode, repo::s3::LockMode::governance);

  // In words: "locked until DATE", and the damaged one named.
  auto text = run({"prune", "s3://" + b + "/nightly", "--keep-last", "1"});
  EXPECT_EQ(text.rc, kIntegrity);
  EXPECT_NE(text.out.find("locked until 20"), std::string::npos) << text.out;
  EXPECT_NE(text.err.find("damaged-copy.hsmar"), std::string::npos) << text.err;
  expect_one_line(text);
}

TEST_F(S3Prune, ADeleteTheBucketRefusesIsOneClearLine) {
  make_fleet(1);
  const std::string b = init_bucket("GOVERNANCE", 1);
  auto arch = backups(b, 2);
  // 2 s, not 1: time() is whole seconds, so "now + 1" can already be past
  // when the request arrives (RGW: "the retain-until date must be in the future").
  unlock_soon(b, arch[0], 2);
  // The bucket's policy forbids deleting versions.
  const std::string policy = R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":["*"]},)"
                             R"("Action":["s3:DeleteObjectVersion","s3:DeleteObject"],"Resource":["arn:aws:s3:::)" +
                             b + R"(/*"]}]})";
  repo::s3::HttpRequest req;
  req.method = "PUT";
  req.operation = "PutBucketPolicy";
  req.bucket = b;
  req.query = {{"policy", ""}};
  req.body = reinterpret_cast<const std::uint8_t*>(policy.data());
  req.body_size = policy.size();
  auto put = client_->http().send(req);
  ASSERT_TRUE(put.ok() && put->ok()) << (put.ok() ? put->body : put.error().message);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto r = run({"prune", "s3://" + b + "/nightly", "--keep-last", "1"});
  EXPECT_EQ(r.rc, kUsage) << r.err;
  expect_one_line(r);
  EXPECT_NE(r.err.find("cannot delete s3://" + b + "/" + arch[0]["name"].get<std::string>()), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("policy"), std::string::npos) << "says where to look: " << r.err;
  EXPECT_EQ(objects(b).size(), 2u);
}

}  // namespace
}  // namespace hsm::e2e
