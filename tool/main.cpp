// hsm-migrate: the command line. One exit point: every error travels as a
// value to here, is printed as one line, and becomes the documented exit code.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "formats/archive_format.hpp"
#include "formats/atomic_file.hpp"
#include "tool/context.hpp"
#include "tool/display.hpp"
#include "tool/help.hpp"
#include "tool/metrics.hpp"
#include "tool/secrets.hpp"

namespace {

constexpr const char* kVersion = "0.2.0";

using hsm::api::Error;
using hsm::api::ErrorKind;
using namespace hsm::tool;


void print_error(const Context* ctx, const Error& e) {
  std::string line = "hsm-migrate: ";
  line += e.kind == ErrorKind::refused ? "refused: " : "error: ";
  // An integrity failure may name a rule too (an archive of another domain: S1).
  if (!e.rule.empty()) line += "rule " + e.rule + (e.code.empty() ? "" : " (" + e.code + ")") + ": ";
  else if (!e.code.empty()) line += e.code + ": ";  // e.g. CKR_PIN_INCORRECT
  line += e.message;
  if (!e.fix.empty()) line += "; fix: " + e.fix;
  std::cerr << escaped(line) << "\n";  // one line, whatever a label in it holds
  // An input's problems (a plan's), one line each under the headline, as a
  // compiler prints them; --json lists them all.
  constexpr std::size_t kShown = 20;
  for (std::size_t i = 0; i < e.problems.size() && i < kShown; ++i)
    std::cerr << "  " << escaped(e.problems[i].file + ":" + std::to_string(e.problems[i].line) + ": " +
                                 e.problems[i].message)
              << "\n";
  if (e.problems.size() > kShown)
    std::cerr << "  (" << e.problems.size() - kShown << " more; --json lists every problem)\n";
  if (ctx && ctx->opts.json)
    std::cout << json{{"ok", false}, {"schema_version", kJsonSchemaVersion}, {"error", to_json(e)}}.dump(2) << "\n";
}

// Takes the global options out of argv, wherever they stand.
hsm::api::Result<std::vector<std::string>> extract_globals(int argc, char** argv, GlobalOptions& g) {
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    bool has_inline = false;
    if (auto eq = a.find('='); a.starts_with("--") && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_inline = true;
    }
    auto take = [&](std::string& out) -> hsm::api::Status {
      if (has_inline) {
        out = value;
        return {};
      }
      if (i + 1 >= argc) return Error::usage(a + " needs a value");
      out = argv[++i];
      return {};
    };
    if (a == "--home") HSM_TRY(take(g.home));
    else if (a == "--plugin-dir") HSM_TRY(take(g.plugin_dir));
    else if (a == "--pin-file") HSM_TRY(take(g.pin_file));
    else if (a == "--pin-command") HSM_TRY(take(g.pin_command));
    else if (a == "--client-version") HSM_TRY(take(g.client_version));
    else if (a == "--cv-ha-ui") HSM_TRY(take(g.cv_ha_ui));
    else if (a == "--metrics-file") HSM_TRY(take(g.metrics_file));
    else if (a == "--json") g.json = true;
    else if (a == "--quiet") g.quiet = true;
    else rest.push_back(argv[i]);
  }
  return rest;
}

int run(int argc, char** argv) {
  std::vector<Command> commands;
  add_plugin_commands(commands);
  add_device_commands(commands);
  add_partition_commands(commands);
  add_object_commands(commands);
  add_key_use_commands(commands);
  add_clone_commands(commands);
  add_archive_commands(commands);
  add_plan_commands(commands);
  add_hagroup_commands(commands);
  add_prune_commands(commands);
  add_diff_commands(commands);

  Context ctx;
  auto rest = extract_globals(argc, argv, ctx.opts);
  if (!rest.ok()) {
    print_error(nullptr, rest.error());
    return static_cast<int>(ErrorKind::usage);
  }
  std::vector<std::string>& args = rest.value();
  set_pin_command(ctx.opts.pin_command);
  if (args.empty()) {
    print_global_help(std::cerr, commands);
    return static_cast<int>(ErrorKind::usage);
  }
  if (args[0] == "--version" || args[0] == "-V" || args[0] == "version") {
    std::cout << "hsm-migrate " << kVersion << " (plugin interface " << hsm::api::kAbiVersion << ", archive format "
              << hsm::formats::kFormatVersion << ")\n";
    return 0;
  }
  // `help [COMMAND...]` is `COMMAND --help`.
  const bool help = args[0] == "--help" || args[0] == "-h" || args[0] == "help";
  if (help) {
    args.erase(args.begin());
    if (args.empty()) {
      print_global_help(std::cout, commands);
      return 0;
    }
    args.push_back("--help");
  }
  if (args[0] == "completions") {
    const std::string shell = args.size() > 1 ? args[1] : "";
    const std::string script = completion_script(command_table(ctx, commands), shell);
    if (script.empty()) {
      print_error(&ctx, Error::usage("completions for \"" + shell + "\": bash or zsh", "hsm-migrate completions bash"));
      return static_cast<int>(ErrorKind::usage);
    }
    std::cout << script;
    return std::cout.flush() ? 0 : static_cast<int>(ErrorKind::other);
  }
  // The longest run of leading words that names a command.
  const Command* cmd = nullptr;
  std::size_t used = 0;
  for (const auto& c : commands) {
    std::string words;
    for (std::size_t n = 1; n <= args.size() && n <= 3; ++n) {
      words += (n > 1 ? " " : "") + args[n - 1];
      if (words == c.words && n > used) {
        cmd = &c;
        used = n;
      }
    }
  }
  if (!cmd) {
    // A group of commands ("device", "partition domain"): list them.
    std::string prefix;
    for (const auto& a : args) {
      if (a.starts_with("-")) break;
      const std::string next = prefix.empty() ? a : prefix + " " + a;
      bool any = false;
      for (const auto& c : commands) any = any || c.words.rfind(next + " ", 0) == 0;
      if (!any) break;
      prefix = next;
    }
    const bool asked = std::find(args.begin(), args.end(), "--help") != args.end() ||
                       std::find(args.begin(), args.end(), "-h") != args.end();
    if (!prefix.empty() && print_group_help(asked ? std::cout : std::cerr, commands, prefix))
      return asked ? 0 : static_cast<int>(ErrorKind::usage);
    print_error(&ctx, Error::usage("unknown command \"" + args[0] + (args.size() > 1 ? " " + args[1] : "") + "\"",
                                   "see `hsm-migrate help`"));
    return static_cast<int>(ErrorKind::usage);
  }
  set_help_context(cmd->synopsis, false);
  if (!ctx.opts.client_version.empty()) {
    auto v = hsm::api::Version::parse(ctx.opts.client_version);
    if (!v) {
      print_error(&ctx, Error::usage("bad --client-version \"" + ctx.opts.client_version + "\"",
                                     "write it as X.Y.Z, e.g. 10.4.0"));
      return static_cast<int>(ErrorKind::usage);
    }
    ctx.client.version = *v;
  }
  if (ctx.opts.cv_ha_ui.empty())
    if (const char* e = std::getenv("HSM_MIGRATE_CV_HA_UI"); e && *e) ctx.opts.cv_ha_ui = e;
  if (!ctx.opts.cv_ha_ui.empty()) {
    if (ctx.opts.cv_ha_ui != "0" && ctx.opts.cv_ha_ui != "1") {
      print_error(&ctx, Error::usage("bad lunacm_cv_ha_ui \"" + ctx.opts.cv_ha_ui + "\"",
                                     "give --cv-ha-ui 0 or 1 (or HSM_MIGRATE_CV_HA_UI)"));
      return static_cast<int>(ErrorKind::usage);
    }
    ctx.client.cv_ha_ui = ctx.opts.cv_ha_ui == "1";  // rule H4
  }
  ctx.plugins.load_from(PluginLoader::search_path(ctx.opts.plugin_dir));
  for (const auto& r : ctx.plugins.refused())
    if (cmd->words != "plugins" && !ctx.opts.quiet)
      std::cerr << "hsm-migrate: warning: plugin " << r.file.string() << " refused: " << r.reason << "\n";
  std::error_code ec;
  ctx.fleet = std::make_unique<Fleet>(
      ctx.opts.home.empty() ? Fleet::default_home() : std::filesystem::absolute(ctx.opts.home, ec), ctx.plugins);
  const bool wants_help = std::find(args.begin(), args.end(), "--help") != args.end() ||
                          std::find(args.begin(), args.end(), "-h") != args.end();
  if (cmd->words != "plugins" && !wants_help) {
    if (auto st = ctx.fleet->check_home(); !st.ok()) {
      print_error(&ctx, st.error());
      return static_cast<int>(st.error().kind);
    }
  }
  std::vector<std::string> cmd_args(args.begin() + static_cast<std::ptrdiff_t>(used), args.end());
  if (ctx.opts.metrics_file.empty())
    if (const char* e = std::getenv("HSM_MIGRATE_METRICS_FILE"); e && *e) ctx.opts.metrics_file = e;
  const auto started = std::chrono::steady_clock::now();
  hsm::api::Status st = cmd->run(ctx, cmd_args);
  if (help_was_shown()) return std::cout.flush() ? 0 : static_cast<int>(ErrorKind::other);
  // A report that could not be written (a full disk, a closed pipe,
  // > /dev/full) is a failure a cron job must see, not a silent success.
  std::cout.flush();
  if (!std::cout && st.ok()) st = Error::other("cannot write to standard output");
  // An error without a message was already reported in full by the command
  // (a list of refusals); only its exit code remains.
  if (!st.ok() && !st.error().message.empty()) print_error(&ctx, st.error());
  int code = st.ok() ? 0 : static_cast<int>(st.error().kind);
  if (!ctx.opts.metrics_file.empty() && ctx.metrics) {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    metrics::RunValues v;
    v.finished_at = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    v.duration_seconds = took.count();
    v.objects = ctx.metrics->objects;
    v.bytes = ctx.metrics->bytes;
    v.exit_code = code;
    // Monitoring that silently stops being fed is worse than a failed job:
    // a run whose record cannot be written fails (1) if nothing else did.
    if (auto rec = metrics::record(ctx.opts.metrics_file, ctx.metrics->operation, ctx.metrics->labels, v); !rec.ok()) {
      Error e = rec.error();
      e.message = "--metrics-file: " + e.message;
      print_error(code == 0 ? &ctx : nullptr, e);
      if (code == 0) code = static_cast<int>(ErrorKind::other);
    }
  }
  return code;
}

// SIGINT, SIGTERM and SIGHUP (a ^C, a stopped cron job or service, a
// closed terminal): the temporary file of an archive being written is
// removed and the process exits 128 + the signal (130, 143, 129; man page,
// EXIT STATUS). An uncommitted device transaction is rolled back by SQLite
// and the partition lock is released by the kernel; a plan run's journal
// says where to --resume.
void on_terminating_signal(int sig) {
  hsm::formats::remove_temp_files_on_signal();
  ::_exit(128 + sig);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_terminating_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    // A signal ignored at exec (nohup, a shell's background job) stays ignored.
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    ::sigaction(sig, &sa, nullptr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  install_signal_handlers();
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "hsm-migrate: error: " << e.what() << "\n";
    return static_cast<int>(ErrorKind::other);
  }
}
