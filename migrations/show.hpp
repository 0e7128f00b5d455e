// `plan show`: the plan as text, and as a Graphviz picture (`--dot`).
#pragma once

#include <string>

#include "migrations/plan.hpp"

namespace hsm::plans {

// Devices, HA groups and numbered steps, for people.
std::string plan_show(const Plan& plan);

// Graphviz (dot): one node per device (label: name, kind, firmware, and the
// upgrades the plan makes), HA groups as clusters (a device in several groups
// is drawn in the first; the others link it with a dashed edge), archives as
// note-shaped nodes, and clone / backup / restore / verify / drill flows as
// edges labelled with their step numbers.
std::string plan_to_dot(const Plan& plan);

}  // namespace hsm::plans
