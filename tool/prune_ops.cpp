// prune: read, decide, delete, fsync. See prune_ops.hpp for the contract and
// prune_policy.hpp for the retention semantics.
#include "tool/prune_ops.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <system_error>

#include "formats/archive_reader.hpp"
#include "formats/atomic_file.hpp"

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
  std::string source;  // DEVICE/PARTITION from the header: one retention series
  Identity id;
};

json skipped(const std::string& name, const std::string& reason) {
  return {{"file", name}, {"reason", reason}};
}

}  // namespace

api::Result<PruneOutcome> run_prune(Context& ctx, const PruneRequest& req) {
  (void)ctx;  // prune touches no device: everything it needs is in the folder
  if (req.keep.none())
    return Error::usage("prune with every --keep-* at 0 would remove every archive in " + req.dir.string(),
                        "give at least one of --keep-daily N, --keep-weekly N, --keep-monthly N (N > 0)");
  if (req.keep.daily < 0 || req.keep.weekly < 0 || req.keep.monthly < 0)
    return Error::usage("prune: a --keep-* count is negative", "give counts of 0 or more");
  std::error_code ec;
  if (!fs::is_directory(req.dir, ec))
    return Error::usage("prune: " + req.dir.string() + " is not a folder", "name the folder of archives");

  PruneOutcome out;
  json skipped_list = json::array();
  std::map<std::string, std::vector<Archive>> series;

  std::vector<fs::path> entries;
  for (fs::directory_iterator it(req.dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(it->path());
  if (ec) return Error::other("prune: cannot list " + req.dir.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end());

  for (const fs::path& p : entries) {
    const std::string name = p.filename().string();
    if (name.starts_with(".")) {
      skipped_list.push_back(skipped(name, "hidden file (a writer's temporary file is named .NAME.tmp-XXXXXX)"));
      continue;
    }
    const auto before = identity_of(p);
    if (!before) {
      skipped_list.push_back(skipped(name, "not a regular file"));
      continue;
    }
    auto header = formats::read_header(p);
    if (!header.ok()) {
      skipped_list.push_back(skipped(name, "not a readable archive: " + header.error().message));
      continue;
    }
    const auto after = identity_of(p);
    if (!after || !(*after == *before)) {
      skipped_list.push_back(skipped(name, "changed while it was being read"));
      continue;
    }
    series[header->source_device + "/" + header->partition_name].push_back(
        {name, header->created_at, header->source_device + "/" + header->partition_name, *before});
  }

  json kept_list = json::array();
  json removed_list = json::array();
  std::vector<const Archive*> to_remove;
  json series_list = json::array();
  for (const auto& [source, archives] : series) {
    std::vector<prune::Candidate> candidates;
    std::map<std::string, const Archive*> by_name;
    for (const auto& a : archives) {
      candidates.push_back({a.name, a.created_at});
      by_name[a.name] = &a;
    }
    std::size_t kept_here = 0;
    for (const auto& d : prune::decide(std::move(candidates), req.keep)) {
      json entry{{"file", d.name},
                 {"source", source},
                 {"created_at", d.created_at},
                 {"created", iso_utc(d.created_at)}};
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
    series_list.push_back({{"source", source}, {"archives", archives.size()}, {"kept", kept_here}});
  }

  // Delete: each file only if it is still the one read; then make the
  // removals durable with one fsync of the folder.
  std::size_t removed = 0;
  if (!req.dry_run) {
    for (std::size_t i = 0; i < to_remove.size(); ++i) {
      const Archive& a = *to_remove[i];
      const fs::path p = req.dir / a.name;
      const auto now = identity_of(p);
      if (!now || !(*now == a.id)) {
        // Not ours to delete any more: report it as skipped, not removed.
        skipped_list.push_back(skipped(a.name, "changed since it was read (not removed)"));
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
    if (removed) {
      if (auto s = formats::fsync_directory(req.dir); !s.ok())
        return Error::other(s.error().message + " after removing " + std::to_string(removed) +
                            " archive(s): the removals may not survive a crash");
    }
  }

  out.kept = kept_list.size();
  out.removed = removed_list.size();
  out.skipped = skipped_list.size();
  out.doc = json{{"dir", req.dir.string()},
                 {"dry_run", req.dry_run},
                 {"keep", {{"daily", req.keep.daily}, {"weekly", req.keep.weekly}, {"monthly", req.keep.monthly}}},
                 {"series", std::move(series_list)},
                 {"kept", std::move(kept_list)},
                 {"removed", std::move(removed_list)},
                 {"skipped", std::move(skipped_list)},
                 {"counts", {{"kept", out.kept}, {"removed", out.removed}, {"skipped", out.skipped}}}};
  return out;
}

}  // namespace hsm::tool
