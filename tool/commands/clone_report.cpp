#include "tool/commands/clone_report.hpp"

#include "tool/display.hpp"

namespace hsm::tool {

void print_clone_report(std::ostream& os, const json& doc, bool dry_run) {
  const bool route = doc.contains("route");  // through a Backup HSM: "copied"
  if (route) os << doc["operation"].get<std::string>() << " ";
  os << doc["source"].get<std::string>() << " -> " << doc["target"].get<std::string>();
  if (route) os << " (Backup HSM " << doc["backup_hsm"].get<std::string>() << ")";
  os << " by " << doc["protocol"].get<std::string>() << ": ";
  const char* verb = route ? "copied" : "cloned";
  if (dry_run) os << doc["would_clone"].size() << " object(s) would be " << verb;
  else os << doc["cloned"].size() << " " << verb << ", " << doc["already_present"].size() << " already present";
  os << ", " << doc["refused"].size() << " refused";
  if (doc.contains("would_delete")) os << ", " << doc["would_delete"].get<std::uint64_t>() << " would be deleted first";
  if (doc.contains("deleted")) os << ", " << doc["deleted"].get<std::uint64_t>() << " deleted first";
  os << "\n";
  if (doc.contains("replace_blocked")) os << "  " << doc["replace_blocked"].get<std::string>() << "\n";
  if (doc.contains("warnings"))
    for (const auto& w : doc["warnings"]) os << "  warning: " << w.get<std::string>() << "\n";
  for (const auto& r : doc["refused"])
    os << "  refused #" << r["handle"].get<std::uint64_t>() << " " << escaped(r["label"].get<std::string>()) << ": rule "
       << r["rule"].get<std::string>() << ": " << r["message"].get<std::string>()
       << (r["fix"].is_null() ? "" : "; fix: " + r["fix"].get<std::string>()) << "\n";
}

}  // namespace hsm::tool
