// Retention of archives (`prune`), as pure selection: which archives of ONE
// series (one source partition) to keep, given their creation times. No file
// system here, so the unit tests can pin the semantics down; tool/prune_ops
// reads the times out of the archives and deletes.
//
// Semantics (restic `forget --keep-*`; also in man/hsm-migrate.1, "prune"):
//  - Every time is a created_at in unix seconds and is read in UTC. An hour
//    is a UTC clock hour, a day a UTC calendar day, a week an ISO 8601 week
//    (Monday to Sunday, the ISO week-numbering year), a month a calendar
//    month, a year a calendar year.
//  - Archives are walked newest first (created_at descending; equal times:
//    the greater name first). keep-last N keeps the N newest. For each
//    period rule, the first archive met in a period is that period's newest;
//    it is kept for the rule while the rule has kept fewer than N archives.
//    So keep-daily N keeps the newest archive of each of the N most recent
//    days THAT HAVE ARCHIVES (days without archives do not count, and "now"
//    plays no part). keep-within D keeps every archive made within D of the
//    NEWEST archive (not of now: a backup that stopped running does not
//    empty the folder).
//  - The rules are independent: one archive may be kept by several rules
//    (the newest archive usually is daily, weekly and monthly at once) and it
//    still counts towards each of them.
//  - Safety: the newest archive is always kept (reason "newest"), whatever
//    the counts; callers pass only archives that verified.
//  - An archive kept by no rule is to be removed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hsm::tool::prune {

// A keep-within duration, restic's form: "1y2m3d4h" (any subset, in this
// order, each a whole number): calendar years and months, days, hours.
struct Duration {
  int years = 0, months = 0, days = 0, hours = 0;
  bool zero() const { return years == 0 && months == 0 && days == 0 && hours == 0; }
};
// nullopt on anything else (empty, unknown unit, repeated or out-of-order
// units, a number over 100000).
std::optional<Duration> parse_duration(std::string_view text);
std::string to_string(const Duration& d);
// t minus d, calendar-aware (months and years as Go's AddDate: Mar 31 minus
// one month is Mar 3, after Feb 31 overflows).
std::int64_t minus(std::int64_t t, const Duration& d);

struct KeepCounts {
  int last = 0;
  int hourly = 0;
  int daily = 0;
  int weekly = 0;
  int monthly = 0;
  int yearly = 0;
  Duration within;
  bool none() const {
    return last <= 0 && hourly <= 0 && daily <= 0 && weekly <= 0 && monthly <= 0 && yearly <= 0 && within.zero();
  }
  bool negative() const { return last < 0 || hourly < 0 || daily < 0 || weekly < 0 || monthly < 0 || yearly < 0; }
};

struct Candidate {
  std::string name;         // the file name (the tie-break for equal times)
  std::int64_t created_at;  // unix seconds, UTC
};

enum class Rule { last, hourly, daily, weekly, monthly, yearly, within, newest };
const char* to_string(Rule r);

struct Reason {
  Rule rule;
  // "2026-11-23T14", "2026-11-23", "2026-W48", "2026-11", "2026"; for last
  // the rank ("1" is the newest), for within the duration, for newest "".
  std::string period;
  bool operator==(const Reason&) const = default;
};

struct Decision {
  std::string name;
  std::int64_t created_at = 0;
  std::vector<Reason> reasons;  // in the order of Rule; empty: remove
  bool keep() const { return !reasons.empty(); }
};

// The period `t` falls in, for a period rule (hourly .. yearly), as text.
std::string period_of(Rule rule, std::int64_t t);

// One decision per candidate, newest first (the walking order above).
// Counts <= 0 keep nothing for that rule.
std::vector<Decision> decide(std::vector<Candidate> candidates, const KeepCounts& keep);

}  // namespace hsm::tool::prune
