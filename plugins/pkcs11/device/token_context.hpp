// What every verb of a registered token shares: its registration (the
// device folder), the token found again (T1) and one session, logged in
// once for the whole command (C_Logout would destroy the session objects
// that hold a backup's keys: token/session.hpp).
#pragma once

#include <filesystem>
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
  TokenContext(std::filesystem::path dir, Registration reg) : dir_(std::move(dir)), reg_(std::move(reg)) {}

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

  // What the token says, for device show and the rules.
  api::Result<api::DeviceDesc> device_desc();
  api::Result<api::Endpoint> endpoint();

 private:
  std::filesystem::path dir_;
  Registration reg_;
  std::optional<Token> token_;
  std::optional<Session> session_;
  bool logged_in_ = false;
};

// A backup in progress (backup_begin .. backup_finish).
struct BackupWork {
  std::unique_ptr<SessionObjects> keep;  // S and W, destroyed when the work ends
  TokenKeys keys;
  api::ArchiveId id{};
  std::vector<api::ArchiveObjectReport> refused;
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
