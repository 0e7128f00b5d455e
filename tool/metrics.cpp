#include "tool/metrics.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "formats/atomic_file.hpp"

namespace hsm::tool::metrics {

namespace fs = std::filesystem;
using api::Error;
using api::Result;
using api::Status;

namespace {

// The series one record writes, in the order a fresh file lists them.
enum Metric { kRun, kSuccess, kDuration, kObjects, kBytes, kExit, kMetricCount };
struct MetricDef {
  const char* name;
  const char* help;
};
constexpr MetricDef kMetrics[kMetricCount] = {
    {"hsm_migrate_last_run_timestamp_seconds", "Unix time the last run of the operation ended."},
    {"hsm_migrate_last_success_timestamp_seconds",
     "Unix time the last successful run of the operation ended (0: never succeeded)."},
    {"hsm_migrate_last_duration_seconds", "Duration of the last run of the operation."},
    {"hsm_migrate_last_objects", "Objects the last run of the operation handled."},
    {"hsm_migrate_last_bytes", "Bytes the last run of the operation wrote or read."},
    {"hsm_migrate_last_exit_code", "Exit code of the last run of the operation (0 success)."},
};

bool name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool name_char(char c) {
  return name_start(c) || (c >= '0' && c <= '9');
}

bool valid_label_name(std::string_view n) {
  if (n.empty() || !name_start(n[0]) || n.starts_with("__")) return false;
  return std::all_of(n.begin(), n.end(), name_char);
}

// Label sets compare as sets: the order a caller gives them in is not identity.
Labels sorted(Labels l) {
  std::sort(l.begin(), l.end());
  return l;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    out += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
  }
  return out + "}";
}

Family* find_family(Exposition& e, std::string_view name) {
  for (auto& f : e.families)
    if (f.name == name) return &f;
  return nullptr;
}

Family& family(Exposition& e, std::string_view name) {
  if (Family* f = find_family(e, name)) return *f;
  e.families.push_back({std::string(name), {}, {}, {}});
  return e.families.back();
}

// Puts `s` into `f`, replacing a series with the same label set.
void put_series(Family& f, Series s) {
  const Labels key = sorted(s.labels);
  for (auto& old : f.series)
    if (sorted(old.labels) == key) {
      old = std::move(s);
      return;
    }
  f.series.push_back(std::move(s));
}

// ---- parsing the text format -------------------------------------------------

class LineParser {
 public:
  explicit LineParser(std::string_view s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  void blanks() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool take(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // A metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or, with colon=false, a label name.
  std::string name(bool colon) {
    const std::size_t start = i_;
    auto ok_first = [&](char c) { return name_start(c) || (colon && c == ':'); };
    auto ok = [&](char c) { return name_char(c) || (colon && c == ':'); };
    if (i_ < s_.size() && ok_first(s_[i_]))
      while (i_ < s_.size() && ok(s_[i_])) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }
  // Up to the next blank or the end.
  std::string token() {
    const std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] != ' ' && s_[i_] != '\t') ++i_;
    return std::string(s_.substr(start, i_ - start));
  }
  std::string rest() {
    std::string out(s_.substr(std::min(i_, s_.size())));
    i_ = s_.size();
    return out;
  }
  // A quoted label value with \\, \" and \n escapes; false on a bad one.
  bool quoted(std::string& out) {
    if (!take('"')) return false;
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (i_ >= s_.size()) return false;
        char e = s_[i_++];
        if (e == 'n')
          out += '\n';
        else if (e == '\\' || e == '"')
          out += e;
        else
          return false;
      } else {
        out += c;
      }
    }
    return false;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

std::string unescape_help(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size() && (v[i + 1] == '\\' || v[i + 1] == 'n')) {
      out += v[i + 1] == 'n' ? '\n' : '\\';
      ++i;
    } else {
      out += v[i];
    }
  }
  return out;
}

bool valid_value(const std::string& v) {
  if (v == "NaN" || v == "+Inf" || v == "-Inf" || v == "Inf") return true;
  if (v.empty()) return false;
  char* end = nullptr;
  errno = 0;
  std::strtod(v.c_str(), &end);
  return end == v.c_str() + v.size();
}

bool valid_timestamp(const std::string& t) {
  std::int64_t x = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
  return ec == std::errc() && p == t.data() + t.size();
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, p) : std::to_string(v);
}

Result<Exposition> parse(std::string_view text, const std::string& what) {
  Exposition e;
  std::size_t lineno = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineno;
    auto bad = [&](const std::string& why) {
      return Error::usage(
          what + " line " + std::to_string(lineno) + " is not in the Prometheus text format (" +
              why + ")",
          "remove the file (it is rewritten in full by the next run) or fix the line");
    };
    LineParser p(line);
    p.blanks();
    if (p.done()) continue;
    if (p.take('#')) {
      p.blanks();
      const std::string keyword = p.token();
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
      p.blanks();
      const std::string name = p.name(true);
      if (name.empty()) return bad("# " + keyword + " without a metric name");
      Family& f = family(e, name);
      if (keyword == "HELP") {
        p.blanks();
        f.help = unescape_help(p.rest());
      } else {
        p.blanks();
        const std::string type = p.token();
        static const char* kTypes[] = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (std::find(std::begin(kTypes), std::end(kTypes), type) == std::end(kTypes))
          return bad("unknown TYPE \"" + type + "\"");
        if (!f.type.empty() || !f.series.empty())
          return bad("a second TYPE, or TYPE after samples, for " + name);
        f.type = type;
      }
      continue;
    }
    Series s;
    const std::string name = p.name(true);
    if (name.empty()) return bad("a sample line must start with a metric name");
    if (p.take('{')) {
      p.blanks();
      while (!p.take('}')) {
        const std::string label = p.name(false);
        if (label.empty()) return bad("bad label name in " + name);
        p.blanks();
        if (!p.take('=')) return bad("label " + label + " without '='");
        p.blanks();
        std::string value;
        if (!p.quoted(value)) return bad("bad quoted value of label " + label);
        s.labels.emplace_back(label, value);
        p.blanks();
        if (p.take(',')) {
          p.blanks();
          continue;
        }
        if (!p.take('}')) return bad("expected ',' or '}' after label " + label);
        break;
      }
    }
    p.blanks();
    s.value = p.token();
    if (!valid_value(s.value)) return bad("bad sample value \"" + s.value + "\"");
    p.blanks();
    if (!p.done()) {
      s.timestamp = p.token();
      if (!valid_timestamp(s.timestamp)) return bad("bad timestamp \"" + s.timestamp + "\"");
      p.blanks();
      if (!p.done()) return bad("text after the timestamp");
    }
    put_series(family(e, name), std::move(s));
  }
  return e;
}

std::string render(const Exposition& e) {
  std::string out;
  for (const auto& f : e.families) {
    if (f.series.empty()) continue;  // a HELP/TYPE with no sample says nothing
    if (!f.help.empty()) out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    if (!f.type.empty()) out += "# TYPE " + f.name + " " + f.type + "\n";
    std::vector<std::pair<std::string, const Series*>> lines;
    for (const auto& s : f.series) lines.emplace_back(render_labels(s.labels), &s);
    std::sort(lines.begin(), lines.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [labels, s] : lines) {
      out += f.name + labels + " " + s->value;
      if (!s->timestamp.empty()) out += " " + s->timestamp;
      out += "\n";
    }
  }
  return out;
}

Status merge(Exposition& e, std::string_view operation, const Labels& labels, const RunValues& v) {
  if (operation.empty())
    return Error::usage("a metrics record needs an operation (backup, verify, ...)");
  Labels all{{"operation", std::string(operation)}};
  for (const auto& [name, value] : labels) {
    if (!valid_label_name(name))
      return Error::usage("\"" + name + "\" is not a Prometheus label name",
                          "use letters, digits and '_', not starting with a digit or \"__\"");
    if (std::any_of(all.begin(), all.end(), [&](const auto& l) { return l.first == name; }))
      return Error::usage("label \"" + name +
                          "\" given twice (\"operation\" is set from the operation)");
    all.emplace_back(name, value);
  }
  const Labels key = sorted(all);

  // A failed run leaves the last success where it was: the alert "no success
  // for 26 h" must keep counting through a string of failures.
  std::string success = v.exit_code == 0 ? format_value(v.finished_at) : "0";
  if (v.exit_code != 0)
    if (Family* f = find_family(e, kMetrics[kSuccess].name))
      for (const auto& s : f->series)
        if (sorted(s.labels) == key) success = s.value;

  const std::string values[kMetricCount] = {
      format_value(v.finished_at),      success,
      format_value(v.duration_seconds), std::to_string(v.objects),
      std::to_string(v.bytes),          std::to_string(v.exit_code)};
  for (int m = 0; m < kMetricCount; ++m) {
    Family& f = family(e, kMetrics[m].name);
    f.help = kMetrics[m].help;  // these names are ours: our text wins
    f.type = "gauge";
    put_series(f, {all, values[m], {}});
  }
  return {};
}

namespace {

// flock(2) on "<file>.lock", released (and the descriptor closed) on scope exit.
class FileLock {
 public:
  static Result<FileLock> take(const fs::path& lock_path) {
    FileLock l;
    l.fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l.fd_ < 0)
      return Error::other("cannot open " + lock_path.string() + ": " + std::strerror(errno));
    while (::flock(l.fd_, LOCK_EX) != 0)
      if (errno != EINTR)
        return Error::other("cannot lock " + lock_path.string() + ": " + std::strerror(errno));
    return l;
  }
  FileLock(FileLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  FileLock() = default;
  int fd_ = -1;
};

}  // namespace

Status record(const fs::path& path, std::string_view operation, const Labels& labels,
              const RunValues& values) {
  // Check the labels before touching any file.
  Exposition probe;
  HSM_TRY(merge(probe, operation, labels, values));

  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    return Error::usage("the folder of the metrics file " + path.string() + " does not exist",
                        "create it, or give a metrics file in an existing folder (node_exporter's "
                        "--collector.textfile.directory)");
  if (fs::is_directory(path, ec))
    return Error::usage("the metrics file " + path.string() + " is a folder");

  HSM_TRY_ASSIGN(FileLock lock, FileLock::take(fs::path(path.string() + ".lock")));
  std::string old;
  if (fs::exists(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::other("cannot read the metrics file " + path.string());
    std::stringstream ss;
    ss << in.rdbuf();
    old = ss.str();
  }
  HSM_TRY_ASSIGN(Exposition e, parse(old, "metrics file " + path.string()));
  HSM_TRY(merge(e, operation, labels, values));
  const std::string text = render(e);
  formats::AtomicFileOptions opt;
  opt.overwrite = true;
  opt.mode = 0644;  // read by node_exporter's own user; it holds no secret
  return formats::write_file_atomic(path, text.data(), text.size(), opt);
}

}  // namespace hsm::tool::metrics
