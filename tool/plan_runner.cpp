#include "tool/plan_runner.hpp"

#include "formats/archive_reader.hpp"
#include "formats/archive_writer.hpp"

#include <boost/dll/runtime_symbol_info.hpp>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "tool/hagroups.hpp"
#include "tool/lock.hpp"
#include "tool/secrets.hpp"
#include "tool/archive_ops.hpp"
#include "tool/backup_hsm_ops.hpp"
#include "tool/clone_ops.hpp"
#include "tool/prune_ops.hpp"

namespace hsm::tool {

namespace fs = std::filesystem;
using api::Error;
using api::Result;
using api::Status;

// ---- finding plans ------------------------------------------------------------

std::vector<fs::path> plan_search_path() {
  std::vector<fs::path> out;
  if (const char* env = std::getenv("HSM_MIGRATE_PLAN_PATH"); env && *env) {
    std::string s = env;
    std::size_t start = 0;
    while (start <= s.size()) {
      auto end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) out.emplace_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  const fs::path exe = boost::dll::program_location().string();
  out.push_back(exe.parent_path().parent_path() / "share" / "hsm-migrate" / "plans");
#ifdef HSM_MIGRATE_SOURCE_DIR
  out.push_back(fs::path(HSM_MIGRATE_SOURCE_DIR) / "migrations" / "plans");
#endif
  return out;
}

Result<LoadedPlan> load_plan(const std::string& spec) {
  std::error_code ec;
  fs::path file;
  if (fs::is_regular_file(spec, ec)) {
    file = spec;
  } else if (spec.find('/') == std::string::npos && !spec.empty()) {
    const std::string name = spec.ends_with(".toml") ? spec : spec + ".toml";
    for (const auto& dir : plan_search_path())
      if (fs::is_regular_file(dir / name, ec)) {
        file = dir / name;
        break;
      }
  }
  if (file.empty()) {
    std::string where;
    for (const auto& d : plan_search_path()) where += (where.empty() ? "" : ", ") + d.string();
    return Error::usage("no plan file " + spec + ", and no built-in plan of that name (looked in " + where + ")",
                        "give a path to a .toml plan, or a built-in name such as luna6-to-luna7");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error::usage("cannot read plan " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  LoadedPlan lp;
  lp.file = file;
  lp.bytes = ss.str();
  HSM_TRY_ASSIGN(lp.plan, plans::parse_plan_string(lp.bytes, file.string()));
  lp.plan.source = spec;  // as the user named it: messages say "luna6-to-luna7:93"
  return lp;
}

api::ClientDesc plan_client(const Context& ctx, const plans::Plan& plan) {
  api::ClientDesc c = plan.client;
  if (!ctx.opts.client_version.empty()) c.version = ctx.client.version;
  if (!ctx.opts.cv_ha_ui.empty()) c.cv_ha_ui = ctx.client.cv_ha_ui;
  return c;
}

// ---- secrets --------------------------------------------------------------------

namespace {

Address tool_address(const plans::Address& a) { return Address{a.device, a.partition}; }

Result<api::SecretBytes> from_source(const plans::SecretSource& s, const std::string& what) {
  if (!s.env.empty()) {
    const char* v = std::getenv(s.env.c_str());
    if (!v || !*v) return Error::usage(what + " comes from $" + s.env + ", which is not set", "set " + s.env);
    return api::secret_from(v);
  }
  return read_secret_file(s.file, what);
}

// A partition's PIN as the plan gives it, else from the PIN paths.
Result<api::SecretBytes> plan_pin(const Context& ctx, const plans::Plan& plan, const plans::Address& a) {
  const plans::PartitionSpec* ps = plan.partition(a);
  if (ps && !ps->pin.empty()) return from_source(ps->pin, "the PIN of " + a.str());
  return partition_pin(ctx.opts.pin_file, a.str());
}

std::string key_base(const plans::KeySpec& k) { return k.label.empty() ? k.type : k.label; }

bool asymmetric_type(const std::string& type) {
  return type.starts_with("rsa-") || type.starts_with("ec-") || type == "ed25519";
}

}  // namespace

// ---- the live fleet -------------------------------------------------------------

Result<plans::FleetState> live_state(Context& ctx, const plans::Plan& plan) {
  plans::FleetState st;
  for (const auto& d : plan.devices) {
    if (d.mode == plans::DeviceMode::described) continue;
    if (!ctx.fleet->kind_of(d.name).ok()) continue;  // absent: the plan creates it
    HSM_TRY_ASSIGN(auto dev, ctx.fleet->open(d.name));
    plans::DeviceState ds;
    HSM_TRY_ASSIGN(ds.desc, dev->describe());
    HSM_TRY_ASSIGN(auto names, dev->partition_names());
    for (const auto& n : names) {
      HSM_TRY_ASSIGN(auto part, dev->open_partition(n));
      // Its objects are private (PKCS#11): the plan's partitions are read
      // logged in with the plan's PIN; a partition the plan does not name
      // is seen as anyone sees it (public objects only) if that PIN fails.
      const bool declared = std::any_of(d.partitions.begin(), d.partitions.end(),
                                        [&](const plans::PartitionSpec& p) { return p.name == n; });
      Status in = Status(Error::usage("no PIN"));
      if (auto pin = plan_pin(ctx, plan, plans::Address{d.name, n}); pin.ok()) in = part->login(*pin);
      if (!in.ok() && declared) return in.error();
      HSM_TRY_ASSIGN(api::Endpoint ep, part->describe());
      plans::PartitionState ps;
      ps.desc = ep.partition;
      HSM_TRY(part->for_each_object([&](const api::ObjectDesc& o) {
        ps.objects.push_back(o);
        return true;
      }));
      ps.desc.object_count = ps.objects.size();
      ds.partitions[n] = std::move(ps);
    }
    // Each plan domain's fingerprint, as a live partition of the plan holds it.
    for (const auto& p : d.partitions) {
      auto it = ds.partitions.find(p.name);
      if (it == ds.partitions.end()) continue;
      for (const auto& u : p.domains)
        for (const auto& live : it->second.desc.domains)
          if (live.label == u.label && !st.domain_fingerprints.count(u.name))
            st.domain_fingerprints[u.name] = live.fingerprint;
    }
    st.devices[d.name] = std::move(ds);
  }
  HaGroupStore store(ctx.fleet->home());
  HSM_TRY_ASSIGN(auto groups, store.load());
  for (const auto& g : groups) {
    std::vector<plans::Address> members;
    bool known = true;
    for (const auto& m : g.members) {
      plans::Address a{m.address.device, m.address.partition};
      if (!st.partition(a)) known = false;
      members.push_back(std::move(a));
    }
    if (known && !members.empty()) st.groups[g.name] = std::move(members);
  }
  return st;
}


Result<api::SecretBytes> ToolStepRunner::pin_of(const plans::Address& a) const { return plan_pin(ctx_, plan_, a); }

Result<api::DomainSecret> ToolStepRunner::domain_of(const std::string& domain, const std::string& label) const {
  const plans::DomainSpec* ds = plan_.domain(domain);
  if (!ds || ds->secret.empty()) return domain_secret(domain_file_, "", label);
  if (!ds->secret.ped_key.empty()) return domain_secret("", ds->secret.ped_key, label);
  api::DomainSecret d;
  d.kind = api::DomainKind::text;
  d.label = label;
  HSM_TRY_ASSIGN(d.secret, from_source(ds->secret, "the secret of domain " + domain));
  return d;
}

Result<std::unique_ptr<api::Partition>> ToolStepRunner::open_logged_in(const plans::Address& a) {
  HSM_TRY_ASSIGN(auto part, ctx_.fleet->open_partition(tool_address(a)));
  HSM_TRY_ASSIGN(api::SecretBytes pin, pin_of(a));
  HSM_TRY(part->login(pin));
  return part;
}

Result<plans::FleetState> ToolStepRunner::live() { return live_state(ctx_, plan_); }

// ---- setup ----------------------------------------------------------------------

void ToolStepRunner::discard_interrupted_create(const std::string& device) const {
  // A folder without its `kind` file is a create a crash interrupted
  // (tool/fleet.hpp); this run started it (the journal says so), so it goes.
  std::error_code ec;
  const fs::path dir = ctx_.fleet->home() / "devices" / device;
  if (fs::exists(dir, ec) && !fs::exists(dir / "kind", ec)) fs::remove_all(dir, ec);
}

Result<std::string> ToolStepRunner::create_device(const plans::DeviceSpec& d) {
  if (d.mode == plans::DeviceMode::token) return register_token(d);
  std::string summary;
  if (!ctx_.fleet->kind_of(d.name).ok()) {
    discard_interrupted_create(d.name);
    api::DeviceCreateRequest req;
    req.firmware = d.firmware;
    req.fm_enabled = d.fm;
    HSM_TRY(ctx_.fleet->create(d.name, std::string(api::to_string(d.kind)), req));
    summary = "created device " + d.name + " (" + std::string(api::to_string(d.kind)) + " " + d.firmware.str() +
              (d.fm ? ", FM enabled" : "") + ")";
  } else {
    summary = "device " + d.name + " exists";
  }
  if (!d.hsm_policies.empty()) {
    HSM_TRY_ASSIGN(auto dev, ctx_.fleet->open(d.name));
    for (auto [id, value] : d.hsm_policies) HSM_TRY(dev->set_hsm_policy(id, value));
    summary += ", HSM policies set";
  }
  return summary;
}

Result<std::string> ToolStepRunner::create_partition(const plans::DeviceSpec& d, const plans::PartitionSpec& p) {
  if (d.mode == plans::DeviceMode::token) return join_token_domains(d, p);
  const plans::Address a{d.name, p.name};
  HSM_TRY_ASSIGN(auto dev, ctx_.fleet->open(d.name));
  HSM_TRY_ASSIGN(auto names, dev->partition_names());
  std::string summary;
  if (std::find(names.begin(), names.end(), p.name) == names.end()) {
    api::PartitionCreateRequest req;
    req.name = p.name;
    req.type = p.type;
    req.auth = p.auth;
    req.fips = p.fips;
    const plans::DomainUse& first = p.domains.front();
    HSM_TRY_ASSIGN(req.domain, domain_of(first.name, first.label));
    HSM_TRY_ASSIGN(req.pin, pin_of(a));
    HSM_TRY(dev->create_partition(req));
    summary = "created partition " + a.str() + (p.fips ? " (FIPS)" : "") + " in domain " + first.name;
  } else {
    summary = "partition " + a.str() + " exists";
  }
  if (!p.policies.empty() || p.suites) {
    HSM_TRY_ASSIGN(auto part, open_logged_in(a));
    for (auto [id, value] : p.policies) HSM_TRY(part->set_policy(id, value));
    if (p.suites) {
      HSM_TRY_ASSIGN(api::Endpoint ep, part->describe());
      for (const auto& s : ep.partition.suites_available)
        HSM_TRY(part->set_suite(s, std::find(p.suites->begin(), p.suites->end(), s) != p.suites->end()));
    }
  }
  return summary;
}

Result<std::string> ToolStepRunner::generate_keys(const plans::DeviceSpec& d, const plans::PartitionSpec& p,
                                                  const plans::KeySpec& k) {
  const plans::Address a{d.name, p.name};
  // The partition's writer lock, as `key generate` takes it.
  auto lock = PartitionLock::acquire(ctx_.fleet->home(), a.device, a.partition, "plan run: key generate", 0);
  if (!lock.ok()) return lock.error();
  HSM_TRY_ASSIGN(auto part, open_logged_in(a));
  // Idempotent: the keys of this KeySpec are found by label (a crash after
  // the device committed them but before the journal said so).
  const std::string base = key_base(k);
  std::set<std::string> labels;
  if (k.count == 1) labels.insert(base);
  else
    for (int i = 1; i <= k.count; ++i) labels.insert(base + "-" + std::to_string(i));
  const std::size_t want = static_cast<std::size_t>(k.count) * (asymmetric_type(k.type) ? 2 : 1);
  std::size_t have = 0;
  HSM_TRY(part->for_each_object([&](const api::ObjectDesc& o) {
    have += labels.count(o.label);
    return true;
  }));
  if (have == want) return "keys " + base + " (" + std::to_string(want) + " object(s)) already in " + a.str();
  if (have != 0) {
    Error e = Error::integrity(a.str() + " holds " + std::to_string(have) + " of the " + std::to_string(want) +
                               " objects labelled " + base + " that the plan generates");
    e.fix = "remove the partition's stray objects or rename the plan's keys";
    return e;
  }
  api::KeyGenRequest req;
  req.type = k.type;
  req.count = k.count;
  req.label = base;
  req.extractable = k.extractable;
  req.mechanism = k.keygen;
  req.client = ctx_.client;
  if (progress_)
    req.progress = [this](std::uint64_t done, std::uint64_t total) { progress_("generate keys", done, total); };
  HSM_TRY_ASSIGN(api::KeyGenResult made, part->generate_keys(req));
  std::string notes;
  for (const auto& n : made.notices) notes += "; rule " + n.rule + ": " + n.message;
  return "generated " + std::to_string(made.created.size()) + " object(s) " + k.type + " \"" + base + "\" in " +
         a.str() + notes;
}

Result<std::string> ToolStepRunner::create_group(const plans::GroupSpec& g) {
  plans::HaGroupCreateStep s;
  s.group = g.name;
  s.members = g.members;
  return hagroup_create(s);
}

// ---- configuration steps --------------------------------------------------------

Result<std::string> ToolStepRunner::upgrade(const plans::UpgradeStep& s) {
  HSM_TRY_ASSIGN(auto dev, ctx_.fleet->open(s.device));
  HSM_TRY_ASSIGN(api::DeviceDesc before, dev->describe());
  if (before.firmware == s.firmware) return s.device + " already runs " + s.firmware.str();
  HSM_TRY(dev->upgrade(s.firmware));
  return "upgraded " + s.device + " from " + before.firmware.str() + " to " + s.firmware.str();
}

Result<std::string> ToolStepRunner::enable_fm(const plans::EnableFmStep& s) {
  HSM_TRY_ASSIGN(auto dev, ctx_.fleet->open(s.device));
  HSM_TRY_ASSIGN(api::DeviceDesc d, dev->describe());
  if (d.fm == api::FmState::enabled) return "Functionality Modules already enabled on " + s.device;
  HSM_TRY(dev->enable_fm());
  return "Functionality Modules enabled on " + s.device;
}

Result<std::string> ToolStepRunner::policy(const plans::PolicyStep& s) {
  std::string set;
  for (auto [id, v] : s.set) set += (set.empty() ? "" : ", ") + std::to_string(id) + "=" + std::to_string(v);
  if (s.target.partition.empty()) {
    HSM_TRY_ASSIGN(auto dev, ctx_.fleet->open(s.target.device));
    for (auto [id, v] : s.set) HSM_TRY(dev->set_hsm_policy(id, v));
    return "HSM policies " + set + " on " + s.target.device;
  }
  HSM_TRY_ASSIGN(auto part, open_logged_in(s.target));
  for (auto [id, v] : s.set) HSM_TRY(part->set_policy(id, v));
  return "partition policies " + set + " on " + s.target.str();
}

Result<std::string> ToolStepRunner::domain_add(const plans::DomainAddStep& s) {
  HSM_TRY_ASSIGN(auto part, open_logged_in(s.partition));
  HSM_TRY_ASSIGN(api::Endpoint ep, part->describe());
  for (const auto& d : ep.partition.domains)
    if (d.label == s.label) return "domain " + s.label + " already on " + s.partition.str();
  HSM_TRY_ASSIGN(api::DomainSecret secret, domain_of(s.domain, s.label));
  HSM_TRY(part->domain_add(secret, s.primary));
  return "domain " + s.domain + " added to " + s.partition.str() + " as " + s.label + (s.primary ? " (primary)" : "");
}

Result<std::string> ToolStepRunner::domain_label(const plans::DomainLabelStep& s) {
  HSM_TRY_ASSIGN(auto part, open_logged_in(s.partition));
  HSM_TRY_ASSIGN(api::Endpoint ep, part->describe());
  bool old_there = false, new_there = false;
  for (const auto& d : ep.partition.domains) {
    old_there = old_there || d.label == s.label;
    new_there = new_there || (d.label == s.new_label && (!s.primary || d.primary));
  }
  if (!old_there && new_there) return "domain already labelled " + s.new_label + " on " + s.partition.str();
  HSM_TRY(part->domain_label(s.label, s.new_label, s.primary));
  return "domain " + (s.label.empty() ? std::string("(unlabelled)") : s.label) + " on " + s.partition.str() +
         " labelled " + s.new_label + (s.primary ? " and made primary" : "");
}

Result<std::string> ToolStepRunner::domain_delete(const plans::DomainDeleteStep& s) {
  HSM_TRY_ASSIGN(auto part, open_logged_in(s.partition));
  HSM_TRY_ASSIGN(api::Endpoint ep, part->describe());
  const bool there = std::any_of(ep.partition.domains.begin(), ep.partition.domains.end(),
                                 [&](const api::DomainDesc& d) { return d.label == s.label; });
  if (!there) return "domain " + s.label + " already gone from " + s.partition.str();
  HSM_TRY(part->domain_delete(s.label));
  return "domain " + s.label + " deleted from " + s.partition.str();
}

Result<std::string> ToolStepRunner::suites(const plans::SuitesStep& s) {
  HSM_TRY_ASSIGN(auto part, open_logged_in(s.partition));
  for (const auto& x : s.enable) HSM_TRY(part->set_suite(x, true));
  for (const auto& x : s.disable) HSM_TRY(part->set_suite(x, false));
  HSM_TRY_ASSIGN(api::Endpoint ep, part->describe());
  std::string on;
  for (const auto& x : ep.partition.suites_enabled) on += (on.empty() ? "" : ", ") + x;
  return "CPv4 suites on " + s.partition.str() + ": " + (on.empty() ? "none" : on);
}

// ---- HA groups (the same operations as the hagroup commands) --------------------

Result<std::string> ToolStepRunner::hagroup_create(const plans::HaGroupCreateStep& s) {
  HSM_TRY_ASSIGN(auto have, hagroup_find(ctx_, s.group));
  if (have) {
    bool same = have->members.size() == s.members.size();
    for (std::size_t i = 0; same && i < s.members.size(); ++i)
      same = have->members[i].address.device == s.members[i].device &&
             have->members[i].address.partition == s.members[i].partition;
    if (same) return "HA group " + s.group + " already exists with these members";
  }
  // In a plan the members after the primary join as standbys (hsm-migrate-plan(5)).
  std::vector<HaMember> members;
  for (std::size_t i = 0; i < s.members.size(); ++i) members.push_back({tool_address(s.members[i]), i > 0});
  HSM_TRY_ASSIGN(HaGroupReport r, tool::hagroup_create(ctx_, s.group, members));
  return "created HA group " + s.group + " (primary " + s.members.front().str() + ", " +
         std::to_string(s.members.size()) + " member(s))" +
         (r.verdicts.empty() ? "" : ", " + std::to_string(r.verdicts.size()) + " warning(s)");
}

Result<std::string> ToolStepRunner::hagroup_add(const plans::HaGroupAddStep& s) {
  HSM_TRY_ASSIGN(auto have, hagroup_find(ctx_, s.group));
  if (have && have->has(tool_address(s.member)))
    return s.member.str() + " is already a member of HA group " + s.group;
  HSM_TRY_ASSIGN(HaGroupReport r, tool::hagroup_add(ctx_, s.group, tool_address(s.member), !s.primary, s.primary));
  return s.member.str() + " joined HA group " + s.group + (s.primary ? " as the primary" : " as a standby") +
         (r.verdicts.empty() ? "" : ", " + std::to_string(r.verdicts.size()) + " warning(s)");
}

Result<std::string> ToolStepRunner::hagroup_remove(const plans::HaGroupRemoveStep& s) {
  HSM_TRY_ASSIGN(auto have, hagroup_find(ctx_, s.group));
  if (!have || !have->has(tool_address(s.member)))
    return s.member.str() + " is no longer a member of HA group " + s.group;
  HSM_TRY_ASSIGN(HaGroupReport r, tool::hagroup_remove(ctx_, s.group, tool_address(s.member)));
  if (r.dissolved) return s.member.str() + " left HA group " + s.group + ", which is dissolved";
  return s.member.str() + " left HA group " + s.group + " (primary now " +
         address_str(r.group.members.front().address) + ")";
}

// ---- object flows ---------------------------------------------------------------

namespace {

// One line for a clone-like outcome, or the first per-object refusal as the
// step's error (the checker said every object passes; a device disagreeing
// stops the plan, resumable once fixed).
Result<std::string> clone_summary(const CloneOutcome& out, const std::string& what) {
  const auto count = [&](const char* key) -> std::size_t {
    return out.doc.contains(key) && out.doc[key].is_array() ? out.doc[key].size() : 0;
  };
  if (out.refused) {
    if (out.doc.contains("refused") && out.doc["refused"].is_array() && !out.doc["refused"].empty()) {
      const json& r = out.doc["refused"][0];
      const auto str = [&](const char* k) { return r.contains(k) && r[k].is_string() ? r[k].get<std::string>() : ""; };
      return Error::refused(str("rule"), str("code"),
                            what + ": " + std::to_string(out.refused) + " object(s) refused; first: " + str("label") +
                                ": " + str("message"),
                            str("fix"));
    }
    return Error::refused("", "", what + ": " + std::to_string(out.refused) + " object(s) refused");
  }
  const std::string proto = out.doc.contains("protocol") && out.doc["protocol"].is_string()
                                ? out.doc["protocol"].get<std::string>()
                                : "?";
  return what + " by " + proto + ": " + std::to_string(count("cloned")) + " cloned, " +
         std::to_string(count("already_present")) + " already present";
}

fs::path under_home(const Context& ctx, const std::string& p) {
  const fs::path path(p);
  return path.is_absolute() ? path : ctx.fleet->home() / path;
}

// An archive address of a step: a file (relative to --home) or an S3
// address, used as given (endpoint and credentials from the AWS places).
std::string archive_address(const Context& ctx, const std::string& p) {
  return is_s3(p) ? p : under_home(ctx, p).string();
}

// The object each backup step of this run wrote under an S3 repository
// prefix (s3://BUCKET/PREFIX/ names the object by the layout): a later
// verify, restore or drill step naming the same prefix reads that object,
// not merely the newest one there.
std::map<std::string, std::string>& written_objects() {
  static std::map<std::string, std::string> m;
  return m;
}

std::string archive_to_read(const Context& ctx, const std::string& p) {
  auto it = written_objects().find(p);
  return it != written_objects().end() ? it->second : archive_address(ctx, p);
}

// A resumed backup step to S3: the archive its interrupted attempt wrote, if
// it completed (its id is in the journal and in the key or the header).
Result<std::optional<std::string>> s3_written_by_attempt(const std::string& address,
                                                         const std::set<std::string>& written_ids) {
  if (written_ids.empty()) return std::optional<std::string>{};
  HSM_TRY_ASSIGN(repo::s3::S3Address a, repo::s3::parse_s3_address(address));
  HSM_TRY_ASSIGN(auto client, open_s3_client({}));
  if (is_repository_prefix(a)) {
    HSM_TRY_ASSIGN(std::vector<RepoArchive> all, list_repository(*client, a));
    for (const auto& r : all)
      if (r.layout && written_ids.count(formats::to_hex(r.layout->archive_id)))
        return std::optional<std::string>("s3://" + a.bucket + "/" + r.key);
    return std::optional<std::string>{};
  }
  auto opened = open_archive({}, address, false);
  if (!opened.ok()) return std::optional<std::string>{};  // not written: the step runs
  auto header = formats::read_header(opened->reader());
  if (header.ok() && written_ids.count(formats::to_hex(header->archive_id))) return std::optional<std::string>(address);
  return std::optional<std::string>{};
}

}  // namespace

Result<std::string> ToolStepRunner::clone(const plans::CloneStep& s, const plans::BatchHook& hook) {
  CloneRequest req;
  req.source = tool_address(s.from);
  req.target = tool_address(s.to);
  req.selector = s.objects;
  req.progress = progress_;
  HSM_TRY_ASSIGN(CloneOutcome out, run_clone(ctx_, req, hook));
  return clone_summary(out, "clone " + s.from.str() + " -> " + s.to.str());
}

Result<std::string> ToolStepRunner::backup(const plans::BackupStep& s, const std::string& archive,
                                           const std::set<std::string>& written_ids,
                                           const plans::ArchiveIdHook& before_write, const plans::BatchHook& hook) {
  if (s.to) {
    HsmBackupRequest req;
    req.source = tool_address(s.from);
    req.target = tool_address(*s.to);
    req.replace = s.mode == plans::CopyMode::replace;  // X5
    req.progress = progress_;
    HSM_TRY_ASSIGN(CloneOutcome out, run_backup_to_hsm(ctx_, req, hook));
    return clone_summary(out, "backup " + s.from.str() + " -> " + s.to->str());
  }
  if (is_s3(archive)) {
    HSM_TRY_ASSIGN(std::optional<std::string> done, s3_written_by_attempt(archive, written_ids));
    if (done) {
      VerifyRequest v;
      v.archive = *done;
      HSM_TRY(run_verify(ctx_, v));
      written_objects()[archive] = *done;
      return "archive " + *done + " already written by the interrupted attempt of this step (verified)";
    }
    BackupRequest req;
    req.source = tool_address(s.from);
    req.archive = archive;
    req.force = s.force;
    HSM_TRY_ASSIGN(formats::ArchiveId id, formats::new_archive_id());
    req.archive_id = id;
    if (before_write) HSM_TRY(before_write(formats::to_hex(id)));
    req.progress = progress_;
    HSM_TRY_ASSIGN(ArchiveOutcome out, run_backup(ctx_, req));
    const std::string written = out.doc["archive"].get<std::string>();
    written_objects()[archive] = written;
    const std::size_t objects =
        out.doc.contains("objects") && out.doc["objects"].is_number() ? out.doc["objects"].get<std::size_t>() : 0;
    if (hook) HSM_TRY(hook(1, objects, 0));
    return "backup " + s.from.str() + " -> archive " + written + " (" + std::to_string(objects) + " object(s))";
  }
  const fs::path file = under_home(ctx_, archive);
  std::error_code ec;
  if (fs::exists(file, ec)) {
    // Only an archive this step's interrupted attempt wrote (its id is in
    // the journal) counts as this run's backup; it is verified first.
    auto header = formats::read_header(file);
    const std::string id = header.ok() ? formats::to_hex(header->archive_id) : "";
    if (header.ok() && written_ids.count(id)) {
      VerifyRequest v;
      v.archive = file.string();
      HSM_TRY(run_verify(ctx_, v));
      return "archive " + file.string() + " already written by the interrupted attempt of this step (archive id " +
             id.substr(0, 16) + ", verified)";
    }
    if (!s.force)
      return Error::usage("archive " + file.string() + " exists and was not written by this run of the plan" +
                              (header.ok() ? " (its archive id " + id.substr(0, 16) + " is not in the journal)" : ""),
                          "move it away, give the step a name template that differs per run (e.g. %Y%m%d-%H%M%S), "
                          "or set force = true on the step");
  }
  fs::create_directories(file.parent_path(), ec);
  BackupRequest req;
  req.source = tool_address(s.from);
  req.archive = file.string();
  req.force = s.force;
  HSM_TRY_ASSIGN(formats::ArchiveId id, formats::new_archive_id());
  req.archive_id = id;
  if (before_write) HSM_TRY(before_write(formats::to_hex(id)));
  req.progress = progress_;
  HSM_TRY_ASSIGN(ArchiveOutcome out, run_backup(ctx_, req));
  const std::size_t objects =
      out.doc.contains("objects") && out.doc["objects"].is_number() ? out.doc["objects"].get<std::size_t>() : 0;
  if (hook) HSM_TRY(hook(1, objects, 0));
  return "backup " + s.from.str() + " -> archive " + file.string() + " (" + std::to_string(objects) + " object(s))";
}

Result<std::string> ToolStepRunner::restore(const plans::RestoreStep& s, const std::string& archive,
                                            const plans::BatchHook& hook) {
  if (s.from) {
    HsmRestoreRequest req;
    req.source = tool_address(*s.from);
    req.target = tool_address(s.to);
    req.selector = s.objects;
    req.replace = s.mode == plans::CopyMode::replace;
    req.progress = progress_;
    HSM_TRY_ASSIGN(CloneOutcome out, run_restore_from_hsm(ctx_, req, hook));
    return clone_summary(out, "restore " + s.from->str() + " -> " + s.to.str());
  }
  RestoreRequest req;
  req.archive = archive_to_read(ctx_, archive);
  req.target = tool_address(s.to);
  req.mode = s.mode == plans::CopyMode::replace ? RestoreMode::replace : RestoreMode::add;
  req.selector = s.objects;
  req.progress = progress_;
  HSM_TRY_ASSIGN(ArchiveOutcome out, run_restore(ctx_, req));
  const json counts = out.doc.contains("counts") ? out.doc["counts"] : json::object();
  if (hook) HSM_TRY(hook(1, counts.value("created", std::size_t{0}), counts.value("already_present", std::size_t{0})));
  if (out.refused_or_failed)
    return Error::refused("", "", std::to_string(out.refused_or_failed) + " object(s) of " + req.archive +
                                      " refused by " + s.to.str());
  return "restore archive " + req.archive + " -> " + s.to.str() + ": " +
         std::to_string(counts.value("created", std::size_t{0})) + " restored, " +
         std::to_string(counts.value("already_present", std::size_t{0})) + " already present";
}

Result<std::string> ToolStepRunner::verify(const plans::VerifyStep& s, const std::string& archive) {
  VerifyRequest req;
  req.archive = archive_to_read(ctx_, archive);
  if (s.with) req.deep_with = tool_address(*s.with);
  req.progress = progress_;
  HSM_TRY(run_verify(ctx_, req));
  return "verified archive " + req.archive + (s.with ? " (deep, with " + s.with->str() + ")" : "");
}

Result<std::string> ToolStepRunner::drill(const plans::DrillStep& s, const std::string& archive) {
  DrillRequest req;
  req.archive = archive_to_read(ctx_, archive);
  req.scratch = tool_address(s.scratch);
  req.progress = progress_;
  HSM_TRY_ASSIGN(ArchiveOutcome out, run_drill(ctx_, req));
  if (out.refused_or_failed)
    return Error::integrity("drill of " + req.archive + " in " + s.scratch.str() + ": " +
                            std::to_string(out.refused_or_failed) + " key(s) failed");
  return "drilled archive " + req.archive + " in " + s.scratch.str() + ": every key used";
}

Result<std::string> ToolStepRunner::prune(const plans::PruneStep& s) {
  PruneRequest req;
  req.dir = archive_address(ctx_, s.dir);
  req.keep.daily = s.keep_daily;
  req.keep.weekly = s.keep_weekly;
  req.keep.monthly = s.keep_monthly;
  HSM_TRY_ASSIGN(PruneOutcome out, run_prune(ctx_, req));
  return "pruned " + req.dir.string() + ": " + std::to_string(out.kept) + " kept, " + std::to_string(out.removed) +
         " removed";
}

}  // namespace hsm::tool
