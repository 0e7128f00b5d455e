// Archives as operations: the `backup`, `restore`, `verify` and `drill`
// commands and `plan run` all call these, so a plan step does exactly what the
// command does. Nothing here prints: the command prints the returned document
// (fields in man/hsm-migrate.1) and progress goes through a callback.
//
// The tool only frames: the source partition seals every blob and signs the
// archive with its HOK (api::Partition backup_* verbs); the target partition
// opens and checks them (restore_* verbs). No key material crosses here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "tool/context.hpp"
#include "tool/repo_s3.hpp"

namespace hsm::tool {

// Progress of a long operation: `done` of `total` (total 0 = unknown).
// `phase` is a short word ("seal", "verify", "restore", "drill").
using ArchiveProgress = std::function<void(std::string_view phase, std::uint64_t done, std::uint64_t total)>;

struct ArchiveOutcome {
  json doc;                          // the report (fields in man/hsm-migrate.1)
  std::size_t refused_or_failed = 0; // objects refused by a rule (restore) or failed (drill)
  std::string notice;                // one line for stderr (e.g. a stale lock taken over), may be empty
  bool unauthenticated = false;      // verify --any-root: the root is not trusted
};

struct BackupRequest {
  Address source;
  // A path or s3://BUCKET/KEY; may hold a strftime template, expanded in
  // UTC. s3://BUCKET/PREFIX/ (ending in '/') names the object by the
  // repository layout (tool/repo_s3.hpp).
  std::string archive;
  RepoOptions repo;
  std::string selector = "all";    // which objects (a label, #handle, id:HEX, all)
  bool force = false;              // overwrite an existing archive
  // Drawn by the caller (plan run journals it first); drawn here when unset.
  std::optional<std::array<std::uint8_t, 16>> archive_id;
  int wait_seconds = 0;            // wait for the partition lock (0: busy -> exit 5 at once)
  // The portable form (plugins/pkcs11/portable-form.md), which PKCS#11
  // tokens also open; a token writes it always.
  bool portable = false;
  ArchiveProgress progress;
};

enum class RestoreMode { add, replace };

struct RestoreRequest {
  std::string archive;             // a path, s3://BUCKET/KEY, or a prefix (its newest archive)
  RepoOptions repo;
  std::vector<std::string> trusted_roots;  // --trusted-root FILEs (tool/trust.hpp)
  Address target;
  RestoreMode mode = RestoreMode::add;
  std::string selector = "all";    // which archived objects: label, #handle (source), id:HEX, all
  bool dry_run = false;            // judge, open and count as the restore would; keep nothing
  int wait_seconds = 0;
  ArchiveProgress progress;
};

struct VerifyRequest {
  std::string archive;             // a path, s3://BUCKET/KEY, or a prefix (its newest archive)
  RepoOptions repo;
  std::optional<Address> deep_with;  // --deep --with DEV/PART: that partition opens every blob
  std::vector<std::string> trusted_roots;  // --trusted-root FILEs (tool/trust.hpp)
  // --any-root: check structure, chain and signature without pinning the
  // root; the report then says "authenticated": false unless the root
  // happens to be trusted.
  bool any_root = false;
  ArchiveProgress progress;
};

struct DrillRequest {
  std::string archive;             // a path, s3://BUCKET/KEY, or a prefix (its newest archive)
  RepoOptions repo;
  std::vector<std::string> trusted_roots;  // --trusted-root FILEs (tool/trust.hpp)
  Address scratch;
  int wait_seconds = 0;
  ArchiveProgress progress;
};

struct ShowRequest {
  std::string archive;  // a path, s3://BUCKET/KEY, or a prefix (its newest archive)
  RepoOptions repo;
  std::vector<std::string> trusted_roots;
  bool any_root = false;             // show an archive of an untrusted root (said so)
  std::optional<Address> with;       // a partition of the domain opens the blobs (writes nothing)
  ArchiveProgress progress;
};

// Expands a strftime template (UTC) in an archive path; a path without '%'
// comes back unchanged. Errors: usage (empty result).
api::Result<std::string> expand_archive_path(const std::string& templ, std::int64_t unix_seconds);

// Errors: usage (bad path, archive exists without force, selector matches
// nothing), refused (pair rules), busy (lock), integrity, other.
api::Result<ArchiveOutcome> run_backup(Context& ctx, const BackupRequest& req);
// Errors: usage (not an archive, future version), refused (S1: archive of
// another domain), integrity (nothing written), busy, other. Per-object
// refusals are counted in refused_or_failed and listed in doc["refused"].
api::Result<ArchiveOutcome> run_restore(Context& ctx, const RestoreRequest& req);
// Errors: usage (not an archive, future version), integrity (with the
// failure's own message; an untrusted root unless any_root), refused (deep:
// S1), other. With any_root and an untrusted root the outcome's
// `unauthenticated` is set: the command decides the exit code.
api::Result<ArchiveOutcome> run_verify(Context& ctx, const VerifyRequest& req);
// archive show: the header, the trailer's facts, and one line per record.
// Without `with`, a record shows only what the format keeps in the clear:
// handle, label, blob type, sealed size. The object's class, key type, size,
// CKA_ID and fingerprint travel sealed: with `with`, that partition (of the
// archive's domain) opens every blob through the restore verbs in `open`
// mode, writing nothing, and reports them. No secret is ever shown.
// Errors: as verify (integrity; refused S1 for a partition of another domain).
api::Result<ArchiveOutcome> run_archive_show(Context& ctx, const ShowRequest& req);
// Restores into the scratch partition, uses every key, removes what it
// restored. refused_or_failed = objects that failed; the command exits 4 then.
api::Result<ArchiveOutcome> run_drill(Context& ctx, const DrillRequest& req);

}  // namespace hsm::tool
