// FleetState accessors and the initial state built from a plan's declarations.
#include <algorithm>

#include "migrations/check.hpp"
#include "migrations/internal.hpp"
#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/kind_profile.hpp"

namespace hsm::plans {

namespace rules = luna::rules;

const DeviceState* FleetState::device(const std::string& name) const {
  auto it = devices.find(name);
  return it == devices.end() ? nullptr : &it->second;
}
DeviceState* FleetState::device(const std::string& name) {
  auto it = devices.find(name);
  return it == devices.end() ? nullptr : &it->second;
}
const PartitionState* FleetState::partition(const Address& a) const {
  const DeviceState* d = device(a.device);
  if (!d) return nullptr;
  auto it = d->partitions.find(a.partition);
  return it == d->partitions.end() ? nullptr : &it->second;
}
PartitionState* FleetState::partition(const Address& a) {
  DeviceState* d = device(a.device);
  if (!d) return nullptr;
  auto it = d->partitions.find(a.partition);
  return it == d->partitions.end() ? nullptr : &it->second;
}

api::Endpoint FleetState::endpoint(const Address& a) const {
  api::Endpoint ep;
  const DeviceState* d = device(a.device);
  if (!d) return ep;
  ep.device = d->desc;
  if (const PartitionState* p = partition(a)) {
    ep.partition = p->desc;
    ep.partition.object_count = p->objects.size();
  } else {
    ep.partition.name = a.partition;
  }
  ep.partition.fips = rules::effective_fips(ep.device, ep.partition.fips);  // X2
  return ep;
}

std::string FleetState::fingerprint_of(const std::string& domain) const {
  auto it = domain_fingerprints.find(domain);
  return it == domain_fingerprints.end() ? domain : it->second;
}

namespace detail {

std::optional<KeyShape> key_shape(std::string_view type) {
  static const std::pair<std::string_view, KeyShape> kTypes[] = {
      {"aes-128", {api::KeyType::aes, 128, ""}},      {"aes-192", {api::KeyType::aes, 192, ""}},
      {"aes-256", {api::KeyType::aes, 256, ""}},      {"des3", {api::KeyType::des3, 168, ""}},
      {"rsa-1024", {api::KeyType::rsa, 1024, ""}},    {"rsa-2048", {api::KeyType::rsa, 2048, ""}},
      {"rsa-3072", {api::KeyType::rsa, 3072, ""}},    {"rsa-4096", {api::KeyType::rsa, 4096, ""}},
      {"ec-p256", {api::KeyType::ec, 256, "P-256"}},  {"ec-p384", {api::KeyType::ec, 384, "P-384"}},
      {"ec-p521", {api::KeyType::ec, 521, "P-521"}},  {"ed25519", {api::KeyType::ed25519, 256, "Ed25519"}},
  };
  for (const auto& [name, shape] : kTypes)
    if (name == type) return shape;
  return std::nullopt;
}

bool asymmetric(api::KeyType t) { return t != api::KeyType::aes && t != api::KeyType::des3 && t != api::KeyType::generic; }

std::vector<api::ObjectDesc> objects_of(const DeviceState& dev, const PartitionState& part, const KeySpec& k,
                                        api::KeygenMechanism mech, std::uint64_t& next_handle) {
  std::vector<api::ObjectDesc> out;
  auto shape = key_shape(k.type);
  if (!shape) return out;
  const std::string base = k.label.empty() ? k.type : k.label;
  const std::string where = dev.desc.name + "/" + part.desc.name;
  for (int i = 0; i < k.count; ++i) {
    api::ObjectDesc d;
    d.label = k.count == 1 ? base : base + "-" + std::to_string(i + 1);
    d.key_type = shape->type;
    d.bits = shape->bits;
    d.curve = shape->curve;
    d.extractable = k.extractable;
    d.keygen = shape->type == api::KeyType::rsa ? mech : api::KeygenMechanism::none;
    d.origin_fm = k.origin_fm.value_or(dev.desc.fm);
    d.travelled = k.travelled;
    d.per_key_auth = k.per_key_auth;
    d.assigned = k.assigned;
    d.key_ring = k.key_ring;
    d.des3_counters = k.des3_counters;
    d.unknown_attribute = k.unknown_attribute;
    // A stand-in content fingerprint: unique per object of the plan, copied
    // by clones, so a second clone of the same object is "already present".
    const std::string fp = "plan:" + where + ":" + d.label + ":" + std::to_string(next_handle);
    if (!asymmetric(shape->type)) {
      d.cls = api::ObjectClass::secret_key;
      d.handle = next_handle++;
      d.fingerprint = fp;
      out.push_back(std::move(d));
      continue;
    }
    d.pair_id = fp;
    api::ObjectDesc pub = d;
    d.cls = api::ObjectClass::private_key;
    d.handle = next_handle++;
    d.fingerprint = fp + ":private";
    pub.cls = api::ObjectClass::public_key;
    pub.handle = next_handle++;
    pub.fingerprint = fp + ":public";
    out.push_back(std::move(d));
    out.push_back(std::move(pub));
  }
  return out;
}

Problem setup_problem(const api::Error& e, int line, std::vector<std::string> devices) {
  Problem p;
  p.step = 0;
  p.line = line;
  p.rule = e.rule.empty() ? "plan" : e.rule;
  p.code = e.code;
  p.devices = std::move(devices);
  p.message = e.message;
  p.fix = e.fix;
  return p;
}

}  // namespace detail

namespace {

using detail::setup_problem;

api::DomainDesc domain_of(const Plan& plan, const DomainUse& u, const FleetState& fleet) {
  api::DomainDesc d;
  d.label = u.label;
  d.primary = u.primary;
  const DomainSpec* spec_d = plan.domain(u.name);
  d.kind = spec_d ? spec_d->kind : api::DomainKind::text;
  d.fingerprint = fleet.fingerprint_of(u.name);
  return d;
}

// A token the plan registers: its one partition holds the plan's domains
// (joined at registration, T4) and the keys generated on it. What the token
// can move (T3) and generate (K1/K2) is known once it is registered: until
// then those rules are left to the live check `plan run` makes after setup
// and to the token itself.
void add_token_partition(const Plan& plan, DeviceState& dev, const PartitionSpec& ps, const FleetState& fleet) {
  PartitionState part;
  part.desc.name = ps.name;
  for (const auto& u : ps.domains) part.desc.domains.push_back(domain_of(plan, u, fleet));
  std::uint64_t handle = 1;
  for (const auto& k : ps.keys) {
    auto objs = detail::objects_of(dev, part, k, api::KeygenMechanism::none, handle);
    part.objects.insert(part.objects.end(), std::make_move_iterator(objs.begin()),
                        std::make_move_iterator(objs.end()));
  }
  part.desc.object_count = part.objects.size();
  dev.partitions[ps.name] = std::move(part);
}

// A partition as the plan declares it: as `partition create` makes it (then
// its policies, suites and keys), or as written for a described device.
void add_partition(const Plan& plan, DeviceState& dev, const DeviceSpec& ds, const PartitionSpec& ps,
                   std::vector<Problem>& problems, const FleetState& fleet) {
  const bool emulated = ds.mode == DeviceMode::emulated;
  const std::string addr = ds.name + "/" + ps.name;
  const int line = ps.line;
  auto problem = [&](const api::Error& e) { problems.push_back(setup_problem(e, line, {addr})); };

  rules::PartitionSpec spec{ps.name, ps.type, ps.auth, ps.fips};
  if (ds.mode == DeviceMode::token) {
    add_token_partition(plan, dev, ps, fleet);
    return;
  }
  if (auto st = rules::check_partition_create(dev.desc, static_cast<int>(dev.partitions.size()), spec); !st)
    problem(st.error());
  // rule X2: before firmware 7.7.1 FIPS mode is HSM-wide (as the device checks on creation).
  if (emulated && ps.fips && ds.kind != api::DeviceKind::cloud && dev.desc.firmware < api::Version{7, 7, 1} &&
      !rules::effective_fips(dev.desc, false))
    problem(api::Error::refused("X2", "CKR_TEMPLATE_INCONSISTENT",
                                "before firmware 7.7.1 FIPS mode is set for the whole HSM, not for one "
                                "partition (" + ds.name + " is at " + dev.desc.firmware.str() + ")",
                                "set hsm_policies = { 12 = 0 } on " + ds.name + ", or fips = false"));

  PartitionState part;
  part.desc.name = ps.name;
  part.desc.type = ps.type;
  part.desc.auth = ps.auth;
  part.desc.fips = ps.fips;
  part.desc.policies = rules::initial_partition_policies(dev.desc, spec);
  for (const auto& u : ps.domains) part.desc.domains.push_back(domain_of(plan, u, fleet));
  // rule U2: 7.8.0+ partitions and cloud services list every CPv4 suite, all enabled.
  const bool suites = ds.kind == api::DeviceKind::cloud ||
                      (ds.kind == api::DeviceKind::luna7 && dev.desc.firmware >= api::Version{7, 8, 0});
  if (suites) {
    part.desc.suites_available = luna::cpv4_suites();
    part.desc.suites_enabled = luna::cpv4_suites();
  }
  if (ps.suites) {
    for (const auto& s : *ps.suites)
      if (auto st = rules::check_suite_change(dev.desc, part.desc, s); !st) problem(st.error());
    if (suites) {
      part.desc.suites_enabled.clear();
      for (const auto& s : luna::cpv4_suites())
        if (std::find(ps.suites->begin(), ps.suites->end(), s) != ps.suites->end())
          part.desc.suites_enabled.push_back(s);
    }
  }
  // Declared policies, checked as `partition policy` would check them.
  for (auto [id, value] : ps.policies) {
    api::PartitionDesc view = part.desc;
    view.fips = rules::effective_fips(dev.desc, view.fips);
    if (auto st = rules::check_partition_policy(dev.desc, view, id, value); !st) problem(st.error());
    else part.desc.policies[id] = value;
  }

  std::uint64_t handle = 1;
  for (const auto& k : ps.keys) {
    auto shape = detail::key_shape(k.type);
    if (!shape) continue;
    api::KeygenMechanism mech = k.keygen;
    if (emulated) {
      api::PartitionDesc view = part.desc;
      view.fips = rules::effective_fips(dev.desc, view.fips);
      view.object_count = part.objects.size();
      // rule K4, then the device's own default (186-3 for RSA).
      mech = rules::remap_keygen(dev.desc, view, mech, plan.client);
      if (shape->type == api::KeyType::rsa && mech == api::KeygenMechanism::none)
        mech = api::KeygenMechanism::fips186_3;
      if (auto st = rules::check_key_generation(dev.desc, view, shape->type, shape->bits, mech); !st) {
        problems.push_back(setup_problem(st.error(), k.line, {addr}));
        continue;
      }
      const std::uint64_t adding = static_cast<std::uint64_t>(k.count) * (detail::asymmetric(shape->type) ? 2 : 1);
      if (auto st = rules::check_capacity(dev.desc, view, adding); !st) {
        problems.push_back(setup_problem(st.error(), k.line, {addr}));
        continue;
      }
    } else if (shape->type == api::KeyType::rsa && mech == api::KeygenMechanism::none) {
      mech = api::KeygenMechanism::fips186_3;
    }
    auto objs = detail::objects_of(dev, part, k, mech, handle);
    part.objects.insert(part.objects.end(), std::make_move_iterator(objs.begin()),
                        std::make_move_iterator(objs.end()));
  }
  if (ps.objects) {
    // Objects only counted: checked as AES-256 secret keys.
    KeySpec anon;
    anon.type = "aes-256";
    anon.label = "object";
    const std::uint64_t extra = *ps.objects - std::min<std::uint64_t>(*ps.objects, part.objects.size());
    anon.count = static_cast<int>(extra);
    if (extra) {
      auto objs = detail::objects_of(dev, part, anon, api::KeygenMechanism::none, handle);
      part.objects.insert(part.objects.end(), std::make_move_iterator(objs.begin()),
                          std::make_move_iterator(objs.end()));
    }
  }
  if (!emulated) {
    api::PartitionDesc view = part.desc;
    view.object_count = 0;
    if (auto st = rules::check_capacity(dev.desc, view, part.objects.size()); !st) problem(st.error());
  }
  part.desc.object_count = part.objects.size();
  dev.partitions[ps.name] = std::move(part);
}

}  // namespace

FleetState fleet_from_plan(const Plan& plan, FleetState live) {
  FleetState st = std::move(live);
  for (const auto& ds : plan.devices) {
    DeviceState* have = st.device(ds.name);
    if (have) {
      // rule P1 aside, a live device that is not what the plan says.
      if (have->desc.kind != ds.kind)
        st.setup.push_back(setup_problem(
            api::Error::usage("device " + ds.name + " in the fleet is a " +
                                  std::string(api::to_string(have->desc.kind)) + ", the plan declares a " +
                                  std::string(api::to_string(ds.kind)),
                              "rename the device in the plan or fix kind = ..."),
            ds.line, {ds.name}));
      else if (ds.mode != DeviceMode::token && have->desc.firmware != ds.firmware) {
        Problem p = setup_problem(api::Error::usage("device " + ds.name + " runs firmware " +
                                                    have->desc.firmware.str() + "; the plan declares " +
                                                    ds.firmware.str() + " (checked with " +
                                                    have->desc.firmware.str() + ")"),
                                  ds.line, {ds.name});
        p.warning = true;
        st.setup.push_back(std::move(p));
      }
      for (const auto& ps : ds.partitions)
        if (!have->partitions.count(ps.name)) add_partition(plan, *have, ds, ps, st.setup, st);
      continue;
    }
    DeviceState dev;
    dev.desc.name = ds.name;
    dev.desc.kind = ds.kind;
    dev.desc.firmware = ds.firmware;
    dev.desc.safexcel = ds.safexcel;
    dev.desc.clock_offset_s = ds.clock_offset_s;
    if (ds.mode == DeviceMode::token) {  // no firmware, FMs or HSM policies of its own
      for (const auto& ps : ds.partitions) add_partition(plan, dev, ds, ps, st.setup, st);
      st.devices[ds.name] = std::move(dev);
      continue;
    }
    // The HSM policies a new device starts with (7, 12, 16 = 1; 50 = FM; 57 = 0).
    dev.desc.hsm_policies = {{api::policy::hsm_allow_cloning, 1},
                             {api::policy::hsm_allow_non_fips, 1},
                             {api::policy::hsm_network_replication, 1},
                             {api::policy::hsm_allow_fm, ds.fm ? 1 : 0},
                             {api::policy::hsm_allow_clock_sync, 0}};
    if (auto s = rules::check_firmware(ds.kind, ds.firmware); !s)
      st.setup.push_back(setup_problem(s.error(), ds.line, {ds.name}));
    if (ds.fm) {
      if (auto s = rules::check_enable_fm(dev.desc); !s)
        st.setup.push_back(setup_problem(s.error(), ds.line, {ds.name}));
      else
        dev.desc.fm = api::FmState::enabled;
    }
    // HSM policies first (policy 12 = 0 lets FIPS partitions be created before 7.7.1).
    for (auto [id, value] : ds.hsm_policies) {
      if (auto s = rules::check_hsm_policy(dev.desc, {}, id, value); !s)
        st.setup.push_back(setup_problem(s.error(), ds.line, {ds.name}));
      else
        dev.desc.hsm_policies[id] = value;
    }
    for (const auto& ps : ds.partitions) add_partition(plan, dev, ds, ps, st.setup, st);
    st.devices[ds.name] = std::move(dev);
  }
  for (const auto& g : plan.groups)
    if (!st.groups.count(g.name)) st.groups[g.name] = g.members;
  return st;
}

}  // namespace hsm::plans
