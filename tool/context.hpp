// What every command gets: the global options, the loaded plugins, the fleet
// and the output channel (text for people, one JSON document for scripts).
#pragma once

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plugins/api/backend.hpp"
#include "tool/fleet.hpp"
#include "tool/metrics.hpp"
#include "tool/plugin_loader.hpp"

namespace hsm::tool {

using json = nlohmann::ordered_json;
namespace po = boost::program_options;

// The JSON documents' schema (man hsm-migrate, "JSON"): bumped when a field
// changes meaning or goes; new fields do not bump it.
inline constexpr int kJsonSchemaVersion = 1;

struct GlobalOptions {
  std::string home;
  std::string plugin_dir;
  std::string pin_file;
  std::string pin_command;  // --pin-command: a command that prints the PIN
  std::string client_version;
  std::string cv_ha_ui;  // --cv-ha-ui / $HSM_MIGRATE_CV_HA_UI: "0" or "1"; "" = not given
  std::string metrics_file;  // --metrics-file / $HSM_MIGRATE_METRICS_FILE: a node_exporter textfile
  bool json = false;
  bool quiet = false;
};

// What --metrics-file records of a run (tool/metrics.hpp). A command that
// reports to monitoring (backup, verify, drill, prune, plan run) sets it
// once its arguments are known and adds its counts when it finishes; main
// records it with the run's exit code, success or not, so an alert sees a
// failing job. A run that fails before naming what it works on (a usage
// error) records nothing: it has no series to belong to.
struct RunMetrics {
  std::string operation;
  metrics::Labels labels;
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
};

struct Context {
  GlobalOptions opts;
  std::optional<RunMetrics> metrics;
  PluginLoader plugins;
  std::unique_ptr<Fleet> fleet;
  api::ClientDesc client;

  // Prints `doc` with --json, else calls `text` (unless --quiet).
  void emit(const json& doc, const std::function<void(std::ostream&)>& text) const;
  // The PIN for a partition, from --pin-file / $HSM_MIGRATE_PIN / a prompt.
  api::Status login(api::Partition& part, const Address& a) const;
};

// Parses a command's own options; positional names are bound in order.
// Option names must be given whole (no abbreviations). With --help (or
// while completions are generated) it records the options, prints the
// command's help, and returns an error with no message: the handler stops
// and main exits 0 (help_was_shown).
api::Result<po::variables_map> parse_options(const std::vector<std::string>& args,
                                             const po::options_description& desc,
                                             const std::vector<std::string>& positional);

// JSON forms with stable field names (documented in man/hsm-migrate.1).
json to_json(const api::DeviceDesc& d);
json to_json(const api::PartitionDesc& p);
json to_json(const api::ObjectDesc& o);
json to_json(const api::Verdict& v);
json to_json(const api::Error& e);  // with "problems": [{file, line, message}], maybe empty
json problems_json(const std::vector<api::Problem>& problems);

// "N=V" policy assignments.
api::Result<std::pair<int, int>> parse_policy_assignment(const std::string& text);

// A command's options as its handler declares them (for help and completions).
struct OptionHelp {
  std::string name;   // long name, without "--"
  bool takes_value = false;
  std::string text;   // one sentence
};
struct CommandHelp {
  std::vector<std::string> positional;
  std::vector<OptionHelp> options;
};
// main: before running a handler for --help or for the completions.
void set_help_context(const std::string& usage, bool collecting);
bool help_was_shown();
const CommandHelp& collected_help();

using Handler = std::function<api::Status(Context&, const std::vector<std::string>&)>;
struct Command {
  std::string words;     // "device create"
  std::string synopsis;  // for --help
  Handler run;
};
// Each commands/*.cpp contributes its commands.
void add_device_commands(std::vector<Command>& out);
void add_partition_commands(std::vector<Command>& out);
void add_object_commands(std::vector<Command>& out);
void add_plugin_commands(std::vector<Command>& out);
void add_clone_commands(std::vector<Command>& out);
void add_archive_commands(std::vector<Command>& out);
void add_plan_commands(std::vector<Command>& out);
void add_hagroup_commands(std::vector<Command>& out);
void add_prune_commands(std::vector<Command>& out);
void add_key_use_commands(std::vector<Command>& out);
void add_diff_commands(std::vector<Command>& out);

}  // namespace hsm::tool
