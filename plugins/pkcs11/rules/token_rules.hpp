// Rules T1-T5 (../shared/spec/luna-rules.md section 11) as pure functions of
// descriptions: their one home. The emulated Luna's rules
// (plugins/luna/rules/clone_rules.cpp) call these whenever one side of a
// pair is a PKCS#11 token, so `check`, `clone`, `restore` and `plan check`
// judge a pair the same way whichever backend asks.
//
// T1 (a token is found by label and serial, never by slot) is not a
// judgement of descriptions: the token layer (token/module.cpp,
// Module::find_token) and the plugin's registration enforce it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "plugins/api/types.hpp"

namespace hsm::p11::rules {

bool is_token(const api::DeviceDesc& d);

// rule T4: the domain a pair with a token uses: the source's primary when
// the target holds it, else the first other domain of the source that the
// target holds. nullopt: no common domain.
std::optional<std::string> common_domain(const api::Endpoint& src, const api::Endpoint& dst);
// The T4 refusal (CKR_CERTIFICATE_INVALID, as S1), with the fix.
api::Verdict t4_refusal(const api::Endpoint& src, const api::Endpoint& dst);

// rule T2: a non-extractable key never leaves a token; a Luna non-extractable
// key is refused toward a token (which cannot promise to keep it so); a
// token key with CKA_WRAP_WITH_TRUSTED=true leaves only under a key its
// security officer trusted, never under an archive key.
std::optional<api::Verdict> check_t2(const api::Endpoint& src, const api::Endpoint& dst,
                                     const api::ObjectDesc& obj, api::Protocol protocol);
// rule T3: a key kind the source token cannot wrap (src.partition.transport,
// when described) or the target token cannot unwrap (dst.partition.transport).
std::optional<api::Verdict> check_t3(const api::Endpoint& src, const api::Endpoint& dst,
                                     const api::ObjectDesc& obj, api::Protocol protocol);
// rule T5 toward a token: attributes a token cannot take (the Luna vendor
// attributes, CKA_TRUSTED=true, objects that are no keys), named.
std::optional<api::Verdict> check_t5_token_target(const api::Endpoint& src, const api::Endpoint& dst,
                                                  const api::ObjectDesc& obj, api::Protocol protocol);
// rule T5 toward an emulated Luna: a token key whose CKA_ALWAYS_AUTHENTICATE
// or CKA_TRUSTED is true (the model cannot keep them) is refused; the
// attributes it does not keep (usage flags that differ from the model's
// class uses) are named in a warning, never dropped silently.
std::optional<api::Verdict> check_t5_luna_target(const api::Endpoint& src, const api::Endpoint& dst,
                                                 const api::ObjectDesc& obj, api::Protocol protocol);
std::vector<std::string> t5_not_kept_by_luna(const api::ObjectDesc& obj);

// Whether `caps` (a token's transport) holds the kind of obj.
bool can_move(const std::vector<api::KeyCapability>& caps, const api::ObjectDesc& obj);
// "aes 128-256, rsa 1024-4096, ec P-256/P-384/P-521": for messages.
std::string describe(const std::vector<api::KeyCapability>& caps);

// A token's object into an archive (portable form): T5 (keys only), T2 and
// T3 on the source side; judged from the object's attributes before the
// token is asked to wrap anything.
std::optional<api::Verdict> check_backup(const api::Endpoint& src, const api::ObjectDesc& obj);

// Two tokens: T4, then the KWP transport (no other rule applies between
// tokens: they have no policies, FM classes or cloning protocols).
api::Verdict evaluate_pair(const api::Endpoint& src, const api::Endpoint& dst);
// One object between two tokens: T2, T3, T5.
api::Verdict evaluate_object(const api::Endpoint& src, const api::Endpoint& dst, const api::ObjectDesc& obj);

}  // namespace hsm::p11::rules
