// HA groups as first-class objects. An HA group is a client-side construct
// (the HA section of a Luna client's Chrystoki.conf): the devices do not know
// it, so the tool keeps it, in HOME/hagroups.json (0600, written
// temp+fsync+rename under an flock of HOME/hagroups.lock).
//
// The tool knows no Luna rule: every verdict on a group (H1-H8, X8) comes
// from the primary's backend (api::Backend::check_ha_group), asked with the
// members' live descriptions. The `hagroup` commands and `plan run` both call
// the operations below, so a plan step does exactly what the command does.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tool/context.hpp"

namespace hsm::tool {

struct HaMember {
  Address address;
  bool standby = false;  // never set on members[0], the primary (H3)
};

struct HaGroupRecord {
  std::string name;
  std::vector<HaMember> members;  // members[0] is the primary (H3)
  bool has(const Address& a) const;
};

class HaGroupStore {
 public:
  explicit HaGroupStore(std::filesystem::path home) : home_(std::move(home)) {}
  std::filesystem::path file() const { return home_ / "hagroups.json"; }

  // Every group, in name order; none when the file does not exist.
  api::Result<std::vector<HaGroupRecord>> load() const;
  // Read, change, write back, holding the lock throughout. A change that
  // returns an error writes nothing.
  api::Status update(const std::function<api::Status(std::vector<HaGroupRecord>&)>& change);

 private:
  std::filesystem::path home_;
};

// A group and what its primary's backend says of it.
// A member's objects against the primary's, by content fingerprint, as
// lunacm's `hagroup` shows "needs sync" for a member that differs.
struct MemberSync {
  Address address;
  std::size_t missing = 0;  // primary objects the member lacks
  std::size_t extra = 0;    // member objects the primary lacks
  bool in_sync() const { return missing == 0 && extra == 0; }
};

struct HaGroupReport {
  HaGroupRecord group;
  std::vector<api::Verdict> verdicts;  // refusals and warnings; empty = fine
  std::vector<MemberSync> sync;        // hagroup check: every secondary, in member order
  bool allowed() const;
  bool in_sync() const;
  bool dissolved = false;  // hagroup remove took out the last member
};

api::Status check_group_name(std::string_view name);
// Asks the backend of the primary's device kind about the group, with the
// members' live descriptions.
api::Result<std::vector<api::Verdict>> judge_group(Context& ctx, const HaGroupRecord& g);

// Each operation judges the group it would store and stores it only when no
// rule refuses it (Error::refused naming the first refusal and how many more).
api::Result<HaGroupReport> hagroup_create(Context& ctx, const std::string& name, const std::vector<HaMember>& members);
// primary: join as the new primary (members[0]); else at the end.
api::Result<HaGroupReport> hagroup_add(Context& ctx, const std::string& name, const Address& member, bool standby,
                                       bool primary);
// When the primary leaves, the next member becomes the primary; a group left
// empty is dissolved.
api::Result<HaGroupReport> hagroup_remove(Context& ctx, const std::string& name, const Address& member);
api::Result<HaGroupReport> hagroup_check(Context& ctx, const std::string& name);
api::Result<std::optional<HaGroupRecord>> hagroup_find(Context& ctx, const std::string& name);

json to_json(const HaGroupRecord& g);
json to_json(const HaGroupReport& r);
std::string address_str(const Address& a);

}  // namespace hsm::tool
