// Rules that govern cloning between two partitions (spec/luna-rules.md,
// sections 1-3, 5 and 6): which protocol a pair uses, whether the pair may
// clone at all, and whether one object may travel by the chosen protocol.
// Pure functions of descriptions: the emulated devices, `check`, `clone` and
// `plan check` all call these, so a verdict never differs between them.
//
// Refusals are Verdict values: allowed = false, `rule` = the rule ID, `code` =
// a PKCS#11-style CKR_ name, `message` = one line naming both partitions (and
// both sides' protocols where the protocol is the reason), `fix` when one exists.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "plugins/api/types.hpp"

namespace hsm::luna::rules {

// Protocols in preference order, best first (CPv4 > CPv3 > CPv1, rule P8).
struct ProtocolSupport {
  std::vector<api::Protocol> send;
  std::vector<api::Protocol> accept;
};

// What one endpoint can send and accept on its own, whatever the peer
// (P2, P4, P5, P6, P7, P9, U2, U6). CPv4 is listed when the endpoint is at
// 7.8.0 (or a cloud service), policy 42 is OFF, at least one suite is enabled
// and the client drives CPv4 (>= 10.5.0, >= 10.5.1 for a cloud service).
// Pair conditions (both sides 7.8.0, a common suite, the 10.5.1 client when
// the *other* side is cloud, P4's "highest protocol the sender supports") are
// applied by evaluate_pair.
ProtocolSupport protocol_support(const api::Endpoint& ep, const api::ClientDesc& client);

// The pair verdict: the chosen protocol, or the first refusal among X1, C3,
// U4, P2-P9/U2/U6 (protocol), S1, S2, S6, U3, in that order.
api::Verdict evaluate_pair(const api::Endpoint& src, const api::Endpoint& dst,
                           const api::ClientDesc& client);

// What the target can guarantee about objects it receives (rule S4, model).
struct TargetCaps {
  // Every emulated Luna target keeps CKA_EXTRACTABLE=false; a generic PKCS#11
  // token reached by wrap/unwrap, or a plaintext export, cannot.
  bool preserves_non_extractable = true;
};

// One object over an already-chosen protocol: X1 (policies 0/4 on the source),
// S3 (Backup HSM source), K1, K3, K2, S4, S5. C1 (capacity) is checked by the
// caller (evaluation.cpp). An allowed verdict carries `protocol` and sets
// `stripped` when S5 strips permissive attributes.
api::Verdict evaluate_object(const api::Endpoint& src, const api::Endpoint& dst,
                             const api::ObjectDesc& obj, api::Protocol protocol,
                             const api::ClientDesc& client, const TargetCaps& caps = {});

// rule S5: what the target does to an object whose verdict says `stripped`:
// drops the non-standard attributes left at permissive defaults.
void strip_permissive(api::ObjectDesc& obj, api::Protocol protocol);

// The pair, then the object (obj may be null): the single entry point of
// `check`, `clone` and `plan check`.
api::Verdict evaluate(const api::Endpoint& src, const api::Endpoint& dst, const api::ObjectDesc* obj,
                      const api::ClientDesc& client, const TargetCaps& caps = {});

// rule S1: the fingerprint of the domain the pair would use, or nullopt.
// Unless both sides are >= 7.8.0 (a cloud service counts) and the protocol is
// CPv4, the source's primary must equal the target's primary. Both >= 7.8.0
// with CPv4: any common domain, the source's primary first, then the source's
// other domains in order.
std::optional<std::string> common_domain(const api::Endpoint& src, const api::Endpoint& dst,
                                         api::Protocol protocol);

// rule C2: most objects per clone operation for the pair.
inline constexpr std::size_t kCloudBatchLimit = 100;
inline constexpr std::size_t kUnlimitedBatch = 1'000'000;
std::size_t max_batch(const api::Endpoint& src, const api::Endpoint& dst);

// rule U2: the first CPv4 suite (in cpv4_suites() order) enabled on both, or nullopt.
std::optional<std::string> common_suite(const api::Endpoint& src, const api::Endpoint& dst);

// Helpers shared with ha_rules.cpp.
// Firmware 7.8.0 level for protocol purposes (P6): luna7 >= 7.8.0 or a cloud service.
bool at_7_8(const api::DeviceDesc& d);
// Effective FIPS mode of an endpoint (partition flag or HSM policy 12 = 0, X2).
bool is_fips(const api::Endpoint& ep);
// "CPv1", "CPv1 or CPv3", "no protocol".
std::string protocol_list(const std::vector<api::Protocol>& ps);

}  // namespace hsm::luna::rules
