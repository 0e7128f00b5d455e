// prune of an S3 prefix (see repo_ops.hpp and prune_ops.hpp). The listing is
// the catalogue; each archive is verified streamed from the bucket, pinned to
// its version, exactly as prune verifies files; the retention policy and the
// series are prune's own (prune_policy.hpp); deletions name the version
// verified, so an archive replaced meanwhile is never deleted on an old
// decision.
#include <algorithm>
#include <chrono>
#include <map>

#include "formats/repo/s3/types.hpp"
#include "tool/repo_ops.hpp"
#include "tool/trust.hpp"

namespace hsm::tool {

using api::Error;
using api::Result;
namespace s3 = repo::s3;

namespace {

std::int64_t wall_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json skipped(const std::string& name, const std::string& reason) { return {{"file", name}, {"reason", reason}}; }

// Uploads of the tool's own: keys of the layout, or archive names (.hsmar).
bool ours(const std::string& key) {
  return parse_layout_key(key).has_value() || (key.size() > 6 && key.ends_with(".hsmar"));
}

}  // namespace

Result<PruneOutcome> run_prune_s3(Context& ctx, const PruneRequest& req) {
  HSM_TRY_ASSIGN(s3::S3Address where, s3::parse_s3_address(req.dir.string()));
  HSM_TRY_ASSIGN(std::vector<TrustedRoot> roots, trusted_roots(ctx.fleet->home(), req.trusted_roots));
  formats::VerifyOptions vopt;
  vopt.trusted_roots = digests_of(roots);
  vopt.any_root = true;  // an untrusted archive is reported as such, never deleted
  const std::int64_t now = req.now ? req.now : wall_now();
  HSM_TRY_ASSIGN(auto client, open_s3_client(req.repo));
  HSM_TRY_ASSIGN(std::vector<CatalogueEntry> entries, examine_s3(*client, where, vopt, true));
  // Object Lock: the default retention a kept archive is extended to.
  // A bucket without Object Lock answers ObjectLockConfigurationNotFoundError.
  s3::xml::LockConfiguration lock;
  if (auto lc = client->get_object_lock_configuration(where.bucket); lc.ok()) lock = *lc;
  else if (lc.error().code.find("ObjectLockConfigurationNotFound") == std::string::npos) return lc.error();
  const std::int64_t lock_seconds = static_cast<std::int64_t>(lock.days) * 86400 +
                                    static_cast<std::int64_t>(lock.years) * 365 * 86400;

  PruneOutcome out;
  json skipped_list = json::array(), damaged_list = json::array();
  std::map<std::string, std::vector<const CatalogueEntry*>> series;
  for (const auto& e : entries) {
    if (e.status == "not_archive") {
      skipped_list.push_back(skipped(e.name, e.reason));
    } else if (e.status == "damaged" || e.status == "untrusted") {
      damaged_list.push_back({{"file", e.name}, {"version_id", e.version_id}, {"reason", e.reason}});
    } else {
      series[prune_series_of(*e.report)].push_back(&e);
    }
  }

  json kept_list = json::array(), removed_list = json::array(), locked_list = json::array();
  json extended_list = json::array(), series_list = json::array();
  std::vector<const CatalogueEntry*> to_remove, to_keep;
  for (const auto& [key, archives] : series) {
    std::vector<prune::Candidate> candidates;
    std::map<std::string, const CatalogueEntry*> by_name;
    for (const auto* a : archives) {
      candidates.push_back({a->name, a->header->created_at});
      by_name[a->name] = a;
    }
    std::size_t kept_here = 0;
    for (const auto& d : prune::decide(std::move(candidates), req.keep)) {
      const CatalogueEntry* a = by_name.at(d.name);
      json entry{{"file", d.name},
                 {"version_id", a->version_id},
                 {"series", key},
                 {"created_at", d.created_at},
                 {"created", prune_iso_utc(d.created_at)}};
      if (d.keep()) {
        json reasons = json::array(), periods = json::object();
        for (const auto& r : d.reasons) {
          reasons.push_back(prune::to_string(r.rule));
          periods[prune::to_string(r.rule)] = r.period;
        }
        entry["reasons"] = std::move(reasons);
        entry["periods"] = std::move(periods);
        kept_list.push_back(std::move(entry));
        to_keep.push_back(a);
        ++kept_here;
      } else {
        removed_list.push_back(std::move(entry));
        to_remove.push_back(a);
      }
    }
    series_list.push_back({{"series", key}, {"archives", archives.size()}, {"kept", kept_here}});
  }

  // Pending uploads of the tool's own (a killed backup's): aborted when
  // stale; a younger one may belong to a running backup.
  HSM_TRY_ASSIGN(std::vector<s3::PendingUpload> uploads, client->list_multipart_uploads(where.bucket, where.key));
  json uploads_list = json::array();
  std::vector<const s3::PendingUpload*> to_abort;
  for (const auto& u : uploads) {
    if (!ours(u.key)) continue;
    const std::int64_t age = now - u.initiated;
    if (age < req.stale_upload_seconds) {
      skipped_list.push_back(
          skipped(u.key, "pending upload " + u.upload_id + ", started " + std::to_string(age) +
                             " s ago (younger than the limit: it may be running)"));
      continue;
    }
    uploads_list.push_back({{"key", u.key}, {"upload_id", u.upload_id}, {"age_hours", age / 3600},
                            {"initiated", prune_iso_utc(u.initiated)}});
    to_abort.push_back(&u);
  }

  std::size_t removed = 0;
  if (!req.dry_run) {
    // Keep first: a kept archive's retention is extended before anything is
    // deleted, so a run stopped halfway never leaves a kept archive short.
    if (lock.enabled && lock.mode && lock_seconds > 0) {
      const std::int64_t until = now + lock_seconds;
      for (const auto* a : to_keep) {
        if (a->retention && a->retention->retain_until >= until) continue;
        s3::Retention r;
        r.mode = a->retention ? a->retention->mode : *lock.mode;
        r.retain_until = until;
        HSM_TRY(client->put_retention(where.bucket, a->name, a->version_id, r));
        extended_list.push_back({{"file", a->name},
                                 {"version_id", a->version_id},
                                 {"mode", std::string(s3::to_string(r.mode))},
                                 {"from", a->retention ? json(s3::iso8601(a->retention->retain_until)) : json(nullptr)},
                                 {"until", s3::iso8601(until)}});
      }
    }
    json really_removed = json::array();
    for (std::size_t i = 0; i < to_remove.size(); ++i) {
      const CatalogueEntry& a = *to_remove[i];
      auto st = client->delete_version(where.bucket, a.name, a.version_id);
      if (!st.ok() && st.error().code == "ObjectLocked") {
        // Not an error: Object Lock does its job; a later prune removes it.
        json l{{"file", a.name}, {"version_id", a.version_id}, {"created", removed_list[i]["created"]}};
        if (a.retention) {
          l["until"] = s3::iso8601(a.retention->retain_until);
          l["mode"] = std::string(s3::to_string(a.retention->mode));
        } else {
          l["until"] = nullptr;
        }
        locked_list.push_back(std::move(l));
        continue;
      }
      if (!st.ok()) {
        Error e = st.error();
        e.message = "prune: cannot delete s3://" + where.bucket + "/" + a.name + " version " + a.version_id + ": " +
                    e.message + " (" + std::to_string(removed) + " archive(s) deleted before it)";
        return e;
      }
      ++removed;
      really_removed.push_back(removed_list[i]);
    }
    removed_list = std::move(really_removed);
    for (const auto* u : to_abort) HSM_TRY(client->abort_multipart_upload(where.bucket, u->key, u->upload_id));
  }

  out.kept = kept_list.size();
  out.removed = removed_list.size();
  out.skipped = skipped_list.size();
  out.damaged = damaged_list.size();
  out.temp_removed = uploads_list.size();
  out.locked = locked_list.size();
  json lock_json = lock.enabled && lock.mode
                       ? json{{"mode", std::string(s3::to_string(*lock.mode))}, {"days", lock.days}, {"years", lock.years}}
                       : json(nullptr);
  out.doc = json{{"dir", where.to_string()},
                 {"repository", where.to_string()},
                 {"endpoint", client->config().endpoint.url()},
                 {"dry_run", req.dry_run},
                 {"keep", prune_keep_json(req.keep)},
                 {"object_lock", std::move(lock_json)},
                 {"series", std::move(series_list)},
                 {"kept", std::move(kept_list)},
                 {"retention_extended", std::move(extended_list)},
                 {"removed", std::move(removed_list)},
                 {"locked", std::move(locked_list)},
                 {"damaged", std::move(damaged_list)},
                 {"uploads_aborted", std::move(uploads_list)},
                 {"temporary_files_removed", json::array()},
                 {"skipped", std::move(skipped_list)},
                 {"counts",
                  {{"kept", out.kept},
                   {"removed", out.removed},
                   {"locked", out.locked},
                   {"damaged", out.damaged},
                   {"uploads_aborted", out.temp_removed},
                   {"temporary_files_removed", 0},
                   {"skipped", out.skipped}}}};
  return out;
}

}  // namespace hsm::tool
