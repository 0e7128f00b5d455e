#include "migrations/show.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace hsm::plans {

namespace {

std::string dot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string partition_line(const DeviceSpec& d, const PartitionSpec& p) {
  // A token has no partition type, authentication kind or FIPS flag of its own.
  std::string s = d.mode == DeviceMode::token
                      ? p.name + " [domain"
                      : p.name + " [" + std::string(api::to_string(p.type)) + ", " +
                            std::string(api::to_string(p.auth)) + (p.fips ? ", FIPS" : "") +
                            ", domain";
  s += p.domains.size() > 1 ? "s " : " ";
  for (std::size_t i = 0; i < p.domains.size(); ++i) {
    const auto& d = p.domains[i];
    s += (i ? ", " : "") + d.name + (d.label.empty() ? "" : " \"" + d.label + "\"") +
         (d.primary && p.domains.size() > 1 ? " (primary)" : "");
  }
  s += "]";
  std::size_t keys = 0;
  for (const auto& k : p.keys) keys += static_cast<std::size_t>(k.count);
  if (keys) s += ", " + std::to_string(keys) + " key(s)";
  if (p.objects) s += ", " + std::to_string(*p.objects) + " object(s)";
  return s;
}

}  // namespace

std::string plan_show(const Plan& plan) {
  std::ostringstream os;
  os << "plan \"" << plan.name << "\"" << (plan.source.empty() ? "" : " (" + plan.source + ")")
     << "\n";
  if (!plan.description.empty()) os << "  " << plan.description << "\n";
  os << "client " << plan.client.version.str()
     << ", lunacm_cv_ha_ui = " << (plan.client.cv_ha_ui ? 1 : 0) << "\n";
  os << "\ndevices:\n";
  for (const auto& d : plan.devices) {
    if (d.mode == DeviceMode::token)
      os << "  " << d.name << "  pkcs11 token \"" << d.token.label << "\" of " << d.token.module
         << (d.token.softhsm2_folder.empty()
                 ? ""
                 : ", made by the plan in HOME/" + d.token.softhsm2_folder)
         << "  (registered)\n";
    else
      os << "  " << d.name << "  " << api::to_string(d.kind) << " " << d.firmware.str()
         << (d.fm ? ", FM enabled" : "")
         << (d.mode == DeviceMode::emulated ? "  (emulated)" : "  (described)") << "\n";
    for (const auto& p : d.partitions) os << "    " << partition_line(d, p) << "\n";
  }
  if (!plan.groups.empty()) {
    os << "\nHA groups before the plan:\n";
    for (const auto& g : plan.groups) {
      os << "  " << g.name << ":";
      for (std::size_t i = 0; i < g.members.size(); ++i)
        os << (i ? ", " : " ") << g.members[i].str() << (i == 0 ? " (primary)" : "");
      os << "\n";
    }
  }
  os << "\nsteps:\n";
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    os << "  " << (i + 1 < 10 ? " " : "") << (i + 1) << ". " << describe(s);
    if (s.line) os << "  [line " << s.line << "]";
    os << "\n";
    if (!s.note.empty()) os << "      " << s.note << "\n";
  }
  return os.str();
}

std::string plan_to_dot(const Plan& plan) {
  std::ostringstream os;
  os << "digraph " << dot_quote(plan.name) << " {\n"
     << "  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
     << "  edge [fontname=\"Helvetica\", fontsize=10];\n"
     << "  label=" << dot_quote("plan " + plan.name) << "; labelloc=t;\n";

  // Upgrades per device, in step order.
  std::map<std::string, std::vector<std::string>> upgrades;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    if (const auto* u = std::get_if<UpgradeStep>(&s.body))
      upgrades[u->device].push_back("-> " + u->firmware.str() + " (step " + std::to_string(i + 1) +
                                    ")");
    if (const auto* f = std::get_if<EnableFmStep>(&s.body))
      upgrades[f->device].push_back("FM on (step " + std::to_string(i + 1) + ")");
  }
  auto device_node = [&](const DeviceSpec& d, const std::string& indent) {
    std::string label =
        d.name + "\n" + std::string(api::to_string(d.kind)) + " " + d.firmware.str();
    if (d.fm) label += ", FM";
    for (const auto& u : upgrades[d.name]) label += "\n" + u;
    os << indent << dot_quote(d.name) << " [label=" << dot_quote(label)
       << (d.mode == DeviceMode::described ? ", style=\"rounded,dashed\"" : "") << "];\n";
  };

  // HA groups: declared ones and those created by steps (every member ever added).
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  auto group_entry = [&](const std::string& name) -> std::vector<std::string>& {
    for (auto& g : groups)
      if (g.first == name) return g.second;
    groups.push_back({name, {}});
    return groups.back().second;
  };
  auto add_member = [&](const std::string& g, const std::string& dev) {
    auto& v = group_entry(g);
    if (std::find(v.begin(), v.end(), dev) == v.end()) v.push_back(dev);
  };
  for (const auto& g : plan.groups)
    for (const auto& m : g.members) add_member(g.name, m.device);
  std::map<std::string, std::vector<std::string>> events;  // group -> "created (step 7)", ...
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    const std::string at = " (step " + std::to_string(i + 1) + ")";
    if (const auto* c = std::get_if<HaGroupCreateStep>(&s.body)) {
      for (const auto& m : c->members) add_member(c->group, m.device);
      events[c->group].push_back("created" + at);
    }
    if (const auto* a = std::get_if<HaGroupAddStep>(&s.body)) {
      add_member(a->group, a->member.device);
      events[a->group].push_back("+ " + a->member.str() + (a->primary ? " as primary" : "") + at);
    }
    if (const auto* r = std::get_if<HaGroupRemoveStep>(&s.body))
      events[r->group].push_back("- " + r->member.str() + at);
  }
  std::set<std::string> drawn;
  int cluster = 0;
  std::vector<std::pair<std::string, std::string>>
      extra;  // (group anchor, device) for devices drawn elsewhere
  for (const auto& [name, devs] : groups) {
    std::string label = "HA group " + name;
    for (const auto& e : events[name]) label += "\n" + e;
    os << "  subgraph cluster_" << cluster++ << " {\n    label=" << dot_quote(label)
       << "; style=dashed;\n";
    const std::string anchor = "group:" + name;
    os << "    " << dot_quote(anchor) << " [shape=point, style=invis];\n";
    for (const auto& dn : devs) {
      if (drawn.count(dn)) {
        extra.emplace_back(anchor, dn);
        continue;
      }
      if (const DeviceSpec* d = plan.device(dn)) {
        device_node(*d, "    ");
        drawn.insert(dn);
      }
    }
    os << "  }\n";
  }
  for (const auto& d : plan.devices)
    if (!drawn.count(d.name)) device_node(d, "  ");
  for (const auto& [anchor, dn] : extra)
    os << "  " << dot_quote(anchor) << " -> " << dot_quote(dn)
       << " [style=dashed, arrowhead=none, label=\"member\"];\n";

  // Archives and flows.
  std::set<std::string> archives;
  auto archive_node = [&](const std::string& path) {
    const std::string id = "archive:" + path;
    if (archives.insert(path).second)
      os << "  " << dot_quote(id) << " [shape=note, label=" << dot_quote("archive\n" + path)
         << "];\n";
    return id;
  };
  auto edge = [&](const std::string& from, const std::string& to, const std::string& label,
                  const char* style) {
    os << "  " << dot_quote(from) << " -> " << dot_quote(to) << " [label=" << dot_quote(label)
       << style << "];\n";
  };
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    const Step& s = plan.steps[i];
    if (const auto* c = std::get_if<CloneStep>(&s.body))
      edge(c->from.device, c->to.device,
           n + ": clone " + c->from.partition + " -> " + c->to.partition, "");
    else if (const auto* b = std::get_if<BackupStep>(&s.body))
      edge(b->from.device, b->to ? b->to->device : archive_node(b->archive),
           n + ": backup " + b->from.partition, ", color=blue");
    else if (const auto* r = std::get_if<RestoreStep>(&s.body))
      edge(r->from ? r->from->device : archive_node(r->archive), r->to.device,
           n + ": restore -> " + r->to.partition, ", color=darkgreen");
    else if (const auto* v = std::get_if<VerifyStep>(&s.body)) {
      const std::string a = archive_node(v->archive);
      if (v->with)
        edge(a, v->with->device, n + ": verify (deep)", ", style=dotted");
      else
        os << "  " << dot_quote(a) << " -> " << dot_quote(a)
           << " [label=" << dot_quote(n + ": verify") << ", style=dotted];\n";
    } else if (const auto* d = std::get_if<DrillStep>(&s.body))
      edge(archive_node(d->archive), d->scratch.device, n + ": drill in " + d->scratch.partition,
           ", style=dotted");
  }
  os << "}\n";
  return os.str();
}

}  // namespace hsm::plans
