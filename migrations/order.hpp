// `plan order`: a safe order for a plan's upgrade and policy steps.
#pragma once

#include <string>
#include <vector>

#include "migrations/check.hpp"
#include "migrations/plan.hpp"

namespace hsm::plans {

struct OrderResult {
  bool ok = false;     // a safe order was found (`plan` passes check_plan)
  bool changed = false;  // the plan differs from the one given
  Plan plan;           // the reordered plan (when !ok: the original)
  std::string toml;    // plan_to_toml(plan) when ok
  // New position -> original 1-based step number (0 = a step plan order
  // added: a Backup HSM route, or a step a refusal named, such as HSM
  // policy 50 before enable-fm).
  std::vector<int> order;
  // What moved and why; when !ok, why no order works.
  std::vector<std::string> notes;
  CheckReport report;  // check_plan of `plan`
};

// Upgrade and policy steps may move; every other step keeps its relative
// order, and steps acting on the same device keep theirs. A step a refusal
// names as its fix (Problem::insert_before: HSM policy 50 before enable-fm,
// X9; an intermediate firmware release, X9/X6) is inserted before it. A clone that no
// order makes pass because the target cannot take the source's protocol
// (a FIPS target, a CPv1 source) is routed through a Backup HSM G5 partition
// of the plan when one works (backup, then restore). See order.cpp for the
// search.
OrderResult order_plan(const Plan& plan, const FleetState& initial);

}  // namespace hsm::plans
