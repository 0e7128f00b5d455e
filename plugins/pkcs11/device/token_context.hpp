// What every verb of a registered token shares: its registration (the
// device folder), the token found again (T1) and one session, logged in
// once for the whole command (C_Logout would destroy the session objects
// that hold a backup's keys: token/session.hpp).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "plugins/api/backend.hpp"
#include "plugins/pkcs11/device/registration.hpp"
#include "plugins/pkcs11/device/token_portable.hpp"
#include "plugins/pkcs11/token/session.hpp"
#include "plugins/pkcs11/token/token.hpp"

namespace hsm::p11::plugin {

class TokenContext {
 public:
  TokenContext(std::filesystem::path dir, Registration reg)
      : dir_(std::move(dir)), reg_(std::move(reg)) {}

  const std::filesystem::path& dir() const { return dir_; }
  const Registration& reg() const { return reg_; }
  Registration& reg() { return reg_; }
  api::Status save() const { return save_registration(dir_, reg_); }
  std::string address() const { return reg_.device + "/" + reg_.partition; }

  // The token (T1: label and serial) and a read-write session on it.
  api::Result<Session*> session();
  api::Status login(const api::SecretBytes& pin);
  bool logged_in() const { return logged_in_; }
  // Usage error naming the PIN paths when not logged in.
  api::Result<Session*> logged_in_session();

  // What the token says, for device show and the rules. object_count is
  // counted by searches, never by reading every object (SoftHSM2 pays a
  // file check per attribute read: a per-object read would cost as much as
  // the backup's own pass). With count = false it stays 0: the rules of a
  // pair with a token need the domains and the transport, not the count.
  api::Result<api::DeviceDesc> device_desc();
  api::Result<api::Endpoint> endpoint(bool count = true);

  // rule T4: the KEK of a domain on this token, searched for once per
  // context (SoftHSM2 scans every object per search). KEKs are token
  // objects, so their handles hold for the session; forget_keks() after a
  // domain is added or deleted.
  api::Result<CK_OBJECT_HANDLE> kek(const std::string& fingerprint);
  // The primary domain's KEK, or CK_INVALID_HANDLE when the token has none.
  api::Result<CK_OBJECT_HANDLE> primary_kek();
  void forget_keks() { keks_.clear(); }

 private:
  std::filesystem::path dir_;
  Registration reg_;
  std::optional<Token> token_;
  std::optional<Session> session_;
  bool logged_in_ = false;
  std::map<std::string, CK_OBJECT_HANDLE> keks_;  // by domain fingerprint
};

// A backup in progress (backup_begin .. backup_finish).
struct BackupWork {
  std::unique_ptr<SessionObjects> keep;  // S and W, destroyed when the work ends
  TokenKeys keys;
  api::ArchiveId id{};
  api::Endpoint source;  // as backup_begin described it (the rules' view)
  // The token's objects found once by backup_begin (hsm-migrate's own
  // included: backup_seal leaves them out as it reads each): one search per
  // backup, as SoftHSM2 scans every object per search.
  std::vector<CK_OBJECT_HANDLE> objects;
  std::vector<api::ArchiveObjectReport> refused;
  // The identity private keys backup_seal read among `objects`: with
  // exactly one, backup_finish signs with it instead of searching the token
  // again; otherwise its search finds what is wrong and says so.
  std::vector<CK_OBJECT_HANDLE> identities;
};

// A restore in progress (restore_begin .. restore_blobs).
struct RestoreWork {
  std::unique_ptr<SessionObjects> keep;
  TokenKeys keys;
  CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE;  // the archive's domain on this token
  api::ArchiveSource source;
  std::string domain;  // its fingerprint
};

// A KWP clone offer this token made (target side).
struct CloneOfferState {
  api::Bytes offer_blob;
  std::set<api::Bytes> seen_sessions;  // no replay
  // Content fingerprints of this token's objects under each domain, kept
  // across the batches of one clone (computing them costs a wrap each).
  std::map<std::string, std::set<std::string>> held;
};

}  // namespace hsm::p11::plugin
