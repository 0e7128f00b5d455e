// The emulated Luna's rules when the peer of a pair is a PKCS#11 token
// (issue 12): which Luna partitions speak the cross-family transport (KWP),
// and how an object moving by KWP is judged. The T rules themselves live in
// plugins/pkcs11/rules/token_rules.hpp (their one home); these functions
// decide when they apply and keep the Luna rules (X1, U4, S2, S6, K1-K3,
// C1) in force on the Luna side. clone_rules.cpp calls them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "plugins/api/types.hpp"

namespace hsm::luna::rules {

// One side (or both) is a PKCS#11 token: the pair moves keys by KWP.
bool token_pair(const api::Endpoint& src, const api::Endpoint& dst);

// The Luna side of a pair with a token: KWP needs firmware 7.8.0 (a cloud
// service counts) in this model; refused by P6 otherwise. Then T4 (a common
// domain). nullopt: KWP is the protocol.
std::optional<api::Verdict> kwp_transport(const api::Endpoint& src, const api::Endpoint& dst);

// One object by KWP: T5, T2, T3 (plugins/pkcs11/rules). `to_token` is set
// when the target is a token (the Luna key rules K1-K3 then do not apply:
// the token's own transport, T3, says what it takes). Warnings (T5: what
// the emulated Luna model does not keep) are added to `warnings`.
std::optional<api::Verdict> kwp_object(const api::Endpoint& src, const api::Endpoint& dst,
                                       const api::ObjectDesc& obj, std::vector<std::string>& warnings,
                                       bool& to_token);

}  // namespace hsm::luna::rules
