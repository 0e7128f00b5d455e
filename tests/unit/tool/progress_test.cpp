// The progress line (tool/progress.hpp, issue 11 §4): drawn on a terminal
// only, at most once per interval of an injected clock, with percent, rate and
// ETA, and out of the way (cleared, or ended by a newline) before a summary.
#include "tool/progress.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace hsm::tool {
namespace {

using namespace std::chrono_literals;
using Clock = ProgressOptions::Clock;

// A clock the test moves by hand, counting how often it is read.
struct FakeClock {
  Clock::time_point t{};
  int reads = 0;
  std::function<Clock::time_point()> fn() {
    return [this] {
      ++reads;
      return t;
    };
  }
};

ProgressOptions on_terminal(FakeClock& clock) {
  ProgressOptions o;
  o.tty = true;
  o.clock = clock.fn();
  return o;
}

// What a terminal shows for `raw`: '\r' returns to column 0 and later
// characters overwrite, '\n' starts a new line. Trailing blanks are dropped.
std::vector<std::string> screen(const std::string& raw) {
  std::vector<std::string> lines(1);
  std::size_t col = 0;
  for (char c : raw) {
    if (c == '\r') {
      col = 0;
    } else if (c == '\n') {
      lines.emplace_back();
      col = 0;
    } else {
      std::string& l = lines.back();
      if (col < l.size())
        l[col] = c;
      else
        l.push_back(c);
      ++col;
    }
  }
  for (auto& l : lines) l.erase(l.find_last_not_of(' ') + 1);
  if (lines.back().empty()) lines.pop_back();
  return lines;
}

std::size_t redraws(const std::string& raw) {
  std::size_t n = 0;
  for (char c : raw) n += c == '\r';
  return n;
}

TEST(Progress, DrawsNothingWhenStderrIsNotATerminal) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions o = on_terminal(clock);
  o.tty = false;
  {
    Progress p(out, o);
    EXPECT_FALSE(p.active());
    for (std::uint64_t i = 0; i <= 1000; ++i) {
      clock.t += 50ms;
      p.update("backup", i, 1000);
    }
    p.clear();
    p.finish();
  }
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(clock.reads, 0) << "a silent progress must not even read the clock";
}

TEST(Progress, DrawsNothingWithQuietOrJson) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions o = on_terminal(clock);
  o.silent = true;  // what for_stderr(ctx.opts.quiet || ctx.opts.json) sets
  {
    Progress p(out, o);
    EXPECT_FALSE(p.active());
    clock.t += 1s;
    p.update("restore", 5, 10);
    p.finish();
  }
  EXPECT_EQ(out.str(), "");
}

TEST(Progress, ForStderrIsSilentWhenAskedAndReadsTheTerminal) {
  // Under ctest stderr is a pipe or a file, not a terminal.
  const ProgressOptions o = ProgressOptions::for_stderr(false);
  EXPECT_EQ(o.tty, ::isatty(2) == 1);
  EXPECT_FALSE(o.silent);
  EXPECT_TRUE(ProgressOptions::for_stderr(true).silent);
}

TEST(Progress, RedrawsAtMostTenTimesASecond) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, on_terminal(clock));
  // 2000 updates a millisecond apart: two seconds of a fast operation.
  for (std::uint64_t i = 1; i <= 2000; ++i) {
    clock.t += 1ms;
    p.update("clone", i, 2000);
  }
  // One redraw per 100 ms: at 1 ms, 101 ms, ..., 1901 ms.
  EXPECT_EQ(redraws(out.str()), 20u);
}

TEST(Progress, RedrawsAgainOnlyOnceTheIntervalHasPassed) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, on_terminal(clock));
  p.update("verify", 1, 10);
  EXPECT_EQ(redraws(out.str()), 1u) << "the first update draws at once";
  clock.t += 99ms;
  p.update("verify", 2, 10);
  EXPECT_EQ(redraws(out.str()), 1u);
  clock.t += 1ms;
  p.update("verify", 3, 10);
  EXPECT_EQ(redraws(out.str()), 2u);
  EXPECT_EQ(screen(out.str()).back().substr(0, 13), "verify: 3/10 ");
}

TEST(Progress, ShowsPhaseCountPercentRateAndEta) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, on_terminal(clock));
  clock.t += 10s;
  p.update("restore", 250, 1000);  // 25 per second, 750 to go: 30 s
  EXPECT_EQ(screen(out.str()),
            std::vector<std::string>{"restore: 250/1000 objects (25%), 25/s, ETA 0:30"});
}

TEST(Progress, EtaOfAnHourOrMoreHasHours) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions o = on_terminal(clock);
  o.unit = "keys";
  Progress p(out, o);
  clock.t += 100s;
  p.update("generate", 100, 5000);  // 1 per second, 4900 s to go
  EXPECT_EQ(screen(out.str()).back(), "generate: 100/5000 keys (2%), 1.0/s, ETA 1:21:40");
}

TEST(Progress, UnknownTotalShowsCountAndRateOnly) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, on_terminal(clock));
  clock.t += 4s;
  p.update("drill", 2048, 0);
  const std::string line = screen(out.str()).back();
  EXPECT_EQ(line, "drill: 2048 objects, 512/s");
  EXPECT_EQ(line.find('%'), std::string::npos);
  EXPECT_EQ(line.find("ETA"), std::string::npos);
}

TEST(Progress, PercentIsFlooredAndCapped) {
  EXPECT_EQ(Progress::format_line("seal", 999, 1000, 1s, "objects", false),
            "seal: 999/1000 objects (99%), 999/s, ETA 0:00");
  EXPECT_EQ(Progress::format_line("seal", 1200, 1000, 1s, "objects", false),
            "seal: 1200/1000 objects (100%), 1200/s, ETA 0:00");
  // No time has passed yet: no rate, so no ETA either.
  EXPECT_EQ(Progress::format_line("seal", 0, 1000, 0s, "objects", false),
            "seal: 0/1000 objects (0%)");
}

TEST(Progress, ANewPhaseRestartsTheRate) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, on_terminal(clock));
  clock.t += 10s;
  p.update("open", 1000, 1000);  // 100/s
  clock.t += 2s;
  p.update("drill", 400, 1000);  // the drill began at the open's last report: 200/s
  EXPECT_EQ(screen(out.str()).back(), "drill: 400/1000 objects (40%), 200/s, ETA 0:03");
}

TEST(Progress, ClearLeavesTheSummaryOnItsOwnLine) {
  FakeClock clock;
  std::ostringstream out;
  {
    Progress p(out, on_terminal(clock));
    clock.t += 3s;
    p.update("drill", 199680, 0);
    p.clear();
    out << "drill of p1-20261122.hsmar: 199680 objects restored and checked\n";
  }
  const std::string raw = out.str();
  EXPECT_EQ(screen(raw), std::vector<std::string>{
                             "drill of p1-20261122.hsmar: 199680 objects restored and checked"});
  // The bug this guards: "drill 199680drill of ..." -- the summary glued on.
  EXPECT_EQ(raw.find("199680drill"), std::string::npos);
}

TEST(Progress, FinishKeepsTheFinalLineAndEndsItWithANewline) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, on_terminal(clock));
  clock.t += 5s;
  p.update("backup", 500, 1000);
  clock.t += 5s;
  p.update("backup", 1000, 1000);
  p.finish();
  const std::string raw = out.str();
  ASSERT_FALSE(raw.empty());
  EXPECT_EQ(raw.back(), '\n');
  out << "backup of prod/app: 1000 objects\n";
  EXPECT_EQ(screen(out.str()),
            (std::vector<std::string>{"backup: 1000/1000 objects (100%), 100/s, in 0:10",
                                      "backup of prod/app: 1000 objects"}));
}

TEST(Progress, FinishWithoutAnyUpdatePrintsNothing) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, on_terminal(clock));
  p.finish();
  p.clear();
  EXPECT_EQ(out.str(), "");
}

TEST(Progress, AShorterLineBlanksOutTheLongerOneBeforeIt) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, on_terminal(clock));
  clock.t += 1s;
  p.update("a-rather-long-phase-name", 5, 10);
  clock.t += 1s;
  p.update("seal", 1, 0);
  EXPECT_EQ(screen(out.str()), std::vector<std::string>{"seal: 1 objects, 1.0/s"});
}

TEST(Progress, DestructorClearsALineStillDrawn) {
  FakeClock clock;
  std::ostringstream out;
  {
    Progress p(out, on_terminal(clock));
    clock.t += 1s;
    p.update("clone", 7, 9);
  }  // an early return on error, say
  out << "hsm-migrate: error: lost the device\n";
  EXPECT_EQ(screen(out.str()), std::vector<std::string>{"hsm-migrate: error: lost the device"});
}

TEST(Progress, StaysWithinTheTerminalWidth) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions o = on_terminal(clock);
  o.width = 20;
  Progress p(out, o);
  clock.t += 1s;
  p.update("restore", 250, 1000);
  const auto lines = screen(out.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "restore: 250/1000 o");  // 19 columns: the last one would wrap
}

TEST(Progress, CallbackHasTheArchiveProgressShape) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, on_terminal(clock));
  // The shape of ArchiveProgress (tool/archive_ops.hpp) and of the other
  // operations' callbacks: assignable without an adapter.
  std::function<void(std::string_view, std::uint64_t, std::uint64_t)> cb = p.callback();
  clock.t += 2s;
  cb("verify", 10, 20);
  EXPECT_EQ(screen(out.str()).back(), "verify: 10/20 objects (50%), 5.0/s, ETA 0:02");
}

TEST(Progress, DurationsReadAsClockTimes) {
  EXPECT_EQ(Progress::format_duration(0s), "0:00");
  EXPECT_EQ(Progress::format_duration(7s), "0:07");
  EXPECT_EQ(Progress::format_duration(754s), "12:34");
  EXPECT_EQ(Progress::format_duration(3723s), "1:02:03");
  EXPECT_EQ(Progress::format_duration(-5s), "0:00");
}

}  // namespace
}  // namespace hsm::tool
