// Rules for HA groups (spec/luna-rules.md section 4 and X8), as pure functions
// of member descriptions. Replication within a group is cloning, so H8 asks
// clone_rules' evaluate_pair for every primary -> member pair.
#pragma once

#include <string>
#include <vector>

#include "plugins/api/types.hpp"

namespace hsm::luna::rules {

struct HaGroupDesc {
  std::string name;
  std::vector<api::Endpoint> members;  // members[0] is the primary (rule H3)
  // What replication carries to every member (null or empty: not judged).
  // Each member's partition.held_fingerprints says which it already holds.
  const std::vector<api::ObjectDesc>* primary_objects = nullptr;
};

// Every refusal (allowed = false) and every warning (allowed = true with
// `warnings` set) for the group, in a stable order: H3, H4, H2, H5, H6, X8,
// H1, then H8 and C1 per member. An empty vector means the group is fine. Warning verdicts carry
// the rule that raised them in `rule` too.
//   H1  policies both members have (partition and HSM) must match; FIPS
//       policies (partition 43, HSM 12) are left to H2.
//   H2  mixed FIPS / non-FIPS members need client >= 10.4.0.
//   H4  a cloud service is primary only when client.cv_ha_ui == false.
//   H5  a multifactor quorum member with a cloud member needs client >= 10.5.0.
//   H6  a Luna 6 with SafeXcel enabled cannot be in a mixed-version group.
//   H8  the primary must clone to every member (refusal); a member that cannot
//       clone back to the primary is a warning.
//   C1  (with H8) the primary's objects a member lacks must fit in it: a
//       cloud member holds at most 100; objects it already holds (same
//       content fingerprint) take no room.
//   X8  same authentication method (cloud members aside: they are password
//       services that import a PED domain), a domain common to all members,
//       HSM policies 7 and 16 = 1, partition policies 0 and 4 = 1, and all
//       V0 or all V1.
std::vector<api::Verdict> check_ha_group(const HaGroupDesc& group, const api::ClientDesc& client);

// True when `verdicts` holds no refusal.
bool ha_group_allowed(const std::vector<api::Verdict>& verdicts);

}  // namespace hsm::luna::rules
