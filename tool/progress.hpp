// One progress line for every long operation (issue 11, §4): phase,
// done/total, percent, rate and ETA, redrawn in place on a terminal at most
// once per `interval` (10 times a second by default), and nothing at all when
// the stream is not a terminal or the user asked for --quiet / --json.
//
// Feed it from any ArchiveProgress-shaped callback (tool/archive_ops.hpp):
//
//   Progress bar(std::cerr, ProgressOptions::for_stderr(ctx.opts.quiet || ctx.opts.json));
//   req.progress = bar.callback();
//   ... run ...
//   bar.clear();                     // the summary then starts on its own line
//   std::cout << summary;
//
// The line is redrawn with '\r' and blank padding, no terminal escapes, so it
// behaves on a dumb terminal too. Thread-safe: workers may call update().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>

namespace hsm::tool {

struct ProgressOptions {
  using Clock = std::chrono::steady_clock;

  bool tty = false;                          // the stream is a terminal; nothing is drawn otherwise
  bool silent = false;                       // --quiet or --json: nothing is drawn
  std::string unit = "objects";              // what `done` counts
  std::chrono::milliseconds interval{100};   // least time between two redraws
  std::size_t width = 0;                     // terminal columns; 0 = no limit
  std::function<Clock::time_point()> clock;  // empty = steady_clock::now (tests inject)

  // For std::cerr: tty and width from file descriptor 2.
  static ProgressOptions for_stderr(bool silent);
};

class Progress {
 public:
  using Callback =
      std::function<void(std::string_view phase, std::uint64_t done, std::uint64_t total)>;

  Progress(std::ostream& out, ProgressOptions options);
  // Clears a line still drawn, so an error message after an early return
  // does not land on the end of the progress line.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // False when nothing will ever be drawn (not a terminal, or silent).
  bool active() const { return active_; }

  // `done` of `total` in `phase`; total 0 means unknown (no percent, no
  // ETA). The rate is `done` over the phase's time: a phase starts when this
  // object is made or at the last update of the phase before it. Redraws
  // only when `interval` has passed since the last redraw.
  void update(std::string_view phase, std::uint64_t done, std::uint64_t total);
  // A callback that forwards to update(); it must not outlive this object.
  Callback callback();

  // Erases the line (blanks over it, cursor back to column 0), so what is
  // printed next -- the summary, a notice -- starts on its own line. A later
  // update() draws again. Does nothing when no line is drawn.
  void clear();
  // Draws the final state now (elapsed time instead of the ETA, average
  // rate) and ends the line with a newline, leaving it on the screen.
  void finish();

  // The text of one line, for the tests and for finish(). `elapsed` is the
  // phase's time so far; `final` puts "in <elapsed>" where the ETA goes.
  static std::string format_line(std::string_view phase, std::uint64_t done, std::uint64_t total,
                                 std::chrono::nanoseconds elapsed, std::string_view unit,
                                 bool final);
  // "0:07", "12:34", "1:02:03".
  static std::string format_duration(std::chrono::nanoseconds d);

 private:
  ProgressOptions::Clock::time_point now() const;
  void draw_locked(const std::string& line);  // caller holds mu_

  std::ostream& out_;
  ProgressOptions opt_;
  bool active_ = false;

  std::mutex mu_;
  std::string phase_;
  std::uint64_t done_ = 0;
  std::uint64_t total_ = 0;
  bool seen_ = false;  // an update arrived
  ProgressOptions::Clock::time_point phase_start_{};
  ProgressOptions::Clock::time_point last_update_{};
  ProgressOptions::Clock::time_point last_draw_{};
  bool drawn_once_ = false;     // last_draw_ is meaningful
  std::size_t line_width_ = 0;  // columns of the line on screen; 0 = none
};

}  // namespace hsm::tool
