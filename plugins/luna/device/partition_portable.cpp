// A partition's archives in the portable form (issue 12 §3;
// plugins/pkcs11/portable-form.md): the hooks partition_archive.cpp calls
// when `backup --portable` asks for it, or when an archive to restore is in
// that form (made by a PKCS#11 token, or by a Luna with --portable).
//
// The trade-off, said where it is made: a portable archive has no
// per-archive Argon2id binding (a token cannot run Argon2id over its domain
// key), so a guess of a text domain tested against it costs the domain's
// own stretch only (formats/archive-format.md, "Domain binding and the cost
// of guessing a text domain"). Luna's default archives stay in the AMK2 form.
#include "plugins/luna/device/luna_partition.hpp"

namespace hsm::luna {

using api::Error;
using api::SecretBytes;
using api::Status;

Status LunaPartition::backup_begin_portable(api::ArchiveBegin& b, const cloning::DomainKey& primary,
                                            const api::ArchiveId& id) {
  // rule U4: a V1 partition's objects leave only as SIM4 blobs under its SKS
  // master key, which no token can open.
  if (b.source.partition.type == api::PartitionType::v1)
    return Error::refused("U4", "CKR_OPERATION_NOT_ALLOWED",
                          b.source.address() + " is a V1 (SKS) partition: its objects leave only as SIM4 blobs "
                                               "under its SKS master key, never in the portable form",
                          "back it up without --portable");
  portable::ArchiveState st{portable::new_keys(), primary.key};
  HSM_TRY_ASSIGN(b.domain_fingerprint, portable::domain_tag(primary.key, id));
  HSM_TRY_ASSIGN(portable::WrappedKeys w, portable::wrap_keys(primary.key, st.keys));
  b.wrapped_master_key = portable::encode_wrapped(w);
  archive_key_ = st.keys.seal;  // "the archive is in progress" for backup_seal/backup_finish
  archive_id_ = id;
  portable_ = std::move(st);
  return {};
}

Status LunaPartition::restore_begin_portable(const api::ArchiveSource& source,
                                             const std::vector<cloning::DomainKey>& domains) {
  HSM_TRY_ASSIGN(portable::WrappedKeys wrapped, portable::decode_wrapped(source.wrapped_master_key));
  // rule S1 (T4 for tokens): the archive's domain tag is recomputed under
  // each domain this partition holds.
  std::string held;
  for (const auto& d : domains) {
    held += (held.empty() ? "" : ", ") + d.fingerprint.substr(0, 16);
    HSM_TRY_ASSIGN(std::string tag, portable::domain_tag(d.key, source.finish.archive_id));
    if (tag != source.domain_fingerprint) continue;
    HSM_TRY_ASSIGN(portable::Keys keys, portable::unwrap_keys(d.key, wrapped));
    // The MAC binds the header and the blob count to the domain: checked
    // before any blob is opened.
    HSM_TRY(portable::check_archive_mac(keys, source.finish, source.mac));
    archive_key_ = keys.seal;
    portable_ = portable::ArchiveState{std::move(keys), d.key};
    archive_source_ = source;
    archive_source_->domain_fingerprint = d.fingerprint;
    return {};
  }
  return Error{api::ErrorKind::integrity,
               "portable archive of domain tag " + source.domain_fingerprint.substr(0, 16) + " (from " +
                   source.source.address() + "), partition " + name_ + " holds " +
                   (held.empty() ? "no domain" : held) + ", none of them the archive's",
               "S1", "CKR_CERTIFICATE_INVALID",
               "restore into a partition of the archive's domain, or add that domain with `partition domain add`"};
}

}  // namespace hsm::luna
