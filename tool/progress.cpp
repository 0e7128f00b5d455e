#include "tool/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

namespace hsm::tool {

using Clock = ProgressOptions::Clock;

ProgressOptions ProgressOptions::for_stderr(bool silent) {
  ProgressOptions o;
  o.silent = silent;
  o.tty = ::isatty(STDERR_FILENO) == 1;
  if (o.tty) {
    struct winsize ws {};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) o.width = ws.ws_col;
  }
  return o;
}

Progress::Progress(std::ostream& out, ProgressOptions options)
    : out_(out), opt_(std::move(options)), active_(opt_.tty && !opt_.silent) {
  // Never ask the clock when nothing is drawn: a silent progress costs nothing.
  if (active_) phase_start_ = last_update_ = now();
}

Progress::~Progress() {
  clear();
}

Clock::time_point Progress::now() const {
  return opt_.clock ? opt_.clock() : Clock::now();
}

std::string Progress::format_duration(std::chrono::nanoseconds d) {
  const auto total = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  const long long s = total < 0 ? 0 : total;
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  return buf;
}

std::string Progress::format_line(std::string_view phase, std::uint64_t done, std::uint64_t total,
                                  std::chrono::nanoseconds elapsed, std::string_view unit,
                                  bool final) {
  std::string line(phase);
  line += ": " + std::to_string(done);
  if (total) line += "/" + std::to_string(total);
  line += " ";
  line += unit;
  if (total) {
    // Floor, so 100% means every item is done; long double keeps done*100 exact.
    long double pct = static_cast<long double>(done) * 100.0L / static_cast<long double>(total);
    if (pct > 100) pct = 100;
    line += " (" + std::to_string(static_cast<int>(pct)) + "%)";
  }
  const double secs = std::chrono::duration<double>(elapsed).count();
  double rate = 0;
  if (secs > 0 && done > 0) {
    rate = static_cast<double>(done) / secs;
    char buf[48];
    std::snprintf(buf, sizeof buf, rate < 10 ? "%.1f" : "%.0f", rate);
    line += ", " + std::string(buf) + "/s";
  }
  if (final) {
    line += ", in " + format_duration(elapsed);
  } else if (total && rate > 0) {
    const double left = done >= total ? 0 : static_cast<double>(total - done) / rate;
    line += ", ETA " + format_duration(std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::duration<double>(left)));
  }
  return line;
}

void Progress::update(std::string_view phase, std::uint64_t done, std::uint64_t total) {
  if (!active_) return;
  std::lock_guard lock(mu_);
  const auto t = now();
  if (!seen_ || phase != phase_) {
    // The new phase began when the one before it last reported (or when
    // this object was made): its rate counts from there, from zero.
    phase_ = phase;
    phase_start_ = last_update_;
    seen_ = true;
  }
  done_ = done;
  total_ = total;
  last_update_ = t;
  if (drawn_once_ && t - last_draw_ < opt_.interval) return;
  last_draw_ = t;
  drawn_once_ = true;
  draw_locked(format_line(phase_, done_, total_, t - phase_start_, opt_.unit, false));
}

Progress::Callback Progress::callback() {
  return [this](std::string_view phase, std::uint64_t done, std::uint64_t total) {
    update(phase, done, total);
  };
}

void Progress::draw_locked(const std::string& text) {
  std::string line = text;
  // One column short of the width: a line that fills the last column wraps
  // on many terminals, and '\r' would then redraw only its second half.
  if (opt_.width > 1 && line.size() > opt_.width - 1) line.resize(opt_.width - 1);
  const std::size_t shown = line.size();
  if (shown < line_width_) line.append(line_width_ - shown, ' ');
  out_ << '\r' << line << std::flush;
  line_width_ = shown;  // the padding left blanks beyond it
}

void Progress::clear() {
  if (!active_) return;
  std::lock_guard lock(mu_);
  if (line_width_ == 0) return;
  out_ << '\r' << std::string(line_width_, ' ') << '\r' << std::flush;
  line_width_ = 0;
}

void Progress::finish() {
  if (!active_) return;
  std::lock_guard lock(mu_);
  if (!seen_) return;
  draw_locked(format_line(phase_, done_, total_, last_update_ - phase_start_, opt_.unit, true));
  out_ << '\n' << std::flush;
  line_width_ = 0;
}

}  // namespace hsm::tool
