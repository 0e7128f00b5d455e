#include "plugins/luna/rules/config_rules.hpp"

#include <algorithm>

#include "plugins/luna/rules/kind_profile.hpp"
#include "plugins/luna/rules/rule_support.hpp"

namespace hsm::luna::rules {

using api::DeviceDesc;
using api::DeviceKind;
using api::Error;
using api::PartitionDesc;
using api::Status;
using api::Version;

namespace {

const api::DomainDesc* find_domain(const PartitionDesc& part, std::string_view label) {
  for (const auto& d : part.domains)
    if (d.label == label) return &d;
  return nullptr;
}

std::string quoted(std::string_view label) {
  return label.empty() ? std::string("(unlabelled)") : "\"" + std::string(label) + "\"";
}

bool is_pre(const DeviceDesc& dev, const Version& v) { return dev.firmware < v; }

}  // namespace

bool effective_fips(const DeviceDesc& dev, bool partition_fips_flag) {
  // rule X2: HSM policy 12 = 0 puts every partition in FIPS mode.
  return partition_fips_flag || policy_value(dev.hsm_policies, api::policy::hsm_allow_non_fips, 1) == 0;
}

Status check_firmware(DeviceKind kind, const Version& fw) {
  const KindProfile& p = profile(kind);
  // rule P1: nothing below 6.0 is supported (CPv0 is end of life).
  if (fw < Version{6, 0, 0})
    return Error::refused("P1", "CKR_OPERATION_NOT_ALLOWED",
                          "firmware " + fw.str() + " is below 6.0 and unsupported (CPv0 is end of life)",
                          "use firmware 6.x or newer");
  if (fw < p.min_firmware || (p.below_firmware && fw >= *p.below_firmware)) {
    std::string range = p.min_firmware.str() + (p.below_firmware ? " up to (not including) " +
                                                                      p.below_firmware->str()
                                                                : " or newer");
    return Error::refused("P1", "CKR_OPERATION_NOT_ALLOWED",
                          "firmware " + fw.str() + " is not valid for a " +
                              std::string(api::to_string(kind)) + " device",
                          "give a firmware from " + range);
  }
  return {};
}

namespace {

// "7.0.1, 7.0.2 or 7.4.2"; a range reads "7.0.1 through 7.8.2".
std::string sources_of(const UpdatePath& p) {
  std::vector<std::string> parts;
  for (const auto& r : p.from)
    parts.push_back(r.first == r.last ? r.first.str() : r.first.str() + " through " + r.last.str());
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i)
    out += (i == 0 ? "" : i + 1 == parts.size() ? " or " : ", ") + parts[i];
  return out;
}

bool accepts(const UpdatePath& p, const Version& from) {
  return std::any_of(p.from.begin(), p.from.end(),
                     [&](const VersionRange& r) { return r.contains(from); });
}

// One update, judged alone: upward, a firmware of the kind, and from a listed
// source when the table knows the release.
bool direct_update(DeviceKind kind, const Version& from, const Version& to) {
  if (to <= from || !check_firmware(kind, to).ok()) return false;
  const UpdatePath* p = update_path_to(kind, to);
  return !p || accepts(*p, from);
}

std::vector<Version> route(DeviceKind kind, const Version& from, const Version& to, int depth) {
  if (direct_update(kind, from, to)) return {to};
  const UpdatePath* p = update_path_to(kind, to);
  if (!p || depth == 0) return {};
  // The newest listed source above `from` first: fewest and latest steps.
  for (auto r = p->from.rbegin(); r != p->from.rend(); ++r) {
    if (r->last <= from) continue;
    auto head = route(kind, from, r->last, depth - 1);
    if (head.empty()) continue;
    head.push_back(to);
    return head;
  }
  return {};
}

}  // namespace

const char* update_rule(DeviceKind kind) {
  return kind == DeviceKind::backup_g5 ? "X6" : "X9";
}

std::vector<Version> upgrade_route(DeviceKind kind, const Version& from, const Version& to) {
  return route(kind, from, to, static_cast<int>(update_paths().size()));
}

Status check_upgrade(const DeviceDesc& dev, const Version& to) {
  if (to <= dev.firmware)
    return Error::refused("P1", "CKR_OPERATION_NOT_ALLOWED",
                          dev.name + " is at firmware " + dev.firmware.str() +
                              "; upgrades go upward only (a rollback zeroizes a real HSM)",
                          "give a firmware newer than " + dev.firmware.str());
  HSM_TRY(check_firmware(dev.kind, to));
  // rules X9 (Luna 7) and X6 (Backup HSM G5): only the documented update paths.
  const UpdatePath* path = update_path_to(dev.kind, to);
  if (!path || accepts(*path, dev.firmware)) return {};
  const std::string msg = dev.name + " runs firmware " + dev.firmware.str() + ", and " + to.str() +
                          " is reached only from " + sources_of(*path);
  const auto steps = upgrade_route(dev.kind, dev.firmware, to);
  std::string fix;
  for (std::size_t i = 0; i + 1 < steps.size(); ++i)
    fix += (i == 0 ? "update " + dev.name + " to " : ", then to ") + steps[i].str() +
           (i == 0 ? " first" : "");
  if (!fix.empty()) {
    fix += ", then to " + to.str();
  } else {
    fix = "no documented update path leads from " + dev.firmware.str() + " to " + to.str();
    std::vector<std::string> instead;
    for (const auto& p : update_paths())
      if (p.kind == dev.kind && p.release > dev.firmware && accepts(p, dev.firmware))
        instead.push_back(p.release.str());
    for (std::size_t i = 0; i < instead.size(); ++i) fix += (i == 0 ? "; " : " or ") + instead[i];
    if (!instead.empty())
      fix += std::string(instead.size() == 1 ? " accepts" : " accept") + " an update from " +
             dev.firmware.str();
  }
  return Error::refused(path->rule, "CKR_OPERATION_NOT_ALLOWED", msg, fix);
}

std::string upgrade_path_flag(const DeviceDesc& dev, const Version& to) {
  if (update_path_to(dev.kind, to)) return {};
  // Not a refusal: the documents give no path for this release either way.
  return "the table of documented update paths has no entry for " +
         std::string(api::to_string(dev.kind)) + " firmware " + to.str() + ", so the update of " +
         dev.name + " from " + dev.firmware.str() +
         " is allowed unchecked; confirm the path in the release notes of " + to.str();
}

Status check_enable_fm(const DeviceDesc& dev) {
  // rule S3: a Backup HSM must stay FM-disabled.
  if (dev.kind == DeviceKind::backup_g5)
    return Error::refused("S3", "CKR_OPERATION_NOT_ALLOWED",
                          dev.name + " is a Backup HSM, which must stay FM-disabled");
  // rule S2 (model): a cloud service offers no Functionality Modules.
  if (!profile(dev.kind).can_enable_fm)
    return Error::refused("S2", "CKR_OPERATION_NOT_ALLOWED",
                          dev.name + " is a " + std::string(api::to_string(dev.kind)) +
                              " device, which offers no Functionality Modules");
  // rule S2: FMs need firmware 7.4.0 and enabling is one-way.
  if (dev.fm == api::FmState::enabled)
    return Error::refused("S2", "CKR_OPERATION_NOT_ALLOWED",
                          "Functionality Modules are already enabled on " + dev.name +
                              " (enabling is one-way)");
  if (is_pre(dev, {7, 4, 0}))
    return Error::refused("S2", "CKR_FM_NEVER_ENABLED",
                          dev.name + " runs firmware " + dev.firmware.str() +
                              "; Functionality Modules need 7.4.0 or newer",
                          dev.kind == DeviceKind::luna6 ? "use a Luna 7 at 7.4.0 or newer"
                                                        : "upgrade " + dev.name + " to 7.4.0 or newer first");
  // rule X9: FMs also need HSM policy 50 (allow Functionality Modules) set to
  // 1; a device starts with it at 0.
  if (policy_value(dev.hsm_policies, api::policy::hsm_allow_fm, 0) != 1)
    return Error::refused("X9", "CKR_OPERATION_NOT_ALLOWED",
                          "HSM policy 50 (allow Functionality Modules) is 0 on " + dev.name +
                              "; enabling FMs needs it at 1",
                          "run `hsm-migrate device policy " + dev.name + " --set 50=1` first");
  return {};
}

Status check_partition_create(const DeviceDesc& dev, int existing, const PartitionSpec& spec) {
  const KindProfile& p = profile(dev.kind);
  if (spec.name.empty() || spec.name.size() > 32 ||
      spec.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
          std::string_view::npos)
    return Error::usage("partition name \"" + std::string(spec.name) +
                            "\" is invalid: use 1-32 letters, digits, '-', '_' or '.'");
  if (existing >= p.max_partitions)
    return Error::refused(p.kind == DeviceKind::cloud ? "C1" : "X10", "CKR_MAX_OBJECT_COUNT_EXCEEDED",
                          dev.name + " already has " + std::to_string(existing) +
                              " partition(s), the most a " + std::string(api::to_string(dev.kind)) +
                              " device holds",
                          p.kind == DeviceKind::cloud ? "create another cloud service instead" : "");
  // rule C4 (X10): cloud services use password authentication.
  if (p.password_only && spec.auth != api::AuthKind::password)
    return Error::refused("C4", "CKR_TEMPLATE_INCONSISTENT",
                          "a cloud service uses password authentication only",
                          "create it with --auth password and import the PED domain with --ped-key");
  // rule X7: V1 (SKS) partitions exist from firmware 7.7.0.
  if (spec.type == api::PartitionType::v1 &&
      (dev.kind != DeviceKind::luna7 || is_pre(dev, {7, 7, 0})))
    return Error::refused("X7", "CKR_TEMPLATE_INCONSISTENT",
                          "V1 partitions need a Luna 7 at firmware 7.7.0 or newer; " + dev.name +
                              " is " + std::string(api::to_string(dev.kind)) + " " + dev.firmware.str(),
                          "upgrade " + dev.name + " to 7.7.0 or create a V0 partition");
  return {};
}

std::map<int, int> initial_partition_policies(const DeviceDesc& dev, const PartitionSpec& s) {
  namespace pol = api::policy;
  // rule X1 defaults: cloning mode (0 and 4 on, 1 off); 16 follows the HSM.
  std::map<int, int> out{{pol::part_private_key_cloning, 1},
                         {pol::part_private_key_wrapping, 0},
                         {pol::part_secret_key_cloning, 1},
                         {pol::part_network_replication, 1}};
  // rule P5: policy 42 exists from 7.7.1 and starts OFF on V0 partitions.
  if (dev.kind != DeviceKind::luna6 && dev.kind != DeviceKind::backup_g5 &&
      !is_pre(dev, {7, 7, 1}) && dev.kind != DeviceKind::cloud)
    out[pol::part_allow_cpv1] = 0;
  // rule X2: policy 43 exists from 7.7.1 (0 = FIPS partition).
  if (dev.kind == DeviceKind::luna7 && !is_pre(dev, {7, 7, 1}))
    out[pol::part_allow_non_fips] = s.fips ? 0 : 1;
  // rule D1: policy 44 exists from 7.8.0 and is OFF by default.
  if (dev.kind == DeviceKind::cloud || (dev.kind == DeviceKind::luna7 && !is_pre(dev, {7, 8, 0})))
    out[pol::part_domain_management] = 0;
  return out;
}

std::map<int, int> policies_added_by_upgrade(const Version& from, const Version& to) {
  std::map<int, int> out;
  // rule P5: partitions updated from pre-7.7.x get policy 42 OFF.
  if (from < Version{7, 7, 1} && to >= Version{7, 7, 1}) out[api::policy::part_allow_cpv1] = 0;
  // rule D1: policy 44 appears at 7.8.0, OFF for backward compatibility.
  if (from < Version{7, 8, 0} && to >= Version{7, 8, 0}) out[api::policy::part_domain_management] = 0;
  return out;
}

Status check_partition_policy(const DeviceDesc& dev, const PartitionDesc& part, int id, int value) {
  namespace pol = api::policy;
  const std::string where = dev.name + "/" + part.name;
  if (value != 0 && value != 1)
    return Error::usage("policy values are 0 or 1, not " + std::to_string(value));
  if (id == pol::part_allow_cpv1) {
    if (!part.policies.contains(pol::part_allow_cpv1))
      return Error::refused("P5", "CKR_OPERATION_NOT_ALLOWED",
                            "partition policy 42 does not exist on " + where + " (firmware " +
                                dev.firmware.str() + "; it appears at 7.7.1)",
                            dev.firmware < Version{7, 7, 1}
                                ? "below 7.7.1 CPv1 is always available; no policy is needed"
                                : "");
    if (value == 1 && part.type == api::PartitionType::v1)
      return Error::refused("P5", "CKR_CONFIG_FAILS_DEPENDENCIES",
                            "policy 42 (allow CPv1) can never be ON for the V1 partition " + where);
    if (value == 1 && part.fips)
      return Error::refused("P5", "CKR_CONFIG_FAILS_DEPENDENCIES",
                            "policy 42 (allow CPv1) can be ON only in non-FIPS mode; " + where +
                                " is in FIPS mode",
                            "use a non-FIPS partition, or reach CPv1 targets through a Backup HSM");
  }
  if (id == pol::part_domain_management && !part.policies.contains(id))
    return Error::refused("D1", "CKR_OPERATION_NOT_ALLOWED",
                          "partition policy 44 (extended domain management) does not exist on " +
                              where + " (firmware " + dev.firmware.str() + "; it appears at 7.8.0)",
                          "upgrade " + dev.name + " to 7.8.0 or newer");
  if (id == pol::part_allow_non_fips && !part.policies.contains(id))
    return Error::refused("X2", "CKR_OPERATION_NOT_ALLOWED",
                          "partition policy 43 does not exist on " + where + " (it appears at 7.7.1)");
  // rule X1: cloning mode (0) and key export mode (1) exclude each other, and a
  // partition policy is never less secure than its HSM policy 7.
  if ((id == pol::part_private_key_cloning && value == 1 &&
       policy_value(part.policies, pol::part_private_key_wrapping, 0) == 1) ||
      (id == pol::part_private_key_wrapping && value == 1 &&
       policy_value(part.policies, pol::part_private_key_cloning, 1) == 1))
    return Error::refused("X1", "CKR_CONFIG_FAILS_DEPENDENCIES",
                          "partition policies 0 (private key cloning) and 1 (private key wrapping) "
                          "cannot both be 1 on " + where,
                          "set the other one to 0 first");
  if ((id == pol::part_private_key_cloning || id == pol::part_secret_key_cloning) && value == 1 &&
      policy_value(dev.hsm_policies, pol::hsm_allow_cloning, 1) == 0)
    return Error::refused("X1", "CKR_CONFIG_FAILS_DEPENDENCIES",
                          "HSM policy 7 (allow cloning) is 0 on " + dev.name +
                              ", so partition policy " + std::to_string(id) + " cannot be 1",
                          "set HSM policy 7 to 1 first");
  return {};
}

Status check_hsm_policy(const DeviceDesc& dev, const std::vector<PartitionDesc>& parts, int id,
                        int value) {
  if (value != 0 && value != 1)
    return Error::usage("policy values are 0 or 1, not " + std::to_string(value));
  // rule X2 with P5: HSM policy 12 = 0 makes every partition FIPS, which policy 42 forbids.
  if (id == api::policy::hsm_allow_non_fips && value == 0)
    for (const auto& p : parts)
      if (policy_value(p.policies, api::policy::part_allow_cpv1, 0) == 1)
        return Error::refused("P5", "CKR_CONFIG_FAILS_DEPENDENCIES",
                              "HSM policy 12 = 0 would put " + dev.name + "/" + p.name +
                                  " in FIPS mode while its policy 42 (allow CPv1) is ON",
                              "set policy 42 to 0 on " + dev.name + "/" + p.name + " first");
  if (id == api::policy::hsm_allow_fm && dev.fm == api::FmState::enabled && value == 0)
    return Error::refused("S2", "CKR_OPERATION_NOT_ALLOWED",
                          "Functionality Modules were enabled on " + dev.name +
                              "; that cannot be undone");
  return {};
}

namespace {

// rule D1: domain management exists from 7.8.0 (cloud services included) and
// needs partition policy 44 ON.
Status check_domain_management(const DeviceDesc& dev, const PartitionDesc& part) {
  const std::string where = dev.name + "/" + part.name;
  if (dev.kind != DeviceKind::cloud && (dev.kind != DeviceKind::luna7 || is_pre(dev, {7, 8, 0})))
    return Error::refused("D1", "CKR_DOMAIN_MANAGEMENT_NOT_ALLOWED",
                          "extended domain management needs firmware 7.8.0; " + dev.name + " is " +
                              std::string(api::to_string(dev.kind)) + " " + dev.firmware.str(),
                          "upgrade " + dev.name + " to 7.8.0 or newer");
  if (policy_value(part.policies, api::policy::part_domain_management, 0) != 1)
    return Error::refused("D1", "CKR_DOMAIN_MANAGEMENT_NOT_ALLOWED",
                          "partition policy 44 (extended domain management) is OFF on " + where,
                          "run `hsm-migrate partition policy " + where + " --set 44=1`");
  return {};
}

Status check_label_syntax(std::string_view label) {
  if (label.size() > 32)
    return Error::usage("domain label \"" + std::string(label) + "\" is longer than 32 characters");
  return {};
}

}  // namespace

Status check_domain_add(const DeviceDesc& dev, const PartitionDesc& part, std::string_view label,
                        std::string_view fingerprint) {
  HSM_TRY(check_domain_management(dev, part));
  HSM_TRY(check_label_syntax(label));
  const std::string where = dev.name + "/" + part.name;
  if (part.domains.size() >= 3)
    return Error::refused("D1", "CKR_DOMAIN_MAX_REACHED",
                          where + " already has 3 cloning domains, the most a partition holds",
                          "delete a non-primary domain first");
  // rule D2: once there is more than one domain, all labels must differ (and be set).
  if (label.empty())
    return Error::refused("D2", "CKR_TEMPLATE_INCONSISTENT",
                          "a domain added to " + where + " needs a label (labels must differ)",
                          "give --label NAME");
  if (find_domain(part, label))
    return Error::refused("D2", "CKR_DOMAIN_LABEL_ALREADY_EXISTS",
                          where + " already has a domain labelled " + quoted(label),
                          "choose another label");
  for (const auto& d : part.domains)
    if (d.fingerprint == fingerprint)
      return Error::refused("D2", "CKR_DOMAIN_LABEL_ALREADY_EXISTS",
                            where + " already holds this domain (labelled " + quoted(d.label) + ")");
  return {};
}

Status check_domain_label(const DeviceDesc& dev, const PartitionDesc& part, std::string_view label,
                          std::string_view new_label) {
  HSM_TRY(check_domain_management(dev, part));
  HSM_TRY(check_label_syntax(new_label));
  const std::string where = dev.name + "/" + part.name;
  if (!find_domain(part, label))
    return Error::usage(where + " has no domain labelled " + quoted(label),
                        "see `hsm-migrate partition domain list " + where + "`");
  // rule D2.
  if (new_label != label && find_domain(part, new_label))
    return Error::refused("D2", "CKR_DOMAIN_LABEL_ALREADY_EXISTS",
                          where + " already has a domain labelled " + quoted(new_label));
  if (new_label.empty() && part.domains.size() > 1)
    return Error::refused("D2", "CKR_TEMPLATE_INCONSISTENT",
                          "with more than one domain on " + where + " every domain needs a label");
  return {};
}

Status check_domain_delete(const DeviceDesc& dev, const PartitionDesc& part, std::string_view label) {
  HSM_TRY(check_domain_management(dev, part));
  const std::string where = dev.name + "/" + part.name;
  const api::DomainDesc* d = find_domain(part, label);
  if (!d)
    return Error::usage(where + " has no domain labelled " + quoted(label),
                        "see `hsm-migrate partition domain list " + where + "`");
  // rule D3: the primary cannot be deleted.
  if (d->primary)
    return Error::refused("D3", "CKR_DOMAIN_NO_PRIMARY",
                          "domain " + quoted(label) + " is the primary of " + where +
                              " and cannot be deleted",
                          "make another domain primary first (`partition domain label ... --primary`)");
  return {};
}

Status check_suite_change(const DeviceDesc& dev, const PartitionDesc& part, std::string_view suite) {
  // rule U2: CPv4 suites exist from firmware 7.8.0 (cloud services included).
  if (dev.kind != DeviceKind::cloud && (dev.kind != DeviceKind::luna7 || is_pre(dev, {7, 8, 0})))
    return Error::refused("U2", "CKR_OPERATION_NOT_ALLOWED",
                          "CPv4 cipher suites need firmware 7.8.0; " + dev.name + "/" + part.name +
                              " is at " + dev.firmware.str(),
                          "upgrade " + dev.name + " to 7.8.0 or newer");
  const auto& known = cpv4_suites();
  if (std::find(known.begin(), known.end(), suite) == known.end()) {
    std::string list;
    for (const auto& s : known) list += (list.empty() ? "" : ", ") + s;
    return Error::usage("unknown cipher suite \"" + std::string(suite) + "\"", "use one of: " + list);
  }
  return {};
}

Status check_capacity(const DeviceDesc& dev, const PartitionDesc& part, std::uint64_t adding) {
  const KindProfile& p = profile(dev.kind);
  // rule C1: a cloud service holds at most 100 token objects.
  if (p.max_objects && part.object_count + adding > *p.max_objects)
    return Error::refused("C1", "CKR_MAX_OBJECT_COUNT_EXCEEDED",
                          dev.name + "/" + part.name + " holds " + std::to_string(part.object_count) +
                              " objects; adding " + std::to_string(adding) + " would pass its limit of " +
                              std::to_string(*p.max_objects),
                          "delete objects or use another cloud service");
  return {};
}

CapacityCount::CapacityCount(const DeviceDesc& dev, const PartitionDesc& part)
    : where_(dev.name + "/" + part.name),
      limit_(profile(dev.kind).max_objects),
      holds_(part.object_count),
      held_(&part.held_fingerprints) {}

bool CapacityCount::present(const api::ObjectDesc& o) const {
  return !o.fingerprint.empty() && (held_->count(o.fingerprint) || seen_.count(o.fingerprint));
}

Status CapacityCount::take(const api::ObjectDesc& o) {
  // rule C1: only an object that would be created takes room.
  if (present(o)) {
    ++already_;
    return {};
  }
  if (limit_ && holds_ + created_ >= *limit_)
    return Error::refused(
        "C1", "CKR_MAX_OBJECT_COUNT_EXCEEDED",
        where_ + " would hold more than " + std::to_string(*limit_) + " objects with \"" + o.label +
            "\" (it holds " + std::to_string(holds_) + ", " + std::to_string(created_) +
            " would be created before it; objects already present are not counted)",
        "send fewer objects, delete objects on " + where_ + ", or use another cloud service");
  ++created_;
  if (!o.fingerprint.empty()) seen_.insert(o.fingerprint);
  return {};
}

Status check_key_generation(const DeviceDesc& dev, const PartitionDesc& part, api::KeyType type,
                            int bits, api::KeygenMechanism mech) {
  const std::string where = dev.name + "/" + part.name;
  if (!profile(dev.kind).generates_keys)
    return Error::refused("S3", "CKR_OPERATION_NOT_ALLOWED",
                          where + " is on a Backup HSM, which stores clones and generates no keys");
  // rule K1: the firmware must know the key type.
  auto first = first_firmware_for(type, dev.kind);
  if (!first || dev.firmware < *first)
    return Error::refused("K1", "CKR_MECHANISM_INVALID",
                          std::string(api::to_string(type)) + " keys are not supported by " + dev.name +
                              " (" + std::string(api::to_string(dev.kind)) + " " +
                              dev.firmware.str() + ")",
                          first ? "upgrade " + dev.name + " to " + first->str() : "");
  // rule K3: PKCS and X9.31 RSA key generation exist only before Luna 7 (6.10.9).
  if (type == api::KeyType::rsa &&
      (mech == api::KeygenMechanism::pkcs || mech == api::KeygenMechanism::x9_31) &&
      dev.kind != DeviceKind::luna6)
    return Error::refused("K3", "CKR_MECHANISM_INVALID",
                          "RSA " + std::string(api::to_string(mech)) +
                              " key generation is not approved on " + dev.name,
                          "use --keygen-mechanism 186-3");
  // rule K2: generation follows the same minimums as cloning in.
  const bool fips = part.fips;
  if (type == api::KeyType::rsa && bits < (fips ? 2048 : 1024))
    return Error::refused("K2", "CKR_KEY_SIZE_RANGE",
                          "RSA-" + std::to_string(bits) + " is below the " + (fips ? "FIPS " : "") +
                              "minimum of " + std::to_string(fips ? 2048 : 1024) + " on " + where);
  return {};
}

api::KeygenMechanism remap_keygen(const DeviceDesc& dev, const PartitionDesc& part,
                                  api::KeygenMechanism requested, const api::ClientDesc& client) {
  if (requested != api::KeygenMechanism::pkcs && requested != api::KeygenMechanism::x9_31)
    return requested;
  // rule K4.
  if (client.version >= Version{10, 1, 0} && dev.firmware < Version{7, 7, 1})
    return api::KeygenMechanism::fips186_3;
  if (client.version >= Version{10, 4, 0} && part.fips) return api::KeygenMechanism::fips186_3;
  return requested;
}

}  // namespace hsm::luna::rules
