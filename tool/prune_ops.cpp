// prune: read, decide, delete, fsync. See prune_ops.hpp for the contract and
// prune_policy.hpp for the retention semantics.
#include "tool/prune_ops.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <system_error>

#include "formats/archive_reader.hpp"
#include "formats/atomic_file.hpp"
#include "tool/repo_ops.hpp"
#include "tool/trust.hpp"

namespace hsm::tool {
namespace {

namespace fs = std::filesystem;
using api::Error;

// What identifies the file we read: a file renamed over it (a backup with
// --force, a restore of the folder) must not be deleted on the old decision.
struct Identity {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};
  bool operator==(const Identity& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

std::optional<Identity> identity_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return Identity{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

std::string iso_utc(std::int64_t t) {
  const auto secs = std::chrono::sys_seconds{std::chrono::seconds{t}};
  const auto day = std::chrono::floor<std::chrono::days>(secs);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{secs - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()));
  return buf;
}

struct Archive {
  std::string name;
  std::int64_t created_at;
  std::string series;  // fleet root + DEVICE/PARTITION + scope: one retention series
  Identity id;
};

json skipped(const std::string& name, const std::string& reason) {
  return {{"file", name}, {"reason", reason}};
}

std::string series_of(const formats::VerifyReport& r) {
  const formats::ArchiveHeader& h = r.header;
  std::string scope;
  switch (h.scope) {
    case formats::ArchiveScope::complete: scope = "complete"; break;
    case formats::ArchiveScope::subset: scope = "subset \"" + h.selector + "\""; break;
    case formats::ArchiveScope::unknown: scope = "format 1 (scope not recorded)"; break;
  }
  return "fleet " + formats::to_hex(r.root_sha256).substr(0, 16) + " " + h.source_device + "/" + h.partition_name +
         " " + scope;
}

std::int64_t wall_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json keep_json(const prune::KeepCounts& k) {
  json j{{"last", k.last},       {"hourly", k.hourly},   {"daily", k.daily},
         {"weekly", k.weekly},   {"monthly", k.monthly}, {"yearly", k.yearly}};
  j["within"] = k.within.zero() ? json(nullptr) : json(prune::to_string(k.within));
  return j;
}

}  // namespace

std::string prune_series_of(const formats::VerifyReport& r) { return series_of(r); }
std::string prune_iso_utc(std::int64_t t) { return iso_utc(t); }
json prune_keep_json(const prune::KeepCounts& k) { return keep_json(k); }

bool is_writer_temp_name(const std::string& name) {
  // .NAME.tmp-XXXXXX (AtomicFile) or .hsm-migrate-index.tmp-XXXXXX (the
  // writer's index scratch file, when O_TMPFILE is missing).
  const std::string marker = ".tmp-";
  if (name.size() < 1 + 1 + marker.size() + 6 || name[0] != '.') return false;
  const std::size_t at = name.size() - 6 - marker.size();
  if (name.compare(at, marker.size(), marker) != 0) return false;
  for (std::size_t i = name.size() - 6; i < name.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(name[i]))) return false;
  return at > 1;
}

api::Result<PruneOutcome> run_prune(Context& ctx, const PruneRequest& req) {
  if (req.keep.negative()) return Error::usage("prune: a --keep-* count is negative", "give counts of 0 or more");
  if (req.keep.none())
    return Error::usage("prune with no keep rule would remove every archive in " + req.dir.string(),
                        "give at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, "
                        "--keep-monthly, --keep-yearly N (N > 0) or --keep-within DURATION");
  if (is_s3(req.dir.string())) return run_prune_s3(ctx, req);
  std::error_code ec;
  if (!fs::is_directory(req.dir, ec))
    return Error::usage("prune: " + req.dir.string() + " is not a folder", "name the folder of archives");
  HSM_TRY_ASSIGN(std::vector<TrustedRoot> roots, trusted_roots(ctx.fleet->home(), req.trusted_roots));
  formats::VerifyOptions vopt;
  vopt.trusted_roots = digests_of(roots);
  vopt.any_root = true;  // an untrusted archive is reported as such, never deleted
  const std::int64_t now = req.now ? req.now : wall_now();

  PruneOutcome out;
  json skipped_list = json::array(), damaged_list = json::array(), temp_list = json::array();
  std::map<std::string, std::vector<Archive>> series;
  std::vector<fs::path> temp_to_remove;

  std::vector<fs::path> entries;
  for (fs::directory_iterator it(req.dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(it->path());
  if (ec) return Error::other("prune: cannot list " + req.dir.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end());

  for (const fs::path& p : entries) {
    const std::string name = p.filename().string();
    const auto before = identity_of(p);
    if (name.starts_with(".")) {
      if (!before || !is_writer_temp_name(name)) {
        skipped_list.push_back(skipped(name, "hidden file, not a temporary file of hsm-migrate"));
        continue;
      }
      const std::int64_t age = now - before->mtime.tv_sec;
      if (age < 86400) {
        skipped_list.push_back(skipped(name, "temporary file of a backup, younger than a day (it may be running)"));
        continue;
      }
      temp_list.push_back({{"file", name}, {"age_hours", age / 3600}});
      temp_to_remove.push_back(p);
      continue;
    }
    if (!before) {
      skipped_list.push_back(skipped(name, "not a regular file"));
      continue;
    }
    auto report = formats::verify(p, vopt);
    const auto after = identity_of(p);
    if (!after || !(*after == *before)) {
      skipped_list.push_back(skipped(name, "changed while it was being read"));
      continue;
    }
    if (!report.ok()) {
      // A file that is not an archive at all is none of prune's business.
      if (report.error().message.starts_with("not an hsm-migrate archive")) {
        skipped_list.push_back(skipped(name, "not an archive"));
        continue;
      }
      damaged_list.push_back({{"file", name}, {"reason", report.error().message}});
      continue;
    }
    if (!report->root_trusted) {
      damaged_list.push_back({{"file", name},
                              {"reason", "signed under root " + formats::to_hex(report->root_sha256) +
                                             ", which is not trusted here (another fleet's? add its root with "
                                             "--trusted-root or HOME/trust/)"}});
      continue;
    }
    const std::string key = series_of(*report);
    series[key].push_back({name, report->header.created_at, key, *before});
  }

  json kept_list = json::array();
  json removed_list = json::array();
  std::vector<const Archive*> to_remove;
  json series_list = json::array();
  for (const auto& [key, archives] : series) {
    std::vector<prune::Candidate> candidates;
    std::map<std::string, const Archive*> by_name;
    for (const auto& a : archives) {
      candidates.push_back({a.name, a.created_at});
      by_name[a.name] = &a;
    }
    std::size_t kept_here = 0;
    for (const auto& d : prune::decide(std::move(candidates), req.keep)) {
      json entry{{"file", d.name}, {"series", key}, {"created_at", d.created_at}, {"created", iso_utc(d.created_at)}};
      if (d.keep()) {
        json reasons = json::array();
        json periods = json::object();
        for (const auto& r : d.reasons) {
          reasons.push_back(prune::to_string(r.rule));
          periods[prune::to_string(r.rule)] = r.period;
        }
        entry["reasons"] = std::move(reasons);
        entry["periods"] = std::move(periods);
        kept_list.push_back(std::move(entry));
        ++kept_here;
      } else {
        removed_list.push_back(std::move(entry));
        to_remove.push_back(by_name.at(d.name));
      }
    }
    series_list.push_back({{"series", key}, {"archives", archives.size()}, {"kept", kept_here}});
  }

  // Delete: each file only if it is still the one verified; then make the
  // removals durable with one fsync of the folder.
  std::size_t removed = 0;
  if (!req.dry_run) {
    for (std::size_t i = 0; i < to_remove.size(); ++i) {
      const Archive& a = *to_remove[i];
      const fs::path p = req.dir / a.name;
      const auto now_id = identity_of(p);
      if (!now_id || !(*now_id == a.id)) {
        // Not ours to delete any more: report it as skipped, not removed.
        skipped_list.push_back(skipped(a.name, "changed since it was verified (not removed)"));
        removed_list.erase(std::find_if(removed_list.begin(), removed_list.end(),
                                        [&](const json& j) { return j["file"] == a.name; }));
        continue;
      }
      if (::unlink(p.c_str()) != 0) {
        const int e = errno;
        const auto synced = formats::fsync_directory(req.dir);
        return Error::other("prune: cannot remove " + p.string() + ": " + std::strerror(e) + " (" +
                            std::to_string(removed) + " archive(s) removed before" +
                            (synced.ok() ? "" : ", and the folder could not be fsynced") + ")");
      }
      ++removed;
    }
    for (const auto& p : temp_to_remove) {
      if (::unlink(p.c_str()) == 0) ++removed;
      else
        skipped_list.push_back(skipped(p.filename().string(), std::string("cannot remove: ") + std::strerror(errno)));
    }
    if (removed) {
      if (auto s = formats::fsync_directory(req.dir); !s.ok())
        return Error::other(s.error().message + " after removing " + std::to_string(removed) +
                            " file(s): the removals may not survive a crash");
    }
  }

  out.kept = kept_list.size();
  out.removed = removed_list.size();
  out.skipped = skipped_list.size();
  out.damaged = damaged_list.size();
  out.temp_removed = temp_list.size();
  out.doc = json{{"dir", req.dir.string()},
                 {"dry_run", req.dry_run},
                 {"keep", keep_json(req.keep)},
                 {"series", std::move(series_list)},
                 {"kept", std::move(kept_list)},
                 {"removed", std::move(removed_list)},
                 {"damaged", std::move(damaged_list)},
                 {"temporary_files_removed", std::move(temp_list)},
                 {"skipped", std::move(skipped_list)},
                 {"counts",
                  {{"kept", out.kept},
                   {"removed", out.removed},
                   {"damaged", out.damaged},
                   {"temporary_files_removed", out.temp_removed},
                   {"skipped", out.skipped}}}};
  return out;
}

}  // namespace hsm::tool
