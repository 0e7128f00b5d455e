// hagroup create | add | remove | list | show | check
// The store and every operation are in tool/hagroups.cpp; the verdicts come
// from the primary's backend (the tool knows no HA rule).
#include <iostream>

#include "tool/hagroups.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Status;

std::string verdict_line(const api::Verdict& v) {
  std::string s = std::string(v.allowed ? "warning" : "refused") + ": rule " + v.rule +
                  (v.code.empty() ? "" : " (" + v.code + ")") + ": " + v.message;
  if (!v.fix.empty()) s += "; fix: " + v.fix;
  return s;
}

void print_group(std::ostream& os, const HaGroupRecord& g) {
  os << "HA group " << g.name << ": " << g.members.size() << " member(s)\n";
  for (std::size_t i = 0; i < g.members.size(); ++i)
    os << "  " << address_str(g.members[i].address)
       << (i == 0 ? " (primary)" : g.members[i].standby ? " (standby)" : "") << "\n";
}

void print_report(std::ostream& os, const HaGroupReport& r, const char* verb) {
  if (r.dissolved) {
    os << "HA group " << r.group.name << " has no member left and is dissolved\n";
    return;
  }
  if (verb) os << verb << " ";
  print_group(os, r.group);
  for (const auto& v : r.verdicts) os << "  " << verdict_line(v) << "\n";
}

Status emit_report(Context& ctx, const api::Result<HaGroupReport>& r, const char* key, const char* verb) {
  if (!r.ok()) return r.error();
  ctx.emit({{key, to_json(r.value())}}, [&](std::ostream& os) { print_report(os, r.value(), verb); });
  return {};
}

Status create(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("hagroup create");
  desc.add_options()("primary", po::value<std::string>()->required(), "the primary member DEV/PART");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name"}));
  HSM_TRY_ASSIGN(Address a, parse_address(vm["primary"].as<std::string>()));
  return emit_report(ctx, hagroup_create(ctx, vm["name"].as<std::string>(), {HaMember{a, false}}), "created",
                     "created");
}

Status add(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("hagroup add");
  desc.add_options()("standby", "add as a standby member (a cloud service must be one, rule H4)")(
      "primary", "join as the new primary");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name", "member"}));
  if (vm.count("standby") && vm.count("primary")) return Error::usage("give --standby or --primary, not both");
  HSM_TRY_ASSIGN(Address a, parse_address(vm["member"].as<std::string>()));
  return emit_report(ctx,
                     hagroup_add(ctx, vm["name"].as<std::string>(), a, vm.count("standby") > 0,
                                 vm.count("primary") > 0),
                     "group", "changed");
}

Status remove(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("hagroup remove");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name", "member"}));
  HSM_TRY_ASSIGN(Address a, parse_address(vm["member"].as<std::string>()));
  return emit_report(ctx, hagroup_remove(ctx, vm["name"].as<std::string>(), a), "group", "changed");
}

Status list(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("hagroup list");
  HSM_TRY(parse_options(args, desc, {}));
  HaGroupStore store(ctx.fleet->home());
  HSM_TRY_ASSIGN(auto groups, store.load());
  json arr = json::array();
  for (const auto& g : groups) arr.push_back(to_json(g));
  ctx.emit({{"file", store.file().string()}, {"groups", arr}}, [&](std::ostream& os) {
    if (groups.empty()) os << "no HA groups in " << store.file().string() << "\n";
    for (const auto& g : groups)
      os << g.name << ": primary " << (g.members.empty() ? "-" : address_str(g.members.front().address)) << ", "
         << g.members.size() << " member(s)\n";
  });
  return {};
}

Status show(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("hagroup show");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name"}));
  const std::string name = vm["name"].as<std::string>();
  HSM_TRY_ASSIGN(auto g, hagroup_find(ctx, name));
  if (!g)
    return Error::usage("no HA group named " + name, "see `hsm-migrate hagroup list`");
  ctx.emit({{"group", to_json(*g)}}, [&](std::ostream& os) { print_group(os, *g); });
  return {};
}

Status check(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("hagroup check");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name"}));
  HSM_TRY_ASSIGN(HaGroupReport r, hagroup_check(ctx, vm["name"].as<std::string>()));
  ctx.emit({{"group", to_json(r)}}, [&](std::ostream& os) {
    print_group(os, r.group);
    for (const auto& v : r.verdicts) os << "  " << verdict_line(v) << "\n";
    if (r.verdicts.empty()) os << "  no rule refuses the group\n";
    for (const auto& s : r.sync) {
      os << "  " << s.address.device << "/" << s.address.partition << ": "
         << (s.in_sync() ? "in sync" : "needs sync");
      if (!s.in_sync()) os << " (" << s.missing << " of the primary's object(s) missing, " << s.extra << " not on the primary)";
      os << "\n";
    }
  });
  if (r.allowed()) return {};
  // Every refusal was listed; with --json the document holds them. One line
  // on stderr names the first.
  for (const auto& v : r.verdicts)
    if (!v.allowed) {
      if (ctx.opts.json) return Error{api::ErrorKind::refused, "", "", "", ""};
      return Error::refused(v.rule, v.code, "HA group " + r.group.name + ": " + v.message, v.fix);
    }
  return {};
}

}  // namespace

void add_hagroup_commands(std::vector<Command>& out) {
  out.push_back({"hagroup create", "hagroup create NAME --primary DEV/PART", create});
  out.push_back({"hagroup add", "hagroup add NAME DEV/PART [--standby | --primary]", add});
  out.push_back({"hagroup remove", "hagroup remove NAME DEV/PART", remove});
  out.push_back({"hagroup list", "hagroup list", list});
  out.push_back({"hagroup show", "hagroup show NAME", show});
  out.push_back({"hagroup check", "hagroup check NAME", check});
}

}  // namespace hsm::tool
