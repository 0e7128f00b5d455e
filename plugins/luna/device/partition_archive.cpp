// The archive verbs of a partition (formats/archive-format.md; the framing is
// the tool's, the cryptography is the device's, as with a real HSM's SKS
// backups):
//
//   source  backup_begin   a fresh archive master key (AMK, 32 random bytes,
//                          memory only) wrapped for the primary domain and
//                          bound to the archive id (archive_keys.hpp); the
//                          HOK certificate chain; the header description
//           backup_seal    every selected object, in handle order, by ONE
//                          query: AEAD(AMK, AD of its archive position,
//                          archive_record.hpp). V1 (rule U4): the SMK sealed
//                          under the AMK, then SIM4 blobs
//           backup_finish  the HOK's Ed25519 signature of the archive digest
//                          and the archive MAC over the id, the blob count,
//                          the header digest and the archive digest
//   target  restore_begin  S1 (the domain tag or fingerprint), unwraps the
//                          AMK, checks the archive MAC (format 2)
//           restore_blobs  opens each blob, judges it as a clone would, dedups
//                          by fingerprint, writes in ONE transaction (a drill
//                          uses every key, then rolls that transaction back;
//                          replace rolls back on any refusal, X4)
#include <unordered_set>

#include "plugins/api/crash_point.hpp"
#include "plugins/luna/cloning/sim4.hpp"
#include "plugins/luna/device/archive_keys.hpp"
#include "plugins/luna/device/archive_record.hpp"
#include "plugins/luna/device/luna_partition.hpp"
#include "plugins/luna/device/object_row.hpp"
#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/luna/rules/config_rules.hpp"
#include "plugins/luna/rules/kind_profile.hpp"

namespace hsm::luna {

using api::Bytes;
using api::Error;
using api::Result;
using api::SecretBytes;
using api::Status;
using archive_record::Check;

namespace {

constexpr std::uint8_t kTypeObject = 1, kTypeSim4 = 2, kTypeSmk = 3;
constexpr std::size_t kBatch = 256;

std::string short_fp(const std::string& fp) { return fp.substr(0, 16); }

}  // namespace

Result<api::ArchiveBegin> LunaPartition::backup_begin(const api::ArchiveBeginRequest& req) {
  HSM_TRY(require_login());
  if (req.format_version != 2)
    return Error::usage("this device writes archive format 2, not " + std::to_string(req.format_version));
  api::ArchiveBegin b;
  HSM_TRY_ASSIGN(b.source, describe());
  HSM_TRY_ASSIGN(std::vector<cloning::DomainKey> domains, domain_keys());
  const cloning::DomainKey* primary = nullptr;
  for (const auto& d : domains)
    if (d.primary) primary = &d;
  if (!primary)
    return Error::refused("S1", "CKR_CERTIFICATE_INVALID",
                          b.source.address() + " has no primary cloning domain to bind an archive to",
                          "add a domain with `partition domain add " + b.source.address() + " --primary`");
  portable_.reset();
  if (req.portable) {
    // The portable form, on request (issue 12 §3; partition_portable.cpp).
    HSM_TRY(backup_begin_portable(b, *primary, req.archive_id));
  } else {
    HSM_TRY_ASSIGN(SecretBytes bound, archive_keys::bound_domain_key(primary->key, req.archive_id));
    HSM_TRY_ASSIGN(b.domain_fingerprint, archive_keys::domain_tag_hex(bound));
    archive_key_ = crypto::random_secret(32);
    archive_id_ = req.archive_id;
    HSM_TRY_ASSIGN(b.wrapped_master_key, archive_keys::wrap_v2(bound, req.archive_id, *archive_key_));
  }
  HSM_TRY_ASSIGN(Bytes hok, core_->get_cert("hok"));
  HSM_TRY_ASSIGN(Bytes root, core_->get_cert("root"));
  b.certificates = {std::move(hok), std::move(root)};
  return b;
}

Result<std::uint64_t> LunaPartition::backup_seal(std::string_view selector, const api::ArchiveAdFor& ad_for,
                                                 const api::ArchiveSink& sink) {
  HSM_TRY(require_login());
  if (!archive_key_) return Error::usage("backup_seal without backup_begin", "call backup_begin first");
  HSM_TRY_ASSIGN(api::Endpoint me, describe());
  const bool v1 = me.partition.type == api::PartitionType::v1;
  std::uint64_t count = 0;
  SecretBytes smk_key;
  if (v1) {
    // rule U4: the SKS master key, sealed under the AMK, comes first.
    HSM_TRY_ASSIGN(smk_key, smk());
    const SecretBytes flat = cloning::encode_flat(cloning::make_smk_object(smk_key, name_ + " SMK"));
    api::ObjectDesc d;
    d.label = name_ + " SMK";
    const Bytes sealed = crypto::aead_seal(*archive_key_, ad_for(0, kTypeSmk), flat);
    HSM_TRY(sink(d, kTypeSmk, sealed));
    ++count;
  }
  std::string sql = std::string("SELECT ") + kObjectColumnsWithMaterial + " FROM object WHERE partition_id = ?1";
  std::uint64_t only = 0;
  std::string arg;
  if (selector.starts_with("#")) {
    HSM_TRY_ASSIGN(auto found, find_objects(selector));  // validates the handle
    if (found.empty()) return Error::usage("no object " + std::string(selector) + " in " + name_);
    only = found[0].handle;
    sql += " AND handle = " + std::to_string(only);
  } else if (selector.starts_with("id:")) {
    sql += " AND id_hex = ?2";
    arg = selector.substr(3);
  } else if (selector != "all" && !selector.empty()) {
    sql += " AND label = ?2";
    arg = selector;
  }
  sql += " ORDER BY handle";
  store::Stmt q(*core_->db, sql);
  q.bind(1, id_);
  if (!arg.empty()) q.bind(2, arg);
  cloning::FlatObject f;
  SecretBytes flat, plain;
  while (q.step()) {
    read_object_row(q, f.desc);
    f.material.type = f.desc.key_type;
    f.material.bits = f.desc.bits;
    f.material.curve = f.desc.curve;
    f.material.public_der = q.blob(kPublicDerColumn);
    HSM_TRY_ASSIGN(f.material.secret, core_->open_sealed("object", id_, q.i64(0), q.blob(kMaterialSealedColumn)));
    if (v1) {
      HSM_TRY_ASSIGN(Bytes blob, cloning::seal_sim4(smk_key, f, f.desc.handle));
      HSM_TRY(sink(f.desc, kTypeSim4, blob));
    } else {
      const std::uint64_t h = f.desc.handle;
      const Check c = archive_record::check_of(f.desc.cls, f.material);
      f.desc.handle = 0;  // not encoded: a handle is per partition
      cloning::encode_flat(f, flat);
      archive_record::encode(c, flat, plain);
      f.desc.handle = h;
      Bytes sealed;
      if (portable_) {
        HSM_TRY_ASSIGN(sealed, portable::seal_object(*portable_, f, h, ad_for(h, kTypeObject)));
      } else {
        sealed = crypto::aead_seal(*archive_key_, ad_for(h, kTypeObject), plain);
      }
      HSM_TRY(sink(f.desc, kTypeObject, sealed));
    }
    ++count;
  }
  HSM_TRY(q.status());
  HSM_TRY(core_->audit("archive: sealed " + std::to_string(count) + " blob(s) of " + name_));
  return count;
}

Result<api::ArchiveSeal> LunaPartition::backup_finish(const api::ArchiveFinish& finish) {
  HSM_TRY(require_login());
  if (!archive_key_ || !archive_id_)
    return Error::usage("backup_finish without backup_begin", "call backup_begin first");
  if (finish.archive_id != *archive_id_)
    return Error::usage("backup_finish names another archive than backup_begin");
  crypto::KeyMaterial hok;
  hok.type = api::KeyType::ed25519;
  hok.curve = "Ed25519";
  HSM_TRY_ASSIGN(hok.secret, core_->get_secret("hok"));
  HSM_TRY_ASSIGN(hok.public_der, crypto::public_of(hok.secret));
  api::ArchiveSeal seal;
  HSM_TRY_ASSIGN(seal.signature,
                 crypto::sign(hok, Bytes(finish.archive_digest.begin(), finish.archive_digest.end())));
  if (portable_) {
    HSM_TRY_ASSIGN(seal.mac, portable::archive_mac(portable_->keys, finish));
  } else {
    HSM_TRY_ASSIGN(seal.mac, archive_keys::archive_mac(*archive_key_, finish));
  }
  archive_key_.reset();  // the archive is complete: the AMK is zeroised
  archive_id_.reset();
  portable_.reset();
  return seal;
}

Status LunaPartition::restore_begin(const api::ArchiveSource& source) {
  HSM_TRY(require_login());
  archive_key_.reset();
  archive_source_.reset();
  portable_.reset();
  if (source.format_version < 1 || source.format_version > 2)
    return Error::integrity("archive format " + std::to_string(source.format_version) + " is not one this device opens");
  HSM_TRY_ASSIGN(std::vector<cloning::DomainKey> domains, domain_keys());
  // An archive in the portable form (a token's, or `backup --portable`).
  if (source.format_version >= 2 && portable::is_portable(source.wrapped_master_key))
    return restore_begin_portable(source, domains);
  // rule S1: only a partition of the archive's cloning domain opens it. An
  // archive this partition cannot open is an integrity failure (exit 4, as
  // for any archive that does not open), naming the rule. Format 2 names its
  // domain by a per-archive tag: each domain held is bound to the archive id
  // (one Argon2id each) and compared.
  const cloning::DomainKey* match = nullptr;
  SecretBytes bound;
  std::string held;
  for (const auto& d : domains) {
    held += (held.empty() ? "" : ", ") + short_fp(d.fingerprint);
    if (source.format_version == 1) {
      if (d.fingerprint == source.domain_fingerprint) match = &d;
    } else {
      HSM_TRY_ASSIGN(SecretBytes b, archive_keys::bound_domain_key(d.key, source.finish.archive_id));
      HSM_TRY_ASSIGN(std::string tag, archive_keys::domain_tag_hex(b));
      if (tag == source.domain_fingerprint) {
        match = &d;
        bound = std::move(b);
      }
    }
    if (match) break;
  }
  if (!match)
    return Error{api::ErrorKind::integrity,
                 "archive of domain " +
                     (source.format_version == 1 ? short_fp(source.domain_fingerprint)
                                                 : std::string("tag ") + short_fp(source.domain_fingerprint)) +
                     " (from " + source.source.address() + "), partition " + name_ + " holds " +
                     (held.empty() ? "no domain" : held) + (source.format_version == 1 ? "" : ", none of them the archive's"),
                 "S1", "CKR_CERTIFICATE_INVALID",
                 "restore into a partition of the archive's domain, or add that domain with `partition domain add`"};
  if (source.format_version == 1) {
    HSM_TRY_ASSIGN(SecretBytes amk, archive_keys::unwrap_v1(match->key, match->fingerprint, source.wrapped_master_key));
    archive_key_ = std::move(amk);
  } else {
    HSM_TRY_ASSIGN(SecretBytes amk, archive_keys::unwrap_v2(bound, source.finish.archive_id, source.wrapped_master_key));
    // The MAC binds the header and the blob count to the domain: checked
    // before any blob is opened.
    HSM_TRY(archive_keys::check_archive_mac(amk, source.finish, source.mac));
    archive_key_ = std::move(amk);
  }
  archive_source_ = source;
  // From here the device names the domain by its own fingerprint (the pair
  // rules compare fingerprints; a format 2 tag is per archive).
  archive_source_->domain_fingerprint = match->fingerprint;
  return {};
}

Result<api::ArchiveRestoreCounts> LunaPartition::restore_blobs(const api::ArchiveBlobSource& blobs,
                                                               const api::ArchiveRestoreOptions& opt,
                                                               const api::ArchiveReport& report) {
  HSM_TRY(require_login());
  if (!archive_key_ || !archive_source_)
    return Error::usage("restore_blobs without restore_begin", "call restore_begin first");
  const SecretBytes amk = std::move(*archive_key_);
  archive_key_.reset();
  const std::optional<portable::ArchiveState> portable = std::move(portable_);  // the portable form
  portable_.reset();
  const bool writes = opt.mode != api::ArchiveRestoreMode::open;
  const bool drill = opt.mode == api::ArchiveRestoreMode::drill;
  const bool replace = opt.mode == api::ArchiveRestoreMode::replace;
  // The write transaction (BEGIN IMMEDIATE) starts before the partition is
  // described: "already present" and the capacity count are decided inside
  // it, so a concurrent writer cannot make an object appear twice.
  store::Transaction tx(*core_->db);
  if (writes) HSM_TRY(tx.begin());
  HSM_TRY_ASSIGN(api::Endpoint me, describe());
  // The source as the header describes it; the device that sealed the blobs
  // allowed them out, so its cloning policies count as on.
  api::Endpoint src = archive_source_->source;
  src.partition.domains = {{"", api::DomainKind::text, true, archive_source_->domain_fingerprint}};
  src.partition.policies[api::policy::part_private_key_cloning] = 1;
  src.partition.policies[api::policy::part_secret_key_cloning] = 1;
  src.partition.suites_available = me.partition.suites_available;
  src.partition.suites_enabled = me.partition.suites_enabled;
  src.device.clock_offset_s = me.device.clock_offset_s;  // an archive has no clock to skew (U3)
  const api::Verdict pair = rules::evaluate_pair(src, me, opt.client);
  if (!pair.allowed) return Error::refused(pair.rule, pair.code, pair.message, pair.fix);
  const api::Protocol protocol = *pair.protocol;

  api::ArchiveRestoreCounts counts;
  std::uint64_t present = me.partition.object_count;
  if (replace) {
    // lunacm `partition restore -replace`: the partition's objects go first.
    store::Stmt del(*core_->db, "DELETE FROM object WHERE partition_id = ?");
    del.bind(1, id_);
    HSM_TRY(del.run());
    counts.deleted = present;
    present = 0;
  }

  std::optional<SecretBytes> their_smk;
  std::vector<StoredObject> pending;
  std::vector<api::ObjectDesc> pending_archived;
  std::unordered_set<std::string> pending_fps;

  // Uses the partition's object at `at` against what was recorded at backup.
  auto use_key = [&](const api::ObjectDesc& archived, std::uint64_t at, const Check& c,
                     const Bytes& recorded_public) -> std::string {
    auto o = load(at);
    if (!o.ok()) return "cannot load #" + std::to_string(at) + ": " + o.error().message;
    const Bytes challenge = crypto::random_bytes(32);
    switch (archived.cls) {
      case api::ObjectClass::secret_key: {
        if (c.kind != archive_record::kCheckKcv || archive_record::kcv(o->material) != c.value)
          return "key check value differs from the one recorded at backup";
        if (archived.key_type == api::KeyType::aes || archived.key_type == api::KeyType::des3) {
          auto ct = encrypt(at, challenge);
          if (!ct.ok()) return "encrypt failed: " + ct.error().message;
          auto pt = decrypt(at, *ct);
          if (!pt.ok() || *pt != challenge) return "encrypt/decrypt round trip failed";
        }
        return "";
      }
      case api::ObjectClass::private_key: {
        auto sig = sign(at, challenge);
        if (!sig.ok()) return "sign failed: " + sig.error().message;
        auto ok = crypto::verify(archived.key_type, recorded_public, challenge, *sig);
        if (!ok.ok() || !*ok) return "signature does not verify with the public key recorded at backup";
        return "";
      }
      case api::ObjectClass::public_key:
        if (o->material.public_der != recorded_public) return "public key differs from the one recorded";
        return "";
      default: {
        const Bytes h = crypto::sha256(o->material.secret.data(), o->material.secret.size());
        if (c.kind != archive_record::kCheckContent || h != c.value) return "content differs from the one recorded";
        return "";
      }
    }
  };
  struct DrillItem {
    api::ObjectDesc archived;
    Check check;
    Bytes public_der;
  };
  std::vector<DrillItem> drill_items;  // drill: one batch at a time

  auto flush = [&]() -> Status {
    if (pending.empty()) return {};
    HSM_TRY_ASSIGN(std::vector<api::ObjectDesc> made, insert_objects(pending));
    for (std::size_t i = 0; i < made.size(); ++i) {
      api::ArchiveObjectReport r;
      r.object = std::move(pending_archived[i]);
      r.target_handle = made[i].handle;
      r.status = "created";
      ++counts.created;
      if (drill) {
        const std::string why = use_key(r.object, r.target_handle, drill_items[i].check, drill_items[i].public_der);
        r.status = why.empty() ? "passed" : "failed";
        r.detail = why.empty() ? "restored and used" : why;
        ++(why.empty() ? counts.passed : counts.failed);
      }
      if (report) report(r);
    }
    present += made.size();
    pending.clear();
    pending_archived.clear();
    pending_fps.clear();
    drill_items.clear();
    return {};
  };

  std::uint64_t expect_index_smk = 0;
  auto visit = [&](const api::ArchiveBlob& b) -> Status {
    ++counts.blobs;
    const std::string where = "archive blob " + std::to_string(counts.blobs - 1) + " (source handle " +
                              std::to_string(b.handle) + ")";
    cloning::FlatObject f;
    Check check;
    if (b.type == kTypeSmk) {
      if (counts.blobs - 1 != expect_index_smk || their_smk)
        return Error::integrity(where + ": an SKS master key out of place");
      auto p = crypto::aead_open(amk, b.associated_data, *b.sealed);
      if (!p.ok()) return Error::integrity(where + " does not open: not of this archive, moved or tampered");
      HSM_TRY_ASSIGN(f, cloning::decode_flat(*p));
      HSM_TRY_ASSIGN(SecretBytes k, cloning::smk_of(f));
      their_smk = std::move(k);
      ++counts.opened;
      if (writes && me.partition.type == api::PartitionType::v1) {
        // rule U4: a V1 target adopts the archive's SMK, unless it guards
        // other objects under its own.
        auto mine = smk();
        const bool same = mine.ok() && *mine == *their_smk;
        if (!same && present > 0)
          return Error::refused("U4", "CKR_OPERATION_NOT_ALLOWED",
                                name_ + " already holds objects under a different SKS master key",
                                "restore with --replace, or into an empty V1 partition");
        if (!same && !drill) {
          store::Stmt q(*core_->db, "UPDATE partition SET smk_sealed = ? WHERE id = ?");
          q.bind(1, core_->seal("smk", id_, 0, *their_smk)).bind(2, id_);
          HSM_TRY(q.run());
        }
      }
      return {};
    }
    if (b.type == kTypeSim4) {
      if (!their_smk) return Error::integrity(where + ": a SIM4 blob with no SKS master key before it");
      auto o = cloning::open_sim4(*their_smk, *b.sealed, b.handle);
      if (!o.ok()) return Error::integrity(where + " does not open: " + o.error().message);
      f = std::move(*o);
      check = archive_record::check_of(f.desc.cls, f.material);
    } else if (b.type == kTypeObject && portable) {
      auto o = portable::open_object(portable->keys, b.associated_data, *b.sealed);
      if (!o.ok()) return Error::integrity(where + ": " + o.error().message);
      f = std::move(*o);
      check = archive_record::check_of(f.desc.cls, f.material);
    } else if (b.type == kTypeObject) {
      auto p = crypto::aead_open(amk, b.associated_data, *b.sealed);
      if (!p.ok())
        return Error::integrity(where +
                                " does not open: not of this archive, moved, swapped or tampered with");
      HSM_TRY_ASSIGN(f, archive_record::decode(*p, check));
    } else {
      return Error::integrity(where + ": unknown blob type " + std::to_string(b.type));
    }
    if (f.kind != cloning::FlatKind::object) return Error::integrity(where + ": not an object");
    ++counts.opened;
    api::ObjectDesc& d = f.desc;
    d.handle = b.handle;
    api::ArchiveObjectReport r;
    if (!api::archive_selects(opt.selector, d)) {
      ++counts.skipped;
      return {};
    }
    api::Verdict v = rules::evaluate_object(src, me, d, protocol, opt.client);
    if (!v.allowed) {
      ++counts.refused;
      r.object = d;
      r.status = "refused";
      r.verdict = std::move(v);
      if (report) report(r);
      return {};
    }
    if (!writes) {
      r.object = d;
      r.status = "opened";
      if (report) report(r);
      return {};
    }
    HSM_TRY_ASSIGN(const std::uint64_t at, handle_of_fingerprint(d.fingerprint));
    if (at != 0 || pending_fps.count(d.fingerprint)) {
      ++counts.already_present;
      r.object = d;
      r.target_handle = at;
      r.status = "already_present";
      if (drill && at != 0) {
        // The partition's own object stands for the archived one: use it.
        const std::string why = use_key(d, at, check, f.material.public_der);
        r.status = why.empty() ? "passed" : "failed";
        r.detail = why.empty() ? "already present; used" : why;
        ++(why.empty() ? counts.passed : counts.failed);
      }
      if (report) report(r);
      return {};
    }
    // rule C1: capacity, judged on what is really added.
    api::PartitionDesc now_part = me.partition;
    now_part.object_count = present + pending.size();
    if (auto cap = rules::check_capacity(me.device, now_part, 1); !cap.ok()) {
      const auto& e = cap.error();
      ++counts.refused;
      r.object = d;
      r.status = "refused";
      r.verdict = api::Verdict{false, protocol, e.rule, e.code, e.message, e.fix, {}, false};
      if (report) report(r);
      return {};
    }
    if (drill) drill_items.push_back({d, check, f.material.public_der});
    pending_archived.push_back(d);
    if (v.stripped) rules::strip_permissive(d, protocol);  // rule S5
    pending_fps.insert(d.fingerprint);
    pending.push_back({std::move(d), std::move(f.material)});
    if (pending.size() >= (drill ? 1 : kBatch)) HSM_TRY(flush());
    return {};
  };
  HSM_TRY(blobs(visit));
  HSM_TRY(flush());
  if (counts.blobs == 0) return Error::integrity("the archive yielded no blob");
  const api::ArchiveSource& src_archive = *archive_source_;
  if (src_archive.format_version >= 2) {
    // The MAC'd count: a host that dropped (or added) blobs gets nothing
    // written, whatever the file's own hashes and signature say.
    if (counts.blobs != src_archive.finish.blob_count)
      return Error::integrity("the archive MAC covers " + std::to_string(src_archive.finish.blob_count) +
                              " blob(s) but " + std::to_string(counts.blobs) +
                              " were given: blobs were dropped or added; nothing was written");
    counts.mac_verified = true;
  }
  if (writes && !drill && !api::archive_selects_all(opt.selector) && counts.skipped == counts.opened)
    return api::nothing_selected(opt.selector);  // the transaction (a replace's delete too) is rolled back
  if (!writes || drill) {
    // open: nothing was written; drill: everything it restored goes again
    // (the transaction is rolled back; objects that were there stay).
    return counts;
  }
  if (replace && counts.refused > 0) {
    // rule X4 (model): a replace is all or nothing. The transaction that
    // deleted and created is rolled back: the partition stays as it was.
    counts.replace_blocked = true;
    counts.created = 0;
    counts.deleted = 0;
    counts.already_present = 0;
    archive_source_.reset();
    return counts;
  }
  if (opt.dry_run) {
    // restore --dry-run: judged, opened and written in the transaction as
    // the restore would be, then rolled back (the delete of a replace too).
    archive_source_.reset();
    return counts;
  }
  HSM_TRY(core_->audit("archive: restored " + std::to_string(counts.created) + " object(s) from " +
                       src_archive.source.address() + " into " + name_ + (replace ? " (replace)" : " (add)")));
  api::crash_point("device-before-commit");
  HSM_TRY(tx.commit());
  archive_source_.reset();
  return counts;
}

}  // namespace hsm::luna
