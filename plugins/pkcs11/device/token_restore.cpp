// Restores into a token from an archive in the portable form (a token's, or
// an emulated Luna's `backup --portable`). restore_begin finds the archive's
// domain among the token's KEKs by its tag (T4), unwraps S and W on the token
// and checks the archive MAC there; restore_blobs opens every record on the
// token (AES-GCM, AAD = the record's associated data), judges it (the rules
// of the pair: plugins/luna/rules, which hand tokens to plugins/pkcs11/rules)
// and unwraps each key with its full explicit template (T5).
//
// All or nothing: a token has no transaction, so what this restore created
// is destroyed again on any failure, and on a blob count that differs from
// the MAC'd one. A replace judges every blob first and deletes nothing when
// one would be refused (X4). A drill restores into session objects, uses
// each key, and leaves the token as it was.
#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include <unordered_set>

#include "plugins/luna/crypto/crypto.hpp"
#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/pkcs11/device/token_objects.hpp"
#include "plugins/pkcs11/device/token_setup.hpp"
#include "plugins/pkcs11/device/token_verbs.hpp"
#include "plugins/pkcs11/token/error.hpp"
#include "plugins/pkcs11/token/keys.hpp"
#include "plugins/pkcs11/token/public_key.hpp"
#include "plugins/pkcs11/token/transport.hpp"

namespace hsm::p11::plugin {

using api::Bytes;
using api::Error;
using api::Result;
using api::Status;
namespace cka = portable::cka;

namespace {

constexpr std::uint8_t kTypeObject = 1;

// Uses a restored session object against what the archive recorded.
std::string use_key(Session& s, CK_OBJECT_HANDLE h, const portable::Record& r,
                    const api::ObjectDesc& d, CK_OBJECT_HANDLE wrap_key_handle) {
  const Bytes challenge = luna::crypto::random_bytes(32);
  const portable::Attribute* spki = r.find(cka::kPublicKeyInfo);
  switch (d.cls) {
    case api::ObjectClass::secret_key: {
      // The same value: RFC 5649 is deterministic, so its wrap under W is
      // the archived wrap, byte for byte.
      auto again = wrap_key(s, wrap_key_handle, h, 64);
      if (!again.ok()) return "re-wrapping the restored key failed: " + again.error().message;
      if (*again != r.wrapped_key) return "the restored key's value differs from the archived one";
      if (r.flag(cka::kEncrypt).value_or(false) && r.flag(cka::kDecrypt).value_or(false) &&
          d.key_type == api::KeyType::aes) {
        const Bytes iv = luna::crypto::random_bytes(kGcmIvBytes);
        auto ct = gcm_encrypt(s, h, iv, {}, challenge);
        if (!ct.ok()) return "encrypt failed: " + ct.error().message;
        auto pt = gcm_decrypt(s, h, iv, {}, *ct);
        if (!pt.ok() || Bytes(pt->begin(), pt->end()) != challenge)
          return "encrypt/decrypt round trip failed";
      }
      return "";
    }
    case api::ObjectClass::private_key: {
      if (!r.flag(cka::kSign).value_or(false) || !spki) {
        auto again = wrap_key(s, wrap_key_handle, h, 4096);
        if (!again.ok() || *again != r.wrapped_key)
          return "the restored key's value differs from the archived one";
        return "";
      }
      SignMechanism m = SignMechanism::rsa_pss_sha256;
      if (d.key_type == api::KeyType::ec) m = SignMechanism::ecdsa_sha256;
      if (d.key_type == api::KeyType::ed25519) m = SignMechanism::eddsa;
      auto sig = p11::sign(s, h, m, challenge);
      if (!sig.ok()) return "sign failed: " + sig.error().message;
      Bytes der = *sig;
      if (m == SignMechanism::ecdsa_sha256) {
        auto d2 = ecdsa_signature_der(*sig);
        if (!d2.ok()) return d2.error().message;
        der = *d2;
        // The archive's public key with OpenSSL, SHA-256 as the token hashed.
        if (d.curve != "P-256")
          return "";  // OpenSSL would pick SHA-384/512 for this curve; signing worked
      }
      auto ok = luna::crypto::verify(d.key_type, spki->value, challenge, der);
      if (!ok.ok() || !*ok)
        return "the signature does not verify with the public key recorded at backup";
      return "";
    }
    case api::ObjectClass::public_key: {
      auto der = public_key_der(s, h);
      if (!der.ok() || !spki || *der != spki->value)
        return "the public key differs from the one recorded";
      return "";
    }
    default:
      return "not a key";
  }
}

}  // namespace

Result<std::set<std::string>> held_fingerprints(Session& s, CK_OBJECT_HANDLE kek) {
  std::set<std::string> held;
  HSM_TRY_ASSIGN(auto handles, p11::find_objects(s, token_objects()));
  HSM_TRY_ASSIGN(PublicKeyIndex pubs, index_public_keys(s));
  for (CK_OBJECT_HANDLE h : handles) {
    HSM_TRY_ASSIGN(ObjectInfo o, read_object(s, h));
    if (is_own_object(o)) continue;
    Bytes spki;
    if (o.cls == CKO_PRIVATE_KEY || o.cls == CKO_PUBLIC_KEY) {
      auto sp = spki_of(s, o, &pubs);
      if (sp.ok()) spki = std::move(*sp);
    }
    HSM_TRY_ASSIGN(std::string fp, fingerprint_of(s, o, kek, spki));
    if (!fp.empty()) held.insert(std::move(fp));
  }
  return held;
}

Result<std::string> record_fingerprint(Session& s, const portable::Record& r,
                                       CK_OBJECT_HANDLE wrap_key_handle, CK_OBJECT_HANDLE kek) {
  HSM_TRY_ASSIGN(api::ObjectDesc d, portable::desc_of(r));
  if (const portable::Attribute* spki = r.find(cka::kPublicKeyInfo))
    return portable::public_fingerprint(d.cls, d.key_type, spki->value);
  if (d.cls != api::ObjectClass::secret_key && d.cls != api::ObjectClass::private_key)
    return std::string();
  // On the token: the key as a session object, wrapped under the domain KEK.
  SessionObjects keep(s);
  HSM_TRY_ASSIGN(CK_OBJECT_HANDLE h, restore_record(s, r, wrap_key_handle, false));
  keep.add(h);
  HSM_TRY_ASSIGN(ObjectInfo o, read_object(s, h));
  return fingerprint_of(s, o, kek, {});
}

Result<std::uint64_t> delete_user_objects(Session& s) {
  HSM_TRY_ASSIGN(auto handles, select_objects(s, "all"));
  for (CK_OBJECT_HANDLE h : handles) HSM_TRY(destroy_object(s, h));
  return handles.size();
}

Status restore_begin(TokenContext& ctx, RestoreWork& w, const api::ArchiveSource& source) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  w = RestoreWork{};
  if (source.format_version != 2 || !portable::is_portable(source.wrapped_master_key))
    return Error::refused("T3", "CKR_MECHANISM_INVALID",
                          "the archive of " + source.source.address() +
                              " is in the emulated Luna's own form (XChaCha20-Poly1305 blobs under "
                              "a key bound to the archive by "
                              "Argon2id), which " +
                              ctx.address() + " cannot open without the keys in clear on the host",
                          "back the Luna partition up with `hsm-migrate backup " +
                              source.source.address() +
                              " --portable --archive PATH` and restore that archive");
  HSM_TRY_ASSIGN(portable::WrappedKeys wrapped,
                 portable::decode_wrapped(source.wrapped_master_key));
  // rule T4: the archive's domain tag, recomputed under each KEK the token holds.
  std::string held;
  for (const auto& d : ctx.reg().domains) {
    auto kek = find_kek(*s, d.fingerprint);
    if (!kek.ok()) continue;
    held += (held.empty() ? "" : ", ") + d.fingerprint.substr(0, 16);
    HSM_TRY_ASSIGN(std::string tag, domain_tag(*s, *kek, source.finish.archive_id));
    if (tag != source.domain_fingerprint) continue;
    w.keep = std::make_unique<SessionObjects>(*s);
    HSM_TRY_ASSIGN(w.keys, unwrap_keys(*s, *kek, wrapped, *w.keep));
    // The MAC binds the header and the blob count to the domain: checked on
    // the token before any record is opened.
    HSM_TRY(check_archive_mac(*s, w.keys.seal, source.finish, source.mac));
    w.kek = *kek;
    w.source = source;
    w.domain = d.fingerprint;
    return {};
  }
  w = RestoreWork{};
  return Error{
      api::ErrorKind::integrity,
      "archive of domain tag " + source.domain_fingerprint.substr(0, 16) + " (from " +
          source.source.address() + "): " + ctx.address() + " holds " +
          (held.empty() ? "no domain key" : held) +
          ", none of them the archive's; nothing was written",
      "T4", "CKR_CERTIFICATE_INVALID",
      "add the archive's domain with `hsm-migrate partition domain add " + ctx.address() + "`"};
}

Result<api::ArchiveRestoreCounts> restore_blobs(TokenContext& ctx, RestoreWork& w,
                                                const api::ArchiveBlobSource& blobs,
                                                const api::ArchiveRestoreOptions& opt,
                                                const api::ArchiveReport& report) {
  HSM_TRY_ASSIGN(Session * s, ctx.logged_in_session());
  if (!w.keep)
    return Error::usage("restore_blobs without restore_begin", "call restore_begin first");
  RestoreWork work = std::move(w);  // the archive keys go when this restore ends
  w = RestoreWork{};
  const bool drill = opt.mode == api::ArchiveRestoreMode::drill;
  const bool replace = opt.mode == api::ArchiveRestoreMode::replace;
  const bool open_only = opt.mode == api::ArchiveRestoreMode::open;
  const bool create = opt.mode == api::ArchiveRestoreMode::add || replace;

  HSM_TRY_ASSIGN(api::Endpoint me,
                 ctx.endpoint(false));  // the rules of a token target need no count
  // The source as the header describes it (as an emulated Luna target does).
  api::Endpoint src = work.source.source;
  src.partition.domains = {{"", api::DomainKind::text, true, work.domain}};
  src.partition.policies[api::policy::part_private_key_cloning] = 1;
  src.partition.policies[api::policy::part_secret_key_cloning] = 1;
  const api::Verdict pair = luna::rules::evaluate_pair(src, me, opt.client);
  if (!pair.allowed) return Error::refused(pair.rule, pair.code, pair.message, pair.fix);
  const api::Protocol protocol = *pair.protocol;

  api::ArchiveRestoreCounts counts;
  std::vector<CK_OBJECT_HANDLE> created;  // token objects this restore made: destroyed on failure
  std::set<std::string> held;
  std::unordered_set<std::string> restored_fps;
  std::unordered_set<std::string> same_in_archive;  // class, type, wrap under W

  // Opens and judges one blob; nullopt verdict = allowed.
  struct Opened {
    portable::Record record;
    api::ObjectDesc desc;
    api::Verdict verdict;
    bool skipped = false;
  };
  auto open_blob = [&](const api::ArchiveBlob& b) -> Result<Opened> {
    const std::string where = "archive blob " + std::to_string(counts.blobs) + " (position " +
                              std::to_string(b.handle) + ")";
    if (b.type != kTypeObject)
      return Error::integrity(where + ": a portable archive holds object blobs only");
    auto plain = open(*s, work.keys.seal, b.associated_data, *b.sealed);
    if (!plain.ok()) return Error::integrity(where + ": " + plain.error().message);
    Opened o;
    HSM_TRY_ASSIGN(o.record, portable::decode_record(*plain));
    HSM_TRY_ASSIGN(o.desc, portable::desc_of(o.record));
    o.desc.handle = b.handle;
    if (!api::archive_selects(opt.selector, o.desc)) {
      o.skipped = true;
      return o;
    }
    o.verdict = luna::rules::evaluate_object(src, me, o.desc, protocol, opt.client);
    return o;
  };

  if (replace) {
    // rule X4: every blob judged first; one refusal and nothing is deleted.
    api::ArchiveRestoreCounts judged;
    HSM_TRY(blobs([&](const api::ArchiveBlob& b) -> Status {
      HSM_TRY_ASSIGN(Opened o, open_blob(b));
      ++judged.blobs;
      judged.skipped += o.skipped ? 1 : 0;
      if (!o.skipped && !o.verdict.allowed) {
        ++judged.refused;
        api::ArchiveObjectReport r{o.desc, 0, "refused", o.verdict, ""};
        if (report) report(r);
      }
      return {};
    }));
    if (judged.blobs != work.source.finish.blob_count)
      return Error::integrity("the archive MAC covers " +
                              std::to_string(work.source.finish.blob_count) + " blob(s) but " +
                              std::to_string(judged.blobs) + " were given: nothing was written");
    if (!api::archive_selects_all(opt.selector) && judged.skipped == judged.blobs)
      return api::nothing_selected(opt.selector);  // before anything is deleted
    if (judged.refused > 0) {
      judged.replace_blocked = true;
      judged.mac_verified = true;
      return judged;
    }
    if (opt.dry_run) {
      // Nothing is deleted: the objects it would delete are counted, and
      // the archive's are judged against an empty token.
      HSM_TRY_ASSIGN(auto user, select_objects(*s, "all"));
      counts.deleted = user.size();
    } else {
      HSM_TRY_ASSIGN(counts.deleted, delete_user_objects(*s));
    }
  } else if (create) {
    HSM_TRY_ASSIGN(held, held_fingerprints(*s, work.kek));
  }

  auto visit = [&](const api::ArchiveBlob& b) -> Status {
    HSM_TRY_ASSIGN(Opened o, open_blob(b));
    ++counts.blobs;
    ++counts.opened;
    if (o.skipped) {
      ++counts.skipped;
      return {};
    }
    api::ArchiveObjectReport r;
    r.object = o.desc;
    if (!o.verdict.allowed) {
      ++counts.refused;
      r.status = "refused";
      r.verdict = o.verdict;
      if (report) report(r);
      return {};
    }
    if (open_only) {
      r.status = "opened";
      if (report) report(r);
      return {};
    }
    if (drill) {
      SessionObjects keep(*s);
      auto h = restore_record(*s, o.record, work.keys.wrap, false);
      std::string why = h.ok() ? use_key(*s, keep.add(*h), o.record, o.desc, work.keys.wrap)
                               : "restoring it failed: " + h.error().message;
      ++counts.created;
      r.status = why.empty() ? "passed" : "failed";
      r.detail = why.empty() ? "restored as a session object and used" : why;
      ++(why.empty() ? counts.passed : counts.failed);
      if (report) report(r);
      return {};
    }
    // Into a token that holds nothing to match (held is empty), no content
    // fingerprint is needed: nothing there can be doubled. Two records of
    // the same key within the archive are found by their wraps under the
    // archive's W, which are equal exactly when class, type and value are
    // (RFC 5649 is deterministic). That saves a second token operation per
    // key (a wrap under the KEK) on the restore's main path; the report then
    // carries the fingerprint only when the record does (portable-form.md).
    const bool into_empty =
        held.empty() && !opt.dry_run && !o.record.find(cka::kPublicKeyInfo) &&
        (o.desc.cls == api::ObjectClass::secret_key || o.desc.cls == api::ObjectClass::private_key);
    if (into_empty) {
      std::string same;
      same.reserve(2 + o.record.wrapped_key.size());
      same.push_back(static_cast<char>(o.desc.cls));
      same.push_back(static_cast<char>(o.desc.key_type));
      same.append(o.record.wrapped_key.begin(), o.record.wrapped_key.end());
      r.object.fingerprint = o.record.fingerprint;
      if (!same_in_archive.insert(std::move(same)).second) {
        ++counts.already_present;
        r.status = "already_present";
        if (report) report(r);
        return {};
      }
      HSM_TRY_ASSIGN(CK_OBJECT_HANDLE h, restore_record(*s, o.record, work.keys.wrap, true));
      created.push_back(h);
      ++counts.created;
      r.status = "created";
      r.target_handle = h;
      if (report) report(r);
      return {};
    }
    // Already present (by content fingerprint): not doubled.
    HSM_TRY_ASSIGN(std::string fp, record_fingerprint(*s, o.record, work.keys.wrap, work.kek));
    r.object.fingerprint = fp;
    if (!fp.empty() && (held.count(fp) || !restored_fps.insert(fp).second)) {
      ++counts.already_present;
      r.status = "already_present";
      if (report) report(r);
      return {};
    }
    // A dry run unwraps into a session object (the token proves it takes
    // the template, T5) that is destroyed below: nothing reaches the token.
    HSM_TRY_ASSIGN(CK_OBJECT_HANDLE h, restore_record(*s, o.record, work.keys.wrap, !opt.dry_run));
    created.push_back(h);
    ++counts.created;
    r.status = "created";
    r.target_handle = h;
    if (report) report(r);
    return {};
  };
  Status st = blobs(visit);
  if (st.ok() && counts.blobs == 0) st = Error::integrity("the archive yielded no blob");
  if (st.ok() && counts.blobs != work.source.finish.blob_count)
    // The MAC'd count: a host that dropped or added blobs gets nothing written.
    st =
        Error::integrity("the archive MAC covers " + std::to_string(work.source.finish.blob_count) +
                         " blob(s) but " + std::to_string(counts.blobs) +
                         " were given: blobs were dropped or added");
  if (st.ok() && create && !api::archive_selects_all(opt.selector) &&
      counts.skipped == counts.blobs)
    st = api::nothing_selected(opt.selector);
  if (!st.ok()) {
    for (CK_OBJECT_HANDLE h : created) (void)destroy_object(*s, h);  // all or nothing
    Error e = st.error();
    if (!created.empty())
      e.message += "; the " + std::to_string(created.size()) +
                   " object(s) this restore made were destroyed again";
    return e;
  }
  counts.mac_verified = true;
  if (opt.dry_run)
    for (CK_OBJECT_HANDLE h : created) (void)destroy_object(*s, h);
  return counts;
}

}  // namespace hsm::p11::plugin
