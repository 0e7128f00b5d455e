// The cloning verbs of a partition: the device enforces the rules itself (as
// a real HSM does), on both sides, whatever the tool in the middle decided.
//
//   target  clone_offer  rules::evaluate_pair, then a signed offer (TWC or an
//                        ephemeral X25519 key) kept as an in-memory session
//   source  clone_out    verifies the offer, judges each object, seals them
//   target  clone_in     opens every message (domain-bound cryptography),
//                        judges each object again, strips (S5), dedups by
//                        fingerprint and inserts in one transaction
#include <unordered_set>

#include "plugins/luna/cloning/sim4.hpp"
#include "plugins/api/crash_point.hpp"
#include "plugins/luna/device/luna_partition.hpp"
#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/kind_profile.hpp"

namespace hsm::luna {

using api::Error;
using api::Result;
using api::SecretBytes;

namespace {

Error verdict_error(const api::Verdict& v) { return Error::refused(v.rule, v.code, v.message, v.fix); }

std::string twc_name(int bits) { return "twc" + std::to_string(bits); }

}  // namespace

Result<cloning::DeviceIdentity> LunaPartition::identity(const api::DeviceDesc& dev) {
  cloning::DeviceIdentity id;
  id.name = dev.name;
  HSM_TRY_ASSIGN(id.hok_private_der, core_->get_secret("hok"));
  HSM_TRY_ASSIGN(id.hok_cert_der, core_->get_cert("hok"));
  HSM_TRY_ASSIGN(id.root_cert_der, core_->get_cert("root"));
  id.now = core_->now(dev);
  return id;
}

// RSA-4096 generation takes seconds: each TWC is made on first use and kept
// (sealed). Enabling FMs deletes them with the HOK that issued them (S2).
Result<cloning::Twc> LunaPartition::twc(const cloning::DeviceIdentity& me, int bits) {
  auto secret = core_->get_secret(twc_name(bits));
  auto cert = core_->get_cert(twc_name(bits));
  if (secret.ok() && cert.ok()) return cloning::Twc{bits, std::move(*secret), std::move(*cert)};
  HSM_TRY_ASSIGN(cloning::Twc t, cloning::make_twc(me, bits));
  store::Transaction tx(*core_->db);
  HSM_TRY(tx.begin());
  HSM_TRY(core_->put_secret(twc_name(bits), t.private_der));
  HSM_TRY(core_->put_cert(twc_name(bits), t.cert_der));
  HSM_TRY(tx.commit());
  return t;
}

Result<std::vector<cloning::DomainKey>> LunaPartition::domain_keys() {
  std::vector<cloning::DomainKey> out;
  store::Stmt q(*core_->db,
                "SELECT position, fingerprint, is_primary, key_sealed FROM domain WHERE partition_id = ? "
                "ORDER BY position");
  q.bind(1, id_);
  while (q.step()) {
    cloning::DomainKey k;
    k.fingerprint = q.text(1);
    k.primary = q.i64(2) != 0;
    HSM_TRY_ASSIGN(k.key, core_->open_sealed("domain", id_, q.i64(0), q.blob(3)));
    out.push_back(std::move(k));
  }
  HSM_TRY(q.status());
  return out;
}

Result<SecretBytes> LunaPartition::smk() {
  store::Stmt q(*core_->db, "SELECT smk_sealed FROM partition WHERE id = ? AND smk_sealed IS NOT NULL");
  q.bind(1, id_);
  if (!q.step()) {
    HSM_TRY(q.status());
    return Error::usage("partition " + name_ + " has no SKS master key (it is not a V1 partition)");
  }
  return core_->open_sealed("smk", id_, 0, q.blob(0));
}

Result<std::uint64_t> LunaPartition::handle_of_fingerprint(const std::string& fingerprint) {
  // INDEXED BY: left to itself SQLite picks the primary key (partition_id,
  // handle) and walks the whole partition per lookup, which made a rerun of
  // a 10,000-object clone quadratic (7.8 s); the fingerprint index is O(log n).
  store::Stmt q(*core_->db,
                "SELECT MIN(handle) FROM object INDEXED BY object_fingerprint "
                "WHERE partition_id = ? AND fingerprint = ?");
  q.bind(1, id_).bind(2, fingerprint);
  const std::uint64_t h = q.step() ? static_cast<std::uint64_t>(q.i64(0)) : 0;
  HSM_TRY(q.status());
  return h;
}

Result<api::CloneOffer> LunaPartition::clone_offer(const api::Endpoint& source, const api::ClientDesc& client) {
  HSM_TRY(require_login());
  HSM_TRY_ASSIGN(api::Endpoint me, describe());
  // The target judges the pair itself: protocol (P1-P9, U2, U6), domain (S1),
  // FM (S2), profile (S6), clocks (U3), cloud (C3).
  const api::Verdict pair = rules::evaluate_pair(source, me, client);
  if (!pair.allowed) return verdict_error(pair);
  if (*pair.protocol == api::Protocol::kwp) return clone_offer_kwp(me);  // a PKCS#11 token (portable_clone.cpp)
  HSM_TRY_ASSIGN(cloning::DeviceIdentity my_id, identity(me.device));
  cloning::OfferParams params;
  params.protocol = *pair.protocol;
  session_twc_.reset();
  if (const int bits = cloning::twc_bits_for(params.protocol); bits != 0) {
    HSM_TRY_ASSIGN(cloning::Twc t, twc(my_id, bits));
    session_twc_ = std::move(t);
    params.twc = &*session_twc_;
  }
  params.suites = me.partition.suites_enabled;
  for (const auto& d : me.partition.domains) params.domain_fingerprints.push_back(d.fingerprint);
  HSM_TRY_ASSIGN(cloning::Offer offer, cloning::make_offer(my_id, params));
  session_ = std::move(offer.session);
  HSM_TRY(core_->audit("clone offer " + std::string(api::to_string(params.protocol)) + " to " +
                       source.address() + " for " + name_));
  return offer.offer;
}

Result<api::CloneOutResult> LunaPartition::clone_out(const api::CloneOffer& offer, const api::Endpoint& target,
                                                     const std::vector<std::uint64_t>& handles,
                                                     const api::ClientDesc& client) {
  HSM_TRY(require_login());
  HSM_TRY_ASSIGN(api::Endpoint me, describe());
  const api::Verdict pair = rules::evaluate_pair(me, target, client);
  if (!pair.allowed) return verdict_error(pair);
  const api::Protocol protocol = *pair.protocol;
  if (protocol == api::Protocol::kwp) return clone_out_kwp(me, offer, target, handles, client);  // to a token
  HSM_TRY_ASSIGN(cloning::DeviceIdentity my_id, identity(me.device));
  HSM_TRY_ASSIGN(cloning::OfferInfo info, cloning::verify_offer(my_id, offer));
  if (info.protocol != protocol)
    return Error::refused("P8", "CKR_OPERATION_NOT_ALLOWED",
                          target.address() + " offered " + std::string(api::to_string(info.protocol)) +
                              " but " + me.address() + " clones to it only by " +
                              std::string(api::to_string(protocol)),
                          "ask " + target.address() + " for a new offer");
  if (info.target != target.device.name)
    return Error::integrity("the offer was signed by " + info.target + ", not by " + target.device.name);

  const auto domain = rules::common_domain(me, target, protocol);  // rule S1
  if (!domain)
    return Error::refused("S1", "CKR_CERTIFICATE_INVALID",
                          me.address() + " and " + target.address() + " share no usable cloning domain");
  cloning::SealParams params;
  params.domain_fingerprint = *domain;
  if (protocol == api::Protocol::cpv4) {
    const auto suite = rules::common_suite(me, target);  // rule U2
    if (!suite)
      return Error::refused("U2", "CKR_PROTOCOL_DISABLED",
                            "no CPv4 cipher suite is enabled on both " + me.address() + " and " +
                                target.address());
    params.suite = *suite;
  }

  api::CloneOutResult out;
  std::vector<cloning::FlatObject> flat;
  const bool v1 = me.partition.type == api::PartitionType::v1;
  SecretBytes smk_key;
  if (v1) {
    // rule U4: only the SKS master key travels by the protocol.
    HSM_TRY_ASSIGN(smk_key, smk());
    flat.push_back(cloning::make_smk_object(smk_key, name_ + " SMK"));
  }
  flat.reserve(flat.size() + (v1 ? 0 : handles.size()));
  const auto loader = load_statement();
  for (std::uint64_t h : handles) {
    HSM_TRY_ASSIGN(StoredObject o, load(*loader, h));
    api::Verdict v = rules::evaluate_object(me, target, o.desc, protocol, client);
    if (!v.allowed) {
      out.refused.push_back({o.desc, std::move(v)});
      continue;
    }
    out.sent.push_back(o.desc);
    cloning::FlatObject f{cloning::FlatKind::object, std::move(o.desc), std::move(o.material)};
    if (v1) {
      HSM_TRY_ASSIGN(api::Bytes blob, cloning::seal_sim4(smk_key, f, h));
      out.messages.sim4.push_back(std::move(blob));
    } else {
      flat.push_back(std::move(f));
    }
  }
  if (out.sent.empty()) return out;  // nothing to seal
  HSM_TRY_ASSIGN(std::vector<cloning::DomainKey> my_domains, domain_keys());
  std::vector<api::Bytes> sim4 = std::move(out.messages.sim4);
  HSM_TRY_ASSIGN(out.messages, cloning::seal(my_id, offer, my_domains, params, flat));
  out.messages.sim4 = std::move(sim4);
  HSM_TRY(core_->audit("cloned out " + std::to_string(out.sent.size()) + " object(s) by " +
                       std::string(api::to_string(protocol)) + " to " + target.address()));
  return out;
}

Result<api::CloneInResult> LunaPartition::clone_in(const api::Endpoint& source, const api::CloneMessages& messages,
                                                   const api::ClientDesc& client, api::CloneInMode mode) {
  HSM_TRY(require_login());
  const bool kwp = messages.protocol == api::Protocol::kwp;  // from a PKCS#11 token (portable_clone.cpp)
  if (!session_ && !kwp)
    return Error::usage("partition " + name_ + " made no clone offer to " + source.address(),
                        "ask the target for an offer (clone_offer) before sending objects");
  // The write transaction (BEGIN IMMEDIATE) starts before anything is read:
  // "already present" and the capacity count are decided inside it, so two
  // writers into this partition (two processes) can never both find an
  // object absent and both create it.
  store::Transaction tx(*core_->db);
  HSM_TRY(tx.begin());
  HSM_TRY_ASSIGN(api::Endpoint me, describe());
  // lunacm's -replace: the partition's objects go first (deleted below, in
  // the transaction that creates the new ones), so everything after judges
  // an empty partition: nothing is already present, capacity is all free.
  const bool replace = mode == api::CloneInMode::replace_all;
  const std::uint64_t deleting = replace ? me.partition.object_count : 0;
  if (replace) me.partition.object_count = 0;
  const api::Verdict pair = rules::evaluate_pair(source, me, client);
  if (!pair.allowed) return verdict_error(pair);
  HSM_TRY_ASSIGN(cloning::DeviceIdentity my_id, identity(me.device));
  HSM_TRY_ASSIGN(std::vector<cloning::DomainKey> domains, domain_keys());
  auto opened = kwp ? open_kwp(domains, messages, source)
                    : cloning::open(my_id, *session_, session_twc_ ? &*session_twc_ : nullptr, domains, messages,
                                    source.device.name);
  if (!opened.ok()) {
    if (opened.error().rule == "U1") session_.reset();  // expired: a new offer is needed
    return opened.error();
  }
  const api::Protocol protocol = kwp ? api::Protocol::kwp : session_->protocol;

  std::vector<cloning::FlatObject> objects;
  std::optional<SecretBytes> adopt_smk;
  const bool sks = !opened->objects.empty() && opened->objects[0].kind == cloning::FlatKind::sks_master_key;
  if (sks) {
    // rule U4: the SKS master key, then the SIM4 blobs it opens.
    if (opened->objects.size() != 1 || opened->objects[0].kind != cloning::FlatKind::sks_master_key)
      return Error::refused("U4", "CKR_OPERATION_NOT_ALLOWED",
                            "a V1 partition takes only an SKS master key and SIM4 blobs from " +
                                source.address());
    HSM_TRY_ASSIGN(SecretBytes their_smk, cloning::smk_of(opened->objects[0]));
    for (const auto& blob : messages.sim4) {
      HSM_TRY_ASSIGN(cloning::Sim4Header h, cloning::sim4_header(blob));
      HSM_TRY_ASSIGN(cloning::FlatObject f, cloning::open_sim4(their_smk, blob, h.blob_id));
      objects.push_back(std::move(f));
    }
    if (me.partition.type == api::PartitionType::v1) {
      // A V1 target adopts the source's SMK, unless it already guards other
      // objects under its own (they would become unreadable as SIM4 blobs).
      auto mine = smk();
      const bool same = mine.ok() && *mine == their_smk;
      if (!same && me.partition.object_count > 0)
        return Error::refused("U4", "CKR_OPERATION_NOT_ALLOWED",
                              name_ + " already holds objects under a different SKS master key",
                              "clone into an empty V1 partition");
      if (!same) adopt_smk = their_smk;
    }
  } else {
    objects = std::move(opened->objects);
  }

  // The target judges every object again and does not double what it holds.
  api::CloneInResult result;
  result.deleted = deleting;
  std::vector<StoredObject> fresh;
  std::unordered_set<std::string> batch_fps;
  // One prepared lookup for the whole batch (see handle_of_fingerprint).
  store::Stmt held(*core_->db,
                   "SELECT MIN(handle) FROM object INDEXED BY object_fingerprint "
                   "WHERE partition_id = ? AND fingerprint = ?");
  for (auto& f : objects) {
    if (f.kind != cloning::FlatKind::object)
      return Error::refused("U4", "CKR_OPERATION_NOT_ALLOWED",
                            "an SKS master key may only be cloned into a V1 partition");
    api::ObjectDesc& d = f.desc;
    api::Verdict v = rules::evaluate_object(source, me, d, protocol, client);
    if (!v.allowed) {
      result.refused.push_back({d, std::move(v)});
      continue;
    }
    d.handle = 0;
    if (!replace) {
      held.reset();
      held.bind(1, id_).bind(2, d.fingerprint);
      d.handle = held.step() ? static_cast<std::uint64_t>(held.i64(0)) : 0;
      HSM_TRY(held.status());
    }
    if (d.handle != 0 || !batch_fps.insert(d.fingerprint).second) {
      result.already_present.push_back(d);
      continue;
    }
    if (v.stripped) rules::strip_permissive(d, protocol);  // rule S5
    d.travelled.push_back(protocol);                        // S3: provenance travels
    fresh.push_back({std::move(d), std::move(f.material)});
  }
  held.reset();  // no read left open while the batch is written
  // rule C1: capacity, judged on what is really added.
  if (auto cap = rules::check_capacity(me.device, me.partition, fresh.size()); !cap.ok()) {
    const auto limit = profile(me.device.kind).max_objects.value_or(0);
    const std::uint64_t room = limit > me.partition.object_count ? limit - me.partition.object_count : 0;
    while (fresh.size() > room) {
      const auto& e = cap.error();
      result.refused.push_back(
          {fresh.back().desc, api::Verdict{false, protocol, e.rule, e.code, e.message, e.fix, {}, false}});
      fresh.pop_back();
    }
  }
  if (replace) {
    store::Stmt del(*core_->db, "DELETE FROM object WHERE partition_id = ?");
    del.bind(1, id_);
    HSM_TRY(del.run());
  }
  if (adopt_smk) {
    store::Stmt q(*core_->db, "UPDATE partition SET smk_sealed = ? WHERE id = ?");
    q.bind(1, core_->seal("smk", id_, 0, *adopt_smk)).bind(2, id_);
    HSM_TRY(q.run());
  }
  HSM_TRY_ASSIGN(result.created, insert_objects(fresh));
  HSM_TRY(core_->audit((replace ? "deleted " + std::to_string(deleting) + " object(s), then " : std::string()) +
                       "cloned in " + std::to_string(result.created.size()) + " object(s) by " +
                       std::string(api::to_string(protocol)) + " from " + source.address()));
  api::crash_point("device-before-commit");
  HSM_TRY(tx.commit());
  return result;
}

}  // namespace hsm::luna
