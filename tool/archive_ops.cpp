// backup / restore / verify / drill as operations (see archive_ops.hpp).
// The tool frames (formats/archive_*.hpp) and carries; the partitions seal,
// sign, open and judge (api::Partition archive verbs).
#include "tool/archive_ops.hpp"

#include <chrono>
#include <ctime>
#include <sys/stat.h>

#include <fstream>
#include <map>

#include "formats/archive_reader.hpp"
#include "plugins/api/crash_point.hpp"
#include "formats/archive_writer.hpp"
#include "formats/repo/s3/archive_upload.hpp"
#include "tool/display.hpp"
#include "tool/lock.hpp"
#include "tool/trust.hpp"

namespace hsm::tool {
namespace {

using api::Error;
using api::Result;
using api::Status;
namespace fs = std::filesystem;

constexpr std::size_t kListLimit = 10000;  // objects listed one by one in a report

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// What the target device is given: the header as verified, and (format 2)
// the MAC with everything it covers, all read from the verified archive.
Result<api::ArchiveSource> source_of(const formats::VerifyReport& r) {
  const formats::ArchiveHeader& h = r.header;
  api::ArchiveSource s;
  s.format_version = h.format_version;
  s.source.device.name = h.source_device;
  auto kind = api::parse_device_kind(h.device_kind);
  auto fw = api::Version::parse(h.firmware);
  auto fm = api::parse_fm_state(h.fm_class);
  auto type = api::parse_partition_type(h.partition_type);
  if (!kind || !fw || !fm || !type)
    return Error::integrity("the archive header names an unknown device kind, firmware, FM class or "
                            "partition type (\"" + h.device_kind + "\", \"" + h.firmware + "\", \"" +
                            h.fm_class + "\", \"" + h.partition_type + "\")");
  s.source.device.kind = *kind;
  s.source.device.firmware = *fw;
  s.source.device.fm = *fm;
  s.source.partition.name = h.partition_name;
  s.source.partition.type = *type;
  s.domain_fingerprint = formats::to_hex(h.domain_fingerprint);
  s.wrapped_master_key = h.wrapped_master_key;
  s.finish.archive_id = h.archive_id;
  s.finish.blob_count = r.blobs_checked;
  s.finish.header_digest = h.header_digest;
  s.finish.archive_digest = r.archive_digest;
  s.mac = r.archive_mac;
  return s;
}

// The label in the clear part of a record (a description: the object's own
// label travels sealed, byte for byte). The format takes 255 bytes of UTF-8:
// a longer label or one that is not UTF-8 (made before labels were checked,
// or by another tool) is shown escaped and cut at a character boundary, so
// such a partition still backs up.
std::string record_label(const std::string& label) {
  std::string s = is_valid_utf8(label) ? label : json_safe(label);
  if (s.size() <= formats::kMaxString) return s;
  std::size_t n = formats::kMaxString - 3;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // not inside a character
  return s.substr(0, n) + "...";
}

// The sentence a restore, drill or deep verify of a version 1 archive adds.
constexpr const char* kV1Notice =
    "archive format version 1: its header and blob count are not bound to the domain key, so it is less "
    "protected than a version 2 archive (authenticity rests on the signature alone); back up again to get one";

json header_json(const formats::ArchiveHeader& h) {
  return json{{"format_version", h.format_version},
              {"archive_id", formats::to_hex(h.archive_id)},
              {"created_at", h.created_at},
              {"source", h.source_device + "/" + h.partition_name},
              {"scope", std::string(formats::to_string(h.scope))},
              {"selector", h.selector},
              {"device_kind", h.device_kind},
              {"firmware", h.firmware},
              {"fm_class", h.fm_class},
              {"partition_type", h.partition_type},
              {"domain_fingerprint", formats::to_hex(h.domain_fingerprint)}};
}

json object_json(const api::ArchiveObjectReport& r) {
  json j{{"handle", r.object.handle},   {"label", json_safe(r.object.label)},
         {"class", api::to_string(r.object.cls)}, {"fingerprint", r.object.fingerprint},
         {"status", r.status}};
  if (r.target_handle) j["target_handle"] = r.target_handle;
  if (r.status == "refused") {
    j["rule"] = r.verdict.rule;
    j["code"] = r.verdict.code;
    j["message"] = r.verdict.message;
    if (!r.verdict.fix.empty()) j["fix"] = r.verdict.fix;
  }
  if (!r.detail.empty()) j["detail"] = r.detail;
  return j;
}

json counts_json(const api::ArchiveRestoreCounts& c) {
  return json{{"blobs", c.blobs},       {"opened", c.opened},   {"created", c.created},
              {"already_present", c.already_present}, {"refused", c.refused}, {"deleted", c.deleted},
              {"passed", c.passed},     {"failed", c.failed},   {"skipped", c.skipped}};
}

// Opens and logs in to a partition under its lock.
struct Held {
  std::optional<PartitionLock> lock;  // (move-assignment is deleted)
  std::unique_ptr<api::Partition> part;
  std::string notice;
};

Result<Held> hold(Context& ctx, const Address& a, const std::string& command, int wait_seconds) {
  Held h;
  auto lock = PartitionLock::acquire(ctx.fleet->home(), a.device, a.partition, command, wait_seconds);
  if (!lock.ok()) return lock.error();
  h.lock.emplace(std::move(*lock));
  h.notice = h.lock->took_over();
  HSM_TRY_ASSIGN(h.part, ctx.fleet->open_partition(a));
  HSM_TRY(ctx.login(*h.part, a));
  return h;
}

// An archive opened and verified against the trusted roots (the fleet's,
// HOME/trust/, --trusted-root): a file, or an S3 object read with ranged
// GETs. Errors: integrity for an untrusted root (unless any_root).
struct Reading {
  OpenedArchive opened;  // the bytes: must outlive `archive`
  std::unique_ptr<formats::VerifiedArchive> archive;
  std::vector<TrustedRoot> roots;
};

Result<Reading> open_verified(Context& ctx, const RepoOptions& repo, const std::string& path,
                              const std::vector<std::string>& extra_roots, bool any_root, bool two_passes) {
  Reading r;
  HSM_TRY_ASSIGN(r.roots, trusted_roots(ctx.fleet->home(), extra_roots));
  formats::VerifyOptions vopt;
  vopt.trusted_roots = digests_of(r.roots);
  vopt.any_root = any_root;
  HSM_TRY_ASSIGN(r.opened, open_archive(repo, path, two_passes));
  HSM_TRY_ASSIGN(r.archive, formats::VerifiedArchive::open(r.opened.reader(), vopt));
  return r;
}

// The S3 object read (bucket, key, version, requests, bytes fetched), when
// the archive came from a bucket.
void add_location(json& doc, Reading& r) {
  if (r.opened.location.is_null()) return;
  r.opened.note_traffic();
  doc["s3"] = r.opened.location;
}

// Runs one of restore_blobs' modes over a verified archive: the device first
// gets the header and (format 2) the MAC with what it covers, then the blobs.
Result<api::ArchiveRestoreCounts> restore_from(Context& ctx, api::Partition& part,
                                               const formats::VerifiedArchive& archive,
                                               api::ArchiveRestoreMode mode, const std::string& selector,
                                               const ArchiveProgress& progress, std::string_view phase,
                                               const std::function<void(const api::ArchiveObjectReport&)>& rep,
                                               bool dry_run = false) {
  const formats::ArchiveHeader& header = archive.report().header;
  HSM_TRY_ASSIGN(api::ArchiveSource src, source_of(archive.report()));
  HSM_TRY(part.restore_begin(src));
  api::ArchiveRestoreOptions opt;
  opt.mode = mode;
  opt.selector = selector;
  opt.dry_run = dry_run;
  opt.client = ctx.client;
  std::uint64_t done = 0;
  const std::uint64_t total = archive.report().blobs_checked;
  auto blobs = [&](const api::ArchiveBlobVisitor& visit) -> Status {
    return archive.for_each_blob([&](const formats::BlobRecord& r) -> Status {
      api::ArchiveBlob b;
      b.handle = r.handle;
      b.type = static_cast<std::uint8_t>(r.type);
      b.associated_data = formats::blob_associated_data(header.archive_id, r.index, r.handle, b.type);
      b.sealed = &r.sealed;
      HSM_TRY(visit(b));
      if (progress && (++done % 1024 == 0 || done == total)) progress(phase, done, total);
      return {};
    });
  };
  return part.restore_blobs(blobs, opt, rep);
}

}  // namespace

Result<std::string> expand_archive_path(const std::string& templ, std::int64_t unix_seconds) {
  if (templ.empty()) return Error::usage("an empty archive path", "give --archive PATH");
  if (templ.find('%') == std::string::npos) return templ;
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::string out(templ.size() + 256, '\0');
  const std::size_t n = std::strftime(out.data(), out.size(), templ.c_str(), &tm);
  if (n == 0) return Error::usage("the archive path template \"" + templ + "\" expands to nothing");
  out.resize(n);
  return out;
}

// A destination that exists must be a regular file: --force replaces an old
// archive, never a FIFO, a device node (as root, /dev/null) or a folder.
Status check_destination(const std::string& path, bool force) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};  // absent: fine
  if (!S_ISREG(st.st_mode))
    return Error::usage("archive destination " + path + " exists and is not a regular file (" +
                            (S_ISDIR(st.st_mode)    ? "a folder"
                             : S_ISFIFO(st.st_mode) ? "a FIFO"
                             : S_ISLNK(st.st_mode)  ? "a symbolic link"
                             : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device node"
                                                                           : "a special file") +
                            "); it is never replaced, even with --force",
                        "give the path of a new archive file");
  if (!force)
    return Error::usage("archive " + path + " exists; it is never overwritten without --force",
                        "pass --force to replace it, or choose another path");
  return {};
}

namespace {

// Where a backup writes: a file (created with the writer) or an S3 upload
// opened now, before the partition is locked, so wrong credentials or a
// missing bucket fail before the device seals anything.
struct BackupTarget {
  std::string path;                          // a file, when not S3
  std::unique_ptr<repo::s3::Client> client;  // S3: outlives `upload`
  std::unique_ptr<repo::s3::ArchiveUpload> upload;
  repo::s3::ArchiveUpload* upload_view = nullptr;  // stays valid inside the writer
};

Result<BackupTarget> backup_target(const BackupRequest& req, const formats::ArchiveId& id, std::int64_t now) {
  BackupTarget t;
  HSM_TRY_ASSIGN(std::string expanded, expand_archive_path(req.archive, now));
  if (!is_s3(expanded)) {
    HSM_TRY(check_destination(expanded, req.force));
    t.path = expanded;
    return t;
  }
  HSM_TRY_ASSIGN(repo::s3::S3Address a, repo::s3::parse_s3_address(expanded));
  HSM_TRY_ASSIGN(t.client, open_s3_client(req.repo));
  if (is_repository_prefix(a)) {
    // The layout: the random archive id keeps N hosts' keys apart.
    repo::ArchiveKey k;
    k.device = req.source.device;
    k.partition = req.source.partition;
    k.created_at = now;
    k.archive_id = id;
    HSM_TRY_ASSIGN(a.key, repo::archive_key(a.key, k));
  } else {
    auto head = t.client->head_object(a.bucket, a.key);
    if (head.ok() && !req.force)
      return Error::usage("archive " + a.to_string() + " exists; it is never overwritten without --force",
                          "pass --force to add a new version of it, or give a prefix ending in '/' to name "
                          "archives by the repository layout");
    if (!head.ok() && head.error().code != "NoSuchKey" && head.error().code != "NotFound") return head.error();
  }
  HSM_TRY_ASSIGN(repo::s3::UploadSinkOptions uo, upload_options_from_env());
  HSM_TRY_ASSIGN(auto sink, repo::s3::UploadSink::open(*t.client, a.bucket, a.key, uo));
  t.upload = std::make_unique<repo::s3::ArchiveUpload>(std::move(sink), a.to_string());
  t.upload_view = t.upload.get();
  return t;
}

std::filesystem::path scratch_folder() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

json upload_json(const repo::s3::UploadSummary& u) {
  json j{{"bucket", u.bucket},   {"key", u.key},         {"version_id", u.version_id},
         {"size", u.size},       {"etag", u.etag},       {"sha256", u.sha256},
         {"parts", u.parts},     {"read_back", "size and ETag (MD5 of the parts) match the bytes sent"}};
  if (u.retention)
    j["retention"] = json{{"mode", std::string(repo::s3::to_string(u.retention->mode))},
                          {"until", repo::s3::iso8601(u.retention->retain_until)}};
  else
    j["retention"] = nullptr;
  return j;
}

}  // namespace

Result<ArchiveOutcome> run_backup(Context& ctx, const BackupRequest& req) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  // The tool draws the archive id so the device can bind its domain
  // material to it before the header is written (format 2); an S3 key of
  // the layout names it too.
  formats::ArchiveId id{};
  if (req.archive_id) {
    id = *req.archive_id;
  } else {
    HSM_TRY_ASSIGN(id, formats::new_archive_id());
  }
  HSM_TRY_ASSIGN(BackupTarget target, backup_target(req, id, now));
  HSM_TRY_ASSIGN(Held h, hold(ctx, req.source, "backup", req.wait_seconds));
  api::ArchiveBeginRequest breq;
  breq.archive_id = id;
  breq.format_version = formats::kFormatVersion;
  breq.portable = req.portable;
  HSM_TRY_ASSIGN(api::ArchiveBegin begin, h.part->backup_begin(breq));

  formats::ArchiveHeader header;
  header.archive_id = id;
  header.created_at = now;
  header.source_device = begin.source.device.name;
  header.device_kind = std::string(api::to_string(begin.source.device.kind));
  header.firmware = begin.source.device.firmware.str();
  header.fm_class = std::string(api::to_string(begin.source.device.fm));
  header.partition_name = begin.source.partition.name;
  header.partition_type = std::string(api::to_string(begin.source.partition.type));
  const bool complete = req.selector.empty() || req.selector == "all";
  header.scope = complete ? formats::ArchiveScope::complete : formats::ArchiveScope::subset;
  header.selector = complete ? "" : req.selector;
  const auto fp = formats::digest_from_hex(begin.domain_fingerprint);
  if (!fp) return Error::other("the device gave a domain tag that is not 32 bytes of hex");
  header.domain_fingerprint = *fp;
  header.wrapped_master_key = std::move(begin.wrapped_master_key);
  header.certificates = std::move(begin.certificates);

  api::Partition& part = *h.part;
  formats::ArchiveWriterOptions wopt;
  wopt.overwrite = req.force;
  wopt.identity_given = true;
  auto sealer = [&part](const api::ArchiveFinish& f) { return part.backup_finish(f); };
  std::unique_ptr<formats::ArchiveWriter> writer;
  if (target.upload) {
    // Index scratch in TMPDIR; the upload completes only after the trailer.
    HSM_TRY_ASSIGN(writer, formats::ArchiveWriter::create(std::move(target.upload), scratch_folder(),
                                                          std::move(header), sealer, wopt));
  } else {
    HSM_TRY_ASSIGN(writer, formats::ArchiveWriter::create(target.path, std::move(header), sealer, wopt));
  }
  const std::uint64_t total = begin.source.partition.object_count;
  std::uint64_t objects = 0;
  auto ad_for = [&](std::uint64_t handle, std::uint8_t type) {
    return writer->next_associated_data(handle, static_cast<formats::BlobType>(type));
  };
  auto sink = [&](const api::ObjectDesc& d, std::uint8_t type, const api::Bytes& sealed) -> Status {
    HSM_TRY(writer->add_blob(d.handle, static_cast<formats::BlobType>(type), record_label(d.label), sealed));
    api::crash_point("backup-blob");
    if (type != static_cast<std::uint8_t>(formats::BlobType::smk)) ++objects;
    if (req.progress && objects % 1024 == 0) req.progress("seal", objects, total);
    return {};
  };
  HSM_TRY_ASSIGN(std::uint64_t blobs, h.part->backup_seal(req.selector, ad_for, sink));
  // Objects the source left out, each with its rule (a token: T2, T3).
  const std::vector<api::ArchiveObjectReport> left_out = h.part->backup_refused();
  if (objects == 0 && !left_out.empty()) {
    const api::Verdict& v = left_out.front().verdict;
    return Error::refused(v.rule, v.code, "every selected object was refused, nothing was written; first: " + v.message,
                          v.fix);
  }
  if (objects == 0)
    return Error::usage("no object of " + req.source.device + "/" + req.source.partition + " matches \"" +
                        req.selector + "\": an empty archive is never written");
  api::crash_point("backup-before-commit");
  HSM_TRY_ASSIGN(formats::WriteSummary sum, writer->commit());
  api::crash_point("after-write");
  if (req.progress) req.progress("seal", objects, objects);
  const double secs = seconds_since(t0);
  ArchiveOutcome out;
  out.notice = h.notice;
  out.doc = json{{"archive", sum.path.string()},
                 {"archive_id", formats::to_hex(sum.archive_id)},
                 {"format_version", formats::kFormatVersion},
                 {"source", req.source.device + "/" + req.source.partition},
                 {"scope", complete ? "complete" : "subset"},
                 {"domain_tag", formats::to_hex(*fp)},
                 {"blobs", blobs},
                 {"objects", objects},
                 {"sealed_bytes", sum.sealed_bytes},
                 {"file_bytes", sum.file_bytes},
                 {"archive_digest", formats::to_hex(sum.archive_digest)},
                 {"seconds", secs},
                 {"objects_per_second", secs > 0 ? static_cast<double>(objects) / secs : 0.0}};
  if (target.upload_view) {
    const auto& u = target.upload_view->summary();
    if (!u) return Error::other("the upload of " + sum.path.string() + " reported no summary");
    if (u->size != sum.file_bytes)
      return Error::integrity(sum.path.string() + " holds " + std::to_string(u->size) + " bytes, the archive is " +
                              std::to_string(sum.file_bytes));
    out.doc["s3"] = upload_json(*u);
    const auto& stats = target.client->http().stats();
    out.doc["s3"]["requests"] = stats.requests;
    out.doc["s3"]["retries"] = stats.retries;
    if (!stats.retry_log.empty()) out.doc["s3"]["retry_log"] = stats.retry_log;
  }
  if (!complete) out.doc["selector"] = req.selector;
  if (!out.notice.empty()) out.doc["lock_taken_over"] = out.notice;
  json refused = json::array();
  for (const auto& r : left_out) refused.push_back(object_json(r));
  out.doc["refused"] = std::move(refused);
  out.refused_or_failed = left_out.size();
  return out;
}

Result<ArchiveOutcome> run_restore(Context& ctx, const RestoreRequest& req) {
  const auto t0 = std::chrono::steady_clock::now();
  HSM_TRY_ASSIGN(Reading rd, open_verified(ctx, req.repo, req.archive, req.trusted_roots, false, true));
  const auto& archive = rd.archive;
  const formats::ArchiveHeader& header = archive->report().header;
  HSM_TRY_ASSIGN(Held h, hold(ctx, req.target, "restore", req.wait_seconds));
  ArchiveOutcome out;
  out.notice = h.notice;
  json created = json::array(), present = json::array(), refused = json::array();
  bool truncated = false;
  auto rep = [&](const api::ArchiveObjectReport& r) {
    if (r.status == "refused") refused.push_back(object_json(r));
    else if (r.status == "already_present" || r.status == "created") {
      // Lists stay bounded for million-object restores; the counts are exact.
      json& list = r.status == "created" ? created : present;
      if (list.size() < kListLimit) list.push_back(object_json(r));
      else truncated = true;
    }
  };
  const auto mode = req.mode == RestoreMode::replace ? api::ArchiveRestoreMode::replace : api::ArchiveRestoreMode::add;
  HSM_TRY_ASSIGN(api::ArchiveRestoreCounts c,
                 restore_from(ctx, *h.part, *archive, mode, req.selector, req.progress, "restore", rep, req.dry_run));
  api::crash_point("after-write");
  out.refused_or_failed = c.refused;
  if (c.replace_blocked) {
    // The device rolled back: what it reported as created was never kept.
    created = json::array();
    present = json::array();
    truncated = false;
  }
  out.doc = json{{"archive", rd.opened.name},
                 {"target", req.target.device + "/" + req.target.partition},
                 {"mode", req.mode == RestoreMode::replace ? "replace" : "add"},
                 {"dry_run", req.dry_run},
                 {"header", header_json(header)},
                 {"authenticated", true},
                 {"mac_verified", c.mac_verified}};
  out.doc["counts"] = counts_json(c);
  if (c.replace_blocked)
    out.doc["replace_blocked"] = "rule X4: with --replace every object must be restorable; " +
                                 std::to_string(c.refused) + " would be refused, so nothing was deleted or restored";
  out.doc["created"] = std::move(created);
  if (truncated) out.doc["lists_truncated"] = true;
  out.doc["already_present"] = std::move(present);
  out.doc["refused"] = std::move(refused);
  out.doc["seconds"] = seconds_since(t0);
  add_location(out.doc, rd);
  if (header.format_version == 1) out.doc["protection_notice"] = kV1Notice;
  if (!out.notice.empty()) out.doc["lock_taken_over"] = out.notice;
  return out;
}

Result<ArchiveOutcome> run_verify(Context& ctx, const VerifyRequest& req) {
  const auto t0 = std::chrono::steady_clock::now();
  // A deep verify reads the blobs a second time: spooled, not fetched twice.
  HSM_TRY_ASSIGN(Reading rd, open_verified(ctx, req.repo, req.archive, req.trusted_roots, req.any_root,
                                           req.deep_with.has_value()));
  const auto& archive = rd.archive;
  const std::vector<TrustedRoot>& roots = rd.roots;
  const formats::VerifyReport& r = archive->report();
  const double secs = seconds_since(t0);
  ArchiveOutcome out;
  out.unauthenticated = !r.root_trusted;
  out.doc = json{{"archive", rd.opened.name},
                 {"ok", r.root_trusted},
                 {"authenticated", r.root_trusted},
                 {"header", header_json(r.header)}};
  out.doc["blobs_checked"] = r.blobs_checked;
  out.doc["objects"] = r.objects;
  out.doc["sim4_blobs"] = r.sim4_blobs;
  out.doc["smk_blobs"] = r.smk_blobs;
  out.doc["sealed_bytes"] = r.sealed_bytes;
  out.doc["bytes_checked"] = r.bytes_checked;
  out.doc["archive_digest"] = formats::to_hex(r.archive_digest);
  out.doc["hok_subject"] = r.hok_subject;
  out.doc["root_subject"] = r.root_subject;
  out.doc["root_sha256"] = formats::to_hex(r.root_sha256);
  out.doc["root_trusted"] = r.root_trusted;
  for (const auto& t : roots)
    if (t.sha256 == r.root_sha256) out.doc["trusted_as"] = t.origin;
  // Format 2's MAC is checked only by a partition of the domain (--deep).
  out.doc["mac"] = r.header.format_version >= 2 ? (req.deep_with ? "verified" : "present; checked by --deep --with")
                                                : "none (format version 1)";
  if (r.header.format_version == 1) out.doc["protection_notice"] = kV1Notice;
  out.doc["seconds"] = secs;
  out.doc["mb_per_second"] = secs > 0 ? static_cast<double>(r.bytes_checked) / 1e6 / secs : 0.0;
  if (req.deep_with) {
    HSM_TRY_ASSIGN(auto part, ctx.fleet->open_partition(*req.deep_with));
    HSM_TRY(ctx.login(*part, *req.deep_with));
    json refused = json::array();
    auto rep = [&](const api::ArchiveObjectReport& o) {
      if (o.status == "refused") refused.push_back(object_json(o));
    };
    HSM_TRY_ASSIGN(api::ArchiveRestoreCounts c,
                   restore_from(ctx, *part, *archive, api::ArchiveRestoreMode::open, "all", req.progress, "open", rep));
    out.doc["deep"] = json{{"with", req.deep_with->device + "/" + req.deep_with->partition},
                           {"blobs_opened", c.opened},
                           {"mac_verified", c.mac_verified},
                           {"refused", std::move(refused)}};
    out.refused_or_failed = c.refused;
  }
  add_location(out.doc, rd);
  return out;
}

Result<ArchiveOutcome> run_drill(Context& ctx, const DrillRequest& req) {
  const auto t0 = std::chrono::steady_clock::now();
  HSM_TRY_ASSIGN(Reading rd, open_verified(ctx, req.repo, req.archive, req.trusted_roots, false, true));
  const auto& archive = rd.archive;
  const formats::ArchiveHeader& header = archive->report().header;
  HSM_TRY_ASSIGN(Held h, hold(ctx, req.scratch, "drill", req.wait_seconds));
  HSM_TRY_ASSIGN(api::Endpoint before, h.part->describe());
  ArchiveOutcome out;
  out.notice = h.notice;
  json objects = json::array();
  auto rep = [&](const api::ArchiveObjectReport& r) { objects.push_back(object_json(r)); };
  HSM_TRY_ASSIGN(api::ArchiveRestoreCounts c,
                 restore_from(ctx, *h.part, *archive, api::ArchiveRestoreMode::drill, "all", req.progress, "drill", rep));
  HSM_TRY_ASSIGN(api::Endpoint after, h.part->describe());
  out.refused_or_failed = c.failed + c.refused;
  out.doc = json{{"archive", rd.opened.name},
                 {"scratch", req.scratch.device + "/" + req.scratch.partition},
                 {"header", header_json(header)},
                 {"ok", out.refused_or_failed == 0},
                 {"authenticated", true},
                 {"mac_verified", c.mac_verified}};
  out.doc["counts"] = counts_json(c);
  out.doc["objects"] = std::move(objects);
  out.doc["scratch_objects_before"] = before.partition.object_count;
  out.doc["scratch_objects_after"] = after.partition.object_count;
  out.doc["seconds"] = seconds_since(t0);
  add_location(out.doc, rd);
  if (header.format_version == 1) out.doc["protection_notice"] = kV1Notice;
  if (before.partition.object_count != after.partition.object_count)
    return Error::integrity("drill: the scratch partition held " + std::to_string(before.partition.object_count) +
                            " object(s) before and " + std::to_string(after.partition.object_count) +
                            " after: the drill did not clean up");
  return out;
}

Result<ArchiveOutcome> run_archive_show(Context& ctx, const ShowRequest& req) {
  const auto t0 = std::chrono::steady_clock::now();
  HSM_TRY_ASSIGN(Reading rd, open_verified(ctx, req.repo, req.archive, req.trusted_roots, req.any_root, true));
  const formats::VerifyReport& r = rd.archive->report();
  ArchiveOutcome out;
  out.unauthenticated = !r.root_trusted;
  out.doc = json{{"archive", rd.opened.name},
                 {"authenticated", r.root_trusted},
                 {"header", header_json(r.header)},
                 {"blobs", r.blobs_checked},
                 {"objects", r.objects},
                 {"sealed_bytes", r.sealed_bytes},
                 {"file_bytes", r.bytes_checked},
                 {"archive_digest", formats::to_hex(r.archive_digest)},
                 {"hok_subject", r.hok_subject},
                 {"root_subject", r.root_subject},
                 {"root_sha256", formats::to_hex(r.root_sha256)}};
  for (const auto& t : rd.roots)
    if (t.sha256 == r.root_sha256) out.doc["trusted_as"] = t.origin;
  // What the format keeps in the clear (archive-format.md, "Records").
  json records = json::array();
  std::map<std::uint64_t, std::size_t> by_handle;  // object records, by source handle
  HSM_TRY(rd.archive->for_each_blob([&](const formats::BlobRecord& b) -> Status {
    json j{{"index", b.index},
           {"handle", b.handle},
           {"label", json_safe(b.label)},
           {"blob_type", std::string(formats::to_string(b.type))},
           {"sealed_bytes", b.sealed.size()}};
    if (b.type == formats::BlobType::object) by_handle[b.handle] = records.size();
    records.push_back(std::move(j));
    return {};
  }));
  if (req.with) {
    if (!r.root_trusted)
      return Error{api::ErrorKind::integrity,
                   rd.opened.name + " is not authenticated (root " + formats::to_hex(r.root_sha256) +
                       " is not trusted here): its blobs are not handed to a partition",
                   {}, {}, "trust the root with --trusted-root FILE or HOME/trust/"};
    HSM_TRY_ASSIGN(auto part, ctx.fleet->open_partition(*req.with));
    HSM_TRY(ctx.login(*part, *req.with));
    json refused = json::array();
    auto rep = [&](const api::ArchiveObjectReport& o) {
      if (o.status == "refused") {
        refused.push_back(object_json(o));
        return;
      }
      auto it = by_handle.find(o.object.handle);
      if (it == by_handle.end()) return;
      json& j = records[it->second];
      j["class"] = std::string(api::to_string(o.object.cls));
      j["key_type"] = std::string(api::to_string(o.object.key_type));
      j["bits"] = o.object.bits;
      if (!o.object.curve.empty()) j["curve"] = o.object.curve;
      j["id"] = o.object.id_hex;
      j["fingerprint"] = o.object.fingerprint;
      j["extractable"] = o.object.extractable;
      j["sensitive"] = o.object.sensitive;
    };
    HSM_TRY_ASSIGN(api::ArchiveRestoreCounts c, restore_from(ctx, *part, *rd.archive, api::ArchiveRestoreMode::open,
                                                             "all", req.progress, "open", rep));
    out.doc["opened_with"] = json{{"partition", req.with->device + "/" + req.with->partition},
                                  {"blobs_opened", c.opened},
                                  {"mac_verified", c.mac_verified},
                                  {"refused", std::move(refused)}};
    out.refused_or_failed = c.refused;
  } else {
    out.doc["sealed_fields"] =
        "class, key type, size, CKA_ID and fingerprint are sealed under the domain: "
        "`archive show ARCHIVE --with DEV/PART` has a partition of the domain open them (writing nothing)";
  }
  out.doc["records"] = std::move(records);
  out.doc["seconds"] = seconds_since(t0);
  add_location(out.doc, rd);
  if (r.header.format_version == 1) out.doc["protection_notice"] = kV1Notice;
  return out;
}

}  // namespace hsm::tool
