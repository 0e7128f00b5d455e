// Help and shell completions from the one command table (tool/main.cpp):
// `hsm-migrate help [COMMAND]`, `COMMAND --help`, `hsm-migrate DEVICE-GROUP
// --help` (e.g. `device --help` lists the device commands), and the bash and
// zsh completion scripts, generated from what each command's own handler
// declares (parse_options in collecting mode), so they cannot drift.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "tool/context.hpp"

namespace hsm::tool {

extern const char* const kGlobalHelp;

void print_global_help(std::ostream& os, const std::vector<Command>& commands);
// The commands whose first words are `prefix` ("device", "partition domain");
// false when there is none.
bool print_group_help(std::ostream& os, const std::vector<Command>& commands, const std::string& prefix);

// Each command's options, collected by running its handler in help mode.
struct CommandTableEntry {
  std::string words;
  std::string synopsis;
  CommandHelp help;
};
std::vector<CommandTableEntry> command_table(Context& ctx, const std::vector<Command>& commands);

// "bash" or "zsh"; empty when the shell is unknown.
std::string completion_script(const std::vector<CommandTableEntry>& table, const std::string& shell);

}  // namespace hsm::tool
