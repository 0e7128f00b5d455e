// The node_exporter textfile (tool/metrics.hpp, issue 11 §6): the series a
// run writes, the merge that keeps other partitions' series, escaping, atomic
// replacement, and acceptance by Prometheus's own parser (promtool, Debian
// package prometheus: the same expfmt parser node_exporter's textfile
// collector uses). A machine without promtool FAILS these tests.
#include "tool/metrics.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace hsm::tool::metrics {
namespace {

namespace fs = std::filesystem;

class MetricsFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hsm-metrics-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    file_ = dir_ / "hsm-migrate.prom";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string read(const fs::path& p) const {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void write(const fs::path& p, const std::string& text) const {
    std::ofstream(p, std::ios::binary) << text;
  }
  // Runs promtool's parser and linter over `text`; returns its exit status
  // and puts what it printed in `output`.
  int promtool(const std::string& text, std::string& output) const {
    const fs::path in = dir_ / "promtool-in.txt";
    const fs::path out = dir_ / "promtool-out.txt";
    write(in, text);
    const std::string cmd =
        "promtool check metrics < '" + in.string() + "' > '" + out.string() + "' 2>&1";
    const int status = std::system(cmd.c_str());
    output = read(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  fs::path dir_;
  fs::path file_;
};

RunValues run(double at, double secs, std::uint64_t objects, std::uint64_t bytes, int code) {
  return {at, secs, objects, bytes, code};
}

TEST_F(MetricsFile, AFirstRecordWritesEverySeriesWithHelpAndType) {
  ASSERT_TRUE(record(file_, "backup", {{"partition", "prod/app"}},
                     run(1732240800.5, 12.25, 290, 81920, 0)));
  EXPECT_EQ(
      read(file_),
      "# HELP hsm_migrate_last_run_timestamp_seconds Unix time the last run of the operation "
      "ended.\n"
      "# TYPE hsm_migrate_last_run_timestamp_seconds gauge\n"
      "hsm_migrate_last_run_timestamp_seconds{operation=\"backup\",partition=\"prod/app\"} "
      "1732240800.5\n"
      "# HELP hsm_migrate_last_success_timestamp_seconds Unix time the last successful run of the "
      "operation ended (0: never succeeded).\n"
      "# TYPE hsm_migrate_last_success_timestamp_seconds gauge\n"
      "hsm_migrate_last_success_timestamp_seconds{operation=\"backup\",partition=\"prod/app\"} "
      "1732240800.5\n"
      "# HELP hsm_migrate_last_duration_seconds Duration of the last run of the operation.\n"
      "# TYPE hsm_migrate_last_duration_seconds gauge\n"
      "hsm_migrate_last_duration_seconds{operation=\"backup\",partition=\"prod/app\"} 12.25\n"
      "# HELP hsm_migrate_last_objects Objects the last run of the operation handled.\n"
      "# TYPE hsm_migrate_last_objects gauge\n"
      "hsm_migrate_last_objects{operation=\"backup\",partition=\"prod/app\"} 290\n"
      "# HELP hsm_migrate_last_bytes Bytes the last run of the operation wrote or read.\n"
      "# TYPE hsm_migrate_last_bytes gauge\n"
      "hsm_migrate_last_bytes{operation=\"backup\",partition=\"prod/app\"} 81920\n"
      "# HELP hsm_migrate_last_exit_code Exit code of the last run of the operation (0 success).\n"
      "# TYPE hsm_migrate_last_exit_code gauge\n"
      "hsm_migrate_last_exit_code{operation=\"backup\",partition=\"prod/app\"} 0\n");
}

TEST_F(MetricsFile, ABackupOfP1KeepsTheSeriesOfP2) {
  ASSERT_TRUE(record(file_, "backup", {{"partition", "hsm-a/p1"}}, run(1000, 1, 10, 100, 0)));
  ASSERT_TRUE(record(file_, "backup", {{"partition", "hsm-a/p2"}}, run(2000, 2, 20, 200, 0)));
  ASSERT_TRUE(
      record(file_, "verify", {{"source", "/var/backups/p1.hsmar"}}, run(2500, 3, 10, 100, 0)));
  ASSERT_TRUE(record(file_, "backup", {{"partition", "hsm-a/p1"}}, run(3000, 4, 11, 110, 0)));

  auto e = parse(read(file_), "test");
  ASSERT_TRUE(e) << e.error().message;
  const Family* objects = nullptr;
  for (const auto& f : e->families)
    if (f.name == "hsm_migrate_last_objects") objects = &f;
  ASSERT_NE(objects, nullptr);
  std::map<std::string, std::string> by;
  for (const auto& s : objects->series) {
    std::string key;
    for (const auto& [k, v] : s.labels) key += k + "=" + v + ";";
    by[key] = s.value;
  }
  EXPECT_EQ(by, (std::map<std::string, std::string>{
                    {"operation=backup;partition=hsm-a/p1;", "11"},
                    {"operation=backup;partition=hsm-a/p2;", "20"},
                    {"operation=verify;source=/var/backups/p1.hsmar;", "10"}}));
  // Each series once: the p1 record replaced its old line instead of adding one.
  const std::string text = read(file_);
  std::size_t n = 0;
  for (std::size_t at = 0;
       (at = text.find("hsm_migrate_last_run_timestamp_seconds{", at)) != std::string::npos; ++at)
    ++n;
  EXPECT_EQ(n, 3u);
}

TEST_F(MetricsFile, LabelOrderDoesNotMakeANewSeries) {
  ASSERT_TRUE(
      record(file_, "plan", {{"plan", "nightly"}, {"partition", "prod/app"}}, run(1, 1, 1, 1, 0)));
  ASSERT_TRUE(
      record(file_, "plan", {{"partition", "prod/app"}, {"plan", "nightly"}}, run(2, 1, 5, 1, 0)));
  auto e = parse(read(file_), "test");
  ASSERT_TRUE(e);
  for (const auto& f : e->families) EXPECT_EQ(f.series.size(), 1u) << f.name;
}

TEST_F(MetricsFile, AFailedRunKeepsTheLastSuccessTime) {
  ASSERT_TRUE(record(file_, "backup", {{"partition", "p"}}, run(1000, 1, 10, 100, 0)));
  ASSERT_TRUE(record(file_, "backup", {{"partition", "p"}}, run(2000, 1, 0, 0, 4)));
  const std::string text = read(file_);
  EXPECT_NE(text.find("hsm_migrate_last_success_timestamp_seconds{operation=\"backup\",partition="
                      "\"p\"} 1000\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          "hsm_migrate_last_run_timestamp_seconds{operation=\"backup\",partition=\"p\"} 2000\n"),
      std::string::npos);
  EXPECT_NE(text.find("hsm_migrate_last_exit_code{operation=\"backup\",partition=\"p\"} 4\n"),
            std::string::npos);
}

TEST_F(MetricsFile, NeverSucceededIsZeroSoAnAgeAlertFires) {
  ASSERT_TRUE(record(file_, "drill", {{"source", "a.hsmar"}}, run(2000, 1, 0, 0, 1)));
  EXPECT_NE(
      read(file_).find(
          "hsm_migrate_last_success_timestamp_seconds{operation=\"drill\",source=\"a.hsmar\"} 0\n"),
      std::string::npos);
}

TEST_F(MetricsFile, LabelValuesAreEscapedAndReadBack) {
  const std::string tricky = "C:\\backups\\\"night\"\nly";
  ASSERT_TRUE(record(file_, "prune", {{"source", tricky}}, run(5, 0.125, 3, 0, 0)));
  const std::string text = read(file_);
  EXPECT_NE(
      text.find("{operation=\"prune\",source=\"C:\\\\backups\\\\\\\"night\\\"\\nly\"} 0.125\n"),
      std::string::npos)
      << text;
  // And a second record finds the same series through the escapes.
  ASSERT_TRUE(record(file_, "prune", {{"source", tricky}}, run(6, 0.25, 4, 0, 0)));
  auto e = parse(read(file_), "test");
  ASSERT_TRUE(e);
  for (const auto& f : e->families) {
    ASSERT_EQ(f.series.size(), 1u) << f.name;
    EXPECT_EQ(f.series[0].labels[1].second, tricky);
  }
}

TEST_F(MetricsFile, OtherWritersFamiliesAndCommentsSurviveARecord) {
  write(file_,
        "# a comment\n"
        "# HELP other_total Something another job counts.\n"
        "# TYPE other_total counter\n"
        "other_total{job=\"x\"} 42 1700000000000\n"
        "bare_metric 1.5e3\n");
  ASSERT_TRUE(record(file_, "backup", {{"partition", "p"}}, run(1, 1, 1, 1, 0)));
  const std::string text = read(file_);
  EXPECT_EQ(text.substr(0, text.find("# HELP hsm_migrate")),
            "# HELP other_total Something another job counts.\n"
            "# TYPE other_total counter\n"
            "other_total{job=\"x\"} 42 1700000000000\n"
            "bare_metric 1.5e3\n");
}

TEST_F(MetricsFile, ACorruptFileIsRefusedByLineAndLeftAlone) {
  const std::string corrupt = "hsm_migrate_last_objects{operation=\"backup\" 3\n";
  write(file_, "# TYPE hsm_migrate_last_objects gauge\n" + corrupt);
  auto st = record(file_, "backup", {{"partition", "p"}}, run(1, 1, 1, 1, 0));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, api::ErrorKind::usage);
  EXPECT_NE(st.error().message.find("line 2"), std::string::npos) << st.error().message;
  EXPECT_EQ(read(file_), "# TYPE hsm_migrate_last_objects gauge\n" + corrupt);
}

TEST_F(MetricsFile, BadLabelNamesAreRefusedBeforeAnyFileIsTouched) {
  for (const std::string bad : {"9lives", "has-dash", "__reserved", "operation", ""}) {
    auto st = record(file_, "backup", {{bad, "v"}}, run(1, 1, 1, 1, 0));
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().kind, api::ErrorKind::usage) << bad;
  }
  EXPECT_FALSE(record(file_, "", {}, run(1, 1, 1, 1, 0)));
  EXPECT_TRUE(fs::is_empty(dir_)) << "nothing written, not even the lock file";
}

TEST_F(MetricsFile, AMissingFolderIsAUsageError) {
  auto st = record(dir_ / "absent" / "m.prom", "backup", {}, run(1, 1, 1, 1, 0));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, api::ErrorKind::usage);
  EXPECT_NE(st.error().message.find("does not exist"), std::string::npos);
}

TEST_F(MetricsFile, ReplacedAtomicallyReadableByNodeExporterNoTempFileLeft) {
  ASSERT_TRUE(record(file_, "backup", {{"partition", "p"}}, run(1, 1, 1, 1, 0)));
  struct stat before {};
  ASSERT_EQ(::stat(file_.c_str(), &before), 0);
  ASSERT_TRUE(record(file_, "backup", {{"partition", "q"}}, run(2, 1, 1, 1, 0)));
  struct stat after {};
  ASSERT_EQ(::stat(file_.c_str(), &after), 0);
  // A new inode: the file was renamed over, never rewritten in place, so the
  // collector reads the old text or the new, never half of one.
  EXPECT_NE(before.st_ino, after.st_ino);
  EXPECT_EQ(after.st_mode & 0777, 0644u);
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.insert(e.path().filename().string());
  // Only *.prom is collected: the lock file is harmless, and no temp file stays.
  EXPECT_EQ(names, (std::set<std::string>{"hsm-migrate.prom", "hsm-migrate.prom.lock"}));
}

TEST_F(MetricsFile, ConcurrentRecordsLoseNoSeries) {
  // Eight runs on eight partitions recording at once (separate cron jobs):
  // without the lock, read-merge-rename loses whichever wrote in between.
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int w = 0; w < 8; ++w)
    workers.emplace_back([&, w] {
      for (int i = 0; i < 25; ++i)
        if (!record(file_, "backup", {{"partition", "hsm/p" + std::to_string(w)}},
                    run(i, 1, i, 1, 0)))
          ++failures;
    });
  for (auto& t : workers) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto e = parse(read(file_), "test");
  ASSERT_TRUE(e);
  for (const auto& f : e->families) {
    ASSERT_EQ(f.series.size(), 8u) << f.name;
    if (f.name == "hsm_migrate_last_objects") {
      for (const auto& s : f.series) EXPECT_EQ(s.value, "24");
    }
  }
}

TEST(MetricsValue, NumbersReadBackExactly) {
  EXPECT_EQ(format_value(1732240800), "1732240800");
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1732240800.125), "1732240800.125");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(format_value(-INFINITY), "-Inf");
}

TEST(MetricsParse, RejectsWhatTheTextFormatForbids) {
  EXPECT_FALSE(parse("m{a=\"1\"} notanumber\n", "t"));
  EXPECT_FALSE(parse("m{a=1} 1\n", "t"));
  EXPECT_FALSE(parse("m{a=\"\\q\"} 1\n", "t"));
  EXPECT_FALSE(parse("# TYPE m gauge\n# TYPE m gauge\nm 1\n", "t"));
  EXPECT_FALSE(parse("# TYPE m bogus\n", "t"));
  EXPECT_FALSE(parse("m 1 2 3\n", "t"));
  EXPECT_TRUE(parse("m{a=\"1\",} 1\n\n  # just a comment\nn +Inf\n", "t"));
}

TEST_F(MetricsFile, PromtoolAcceptsTheFile) {
  ASSERT_TRUE(record(file_, "backup", {{"partition", "prod/app"}},
                     run(1732240800.5, 12.25, 290, 81920, 0)));
  ASSERT_TRUE(
      record(file_, "verify", {{"source", "C:\\a \"b\"\nc"}}, run(1732240900, 3, 290, 81920, 4)));
  ASSERT_TRUE(record(file_, "plan", {{"plan", "nightly-backup"}}, run(1732241000, 60, 10, 0, 0)));
  std::string out;
  const int rc = promtool(read(file_), out);
  ASSERT_NE(rc, 127) << "promtool is missing: apt-get install prometheus (see .ci/install-deps)";
  // Exit 0 and no output: parsed, and no lint complaint (names, units, HELP).
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << out;
}

TEST_F(MetricsFile, PromtoolRejectsABrokenFileSoTheCheckAboveCanFail) {
  std::string out;
  const int rc = promtool("hsm_migrate_last_objects{operation=\"backup\" 3\n", out);
  ASSERT_NE(rc, 127) << "promtool is missing: apt-get install prometheus (see .ci/install-deps)";
  EXPECT_NE(rc, 0) << out;
}

}  // namespace
}  // namespace hsm::tool::metrics
