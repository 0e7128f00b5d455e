// The emulated Luna device and the Backend that creates and opens it.
#include <sys/stat.h>

#include <algorithm>

#include "plugins/luna/device/device_core.hpp"
#include "plugins/luna/device/luna_backend.hpp"
#include "plugins/luna/device/luna_partition.hpp"
#include "plugins/luna/device/schema.hpp"
#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/evaluation.hpp"
#include "plugins/luna/rules/ha_rules.hpp"

namespace hsm::luna {

using api::Error;
using api::Result;
using api::SecretBytes;
using api::Status;

namespace {

// The HOK (or, once FMs are enabled, the FM-HOK): an Ed25519 key whose
// certificate the fleet's manufacturing root issues.
Status make_hok(DeviceCore& core, const Factory& factory, const std::string& device_name, bool fm) {
  HSM_TRY_ASSIGN(crypto::KeyMaterial hok, crypto::generate({api::KeyType::ed25519, 256, "Ed25519"}));
  const std::string cn = device_name + (fm ? " FM-HOK" : " HOK");
  HSM_TRY_ASSIGN(api::Bytes cert, crypto::issue_certificate(hok.public_der, cn, factory.root_private,
                                                            factory.root_cert, host_time() - 60,
                                                            36500, 2));
  HSM_TRY(core.put_secret("hok", hok.secret));
  HSM_TRY(core.put_cert("hok", cert));
  HSM_TRY(core.put_cert("root", factory.root_cert));
  return core.set_meta("hok", fm ? "fm-hok" : "hok");
}

class LunaDevice final : public api::Device {
 public:
  explicit LunaDevice(std::shared_ptr<DeviceCore> core) : core_(std::move(core)) {}

  Result<api::DeviceDesc> describe() override {
    core_->network_latency();
    return core_->describe();
  }

  Result<std::vector<std::string>> partition_names() override {
    store::Stmt q(*core_->db, "SELECT name FROM partition ORDER BY id");
    std::vector<std::string> out;
    while (q.step()) out.push_back(q.text(0));
    HSM_TRY(q.status());
    return out;
  }

  Result<std::unique_ptr<api::Partition>> open_partition(std::string_view name) override {
    store::Stmt q(*core_->db, "SELECT id FROM partition WHERE name = ?");
    q.bind(1, name);
    if (!q.step()) {
      HSM_TRY(q.status());
      HSM_TRY_ASSIGN(api::DeviceDesc d, core_->describe());
      return Error::usage("device " + d.name + " has no partition \"" + std::string(name) + "\"",
                          "create it with `hsm-migrate partition create " + d.name + "/" +
                              std::string(name) + " ...`");
    }
    return std::unique_ptr<api::Partition>(
        std::make_unique<LunaPartition>(core_, q.i64(0), std::string(name)));
  }

  Result<std::unique_ptr<api::Partition>> create_partition(const api::PartitionCreateRequest& r) override {
    HSM_TRY_ASSIGN(api::DeviceDesc dev, core_->describe());
    HSM_TRY_ASSIGN(std::vector<std::string> names, partition_names());
    if (std::find(names.begin(), names.end(), r.name) != names.end())
      return Error::usage("partition " + dev.name + "/" + r.name + " already exists");
    rules::PartitionSpec spec{r.name, r.type, r.auth, r.fips};
    HSM_TRY(rules::check_partition_create(dev, static_cast<int>(names.size()), spec));
    // rule X2: before 7.7.1 FIPS mode is HSM-wide (policy 12), not per partition.
    if (r.fips && dev.kind != api::DeviceKind::cloud && dev.firmware < api::Version{7, 7, 1} &&
        !rules::effective_fips(dev, false))
      return Error::refused("X2", "CKR_TEMPLATE_INCONSISTENT",
                            "before firmware 7.7.1 FIPS mode is set for the whole HSM, not for "
                            "one partition (" + dev.name + " is at " + dev.firmware.str() + ")",
                            "run `hsm-migrate device policy " + dev.name + " --set 12=0`");
    if (r.pin.size() < 7 || r.pin.size() > 255)
      return Error::usage("a partition PIN is 7 to 255 characters (rule X10)");
    HSM_TRY_ASSIGN(SecretBytes dkey, domain_key(r.domain));
    HSM_TRY_ASSIGN(std::string pin_hash, crypto::hash_pin(r.pin));

    store::Transaction tx(*core_->db);
    HSM_TRY(tx.begin());
    store::Stmt ins(*core_->db, "INSERT INTO partition(name, type, auth, fips, pin_hash, created) "
                                "VALUES(?, ?, ?, ?, ?, ?)");
    ins.bind(1, r.name).bind(2, api::to_string(r.type)).bind(3, api::to_string(r.auth));
    ins.bind(4, std::int64_t{r.fips}).bind(5, pin_hash).bind(6, host_time());
    HSM_TRY(ins.run());
    const std::int64_t pid = core_->db->last_rowid();
    for (const auto& [id, value] : rules::initial_partition_policies(dev, spec)) {
      store::Stmt q(*core_->db, "INSERT INTO partition_policy(partition_id, id, value) VALUES(?, ?, ?)");
      q.bind(1, pid).bind(2, std::int64_t{id}).bind(3, std::int64_t{value});
      HSM_TRY(q.run());
    }
    // The first domain: primary, unlabelled unless a label was given (D2, D3).
    store::Stmt dq(*core_->db, "INSERT INTO domain(partition_id, position, label, kind, is_primary, "
                               "fingerprint, key_sealed) VALUES(?, 0, ?, ?, 1, ?, ?)");
    dq.bind(1, pid).bind(2, r.domain.label).bind(3, api::to_string(r.domain.kind));
    dq.bind(4, domain_fingerprint(dkey)).bind(5, core_->seal("domain", pid, 0, dkey));
    HSM_TRY(dq.run());
    HSM_TRY(add_suites(dev, pid));
    if (r.type == api::PartitionType::v1) {  // rule X7: a V1 partition has its own SMK
      store::Stmt q(*core_->db, "UPDATE partition SET smk_sealed = ? WHERE id = ?");
      q.bind(1, core_->seal("smk", pid, 0, crypto::random_secret(32))).bind(2, pid);
      HSM_TRY(q.run());
    }
    HSM_TRY(core_->audit("partition " + r.name + " created"));
    HSM_TRY(tx.commit());
    return std::unique_ptr<api::Partition>(std::make_unique<LunaPartition>(core_, pid, r.name));
  }

  Status upgrade(const api::Version& to) override {
    HSM_TRY_ASSIGN(api::DeviceDesc dev, core_->describe());
    HSM_TRY(rules::check_upgrade(dev, to));  // P1, X9 / X6: documented update paths only
    // A release the table of update paths does not know is allowed; the
    // audit log keeps the flag.
    const std::string flag = rules::upgrade_path_flag(dev, to);
    store::Transaction tx(*core_->db);
    HSM_TRY(tx.begin());
    HSM_TRY(core_->set_meta("firmware", to.str()));
    // rule P5 / D1: the policies that appear with 7.7.1 and 7.8.0 start OFF.
    const auto added = rules::policies_added_by_upgrade(dev.firmware, to);
    api::DeviceDesc after = dev;
    after.firmware = to;
    store::Stmt parts(*core_->db, "SELECT id, fips FROM partition");
    std::vector<std::pair<std::int64_t, bool>> ids;
    while (parts.step()) ids.emplace_back(parts.i64(0), parts.i64(1) != 0);
    HSM_TRY(parts.status());
    for (auto [pid, fips] : ids) {
      auto policies = added;
      // rule X2: policy 43 appears at 7.7.1 reflecting the partition's mode.
      if (dev.kind == api::DeviceKind::luna7 && dev.firmware < api::Version{7, 7, 1} &&
          to >= api::Version{7, 7, 1})
        policies[api::policy::part_allow_non_fips] = fips ? 0 : 1;
      for (const auto& [id, value] : policies) {
        store::Stmt q(*core_->db, "INSERT OR IGNORE INTO partition_policy(partition_id, id, value) "
                                  "VALUES(?, ?, ?)");
        q.bind(1, pid).bind(2, std::int64_t{id}).bind(3, std::int64_t{value});
        HSM_TRY(q.run());
      }
      HSM_TRY(add_suites(after, pid));
    }
    HSM_TRY(core_->audit("firmware upgraded from " + dev.firmware.str() + " to " + to.str() +
                         (flag.empty() ? std::string()
                                       : " (rule " + std::string(rules::update_rule(dev.kind)) +
                                             " flag: " + flag + ")")));
    return tx.commit();
  }

  Status enable_fm() override {
    HSM_TRY_ASSIGN(api::DeviceDesc dev, core_->describe());
    HSM_TRY(rules::check_enable_fm(dev));  // S2, S3, X9 (HSM policy 50)
    HSM_TRY_ASSIGN(std::string factory_dir, core_->meta("factory_dir"));
    HSM_TRY_ASSIGN(Factory factory, Factory::load_or_create(factory_dir));
    store::Transaction tx(*core_->db);
    HSM_TRY(tx.begin());
    // rule S2: enabling FMs deletes the standard HOK and asserts an FM-HOK;
    // token wrapping certificates signed by the old HOK go with it.
    HSM_TRY(core_->db->exec("DELETE FROM secret WHERE name LIKE 'twc%'; DELETE FROM cert WHERE name LIKE 'twc%';"));
    HSM_TRY(make_hok(*core_, factory, dev.name, true));
    HSM_TRY(core_->set_meta("fm", "enabled"));
    HSM_TRY(core_->audit("Functionality Modules enabled (FM-HOK asserted)"));
    return tx.commit();
  }

  Status set_clock_skew(std::int64_t seconds) override {
    store::Transaction tx(*core_->db);
    HSM_TRY(tx.begin());
    HSM_TRY(core_->set_meta("clock_offset", std::to_string(seconds)));
    HSM_TRY(core_->audit("clock skew set to " + std::to_string(seconds) + " s (emulation)"));
    return tx.commit();
  }

  Status sync_clock() override {
    HSM_TRY_ASSIGN(api::DeviceDesc dev, core_->describe());
    // rule U3: the SO may sync with host time only when HSM policy 57 is ON.
    auto it = dev.hsm_policies.find(api::policy::hsm_allow_clock_sync);
    if (it == dev.hsm_policies.end() || it->second != 1)
      return Error::refused("U3", "CKR_OPERATION_NOT_ALLOWED",
                            "HSM policy 57 (allow sync with host time) is OFF on " + dev.name,
                            "run `hsm-migrate device policy " + dev.name + " --set 57=1` first");
    return set_clock_skew(0);
  }

  Status set_hsm_policy(int id, int value) override {
    HSM_TRY_ASSIGN(api::DeviceDesc dev, core_->describe());
    std::vector<api::PartitionDesc> parts;
    HSM_TRY_ASSIGN(std::vector<std::string> names, partition_names());
    for (const auto& n : names) {
      HSM_TRY_ASSIGN(auto p, open_partition(n));
      HSM_TRY_ASSIGN(api::Endpoint ep, p->describe());
      parts.push_back(ep.partition);
    }
    HSM_TRY(rules::check_hsm_policy(dev, parts, id, value));
    store::Transaction tx(*core_->db);
    HSM_TRY(tx.begin());
    store::Stmt q(*core_->db, "INSERT INTO hsm_policy(id, value) VALUES(?, ?) "
                              "ON CONFLICT(id) DO UPDATE SET value = excluded.value");
    q.bind(1, std::int64_t{id}).bind(2, std::int64_t{value});
    HSM_TRY(q.run());
    HSM_TRY(core_->audit("HSM policy " + std::to_string(id) + " = " + std::to_string(value)));
    return tx.commit();
  }

 private:
  // rule U2: partitions of 7.8.0+ (and cloud services) list the CPv4 suites, all enabled.
  Status add_suites(const api::DeviceDesc& dev, std::int64_t pid) {
    if (dev.kind != api::DeviceKind::cloud &&
        (dev.kind != api::DeviceKind::luna7 || dev.firmware < api::Version{7, 8, 0}))
      return {};
    for (const auto& s : cpv4_suites()) {
      store::Stmt q(*core_->db, "INSERT OR IGNORE INTO suite(partition_id, name, enabled) VALUES(?, ?, 1)");
      q.bind(1, pid).bind(2, s);
      HSM_TRY(q.run());
    }
    return {};
  }

  std::shared_ptr<DeviceCore> core_;
};

class LunaBackend final : public api::Backend {
 public:
  explicit LunaBackend(const KindProfile& p) : profile_(p) {}

  std::string_view kind() const override { return api::to_string(profile_.kind); }
  std::string_view version() const override { return "0.1.0"; }
  std::string_view summary() const override { return profile_.summary; }

  Result<std::unique_ptr<api::Device>> create_device(const std::filesystem::path& dir,
                                                     const api::DeviceCreateRequest& req) override {
    HSM_TRY(rules::check_firmware(profile_.kind, req.firmware));  // P1
    api::DeviceDesc desc;
    desc.name = req.name;
    desc.kind = profile_.kind;
    desc.firmware = req.firmware;
    // A device created with FMs enabled starts with HSM policy 50 at 1 (X9).
    if (req.fm_enabled) desc.hsm_policies[api::policy::hsm_allow_fm] = 1;
    if (req.fm_enabled) HSM_TRY(rules::check_enable_fm(desc));  // S2, S3, X9
    HSM_TRY_ASSIGN(Factory factory, Factory::load_or_create(req.factory_dir));

    HSM_TRY(write_secret_file(dir / "hardware.key", crypto::random_secret(crypto::kAeadKeyBytes)));
    HSM_TRY_ASSIGN(std::unique_ptr<store::Db> db, store::Db::open(dir / "state.db", true));
    store::Transaction tx(*db);
    HSM_TRY(tx.begin());
    HSM_TRY(db->exec(kSchemaSql));
    const std::pair<const char*, std::string> meta[] = {
        {"schema_version", std::to_string(kSchemaVersion)},
        {"name", req.name},
        {"kind", std::string(api::to_string(profile_.kind))},
        {"firmware", req.firmware.str()},
        {"fm", req.fm_enabled ? "enabled" : "never"},
        {"clock_offset", "0"},
        {"uuid", crypto::hex(crypto::random_bytes(16))},
        {"created", std::to_string(host_time())},
        {"factory_dir", std::filesystem::absolute(req.factory_dir).string()}};
    for (const auto& [k, v] : meta) {
      store::Stmt q(*db, "INSERT INTO meta(key, value) VALUES(?, ?)");
      q.bind(1, k).bind(2, v);
      HSM_TRY(q.run());
    }
    // HSM policies: 7 allow cloning, 12 allow non-FIPS algorithms, 16 network
    // replication, 50 allow FMs, 57 allow clock sync (OFF by default, U3).
    for (auto [id, value] : {std::pair{7, 1}, {12, 1}, {16, 1}, {50, req.fm_enabled ? 1 : 0}, {57, 0}}) {
      store::Stmt q(*db, "INSERT INTO hsm_policy(id, value) VALUES(?, ?)");
      q.bind(1, std::int64_t{id}).bind(2, std::int64_t{value});
      HSM_TRY(q.run());
    }
    HSM_TRY(tx.commit());
    db.reset();
    HSM_TRY_ASSIGN(auto core, DeviceCore::open(profile_, dir));
    store::Transaction tx2(*core->db);
    HSM_TRY(tx2.begin());
    HSM_TRY(make_hok(*core, factory, req.name, req.fm_enabled));
    HSM_TRY(core->audit("device created: " + std::string(kind()) + " " + req.firmware.str()));
    HSM_TRY(tx2.commit());
    return std::unique_ptr<api::Device>(std::make_unique<LunaDevice>(core));
  }

  Result<std::unique_ptr<api::Device>> open_device(const std::filesystem::path& dir) override {
    HSM_TRY_ASSIGN(auto core, DeviceCore::open(profile_, dir));
    return std::unique_ptr<api::Device>(std::make_unique<LunaDevice>(core));
  }

  api::Evaluation evaluate(const api::Endpoint& source, const api::Endpoint& target,
                           const std::vector<api::ObjectDesc>& objects,
                           const api::ClientDesc& client) const override {
    return rules::evaluate_clone(source, target, objects, client);
  }

  std::vector<api::Verdict> check_ha_group(const api::HaGroup& group,
                                           const api::ClientDesc& client) const override {
    std::vector<api::Verdict> out = rules::check_ha_group(
        rules::HaGroupDesc{group.name, group.members, &group.primary_objects}, client);
    // rule H4: besides the primary (judged above), a cloud service may only
    // be a standby member while lunacm_cv_ha_ui = 1.
    for (std::size_t i = 1; i < group.members.size(); ++i) {
      const api::Endpoint& m = group.members[i];
      if (m.device.kind != api::DeviceKind::cloud || !client.cv_ha_ui) continue;
      if (i < group.standby.size() && group.standby[i]) continue;
      api::Verdict v;
      v.allowed = false;
      v.rule = "H4";
      v.code = "CKR_OPERATION_NOT_ALLOWED";
      v.message = "the cloud service " + m.address() + " is an active member of HA group \"" + group.name +
                  "\", but a cloud service joins as standby only while lunacm_cv_ha_ui = 1";
      v.fix = "add it as a standby member (--standby), or set lunacm_cv_ha_ui = 0 in the client configuration";
      out.push_back(std::move(v));
    }
    return out;
  }

 private:
  const KindProfile& profile_;
};

}  // namespace

api::Backend& backend_for(api::DeviceKind kind) {
  static LunaBackend luna6(profile(api::DeviceKind::luna6)), luna7(profile(api::DeviceKind::luna7)),
      cloud(profile(api::DeviceKind::cloud)), backup(profile(api::DeviceKind::backup_g5));
  switch (kind) {
    case api::DeviceKind::luna6: return luna6;
    case api::DeviceKind::luna7: return luna7;
    case api::DeviceKind::cloud: return cloud;
    case api::DeviceKind::backup_g5: return backup;
    case api::DeviceKind::pkcs11: break;  // not a Luna kind (plugins/pkcs11)
  }
  return luna7;
}

}  // namespace hsm::luna
