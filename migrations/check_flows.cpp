// The plan checker's object flows (class Sim, check_sim.hpp): clone, backup
// (to a Backup HSM G5 or an archive), restore, drill, verify and prune. A
// flow is judged by the same evaluation as `check` and `clone`
// (rules::evaluate_clone), on the target as earlier steps left it.
#include <algorithm>
#include <set>
#include <unordered_set>

#include "migrations/check_sim.hpp"
#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/evaluation.hpp"
#include "plugins/luna/rules/kind_profile.hpp"

namespace hsm::plans::sim {

std::vector<api::ObjectDesc> Sim::select(const Address& from, const std::string& selector) {
  const PartitionState* p = st_.partition(from);
  std::vector<api::ObjectDesc> out;
  for (const auto& o : p->objects)
    if (selector == "all" || o.label == selector) out.push_back(o);
  if (selector != "all" && out.empty())
    add("plan", "", {from.str()},
        "objects = \"" + selector + "\" selects no object on " + from.str() +
            " at this step (objects are selected by label, or \"all\")");
  return out;
}

void Sim::report_objects(const Endpoint& src, const Endpoint& dst,
                         const std::vector<api::ObjectDesc>& objs,
                         const std::vector<Verdict>& verdicts, const std::string& from,
                         const Address& to, CopyMode mode) {
  struct Group {
    const Verdict* first;
    std::vector<std::string> labels;
  };
  std::map<std::string, Group> by;
  std::vector<std::string> order;
  std::set<std::string> warned;
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    const Verdict& v = verdicts[i];
    for (const auto& w : v.warnings)
      if (warned.insert(w).second)
        add(v.rule.empty() ? "plan" : v.rule, "", {from, to.str()}, w, "", true);
    if (v.allowed) continue;
    const std::string k = v.rule + "|" + v.code + "|" + v.fix;
    auto [it, fresh] = by.try_emplace(k, Group{&v, {}});
    if (fresh) order.push_back(k);
    it->second.labels.push_back(objs[i].label.empty() ? "#" + std::to_string(objs[i].handle)
                                                      : objs[i].label);
  }
  for (const auto& k : order) {
    const Group& g = by[k];
    std::string msg = g.first->message;
    if (g.labels.size() > 1) {
      std::vector<std::string> shown(g.labels.begin(),
                                     g.labels.begin() + std::min<std::size_t>(5, g.labels.size()));
      msg += " (" + std::to_string(g.labels.size()) + " objects refused by rule " + g.first->rule +
             ": " + join(shown) + (g.labels.size() > 5 ? ", ..." : "") + ")";
    }
    Problem& p =
        add(g.first->rule, g.first->code, {src.address(), dst.address()}, msg, g.first->fix);
    if (g.first->rule == "C1") {
      // rule C1 again on the target as an earlier step found it.
      explain(p, keys_of({&to}), [&](const Revert& r) {
        Endpoint d2 = endpoint_with(st_, to, r);
        if (mode == CopyMode::replace)
          d2.partition.object_count = 0;
        else
          d2.partition.held_fingerprints = dst.partition.held_fingerprints;
        rules::CapacityCount room(d2.device, d2.partition);
        for (std::size_t i = 0; i < objs.size(); ++i)
          if ((verdicts[i].allowed || verdicts[i].rule == "C1") && !room.take(objs[i]).ok())
            return false;
        return true;
      });
    }
  }
}

void Sim::suggest_backup_route(Problem& p, const Endpoint& src, const Endpoint& dst,
                               const Address& from, const Address& to) {
  if (p.rule != "P4" && p.rule != "P5" && p.rule != "P7" && p.rule != "P8") return;
  if (src.device.kind == api::DeviceKind::backup_g5 ||
      dst.device.kind == api::DeviceKind::backup_g5)
    return;
  for (const auto& [dname, dev] : st_.devices) {
    if (dev.desc.kind != api::DeviceKind::backup_g5) continue;
    for (const auto& [pname, part] : dev.partitions) {
      const Address bk{dname, pname};
      const Endpoint b = st_.endpoint(bk);
      if (!rules::evaluate_pair(src, b, plan_.client).allowed) continue;
      // What the target would see from the G5 once the objects are in it.
      if (!rules::evaluate_pair(b, dst, plan_.client).allowed) continue;
      p.fix += std::string(p.fix.empty() ? "" : "; or ") + "go through the Backup HSM " + bk.str() +
               ": a backup step (from = \"" + from.str() + "\", to = \"" + bk.str() +
               "\") then a restore step (from = \"" + bk.str() + "\", to = \"" + to.str() +
               "\"); `plan order` makes this change";
      return;
    }
  }
}

Endpoint Sim::target_view(const Address& to, CopyMode mode,
                          const std::vector<api::ObjectDesc>& incoming) const {
  Endpoint dst = st_.endpoint(to);
  if (mode == CopyMode::replace) {
    dst.partition.object_count = 0;
    return dst;
  }
  std::unordered_set<std::string> wanted;
  for (const auto& o : incoming)
    if (!o.fingerprint.empty()) wanted.insert(o.fingerprint);
  if (const PartitionState* p = st_.partition(to))
    for (const auto& o : p->objects)
      if (wanted.count(o.fingerprint)) dst.partition.held_fingerprints.insert(o.fingerprint);
  return dst;
}

std::pair<std::size_t, std::size_t> Sim::land(PartitionState* dpart, const Endpoint& dst,
                                              const std::vector<api::ObjectDesc>& objs,
                                              const std::vector<Verdict>& verdicts,
                                              std::optional<api::Protocol> protocol) {
  std::uint64_t handle = 1;
  if (dpart)
    for (const auto& o : dpart->objects) handle = std::max(handle, o.handle + 1);
  std::unordered_set<std::string> seen;
  std::size_t created = 0, already = 0;
  for (std::size_t i = 0; i < objs.size(); ++i) {
    if (!verdicts[i].allowed) continue;
    const std::string& fp = objs[i].fingerprint;
    if (!fp.empty() && (dst.partition.held_fingerprints.count(fp) || !seen.insert(fp).second)) {
      ++already;
      continue;
    }
    ++created;
    if (!dpart) continue;
    api::ObjectDesc o = objs[i];
    o.handle = handle++;
    if (protocol) o.travelled.push_back(*protocol);  // S3: provenance travels with the object
    dpart->objects.push_back(std::move(o));
  }
  if (dpart) dpart->desc.object_count = dpart->objects.size();
  return {created, already};
}

void Sim::transfer(const Address& from, const Address& to, const std::string& selector,
                   CopyMode mode, const std::string& verb) {
  const auto selected = select(from, selector);
  PartitionState& dpart = *st_.partition(to);
  const Endpoint src = st_.endpoint(from);
  // The target as the clone finds it: emptied first by a replace (X5), else
  // holding the objects earlier steps put there. The rules judge every
  // selected object; C1 counts only those the target lacks.
  const Endpoint dst = target_view(to, mode, selected);
  const api::Evaluation ev = rules::evaluate_clone(src, dst, selected, plan_.client);
  res_.batch_limit = ev.batch_limit;
  if (!ev.pair.allowed) {
    Problem& p = add(ev.pair, {from.str(), to.str()});
    explain(p, keys_of({&from, &to}), [&](const Revert& r) {
      return rules::evaluate_pair(endpoint_with(st_, from, r), endpoint_with(st_, to, r),
                                  plan_.client)
          .allowed;
    });
    if (p.caused_by == 0) suggest_backup_route(p, src, dst, from, to);
    res_.summary = verb + " " + from.str() + " -> " + to.str() + ": refused";
    return;
  }
  res_.protocol = ev.pair.protocol;
  for (const auto& w : ev.pair.warnings) add(ev.pair.rule, "", {from.str(), to.str()}, w, "", true);
  report_objects(src, dst, selected, ev.objects, from.str(), to, mode);
  changed_partition(to);
  if (mode == CopyMode::replace) dpart.objects.clear();
  const auto [moved, already] = land(&dpart, dst, selected, ev.objects, ev.pair.protocol);
  res_.objects = moved;
  std::string sum = verb + " " + std::to_string(moved) + " object(s) " + from.str() + " -> " +
                    to.str() + " by " + std::string(api::to_string(*ev.pair.protocol));
  if (already) sum += ", " + std::to_string(already) + " already present";
  if (ev.batch_limit < rules::kUnlimitedBatch && moved > ev.batch_limit)
    sum += ", in batches of at most " + std::to_string(ev.batch_limit) + " (C2)";
  res_.summary = sum;
}

void Sim::on(const BackupStep& s) {
  if (s.to) {
    transfer(s.from, *s.to, "all", s.mode, "backup");
    return;
  }
  // An archive: the source device seals every object for its own domain.
  const Endpoint src = st_.endpoint(s.from);
  const PartitionState& part = *st_.partition(s.from);
  // rule X1: HSM policy 7 must be 1 for any cloning or backup; policies 0
  // and 4 gate private and secret keys.
  if (src.device.hsm_policies.count(api::policy::hsm_allow_cloning) &&
      src.device.hsm_policies.at(api::policy::hsm_allow_cloning) != 1) {
    Problem& p =
        add("X1", "CKR_OPERATION_NOT_ALLOWED", {s.from.str()},
            "HSM policy 7 (allow cloning) is 0 on " + s.from.device + ", so " + s.from.str() +
                " cannot be backed up",
            "set HSM policy 7 to 1 on " + s.from.device + " (a policy step with device = \"" +
                s.from.device + "\", set = [\"7=1\"])");
    explain(p, keys_of({&s.from}), [&](const Revert& r) {
      const Endpoint e = endpoint_with(st_, s.from, r);
      auto it = e.device.hsm_policies.find(api::policy::hsm_allow_cloning);
      return it == e.device.hsm_policies.end() || it->second == 1;
    });
    return;
  }
  const api::DomainDesc* primary = nullptr;
  for (const auto& d : src.partition.domains)
    if (d.primary) primary = &d;
  if (!primary && !src.partition.domains.empty()) primary = &src.partition.domains.front();
  if (!primary) {
    add("S1", "CKR_DOMAIN_NO_PRIMARY", {s.from.str()},
        s.from.str() + " has no cloning domain to seal an archive for");
    return;
  }
  ArchiveState a;
  a.step = number_;
  a.source = src;
  a.domain = primary->fingerprint;
  std::size_t refused = 0;
  for (const auto& o : part.objects) {
    auto pol = [&](int id) {
      auto it = src.partition.policies.find(id);
      return it == src.partition.policies.end() ? 1 : it->second;
    };
    if ((o.cls == api::ObjectClass::private_key &&
         pol(api::policy::part_private_key_cloning) != 1) ||
        (o.cls == api::ObjectClass::secret_key && pol(api::policy::part_secret_key_cloning) != 1)) {
      ++refused;
      continue;
    }
    a.objects.push_back(o);
  }
  if (refused)
    add("X1", "CKR_OPERATION_NOT_ALLOWED", {s.from.str()},
        std::to_string(refused) + " object(s) of " + s.from.str() +
            " stay out of the archive: partition policy 0 or 4 (private / secret key cloning) is 0",
        "set partition policies 0 and 4 to 1 on " + s.from.str());
  if (a.objects.empty())
    add("plan", "", {s.from.str()},
        "the archive of " + s.from.str() + " would hold no object; a verify of it checks nothing",
        "", true);
  res_.objects = a.objects.size();
  res_.summary = "backup " + std::to_string(a.objects.size()) + " object(s) of " + s.from.str() +
                 " -> archive " + s.archive;
  st_.archives[s.archive] = std::move(a);
}

Sim::ArchiveVerdict Sim::judge_archive(const ArchiveState& a, const Endpoint& dst,
                                       const std::vector<api::ObjectDesc>& objs) const {
  ArchiveVerdict out;
  auto refuse = [&](std::string rule, std::string code, std::string msg, std::string fix = {}) {
    out.pair = Verdict{false,           std::nullopt,   std::move(rule),
                       std::move(code), std::move(msg), std::move(fix)};
    return out;
  };
  const std::string t = dst.address();
  bool holds = false;
  for (const auto& d : dst.partition.domains) holds = holds || d.fingerprint == a.domain;
  if (!holds)
    return refuse(
        "S1", "CKR_CERTIFICATE_INVALID",
        t + " does not hold the cloning domain of the archive (from " + a.source.address() + ")",
        "restore into a partition of " + a.source.address() + "'s domain, or add that domain to " +
            t + " with a domain-add step (firmware 7.8.0 and policy 44)");
  auto fm_class = [](const api::DeviceDesc& d) {
    if (d.kind == api::DeviceKind::luna6 || d.kind == api::DeviceKind::backup_g5)
      return api::FmState::never;
    if (d.kind == api::DeviceKind::luna7 && d.firmware < Version{7, 4, 0})
      return api::FmState::never;
    return d.fm;
  };
  if (fm_class(a.source.device) == api::FmState::never &&
      fm_class(dst.device) == api::FmState::enabled)
    return refuse("S2", "CKR_FM_NEVER_ENABLED",
                  "the archive comes from " + a.source.address() +
                      " on an HSM that never enabled Functionality "
                      "Modules and " +
                      t + " is on an FM-enabled HSM",
                  "restore into a partition on an HSM that never enabled FMs");
  const bool src_new = a.source.device.kind == api::DeviceKind::luna7 &&
                       a.source.device.firmware >= Version{7, 7, 0};
  const bool dst_old =
      dst.device.kind == api::DeviceKind::luna6 ||
      (dst.device.kind == api::DeviceKind::luna7 && dst.device.firmware < Version{7, 7, 0});
  if (src_new && dst_old)
    return refuse(
        "X6", "CKR_OPERATION_NOT_ALLOWED",
        "the archive comes from " + a.source.address() + " (firmware " +
            a.source.device.firmware.str() +
            ") and objects of 7.7.0+ partitions never restore to the pre-7.7.0 partition " + t,
        "restore into a Luna 7 partition at firmware 7.7.0 or newer");
  if (a.source.partition.type == api::PartitionType::v1 &&
      dst.partition.type != api::PartitionType::v1)
    return refuse("U4", "CKR_OPERATION_NOT_ALLOWED",
                  "the archive holds the SKS master key and blobs of the V1 partition " +
                      a.source.address() + "; " + t + " is not a V1 partition",
                  "restore into a V1 partition (firmware 7.7.0 or newer)");
  api::Protocol proto = api::Protocol::cpv1;
  if (rules::at_7_8(dst.device))
    proto = api::Protocol::cpv4;
  else if ((dst.device.kind == api::DeviceKind::luna7 && dst.device.firmware >= Version{7, 7, 0}) ||
           (dst.device.kind == api::DeviceKind::backup_g5 &&
            dst.device.firmware >= Version{6, 28, 0}))
    proto = api::Protocol::cpv3;
  out.pair.allowed = true;
  out.pair.protocol = proto;
  // rule C1: counts only what would be created (dst.partition.held_fingerprints).
  rules::CapacityCount room(dst.device, dst.partition);
  for (const auto& o : objs) {
    Verdict v = rules::evaluate_object(a.source, dst, o, proto, plan_.client);
    if (v.allowed)
      if (auto full = room.take(o); !full.ok())
        v = Verdict{
            false,           proto, full.error().rule, full.error().code, full.error().message,
            full.error().fix};
    out.objects.push_back(std::move(v));
  }
  return out;
}

const ArchiveState* Sim::archive_of(const std::string& path, const std::string& verb) {
  auto it = st_.archives.find(path);
  if (it != st_.archives.end()) return &it->second;
  add("plan", "", {"archive:" + path},
      "archive " + path + " is not written by an earlier backup step of this plan; " + verb +
          " is checked against its contents at run time",
      "", true);
  return nullptr;
}

void Sim::from_archive(const std::string& path, const Address& to, CopyMode mode,
                       const std::string& selector, bool apply, const std::string& verb) {
  const ArchiveState* a = archive_of(path, verb);
  if (!a) return;
  PartitionState& dpart = *st_.partition(to);
  std::vector<api::ObjectDesc> selected;
  for (const auto& o : a->objects)
    if (selector == "all" || o.label == selector) selected.push_back(o);
  if (selector != "all" && selected.empty())
    add("plan", "", {"archive:" + path},
        "objects = \"" + selector + "\" selects no object of archive " + path);
  const Endpoint dst = target_view(to, mode, selected);
  const ArchiveVerdict v = judge_archive(*a, dst, selected);
  const std::vector<std::string> devs{"archive:" + path, to.str()};
  if (!v.pair.allowed) {
    Problem& p = add(v.pair, devs);
    explain(p, keys_of({&to}), [&](const Revert& r) {
      Endpoint d2 = endpoint_with(st_, to, r);
      if (mode == CopyMode::replace) d2.partition.object_count = 0;
      return judge_archive(*a, d2, {}).pair.allowed;
    });
    return;
  }
  report_objects(a->source, dst, selected, v.objects, "archive:" + path, to, mode);
  const auto [ok, already] = land(nullptr, dst, selected, v.objects, std::nullopt);
  res_.objects = ok;
  if (!apply && already)
    add("plan", "", devs,
        to.str() + " already holds " + std::to_string(already) +
            " of the archive's objects; the drill does not "
            "restore (or test) those",
        "drill into an empty scratch partition of the same domain", true);
  res_.summary = verb + " " + std::to_string(ok) + " object(s) of archive " + path + " -> " +
                 to.str() + (already ? ", " + std::to_string(already) + " already present" : "");
  if (!apply) return;
  changed_partition(to);
  if (mode == CopyMode::replace) dpart.objects.clear();
  land(&dpart, dst, selected, v.objects, std::nullopt);
}

void Sim::on(const RestoreStep& s) {
  if (s.from)
    transfer(*s.from, s.to, s.objects, s.mode, "restore");
  else
    from_archive(s.archive, s.to, s.mode, s.objects, true, "restore");
}

void Sim::on(const VerifyStep& s) {
  const ArchiveState* a = archive_of(s.archive, "verify");
  if (!a) return;
  res_.objects = a->objects.size();
  res_.summary = "verify archive " + s.archive + " (" + std::to_string(a->objects.size()) +
                 " object(s), from step " + std::to_string(a->step) + ")";
  if (!s.with) return;
  const Endpoint w = st_.endpoint(*s.with);
  bool holds = false;
  for (const auto& d : w.partition.domains) holds = holds || d.fingerprint == a->domain;
  if (!holds) {
    Problem& p = add("S1", "CKR_CERTIFICATE_INVALID", {"archive:" + s.archive, s.with->str()},
                     s.with->str() + " does not hold the cloning domain of archive " + s.archive +
                         ", so it cannot open its blobs",
                     "verify with a partition of " + a->source.address() + "'s domain");
    explain(p, keys_of({&*s.with}), [&](const Revert& r) {
      for (const auto& d : endpoint_with(st_, *s.with, r).partition.domains)
        if (d.fingerprint == a->domain) return true;
      return false;
    });
  }
}

void Sim::on(const PruneStep& s) {
  if (s.keep_daily + s.keep_weekly + s.keep_monthly == 0)
    add("plan", "", {"dir:" + s.dir},
        "prune with every keep_* at 0 would delete every archive in " + s.dir,
        "keep at least one archive (keep_daily = 1)");
}

}  // namespace hsm::plans::sim
