// Sessions and login: a wrong PIN is CKR_PIN_INCORRECT, which the caller can
// tell from any other failure.
#include <gtest/gtest.h>

#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/session.hpp"
#include "tests/unit/pkcs11/softhsm_fixture.hpp"

namespace hsm::p11::test {
namespace {

using SessionTest = SoftHsmTest;

TEST_F(SessionTest, WrongPinIsPinIncorrect) {
  make_token("pin");
  auto s = Session::open(token("pin"));
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto st = s->login(api::secret_from("not-the-pin"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, "CKR_PIN_INCORRECT");
  EXPECT_TRUE(has_ckr(st.error(), CKR_PIN_INCORRECT));
  EXPECT_EQ(st.error().kind, api::ErrorKind::usage);
  EXPECT_NE(st.error().message.find("C_Login (token 'pin' (serial "), std::string::npos)
      << st.error().message;
  EXPECT_NE(st.error().message.find("CKR_PIN_INCORRECT (0xA0)"), std::string::npos)
      << st.error().message;
  EXPECT_EQ(st.error().message.find("not-the-pin"), std::string::npos)
      << "a PIN never appears in a message";
  // The right PIN still works afterwards.
  P11_ASSERT_OK(s->login(user_pin()));
}

TEST_F(SessionTest, LoginIsSharedBySessionsOfOneToken) {
  make_token("shared");
  auto a = Session::open(token("shared"));
  auto b = Session::open(token("shared"));
  ASSERT_TRUE(a.ok() && b.ok());
  P11_ASSERT_OK(a->login(user_pin()));
  // PKCS#11: login is per application and token; a second login is no error.
  P11_ASSERT_OK(b->login(user_pin()));
  auto r = b->random(12);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->size(), 12u);
}

TEST_F(SessionTest, SessionsMoveWithoutClosingTwice) {
  make_token("move");
  auto s = Session::open(token("move"));
  ASSERT_TRUE(s.ok());
  Session moved = std::move(s).value();
  P11_ASSERT_OK(moved.login(user_pin()));
  Session other = user_session("move");
  other = std::move(moved);
  auto r = other.random(4);
  EXPECT_TRUE(r.ok()) << r.error().message;
}

}  // namespace
}  // namespace hsm::p11::test
