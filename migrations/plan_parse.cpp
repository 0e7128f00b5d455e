// The plan parser: TOML (toml++) -> Plan, with every key checked. A bad plan
// is refused with Error::usage listing each problem as "FILE:LINE: ...".
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "migrations/internal.hpp"
#include "migrations/plan.hpp"
#include "migrations/plan_parse_token.hpp"
#include "migrations/plan_reader.hpp"
#include "plugins/luna/rules/kind_profile.hpp"

namespace hsm::plans {

using api::Error;
using api::Result;

namespace {

using namespace detail;

// ---- the plan ---------------------------------------------------------------

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  Result<Plan> run(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, std::string_view(source_));
    } catch (const toml::parse_error& e) {
      const int line = static_cast<int>(e.source().begin.line);
      Error err = Error::usage(source_ + ":" + std::to_string(line) + ": " + printable(e.description()),
                               "see man 5 hsm-migrate-plan for the plan syntax");
      err.problems.push_back({source_, line, printable(e.description())});
      return err;
    }
    plan_.source = source_;
    Reader top(diags_, root, "the plan", {"plan", "domain", "device", "hagroup", "step"});
    read_header(top);
    for (const toml::table* t : top.tables("domain", "an array of tables ([[domain]])")) read_domain(*t);
    for (const toml::table* t : top.tables("device", "an array of tables ([[device]])")) read_device(*t);
    for (const toml::table* t : top.tables("hagroup", "an array of tables ([[hagroup]])")) read_group(*t);
    for (const toml::table* t : top.tables("step", "an array of tables ([[step]])")) read_step(*t);
    top.finish();
    resolve();
    if (!diags_.empty()) {
      std::stable_sort(diags_.begin(), diags_.end(), [](const Diag& a, const Diag& b) { return a.line < b.line; });
      Error e = Error::usage("plan " + source_ + " has " + std::to_string(diags_.size()) + " problem" +
                                 (diags_.size() == 1 ? "" : "s"),
                             "see man 5 hsm-migrate-plan for every key and step");
      for (const Diag& d : diags_) e.problems.push_back({source_, d.line, printable(d.message)});
      if (diags_.size() == 1)  // one problem: one line says it all
        e.message = source_ + ":" + std::to_string(diags_[0].line) + ": " + e.problems[0].message;
      return e;
    }
    return std::move(plan_);
  }

 private:
  void read_header(Reader& top) {
    const toml::node* n = top.node("plan");
    if (!n) {
      top.error(1, "the plan needs a [plan] table with at least name = \"...\"");
      return;
    }
    if (!n->is_table()) {
      top.wrong("plan", *n, "a table ([plan])");
      return;
    }
    Reader r(diags_, *n->as_table(), "[plan]",
             {"name", "description", "client_version", "lunacm_cv_ha_ui", "recurring"});
    if (auto s = r.str("name", true)) plan_.name = *s;
    if (auto s = r.str("description")) plan_.description = *s;
    if (auto b = r.boolean("recurring")) plan_.recurring = *b;
    if (auto v = read_version(r, "client_version", false)) {
      plan_.client.version = *v;
      plan_.client_version_given = true;
    }
    if (const toml::node* h = r.node("lunacm_cv_ha_ui")) {
      if (h->is_integer() && (h->as_integer()->get() == 0 || h->as_integer()->get() == 1)) {
        plan_.client.cv_ha_ui = h->as_integer()->get() == 1;
        plan_.cv_ha_ui_given = true;
      } else if (h->is_boolean()) {
        plan_.client.cv_ha_ui = h->as_boolean()->get();
        plan_.cv_ha_ui_given = true;
      } else {
        r.wrong("lunacm_cv_ha_ui", *h, "0 or 1");
      }
    }
    r.finish();
  }

  void read_domain(const toml::table& t) {
    Reader r(diags_, t, "[[domain]]", {"name", "kind", "secret_env", "secret_file", "ped_key"});
    DomainSpec d;
    d.line = r.line();
    d.declared = true;
    if (auto s = r.str("name", true)) d.name = *s;
    r.set_what("[[domain]] \"" + d.name + "\"");
    if (auto k = read_enum<api::DomainKind>(r, "kind", api::parse_domain_kind, "\"text\" or \"ped\""))
      d.kind = *k;
    if (auto s = r.str("secret_env")) d.secret.env = *s;
    if (auto s = r.str("secret_file")) d.secret.file = *s;
    if (auto s = r.str("ped_key")) d.secret.ped_key = *s;
    if (!d.secret.ped_key.empty() && !r.has("kind")) d.kind = api::DomainKind::ped;
    const int given = !d.secret.env.empty() + !d.secret.file.empty() + !d.secret.ped_key.empty();
    if (given > 1) r.error(r.line(), r.what() + ": give at most one of secret_env, secret_file, ped_key");
    if (d.kind == api::DomainKind::ped && given > 0 && d.secret.ped_key.empty())
      r.error(r.line(), r.what() + ": a PED domain takes its secret from ped_key = \"FILE\"");
    if (d.kind == api::DomainKind::text && !d.secret.ped_key.empty())
      r.error(r.line_of_key("ped_key"), r.what() + ": ped_key needs kind = \"ped\"");
    if (d.kind == api::DomainKind::ped && given == 0)
      r.error(r.line(), r.what() + ": a PED domain needs ped_key = \"FILE\"");
    if (!d.name.empty() && d.name.size() > 128)
      r.error(r.line_of_key("name"), r.what() + ": a domain name is 1 to 128 characters (X10)");
    r.finish();
    if (plan_.domain(d.name)) {
      r.error(d.line, "domain \"" + d.name + "\" is declared twice");
      return;
    }
    plan_.domains.push_back(std::move(d));
  }

  void read_device(const toml::table& t) {
    Reader r(diags_, t, "[[device]]",
             {"name", "emulated", "described", "kind", "firmware", "fm", "hsm_policies", "safexcel",
              "clock_offset", "partition", "module", "token", "module_env", "softhsm2_folder"});
    DeviceSpec d;
    d.line = r.line();
    if (auto s = r.str("name", true)) {
      d.name = *s;
      if (!valid_name(d.name, 64))
        r.error(r.line_of_key("name"), "device name \"" + d.name +
                                           "\" is invalid: use 1-64 letters, digits, '-', '_' or '.'");
    }
    r.set_what("[[device]] \"" + d.name + "\"");
    if (auto k = read_enum<api::DeviceKind>(r, "kind", api::parse_device_kind,
                                            "\"luna6\", \"luna7\", \"cloud\", \"backup-g5\" or \"pkcs11\"", true))
      d.kind = *k;
    if (d.kind == api::DeviceKind::pkcs11) {
      read_token_device(r, d);
      for (const toml::table* pt : r.tables("partition", "an array of tables ([[device.partition]])"))
        read_partition(*pt, d);
      finish_token_device(r, d);
      return add_device(r, std::move(d));
    }
    refuse_token_keys(r);
    const auto emulated = r.boolean("emulated");
    const auto described = r.boolean("described");
    if (emulated.value_or(false) == described.value_or(false))
      r.error(r.line(), r.what() + ": set exactly one of emulated = true (an emulated device in --home, "
                                   "created when absent) or described = true (a real device written down)");
    d.mode = described.value_or(false) ? DeviceMode::described : DeviceMode::emulated;
    const bool desc = d.mode == DeviceMode::described;
    d.firmware = luna::profile(d.kind).default_firmware;
    if (auto v = read_version(r, "firmware", desc)) d.firmware = *v;
    if (auto b = r.boolean("fm")) d.fm = *b;
    if (auto p = r.policy_table("hsm_policies")) d.hsm_policies = *p;
    if (auto b = r.boolean("safexcel")) {
      d.safexcel = *b;
      if (!desc) r.error(r.line_of_key("safexcel"), r.what() + ": safexcel describes a real device; "
                                                                "only for described = true");
    }
    if (auto v = r.integer("clock_offset", -10'000'000, 10'000'000)) {
      d.clock_offset_s = *v;
      if (!desc) r.error(r.line_of_key("clock_offset"), r.what() + ": clock_offset describes a real device; "
                                                                    "only for described = true");
    }
    for (const toml::table* pt : r.tables("partition", "an array of tables ([[device.partition]])"))
      read_partition(*pt, d);
    add_device(r, std::move(d));
  }

  void add_device(Reader& r, DeviceSpec d) {
    r.finish();
    if (plan_.device(d.name)) {
      r.error(d.line, "device \"" + d.name + "\" is declared twice");
      return;
    }
    plan_.devices.push_back(std::move(d));
  }

  void read_partition(const toml::table& t, DeviceSpec& dev) {
    const bool desc = dev.mode == DeviceMode::described;
    Reader r(diags_, t, "[[device.partition]] of \"" + dev.name + "\"",
             {"name", "type", "auth", "fips", "policies", "domain", "domains", "suites", "objects", "keys",
              "pin_env", "pin_file"});
    PartitionSpec p;
    p.line = r.line();
    if (auto s = r.str("name", true)) {
      p.name = *s;
      if (!valid_name(p.name, 32))
        r.error(r.line_of_key("name"), "partition name \"" + p.name +
                                           "\" is invalid: use 1-32 letters, digits, '-', '_' or '.'");
    }
    r.set_what("partition \"" + dev.name + "/" + p.name + "\"");
    if (dev.mode == DeviceMode::token) check_token_partition(r);
    if (auto e = read_enum<api::PartitionType>(r, "type", api::parse_partition_type, "\"v0\" or \"v1\""))
      p.type = *e;
    if (auto e = read_enum<api::AuthKind>(r, "auth", api::parse_auth_kind, "\"password\" or \"mfa\""))
      p.auth = *e;
    if (auto b = r.boolean("fips")) p.fips = *b;
    if (auto pol = r.policy_table("policies")) p.policies = *pol;
    const std::size_t domain_diags = diags_.size();
    if (r.has("domain") && r.has("domains"))
      r.error(r.line_of_key("domains"), r.what() + ": give domain = \"NAME\" or domains = [...], not both");
    if (auto s = r.str("domain")) p.domains.push_back({*s, "", true, r.line_of_key("domain")});
    for (const toml::table* dt : r.tables("domains", "an array of inline tables like "
                                                     "[{ name = \"corp\", label = \"\", primary = true }]")) {
      Reader dr(diags_, *dt, "a domain of " + r.what(), {"name", "label", "primary"});
      DomainUse u;
      u.line = dr.line() ? dr.line() : r.line_of_key("domains");
      if (auto s = dr.str("name", true)) u.name = *s;
      if (auto s = dr.str("label")) u.label = *s;
      if (auto b = dr.boolean("primary")) u.primary = *b;
      dr.finish();
      p.domains.push_back(std::move(u));
    }
    if (p.domains.empty() && diags_.size() == domain_diags)
      r.error(r.line(), r.what() + " needs a cloning domain: domain = \"NAME\" or domains = [{ name = ..., "
                                   "label = ..., primary = ... }]");
    if (p.domains.size() > 3)
      r.error(r.line_of_key("domains"), r.what() + ": at most three cloning domains per partition (D1)");
    if (dev.mode == DeviceMode::emulated && p.domains.size() > 1)
      r.error(r.line_of_key("domains"),
              r.what() + ": an emulated partition is created with one domain; add others with "
                         "domain-add steps (firmware 7.8.0 and policy 44)");
    {
      int primaries = 0;
      std::set<std::string> names, labels;
      for (const auto& u : p.domains) {
        primaries += u.primary;
        if (!names.insert(u.name).second)
          r.error(u.line, r.what() + ": domain \"" + u.name + "\" is listed twice");
        if (p.domains.size() > 1 && (u.label.empty() || !labels.insert(u.label).second))
          r.error(u.line, r.what() + ": with more than one domain every label must be set and differ (D2)");
        if (u.label.size() > 32) r.error(u.line, r.what() + ": a domain label is at most 32 characters");
      }
      if (primaries > 1) r.error(r.line_of_key("domains"), r.what() + ": exactly one domain is primary (D3)");
      if (primaries == 0 && !p.domains.empty()) p.domains.front().primary = true;
    }
    if (auto s = r.strings("suites")) {
      const auto& known = luna::cpv4_suites();
      for (const auto& x : *s)
        if (std::find(known.begin(), known.end(), x) == known.end())
          r.error(r.line_of_key("suites"), r.what() + ": unknown cipher suite \"" + x + "\"; expected " +
                                               join(known));
      p.suites = *s;
    }
    if (auto n = r.integer("objects", 0, 10'000'000)) {
      p.objects = static_cast<std::uint64_t>(*n);
      if (!desc)
        r.error(r.line_of_key("objects"), r.what() + ": objects = N describes a real partition; an emulated "
                                                     "one lists the keys to generate with [[device.partition.keys]]");
    }
    for (const toml::table* kt : r.tables("keys", "an array of tables ([[device.partition.keys]])"))
      read_keys(*kt, r.what(), desc, p);
    if (p.objects) {
      std::uint64_t listed = 0;
      for (const auto& k : p.keys) {
        auto info = detail::key_shape(k.type);
        const bool asym = info && info->type != api::KeyType::aes && info->type != api::KeyType::des3;
        listed += static_cast<std::uint64_t>(k.count) * (asym ? 2 : 1);
      }
      if (listed > *p.objects)
        r.error(r.line_of_key("objects"), r.what() + ": objects = " + std::to_string(*p.objects) +
                                              " is fewer than the " + std::to_string(listed) +
                                              " objects its keys describe");
    }
    if (auto s = r.str("pin_env")) p.pin.env = *s;
    if (auto s = r.str("pin_file")) p.pin.file = *s;
    if (desc && (r.has("pin_env") || r.has("pin_file")))
      r.error(r.line(), r.what() + ": pin_env / pin_file are for emulated devices");
    if (r.has("pin_env") && r.has("pin_file"))
      r.error(r.line(), r.what() + ": give pin_env or pin_file, not both");
    r.finish();
    for (const auto& q : dev.partitions)
      if (q.name == p.name) {
        r.error(p.line, "partition \"" + dev.name + "/" + p.name + "\" is declared twice");
        return;
      }
    dev.partitions.push_back(std::move(p));
  }

  void read_keys(const toml::table& t, const std::string& where, bool desc, PartitionSpec& p) {
    Reader r(diags_, t, "keys of " + where,
             {"type", "count", "label", "extractable", "keygen", "per_key_auth", "assigned", "key_ring",
              "des3_counters", "unknown_attribute", "origin_fm", "travelled"});
    KeySpec k;
    k.line = r.line();
    if (auto s = r.str("type", true, std::string("one of ") + detail::kKeyTypeChoices)) {
      k.type = *s;
      if (!detail::key_shape(k.type))
        r.error(r.line_of_key("type"), "key \"type\" in " + r.what() + ": \"" + k.type +
                                           "\" is not a key type; expected one of " + detail::kKeyTypeChoices);
    }
    if (auto n = r.integer("count", 1, 1'000'000)) k.count = static_cast<int>(*n);
    if (auto s = r.str("label")) k.label = *s;
    if (auto b = r.boolean("extractable")) k.extractable = *b;
    if (auto m = read_enum<api::KeygenMechanism>(r, "keygen", api::parse_keygen_mechanism,
                                                 "\"none\", \"pkcs\", \"x9.31\" or \"186-3\"")) {
      k.keygen = *m;
      auto info = detail::key_shape(k.type);
      if (*m != api::KeygenMechanism::none && info && info->type != api::KeyType::rsa)
        r.error(r.line_of_key("keygen"), r.what() + ": keygen applies to RSA keys only");
    }
    const char* flags[] = {"per_key_auth", "assigned", "key_ring", "des3_counters", "unknown_attribute"};
    bool* fields[] = {&k.per_key_auth, &k.assigned, &k.key_ring, &k.des3_counters, &k.unknown_attribute};
    for (std::size_t i = 0; i < std::size(flags); ++i)
      if (auto b = r.boolean(flags[i])) *fields[i] = *b;
    if (auto f = read_enum<api::FmState>(r, "origin_fm", api::parse_fm_state, "\"never\" or \"enabled\""))
      k.origin_fm = *f;
    if (auto v = r.strings("travelled")) {
      for (const auto& s : *v) {
        auto pr = api::parse_protocol(s);
        if (!pr) r.error(r.line_of_key("travelled"), r.what() + ": \"" + s + "\" is not a protocol; expected "
                                                                             "\"CPv1\", \"CPv3\" or \"CPv4\"");
        else k.travelled.push_back(*pr);
      }
    }
    if (!desc)
      for (const char* f : {"per_key_auth", "assigned", "key_ring", "des3_counters", "unknown_attribute",
                            "origin_fm", "travelled"})
        if (r.has(f))
          r.error(r.line_of_key(f), r.what() + ": \"" + std::string(f) +
                                        "\" describes existing objects; only for described devices");
    r.finish();
    p.keys.push_back(std::move(k));
  }

  void read_group(const toml::table& t) {
    Reader r(diags_, t, "[[hagroup]]", {"name", "members"});
    GroupSpec g;
    g.line = r.line();
    if (auto s = r.str("name", true)) g.name = *s;
    r.set_what("[[hagroup]] \"" + g.name + "\"");
    if (auto m = read_addresses(r, "members", true)) {
      g.members = *m;
      if (g.members.empty()) r.error(r.line_of_key("members"), r.what() + ": members needs at least one "
                                                                          "partition (the first is the primary)");
    }
    r.finish();
    for (const auto& x : plan_.groups)
      if (x.name == g.name) {
        r.error(g.line, "HA group \"" + g.name + "\" is declared twice");
        return;
      }
    plan_.groups.push_back(std::move(g));
  }

  void read_step(const toml::table& t) {
    const int number = ++step_count_;
    Reader probe(diags_, t, "[[step]] " + std::to_string(number), {});
    const std::string names = action_names();
    auto action_text = probe.str("action", true, "one of " + names);
    if (!action_text) return;
    auto action = parse_action(*action_text);
    if (!action) {
      probe.error(probe.line_of_key("action"), "[[step]] " + std::to_string(number) + ": unknown action \"" +
                                                   *action_text + "\"; expected one of " + names);
      return;
    }
    const std::string what = "[[step]] " + std::to_string(number) + " (" + *action_text + ")";
    std::vector<std::string> allowed{"action", "note"};
    auto allow = [&](std::initializer_list<const char*> keys) {
      for (const char* k : keys) allowed.emplace_back(k);
    };
    switch (*action) {
      case Action::upgrade: allow({"device", "firmware"}); break;
      case Action::enable_fm: allow({"device"}); break;
      case Action::policy: allow({"device", "partition", "set"}); break;
      case Action::domain_add: allow({"partition", "domain", "label", "primary"}); break;
      case Action::domain_label: allow({"partition", "label", "new_label", "primary"}); break;
      case Action::domain_delete: allow({"partition", "label"}); break;
      case Action::suites: allow({"partition", "enable", "disable"}); break;
      case Action::hagroup_create: allow({"group", "members"}); break;
      case Action::hagroup_add: allow({"group", "member", "primary"}); break;
      case Action::hagroup_remove: allow({"group", "member"}); break;
      case Action::clone: allow({"from", "to", "objects"}); break;
      case Action::backup: allow({"from", "to", "archive", "mode", "force"}); break;
      case Action::restore: allow({"from", "archive", "to", "mode", "objects"}); break;
      case Action::verify: allow({"archive", "with"}); break;
      case Action::drill: allow({"archive", "scratch"}); break;
      case Action::prune: allow({"dir", "keep_daily", "keep_weekly", "keep_monthly"}); break;
    }
    Reader r(diags_, t, what, allowed);
    Step step;
    step.line = r.line();
    if (auto s = r.str("note")) step.note = *s;
    const std::size_t before = diags_.size();
    auto device_name = [&](std::string_view key) -> std::string {
      auto s = r.str(key, true, "a device name");
      if (s && !valid_name(*s, 64))
        r.error(r.line_of_key(key), "key \"" + std::string(key) + "\" in " + what + ": \"" + *s +
                                        "\" is not a device name");
      return s.value_or("");
    };
    auto mode = [&]() {
      auto s = r.str("mode", false, "\"add\" or \"replace\"");
      if (!s || *s == "add") return CopyMode::add;
      if (*s == "replace") return CopyMode::replace;
      r.error(r.line_of_key("mode"), "key \"mode\" in " + what + ": \"" + *s +
                                         "\" is not valid; expected \"add\" or \"replace\"");
      return CopyMode::add;
    };
    auto archive = [&](bool required) -> std::string {
      auto s = r.str("archive", required, "an archive path");
      if (s && s->empty()) r.error(r.line_of_key("archive"), "key \"archive\" in " + what + " is empty");
      return s.value_or("");
    };
    auto objects = [&]() -> std::string {
      auto s = r.str("objects", false, "\"all\" or an object label");
      if (s && s->empty()) r.error(r.line_of_key("objects"), "key \"objects\" in " + what + " is empty");
      return s.value_or("all");
    };
    switch (*action) {
      case Action::upgrade: {
        UpgradeStep s;
        s.device = device_name("device");
        if (auto v = read_version(r, "firmware", true)) s.firmware = *v;
        step.body = s;
        break;
      }
      case Action::enable_fm:
        step.body = EnableFmStep{device_name("device")};
        break;
      case Action::policy: {
        PolicyStep s;
        if (r.has("device") == r.has("partition"))
          r.error(r.line(), what + ": give device = \"DEV\" (HSM policies) or partition = \"DEV/PART\" "
                                   "(partition policies), not both");
        else if (r.has("device"))
          s.target.device = device_name("device");
        else if (auto a = read_address(r, "partition", true))
          s.target = *a;
        const toml::node* n = r.node("set");
        if (!n) {
          r.missing("set", "policy assignments, like set = { 42 = 1 } or set = [\"1=0\", \"0=1\"]");
        } else if (n->is_table()) {
          if (auto m = r.policy_table("set"))
            for (auto [id, v] : *m) s.set.emplace_back(id, v);
        } else if (n->is_array()) {
          if (auto v = r.strings("set"))
            for (const auto& text : *v) {
              const auto eq = text.find('=');
              auto id = eq == std::string::npos ? std::nullopt : Reader::policy_number(text.substr(0, eq));
              const std::string val = eq == std::string::npos ? "" : text.substr(eq + 1);
              if (!id || (val != "0" && val != "1")) {
                r.error(r.line_of_key("set"), "key \"set\" in " + what + ": \"" + text +
                                                  "\" is not a policy assignment; expected \"N=0\" or \"N=1\"");
                continue;
              }
              s.set.emplace_back(*id, val == "1" ? 1 : 0);
            }
        } else {
          r.wrong("set", *n, "a table like { 42 = 1 } or an array like [\"1=0\", \"0=1\"]");
        }
        if (n && s.set.empty() && diags_.size() == before)
          r.error(r.line_of_key("set"), what + ": \"set\" assigns no policy");
        step.body = s;
        break;
      }
      case Action::domain_add: {
        DomainAddStep s;
        if (auto a = read_address(r, "partition", true)) s.partition = *a;
        if (auto d = r.str("domain", true, "a domain name")) s.domain = *d;
        if (auto l = r.str("label", true, "the new domain's label (labels must differ, D2)")) s.label = *l;
        if (auto b = r.boolean("primary")) s.primary = *b;
        step.body = s;
        break;
      }
      case Action::domain_label: {
        DomainLabelStep s;
        if (auto a = read_address(r, "partition", true)) s.partition = *a;
        if (auto l = r.str("label", true, "the current label, \"\" for the unlabelled domain")) s.label = *l;
        if (auto l = r.str("new_label")) s.new_label = *l;
        else s.new_label = s.label;
        if (auto b = r.boolean("primary")) s.primary = *b;
        if (!r.has("new_label") && !r.has("primary"))
          r.error(r.line(), what + ": give new_label = \"...\" and/or primary = true");
        step.body = s;
        break;
      }
      case Action::domain_delete: {
        DomainDeleteStep s;
        if (auto a = read_address(r, "partition", true)) s.partition = *a;
        if (auto l = r.str("label", true, "the label of the domain to delete")) s.label = *l;
        step.body = s;
        break;
      }
      case Action::suites: {
        SuitesStep s;
        if (auto a = read_address(r, "partition", true)) s.partition = *a;
        if (auto v = r.strings("enable")) s.enable = *v;
        if (auto v = r.strings("disable")) s.disable = *v;
        if (!r.has("enable") && !r.has("disable"))
          r.error(r.line(), what + ": give enable = [...] and/or disable = [...]");
        step.body = s;
        break;
      }
      case Action::hagroup_create: {
        HaGroupCreateStep s;
        if (auto g = r.str("group", true, "the new group's name")) s.group = *g;
        if (auto m = read_addresses(r, "members", true)) s.members = *m;
        if (r.has("members") && s.members.empty() && diags_.size() == before)
          r.error(r.line_of_key("members"), what + ": members needs at least one partition");
        step.body = s;
        break;
      }
      case Action::hagroup_add: {
        HaGroupAddStep s;
        if (auto g = r.str("group", true, "a group name")) s.group = *g;
        if (auto a = read_address(r, "member", true)) s.member = *a;
        if (auto b = r.boolean("primary")) s.primary = *b;
        step.body = s;
        break;
      }
      case Action::hagroup_remove: {
        HaGroupRemoveStep s;
        if (auto g = r.str("group", true, "a group name")) s.group = *g;
        if (auto a = read_address(r, "member", true)) s.member = *a;
        step.body = s;
        break;
      }
      case Action::clone: {
        CloneStep s;
        if (auto a = read_address(r, "from", true)) s.from = *a;
        if (auto a = read_address(r, "to", true)) s.to = *a;
        s.objects = objects();
        step.body = s;
        break;
      }
      case Action::backup: {
        BackupStep s;
        if (auto a = read_address(r, "from", true)) s.from = *a;
        if (r.has("to") == r.has("archive"))
          r.error(r.line(), what + ": give to = \"BACKUPDEV/PART\" (a Backup HSM G5 partition) or "
                                   "archive = \"PATH\", not both");
        if (r.has("to")) {
          if (auto a = read_address(r, "to", true)) s.to = *a;
        } else {
          s.archive = archive(false);
        }
        s.mode = mode();
        if (auto b = r.boolean("force")) s.force = *b;
        if (s.to && r.has("force")) r.error(r.line_of_key("force"), what + ": force applies to archives");
        if (!s.to && r.has("mode"))
          r.error(r.line_of_key("mode"), what + ": mode applies to Backup HSM partitions; an archive is "
                                                "a new file (force = true to overwrite)");
        step.body = s;
        break;
      }
      case Action::restore: {
        RestoreStep s;
        if (r.has("from") == r.has("archive"))
          r.error(r.line(), what + ": give from = \"BACKUPDEV/PART\" (a Backup HSM G5 partition) or "
                                   "archive = \"PATH\", not both");
        if (r.has("from")) {
          if (auto a = read_address(r, "from", true)) s.from = *a;
        } else {
          s.archive = archive(false);
        }
        if (auto a = read_address(r, "to", true)) s.to = *a;
        s.mode = mode();
        s.objects = objects();
        step.body = s;
        break;
      }
      case Action::verify: {
        VerifyStep s;
        s.archive = archive(true);
        if (r.has("with"))
          if (auto a = read_address(r, "with", true)) s.with = *a;
        step.body = s;
        break;
      }
      case Action::drill: {
        DrillStep s;
        s.archive = archive(true);
        if (auto a = read_address(r, "scratch", true)) s.scratch = *a;
        step.body = s;
        break;
      }
      case Action::prune: {
        PruneStep s;
        if (auto d = r.str("dir", true, "the folder of archives")) s.dir = *d;
        if (auto n = r.integer("keep_daily", 0, 100000)) s.keep_daily = static_cast<int>(*n);
        if (auto n = r.integer("keep_weekly", 0, 100000)) s.keep_weekly = static_cast<int>(*n);
        if (auto n = r.integer("keep_monthly", 0, 100000)) s.keep_monthly = static_cast<int>(*n);
        if (!r.has("keep_daily") && !r.has("keep_weekly") && !r.has("keep_monthly"))
          r.error(r.line(), what + ": give keep_daily, keep_weekly and/or keep_monthly");
        step.body = s;
        break;
      }
    }
    r.finish();
    plan_.steps.push_back(std::move(step));
    step_numbers_.push_back(number);
  }

  // ---- names --------------------------------------------------------------

  // A partition address must name a partition of a declared device.
  bool check_partition(const Address& a, int line, const std::string& what) {
    if (a.device.empty()) return false;  // already reported as malformed
    const DeviceSpec* d = plan_.device(a.device);
    if (!d) {
      diags_.push_back({line, what + ": no device \"" + a.device + "\" in the plan; declare it with [[device]]" +
                                  devices_hint()});
      return false;
    }
    if (!plan_.partition(a)) {
      std::vector<std::string> names;
      for (const auto& p : d->partitions) names.push_back(p.name);
      diags_.push_back({line, what + ": device \"" + a.device + "\" has no partition \"" + a.partition +
                                  "\"; expected one of its [[device.partition]] names" +
                                  (names.empty() ? std::string(" (it declares none)") : ": " + join(names))});
      return false;
    }
    return true;
  }
  bool check_device(const std::string& name, int line, const std::string& what) {
    if (name.empty()) return false;  // already reported as malformed
    if (plan_.device(name)) return true;
    diags_.push_back({line, what + ": no device \"" + name + "\" in the plan; declare it with [[device]]" +
                                devices_hint()});
    return false;
  }
  std::string devices_hint() const {
    std::vector<std::string> names;
    for (const auto& d : plan_.devices) names.push_back(d.name);
    return names.empty() ? std::string() : " (devices: " + join(names) + ")";
  }

  void use_domain(const std::string& name, int line, bool emulated) {
    if (name.empty()) return;
    if (!plan_.domain(name)) {
      DomainSpec d;
      d.name = name;
      d.line = line;
      plan_.domains.push_back(std::move(d));
    }
    if (emulated && !emulated_domains_.count(name)) emulated_domains_[name] = line;
  }

  void resolve() {
    for (const auto& d : plan_.devices)
      for (const auto& p : d.partitions)
        for (const auto& u : p.domains) use_domain(u.name, u.line, d.mode != DeviceMode::described);

    std::set<std::string> groups;
    for (const auto& g : plan_.groups) {
      groups.insert(g.name);
      for (const auto& m : g.members)
        if (check_partition(m, g.line, "[[hagroup]] \"" + g.name + "\"") &&
            plan_.device(m.device)->mode == DeviceMode::token)
          diags_.push_back({g.line, "[[hagroup]] \"" + g.name + "\": " + m.device +
                                        " is a PKCS#11 token, which cannot be an HA group member (T1)"});
    }

    for (std::size_t i = 0; i < plan_.steps.size(); ++i) {
      const Step& st = plan_.steps[i];
      const std::string what =
          "[[step]] " + std::to_string(step_numbers_[i]) + " (" + std::string(to_string(st.action())) + ")";
      const int line = st.line;
      auto part = [&](const Address& a) { return check_partition(a, line, what); };
      auto group_exists = [&](const std::string& g) {
        if (g.empty() || groups.count(g)) return true;
        diags_.push_back({line, what + ": no HA group \"" + g + "\" exists at this step; declare it with "
                                       "[[hagroup]] or create it with an earlier hagroup-create step"});
        return false;
      };
      auto kind_of = [&](const Address& a) { return plan_.device(a.device)->kind; };
      // Luna verbs: a token has no firmware, FMs, policies, suites or HA (T1).
      auto luna_only = [&](const std::string& device) {
        const DeviceSpec* d = plan_.device(device);
        if (d && d->mode == DeviceMode::token)
          diags_.push_back({line, what + ": " + device + " is a PKCS#11 token, which has no firmware, "
                                                         "Functionality Modules, policies, CPv4 suites or HA "
                                                         "groups (T1); remove the step"});
      };
      std::visit(
          [&](const auto& s) {
            using T = std::decay_t<decltype(s)>;
            if constexpr (std::is_same_v<T, UpgradeStep> || std::is_same_v<T, EnableFmStep>) {
              if (check_device(s.device, line, what)) luna_only(s.device);
            } else if constexpr (std::is_same_v<T, PolicyStep>) {
              if (s.target.partition.empty() ? check_device(s.target.device, line, what) : part(s.target))
                luna_only(s.target.device);
            } else if constexpr (std::is_same_v<T, SuitesStep>) {
              if (part(s.partition)) luna_only(s.partition.device);
            } else if constexpr (std::is_same_v<T, DomainAddStep>) {
              if (part(s.partition))
                use_domain(s.domain, line, plan_.device(s.partition.device)->mode != DeviceMode::described);
            } else if constexpr (std::is_same_v<T, DomainLabelStep> || std::is_same_v<T, DomainDeleteStep>) {
              part(s.partition);
            } else if constexpr (std::is_same_v<T, HaGroupCreateStep>) {
              for (const auto& m : s.members)
                if (part(m)) luna_only(m.device);
              if (!groups.insert(s.group).second)
                diags_.push_back({line, what + ": HA group \"" + s.group + "\" already exists at this step"});
            } else if constexpr (std::is_same_v<T, HaGroupAddStep> || std::is_same_v<T, HaGroupRemoveStep>) {
              if (part(s.member)) luna_only(s.member.device);
              group_exists(s.group);
            } else if constexpr (std::is_same_v<T, CloneStep>) {
              if (part(s.from) && part(s.to) && s.from == s.to)
                diags_.push_back({line, what + ": from and to are the same partition"});
            } else if constexpr (std::is_same_v<T, BackupStep>) {
              part(s.from);
              if (s.to && part(*s.to) && kind_of(*s.to) != api::DeviceKind::backup_g5)
                diags_.push_back({line, what + ": to = \"" + s.to->str() + "\" is not on a Backup HSM G5; "
                                               "expected a partition of a backup-g5 device (or archive = ...; "
                                               "use clone for other partitions)"});
              if (s.to && s.from == *s.to) diags_.push_back({line, what + ": from and to are the same partition"});
            } else if constexpr (std::is_same_v<T, RestoreStep>) {
              if (s.from && part(*s.from) && kind_of(*s.from) != api::DeviceKind::backup_g5)
                diags_.push_back({line, what + ": from = \"" + s.from->str() + "\" is not on a Backup HSM G5; "
                                               "expected a partition of a backup-g5 device (or archive = ...; "
                                               "use clone for other partitions)"});
              part(s.to);
              if (s.from && *s.from == s.to) diags_.push_back({line, what + ": from and to are the same partition"});
            } else if constexpr (std::is_same_v<T, VerifyStep>) {
              if (s.with) part(*s.with);
            } else if constexpr (std::is_same_v<T, DrillStep>) {
              part(s.scratch);
            }
          },
          st.body);
    }

    // Domains that emulated devices use need distinct secrets: equal secrets
    // would be the same domain under two names.
    std::map<std::string, std::string> by_source;
    for (const auto& [name, line] : emulated_domains_) {
      const DomainSpec* d = plan_.domain(name);
      std::string key = !d->secret.env.empty()       ? "$" + d->secret.env
                        : !d->secret.file.empty()    ? "file " + d->secret.file
                        : !d->secret.ped_key.empty() ? "PED key " + d->secret.ped_key
                                                     : std::string("$") + kDefaultDomainEnv;
      auto [it, fresh] = by_source.emplace(key, name);
      if (!fresh)
        diags_.push_back({d->declared ? d->line : line,
                          "domains \"" + it->second + "\" and \"" + name + "\" would both take their secret from " +
                              key + " (equal secrets are one domain); declare [[domain]] name = \"" + name +
                              "\" with its own secret_env, secret_file or ped_key"});
    }
  }

  std::string source_;
  Plan plan_;
  std::vector<Diag> diags_;
  std::map<std::string, int> emulated_domains_;
  int step_count_ = 0;
  std::vector<int> step_numbers_;  // [[step]] ordinal of each parsed step
};

}  // namespace

Result<Plan> parse_plan_string(std::string_view text, std::string_view name) {
  return Parser(std::string(name)).run(text);
}

Result<Plan> parse_plan(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error::usage("cannot read plan " + file.string(), "check the path");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error::other("cannot read plan " + file.string());
  return parse_plan_string(ss.str(), file.string());
}

}  // namespace hsm::plans
