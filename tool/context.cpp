#include "tool/context.hpp"

#include <charconv>
#include <iostream>

#include "tool/display.hpp"
#include "tool/secrets.hpp"

namespace hsm::tool {

using api::Error;
using api::Result;

void Context::emit(const json& body, const std::function<void(std::ostream&)>& text) const {
  if (opts.json) {
    // Every document says whether it is a success and which schema it
    // follows, first; a command's own "ok" (verify, drill) is kept.
    json doc{{"ok", body.is_object() && body.contains("ok") ? body["ok"] : json(true)},
             {"schema_version", kJsonSchemaVersion}};
    if (body.is_object())
      for (auto it = body.begin(); it != body.end(); ++it)
        if (it.key() != "ok") doc[it.key()] = it.value();
    // Text from devices goes through json_safe() where it is put in; the
    // handler is the last guard: a document is never cut off half-written.
    std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else if (!opts.quiet) {
    text(std::cout);
  }
}

api::Status Context::login(api::Partition& part, const Address& a) const {
  HSM_TRY_ASSIGN(api::SecretBytes pin, partition_pin(opts.pin_file, a.device + "/" + a.partition));
  return part.login(pin);
}

namespace {

// What `COMMAND --help`, `help COMMAND` and the completion generator ask of
// a command: its options, as its own handler declares them (one table).
struct HelpState {
  bool collecting = false;  // completions: record, print nothing
  bool shown = false;       // the handler stopped at --help
  std::string usage;        // the command's synopsis, set by main
  CommandHelp collected;
};
HelpState& help_state() {
  static HelpState s;
  return s;
}

bool asks_help(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--") return false;
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

}  // namespace

void set_help_context(const std::string& usage, bool collecting) {
  help_state() = HelpState{};
  help_state().usage = usage;
  help_state().collecting = collecting;
}
bool help_was_shown() { return help_state().shown; }
const CommandHelp& collected_help() { return help_state().collected; }

Result<po::variables_map> parse_options(const std::vector<std::string>& args,
                                        const po::options_description& desc,
                                        const std::vector<std::string>& positional) {
  HelpState& h = help_state();
  if (h.collecting || asks_help(args)) {
    h.shown = true;
    h.collected.positional = positional;
    for (const auto& o : desc.options()) {
      // "--name ARG" when the option takes a value.
      h.collected.options.push_back({o->long_name(), o->semantic()->max_tokens() > 0, o->description()});
    }
    if (!h.collecting) {
      std::cout << "usage: hsm-migrate " << h.usage << "\n";
      if (!desc.options().empty()) std::cout << "\nOptions:\n" << desc;
      std::cout << "\nGlobal options (--home, --json, --quiet, --pin-file, ...): hsm-migrate help\n";
    }
    // The handler stops here; main turns this into exit 0.
    return Error{api::ErrorKind::usage, "", {}, {}, {}};
  }
  po::options_description all = desc;
  po::positional_options_description pos;
  for (const auto& name : positional) {
    all.add_options()(name.c_str(), po::value<std::string>());
    pos.add(name.c_str(), 1);
  }
  po::variables_map vm;
  try {
    // No guessing: "--rep" is not "--replace", "--fo" not "--force". An
    // abbreviation that happens to match today may mean another option
    // tomorrow, and a backup tool must never guess at a destructive flag.
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args).options(all).positional(pos).style(style).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Error::usage(e.what(), "see `hsm-migrate help " + h.usage.substr(0, h.usage.find(' ')) + "` or man hsm-migrate");
  }
  for (const auto& name : positional)
    if (!vm.count(name)) return Error::usage("missing " + name, "see `hsm-migrate help`");
  return vm;
}

Result<std::pair<int, int>> parse_policy_assignment(const std::string& text) {
  auto eq = text.find('=');
  int id = -1, value = -1;
  if (eq != std::string::npos) {
    auto r1 = std::from_chars(text.data(), text.data() + eq, id);
    auto r2 = std::from_chars(text.data() + eq + 1, text.data() + text.size(), value);
    if (r1.ec == std::errc() && r1.ptr == text.data() + eq && r2.ec == std::errc() &&
        r2.ptr == text.data() + text.size() && id >= 0)
      return std::pair{id, value};
  }
  return Error::usage("\"" + text + "\" is not a policy assignment", "write --set N=V, e.g. --set 42=1");
}

json to_json(const api::DeviceDesc& d) {
  json policies = json::object();
  for (auto [k, v] : d.hsm_policies) policies[std::to_string(k)] = v;
  return {{"name", d.name},
          {"kind", api::to_string(d.kind)},
          {"firmware", d.firmware.str()},
          {"fm", api::to_string(d.fm)},
          {"clock_skew_seconds", d.clock_offset_s},
          {"hsm_policies", policies}};
}

json to_json(const api::PartitionDesc& p) {
  json policies = json::object();
  for (auto [k, v] : p.policies) policies[std::to_string(k)] = v;
  json domains = json::array();
  for (const auto& d : p.domains)
    domains.push_back({{"label", d.label},
                       {"kind", api::to_string(d.kind)},
                       {"primary", d.primary},
                       {"fingerprint", d.fingerprint}});
  return {{"name", p.name},
          {"type", api::to_string(p.type)},
          {"auth", api::to_string(p.auth)},
          {"fips", p.fips},
          {"policies", policies},
          {"domains", domains},
          {"suites_available", p.suites_available},
          {"suites_enabled", p.suites_enabled},
          {"object_count", p.object_count}};
}

json to_json(const api::ObjectDesc& o) {
  json travelled = json::array();
  for (auto p : o.travelled) travelled.push_back(api::to_string(p));
  json j{{"handle", o.handle},
          {"label", json_safe(o.label)},
          {"id", o.id_hex},
          {"class", api::to_string(o.cls)},
          {"key_type", api::to_string(o.key_type)},
          {"bits", o.bits},
          {"curve", o.curve},
          {"extractable", o.extractable},
          {"sensitive", o.sensitive},
          {"assigned", o.assigned},
          {"per_key_auth", o.per_key_auth},
          {"keygen_mechanism", api::to_string(o.keygen)},
          {"origin_fm", api::to_string(o.origin_fm)},
          {"travelled", travelled},
          {"fingerprint", o.fingerprint}};
  // A label that is not UTF-8 (made by another tool) is shown escaped; its
  // exact bytes are here.
  if (!is_valid_utf8(o.label)) {
    static const char* kHex = "0123456789abcdef";
    std::string hex;
    for (unsigned char c : o.label) hex += {kHex[c >> 4], kHex[c & 15]};
    j["label_hex"] = hex;
  }
  return j;
}

json to_json(const api::Verdict& v) {
  return {{"allowed", v.allowed},
          {"protocol", v.protocol ? json(api::to_string(*v.protocol)) : json(nullptr)},
          {"rule", v.rule.empty() ? json(nullptr) : json(v.rule)},
          {"code", v.code.empty() ? json(nullptr) : json(v.code)},
          {"message", v.message},
          {"fix", v.fix.empty() ? json(nullptr) : json(v.fix)},
          {"warnings", v.warnings}};
}

json problems_json(const std::vector<api::Problem>& problems) {
  json out = json::array();
  for (const auto& p : problems)
    out.push_back({{"file", json_safe(p.file)}, {"line", p.line}, {"message", json_safe(p.message)}});
  return out;
}

json to_json(const api::Error& e) {
  static const char* kinds[] = {"", "failure", "usage", "refused", "integrity", "busy", "auth"};
  return {{"kind", kinds[static_cast<int>(e.kind)]},
          {"exit_code", static_cast<int>(e.kind)},
          {"rule", e.rule.empty() ? json(nullptr) : json(e.rule)},
          {"code", e.code.empty() ? json(nullptr) : json(e.code)},
          {"message", json_safe(e.message)},
          {"fix", e.fix.empty() ? json(nullptr) : json(e.fix)},
          {"problems", problems_json(e.problems)}};
}

}  // namespace hsm::tool
