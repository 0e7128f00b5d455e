// device create | add | list | show | upgrade | enable-fm | clock | policy
#include <iomanip>
#include <iostream>

#include "tool/context.hpp"
#include "tool/display.hpp"
#include "tool/secrets.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Status;

void print_device(std::ostream& os, const api::DeviceDesc& d) {
  os << d.name << ": " << api::to_string(d.kind) << " firmware " << d.firmware.str() << ", FM "
     << api::to_string(d.fm);
  if (d.clock_offset_s) os << ", clock skew " << d.clock_offset_s << " s";
  os << "\n";
}

Status create(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("device create");
  desc.add_options()("kind", po::value<std::string>()->required(), "luna6|luna7|cloud|backup-g5")(
      "firmware", po::value<std::string>(), "firmware version (default: the kind's default)")(
      "fm", po::value<std::string>()->default_value("never"), "never|enabled");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name"}));
  api::DeviceCreateRequest req;
  const std::string kind = vm["kind"].as<std::string>();
  if (vm.count("firmware")) {
    auto v = api::Version::parse(vm["firmware"].as<std::string>());
    if (!v) return Error::usage("bad firmware version \"" + vm["firmware"].as<std::string>() + "\"",
                                "write it as X.Y.Z, e.g. 7.8.0");
    req.firmware = *v;
  } else {
    auto k = api::parse_device_kind(kind);
    if (!k) return Error::usage("unknown device kind \"" + kind + "\"", "use luna6, luna7, cloud or backup-g5");
    req.firmware = kind == "luna6" ? api::Version{6, 10, 9}
                   : kind == "backup-g5" ? api::Version{6, 28, 0}
                                         : api::Version{7, 8, 0};
  }
  const std::string fm = vm["fm"].as<std::string>();
  if (fm != "never" && fm != "enabled") return Error::usage("--fm is never or enabled");
  req.fm_enabled = fm == "enabled";
  HSM_TRY_ASSIGN(auto dev, ctx.fleet->create(vm["name"].as<std::string>(), kind, req));
  HSM_TRY_ASSIGN(api::DeviceDesc d, dev->describe());
  ctx.emit({{"created", to_json(d)}}, [&](std::ostream& os) {
    os << "created ";
    print_device(os, d);
  });
  return {};
}

// What the backend reports beyond the common fields (a PKCS#11 token: the
// module's and token's own words, mechanisms with key-size ranges).
json attributes_json(const api::DeviceDesc& d) {
  json attrs = json::object();
  for (const auto& [k, v] : d.attributes) attrs[json_safe(k)] = json_safe(v);
  return attrs;
}

// Registers a device that exists outside hsm-migrate (a PKCS#11 token): the
// options go to the kind's backend as they are, which finds the device,
// checks it and keeps what it needs in the device's folder (never the PIN).
Status add(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("device add");
  desc.add_options()("kind", po::value<std::string>()->required(), "pkcs11")(
      "module", po::value<std::string>(), "the PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so)")(
      "token", po::value<std::string>(), "the token's label")(
      "slot", po::value<std::string>(), "the token in this slot now (it is recorded by label and serial)")(
      "serial", po::value<std::string>(), "the token's serial, when labels repeat")(
      "partition", po::value<std::string>(), "the partition's name (default: the token label)")(
      "module-env", po::value<std::vector<std::string>>()->composing(),
      "NAME=VALUE the module reads when loaded (e.g. SOFTHSM2_CONF=FILE); repeatable")(
      "identity-key", po::value<std::string>(), "ed25519|p256: the identity key to make (default: the first that works)");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name"}));
  const std::string name = vm["name"].as<std::string>();
  HSM_TRY(check_device_name(name));
  api::DeviceCreateRequest req;
  for (const char* o : {"module", "token", "slot", "serial", "partition", "identity-key"})
    if (vm.count(o)) req.options.emplace_back(o, vm[o].as<std::string>());
  if (vm.count("module-env"))
    for (const auto& e : vm["module-env"].as<std::vector<std::string>>()) req.options.emplace_back("module-env", e);
  const std::string what = vm.count("token") ? name + " (token " + vm["token"].as<std::string>() + ")" : name;
  HSM_TRY_ASSIGN(req.credential, partition_pin(ctx.opts.pin_file, what));
  HSM_TRY_ASSIGN(auto dev, ctx.fleet->create(name, vm["kind"].as<std::string>(), req));
  HSM_TRY_ASSIGN(api::DeviceDesc d, dev->describe());
  HSM_TRY_ASSIGN(auto parts, dev->partition_names());
  json j = to_json(d);
  j["partitions"] = parts;
  if (!d.attributes.empty()) j["attributes"] = attributes_json(d);
  ctx.emit({{"registered", j}}, [&](std::ostream& os) {
    os << "registered ";
    print_device(os, d);
    for (const auto& p : parts) os << "  partition " << d.name << "/" << p << "\n";
  });
  return {};
}

// A device that cannot be described now (its plugin is missing, its token
// unreachable) is still listed, with the reason: one bad device must not
// hide the fleet from `device list`.
std::string state_of(const api::DeviceDesc& d) {
  for (const auto& [k, v] : d.attributes)
    if (k == "state") return v;
  return "";
}

Status list(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("device list");
  HSM_TRY(parse_options(args, desc, {}));
  HSM_TRY_ASSIGN(auto names, ctx.fleet->names());
  json devices = json::array();
  struct Row {
    std::string name, kind, firmware, fm, state;
    std::size_t partitions = 0;
  };
  std::vector<Row> rows;
  for (const auto& n : names) {
    auto dev = ctx.fleet->open(n);
    api::Result<api::DeviceDesc> d = dev.ok() ? (*dev)->describe() : api::Result<api::DeviceDesc>(dev.error());
    if (!d.ok()) {
      auto kind = ctx.fleet->kind_of(n);
      const std::string state = "unavailable: " + d.error().message;
      devices.push_back({{"name", n}, {"kind", kind.ok() ? *kind : "?"}, {"state", state}});
      rows.push_back({n, kind.ok() ? *kind : "?", "-", "-", state, 0});
      continue;
    }
    HSM_TRY_ASSIGN(auto parts, (*dev)->partition_names());
    json j = to_json(*d);
    j["partitions"] = parts;
    if (const std::string state = state_of(*d); !state.empty()) j["state"] = json_safe(state);
    devices.push_back(j);
    rows.push_back({d->name, std::string(api::to_string(d->kind)), d->firmware.str(), std::string(api::to_string(d->fm)), state_of(*d),
                    parts.size()});
  }
  ctx.emit({{"home", ctx.fleet->home().string()}, {"devices", devices}}, [&](std::ostream& os) {
    if (rows.empty()) os << "no devices in " << ctx.fleet->home().string() << "\n";
    for (const auto& r : rows) {
      os << std::left << std::setw(16) << r.name << std::setw(11) << r.kind << std::setw(9) << r.firmware << "FM "
         << std::setw(8) << r.fm << r.partitions << " partition(s)";
      if (!r.state.empty()) os << "  " << escaped(r.state);
      os << "\n";
    }
  });
  return {};
}

Status show(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("device show");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name"}));
  HSM_TRY_ASSIGN(auto dev, ctx.fleet->open(vm["name"].as<std::string>()));
  HSM_TRY_ASSIGN(api::DeviceDesc d, dev->describe());
  HSM_TRY_ASSIGN(auto names, dev->partition_names());
  json parts = json::array();
  std::vector<api::PartitionDesc> descs;
  for (const auto& n : names) {
    HSM_TRY_ASSIGN(auto p, dev->open_partition(n));
    HSM_TRY_ASSIGN(api::Endpoint ep, p->describe());
    parts.push_back(to_json(ep.partition));
    descs.push_back(ep.partition);
  }
  json j = to_json(d);
  j["partitions"] = parts;
  if (!d.attributes.empty()) j["attributes"] = attributes_json(d);
  ctx.emit(j, [&](std::ostream& os) {
    print_device(os, d);
    if (!d.hsm_policies.empty()) {  // a device kind without HSM policies (a token) has no line
      os << "  HSM policies:";
      for (auto [k, v] : d.hsm_policies) os << " " << k << "=" << v;
      os << "\n";
    }
    for (const auto& [k, v] : d.attributes) os << "  " << escaped(k) << ": " << escaped(v) << "\n";
    for (const auto& p : descs)
      os << "  partition " << p.name << ": " << api::to_string(p.type) << ", "
         << api::to_string(p.auth) << (p.fips ? ", FIPS" : ", non-FIPS") << ", "
         << p.domains.size() << " domain(s), " << p.object_count << " object(s)\n";
  });
  return {};
}

Status upgrade(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("device upgrade");
  desc.add_options()("firmware", po::value<std::string>()->required(), "new firmware version");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name"}));
  auto v = api::Version::parse(vm["firmware"].as<std::string>());
  if (!v) return Error::usage("bad firmware version \"" + vm["firmware"].as<std::string>() + "\"");
  HSM_TRY_ASSIGN(auto dev, ctx.fleet->open(vm["name"].as<std::string>()));
  HSM_TRY_ASSIGN(api::DeviceDesc before, dev->describe());
  HSM_TRY(dev->upgrade(*v));
  HSM_TRY_ASSIGN(api::DeviceDesc d, dev->describe());
  ctx.emit({{"upgraded", to_json(d)}, {"from", before.firmware.str()}}, [&](std::ostream& os) {
    os << "upgraded " << d.name << " from " << before.firmware.str() << " to " << d.firmware.str() << "\n";
  });
  return {};
}

Status enable_fm(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("device enable-fm");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name"}));
  HSM_TRY_ASSIGN(auto dev, ctx.fleet->open(vm["name"].as<std::string>()));
  HSM_TRY(dev->enable_fm());
  HSM_TRY_ASSIGN(api::DeviceDesc d, dev->describe());
  ctx.emit({{"device", to_json(d)}}, [&](std::ostream& os) {
    os << "Functionality Modules enabled on " << d.name << " (one-way; FM-HOK asserted)\n";
  });
  return {};
}

Status clock(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("device clock");
  desc.add_options()("skew", po::value<long long>(), "emulate a clock off host time by SECONDS")(
      "sync", "sync with host time (needs HSM policy 57)");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name"}));
  if (vm.count("skew") == vm.count("sync"))
    return Error::usage("give exactly one of --skew SECONDS or --sync");
  HSM_TRY_ASSIGN(auto dev, ctx.fleet->open(vm["name"].as<std::string>()));
  if (vm.count("sync")) HSM_TRY(dev->sync_clock());
  else HSM_TRY(dev->set_clock_skew(vm["skew"].as<long long>()));
  HSM_TRY_ASSIGN(api::DeviceDesc d, dev->describe());
  ctx.emit({{"device", to_json(d)}}, [&](std::ostream& os) {
    os << d.name << " clock skew is now " << d.clock_offset_s << " s\n";
  });
  return {};
}

Status policy(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("device policy");
  desc.add_options()("set", po::value<std::vector<std::string>>()->required(), "N=V");
  HSM_TRY_ASSIGN(auto vm, parse_options(args, desc, {"name"}));
  HSM_TRY_ASSIGN(auto dev, ctx.fleet->open(vm["name"].as<std::string>()));
  for (const auto& s : vm["set"].as<std::vector<std::string>>()) {
    HSM_TRY_ASSIGN(auto kv, parse_policy_assignment(s));
    HSM_TRY(dev->set_hsm_policy(kv.first, kv.second));
  }
  HSM_TRY_ASSIGN(api::DeviceDesc d, dev->describe());
  ctx.emit({{"device", to_json(d)}}, [&](std::ostream& os) {
    os << d.name << " HSM policies:";
    for (auto [k, v] : d.hsm_policies) os << " " << k << "=" << v;
    os << "\n";
  });
  return {};
}

}  // namespace

void add_device_commands(std::vector<Command>& out) {
  out.push_back({"device create", "device create NAME --kind K [--firmware V] [--fm never|enabled]", create});
  out.push_back({"device add",
                 "device add NAME --kind pkcs11 --module PATH (--token LABEL | --slot N) [--serial S] "
                 "[--partition P] [--module-env NAME=VALUE]... [--identity-key ed25519|p256]",
                 add});
  out.push_back({"device list", "device list", list});
  out.push_back({"device show", "device show NAME", show});
  out.push_back({"device upgrade", "device upgrade NAME --firmware V", upgrade});
  out.push_back({"device enable-fm", "device enable-fm NAME", enable_fm});
  out.push_back({"device clock", "device clock NAME (--skew SECONDS | --sync)", clock});
  out.push_back({"device policy", "device policy NAME --set N=V [--set N=V ...]", policy});
}

}  // namespace hsm::tool
