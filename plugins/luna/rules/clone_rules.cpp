#include "plugins/luna/rules/clone_rules.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <tuple>

#include "plugins/luna/rules/kind_profile.hpp"
#include "plugins/luna/rules/rule_support.hpp"
#include "plugins/luna/rules/token_peer_rules.hpp"
#include "plugins/pkcs11/rules/token_rules.hpp"

namespace hsm::luna::rules {

using api::ClientDesc;
using api::DeviceDesc;
using api::DeviceKind;
using api::Endpoint;
using api::FmState;
using api::ObjectDesc;
using api::Protocol;
using api::Verdict;
using api::Version;

namespace {

// Client versions named by the rules.
constexpr Version kClientCloudPassword{10, 2, 0};  // C3
constexpr Version kClientCloudMfa{10, 4, 1};       // C3
constexpr Version kClientCpv4{10, 5, 0};           // U6
constexpr Version kClientCpv4Cloud{10, 5, 1};      // U6 / C3

// Cloud partition policy 8 "Allow CPv1" (X10): allows CPv1 without forcing it.
constexpr int kCloudAllowCpv1 = 8;
// U3: the most two clocks may differ for CPv4.
constexpr std::int64_t kMaxClockSkew = 300;

constexpr std::array<Protocol, 3> kBestFirst{Protocol::cpv4, Protocol::cpv3, Protocol::cpv1};

std::string proto(Protocol p) { return std::string(api::to_string(p)); }
std::string kind(const DeviceDesc& d) { return std::string(api::to_string(d.kind)); }

// "hsm-a/p1 (luna7 7.7.0)"
std::string who(const Endpoint& ep) {
  if (ep.device.kind == DeviceKind::cloud) return ep.address() + " (cloud service)";
  return ep.address() + " (" + kind(ep.device) + " " + ep.device.firmware.str() + ")";
}

bool contains(const std::vector<Protocol>& v, Protocol p) {
  return std::find(v.begin(), v.end(), p) != v.end();
}

// P2: the devices whose only protocol is CPv1.
bool cpv1_only(const DeviceDesc& d) {
  return d.kind == DeviceKind::luna6 || (d.kind == DeviceKind::luna7 && d.firmware < Version{7, 7, 0});
}
// P4: firmware 7.7.0 exactly (7.7.0.x): CPv3 out, no policy 42 yet.
bool is_7_7_0(const DeviceDesc& d) {
  return d.kind == DeviceKind::luna7 && d.firmware >= Version{7, 7, 0} && d.firmware < Version{7, 7, 1};
}
// P5: policy 42 exists from 7.7.1 on Luna 7 partitions.
bool has_policy42(const DeviceDesc& d) {
  return d.kind == DeviceKind::luna7 && d.firmware >= Version{7, 7, 1};
}
// P5: missing policy 42 counts as OFF (it starts OFF).
bool policy42_on(const Endpoint& ep) {
  return has_policy42(ep.device) &&
         policy_value(ep.partition.policies, api::policy::part_allow_cpv1, 0) == 1;
}
// P5: policy 42 can be turned ON only on a non-FIPS V0 partition.
bool policy42_can_be_on(const Endpoint& ep) {
  return has_policy42(ep.device) && ep.partition.type == api::PartitionType::v0 && !is_fips(ep);
}
// X10: a cloud service allows CPv1 unless its policy 8 is explicitly 0.
bool cloud_cpv1(const Endpoint& ep) {
  return policy_value(ep.partition.policies, kCloudAllowCpv1, 1) != 0;
}
// P9: a Backup HSM G5 takes CPv3 from its firmware 6.28.0.
bool backup_cpv3(const DeviceDesc& d) {
  return d.kind == DeviceKind::backup_g5 && d.firmware >= Version{6, 28, 0};
}
// P6 + U2: CPv4 exists on this endpoint (the client aside).
bool cpv4_capable(const Endpoint& ep) {
  return at_7_8(ep.device) && !policy42_on(ep) && !ep.partition.suites_enabled.empty();
}
// U6: the client version the host needs to drive CPv4 for this pair.
Version cpv4_client_min(const Endpoint& a, const Endpoint& b) {
  return is_cloud(a.device) || is_cloud(b.device) ? kClientCpv4Cloud : kClientCpv4;
}
// P6, U2, U6: CPv4 for this pair.
bool cpv4_pair(const Endpoint& src, const Endpoint& dst, const ClientDesc& client) {
  return cpv4_capable(src) && cpv4_capable(dst) && client.version >= cpv4_client_min(src, dst) &&
         common_suite(src, dst).has_value();
}

// S2: the FM class of a device; below 7.4.0 (and on Luna 6, the Backup HSM)
// FMs were never enabled.
FmState fm_class(const DeviceDesc& d) {
  if (d.kind == DeviceKind::luna6 || d.kind == DeviceKind::backup_g5) return FmState::never;
  if (d.kind == DeviceKind::luna7 && d.firmware < Version{7, 4, 0}) return FmState::never;
  return d.fm;
}

// Whether `dst` accepts protocol `p` from `src` (P2, P4, P5, P6, P7, P9).
bool accepts(const Endpoint& dst, const Endpoint& src, const ClientDesc& client, Protocol p) {
  const DeviceDesc& d = dst.device;
  switch (d.kind) {
    case DeviceKind::luna6:
      return p == Protocol::cpv1;  // rule P2
    case DeviceKind::luna7: {
      if (d.firmware < Version{7, 7, 0}) return p == Protocol::cpv1;  // rule P2
      if (is_7_7_0(d)) {
        // rule P4: CPv1 or CPv3, but only the highest one the sender supports.
        if (p != Protocol::cpv1 && p != Protocol::cpv3) return false;
        const auto sender = protocol_support(src, client).send;
        if (contains(sender, Protocol::cpv3)) return p == Protocol::cpv3;
        return p == Protocol::cpv1 && contains(sender, Protocol::cpv1);
      }
      // rule P5: policy 42 ON forces CPv1; OFF removes it.
      if (policy42_on(dst)) return p == Protocol::cpv1;
      if (p == Protocol::cpv3) return true;
      return p == Protocol::cpv4 && cpv4_pair(src, dst, client);  // rule P6
    }
    case DeviceKind::cloud:
      // rule P7: CPv1 and CPv4, never CPv3 (X10: policy 8 can refuse CPv1).
      if (p == Protocol::cpv1) return cloud_cpv1(dst);
      return p == Protocol::cpv4 && cpv4_pair(src, dst, client);
    case DeviceKind::backup_g5:
      // rule P9: CPv1, CPv3 from 6.28.0, never CPv4.
      return p == Protocol::cpv1 || (p == Protocol::cpv3 && backup_cpv3(d));
    case DeviceKind::pkcs11:
      return p == Protocol::kwp;  // a token speaks only KWP (token_peer_rules.hpp)
  }
  return false;
}

std::vector<Protocol> accepted(const Endpoint& dst, const Endpoint& src, const ClientDesc& client) {
  std::vector<Protocol> out;
  for (Protocol p : kBestFirst)
    if (accepts(dst, src, client, p)) out.push_back(p);
  return out;
}

// rule P8: the one protocol the source clones out with for this pair (its
// highest); a Backup HSM picks CPv3 or CPv1, whichever the target accepts.
std::optional<Protocol> offer(const Endpoint& src, const Endpoint& dst, const ClientDesc& client) {
  const DeviceDesc& d = src.device;
  switch (d.kind) {
    case DeviceKind::luna6:
      return Protocol::cpv1;  // rule P2
    case DeviceKind::luna7:
      if (d.firmware < Version{7, 7, 0}) return Protocol::cpv1;  // rule P2
      if (is_7_7_0(d)) return Protocol::cpv3;                    // rule P4
      if (policy42_on(src)) return Protocol::cpv1;               // rule P5
      return cpv4_pair(src, dst, client) ? Protocol::cpv4 : Protocol::cpv3;  // rules P6, U6
    case DeviceKind::cloud:
      // rules P7, X10: CPv4, else the service reverts to CPv1.
      if (cpv4_pair(src, dst, client)) return Protocol::cpv4;
      if (cloud_cpv1(src)) return Protocol::cpv1;
      return std::nullopt;
    case DeviceKind::backup_g5:
      // rule P8 exception (seed 003 item 6).
      if (backup_cpv3(d) && accepts(dst, src, client, Protocol::cpv3)) return Protocol::cpv3;
      if (accepts(dst, src, client, Protocol::cpv1)) return Protocol::cpv1;
      return backup_cpv3(d) ? Protocol::cpv3 : Protocol::cpv1;
    case DeviceKind::pkcs11:
      return Protocol::kwp;
  }
  return std::nullopt;
}

std::optional<Protocol> negotiate(const Endpoint& src, const Endpoint& dst, const ClientDesc& client) {
  auto p = offer(src, dst, client);
  if (p && accepts(dst, src, client, *p)) return p;
  return std::nullopt;
}

int rank(std::optional<Protocol> p) {
  if (!p) return 0;
  switch (*p) {
    case Protocol::cpv1: return 1;
    case Protocol::cpv3: return 3;
    case Protocol::cpv4: return 4;
    case Protocol::kwp: return 0;  // not a Luna protocol: never a fix for a Luna pair
  }
  return 0;
}

std::string set_42(const Endpoint& ep, bool on) {
  const std::string cmd = "`partition policy " + ep.address() + " --set 42=" + (on ? "1" : "0") + "`";
  return on ? "set partition policy 42 on " + ep.address() + " (non-FIPS only; " + cmd + ")"
            : "set partition policy 42 to 0 on " + ep.address() + " (" + cmd + ")";
}

std::string client_fix(const Version& v) {
  return "use Luna HSM Client " + v.str() + " or newer (--client-version " + v.str() + ")";
}

// The protocol refusal: names both sides' protocols and the rule that explains
// it, with a fix found by trying what would make the pair work (U6, U2, P9,
// P5, then P7, P4, P8).
Verdict protocol_refusal(const Endpoint& src, const Endpoint& dst, const ClientDesc& client) {
  const auto offered = offer(src, dst, client);
  const auto dst_accepts = accepted(dst, src, client);
  std::string msg = offered ? who(src) + " clones out only by " + proto(*offered) + " and " + who(dst) +
                                  " accepts " + (dst_accepts.empty() ? std::string("no protocol from it")
                                                                     : protocol_list(dst_accepts))
                            : who(src) + " has no protocol to clone to " + who(dst) + " (its CPv1 is off)";

  // rule U6: the client is too old to drive CPv4.
  const Version need = cpv4_client_min(src, dst);
  if (client.version < need && at_7_8(src.device) && at_7_8(dst.device)) {
    ClientDesc newer = client;
    newer.version = need;
    if (negotiate(src, dst, newer))
      return refuse("U6", "CKR_OPERATION_NOT_ALLOWED",
                    msg + "; CPv4 needs Luna HSM Client " + need.str() + " (client is " +
                        client.version.str() + ")",
                    client_fix(need), offered);
  }
  // rule U2: no cipher suite enabled on both disables CPv4.
  if (at_7_8(src.device) && at_7_8(dst.device) && !common_suite(src, dst)) {
    const auto& all = cpv4_suites();
    auto enabled_on = [](const Endpoint& ep, const std::string& s) {
      const auto& e = ep.partition.suites_enabled;
      return std::find(e.begin(), e.end(), s) != e.end();
    };
    std::string suite;
    for (const auto& s : all)
      if (suite.empty() && (enabled_on(src, s) || enabled_on(dst, s))) suite = s;
    if (suite.empty() && !all.empty()) suite = all.front();
    if (!suite.empty()) {
      Endpoint s2 = src, d2 = dst;
      std::vector<std::string> where;
      if (!enabled_on(s2, suite)) {
        s2.partition.suites_enabled.push_back(suite);
        where.push_back(src.address());
      }
      if (!enabled_on(d2, suite)) {
        d2.partition.suites_enabled.push_back(suite);
        where.push_back(dst.address());
      }
      if (negotiate(s2, d2, client)) {
        std::string fix;
        for (const auto& w : where)
          fix += (fix.empty() ? "" : "; ") + std::string("enable cipher suite ") + suite + " on " + w +
                 " (`partition suites " + w + " --enable " + suite + "`)";
        return refuse("U2", "CKR_PROTOCOL_DISABLED",
                      msg + "; no CPv4 cipher suite is enabled on both", fix, offered);
      }
    }
  }
  // rule P9: a Backup HSM G5 below 6.28.0 has no CPv3.
  if (dst.device.kind == DeviceKind::backup_g5 && !backup_cpv3(dst.device) &&
      offered == Protocol::cpv3)
    return refuse("P9", "CKR_OPERATION_NOT_ALLOWED",
                  msg + "; a Backup HSM G5 accepts CPv3 only from firmware 6.28.0",
                  "upgrade " + dst.device.name + " to firmware 6.28.0 (`device upgrade " +
                      dst.device.name + " --firmware 6.28.0`)",
                  offered);
  // rule P5: would policy 42 (on either side or both) make it work?
  {
    struct Try {
      bool src, dst;
    };
    std::optional<Protocol> best;
    std::string best_fix;
    for (Try t : {Try{true, false}, Try{false, true}, Try{true, true}}) {
      Endpoint s2 = src, d2 = dst;
      std::string fix;
      bool feasible = true;
      for (auto [flip, ep, orig] : {std::tuple{t.src, &s2, &src}, std::tuple{t.dst, &d2, &dst}}) {
        if (!flip) continue;
        if (!has_policy42(ep->device)) { feasible = false; break; }
        const bool on = !policy42_on(*orig);
        if (on && !policy42_can_be_on(*orig)) { feasible = false; break; }
        ep->partition.policies[api::policy::part_allow_cpv1] = on ? 1 : 0;
        fix += (fix.empty() ? "" : " and ") + set_42(*orig, on);
      }
      if (!feasible) continue;
      auto got = negotiate(s2, d2, client);
      if (rank(got) > rank(best)) {
        best = got;
        best_fix = fix;
      }
    }
    if (best) {
      std::string why;
      for (const Endpoint* ep : {&src, &dst})
        if (has_policy42(ep->device))
          why += "; partition policy 42 (allow CPv1) is " + std::string(policy42_on(*ep) ? "on" : "off") +
                 " on " + ep->address();
      return refuse("P5", "CKR_PROTOCOL_DISABLED", msg + why, best_fix, offered);
    }
  }
  // rule P7: cloud services speak CPv1 and CPv4, never CPv3.
  if (is_cloud(src.device) || is_cloud(dst.device)) {
    std::string fix;
    if (is_cloud(dst.device) && !cloud_cpv1(dst) && offered == Protocol::cpv1)
      fix = "allow CPv1 on " + dst.address() + " (`partition policy " + dst.address() + " --set 8=1`)";
    else if (is_cloud(src.device) && !offered)
      fix = "allow CPv1 on " + src.address() + " (`partition policy " + src.address() + " --set 8=1`)";
    else if (is_cloud(dst.device) && src.device.kind == DeviceKind::luna7 && !at_7_8(src.device))
      fix = "upgrade " + src.device.name + " to firmware 7.8.0 for CPv4 (`device upgrade " +
            src.device.name + " --firmware 7.8.0`)";
    else if (is_cloud(src.device) && dst.device.kind == DeviceKind::luna7 && !at_7_8(dst.device))
      fix = "upgrade " + dst.device.name + " to firmware 7.8.0 for CPv4 (`device upgrade " +
            dst.device.name + " --firmware 7.8.0`)";
    return refuse("P7", "CKR_OPERATION_NOT_ALLOWED",
                  msg + "; a cloud service uses CPv1 or CPv4, never CPv3", fix, offered);
  }
  // rule P4: a 7.7.0 target accepts only the highest protocol the sender supports.
  if (is_7_7_0(dst.device))
    return refuse("P4", "CKR_OPERATION_NOT_ALLOWED",
                  msg + "; firmware 7.7.0 accepts only the highest protocol the sender supports", "",
                  offered);
  // rule P8: the source never falls back to an older protocol.
  std::string fix;
  if (dst.device.kind == DeviceKind::luna7 && cpv1_only(dst.device) && offered == Protocol::cpv3)
    fix = "upgrade " + dst.device.name + " to firmware 7.7.0 or newer (`device upgrade " +
          dst.device.name + " --firmware 7.7.0`)";
  else if (is_7_7_0(src.device) && src.partition.type == api::PartitionType::v0 && !is_fips(src))
    fix = "upgrade " + src.device.name + " to firmware 7.7.1 or newer, then " + set_42(src, true);
  return refuse("P8", "CKR_OPERATION_NOT_ALLOWED",
                msg + "; a source clones out only with its highest protocol and never falls back", fix,
                offered);
}

const api::DomainDesc* primary_domain(const api::PartitionDesc& p) {
  for (const auto& d : p.domains)
    if (d.primary) return &d;
  return p.domains.empty() ? nullptr : &p.domains.front();
}

bool holds_domain(const api::PartitionDesc& p, const std::string& fp) {
  for (const auto& d : p.domains)
    if (d.fingerprint == fp) return true;
  return false;
}

std::string object_name(const ObjectDesc& o) {
  return (o.label.empty() ? std::string("object") : "\"" + o.label + "\"") + " (#" +
         std::to_string(o.handle) + ")";
}

bool nist_curve(const std::string& c) {
  static const std::array<const char*, 12> kNist{"P-192",     "P-224",     "P-256",      "P-384",
                                                 "P-521",     "secp192r1", "secp224r1",  "secp256r1",
                                                 "prime256v1", "secp384r1", "secp521r1", "prime192v1"};
  for (const char* n : kNist)
    if (c == n) return true;
  return false;
}

}  // namespace

bool at_7_8(const DeviceDesc& d) {
  return is_cloud(d) || (d.kind == DeviceKind::luna7 && d.firmware >= Version{7, 8, 0});
}

bool is_fips(const Endpoint& ep) {
  // rule X2: the partition flag, or HSM policy 12 = 0 for the whole HSM.
  return ep.partition.fips ||
         policy_value(ep.device.hsm_policies, api::policy::hsm_allow_non_fips, 1) == 0;
}

std::string protocol_list(const std::vector<Protocol>& ps) {
  if (ps.empty()) return "no protocol";
  std::string out;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    if (i) out += (i + 1 == ps.size()) ? " or " : ", ";
    out += proto(ps[i]);
  }
  return out;
}

ProtocolSupport protocol_support(const Endpoint& ep, const ClientDesc& client) {
  ProtocolSupport s;
  const DeviceDesc& d = ep.device;
  switch (d.kind) {
    case DeviceKind::luna6:
      s.send = s.accept = {Protocol::cpv1};  // rule P2
      break;
    case DeviceKind::luna7:
      if (d.firmware < Version{7, 7, 0}) {
        s.send = s.accept = {Protocol::cpv1};  // rule P2
      } else if (is_7_7_0(d)) {
        s.send = {Protocol::cpv3};  // rule P4
        s.accept = {Protocol::cpv3, Protocol::cpv1};
      } else if (policy42_on(ep)) {
        s.send = s.accept = {Protocol::cpv1};  // rule P5
      } else {
        // rules P5, P6, U2, U6.
        if (cpv4_capable(ep) && client.version >= kClientCpv4) s.send.push_back(Protocol::cpv4);
        s.send.push_back(Protocol::cpv3);
        s.accept = s.send;
      }
      break;
    case DeviceKind::cloud:
      // rules P7, X10, U6 (10.5.1 with a cloud service).
      if (cpv4_capable(ep) && client.version >= kClientCpv4Cloud) s.send.push_back(Protocol::cpv4);
      if (cloud_cpv1(ep)) s.send.push_back(Protocol::cpv1);
      s.accept = s.send;
      break;
    case DeviceKind::backup_g5:
      // rules P8 (exception), P9.
      if (backup_cpv3(d)) s.send.push_back(Protocol::cpv3);
      s.send.push_back(Protocol::cpv1);
      s.accept = s.send;
      break;
    case DeviceKind::pkcs11:
      s.send = s.accept = {Protocol::kwp};  // T4: a token moves keys only by KWP
      break;
  }
  return s;
}

std::optional<std::string> common_suite(const Endpoint& src, const Endpoint& dst) {
  // rule U2: suites are tried in the firmware's order.
  auto on = [](const Endpoint& ep, const std::string& s) {
    const auto& e = ep.partition.suites_enabled;
    return std::find(e.begin(), e.end(), s) != e.end();
  };
  for (const auto& s : cpv4_suites())
    if (on(src, s) && on(dst, s)) return s;
  return std::nullopt;
}

std::optional<std::string> common_domain(const Endpoint& src, const Endpoint& dst, Protocol protocol) {
  if (protocol == Protocol::kwp) return p11::rules::common_domain(src, dst);  // rule T4
  const api::DomainDesc* sp = primary_domain(src.partition);
  if (!sp) return std::nullopt;
  // rule S1: both >= 7.8.0 with CPv4 (extended domain management): any common
  // domain, the source's primary first, then its others in order.
  if (at_7_8(src.device) && at_7_8(dst.device) && protocol == Protocol::cpv4) {
    if (holds_domain(dst.partition, sp->fingerprint)) return sp->fingerprint;
    for (const auto& d : src.partition.domains)
      if (&d != sp && holds_domain(dst.partition, d.fingerprint)) return d.fingerprint;
    return std::nullopt;
  }
  // rule S1: otherwise the source's (primary) domain must be the target's primary.
  const api::DomainDesc* dp = primary_domain(dst.partition);
  if (dp && dp->fingerprint == sp->fingerprint) return sp->fingerprint;
  return std::nullopt;
}

std::size_t max_batch(const Endpoint& src, const Endpoint& dst) {
  // rule C2: at most 100 objects per operation to or from a cloud service.
  return is_cloud(src.device) || is_cloud(dst.device) ? kCloudBatchLimit : kUnlimitedBatch;
}

Verdict evaluate_pair(const Endpoint& src, const Endpoint& dst, const ClientDesc& client) {
  namespace pol = api::policy;
  // Two PKCS#11 tokens: the T rules alone (plugins/pkcs11/rules).
  if (p11::rules::is_token(src.device) && p11::rules::is_token(dst.device))
    return p11::rules::evaluate_pair(src, dst);
  const std::string s = src.address(), t = dst.address();
  const std::optional<Protocol> offered = offer(src, dst, client);

  // rule X1: HSM policy 7 "Allow cloning" must be 1 on both HSMs.
  for (const Endpoint* ep : {&src, &dst})
    if (policy_value(ep->device.hsm_policies, pol::hsm_allow_cloning, 1) != 1)
      return refuse("X1", "CKR_OPERATION_NOT_ALLOWED",
                    "HSM policy 7 (allow cloning) is 0 on " + ep->device.name + ", so " + s +
                        " cannot clone to " + t,
                    "set HSM policy 7 to 1 on " + ep->device.name + " (`device policy " +
                        ep->device.name + " --set 7=1`)",
                    offered);

  // rule C3: cloning with a cloud service needs client 10.2.0 (password
  // partitions) or 10.4.1 (multifactor quorum partitions).
  if (is_cloud(src.device) || is_cloud(dst.device)) {
    const bool mfa = src.partition.auth == api::AuthKind::mfa || dst.partition.auth == api::AuthKind::mfa;
    const Version need = mfa ? kClientCloudMfa : kClientCloudPassword;
    if (client.version < need)
      return refuse("C3", "CKR_OPERATION_NOT_ALLOWED",
                    "cloning between " + s + " and " + t + " (a cloud service" +
                        (mfa ? ", with a multifactor quorum partition" : "") + ") needs Luna HSM Client " +
                        need.str() + "; the client is " + client.version.str(),
                    client_fix(need), offered);
  }

  // rule U4: a V1 source sends only its SKS master key (CPv3/CPv4), to a V1
  // partition or a Backup HSM; never to a V0 or pre-7.7.0 partition.
  if (src.partition.type == api::PartitionType::v1) {
    const bool sks_target =
        dst.device.kind == DeviceKind::backup_g5 ||
        (dst.partition.type == api::PartitionType::v1 && dst.device.kind == DeviceKind::luna7 &&
         dst.device.firmware >= Version{7, 7, 0});
    if (!sks_target)
      return refuse("U4", "CKR_OPERATION_NOT_ALLOWED",
                    s + " is a V1 (SKS) partition: only its SKS master key leaves it, by CPv3 or CPv4, "
                        "and " + who(dst) + " is a " +
                        (dst.partition.type == api::PartitionType::v1 ? "V1" : "V0") + " partition",
                    "clone to a V1 partition (firmware 7.7.0 or newer) or back it up to a Backup HSM G5 "
                    "6.28.0",
                    offered);
  }

  // rules P2-P9, U2, U6, X10: one protocol, the source's highest, or a refusal.
  // With a PKCS#11 token on one side: KWP, from a Luna 7 at 7.8.0 (P6, model)
  // of a common domain (T4).
  std::optional<Protocol> chosen;
  if (token_pair(src, dst)) {
    if (auto refusal = kwp_transport(src, dst)) return *refusal;
    chosen = Protocol::kwp;
  } else {
    chosen = negotiate(src, dst, client);
  }
  if (!chosen) return protocol_refusal(src, dst, client);
  const Protocol p = *chosen;

  // rule S1: a common cloning domain.
  if (!common_domain(src, dst, p)) {
    std::string fix;
    const api::DomainDesc* sp = primary_domain(src.partition);
    const bool dst_has = sp && holds_domain(dst.partition, sp->fingerprint);
    if (dst.device.kind == DeviceKind::luna7 || is_cloud(dst.device)) {
      if (dst_has && at_7_8(dst.device)) {
        std::string label;
        for (const auto& d : dst.partition.domains)
          if (d.fingerprint == sp->fingerprint) label = d.label;
        fix = "make " + s + "'s domain the primary of " + t + " with `partition domain label " + t +
              " --label " + (label.empty() ? std::string("\"\"") : label) + " --primary` (needs policy 44)";
      }
      else
        fix = "add " + s + "'s domain to " + t + " with `partition domain add " + t +
              " --primary` (needs firmware 7.8.0 and policy 44)";
    } else {
      fix = "re-initialise " + t + " in " + s + "'s cloning domain";
    }
    return refuse("S1", "CKR_CERTIFICATE_INVALID",
                  t + " shares no cloning domain with " + s +
                      (at_7_8(src.device) && at_7_8(dst.device) && p == Protocol::cpv4
                           ? ""
                           : " (below CPv4 the source's primary domain must be the target's primary)"),
                  fix, p);
  }

  // rule S2: objects never flow from an FM-never-enabled HSM to an FM-enabled
  // one. A Backup HSM source is judged per object (rule S3).
  if (src.device.kind != DeviceKind::backup_g5 && fm_class(src.device) == FmState::never &&
      fm_class(dst.device) == FmState::enabled)
    return refuse("S2", "CKR_FM_NEVER_ENABLED",
                  who(src) + " is on an HSM that never enabled Functionality Modules and " + t +
                      " is on an FM-enabled HSM; objects flow only from FM-enabled to FM-disabled HSMs",
                  "clone to a partition on an HSM that never enabled FMs (enabling FMs is one-way)", p);

  // rule S6: security profile; a FIPS source refuses a non-FIPS target unless
  // the client is >= 10.4.0.
  if (is_fips(src) && !is_fips(dst) && client.version < kClientMixedFips)
    return refuse("S6", "CKR_OPERATION_NOT_ALLOWED",
                  s + " is in FIPS mode and " + t + " is not; the client " + client.version.str() +
                      " does not allow FIPS to non-FIPS cloning",
                  client_fix(kClientMixedFips) + ", or clone to a FIPS-mode partition", p);

  // rule U3: CPv4 fails when the two clocks differ by more than 5 minutes.
  if (p == Protocol::cpv4) {
    const std::int64_t skew = std::llabs(src.device.clock_offset_s - dst.device.clock_offset_s);
    if (skew > kMaxClockSkew) {
      std::string fix;
      std::vector<const DeviceDesc*> devs;
      for (const Endpoint* ep : {&src, &dst})
        if (!is_cloud(ep->device) && ep->device.clock_offset_s != 0) devs.push_back(&ep->device);
      std::sort(devs.begin(), devs.end(), [](const DeviceDesc* a, const DeviceDesc* b) {
        return std::llabs(a->clock_offset_s) > std::llabs(b->clock_offset_s);
      });
      for (const DeviceDesc* d : devs) {
        std::string f;
        if (policy_value(d->hsm_policies, pol::hsm_allow_clock_sync, 0) != 1)
          f = "set HSM policy 57 on " + d->name + " (`device policy " + d->name + " --set 57=1`) and run ";
        else
          f = "run ";
        f += "`device clock " + d->name + " --sync`";
        fix += (fix.empty() ? "" : "; ") + f;
      }
      fix = "sync the clocks (HSM policy 57 allows `device clock NAME --sync`)" + (fix.empty() ? "" : ": " + fix);
      return refuse("U3", "CKR_CLOCK_NOT_IN_SYNC",
                    "the clocks of " + src.device.name + " and " + dst.device.name + " differ by " +
                        std::to_string(skew) + " s (more than 300 s) for CPv4 between " + s + " and " + t,
                    fix, p);
    }
  }

  Verdict v;
  v.allowed = true;
  v.protocol = p;
  v.message = s + " clones to " + t + " by " + proto(p);
  if (p == Protocol::cpv4) v.message += " (suite " + common_suite(src, dst).value_or("?") + ")";
  return v;
}

Verdict evaluate_object(const Endpoint& src, const Endpoint& dst, const ObjectDesc& obj, Protocol protocol,
                        const ClientDesc& /*client*/, const TargetCaps& caps) {
  namespace pol = api::policy;
  const std::string s = src.address(), t = dst.address(), o = object_name(obj);
  const DeviceDesc& dd = dst.device;

  // rule X1: partition policies 0 and 4 on the source gate private and secret keys.
  if (obj.cls == api::ObjectClass::private_key &&
      policy_value(src.partition.policies, pol::part_private_key_cloning, 1) != 1)
    return refuse("X1", "CKR_OPERATION_NOT_ALLOWED",
                  "partition policy 0 (allow private key cloning) is 0 on " + s + ", so private key " + o +
                      " cannot be cloned to " + t,
                  "set partition policy 0 to 1 on " + s + " (`partition policy " + s +
                      " --set 1=0 --set 0=1`; key wrapping and cloning exclude each other)",
                  protocol);
  if (obj.cls == api::ObjectClass::secret_key &&
      policy_value(src.partition.policies, pol::part_secret_key_cloning, 1) != 1)
    return refuse("X1", "CKR_OPERATION_NOT_ALLOWED",
                  "partition policy 4 (allow secret key cloning) is 0 on " + s + ", so secret key " + o +
                      " cannot be cloned to " + t,
                  "set partition policy 4 to 1 on " + s + " (`partition policy " + s + " --set 4=1`)",
                  protocol);

  // rule S3: a Backup HSM is no gateway; each object keeps its provenance.
  if (src.device.kind == DeviceKind::backup_g5) {
    const bool came_by_new = contains(obj.travelled, Protocol::cpv3) || contains(obj.travelled, Protocol::cpv4);
    if (protocol == Protocol::cpv1 && came_by_new)
      return refuse("S3", "CKR_OPERATION_NOT_ALLOWED",
                    o + " came into the Backup HSM " + s + " by CPv3 and never leaves by CPv1, the only "
                        "protocol " + t + " accepts from it",
                    "restore it to a partition that accepts CPv3 (firmware 7.7.0 or newer with policy 42 "
                    "off, or a Backup HSM G5 6.28.0)",
                    protocol);
    if (fm_class(dd) == FmState::enabled && obj.origin_fm == FmState::never)
      return refuse("S3", "CKR_FM_NEVER_ENABLED",
                    o + " in the Backup HSM " + s + " comes from an FM-never-enabled HSM and " + t +
                        " is on an FM-enabled HSM",
                    "restore it to a partition on an HSM that never enabled FMs", protocol);
  }

  // A PKCS#11 token on one side (KWP): T5, T2 and T3 (plugins/pkcs11/rules).
  // A token target takes what its own transport says (T3), not K1-K3.
  std::vector<std::string> t5_warnings;
  if (protocol == Protocol::kwp) {
    bool to_token = false;
    if (auto r = kwp_object(src, dst, obj, t5_warnings, to_token)) return *r;
    if (to_token) {
      Verdict v;
      v.allowed = true;
      v.protocol = protocol;
      v.message = o + " may move from " + s + " to " + t + " by KWP";
      return v;
    }
  }

  // rule K1: the target must recognise the key type.
  const auto first = first_firmware_for(obj.key_type, dd.kind);
  if (!first || dd.firmware < *first)
    return refuse("K1", "CKR_OBJECT_TYPE_INVALID",
                  std::string(api::to_string(obj.key_type)) + " key " + o + " from " + s +
                      " is not recognised by " + who(dst),
                  first ? "upgrade " + dd.name + " to firmware " + first->str() + " or newer" : "", protocol);

  // rule K3: RSA keys generated by RSA PKCS or X9.31 never go to Luna 7 or cloud.
  if (obj.key_type == api::KeyType::rsa &&
      (obj.keygen == api::KeygenMechanism::pkcs || obj.keygen == api::KeygenMechanism::x9_31) &&
      (dd.kind == DeviceKind::luna7 || dd.kind == DeviceKind::cloud))
    return refuse("K3", "CKR_MECHANISM_INVALID",
                  "RSA key " + o + " on " + s + " was generated by the " +
                      std::string(api::to_string(obj.keygen)) + " mechanism, which " + who(dst) +
                      " does not accept",
                  "replace it with a key generated by the FIPS 186-3 mechanism (rule K4 remapping)",
                  protocol);

  // rule K2 (refined by X3): minimum sizes; FIPS minimums are larger.
  const bool fips = is_fips(dst);
  if (obj.key_type == api::KeyType::rsa && obj.bits > 0) {
    const int min = fips ? 2048 : 1024;
    if (obj.bits < min)
      return refuse("K2", "CKR_KEY_SIZE_RANGE",
                    "RSA-" + std::to_string(obj.bits) + " key " + o + " from " + s + " is below the " +
                        (fips ? "FIPS " : "") + "minimum of " + std::to_string(min) + " bits on " + t,
                    fips && obj.bits >= 1024 ? "clone it to a non-FIPS partition, or replace it with an "
                                               "RSA-2048 key"
                                             : "replace it with an RSA-2048 key",
                    protocol);
  }
  if (obj.key_type == api::KeyType::ec && fips) {
    if (!obj.curve.empty() && !nist_curve(obj.curve))
      return refuse("K2", "CKR_ECC_CURVE_NOT_ALLOWED",
                    "EC key " + o + " from " + s + " is on curve " + obj.curve +
                        ", which the FIPS-mode partition " + t + " does not allow (NIST curves only)",
                    "clone it to a non-FIPS partition", protocol);
    if (obj.bits > 0 && obj.bits < 224)
      return refuse("K2", "CKR_KEY_SIZE_RANGE",
                    "EC-" + std::to_string(obj.bits) + " key " + o + " from " + s +
                        " is below the FIPS minimum of 224 bits on " + t,
                    "clone it to a non-FIPS partition, or replace it with a P-256 key", protocol);
  }

  // rule S4: non-extractable stays non-extractable.
  if (!obj.extractable && !caps.preserves_non_extractable)
    return refuse("S4", "CKR_OPERATION_NOT_ALLOWED",
                  o + " is not extractable on " + s + " and " + t +
                      " cannot guarantee it stays non-extractable",
                  "", protocol);

  Verdict v;
  v.allowed = true;
  v.protocol = protocol;
  v.warnings = std::move(t5_warnings);

  // rule S5: unknowns rejected, permissive attributes stripped. Objects of a
  // V1 source travel inside SMK-encrypted SKS blobs (rule U4) and keep all
  // their attributes, so S5 does not apply to them.
  if (src.partition.type != api::PartitionType::v1) {
    // Firmware that refuses unknown attributes instead of dropping them.
    const bool strict_target = (dd.kind == DeviceKind::luna7 && dd.firmware >= Version{7, 7, 0}) ||
                               is_cloud(dd) || backup_cpv3(dd);
    // CKA_PER_KEY_AUTH_DATA exists on Luna 7 from 7.7.0 and on the Backup HSM
    // from 6.28.0 (full CPv3 support); not on cloud services (model).
    const bool pka_target =
        (dd.kind == DeviceKind::luna7 && dd.firmware >= Version{7, 7, 0}) || backup_cpv3(dd);
    if (obj.unknown_attribute && (protocol != Protocol::cpv1 || strict_target))
      return refuse("S5", "CKR_ATTRIBUTE_TYPE_INVALID",
                    o + " from " + s + " carries an attribute that " + who(dst) + " does not recognise (" +
                        proto(protocol) + " rejects unknown attributes)",
                    "", protocol);
    if (obj.per_key_auth && !pka_target)
      return refuse("S5", "CKR_ATTRIBUTE_TYPE_INVALID",
                    o + " from " + s + " has CKA_PER_KEY_AUTH_DATA set, which is mandatory and not "
                        "supported by " + who(dst),
                    "clone it to a Luna 7 partition at firmware 7.7.0 or newer", protocol);
    switch (protocol) {
      case Protocol::cpv1:
        // Old firmware drops unknown attributes and takes the reduced object.
        if (obj.unknown_attribute) v.stripped = true;
        break;
      case Protocol::cpv3:
        // CKA_ASSIGNED = false is stripped.
        if (!obj.assigned) v.stripped = true;
        break;
      case Protocol::cpv4:
        // PKA attributes when PKA is unset, CKA_ASSIGNED when false, DES3
        // counters and key-ring attributes are stripped.
        if (!obj.per_key_auth || !obj.assigned || obj.des3_counters || obj.key_ring) v.stripped = true;
        break;
      case Protocol::kwp:  // from a token: no Luna attribute to strip (T5 judged above)
        break;
    }
  }
  v.message = o + " may be cloned from " + s + " to " + t + " by " + proto(protocol) +
              (v.stripped ? " (permissive attributes stripped)" : "");
  return v;
}

void strip_permissive(ObjectDesc& obj, Protocol protocol) {
  switch (protocol) {
    case Protocol::cpv1:  // old firmware drops what it does not know
      obj.unknown_attribute = false;
      break;
    case Protocol::cpv3:  // CKA_ASSIGNED = false is dropped: nothing stored changes
      break;
    case Protocol::cpv4:  // DES3 usage counters and key-ring attributes
      obj.des3_counters = false;
      obj.key_ring = false;
      break;
    case Protocol::kwp:  // never stripped: T5 refuses what a target cannot take
      break;
  }
}

Verdict evaluate(const Endpoint& src, const Endpoint& dst, const ObjectDesc* obj, const ClientDesc& client,
                 const TargetCaps& caps) {
  Verdict pair = evaluate_pair(src, dst, client);
  if (!pair.allowed || !obj) return pair;
  Verdict v = evaluate_object(src, dst, *obj, *pair.protocol, client, caps);
  v.warnings.insert(v.warnings.begin(), pair.warnings.begin(), pair.warnings.end());
  return v;
}

}  // namespace hsm::luna::rules
