// Logins to a partition (model, as a Luna partition's PO lockout): a wrong
// PIN counts; after kMaxFailedLogins consecutive failures the partition is
// locked (CKR_PIN_LOCKED) until the HSM SO resets its PIN. A correct login
// clears the count.
#pragma once

namespace hsm::luna::rules {

inline constexpr int kMaxFailedLogins = 10;

}  // namespace hsm::luna::rules
