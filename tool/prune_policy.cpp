// Retention selection (semantics in prune_policy.hpp). Calendar arithmetic
// through <chrono> (proleptic Gregorian, UTC), not gmtime: no time zone or
// locale can change which period an archive falls in.
#include "tool/prune_policy.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

namespace hsm::tool::prune {
namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::sys_seconds;
using std::chrono::year_month_day;

sys_days day_of(std::int64_t t) {
  return std::chrono::floor<days>(sys_seconds{std::chrono::seconds{t}});
}

std::string two(unsigned v) {
  char buf[4];
  std::snprintf(buf, sizeof buf, "%02u", v % 100);
  return buf;
}

}  // namespace

const char* to_string(Rule r) {
  switch (r) {
    case Rule::last: return "last";
    case Rule::hourly: return "hourly";
    case Rule::daily: return "daily";
    case Rule::weekly: return "weekly";
    case Rule::monthly: return "monthly";
    case Rule::yearly: return "yearly";
    case Rule::within: return "within";
    case Rule::newest: return "newest";
  }
  return "?";
}

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  Duration d;
  const std::string_view units = "ymdh";
  std::size_t next_unit = 0;  // units must come in this order, each once
  std::size_t i = 0;
  while (i < text.size()) {
    long v = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      v = v * 10 + (text[i] - '0');
      if (v > 100000) return std::nullopt;
      ++i;
      ++digits;
    }
    if (digits == 0 || i == text.size()) return std::nullopt;
    const std::size_t u = units.find(text[i], next_unit);
    if (u == std::string_view::npos) return std::nullopt;
    int* field[] = {&d.years, &d.months, &d.days, &d.hours};
    *field[u] = static_cast<int>(v);
    next_unit = u + 1;
    ++i;
  }
  return d;
}

std::string to_string(const Duration& d) {
  std::string s;
  if (d.years) s += std::to_string(d.years) + "y";
  if (d.months) s += std::to_string(d.months) + "m";
  if (d.days) s += std::to_string(d.days) + "d";
  if (d.hours || s.empty()) s += std::to_string(d.hours) + "h";
  return s;
}

std::int64_t minus(std::int64_t t, const Duration& d) {
  const sys_seconds at{std::chrono::seconds{t}};
  const sys_days day = std::chrono::floor<days>(at);
  const auto time_of_day = at - day;
  const year_month_day ymd{day};
  // Years and months on the calendar, then the day of the month added back
  // as days (so an overflow normalises forward, as Go's AddDate does).
  const std::chrono::year_month first =
      std::chrono::year_month{ymd.year(), ymd.month()} - std::chrono::years{d.years} - std::chrono::months{d.months};
  const sys_days shifted = sys_days{first / 1} + days{static_cast<unsigned>(ymd.day()) - 1} - days{d.days};
  return (shifted + time_of_day - std::chrono::hours{d.hours}).time_since_epoch().count();
}

std::string period_of(Rule rule, std::int64_t t) {
  const sys_days d = day_of(t);
  if (rule == Rule::weekly) {
    // ISO 8601: a week belongs to the year that holds its Thursday, and
    // week 1 is the week holding that year's first Thursday.
    const unsigned iso_wd = std::chrono::weekday{d}.iso_encoding();  // Monday 1 .. Sunday 7
    const sys_days thursday = d + days{4 - static_cast<int>(iso_wd)};
    const std::chrono::year y = year_month_day{thursday}.year();
    const sys_days jan1 = sys_days{y / std::chrono::January / 1};
    const auto week = static_cast<unsigned>((thursday - jan1).count() / 7 + 1);
    return std::to_string(static_cast<int>(y)) + "-W" + two(week);
  }
  const year_month_day ymd{d};
  std::string s = std::to_string(static_cast<int>(ymd.year()));
  if (rule == Rule::yearly) return s;
  s += "-" + two(static_cast<unsigned>(ymd.month()));
  if (rule == Rule::monthly) return s;
  s += "-" + two(static_cast<unsigned>(ymd.day()));
  if (rule == Rule::daily) return s;
  const auto hour = std::chrono::floor<std::chrono::hours>(sys_seconds{std::chrono::seconds{t}} - d).count();
  return s + "T" + two(static_cast<unsigned>(hour));
}

std::vector<Decision> decide(std::vector<Candidate> candidates, const KeepCounts& keep) {
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.name > b.name;
  });
  std::vector<Decision> out;
  out.reserve(candidates.size());
  for (auto& c : candidates) out.push_back({std::move(c.name), c.created_at, {}});
  if (out.empty()) return out;

  for (int i = 0; i < keep.last && i < static_cast<int>(out.size()); ++i)
    out[static_cast<std::size_t>(i)].reasons.push_back({Rule::last, std::to_string(i + 1)});
  const std::array<std::pair<Rule, int>, 5> rules{{{Rule::hourly, keep.hourly},
                                                   {Rule::daily, keep.daily},
                                                   {Rule::weekly, keep.weekly},
                                                   {Rule::monthly, keep.monthly},
                                                   {Rule::yearly, keep.yearly}}};
  for (const auto& [rule, n] : rules) {
    int kept = 0;
    std::string last;  // the period of the previous archive (walking newest first)
    for (auto& d : out) {
      if (kept >= n) break;
      std::string period = period_of(rule, d.created_at);
      if (period == last) continue;  // an older archive of a period already met
      last = period;
      d.reasons.push_back({rule, std::move(period)});
      ++kept;
    }
  }
  if (!keep.within.zero()) {
    const std::int64_t since = minus(out.front().created_at, keep.within);
    for (auto& d : out)
      if (d.created_at >= since) d.reasons.push_back({Rule::within, to_string(keep.within)});
  }
  // Safety: the newest archive of the series is never removed.
  if (!out.front().keep()) out.front().reasons.push_back({Rule::newest, ""});
  return out;
}

}  // namespace hsm::tool::prune
