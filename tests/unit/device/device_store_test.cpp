// The emulated device through the plugin interface, in-process.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "plugins/luna/device/luna_backend.hpp"
#include "plugins/luna/device/luna_partition.hpp"

namespace hsm::luna {
namespace {

namespace fs = std::filesystem;

class DeviceStore : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() / ("hsm-device-test-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_ / "devices");
  }
  void TearDown() override { fs::remove_all(home_); }

  std::unique_ptr<api::Device> create(const std::string& name, api::DeviceKind kind, api::Version fw) {
    fs::create_directory(home_ / "devices" / name);
    api::DeviceCreateRequest req{name, fw, false, home_ / "factory"};
    auto d = backend_for(kind).create_device(home_ / "devices" / name, req);
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    return std::move(d).value();
  }
  std::unique_ptr<api::Partition> partition(api::Device& dev, const std::string& name) {
    api::PartitionCreateRequest r;
    r.name = name;
    r.domain.secret = api::secret_from("test-domain");
    r.pin = api::secret_from("partition-pin");
    auto p = dev.create_partition(r);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    EXPECT_TRUE(p.value()->login(r.pin).ok());
    return std::move(p).value();
  }

  fs::path home_;
};

TEST_F(DeviceStore, StateSurvivesReopen) {
  {
    auto dev = create("hsm-a", api::DeviceKind::luna7, {7, 7, 1});
    auto p = partition(*dev, "p1");
    ASSERT_TRUE(p->set_policy(42, 1).ok());
    api::KeyGenRequest req;
    req.type = "aes-256";
    req.count = 5;
    ASSERT_TRUE(p->generate_keys(req).ok());
    ASSERT_TRUE(dev->set_clock_skew(240).ok());
  }
  auto dev = backend_for(api::DeviceKind::luna7).open_device(home_ / "devices" / "hsm-a");
  ASSERT_TRUE(dev.ok());
  auto d = dev.value()->describe();
  EXPECT_EQ(d->firmware, (api::Version{7, 7, 1}));
  EXPECT_EQ(d->clock_offset_s, 240);
  auto p = dev.value()->open_partition("p1");
  ASSERT_TRUE(p.ok());
  auto ep = p.value()->describe();
  EXPECT_EQ(ep->partition.object_count, 5u);
  EXPECT_EQ(ep->partition.policies.at(42), 1);
}

TEST_F(DeviceStore, FilesAre0600) {
  create("hsm-a", api::DeviceKind::luna6, {6, 10, 9});
  for (const char* f : {"state.db", "hardware.key"}) {
    auto perms = fs::status(home_ / "devices" / "hsm-a" / f).permissions();
    EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none) << f;
  }
}

TEST_F(DeviceStore, KeyMaterialNeverInClearInTheDatabase) {
  auto dev = create("hsm-a", api::DeviceKind::luna6, {6, 10, 9});
  auto p = partition(*dev, "p1");
  api::KeyGenRequest req;
  req.type = "aes-256";
  auto created = p->generate_keys(req);
  ASSERT_TRUE(created.ok());
  auto& lp = static_cast<LunaPartition&>(*p);
  auto obj = lp.load(created->created.front().handle);
  ASSERT_TRUE(obj.ok());
  const std::string key(obj->material.secret.begin(), obj->material.secret.end());
  ASSERT_EQ(key.size(), 32u);
  p.reset();
  dev.reset();
  for (const auto& e : fs::directory_iterator(home_ / "devices" / "hsm-a")) {
    if (e.path().filename() == "hardware.key") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(key), std::string::npos) << "AES key bytes found in " << e.path();
  }
}

TEST_F(DeviceStore, TamperedSealedMaterialIsAnIntegrityError) {
  auto dev = create("hsm-a", api::DeviceKind::luna7, {7, 8, 0});
  auto p = partition(*dev, "p1");
  api::KeyGenRequest req;
  req.type = "aes-128";
  req.count = 2;
  ASSERT_TRUE(p->generate_keys(req).ok());
  auto& lp = static_cast<LunaPartition&>(*p);
  // Swap the sealed material of two objects: the binding must catch it.
  ASSERT_TRUE(lp.core().db->exec(
      "UPDATE object SET material_sealed = (SELECT material_sealed FROM object WHERE handle = 2) "
      "WHERE handle = 1").ok());
  auto r = lp.load(1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, api::ErrorKind::integrity);
}

TEST_F(DeviceStore, KeysAreRealAndUsable) {
  auto dev = create("hsm-a", api::DeviceKind::luna7, {7, 8, 0});
  auto p = partition(*dev, "p1");
  for (const char* type : {"rsa-2048", "ec-p256", "ec-p384", "ec-p521", "ed25519"}) {
    api::KeyGenRequest req;
    req.type = type;
    auto keys = p->generate_keys(req);
    ASSERT_TRUE(keys.ok()) << type;
    ASSERT_EQ(keys->created.size(), 2u);
    api::Bytes msg{1, 2, 3, 4};
    auto sig = p->sign(keys->created.at(0).handle, msg);
    ASSERT_TRUE(sig.ok()) << type;
    EXPECT_TRUE(p->verify(keys->created.at(1).handle, msg, *sig).value()) << type;
    msg[0] ^= 1;
    EXPECT_FALSE(p->verify(keys->created.at(1).handle, msg, *sig).value()) << type;
  }
  for (const char* type : {"aes-128", "aes-192", "aes-256", "des3"}) {
    api::KeyGenRequest req;
    req.type = type;
    auto keys = p->generate_keys(req);
    ASSERT_TRUE(keys.ok()) << type;
    api::Bytes pt{'h', 'e', 'l', 'l', 'o'};
    auto ct = p->encrypt(keys->created.front().handle, pt);
    ASSERT_TRUE(ct.ok()) << type;
    EXPECT_NE(*ct, pt);
    EXPECT_EQ(p->decrypt(keys->created.front().handle, *ct).value(), pt) << type;
  }
}

TEST_F(DeviceStore, MutationsNeedLogin) {
  auto dev = create("hsm-a", api::DeviceKind::luna7, {7, 8, 0});
  partition(*dev, "p1");
  auto p = dev->open_partition("p1");
  api::KeyGenRequest req;
  req.type = "aes-256";
  EXPECT_EQ(p.value()->generate_keys(req).error().kind, api::ErrorKind::usage);
  EXPECT_FALSE(p.value()->login(api::secret_from("wrong-pin")).ok());
  EXPECT_TRUE(p.value()->login(api::secret_from("partition-pin")).ok());
  EXPECT_TRUE(p.value()->generate_keys(req).ok());
}

TEST_F(DeviceStore, UpgradeTo771AddsPolicy42Off) {  // rule P5
  auto dev = create("hsm-a", api::DeviceKind::luna7, {7, 4, 0});
  partition(*dev, "p1");
  ASSERT_TRUE(dev->upgrade({7, 7, 1}).ok());
  auto ep = dev->open_partition("p1").value()->describe();
  EXPECT_EQ(ep->partition.policies.at(42), 0);
  EXPECT_FALSE(ep->partition.policies.contains(44));
  ASSERT_TRUE(dev->upgrade({7, 8, 0}).ok());
  ep = dev->open_partition("p1").value()->describe();
  EXPECT_EQ(ep->partition.policies.at(44), 0);  // rule D1
  EXPECT_EQ(ep->partition.suites_enabled.size(), 2u);  // rule U2
}

TEST_F(DeviceStore, DomainsAddLabelDelete) {  // rules D1-D4
  auto dev = create("hsm-a", api::DeviceKind::luna7, {7, 8, 0});
  auto p = partition(*dev, "p1");
  ASSERT_TRUE(p->set_policy(44, 1).ok());
  api::DomainSecret ped{api::DomainKind::ped, "ped", api::SecretBytes(32, 7)};
  ASSERT_TRUE(p->domain_add(ped, true).ok());
  auto ep = p->describe();
  ASSERT_EQ(ep->partition.domains.size(), 2u);
  EXPECT_FALSE(ep->partition.domains[0].primary);
  EXPECT_TRUE(ep->partition.domains[1].primary);
  // The same text domain gives the same fingerprint on another device.
  auto dev2 = create("hsm-b", api::DeviceKind::luna6, {6, 10, 9});
  auto p2 = partition(*dev2, "p1");
  EXPECT_EQ(p2->describe()->partition.domains[0].fingerprint, ep->partition.domains[0].fingerprint);
  ASSERT_TRUE(p->domain_label("", "original", true).ok());
  ASSERT_TRUE(p->domain_delete("ped").ok());
  ep = p->describe();
  ASSERT_EQ(ep->partition.domains.size(), 1u);
  EXPECT_TRUE(ep->partition.domains[0].primary);
  EXPECT_EQ(ep->partition.domains[0].label, "original");
}

TEST_F(DeviceStore, EnableFmReplacesHok) {  // rule S2
  auto dev = create("hsm-a", api::DeviceKind::luna7, {7, 8, 0});
  auto& core_dir = home_;
  (void)core_dir;
  auto no_policy = dev->enable_fm();  // rule X9: HSM policy 50 first
  ASSERT_FALSE(no_policy.ok());
  EXPECT_EQ(no_policy.error().rule, "X9");
  ASSERT_TRUE(dev->set_hsm_policy(api::policy::hsm_allow_fm, 1).ok());
  ASSERT_TRUE(dev->enable_fm().ok());
  EXPECT_EQ(dev->describe()->fm, api::FmState::enabled);
  auto again = dev->enable_fm();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().rule, "S2");
}

TEST_F(DeviceStore, ClockSyncNeedsPolicy57) {  // rule U3
  auto dev = create("hsm-a", api::DeviceKind::luna7, {7, 8, 0});
  ASSERT_TRUE(dev->set_clock_skew(400).ok());
  auto s = dev->sync_clock();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().rule, "U3");
  ASSERT_TRUE(dev->set_hsm_policy(57, 1).ok());
  ASSERT_TRUE(dev->sync_clock().ok());
  EXPECT_EQ(dev->describe()->clock_offset_s, 0);
}

}  // namespace
}  // namespace hsm::luna
