// Retention of archives (`prune`), as pure selection: which archives of ONE
// series (one source partition) to keep, given their creation times. No file
// system here, so the unit tests can pin the semantics down; tool/prune_ops
// reads the times out of the archives and deletes.
//
// Semantics (restic `forget --keep-daily/-weekly/-monthly`; also in
// man/hsm-migrate.1, "prune"):
//  - Every time is a created_at in unix seconds and is read in UTC. A day is
//    a UTC calendar day, a week an ISO 8601 week (Monday to Sunday, the
//    ISO week-numbering year), a month a calendar month.
//  - Archives are walked newest first (created_at descending; equal times:
//    the greater name first). For each rule, the first archive met in a
//    period is that period's newest; it is kept for the rule while the rule
//    has kept fewer than N archives. So keep-daily N keeps the newest archive
//    of each of the N most recent days THAT HAVE ARCHIVES (days without
//    archives do not count, and "now" plays no part).
//  - The rules are independent: one archive may be kept by several rules
//    (the newest archive usually is daily, weekly and monthly at once) and it
//    still counts towards each of them.
//  - An archive kept by no rule is to be removed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hsm::tool::prune {

struct KeepCounts {
  int daily = 0;
  int weekly = 0;
  int monthly = 0;
  bool none() const { return daily <= 0 && weekly <= 0 && monthly <= 0; }
};

struct Candidate {
  std::string name;         // the file name (the tie-break for equal times)
  std::int64_t created_at;  // unix seconds, UTC
};

enum class Rule { daily, weekly, monthly };
const char* to_string(Rule r);

struct Reason {
  Rule rule;
  std::string period;  // "2026-11-23", "2026-W48", "2026-11"
  bool operator==(const Reason&) const = default;
};

struct Decision {
  std::string name;
  std::int64_t created_at = 0;
  std::vector<Reason> reasons;  // in the order daily, weekly, monthly; empty: remove
  bool keep() const { return !reasons.empty(); }
};

// The period `t` falls in, for `rule`, as text (formats above).
std::string period_of(Rule rule, std::int64_t t);

// One decision per candidate, newest first (the walking order above).
// Counts <= 0 keep nothing for that rule.
std::vector<Decision> decide(std::vector<Candidate> candidates, const KeepCounts& keep);

}  // namespace hsm::tool::prune
