#include "tool/hagroups.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "formats/atomic_file.hpp"
#include "tool/clone_ops.hpp"

namespace hsm::tool {

namespace fs = std::filesystem;
using api::Error;
using api::Result;
using api::Status;

std::string address_str(const Address& a) { return a.device + "/" + a.partition; }

bool HaGroupRecord::has(const Address& a) const {
  return std::any_of(members.begin(), members.end(), [&](const HaMember& m) {
    return m.address.device == a.device && m.address.partition == a.partition;
  });
}

bool HaGroupReport::allowed() const {
  return std::all_of(verdicts.begin(), verdicts.end(), [](const api::Verdict& v) { return v.allowed; });
}

Status check_group_name(std::string_view name) {
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
          std::string_view::npos ||
      name[0] == '.')
    return Error::usage("HA group name \"" + std::string(name) + "\" is invalid",
                        "use 1-64 letters, digits, '-', '_' or '.'");
  return {};
}

namespace {

Result<std::vector<HaGroupRecord>> parse_store(const std::string& text, const fs::path& file) {
  std::vector<HaGroupRecord> out;
  auto bad = [&](const std::string& why) {
    Error e = Error::integrity(file.string() + " is damaged: " + why);
    e.fix = "restore it from a backup, or remove it and create the groups again";
    return e;
  };
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("groups") || !doc["groups"].is_array())
    return bad("not a JSON object with a \"groups\" array");
  for (const auto& g : doc["groups"]) {
    if (!g.is_object() || !g.contains("name") || !g["name"].is_string() || !g.contains("members") ||
        !g["members"].is_array())
      return bad("a group without a name or members");
    HaGroupRecord r;
    r.name = g["name"].get<std::string>();
    for (const auto& m : g["members"]) {
      if (!m.is_object() || !m.contains("address") || !m["address"].is_string())
        return bad("a member of group " + r.name + " without an address");
      auto a = parse_address(m["address"].get<std::string>());
      if (!a.ok()) return bad("group " + r.name + ": " + a.error().message);
      r.members.push_back({a.value(), m.value("standby", false)});
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string render_store(const std::vector<HaGroupRecord>& groups) {
  nlohmann::ordered_json doc;
  doc["format"] = "hsm-migrate hagroups 1";
  auto arr = nlohmann::ordered_json::array();
  for (const auto& g : groups) {
    nlohmann::ordered_json j;
    j["name"] = g.name;
    auto ms = nlohmann::ordered_json::array();
    for (const auto& m : g.members) ms.push_back({{"address", address_str(m.address)}, {"standby", m.standby}});
    j["members"] = ms;
    arr.push_back(j);
  }
  doc["groups"] = arr;
  return doc.dump(2) + "\n";
}

// flock(2) on HOME/hagroups.lock: the kernel frees it when the holder dies.
class StoreLock {
 public:
  static Result<StoreLock> take(const fs::path& home) {
    std::error_code ec;
    fs::create_directories(home, ec);
    const fs::path p = home / "hagroups.lock";
    StoreLock l;
    l.fd_ = ::open(p.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (l.fd_ < 0) return Error::other("cannot open " + p.string() + ": " + std::strerror(errno));
    for (int i = 0; i < 100; ++i) {
      if (::flock(l.fd_, LOCK_EX | LOCK_NB) == 0) return l;
      ::usleep(50000);
    }
    Error e = Error::busy("the HA group store " + (home / "hagroups.json").string() +
                          " is locked by another hsm-migrate");
    e.fix = "wait for it to finish and retry";
    return e;
  }
  StoreLock() = default;
  StoreLock(StoreLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  StoreLock& operator=(StoreLock&&) = delete;
  ~StoreLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

}  // namespace

Result<std::vector<HaGroupRecord>> HaGroupStore::load() const {
  std::error_code ec;
  if (!fs::exists(file(), ec)) return std::vector<HaGroupRecord>{};
  std::ifstream in(file(), std::ios::binary);
  if (!in) return Error::other("cannot read " + file().string());
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_store(ss.str(), file());
}

Status HaGroupStore::update(const std::function<Status(std::vector<HaGroupRecord>&)>& change) {
  HSM_TRY_ASSIGN(StoreLock lock, StoreLock::take(home_));
  HSM_TRY_ASSIGN(auto groups, load());
  HSM_TRY(change(groups));
  std::sort(groups.begin(), groups.end(),
            [](const HaGroupRecord& a, const HaGroupRecord& b) { return a.name < b.name; });
  const std::string body = render_store(groups);
  formats::AtomicFileOptions o;
  o.overwrite = true;
  o.mode = 0600;
  return formats::write_file_atomic(file(), body.data(), body.size(), o);
}

Result<std::vector<api::Verdict>> judge_group(Context& ctx, const HaGroupRecord& g) {
  if (g.members.empty()) return std::vector<api::Verdict>{};
  api::HaGroup desc;
  desc.name = g.name;
  // Replication carries the primary's objects to every member; the backend
  // judges each member's room (rule C1) and is told which of them a member
  // already holds, since those are not created again.
  for (const auto& m : g.members) {
    HSM_TRY_ASSIGN(auto part, ctx.fleet->open_partition(m.address));
    HSM_TRY(ctx.login(*part, m.address));  // the members' objects are private
    HSM_TRY_ASSIGN(api::Endpoint ep, part->describe());
    if (desc.members.empty()) {
      HSM_TRY_ASSIGN(desc.primary_objects, part->find_objects("all"));
    } else {
      HSM_TRY_ASSIGN(ep.partition.held_fingerprints, held_fingerprints(*part, ep, desc.primary_objects));
    }
    desc.members.push_back(std::move(ep));
    desc.standby.push_back(m.standby);
  }
  HSM_TRY_ASSIGN(std::string kind, ctx.fleet->kind_of(g.members.front().address.device));
  api::Backend* judge = ctx.plugins.find(kind);
  if (!judge) return Error::usage("no plugin for device kind " + kind, "see `hsm-migrate plugins`");
  return judge->check_ha_group(desc, ctx.client);
}

namespace {

Status refusal_of(const HaGroupReport& r) {
  std::size_t n = 0;
  const api::Verdict* first = nullptr;
  for (const auto& v : r.verdicts)
    if (!v.allowed && n++ == 0) first = &v;
  if (!first) return {};
  std::string msg = first->message;
  if (n > 1) msg += " (and " + std::to_string(n - 1) + " more refusal(s); see `hsm-migrate hagroup check`)";
  return Error::refused(first->rule, first->code, msg, first->fix);
}

Result<HaGroupRecord> find_in(const std::vector<HaGroupRecord>& groups, const std::string& name,
                              const fs::path& file) {
  for (const auto& g : groups)
    if (g.name == name) return g;
  return Error::usage("no HA group named " + name + " in " + file.string(),
                      "see `hsm-migrate hagroup list`, or create it with `hsm-migrate hagroup create`");
}

// Judges `next` and stores it in place of the group `name` (or removes the
// group when `next` has no member), unless a rule refuses it.
Result<HaGroupReport> judge_and_store(Context& ctx, HaGroupStore& store, const std::string& name,
                                      const std::function<Result<HaGroupRecord>(const std::vector<HaGroupRecord>&)>& make) {
  HaGroupReport rep;
  HSM_TRY(store.update([&](std::vector<HaGroupRecord>& groups) -> Status {
    HSM_TRY_ASSIGN(rep.group, make(groups));
    HSM_TRY_ASSIGN(rep.verdicts, judge_group(ctx, rep.group));
    HSM_TRY(refusal_of(rep));
    groups.erase(std::remove_if(groups.begin(), groups.end(), [&](const HaGroupRecord& g) { return g.name == name; }),
                 groups.end());
    if (rep.group.members.empty()) rep.dissolved = true;
    else groups.push_back(rep.group);
    return {};
  }));
  return rep;
}

}  // namespace

Result<HaGroupReport> hagroup_create(Context& ctx, const std::string& name, const std::vector<HaMember>& members) {
  HSM_TRY(check_group_name(name));
  if (members.empty()) return Error::usage("an HA group needs a primary member", "give --primary DEV/PART");
  HaGroupStore store(ctx.fleet->home());
  return judge_and_store(ctx, store, name, [&](const std::vector<HaGroupRecord>& groups) -> Result<HaGroupRecord> {
    for (const auto& g : groups)
      if (g.name == name)
        return Error::usage("HA group " + name + " already exists",
                            "choose another name, or change it with `hsm-migrate hagroup add`/`remove`");
    HaGroupRecord g{name, members};
    g.members.front().standby = false;  // the primary is active (H3)
    return g;
  });
}

Result<HaGroupReport> hagroup_add(Context& ctx, const std::string& name, const Address& member, bool standby,
                                  bool primary) {
  HaGroupStore store(ctx.fleet->home());
  return judge_and_store(ctx, store, name, [&](const std::vector<HaGroupRecord>& groups) -> Result<HaGroupRecord> {
    HSM_TRY_ASSIGN(HaGroupRecord g, find_in(groups, name, store.file()));
    if (g.has(member))
      return Error::refused("H3", "CKR_TEMPLATE_INCONSISTENT",
                            address_str(member) + " is already a member of HA group \"" + name + "\"",
                            "list each member once");
    if (primary) g.members.insert(g.members.begin(), HaMember{member, false});
    else g.members.push_back(HaMember{member, standby});
    return g;
  });
}

Result<HaGroupReport> hagroup_remove(Context& ctx, const std::string& name, const Address& member) {
  HaGroupStore store(ctx.fleet->home());
  return judge_and_store(ctx, store, name, [&](const std::vector<HaGroupRecord>& groups) -> Result<HaGroupRecord> {
    HSM_TRY_ASSIGN(HaGroupRecord g, find_in(groups, name, store.file()));
    if (!g.has(member))
      return Error::usage(address_str(member) + " is not a member of HA group \"" + name + "\"",
                          "see `hsm-migrate hagroup show " + name + "`");
    g.members.erase(std::remove_if(g.members.begin(), g.members.end(),
                                   [&](const HaMember& m) {
                                     return m.address.device == member.device &&
                                            m.address.partition == member.partition;
                                   }),
                    g.members.end());
    if (!g.members.empty()) g.members.front().standby = false;  // the next member takes over (H3)
    return g;
  });
}

Result<std::optional<HaGroupRecord>> hagroup_find(Context& ctx, const std::string& name) {
  HaGroupStore store(ctx.fleet->home());
  HSM_TRY_ASSIGN(auto groups, store.load());
  for (auto& g : groups)
    if (g.name == name) return std::optional<HaGroupRecord>(std::move(g));
  return std::optional<HaGroupRecord>{};
}

Result<HaGroupReport> hagroup_check(Context& ctx, const std::string& name) {
  HaGroupStore store(ctx.fleet->home());
  HSM_TRY_ASSIGN(auto groups, store.load());
  HaGroupReport rep;
  HSM_TRY_ASSIGN(rep.group, find_in(groups, name, store.file()));
  HSM_TRY_ASSIGN(rep.verdicts, judge_group(ctx, rep.group));
  // Synchronisation: each secondary's objects against the primary's.
  std::multiset<std::string> primary;
  for (std::size_t i = 0; i < rep.group.members.size(); ++i) {
    const Address& a = rep.group.members[i].address;
    HSM_TRY_ASSIGN(auto part, ctx.fleet->open_partition(a));
    HSM_TRY(ctx.login(*part, a));  // private objects need the login
    std::multiset<std::string> mine;
    HSM_TRY(part->for_each_object([&](const api::ObjectDesc& o) {
      mine.insert(o.fingerprint);
      return true;
    }));
    if (i == 0) {
      primary = std::move(mine);
      continue;
    }
    MemberSync s{a};
    for (const auto& f : primary) s.missing += mine.count(f) ? 0 : 1;
    for (const auto& f : mine) s.extra += primary.count(f) ? 0 : 1;
    rep.sync.push_back(s);
  }
  return rep;
}

bool HaGroupReport::in_sync() const {
  for (const auto& s : sync)
    if (!s.in_sync()) return false;
  return true;
}

json to_json(const HaGroupRecord& g) {
  json members = json::array();
  for (std::size_t i = 0; i < g.members.size(); ++i)
    members.push_back({{"address", address_str(g.members[i].address)},
                       {"primary", i == 0},
                       {"standby", g.members[i].standby}});
  return {{"name", g.name},
          {"primary", g.members.empty() ? json(nullptr) : json(address_str(g.members.front().address))},
          {"members", members}};
}

json to_json(const HaGroupReport& r) {
  json j = to_json(r.group);
  j["allowed"] = r.allowed();
  json vs = json::array();
  for (const auto& v : r.verdicts) vs.push_back(to_json(v));
  j["verdicts"] = vs;
  if (!r.sync.empty()) {
    json sync = json::array();
    for (const auto& s : r.sync)
      sync.push_back({{"address", address_str(s.address)},
                      {"status", s.in_sync() ? "in sync" : "needs sync"},
                      {"missing", s.missing},
                      {"extra", s.extra}});
    j["sync"] = sync;
    j["in_sync"] = r.in_sync();
  }
  if (r.dissolved) j["dissolved"] = true;
  return j;
}

}  // namespace hsm::tool
