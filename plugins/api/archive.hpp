// The archive part of the plugin interface (formats/archive-format.md): what
// a source partition produces for an archive and what a target partition is
// given to open one. The tool frames (formats/); the devices seal, sign, MAC,
// open and judge. No key material crosses this interface.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "plugins/api/status.hpp"
#include "plugins/api/types.hpp"

namespace hsm::api {

using ArchiveId = std::array<std::uint8_t, 16>;
using Digest32 = std::array<std::uint8_t, 32>;

// Source side, step 1. The tool draws the archive id (random) and says which
// format version it frames; the device binds its domain material to the id.
struct ArchiveBeginRequest {
  ArchiveId archive_id{};
  std::uint32_t format_version = 2;
  // The portable form (plugins/pkcs11/portable-form.md), which PKCS#11
  // tokens and emulated Luna partitions both open: an emulated Luna writes it
  // only when asked (`backup --portable`); a token always writes it.
  bool portable = false;
};
struct ArchiveBegin {
  Endpoint source;                  // device and partition, for the header
  // v1: hex of the partition's primary domain fingerprint. v2: hex of the
  // per-archive domain tag (archive-format.md, "Domain tag").
  std::string domain_fingerprint;
  Bytes wrapped_master_key;         // the archive master key, wrapped for that domain
  std::vector<Bytes> certificates;  // DER: [HOK certificate, ..., root certificate]
};

// Source side, step 2: blob types as archive_format.hpp's BlobType (1 object,
// 2 sim4, 3 smk); the tool hands the associated data of each position.
using ArchiveAdFor = std::function<Bytes(std::uint64_t handle, std::uint8_t type)>;
using ArchiveSink = std::function<Status(const ObjectDesc& desc, std::uint8_t type, const Bytes& sealed)>;

// Source side, step 3: what the device signs and MACs once the blobs and the
// index are written (archive-format.md, "Trailer" and "Archive MAC").
struct ArchiveFinish {
  ArchiveId archive_id{};
  std::uint64_t blob_count = 0;
  Digest32 header_digest{};
  Digest32 archive_digest{};  // the HOK signs these 32 bytes
};
struct ArchiveSeal {
  Bytes signature;  // 64 bytes: Ed25519, or ECDSA P-256 r || s (v2)
  Bytes mac;        // v2: 28 bytes (GCM nonce || tag); empty for v1
};

// The message the archive MAC authenticates (format version 2), 100 bytes:
//   "HSMAR-MAC-v2" || archive_id (16) || u64le blob_count || header_digest (32)
//   || archive_digest (32)
// A device builds it from the fields it is given, both when it seals and when
// it opens, so a host cannot make it authenticate anything else.
Bytes archive_mac_message(const ArchiveFinish& f);

// Target side: the archive as its verified header and trailer describe it.
struct ArchiveSource {
  std::uint32_t format_version = 2;
  Endpoint source;                 // rebuilt from the header (no policies, one domain)
  std::string domain_fingerprint;  // hex: v1 fingerprint, v2 domain tag
  Bytes wrapped_master_key;
  // v2: the MAC and what it covers. The device checks the MAC once it holds
  // the master key, and refuses to commit unless it was given exactly
  // `finish.blob_count` blobs. Empty for v1 (less protected).
  ArchiveFinish finish;
  Bytes mac;
};

// Streams the archive's blobs (verified) to the visitor, in order.
struct ArchiveBlob {
  std::uint64_t handle = 0;  // the source's handle, as recorded
  std::uint8_t type = 1;
  Bytes associated_data;     // as the archive format defines it for this position
  const Bytes* sealed = nullptr;
};
using ArchiveBlobVisitor = std::function<Status(const ArchiveBlob&)>;
using ArchiveBlobSource = std::function<Status(const ArchiveBlobVisitor&)>;

enum class ArchiveRestoreMode {
  add,      // add the archive's objects, keep the partition's (lunacm -add)
  replace,  // delete the partition's objects first, then restore (lunacm -replace);
            // all or nothing (X4): any refusal deletes nothing and writes nothing
  open,     // open and check every blob, write nothing (verify --deep)
  drill,    // restore, use every key against its backup-time check, then roll back
};
// Whether an archived object is one `selector` names: "all" (or ""), a
// label, "#N" (its handle in the source when it was archived) or "id:HEX".
// One meaning for every backend.
inline bool archive_selects_all(std::string_view selector) { return selector.empty() || selector == "all"; }
inline bool archive_selects(std::string_view selector, const ObjectDesc& d) {
  if (archive_selects_all(selector)) return true;
  if (selector.starts_with("#")) return selector.substr(1) == std::to_string(d.handle);
  if (selector.starts_with("id:")) return d.id_hex == selector.substr(3);
  return d.label == selector;
}
// A restore whose selector names no archived object writes nothing and says
// so (as a backup with such a selector does): a typo must not pass as an
// empty success, nor let --replace empty the target.
inline Error nothing_selected(std::string_view selector) {
  return Error::usage("no archived object matches --objects " + std::string(selector) + "; nothing was written",
                      "`hsm-migrate archive show ARCHIVE` lists the archive's labels and handles");
}

struct ArchiveRestoreOptions {
  ArchiveRestoreMode mode = ArchiveRestoreMode::add;
  std::string selector = "all";  // a label, #handle (source), id:HEX, or all
  // add/replace (restore --dry-run): every object judged, opened and found
  // present or not as the real restore would, then nothing kept: counts say
  // what the restore would do ("created" = would be created; "deleted" =
  // would be deleted first).
  bool dry_run = false;
  ClientDesc client;
};
struct ArchiveObjectReport {
  ObjectDesc object;                // as archived (handle = the source's)
  std::uint64_t target_handle = 0;  // where it is (or was, for a drill) in the partition
  // "created", "already_present", "refused", "opened", "passed", "failed", "skipped"
  std::string status;
  Verdict verdict;                  // for "refused"
  std::string detail;               // drill: what was checked, or why it failed
};
struct ArchiveRestoreCounts {
  std::uint64_t blobs = 0, opened = 0, created = 0, already_present = 0, refused = 0, deleted = 0,
                passed = 0, failed = 0, skipped = 0;
  // replace (X4): some object would be refused, so nothing was deleted or
  // written; `created` and `deleted` are then 0 and `refused` says why.
  bool replace_blocked = false;
  // v2: the archive MAC verified under the domain (false for version 1).
  bool mac_verified = false;
};
using ArchiveReport = std::function<void(const ArchiveObjectReport&)>;

}  // namespace hsm::api
