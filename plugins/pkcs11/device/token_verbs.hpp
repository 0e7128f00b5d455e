// The verbs of a token partition, as functions over its TokenContext (the
// plugin's classes, plugin.cpp, stay thin and private): archives
// (token_archive.cpp, token_restore.cpp), KWP clones (token_clone.cpp), and
// keys (token_keys.cpp).
#pragma once

#include "plugins/api/backend.hpp"
#include "plugins/pkcs11/device/token_context.hpp"

namespace hsm::p11::plugin {

// ---- archives (portable form) ----
api::Result<api::ArchiveBegin> backup_begin(TokenContext& ctx, BackupWork& w, const api::ArchiveBeginRequest& req);
api::Result<std::uint64_t> backup_seal(TokenContext& ctx, BackupWork& w, std::string_view selector,
                                       const api::ArchiveAdFor& ad_for, const api::ArchiveSink& sink);
api::Result<api::ArchiveSeal> backup_finish(TokenContext& ctx, BackupWork& w, const api::ArchiveFinish& finish);
api::Status restore_begin(TokenContext& ctx, RestoreWork& w, const api::ArchiveSource& source);
api::Result<api::ArchiveRestoreCounts> restore_blobs(TokenContext& ctx, RestoreWork& w,
                                                     const api::ArchiveBlobSource& blobs,
                                                     const api::ArchiveRestoreOptions& options,
                                                     const api::ArchiveReport& report);

// ---- KWP clones ----
api::Result<api::CloneOffer> clone_offer(TokenContext& ctx, std::optional<CloneOfferState>& state,
                                         const api::Endpoint& source, const api::ClientDesc& client);
api::Result<api::CloneOutResult> clone_out(TokenContext& ctx, const api::CloneOffer& offer,
                                           const api::Endpoint& target, const std::vector<std::uint64_t>& handles,
                                           const api::ClientDesc& client);
api::Result<api::CloneInResult> clone_in(TokenContext& ctx, std::optional<CloneOfferState>& state,
                                         const api::Endpoint& source, const api::CloneMessages& messages,
                                         const api::ClientDesc& client, api::CloneInMode mode);

// ---- objects and keys ----
api::Status for_each_object(TokenContext& ctx, const std::function<bool(const api::ObjectDesc&)>& visit);
api::Result<std::vector<api::ObjectDesc>> find_objects(TokenContext& ctx, std::string_view selector);
api::Result<api::KeyGenResult> generate_keys(TokenContext& ctx, const api::KeyGenRequest& req);
api::Result<api::Bytes> sign(TokenContext& ctx, std::uint64_t handle, const api::Bytes& data);
api::Result<bool> verify(TokenContext& ctx, std::uint64_t handle, const api::Bytes& data, const api::Bytes& sig);
api::Result<api::Bytes> encrypt(TokenContext& ctx, std::uint64_t handle, const api::Bytes& plaintext);
api::Result<api::Bytes> decrypt(TokenContext& ctx, std::uint64_t handle, const api::Bytes& ciphertext);

// ---- shared by restore and clone_in ----
// The content fingerprints of the token's own objects under the domain KEK
// `kek` (token_objects.hpp, fingerprint_of).
api::Result<std::set<std::string>> held_fingerprints(Session& s, CK_OBJECT_HANDLE kek);
// The fingerprint of a record as this token will hold it: from its public
// key, else the key unwrapped as a session object and wrapped under `kek`.
api::Result<std::string> record_fingerprint(Session& s, const portable::Record& r, CK_OBJECT_HANDLE wrap_key,
                                            CK_OBJECT_HANDLE kek);
// Removes every object of the token but hsm-migrate's own (restore and
// clone --replace); returns how many.
api::Result<std::uint64_t> delete_user_objects(Session& s);

}  // namespace hsm::p11::plugin
