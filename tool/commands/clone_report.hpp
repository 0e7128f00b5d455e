// The text form of run_clone's report, shared by `clone` and the Backup HSM
// route of `backup --to` / `restore BACKUPDEV/PART`: one summary line, then
// warnings, a blocked replace, and each refused object with rule and fix.
#pragma once

#include <ostream>

#include "tool/context.hpp"

namespace hsm::tool {

void print_clone_report(std::ostream& os, const json& doc, bool dry_run);

}  // namespace hsm::tool
