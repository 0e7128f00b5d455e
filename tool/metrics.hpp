// Run metrics for monitoring (issue 11 §6): a node_exporter textfile-collector
// file in the Prometheus text exposition format (version 0.0.4), one series
// per operation and partition/source, so an alert can say "no successful
// backup of prod/app for 26 hours":
//
//   hsm_migrate_last_run_timestamp_seconds      when the last run ended (unix s)
//   hsm_migrate_last_success_timestamp_seconds  when the last successful run
//                                               ended; 0 = never succeeded
//   hsm_migrate_last_duration_seconds           how long the last run took
//   hsm_migrate_last_objects                    objects it handled
//   hsm_migrate_last_bytes                      bytes it wrote or read
//   hsm_migrate_last_exit_code                  its exit code (0 ok, see status.hpp)
//
// All are gauges labelled operation="backup|verify|drill|prune|plan" plus the
// caller's labels (partition="prod/app", source="...", plan="..."). A record
// replaces the series with exactly the same labels and keeps every other
// series of the file: a backup of p1 does not erase p2's. The file is
// rewritten atomically (formats/atomic_file.hpp: temp file in the same folder,
// fsync, rename), mode 0644 so node_exporter's user can read it, and records
// from concurrent runs are serialised by flock(2) on "<file>.lock" beside it
// (the collector reads only *.prom, so neither the lock nor the temp file is
// collected).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugins/api/status.hpp"

namespace hsm::tool::metrics {

// Label name -> value, in the order given; values may hold any text.
using Labels = std::vector<std::pair<std::string, std::string>>;

struct RunValues {
  double finished_at = 0;  // unix seconds (fractions allowed)
  double duration_seconds = 0;
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
  int exit_code = 0;  // 0 = success: only then does last_success move
};

// Records one run of `operation` in the metrics file `path`, merged with what
// the file already holds. Errors: usage (an operation or label name that is
// not a valid Prometheus label, "operation" among `labels`, a folder that
// does not exist, an existing file that is not in the text format -- named
// with its line), other (I/O).
api::Status record(const std::filesystem::path& path, std::string_view operation,
                   const Labels& labels, const RunValues& values);

// ---- the parts, for the tests ----------------------------------------------

struct Series {
  Labels labels;          // as written
  std::string value;      // the sample value, as text ("1.5", "NaN", "+Inf")
  std::string timestamp;  // optional sample timestamp (ms), as text
};

struct Family {
  std::string name;
  std::string help;  // unescaped; empty = no HELP line
  std::string type;  // "gauge", "counter", ...; empty = no TYPE line
  std::vector<Series> series;
};

// A parsed exposition. Families keep the order they were first seen in.
struct Exposition {
  std::vector<Family> families;
};

// Parses the text format (HELP, TYPE, comments, samples with labels and
// escapes). Errors: usage, naming `what` and the line number.
api::Result<Exposition> parse(std::string_view text, const std::string& what);
// Renders the text format: per family HELP, TYPE, then its series sorted by
// their labels; label values and HELP text escaped.
std::string render(const Exposition& e);
// Puts one run into `e` (replacing the series with the same labels). The
// labels are validated as record() documents.
api::Status merge(Exposition& e, std::string_view operation, const Labels& labels,
                  const RunValues& values);
// "1732240800", "0.25", "1732240800.125": integers without a fraction,
// others in the shortest form that reads back to the same double.
std::string format_value(double v);

}  // namespace hsm::tool::metrics
