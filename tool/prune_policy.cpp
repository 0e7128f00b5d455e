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
    case Rule::daily: return "daily";
    case Rule::weekly: return "weekly";
    case Rule::monthly: return "monthly";
  }
  return "?";
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
  std::string s = std::to_string(static_cast<int>(ymd.year())) + "-" + two(static_cast<unsigned>(ymd.month()));
  if (rule == Rule::daily) s += "-" + two(static_cast<unsigned>(ymd.day()));
  return s;
}

std::vector<Decision> decide(std::vector<Candidate> candidates, const KeepCounts& keep) {
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.name > b.name;
  });
  std::vector<Decision> out;
  out.reserve(candidates.size());
  for (auto& c : candidates) out.push_back({std::move(c.name), c.created_at, {}});

  const std::array<std::pair<Rule, int>, 3> rules{
      {{Rule::daily, keep.daily}, {Rule::weekly, keep.weekly}, {Rule::monthly, keep.monthly}}};
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
  return out;
}

}  // namespace hsm::tool::prune
