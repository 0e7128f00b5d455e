// Backups of a token in the portable form (portable-form.md): the token
// generates the archive keys S and W, wraps them under the primary domain's
// KEK (T4), reads each object's attributes, KWP-wraps the key under W and
// seals the record with AES-GCM under S with the record's associated data as
// AAD, and signs the archive digest with its identity key. The host carries
// sealed records only.
//
// Rules checked from the attributes before the token wraps anything (T2: a
// non-extractable key never leaves; T3: a key kind the token cannot wrap; T5:
// keys only): refused objects are left out and listed (backup_refused).
#include <algorithm>
#include <optional>

#include "plugins/luna/device/portable_form.hpp"
#include "plugins/pkcs11/device/token_objects.hpp"
#include "plugins/pkcs11/device/token_setup.hpp"
#include "plugins/pkcs11/device/token_verbs.hpp"
#include "plugins/pkcs11/rules/token_rules.hpp"
#include "plugins/pkcs11/token/error.hpp"

namespace hsm::p11::plugin {

using api::Bytes;
using api::Error;
using api::Result;

namespace {
constexpr std::uint8_t kTypeObject = 1;
}

Result<api::ArchiveBegin> backup_begin(TokenContext& ctx, BackupWork& w,
                                       const api::ArchiveBeginRequest& req) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  w = BackupWork{};
  if (req.format_version != 2)
    return Error::usage("a token writes archive format 2, not " +
                        std::to_string(req.format_version));
  api::ArchiveBegin b;
  HSM_TRY_ASSIGN(b.source, ctx.endpoint(false));
  // One search for the whole backup. Its count, less hsm-migrate's own
  // objects (a KEK per domain held, the identity key pair), is the progress
  // line's total.
  HSM_TRY_ASSIGN(w.objects, p11::find_objects(*s, token_objects()));
  const std::size_t own = b.source.partition.domains.size() + 2;
  b.source.partition.object_count = w.objects.size() - std::min(own, w.objects.size());
  w.source = b.source;
  HSM_TRY_ASSIGN(CK_OBJECT_HANDLE kek, ctx.primary_kek());  // found by endpoint() above
  if (kek == CK_INVALID_HANDLE)
    return Error::refused(
        "T4", "CKR_CERTIFICATE_INVALID",
        ctx.address() + " holds no cloning domain to bind an archive to",
        "add one with `hsm-migrate partition domain add " + ctx.address() + " --label L`");
  w.keep = std::make_unique<SessionObjects>(*s);
  HSM_TRY_ASSIGN(w.keys, generate_keys(*s, *w.keep));
  HSM_TRY_ASSIGN(b.domain_fingerprint, domain_tag(*s, kek, req.archive_id));
  HSM_TRY_ASSIGN(portable::WrappedKeys wrapped, wrap_keys(*s, kek, w.keys));
  b.wrapped_master_key = portable::encode_wrapped(wrapped);
  b.certificates = {ctx.reg().hok_cert, ctx.reg().root_cert};
  w.id = req.archive_id;
  return b;
}

Result<std::uint64_t> backup_seal(TokenContext& ctx, BackupWork& w, std::string_view selector,
                                  const api::ArchiveAdFor& ad_for, const api::ArchiveSink& sink) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  if (!w.keep) return Error::usage("backup_seal without backup_begin", "call backup_begin first");
  const api::Endpoint& me = w.source;
  std::vector<CK_OBJECT_HANDLE> handles;
  if (selector.empty() || selector == "all") {
    handles = w.objects;  // hsm-migrate's own left out below
  } else {
    HSM_TRY_ASSIGN(handles, select_objects(*s, selector));
  }
  // The public keys by CKA_ID, searched for at the first key pair only: a
  // token of secret keys pays no search for them.
  std::optional<PublicKeyIndex> pubs;
  std::uint64_t position = 0;
  for (CK_OBJECT_HANDLE h : handles) {
    HSM_TRY_ASSIGN(ObjectInfo o, read_object(*s, h));
    if (is_own_object(o)) {
      if (o.cls == CKO_PRIVATE_KEY && o.id == ctx.reg().identity_id) w.identities.push_back(h);
      continue;
    }
    api::ObjectDesc desc = describe_object(o);
    // T5, T2, T3: from the attributes, before the token wraps anything.
    if (auto refusal = rules::check_backup(me, desc)) {
      api::ArchiveObjectReport r;
      r.object = std::move(desc);
      r.status = "refused";
      r.verdict = std::move(*refusal);
      w.refused.push_back(std::move(r));
      continue;
    }
    ++position;  // the object's stable place in this archive (handles are not stable)
    Bytes spki;
    if (o.cls != CKO_SECRET_KEY) {
      if (!pubs) {
        HSM_TRY_ASSIGN(pubs, index_public_keys(*s));
      }
      HSM_TRY_ASSIGN(spki, spki_of(*s, o, &*pubs));
    }
    // Fingerprints of secret keys are the target's to compute (a second
    // wrap per key would halve the backup's pace): portable-form.md.
    std::string fp;
    if (!spki.empty()) fp = portable::public_fingerprint(desc.cls, desc.key_type, spki);
    HSM_TRY_ASSIGN(portable::Record rec, record_of(*s, o, w.keys.wrap, position, spki, fp));
    const Bytes plain = portable::encode_record(rec);
    HSM_TRY_ASSIGN(Bytes sealed, seal(*s, w.keys.seal, ad_for(position, kTypeObject), plain));
    desc.handle = position;
    desc.fingerprint = fp;
    HSM_TRY(sink(desc, kTypeObject, sealed));
  }
  return position;
}

Result<api::ArchiveSeal> backup_finish(TokenContext& ctx, BackupWork& w,
                                       const api::ArchiveFinish& finish) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  if (!w.keep || finish.archive_id != w.id)
    return Error::usage("backup_finish names another archive than backup_begin");
  api::ArchiveSeal seal_out;
  HSM_TRY_ASSIGN(seal_out.signature,
                 sign_digest(*s, ctx.reg(), finish.archive_digest,
                             w.identities.size() == 1 ? w.identities.front()
                                                      : CK_OBJECT_HANDLE{CK_INVALID_HANDLE}));
  HSM_TRY_ASSIGN(seal_out.mac, archive_mac(*s, w.keys.seal, finish));
  w.keep.reset();  // S and W are destroyed on the token
  return seal_out;
}

}  // namespace hsm::p11::plugin
