#include "plugins/luna/device/luna_partition.hpp"

#include <charconv>

#include "plugins/api/crash_point.hpp"
#include "plugins/luna/device/object_row.hpp"
#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/label_rules.hpp"
#include "plugins/luna/rules/login_rules.hpp"

namespace hsm::luna {

using api::Error;
using api::ObjectDesc;
using api::Result;
using api::SecretBytes;
using api::Status;

namespace {

ObjectDesc row_to_desc(const store::Stmt& q) {
  ObjectDesc d;
  read_object_row(q, d);
  return d;
}

bool is_asymmetric(api::KeyType t) {
  return t == api::KeyType::rsa || t == api::KeyType::ec || t == api::KeyType::ed25519;
}

}  // namespace

Result<SecretBytes> domain_key(const api::DomainSecret& d) {
  if (d.secret.empty()) return Error::usage("the domain secret is empty");
  if (d.kind == api::DomainKind::text) {
    if (d.secret.size() > 128)
      return Error::usage("a text domain is 1 to 128 characters (rule X10)");
    return crypto::stretch_domain(d.secret);
  }
  static const std::string info = "hsm-migrate PED domain v1";
  return crypto::hkdf_sha256(d.secret, {}, api::Bytes(info.begin(), info.end()), 32);
}

std::string domain_fingerprint(const SecretBytes& key) {
  static const std::string ctx = "hsm-migrate domain fingerprint v1|";
  api::Bytes msg(ctx.begin(), ctx.end());
  msg.insert(msg.end(), key.begin(), key.end());
  return crypto::hex(crypto::sha256(msg));
}

LunaPartition::LunaPartition(std::shared_ptr<DeviceCore> core, std::int64_t id, std::string name)
    : core_(std::move(core)), id_(id), name_(std::move(name)) {}

Status LunaPartition::require_login() const {
  if (!logged_in_)
    return Error::usage("not logged in to " + name_ + ": the partition PIN is required",
                        "set HSM_MIGRATE_PIN or pass --pin-file FILE");
  return {};
}

Status LunaPartition::login(const SecretBytes& pin) {
  std::string stored;
  std::int64_t failed = 0;
  {
    store::Stmt q(*core_->db, "SELECT pin_hash, failed_logins FROM partition WHERE id = ?");
    q.bind(1, id_);
    if (!q.step()) return q.status().ok() ? Status(Error::usage("partition vanished")) : q.status();
    stored = q.text(0);
    failed = q.i64(1);
  }
  const std::string reset_fix = "the HSM SO resets it: `hsm-migrate partition reset-pin " +
                                core_->dir.filename().string() + "/" + name_ + "` with the new PIN";
  // Locked partitions refuse even the right PIN, as a Luna PO lockout does.
  if (failed >= rules::kMaxFailedLogins)
    return Error::auth("CKR_PIN_LOCKED",
                       "partition " + name_ + " is locked after " + std::to_string(failed) + " consecutive wrong PINs",
                       reset_fix);
  const bool good = crypto::verify_pin(stored, pin);
  if (good && failed == 0) {
    logged_in_ = true;
    return {};
  }
  // The count changes in a transaction: concurrent wrong logins all count.
  store::Transaction tx(*core_->db);
  HSM_TRY(tx.begin());
  std::int64_t now_failed = 0;
  {
    store::Stmt u(*core_->db, good ? "UPDATE partition SET failed_logins = 0 WHERE id = ?"
                                   : "UPDATE partition SET failed_logins = failed_logins + 1 WHERE id = ?");
    u.bind(1, id_);
    HSM_TRY(u.run());
  }
  if (!good) {
    store::Stmt q(*core_->db, "SELECT failed_logins FROM partition WHERE id = ?");
    q.bind(1, id_);
    if (q.step()) now_failed = q.i64(0);
    HSM_TRY(q.status());
  }
  if (!good) HSM_TRY(core_->audit("partition " + name_ + ": wrong PIN (" + std::to_string(now_failed) + " in a row)"));
  HSM_TRY(tx.commit());
  if (good) {
    logged_in_ = true;
    return {};
  }
  if (now_failed >= rules::kMaxFailedLogins)
    return Error::auth("CKR_PIN_LOCKED",
                       "wrong PIN for partition " + name_ + "; that was " + std::to_string(now_failed) +
                           " in a row, so the partition is now locked",
                       reset_fix);
  return Error::auth("CKR_PIN_INCORRECT",
                     "wrong PIN for partition " + name_ + " (" + std::to_string(now_failed) + " of " +
                         std::to_string(rules::kMaxFailedLogins) + " consecutive failures before it locks)",
                     "check HSM_MIGRATE_PIN or the --pin-file contents");
}

Status LunaPartition::reset_pin(const SecretBytes& new_pin) {
  if (new_pin.empty()) return Error::usage("the new PIN is empty");
  HSM_TRY_ASSIGN(std::string hash, crypto::hash_pin(new_pin));
  store::Transaction tx(*core_->db);
  HSM_TRY(tx.begin());
  store::Stmt u(*core_->db, "UPDATE partition SET pin_hash = ?, failed_logins = 0 WHERE id = ?");
  u.bind(1, hash).bind(2, id_);
  HSM_TRY(u.run());
  HSM_TRY(core_->audit("partition " + name_ + ": PIN reset by the SO"));
  return tx.commit();
}

Result<api::PartitionDesc> LunaPartition::load_desc(const api::DeviceDesc& dev) {
  api::PartitionDesc p;
  p.name = name_;
  {
    store::Stmt q(*core_->db, "SELECT type, auth, fips FROM partition WHERE id = ?");
    q.bind(1, id_);
    if (!q.step()) return q.status().ok() ? Error::usage("partition " + name_ + " vanished") : q.status().error();
    p.type = api::parse_partition_type(q.text(0)).value_or(api::PartitionType::v0);
    p.auth = api::parse_auth_kind(q.text(1)).value_or(api::AuthKind::password);
    p.fips = rules::effective_fips(dev, q.i64(2) != 0);
  }
  {
    store::Stmt q(*core_->db, "SELECT id, value FROM partition_policy WHERE partition_id = ? ORDER BY id");
    q.bind(1, id_);
    while (q.step()) p.policies[static_cast<int>(q.i64(0))] = static_cast<int>(q.i64(1));
    HSM_TRY(q.status());
  }
  {
    store::Stmt q(*core_->db,
                  "SELECT label, kind, is_primary, fingerprint FROM domain WHERE partition_id = ? "
                  "ORDER BY position");
    q.bind(1, id_);
    while (q.step())
      p.domains.push_back({q.text(0), api::parse_domain_kind(q.text(1)).value_or(api::DomainKind::text),
                           q.i64(2) != 0, q.text(3)});
    HSM_TRY(q.status());
  }
  {
    store::Stmt q(*core_->db, "SELECT name, enabled FROM suite WHERE partition_id = ? ORDER BY name");
    q.bind(1, id_);
    while (q.step()) {
      p.suites_available.push_back(q.text(0));
      if (q.i64(1)) p.suites_enabled.push_back(q.text(0));
    }
    HSM_TRY(q.status());
  }
  {
    store::Stmt q(*core_->db, "SELECT COUNT(*) FROM object WHERE partition_id = ?");
    q.bind(1, id_);
    if (q.step()) p.object_count = static_cast<std::uint64_t>(q.i64(0));
    HSM_TRY(q.status());
  }
  return p;
}

Result<api::Endpoint> LunaPartition::describe() {
  core_->network_latency();
  api::Endpoint ep;
  HSM_TRY_ASSIGN(ep.device, core_->describe());
  HSM_TRY_ASSIGN(ep.partition, load_desc(ep.device));
  return ep;
}

// As in PKCS#11: without the PO's login only public objects (public keys)
// are listed; every other object of a Luna partition is private.
const char* LunaPartition::visible() const { return logged_in_ ? "" : " AND class = 'public-key'"; }

Status LunaPartition::for_each_object(const std::function<bool(const ObjectDesc&)>& visit) {
  core_->network_latency();
  store::Stmt q(*core_->db, std::string("SELECT ") + kObjectColumns + " FROM object WHERE partition_id = ?" +
                                visible() + " ORDER BY handle");
  q.bind(1, id_);
  while (q.step())
    if (!visit(row_to_desc(q))) break;
  return q.status();
}

Result<std::vector<ObjectDesc>> LunaPartition::find_objects(std::string_view sel) {
  core_->network_latency();
  std::string where;
  std::string arg;
  if (sel == "all") {
    where = "1";
  } else if (sel.starts_with("#")) {
    std::uint64_t h = 0;
    auto r = std::from_chars(sel.data() + 1, sel.data() + sel.size(), h);
    if (r.ec != std::errc() || r.ptr != sel.data() + sel.size())
      return Error::usage("bad object handle \"" + std::string(sel) + "\"", "write a handle as #12");
    where = "handle = " + std::to_string(h);
  } else if (sel.starts_with("id:")) {
    where = "id_hex = ?2";
    arg = sel.substr(3);
  } else {
    where = "label = ?2";
    arg = sel;
  }
  store::Stmt q(*core_->db, std::string("SELECT ") + kObjectColumns + " FROM object WHERE partition_id = ?1 AND " +
                                where + visible() + " ORDER BY handle");
  q.bind(1, id_);
  if (!arg.empty()) q.bind(2, arg);
  std::vector<ObjectDesc> out;
  while (q.step()) out.push_back(row_to_desc(q));
  HSM_TRY(q.status());
  return out;
}

Result<std::vector<ObjectDesc>> LunaPartition::insert_objects(std::vector<StoredObject>& objects) {
  std::int64_t next = 1;
  {
    store::Stmt q(*core_->db, "SELECT COALESCE(MAX(handle), 0) + 1 FROM object WHERE partition_id = ?");
    q.bind(1, id_);
    if (q.step()) next = q.i64(0);
    HSM_TRY(q.status());
  }
  store::Stmt ins(*core_->db,
                  "INSERT INTO object(partition_id, handle, label, id_hex, class, key_type, bits, "
                  "curve, extractable, sensitive, assigned, per_key_auth, key_ring, des3_counters, "
                  "unknown_attr, keygen, origin_fm, travelled, fingerprint, pair_id, public_der, "
                  "material_sealed, created) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  HSM_TRY(ins.status());
  const std::int64_t now = host_time();
  std::vector<ObjectDesc> out;
  out.reserve(objects.size());
  for (auto& o : objects) {
    auto& d = o.desc;
    d.handle = static_cast<std::uint64_t>(next++);
    ins.reset();
    ins.bind(1, id_).bind(2, static_cast<std::int64_t>(d.handle)).bind(3, d.label).bind(4, d.id_hex);
    ins.bind(5, api::to_string(d.cls)).bind(6, api::to_string(d.key_type)).bind(7, std::int64_t{d.bits});
    ins.bind(8, d.curve).bind(9, std::int64_t{d.extractable}).bind(10, std::int64_t{d.sensitive});
    ins.bind(11, std::int64_t{d.assigned}).bind(12, std::int64_t{d.per_key_auth});
    ins.bind(13, std::int64_t{d.key_ring}).bind(14, std::int64_t{d.des3_counters});
    ins.bind(15, std::int64_t{d.unknown_attribute}).bind(16, api::to_string(d.keygen));
    ins.bind(17, api::to_string(d.origin_fm)).bind(18, join_protocols(d.travelled));
    ins.bind(19, d.fingerprint).bind(20, d.pair_id);
    if (o.material.public_der.empty()) ins.bind_null(21);
    else ins.bind(21, o.material.public_der);
    ins.bind(22, core_->seal("object", id_, static_cast<std::int64_t>(d.handle), o.material.secret));
    ins.bind(23, now);
    HSM_TRY(ins.run());
    out.push_back(d);
    api::crash_point("device-insert");  // crash tests: killed mid-transaction
  }
  return out;
}

std::unique_ptr<store::Stmt> LunaPartition::load_statement() {
  return std::make_unique<store::Stmt>(*core_->db, std::string("SELECT ") + kObjectColumnsWithMaterial +
                                                       " FROM object "
                                                       "WHERE partition_id = ? AND handle = ?");
}

Result<StoredObject> LunaPartition::load(std::uint64_t handle) {
  auto q = load_statement();
  return load(*q, handle);
}

Result<StoredObject> LunaPartition::load(store::Stmt& q, std::uint64_t handle) {
  q.reset();
  q.bind(1, id_).bind(2, static_cast<std::int64_t>(handle));
  if (!q.step()) {
    HSM_TRY(q.status());
    return Error::usage("no object #" + std::to_string(handle) + " in " + name_,
                        "see `hsm-migrate object list`");
  }
  StoredObject o;
  o.desc = row_to_desc(q);
  o.material.type = o.desc.key_type;
  o.material.bits = o.desc.bits;
  o.material.curve = o.desc.curve;
  o.material.public_der = q.blob(kPublicDerColumn);
  const api::Bytes sealed = q.blob(kMaterialSealedColumn);
  // Done with the row: an active statement would hold a read snapshot open,
  // and a later write on this connection (an audit record) would then fail
  // at once with SQLITE_BUSY whenever another process wrote in between.
  q.reset();
  HSM_TRY_ASSIGN(o.material.secret, core_->open_sealed("object", id_, static_cast<std::int64_t>(handle), sealed));
  return o;
}

Result<api::KeyGenResult> LunaPartition::generate_keys(const api::KeyGenRequest& req) {
  HSM_TRY(require_login());
  if (req.count < 1 || req.count > 1000000)
    return Error::usage("--count must be between 1 and 1000000");
  HSM_TRY_ASSIGN(crypto::KeySpec spec, crypto::parse_key_spec(req.type));
  if (req.mechanism != api::KeygenMechanism::none && spec.type != api::KeyType::rsa)
    return Error::usage("--keygen-mechanism applies to RSA keys only");
  // rule X10: every label this call makes (base, or base-1 .. base-N) is
  // checked; the longest suffix is the one to check.
  const std::string base = req.label.empty() ? req.type : req.label;
  HSM_TRY(rules::check_label(req.count == 1 ? base : base + "-" + std::to_string(req.count)));
  HSM_TRY_ASSIGN(api::Endpoint ep, describe());
  api::KeyGenResult result;
  // rule K4: the client may remap old RSA mechanisms before the HSM sees them.
  api::KeygenMechanism mech = rules::remap_keygen(ep.device, ep.partition, req.mechanism, req.client);
  if (req.mechanism != api::KeygenMechanism::none && mech != req.mechanism)
    result.notices.push_back(
        {true, std::nullopt, "K4", "",
         "client " + req.client.version.str() + " remaps the " + std::string(api::to_string(req.mechanism)) +
             " key-generation mechanism to " + std::string(api::to_string(mech)) + ": the key(s) were generated with " +
             std::string(api::to_string(mech)),
         "", {}, false});
  if (spec.type == api::KeyType::rsa && mech == api::KeygenMechanism::none)
    mech = api::KeygenMechanism::fips186_3;
  HSM_TRY(rules::check_key_generation(ep.device, ep.partition, spec.type, spec.bits, mech));
  const bool asym = is_asymmetric(spec.type);
  const std::uint64_t adding = static_cast<std::uint64_t>(req.count) * (asym ? 2 : 1);
  HSM_TRY(rules::check_capacity(ep.device, ep.partition, adding));  // rule C1

  std::vector<StoredObject> objects;
  objects.reserve(adding);
  for (int i = 0; i < req.count; ++i) {
    HSM_TRY_ASSIGN(crypto::KeyMaterial km, crypto::generate(spec));
    ObjectDesc d;
    d.label = req.count == 1 ? base : base + "-" + std::to_string(i + 1);
    d.id_hex = crypto::hex(crypto::random_bytes(8));
    d.key_type = spec.type;
    d.bits = spec.bits;
    d.curve = spec.curve;
    d.extractable = req.extractable;
    d.keygen = spec.type == api::KeyType::rsa ? mech : api::KeygenMechanism::none;
    d.origin_fm = ep.device.fm;  // S2/S3 provenance
    if (!asym) {
      d.cls = api::ObjectClass::secret_key;
      d.fingerprint = crypto::fingerprint(d.cls, km);
      objects.push_back({std::move(d), std::move(km)});
      if (req.progress) req.progress(static_cast<std::uint64_t>(i) + 1, static_cast<std::uint64_t>(req.count));
      continue;
    }
    d.pair_id = d.id_hex;
    ObjectDesc pub = d;
    d.cls = api::ObjectClass::private_key;
    d.fingerprint = crypto::fingerprint(d.cls, km);
    pub.cls = api::ObjectClass::public_key;
    pub.sensitive = false;
    pub.extractable = true;
    crypto::KeyMaterial pub_km{km.type, km.bits, km.curve, {}, km.public_der};
    pub.fingerprint = crypto::fingerprint(pub.cls, pub_km);
    objects.push_back({std::move(d), std::move(km)});
    objects.push_back({std::move(pub), std::move(pub_km)});
    if (req.progress) req.progress(static_cast<std::uint64_t>(i) + 1, static_cast<std::uint64_t>(req.count));
  }
  store::Transaction tx(*core_->db);
  HSM_TRY(tx.begin());
  // Capacity again inside the write transaction (C1): a concurrent writer
  // may have added objects while these keys were made.
  HSM_TRY_ASSIGN(api::Endpoint now, describe());
  HSM_TRY(rules::check_capacity(now.device, now.partition, adding));
  HSM_TRY_ASSIGN(result.created, insert_objects(objects));
  HSM_TRY(core_->audit("generated " + std::to_string(result.created.size()) + " object(s) of type " +
                       req.type + " in " + name_));
  HSM_TRY(tx.commit());
  return result;
}

Status LunaPartition::set_policy(int id, int value) {
  HSM_TRY(require_login());
  HSM_TRY_ASSIGN(api::Endpoint ep, describe());
  HSM_TRY(rules::check_partition_policy(ep.device, ep.partition, id, value));
  store::Transaction tx(*core_->db);
  HSM_TRY(tx.begin());
  store::Stmt q(*core_->db, "INSERT INTO partition_policy(partition_id, id, value) VALUES(?, ?, ?) "
                            "ON CONFLICT(partition_id, id) DO UPDATE SET value = excluded.value");
  q.bind(1, id_).bind(2, std::int64_t{id}).bind(3, std::int64_t{value});
  HSM_TRY(q.run());
  HSM_TRY(core_->audit("partition " + name_ + " policy " + std::to_string(id) + " = " +
                       std::to_string(value)));
  return tx.commit();
}

Result<SecretBytes> LunaPartition::derive_domain_key(const api::DomainSecret& d) { return domain_key(d); }

Status LunaPartition::domain_add(const api::DomainSecret& domain, bool primary) {
  HSM_TRY(require_login());
  HSM_TRY_ASSIGN(api::Endpoint ep, describe());
  HSM_TRY_ASSIGN(SecretBytes key, derive_domain_key(domain));
  const std::string fp = domain_fingerprint(key);
  HSM_TRY(rules::check_domain_add(ep.device, ep.partition, domain.label, fp));  // D1, D2
  store::Transaction tx(*core_->db);
  HSM_TRY(tx.begin());
  std::int64_t pos = 0;
  {
    store::Stmt q(*core_->db, "SELECT COALESCE(MAX(position), -1) + 1 FROM domain WHERE partition_id = ?");
    q.bind(1, id_);
    if (q.step()) pos = q.i64(0);
    HSM_TRY(q.status());
  }
  if (primary) {  // rule D3: exactly one primary
    store::Stmt q(*core_->db, "UPDATE domain SET is_primary = 0 WHERE partition_id = ?");
    q.bind(1, id_);
    HSM_TRY(q.run());
  }
  store::Stmt q(*core_->db, "INSERT INTO domain(partition_id, position, label, kind, is_primary, "
                            "fingerprint, key_sealed) VALUES(?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, id_).bind(2, pos).bind(3, domain.label).bind(4, api::to_string(domain.kind));
  q.bind(5, std::int64_t{primary}).bind(6, fp).bind(7, core_->seal("domain", id_, pos, key));
  HSM_TRY(q.run());
  HSM_TRY(core_->audit("partition " + name_ + " domain added: " + domain.label));
  return tx.commit();
}

Status LunaPartition::domain_label(std::string_view label, std::string_view new_label, bool primary) {
  HSM_TRY(require_login());
  HSM_TRY_ASSIGN(api::Endpoint ep, describe());
  HSM_TRY(rules::check_domain_label(ep.device, ep.partition, label, new_label));  // D1, D2
  store::Transaction tx(*core_->db);
  HSM_TRY(tx.begin());
  if (primary) {  // rule D3: a label change with --primary moves the primary
    store::Stmt q(*core_->db, "UPDATE domain SET is_primary = (label = ?) WHERE partition_id = ?");
    q.bind(1, label).bind(2, id_);
    HSM_TRY(q.run());
  }
  store::Stmt q(*core_->db, "UPDATE domain SET label = ? WHERE partition_id = ? AND label = ?");
  q.bind(1, new_label).bind(2, id_).bind(3, label);
  HSM_TRY(q.run());
  HSM_TRY(core_->audit("partition " + name_ + " domain relabelled"));
  return tx.commit();
}

Status LunaPartition::domain_delete(std::string_view label) {
  HSM_TRY(require_login());
  HSM_TRY_ASSIGN(api::Endpoint ep, describe());
  HSM_TRY(rules::check_domain_delete(ep.device, ep.partition, label));  // D1, D3
  store::Transaction tx(*core_->db);
  HSM_TRY(tx.begin());
  // rule D3: positions of the others are kept, so the order is unchanged.
  store::Stmt q(*core_->db, "DELETE FROM domain WHERE partition_id = ? AND label = ?");
  q.bind(1, id_).bind(2, label);
  HSM_TRY(q.run());
  HSM_TRY(core_->audit("partition " + name_ + " domain deleted: " + std::string(label)));
  return tx.commit();
}

Status LunaPartition::set_suite(std::string_view suite, bool enabled) {
  HSM_TRY(require_login());
  HSM_TRY_ASSIGN(api::Endpoint ep, describe());
  HSM_TRY(rules::check_suite_change(ep.device, ep.partition, suite));  // U2
  store::Transaction tx(*core_->db);
  HSM_TRY(tx.begin());
  store::Stmt q(*core_->db, "INSERT INTO suite(partition_id, name, enabled) VALUES(?, ?, ?) "
                            "ON CONFLICT(partition_id, name) DO UPDATE SET enabled = excluded.enabled");
  q.bind(1, id_).bind(2, suite).bind(3, std::int64_t{enabled});
  HSM_TRY(q.run());
  return tx.commit();
}

Result<api::Bytes> LunaPartition::sign(std::uint64_t handle, const api::Bytes& data) {
  HSM_TRY(require_login());
  HSM_TRY_ASSIGN(StoredObject o, load(handle));
  if (o.desc.cls != api::ObjectClass::private_key)
    return Error::usage("object #" + std::to_string(handle) + " is a " +
                        std::string(api::to_string(o.desc.cls)) + "; only private keys sign");
  return crypto::sign(o.material, data);
}

Result<bool> LunaPartition::verify(std::uint64_t handle, const api::Bytes& data, const api::Bytes& sig) {
  HSM_TRY(require_login());
  HSM_TRY_ASSIGN(StoredObject o, load(handle));
  if (o.material.public_der.empty())
    return Error::usage("object #" + std::to_string(handle) + " has no public key to verify with");
  return crypto::verify(o.desc.key_type, o.material.public_der, data, sig);
}

Result<api::Bytes> LunaPartition::encrypt(std::uint64_t handle, const api::Bytes& pt) {
  HSM_TRY(require_login());
  HSM_TRY_ASSIGN(StoredObject o, load(handle));
  return crypto::encrypt(o.material, pt);
}

Result<api::Bytes> LunaPartition::decrypt(std::uint64_t handle, const api::Bytes& ct) {
  HSM_TRY(require_login());
  HSM_TRY_ASSIGN(StoredObject o, load(handle));
  if (o.desc.cls == api::ObjectClass::public_key)
    return Error::usage("object #" + std::to_string(handle) + " is a public key; it cannot decrypt");
  return crypto::decrypt(o.material, ct);
}

}  // namespace hsm::luna
