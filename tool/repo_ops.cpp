// repo init and archive list (see repo_ops.hpp).
#include "tool/repo_ops.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "formats/repo/s3/object_source.hpp"
#include "tool/display.hpp"
#include "tool/trust.hpp"

namespace hsm::tool {

using api::Error;
using api::Result;
using api::Status;
namespace s3 = repo::s3;
namespace fs = std::filesystem;

namespace {

constexpr int kMaxLockDays = 36500;  // S3 takes up to 100 years

// What verify said about one archive, in the catalogue's words.
void judge(CatalogueEntry& e, Result<formats::VerifyReport> r) {
  if (!r.ok()) {
    if (r.error().message.starts_with("not an hsm-migrate archive")) {
      e.status = "not_archive";
      e.reason = "not an archive";
    } else {
      e.status = "damaged";
      e.reason = r.error().message;
    }
    return;
  }
  e.header = r->header;
  e.report = *r;
  if (r->root_trusted) {
    e.status = "verified";
  } else {
    e.status = "untrusted";
    e.reason = "signed under root " + formats::to_hex(r->root_sha256) +
               ", which is not trusted here (another fleet's? add its root with --trusted-root or HOME/trust/)";
  }
}

void judge_header(CatalogueEntry& e, Result<formats::ArchiveHeader> h) {
  if (!h.ok()) {
    const bool foreign = h.error().message.starts_with("not an hsm-migrate archive");
    e.status = foreign ? "not_archive" : "damaged";
    e.reason = foreign ? "not an archive" : h.error().message;
    return;
  }
  e.header = *h;
  e.status = "unchecked";
}

Result<std::vector<CatalogueEntry>> examine_dir(const fs::path& dir, const formats::VerifyOptions& vopt, bool verify) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Error::usage(dir.string() + " is not a folder", "name a folder of archives or an s3://BUCKET/PREFIX");
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(it->path());
  if (ec) return Error::other("cannot list " + dir.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end());
  std::vector<CatalogueEntry> out;
  for (const auto& p : entries) {
    const std::string name = p.filename().string();
    struct stat st {};
    if (name.starts_with(".") || ::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    CatalogueEntry e;
    e.name = name;
    e.size = static_cast<std::uint64_t>(st.st_size);
    e.modified = st.st_mtim.tv_sec;
    if (verify) judge(e, formats::verify(p, vopt));
    else judge_header(e, formats::read_header(p));
    out.push_back(std::move(e));
  }
  return out;
}

std::string scope_of(const formats::ArchiveHeader& h) {
  switch (h.scope) {
    case formats::ArchiveScope::complete: return "complete";
    case formats::ArchiveScope::subset: return "subset";
    case formats::ArchiveScope::unknown: break;
  }
  return "unknown (format 1)";
}

}  // namespace

Result<json> run_repo_init(const RepoInitRequest& req) {
  if (!is_s3(req.address))
    return Error::usage("repo init takes an S3 address, not \"" + req.address + "\"",
                        "write s3://BUCKET or s3://BUCKET/PREFIX (a folder of archives needs no init)");
  HSM_TRY_ASSIGN(s3::S3Address a, s3::parse_s3_address(req.address));
  if (req.days < 1 || req.days > kMaxLockDays)
    return Error::usage("--lock-days " + std::to_string(req.days) + " is out of range",
                        "give 1 to " + std::to_string(kMaxLockDays) + " days");
  HSM_TRY_ASSIGN(auto client, open_s3_client(req.repo));
  HSM_TRY(client->create_bucket(a.bucket, req.mode, req.days));
  // Read back what the server keeps: a server that ignored the lock would
  // leave backups deletable.
  HSM_TRY_ASSIGN(s3::xml::LockConfiguration lc, client->get_object_lock_configuration(a.bucket));
  if (!lc.enabled || !lc.mode || *lc.mode != req.mode || lc.days != req.days)
    return Error{api::ErrorKind::integrity,
                 "bucket " + a.bucket + " was created, but the server reports Object Lock " +
                     (lc.enabled ? "enabled" : "disabled") + " with a default retention of " +
                     std::to_string(lc.days) + " day(s)" +
                     (lc.mode ? " (" + std::string(s3::to_string(*lc.mode)) + ")" : "") + ", not what was asked",
                 {}, {}, "use a server that supports S3 Object Lock"};
  return json{{"repository", a.to_string()},
              {"bucket", a.bucket},
              {"prefix", a.key},
              {"endpoint", client->config().endpoint.url()},
              {"object_lock", true},
              {"versioning", "enabled"},
              {"default_retention", {{"mode", std::string(s3::to_string(*lc.mode))}, {"days", lc.days}}}};
}

Result<std::vector<CatalogueEntry>> examine_s3(s3::Client& client, const s3::S3Address& where,
                                               const formats::VerifyOptions& vopt, bool verify) {
  HSM_TRY(client.head_bucket(where.bucket));
  HSM_TRY_ASSIGN(std::vector<RepoArchive> all, list_repository(client, where));
  std::vector<CatalogueEntry> out;
  for (const auto& a : all) {
    CatalogueEntry e;
    e.name = a.key;
    e.version_id = a.version_id;
    e.size = a.size;
    e.modified = a.last_modified;
    s3::ObjectSourceOptions so;
    so.version_id = a.version_id;
    auto src = s3::ObjectSource::open(client, where.bucket, a.key, so);
    if (!src.ok()) {
      // Gone since the listing (another prune), or unreadable: not ours to judge.
      if (src.error().code == "NoSuchKey" || src.error().code == "NoSuchVersion" || src.error().code == "NotFound") {
        e.status = "not_archive";
        e.reason = "deleted since the listing";
      } else {
        return src.error();  // credentials, the network: the whole run fails
      }
    } else {
      e.retention = (*src)->info().retention;
      if (verify) judge(e, formats::verify(**src, vopt));
      else judge_header(e, formats::read_header(**src));
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<ListOutcome> run_archive_list(Context& ctx, const ListRequest& req) {
  HSM_TRY_ASSIGN(std::vector<TrustedRoot> roots, trusted_roots(ctx.fleet->home(), req.trusted_roots));
  formats::VerifyOptions vopt;
  vopt.trusted_roots = digests_of(roots);
  vopt.any_root = true;  // an archive of another root is listed as such
  std::vector<CatalogueEntry> entries;
  json where{{"repository", req.where}};
  if (is_s3(req.where)) {
    HSM_TRY_ASSIGN(s3::S3Address a, s3::parse_s3_address(req.where));
    HSM_TRY_ASSIGN(auto client, open_s3_client(req.repo));
    HSM_TRY_ASSIGN(entries, examine_s3(*client, a, vopt, req.verify));
    where["endpoint"] = client->config().endpoint.url();
  } else {
    HSM_TRY_ASSIGN(entries, examine_dir(req.where, vopt, req.verify));
  }
  ListOutcome out;
  json list = json::array(), skipped = json::array();
  std::size_t verified = 0;
  for (const auto& e : entries) {
    if (e.status == "not_archive") {
      skipped.push_back({{"name", e.name}, {"reason", e.reason}});
      continue;
    }
    json j{{"name", e.name}, {"size", e.size}};
    if (!e.version_id.empty()) j["version_id"] = e.version_id;
    if (e.header) {
      const auto& h = *e.header;
      j["archive_id"] = formats::to_hex(h.archive_id);
      j["source"] = h.source_device + "/" + h.partition_name;
      j["created_at"] = h.created_at;
      j["created"] = prune_iso_utc(h.created_at);
      j["scope"] = scope_of(h);
      if (h.scope == formats::ArchiveScope::subset) j["selector"] = h.selector;
      j["format_version"] = h.format_version;
    }
    if (e.report) {
      j["objects"] = e.report->objects;
      j["blobs"] = e.report->blobs_checked;
      j["fleet_root"] = formats::to_hex(e.report->root_sha256);
      for (const auto& t : roots)
        if (t.sha256 == e.report->root_sha256) j["trusted_as"] = t.origin;
    } else {
      j["objects"] = nullptr;
    }
    j["verifies"] = e.status == "verified" ? json(true) : e.status == "unchecked" ? json(nullptr) : json(false);
    j["status"] = e.status;
    if (!e.reason.empty()) j["reason"] = e.reason;
    if (e.retention)
      j["retention"] = json{{"mode", std::string(s3::to_string(e.retention->mode))},
                            {"until", s3::iso8601(e.retention->retain_until)}};
    if (e.status == "verified") ++verified;
    if (e.status == "damaged" || e.status == "untrusted") ++out.damaged;
    list.push_back(std::move(j));
  }
  // Oldest first, as restic's snapshots (by the time in the header).
  std::stable_sort(list.begin(), list.end(), [](const json& a, const json& b) {
    return a.value("created_at", std::int64_t{0}) < b.value("created_at", std::int64_t{0});
  });
  out.doc = where;
  out.doc["verified"] = req.verify;
  out.doc["archives"] = std::move(list);
  out.doc["skipped"] = std::move(skipped);
  out.doc["counts"] = {{"archives", out.doc["archives"].size()},
                       {"verified", verified},
                       {"damaged_or_untrusted", out.damaged},
                       {"skipped", out.doc["skipped"].size()}};
  return out;
}

}  // namespace hsm::tool
