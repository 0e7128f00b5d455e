// plugins: what was loaded, and what was refused and why.
#include <iomanip>
#include <iostream>

#include "tool/context.hpp"

namespace hsm::tool {
namespace {

api::Status plugins(Context& ctx, const std::vector<std::string>& args) {
  po::options_description desc("plugins");
  HSM_TRY(parse_options(args, desc, {}));
  json loaded = json::array(), refused = json::array();
  for (const auto& p : ctx.plugins.loaded())
    loaded.push_back({{"kind", p.kind}, {"version", p.version}, {"abi", api::kAbiVersion},
                      {"file", p.file.string()}, {"summary", p.summary}});
  for (const auto& r : ctx.plugins.refused())
    refused.push_back({{"file", r.file.string()}, {"reason", r.reason}});
  ctx.emit({{"loaded", loaded}, {"refused", refused}}, [&](std::ostream& os) {
    for (const auto& p : ctx.plugins.loaded())
      os << std::left << std::setw(11) << p.kind << std::setw(8) << p.version << p.summary << "  ("
         << p.file.string() << ")\n";
    for (const auto& r : ctx.plugins.refused())
      os << "refused " << r.file.string() << ": " << r.reason << "\n";
  });
  return {};
}

}  // namespace

void add_plugin_commands(std::vector<Command>& out) {
  out.push_back({"plugins", "plugins", plugins});
}

}  // namespace hsm::tool
