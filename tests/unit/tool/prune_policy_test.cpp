// Retention selection (tool/prune_policy.hpp): the semantics documented in
// man/hsm-migrate.1 ("prune"), pinned case by case with hand-written dates.
#include "tool/prune_policy.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <map>
#include <set>

namespace hsm::tool::prune {
namespace {

// "YYYY-MM-DD HH:MM" in UTC -> unix seconds, through the C library (timegm),
// not through the code under test.
std::int64_t utc(const char* text) {
  std::tm tm{};
  if (std::sscanf(text, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min) != 5)
    throw std::runtime_error(std::string("bad date in test: ") + text);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(::timegm(&tm));
}

std::vector<Candidate> at(const std::vector<std::pair<const char*, const char*>>& named) {
  std::vector<Candidate> out;
  for (const auto& [name, when] : named) out.push_back({name, utc(when)});
  return out;
}

std::set<std::string> kept(const std::vector<Decision>& ds) {
  std::set<std::string> out;
  for (const auto& d : ds)
    if (d.keep()) out.insert(d.name);
  return out;
}

std::map<std::string, std::vector<std::string>> reasons(const std::vector<Decision>& ds) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& d : ds)
    for (const auto& r : d.reasons) out[d.name].push_back(std::string(to_string(r.rule)) + " " + r.period);
  return out;
}

TEST(PrunePolicy, PeriodsAreUtcDaysIsoWeeksAndMonths) {
  EXPECT_EQ(period_of(Rule::daily, 1700000000), "2023-11-14");  // 22:13:20Z
  EXPECT_EQ(period_of(Rule::daily, utc("2026-11-23 23:59") + 59), "2026-11-23");
  EXPECT_EQ(period_of(Rule::daily, utc("2026-11-24 00:00")), "2026-11-24");
  EXPECT_EQ(period_of(Rule::daily, -1), "1969-12-31");
  EXPECT_EQ(period_of(Rule::monthly, utc("2026-02-28 12:00")), "2026-02");
  EXPECT_EQ(period_of(Rule::monthly, utc("2024-02-29 12:00")), "2024-02");
  // ISO weeks: Monday to Sunday, the year of the week's Thursday.
  EXPECT_EQ(period_of(Rule::weekly, utc("2026-11-23 00:00")), "2026-W48");  // a Monday
  EXPECT_EQ(period_of(Rule::weekly, utc("2026-11-22 23:59")), "2026-W47");  // the Sunday before
  EXPECT_EQ(period_of(Rule::weekly, utc("2020-12-31 10:00")), "2020-W53");
  EXPECT_EQ(period_of(Rule::weekly, utc("2021-01-03 10:00")), "2020-W53");  // Sunday, still 2020's
  EXPECT_EQ(period_of(Rule::weekly, utc("2021-01-04 10:00")), "2021-W01");
  EXPECT_EQ(period_of(Rule::weekly, utc("2024-12-30 10:00")), "2025-W01");  // Monday of 2025's week 1
  EXPECT_EQ(period_of(Rule::weekly, utc("2027-01-01 10:00")), "2026-W53");
  EXPECT_EQ(period_of(Rule::weekly, utc("2026-01-01 10:00")), "2026-W01");  // a Thursday
}

TEST(PrunePolicy, DailyKeepsTheNewestOfEachOfTheLastNDaysThatHaveArchives) {
  auto ds = decide(at({{"a", "2026-11-01 02:00"},
                       {"b", "2026-11-03 02:00"},
                       {"c", "2026-11-03 14:00"},  // the newer of Nov 3
                       {"d", "2026-11-07 02:00"},  // Nov 4-6 have none: they do not count
                       {"e", "2026-11-08 02:00"}}),
                   {.daily = 3});
  EXPECT_EQ(kept(ds), (std::set<std::string>{"c", "d", "e"}));
  EXPECT_EQ(reasons(ds)["c"], std::vector<std::string>{"daily 2026-11-03"});
  // Newest first, one decision per candidate.
  ASSERT_EQ(ds.size(), 5u);
  EXPECT_EQ(ds.front().name, "e");
  EXPECT_EQ(ds.back().name, "a");
}

TEST(PrunePolicy, RulesAreIndependentAndAnArchiveCountsForEachRuleThatKeepsIt) {
  auto ds = decide(at({{"sep-30", "2026-09-30 02:00"},
                       {"oct-15", "2026-10-15 02:00"},
                       {"oct-31", "2026-10-31 02:00"},  // Saturday, 2026-W44
                       {"nov-01", "2026-11-01 02:00"},  // Sunday, 2026-W44
                       {"nov-02", "2026-11-02 02:00"}}), // Monday, 2026-W45
                   {.daily = 1, .weekly = 2, .monthly = 2});
  auto r = reasons(ds);
  EXPECT_EQ(r["nov-02"], (std::vector<std::string>{"daily 2026-11-02", "weekly 2026-W45", "monthly 2026-11"}));
  EXPECT_EQ(r["nov-01"], (std::vector<std::string>{"weekly 2026-W44"}));
  EXPECT_EQ(r["oct-31"], (std::vector<std::string>{"monthly 2026-10"}));
  EXPECT_EQ(kept(ds), (std::set<std::string>{"nov-02", "nov-01", "oct-31"}));
}

TEST(PrunePolicy, EqualTimesAreOrderedByNameTheGreaterFirst) {
  auto ds = decide(at({{"x-1", "2026-11-20 02:00"}, {"x-2", "2026-11-20 02:00"}}), {.daily = 1});
  EXPECT_EQ(kept(ds), std::set<std::string>{"x-2"});
}

TEST(PrunePolicy, ZeroOrNegativeCountsKeepNothingForThatRuleButTheNewestStays) {
  auto c = at({{"a", "2026-11-20 02:00"}, {"b", "2026-10-20 02:00"}});
  // Safety (issue 10): the newest verified archive is never removed,
  // whatever the rules say.
  EXPECT_EQ(kept(decide(c, {})), std::set<std::string>{"a"});
  EXPECT_EQ(reasons(decide(c, {}))["a"], std::vector<std::string>{"newest "});
  EXPECT_EQ(kept(decide(c, {.daily = -3})), std::set<std::string>{"a"});
  EXPECT_TRUE((KeepCounts{}.none()));
  EXPECT_FALSE((KeepCounts{.monthly = 1}.none()));
  EXPECT_EQ(kept(decide(c, {.monthly = 5})), (std::set<std::string>{"a", "b"}));
}

TEST(PrunePolicy, MoreCountThanPeriodsKeepsOnePerPeriod) {
  auto ds = decide(at({{"a", "2026-11-20 02:00"}, {"b", "2026-11-20 03:00"}, {"c", "2026-11-21 02:00"}}),
                   {.daily = 30});
  EXPECT_EQ(kept(ds), (std::set<std::string>{"b", "c"}));
  EXPECT_TRUE(decide({}, {.daily = 1}).empty());
}

TEST(PrunePolicy, PeriodsForHoursAndYears) {
  EXPECT_EQ(period_of(Rule::hourly, utc("2026-11-23 14:59") + 59), "2026-11-23T14");
  EXPECT_EQ(period_of(Rule::hourly, utc("2026-11-23 00:00")), "2026-11-23T00");
  EXPECT_EQ(period_of(Rule::yearly, utc("2026-12-31 23:59")), "2026");
  EXPECT_EQ(period_of(Rule::yearly, utc("2027-01-01 00:00")), "2027");
}

TEST(PrunePolicy, KeepLastKeepsTheNNewestWhateverTheirPeriods) {
  auto ds = decide(at({{"a", "2026-11-20 02:00"}, {"b", "2026-11-20 02:10"}, {"c", "2026-11-20 02:20"}}),
                   {.last = 2});
  EXPECT_EQ(kept(ds), (std::set<std::string>{"b", "c"}));
  EXPECT_EQ(reasons(ds)["c"], std::vector<std::string>{"last 1"});
  EXPECT_EQ(reasons(ds)["b"], std::vector<std::string>{"last 2"});
}

TEST(PrunePolicy, HourlyAndYearlyKeepTheNewestOfEachPeriod) {
  auto c = at({{"h13", "2026-11-23 13:05"},
               {"h14a", "2026-11-23 14:10"},
               {"h14b", "2026-11-23 14:40"},
               {"y25", "2025-06-01 02:00"},
               {"y24", "2024-06-01 02:00"}});
  EXPECT_EQ(kept(decide(c, {.hourly = 2})), (std::set<std::string>{"h14b", "h13"}));
  EXPECT_EQ(kept(decide(c, {.yearly = 2})), (std::set<std::string>{"h14b", "y25"}));
  EXPECT_EQ(reasons(decide(c, {.yearly = 3}))["y24"], std::vector<std::string>{"yearly 2024"});
}

TEST(PrunePolicy, KeepWithinCountsFromTheNewestArchiveNotFromNow) {
  auto c = at({{"new", "2026-11-23 14:00"}, {"mid", "2026-11-20 14:00"}, {"old", "2026-11-20 13:59"},
               {"ancient", "2020-01-01 00:00"}});
  Duration d3{.days = 3};
  auto ds = decide(c, {.within = d3});
  EXPECT_EQ(kept(ds), (std::set<std::string>{"new", "mid"}));  // 11-20 14:00 is exactly 3 days back: kept
  EXPECT_EQ(reasons(ds)["mid"], std::vector<std::string>{"within 3d"});
  EXPECT_FALSE((KeepCounts{.within = d3}.none()));
}

TEST(PrunePolicy, DurationsParseAsResticWritesThem) {
  auto d = parse_duration("1y2m3d4h");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->years, 1);
  EXPECT_EQ(d->months, 2);
  EXPECT_EQ(d->days, 3);
  EXPECT_EQ(d->hours, 4);
  EXPECT_EQ(to_string(*d), "1y2m3d4h");
  EXPECT_TRUE(parse_duration("30d"));
  EXPECT_TRUE(parse_duration("12h"));
  for (const char* bad : {"", "3", "d", "3x", "1d2y", "1d1d", "-1d", "1.5d", "999999d", "1w"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(PrunePolicy, CalendarSubtractionNormalisesAsGoDoes) {
  EXPECT_EQ(minus(utc("2026-03-31 12:00"), {.months = 1}), utc("2026-03-03 12:00"));  // Feb 31 -> Mar 3
  EXPECT_EQ(minus(utc("2024-02-29 00:00"), {.years = 1}), utc("2023-03-01 00:00"));
  EXPECT_EQ(minus(utc("2026-11-23 02:00"), {.days = 1, .hours = 3}), utc("2026-11-21 23:00"));
  EXPECT_EQ(minus(utc("2026-01-15 00:00"), {.months = 2}), utc("2025-11-15 00:00"));
}

}  // namespace
}  // namespace hsm::tool::prune
