// Loading a PKCS#11 module and finding tokens (T1): one clear line for each
// way it can go wrong, and tokens found by label, never by slot id.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/module.hpp"
#include "plugins/pkcs11/token/names.hpp"
#include "tests/unit/pkcs11/softhsm_fixture.hpp"

namespace hsm::p11::test {
namespace {

using ModuleTest = SoftHsmTest;

TEST_F(ModuleTest, MissingModuleFileIsAUsageErrorNamingThePath) {
  auto m = Module::load(dir() / "no-such-module.so");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().kind, api::ErrorKind::usage);
  EXPECT_NE(m.error().message.find("no-such-module.so not found"), std::string::npos)
      << m.error().message;
  EXPECT_EQ(m.error().message.find('\n'), std::string::npos);
  EXPECT_FALSE(m.error().fix.empty());
}

TEST_F(ModuleTest, TextFileIsNotAModule) {
  std::ofstream(dir() / "module.so") << "not a shared library\n";
  auto m = Module::load(dir() / "module.so");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().kind, api::ErrorKind::usage);
  EXPECT_NE(m.error().message.find("is not a PKCS#11 module"), std::string::npos)
      << m.error().message;
  EXPECT_EQ(m.error().message.find('\n'), std::string::npos);
}

TEST_F(ModuleTest, ExecutableIsNotAModule) {
  auto m = Module::load("/bin/true");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().kind, api::ErrorKind::usage);
  EXPECT_NE(m.error().message.find("/bin/true is not a PKCS#11 module"), std::string::npos)
      << m.error().message;
}

TEST_F(ModuleTest, SharedLibraryWithoutGetFunctionListIsNotAModule) {
  // A real library that loads fine but is not PKCS#11.
  const fs::path libz = "/lib/x86_64-linux-gnu/libz.so.1";
  ASSERT_TRUE(fs::exists(libz));
  auto m = Module::load(libz);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().kind, api::ErrorKind::usage);
  EXPECT_NE(m.error().message.find("it has no C_GetFunctionList"), std::string::npos)
      << m.error().message;
}

TEST_F(ModuleTest, DirectoryIsNotAModule) {
  auto m = Module::load(dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().kind, api::ErrorKind::usage);
  EXPECT_NE(m.error().message.find("is not a file"), std::string::npos) << m.error().message;
}

TEST_F(ModuleTest, SoftHsmLoadsAsCryptoki2) {
  auto m = module();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->info().cryptoki.major, 2);
  EXPECT_EQ(m->info().cryptoki.minor, 40);
  EXPECT_EQ(m->info().manufacturer, "SoftHSM");
  // The same library twice is one initialisation (PKCS#11 allows one per process).
  auto again = Module::load("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value().get(), m.get());
}

TEST_F(ModuleTest, T1_UnknownLabelIsAUsageErrorListingTheTokens) {
  make_token("alpha");
  make_token("beta");
  auto t = module()->find_token("gamma");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().kind, api::ErrorKind::usage);
  EXPECT_NE(t.error().message.find("no token labelled 'gamma'"), std::string::npos)
      << t.error().message;
  EXPECT_NE(t.error().message.find("'alpha'"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("'beta'"), std::string::npos) << t.error().message;
  EXPECT_EQ(t.error().message.find('\n'), std::string::npos);
}

TEST_F(ModuleTest, T1_TokenFoundByLabelAndSerialNeverBySlot) {
  const TokenInfo a = make_token("alpha");
  ASSERT_FALSE(a.serial.empty());
  {
    auto by_both = module()->find_token("alpha", a.serial);
    ASSERT_TRUE(by_both.ok()) << by_both.error().message;
    EXPECT_EQ(by_both->info().serial, a.serial);
  }
  // The next process sees the same token in another slot: SoftHSM numbers
  // initialised tokens by their serial, so the slot id of the moment is
  // worth nothing across runs.
  reload();
  {
    auto later = module()->find_token("alpha");
    ASSERT_TRUE(later.ok()) << later.error().message;
    EXPECT_EQ(later->info().serial, a.serial);
    EXPECT_NE(later->slot(), a.slot) << "the slot id changed when the token was initialised";
  }
  // A new token under the old label (deleted and made again, as an admin
  // would): the registered serial no longer matches, and the error says so.
  reload();
  ASSERT_EQ(run({"softhsm2-util", "--delete-token", "--token", "alpha"}), 0);
  const TokenInfo b = make_token("alpha");
  ASSERT_NE(b.serial, a.serial);
  auto stale = module()->find_token("alpha", a.serial);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().kind, api::ErrorKind::usage);
  EXPECT_NE(
      stale.error().message.find("token 'alpha' has serial " + b.serial + ", not " + a.serial),
      std::string::npos)
      << stale.error().message;
  EXPECT_EQ(stale.error().message.find('\n'), std::string::npos);
}

TEST_F(ModuleTest, T1_TwoTokensWithOneLabelNeedTheSerial) {
  const TokenInfo a = make_token("twin");
  const TokenInfo b = make_token("twin");
  auto t = module()->find_token("twin");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().kind, api::ErrorKind::usage);
  EXPECT_NE(t.error().message.find("2 tokens are labelled 'twin'"), std::string::npos)
      << t.error().message;
  auto tb = module()->find_token("twin", b.serial);
  ASSERT_TRUE(tb.ok()) << tb.error().message;
  EXPECT_EQ(tb->info().serial, b.serial);
  EXPECT_NE(a.serial, b.serial);
}

TEST_F(ModuleTest, TokenInfoReportsWhatTheModuleSays) {
  make_token("info");
  auto t = module()->find_token("info");
  ASSERT_TRUE(t.ok()) << t.error().message;
  const TokenInfo& i = t->info();
  EXPECT_EQ(i.label, "info");
  EXPECT_EQ(i.manufacturer, "SoftHSM project");
  EXPECT_EQ(i.model, "SoftHSM v2");
  EXPECT_EQ(i.firmware.major, 2);
  EXPECT_EQ(i.firmware.minor, 6);
  EXPECT_EQ(i.serial.size(), 16u);
  const auto flags = token_flag_names(i.flags);
  for (const char* f :
       {"CKF_RNG", "CKF_LOGIN_REQUIRED", "CKF_USER_PIN_INITIALIZED", "CKF_TOKEN_INITIALIZED"})
    EXPECT_NE(std::find(flags.begin(), flags.end(), f), flags.end()) << f;

  // The same label and serial as an outside client sees them.
  std::string shown;
  ASSERT_EQ(run({"softhsm2-util", "--show-slots"}, &shown), 0);
  EXPECT_NE(shown.find("Label:            info"), std::string::npos) << shown;
  EXPECT_NE(shown.find(i.serial), std::string::npos) << shown;
}

TEST_F(ModuleTest, MechanismListWithKeySizeRangesAndFlags) {
  make_token("mech");
  auto t = module()->find_token("mech");
  ASSERT_TRUE(t.ok());
  auto mechs = t->mechanisms();
  ASSERT_TRUE(mechs.ok()) << mechs.error().message;
  auto find = [&](CK_MECHANISM_TYPE type) -> const MechanismInfo* {
    for (const auto& m : mechs.value())
      if (m.type == type) return &m;
    return nullptr;
  };
  const MechanismInfo* kwp = find(CKM_AES_KEY_WRAP_PAD);
  ASSERT_NE(kwp, nullptr);
  EXPECT_EQ(kwp->min_key_size, 1u);
  EXPECT_TRUE(kwp->flags & CKF_WRAP);
  EXPECT_TRUE(kwp->flags & CKF_UNWRAP);
  const MechanismInfo* rsa = find(CKM_RSA_PKCS_KEY_PAIR_GEN);
  ASSERT_NE(rsa, nullptr);
  EXPECT_EQ(rsa->min_key_size, 512u);
  EXPECT_EQ(rsa->max_key_size, 16384u);
  EXPECT_TRUE(rsa->flags & CKF_GENERATE_KEY_PAIR);
  const MechanismInfo* gcm = find(CKM_AES_GCM);
  ASSERT_NE(gcm, nullptr);
  EXPECT_EQ(gcm->min_key_size, 16u);
  EXPECT_EQ(gcm->max_key_size, 32u);
  // The list over-promises: DES3-CBC claims wrap, which C_WrapKey refuses
  // (softhsm2-facts.md 2.1): a capability is proven by trying (T3).
  const MechanismInfo* des3 = find(CKM_DES3_CBC);
  ASSERT_NE(des3, nullptr);
  EXPECT_TRUE(des3->flags & CKF_WRAP);
  EXPECT_EQ(mechanism_name(CKM_AES_KEY_WRAP_PAD), "CKM_AES_KEY_WRAP_PAD");
  EXPECT_EQ(mechanism_name(0x80001234UL), "CKM_0x80001234");
}

TEST_F(ModuleTest, InitTokenThroughTheModuleIsSeenByOutsideClients) {
  auto slot = module()->free_slot();
  ASSERT_TRUE(slot.ok()) << slot.error().message;
  P11_ASSERT_OK(module()->init_token(slot.value(), so_pin(), "fresh"));
  auto t = module()->find_token("fresh");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(t->info().initialized());
  std::string shown;
  ASSERT_EQ(run({"softhsm2-util", "--show-slots"}, &shown), 0);
  EXPECT_NE(shown.find("Label:            fresh"), std::string::npos) << shown;
  // A label a token cannot hold is refused before the call.
  auto too_long = module()->init_token(slot.value(), so_pin(), std::string(33, 'x'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().kind, api::ErrorKind::usage);
}

TEST_F(ModuleTest, EachTestSeesOnlyItsOwnTokenFolder) {
  make_token("mine");
  // Another configuration (another test, another process) sees none of it.
  reload();
  const fs::path other = dir() / "other";
  fs::create_directories(other / "tokens");
  std::ofstream(other / "softhsm2.conf")
      << "directories.tokendir = " << (other / "tokens").string() << "/\n"
      << "objectstore.backend = file\n";
  ::setenv("SOFTHSM2_CONF", (other / "softhsm2.conf").c_str(), 1);
  auto t = module()->find_token("mine");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("it has no initialised token"), std::string::npos)
      << t.error().message;
  reload();
  ::setenv("SOFTHSM2_CONF", (dir() / "softhsm2.conf").c_str(), 1);
  EXPECT_TRUE(module()->find_token("mine").ok());
}

TEST(Pkcs11Names, EveryReturnValueHasItsName) {
  EXPECT_EQ(ckr_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
  EXPECT_EQ(ckr_name(CKR_KEY_UNEXTRACTABLE), "CKR_KEY_UNEXTRACTABLE");
  EXPECT_EQ(ckr_name(CKR_TEMPLATE_INCONSISTENT), "CKR_TEMPLATE_INCONSISTENT");
  EXPECT_EQ(ckr_name(CKR_TOKEN_RESOURCE_EXCEEDED), "CKR_TOKEN_RESOURCE_EXCEEDED");
  EXPECT_EQ(ckr_name(CKR_VENDOR_DEFINED + 5), "CKR_VENDOR_0x80000005");
  EXPECT_EQ(ckr_name(0x777), "CKR_0x00000777");
  const api::Error e = ck_error(CKR_PIN_INCORRECT, "C_Login", "token 'x'");
  EXPECT_EQ(e.message, "C_Login (token 'x'): CKR_PIN_INCORRECT (0xA0)");
  EXPECT_EQ(e.code, "CKR_PIN_INCORRECT");
  EXPECT_EQ(e.kind, api::ErrorKind::usage);
  EXPECT_TRUE(has_ckr(e, CKR_PIN_INCORRECT));
  EXPECT_FALSE(token_refused(e));
  EXPECT_TRUE(token_refused(ck_error(CKR_KEY_UNEXTRACTABLE, "C_WrapKey")));
  EXPECT_EQ(ck_error(CKR_GENERAL_ERROR, "C_Decrypt", {}, CallKind::opens_sealed_data).kind,
            api::ErrorKind::integrity);
  EXPECT_EQ(ck_error(CKR_GENERAL_ERROR, "C_Sign").kind, api::ErrorKind::other);
}

}  // namespace
}  // namespace hsm::p11::test
