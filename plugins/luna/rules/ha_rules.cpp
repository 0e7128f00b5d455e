#include "plugins/luna/rules/ha_rules.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/kind_profile.hpp"
#include "plugins/luna/rules/rule_support.hpp"

namespace hsm::luna::rules {

using api::ClientDesc;
using api::DeviceKind;
using api::Endpoint;
using api::Verdict;
using api::Version;

namespace {

constexpr Version kClientMfaCloud{10, 5, 0};   // H5

std::string join(const std::vector<std::string>& parts, const std::string& sep = ", ") {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

std::string group_name(const HaGroupDesc& g) { return "HA group \"" + g.name + "\""; }

// rule H1: one policy table (partition or HSM) compared across the members that have it.
struct PolicyOwner {
  std::string where;  // address or device name
  const std::map<int, int>* policies;
};

void compare_policies(const HaGroupDesc& g, const std::vector<PolicyOwner>& owners, bool hsm,
                      std::vector<Verdict>& out) {
  std::set<int> ids;
  for (const auto& o : owners)
    for (auto [id, value] : *o.policies) ids.insert(id);
  for (int id : ids) {
    // FIPS mode is H2's business.
    if (!hsm && id == api::policy::part_allow_non_fips) continue;
    if (hsm && id == api::policy::hsm_allow_non_fips) continue;
    std::optional<int> want;  // the primary's value, else the first member's that has it
    std::vector<std::string> values, off;
    bool differ = false;
    for (const auto& o : owners) {
      auto it = o.policies->find(id);
      if (it == o.policies->end()) continue;
      values.push_back(o.where + "=" + std::to_string(it->second));
      if (!want) want = it->second;
      else if (*want != it->second) differ = true;
    }
    if (!differ) continue;
    for (const auto& o : owners) {
      auto it = o.policies->find(id);
      if (it != o.policies->end() && it->second != *want)
        off.push_back("`" + std::string(hsm ? "device" : "partition") + " policy " + o.where + " --set " +
                      std::to_string(id) + "=" + std::to_string(*want) + "`");
    }
    const std::string what = std::string(hsm ? "HSM" : "partition") + " policy " + std::to_string(id);
    out.push_back(refuse("H1", "CKR_TEMPLATE_INCONSISTENT",
                         what + " differs between the members of " + group_name(g) + ": " + join(values),
                         "set " + what + " to " + std::to_string(*want) + " as on the primary: " +
                             join(off, " and ")));
  }
}

}  // namespace

bool ha_group_allowed(const std::vector<Verdict>& verdicts) {
  return std::all_of(verdicts.begin(), verdicts.end(), [](const Verdict& v) { return v.allowed; });
}

std::vector<Verdict> check_ha_group(const HaGroupDesc& g, const ClientDesc& client) {
  namespace pol = api::policy;
  std::vector<Verdict> out;
  const auto& m = g.members;

  // rule H3: the first member is the primary; a group needs one, each member once.
  if (m.empty()) {
    out.push_back(refuse("H3", "CKR_TEMPLATE_INCONSISTENT", group_name(g) + " has no members",
                         "give at least one member; the first is the primary"));
    return out;
  }
  {
    std::set<std::string> seen;
    for (const auto& e : m)
      if (!seen.insert(e.address()).second)
        out.push_back(refuse("H3", "CKR_TEMPLATE_INCONSISTENT",
                             e.address() + " is listed twice in " + group_name(g),
                             "list each member once"));
  }
  const Endpoint& primary = m.front();

  // rule H4: a cloud service joins as standby only, unless lunacm_cv_ha_ui = 0.
  if (is_cloud(primary.device) && client.cv_ha_ui)
    out.push_back(refuse("H4", "CKR_OPERATION_NOT_ALLOWED",
                         "the cloud service " + primary.address() + " is the primary of " + group_name(g) +
                             ", but a cloud service joins as standby only while lunacm_cv_ha_ui = 1",
                         "put an on-premises member first, or set lunacm_cv_ha_ui = 0 in the client "
                         "configuration"));

  // rule H2: mixed FIPS and non-FIPS members need client 10.4.0.
  {
    std::vector<std::string> fips, non_fips;
    for (const auto& e : m) (is_fips(e) ? fips : non_fips).push_back(e.address());
    if (!fips.empty() && !non_fips.empty() && client.version < kClientMixedFips)
      out.push_back(refuse("H2", "CKR_OPERATION_NOT_ALLOWED",
                           group_name(g) + " mixes FIPS members (" + join(fips) + ") and non-FIPS members (" +
                               join(non_fips) + "), which needs Luna HSM Client 10.4.0; the client is " +
                               client.version.str(),
                           "use Luna HSM Client 10.4.0 or newer (--client-version 10.4.0), or put all "
                           "members in the same FIPS mode"));
  }

  // rule H5: failover from a multifactor quorum partition to a cloud service
  // needs client 10.5.0.
  {
    std::vector<std::string> mfa, cloud;
    for (const auto& e : m) {
      if (is_cloud(e.device)) cloud.push_back(e.address());
      else if (e.partition.auth == api::AuthKind::mfa) mfa.push_back(e.address());
    }
    if (!mfa.empty() && !cloud.empty() && client.version < kClientMfaCloud)
      out.push_back(refuse("H5", "CKR_OPERATION_NOT_ALLOWED",
                           group_name(g) + " has multifactor quorum members (" + join(mfa) +
                               ") and cloud members (" + join(cloud) +
                               "); failover to a cloud service needs Luna HSM Client 10.5.0, the client is " +
                               client.version.str(),
                           "use Luna HSM Client 10.5.0 or newer (--client-version 10.5.0)"));
  }

  // rule H6: a Luna 6 with the SafeXcel 1746 co-processor enabled cannot be
  // in a mixed-version group (members of different kinds or firmware).
  {
    bool mixed = false;
    for (const auto& e : m)
      if (e.device.kind != primary.device.kind || e.device.firmware != primary.device.firmware) mixed = true;
    if (mixed)
      for (const auto& e : m)
        if (e.device.kind == DeviceKind::luna6 && e.device.safexcel)
          out.push_back(refuse("H6", "CKR_OPERATION_NOT_ALLOWED",
                               e.address() + " has the SafeXcel 1746 co-processor enabled and " +
                                   group_name(g) + " mixes device versions",
                               "disable the SafeXcel 1746 co-processor for " + e.device.name +
                                   " in the client configuration"));
  }

  // rule X8: same authentication method (cloud services are password services
  // that import a PED domain, so they are left out of this comparison).
  {
    std::vector<std::string> password, mfa;
    for (const auto& e : m)
      if (!is_cloud(e.device))
        (e.partition.auth == api::AuthKind::mfa ? mfa : password).push_back(e.address());
    if (!password.empty() && !mfa.empty())
      out.push_back(refuse("X8", "CKR_OPERATION_NOT_ALLOWED",
                           group_name(g) + " mixes password members (" + join(password) +
                               ") and multifactor quorum members (" + join(mfa) + ")",
                           "use members with the same authentication method"));
  }
  // rule X8: one domain common to every member.
  if (m.size() > 1) {
    std::vector<std::string> common;
    for (const auto& d : primary.partition.domains) {
      bool everywhere = std::all_of(m.begin(), m.end(), [&](const Endpoint& e) {
        return std::any_of(e.partition.domains.begin(), e.partition.domains.end(),
                           [&](const api::DomainDesc& x) { return x.fingerprint == d.fingerprint; });
      });
      if (everywhere) common.push_back(d.fingerprint);
    }
    if (common.empty())
      out.push_back(refuse("X8", "CKR_CERTIFICATE_INVALID",
                           "the members of " + group_name(g) + " share no cloning domain",
                           "add the primary " + primary.address() +
                               "'s domain to the other members with `partition domain add DEV/PART "
                               "--primary` (needs firmware 7.8.0 and policy 44)"));
  }
  // rule X8: HSM policies 7 and 16, partition policies 0 and 4 all 1 (missing counts as 1).
  for (const auto& e : m) {
    std::vector<std::string> bad, fixes;
    for (int id : {pol::hsm_allow_cloning, pol::hsm_network_replication})
      if (policy_value(e.device.hsm_policies, id, 1) != 1) {
        bad.push_back("HSM policy " + std::to_string(id) + " on " + e.device.name);
        fixes.push_back("`device policy " + e.device.name + " --set " + std::to_string(id) + "=1`");
      }
    for (int id : {pol::part_private_key_cloning, pol::part_secret_key_cloning})
      if (policy_value(e.partition.policies, id, 1) != 1) {
        bad.push_back("partition policy " + std::to_string(id) + " on " + e.address());
        fixes.push_back("`partition policy " + e.address() + " --set " + std::to_string(id) + "=1`");
      }
    if (!bad.empty())
      out.push_back(refuse("X8", "CKR_OPERATION_NOT_ALLOWED",
                           "HA members need HSM policies 7 and 16 and partition policies 0 and 4 set to 1; "
                           "in " + group_name(g) + " these are 0: " + join(bad),
                           join(fixes, " and ")));
  }
  // rule X8: all V0 or all V1.
  {
    std::vector<std::string> v0, v1;
    for (const auto& e : m) (e.partition.type == api::PartitionType::v1 ? v1 : v0).push_back(e.address());
    if (!v0.empty() && !v1.empty())
      out.push_back(refuse("X8", "CKR_OPERATION_NOT_ALLOWED",
                           group_name(g) + " mixes V0 members (" + join(v0) + ") and V1 members (" + join(v1) +
                               ")",
                           "use members of one partition type (all V0 or all V1)"));
  }

  // rule H1: the policies two members share must match.
  {
    std::vector<PolicyOwner> parts, hsms;
    std::set<std::string> devices;
    for (const auto& e : m) {
      parts.push_back({e.address(), &e.partition.policies});
      if (devices.insert(e.device.name).second) hsms.push_back({e.device.name, &e.device.hsm_policies});
    }
    compare_policies(g, parts, false, out);
    compare_policies(g, hsms, true, out);
  }

  // rule H8: keys are generated on the primary and replicate from it, so the
  // primary must clone to every member; one-way pairs are warnings.
  for (std::size_t i = 1; i < m.size(); ++i) {
    const Endpoint& e = m[i];
    Verdict fwd = evaluate_pair(primary, e, client);
    if (!fwd.allowed) {
      Verdict v = refuse("H8", fwd.code,
                         "the primary " + primary.address() + " of " + group_name(g) +
                             " cannot replicate to " + e.address() + " (rule " + fwd.rule + "): " + fwd.message,
                         fwd.fix);
      v.protocol = fwd.protocol;
      out.push_back(std::move(v));
      continue;
    }
    // rule C1: replication creates on the member only what it lacks.
    if (g.primary_objects && !g.primary_objects->empty()) {
      CapacityCount room(e.device, e.partition);
      std::size_t refused = 0;
      std::string first;
      for (const auto& o : *g.primary_objects)
        if (auto r = room.take(o); !r.ok() && refused++ == 0) first = r.error().message;
      if (refused) {
        Verdict v = refuse(
            "C1", "CKR_MAX_OBJECT_COUNT_EXCEEDED",
            "the primary " + primary.address() + " of " + group_name(g) + " holds " +
                std::to_string(g.primary_objects->size()) + " objects; " + e.address() + " lacks " +
                std::to_string(room.created() + refused) + " of them and " +
                std::to_string(refused) + " would not fit: " + first,
            "delete objects on " + primary.address() + ", or use a member that can hold them all");
        v.protocol = fwd.protocol;
        out.push_back(std::move(v));
      }
    }
    Verdict back = evaluate_pair(e, primary, client);
    if (!back.allowed) {
      Verdict v;
      v.allowed = true;
      v.protocol = fwd.protocol;
      v.rule = "H8";
      v.message = primary.address() + " replicates to " + e.address() + " by " +
                  std::string(api::to_string(*fwd.protocol)) + ", but " + e.address() +
                  " cannot clone back (rule " + back.rule + "): " + back.message +
                  "; a failover to it would stop replication";
      v.fix = back.fix;
      v.warnings.push_back(v.message);
      out.push_back(std::move(v));
    }
  }
  return out;
}

}  // namespace hsm::luna::rules
