#include "tool/help.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace hsm::tool {

const char* const kGlobalHelp = R"(Global options (anywhere on the line):
  --home DIR              the fleet folder (default $HSM_MIGRATE_HOME, else $XDG_STATE_HOME/hsm-migrate,
                          else $HOME/.local/state/hsm-migrate)
  --plugin-dir DIR        where plugins are (default $HSM_MIGRATE_PLUGIN_PATH, else next to the binary)
  --json                  one JSON document on stdout, stable field names
  --quiet                 print only errors
  --client-version X.Y.Z  the Luna client version to act as (default 10.9.0)
  --pin-file FILE         partition PIN (else --pin-command, $HSM_MIGRATE_PIN, $HSM_MIGRATE_PIN_COMMAND, a prompt)
  --pin-command CMD       a command that prints the PIN (as restic's --password-command)
  --cv-ha-ui 0|1          the client's lunacm_cv_ha_ui (rule H4; default $HSM_MIGRATE_CV_HA_UI, else 1)
  --metrics-file FILE     record backup/verify/drill/prune/plan runs for node_exporter's textfile collector
                          (default $HSM_MIGRATE_METRICS_FILE)
  -V, --version           the version
Exit codes: 0 success, 1 other failure, 2 usage, 3 refused by a rule, 4 integrity failure,
5 lock busy, 6 wrong or locked PIN; 129/130/143 interrupted by SIGHUP/SIGINT/SIGTERM.
`hsm-migrate help COMMAND` (or COMMAND --help) lists a command's options. See man hsm-migrate.
)";

void print_global_help(std::ostream& os, const std::vector<Command>& commands) {
  os << "usage: hsm-migrate [global options] COMMAND ...\n\nCommands:\n";
  for (const auto& c : commands) os << "  " << c.synopsis << "\n";
  os << "\n" << kGlobalHelp;
}

bool print_group_help(std::ostream& os, const std::vector<Command>& commands, const std::string& prefix) {
  std::vector<const Command*> hits;
  for (const auto& c : commands)
    if (c.words.rfind(prefix + " ", 0) == 0) hits.push_back(&c);
  if (hits.empty()) return false;
  os << "usage: hsm-migrate " << prefix << " SUBCOMMAND ...\n\n";
  for (const auto* c : hits) os << "  " << c->synopsis << "\n";
  os << "\n`hsm-migrate help " << prefix << " SUBCOMMAND` lists its options.\n";
  return true;
}

std::vector<CommandTableEntry> command_table(Context& ctx, const std::vector<Command>& commands) {
  std::vector<CommandTableEntry> out;
  for (const auto& c : commands) {
    set_help_context(c.synopsis, true);
    (void)c.run(ctx, {});  // stops at parse_options, having recorded the options
    out.push_back({c.words, c.synopsis, collected_help()});
  }
  set_help_context("", false);
  return out;
}

namespace {

// Global options every command takes.
const std::vector<OptionHelp> kGlobals = {
    {"home", true, "the fleet folder"},
    {"plugin-dir", true, "where plugins are"},
    {"json", false, "one JSON document on stdout"},
    {"quiet", false, "print only errors"},
    {"client-version", true, "the Luna client version to act as"},
    {"pin-file", true, "partition PIN file"},
    {"pin-command", true, "a command that prints the PIN"},
    {"cv-ha-ui", true, "lunacm_cv_ha_ui 0|1"},
    {"metrics-file", true, "a node_exporter textfile the run is recorded in"},
};

// Options that name files or folders complete as paths.
bool is_path_option(const std::string& name) {
  static const std::set<std::string> paths = {"home",        "plugin-dir",  "pin-file", "archive", "domain-file",
                                              "ped-key",     "trusted-root", "in",      "out",     "signature",
                                              "metrics-file", "module"};
  return paths.count(name) > 0;
}

std::string shell_words(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

std::string bash(const std::vector<CommandTableEntry>& table) {
  std::ostringstream o;
  o << "# bash completion for hsm-migrate, generated from its command table by\n"
       "# `hsm-migrate completions bash` (do not edit).\n"
       "_hsm_migrate() {\n"
       "  local cur prev words cword\n"
       "  _init_completion 2>/dev/null || { cur=\"${COMP_WORDS[COMP_CWORD]}\"; prev=\"${COMP_WORDS[COMP_CWORD-1]}\"; "
       "words=(\"${COMP_WORDS[@]}\"); cword=$COMP_CWORD; }\n"
       "  local globals=\"";
  std::string g;
  for (const auto& opt : kGlobals) g += (g.empty() ? "" : " ") + std::string("--") + opt.name;
  o << g << " --help\"\n";
  o << "  case \"$prev\" in\n";
  std::set<std::string> path_opts;
  for (const auto& e : table)
    for (const auto& opt : e.help.options)
      if (opt.takes_value && is_path_option(opt.name)) path_opts.insert("--" + opt.name);
  for (const auto& opt : kGlobals)
    if (opt.takes_value && is_path_option(opt.name)) path_opts.insert("--" + opt.name);
  std::string alts;
  for (const auto& p : path_opts) alts += (alts.empty() ? "" : "|") + p;
  o << "    " << alts << ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
       "  esac\n"
       "  # The command: the longest run of leading words that names one.\n"
       "  local i cmd=\"\" w\n"
       "  for ((i = 1; i < cword; i++)); do\n"
       "    w=\"${words[i]}\"\n"
       "    [[ \"$w\" == -* ]] && continue\n"
       "    cmd=\"${cmd:+$cmd }$w\"\n"
       "  done\n"
       "  local opts=\"\" next=\"\"\n"
       "  case \"$cmd\" in\n";
  // Per command: its options. Per prefix: the next words.
  std::map<std::string, std::set<std::string>> next;
  for (const auto& e : table) {
    std::istringstream in(e.words);
    std::vector<std::string> ws;
    for (std::string w; in >> w;) ws.push_back(w);
    std::string prefix;
    for (const auto& w : ws) {
      next[prefix].insert(w);
      prefix += (prefix.empty() ? "" : " ") + w;
    }
  }
  for (const auto& e : table) {
    std::string opts;
    for (const auto& opt : e.help.options) opts += (opts.empty() ? "" : " ") + std::string("--") + opt.name;
    o << "    \"" << e.words << "\"*) opts=\"" << opts << "\" ;;\n";
  }
  o << "  esac\n"
       "  case \"$cmd\" in\n";
  for (const auto& [prefix, ws] : next) {
    std::vector<std::string> v(ws.begin(), ws.end());
    o << "    \"" << prefix << "\") next=\"" << shell_words(v) << "\" ;;\n";
  }
  o << "  esac\n"
       "  if [[ \"$cur\" == -* ]]; then\n"
       "    COMPREPLY=($(compgen -W \"$opts $globals\" -- \"$cur\"))\n"
       "  else\n"
       "    COMPREPLY=($(compgen -W \"$next\" -- \"$cur\"))\n"
       "  fi\n"
       "}\n"
       "complete -F _hsm_migrate hsm-migrate\n";
  return o.str();
}

// For a spec inside single quotes: _arguments wants [ ] : and \ escaped
// with a backslash (single quotes keep it), and a quote closes, escapes and
// reopens the quoted string.
std::string zsh_escape(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
      continue;
    }
    if (c == '[' || c == ']' || c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string zsh(const std::vector<CommandTableEntry>& table) {
  std::ostringstream o;
  o << "#compdef hsm-migrate\n"
       "# zsh completion for hsm-migrate, generated from its command table by\n"
       "# `hsm-migrate completions zsh` (do not edit).\n"
       "_hsm_migrate() {\n"
       "  local -a globals commands\n"
       "  globals=(\n";
  for (const auto& opt : kGlobals)
    o << "    '--" << opt.name << "[" << zsh_escape(opt.text) << "]" << (opt.takes_value ? (is_path_option(opt.name) ? ":file:_files" : ":value:") : "") << "'\n";
  o << "    '--help[this help]'\n  )\n  commands=(\n";
  for (const auto& e : table) o << "    '" << zsh_escape(e.words) << "'\n";
  o << "  )\n"
       "  local cmd=\"\" w\n"
       "  for w in ${words[2,CURRENT-1]}; do\n"
       "    [[ $w == -* ]] && continue\n"
       "    cmd=\"${cmd:+$cmd }$w\"\n"
       "  done\n"
       "  local -a opts\n"
       "  case \"$cmd\" in\n";
  for (const auto& e : table) {
    o << "    \"" << e.words << "\"*) opts=(";
    for (const auto& opt : e.help.options)
      o << " '--" << opt.name << "[" << zsh_escape(opt.text) << "]"
        << (opt.takes_value ? (is_path_option(opt.name) ? ":file:_files" : ":value:") : "") << "'";
    o << " ) ;;\n";
  }
  o << "  esac\n"
       "  if [[ $PREFIX == -* ]]; then\n"
       "    _arguments -s $globals $opts '*::arg:'\n"
       "    return\n"
       "  fi\n"
       "  local -a next\n"
       "  local c\n"
       "  for c in $commands; do\n"
       "    if [[ -z $cmd ]]; then next+=(${c%% *})\n"
       "    elif [[ $c == \"$cmd \"* ]]; then local rest=${c#\"$cmd \"}; next+=(${rest%% *}); fi\n"
       "  done\n"
       "  compadd -- ${(u)next}\n"
       "}\n"
       "_hsm_migrate \"$@\"\n";
  return o.str();
}

}  // namespace

std::string completion_script(const std::vector<CommandTableEntry>& table, const std::string& shell) {
  if (shell == "bash") return bash(table);
  if (shell == "zsh") return zsh(table);
  return {};
}

}  // namespace hsm::tool
