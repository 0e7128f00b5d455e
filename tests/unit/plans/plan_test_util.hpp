// Helpers for the plan tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "migrations/check.hpp"
#include "migrations/plan.hpp"

namespace hsm::plans::testing {

inline std::string builtin_dir() { return std::string(HSM_SOURCE_DIR) + "/migrations/plans"; }

inline Plan parse_ok(const std::string& text, const std::string& name = "test.toml") {
  auto r = parse_plan_string(text, name);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return Plan{};
  return std::move(r).value();
}

inline std::string parse_error(const std::string& text, const std::string& name = "PLAN.toml") {
  auto r = parse_plan_string(text, name);
  EXPECT_FALSE(r.ok()) << "the plan parsed";
  if (r.ok()) return {};
  EXPECT_EQ(r.error().kind, api::ErrorKind::usage);
  // Every problem, as the tool prints them: FILE:LINE: message, one a line.
  EXPECT_FALSE(r.error().problems.empty()) << r.error().message;
  std::string out;
  for (const auto& p : r.error().problems)
    out += (out.empty() ? "" : "\n") + p.file + ":" + std::to_string(p.line) + ": " + p.message;
  return out;
}

inline CheckReport check(const Plan& p) { return check_plan(p, fleet_from_plan(p)); }

inline std::vector<Problem> refusals(const CheckReport& r, int step = -1) {
  std::vector<Problem> out;
  for (const auto& p : r.problems)
    if (!p.warning && (step < 0 || p.step == step)) out.push_back(p);
  return out;
}

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline std::string dump(const Plan& p, const CheckReport& r) { return render_report(p, r); }

// A described Luna 7 device with one partition "p" in domain "corp".
inline std::string described_luna7(const std::string& name, const std::string& fw, const std::string& extra = "",
                                   const std::string& partition_extra = "") {
  return "[[device]]\nname = \"" + name + "\"\ndescribed = true\nkind = \"luna7\"\nfirmware = \"" + fw + "\"\n" +
         extra + "\n[[device.partition]]\nname = \"p\"\ndomain = \"corp\"\n" + partition_extra + "\n";
}

}  // namespace hsm::plans::testing
