// `plan check` reports: text for people and JSON with stable field names.
#include <sstream>

#include "migrations/check.hpp"

namespace hsm::plans {

nlohmann::ordered_json to_json(const Problem& p) {
  nlohmann::ordered_json j;
  j["step"] = p.step;
  j["line"] = p.line;
  j["severity"] = p.warning ? "warning" : "refusal";
  j["rule"] = p.rule;
  j["code"] = p.code.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(p.code);
  j["devices"] = p.devices;
  j["message"] = p.message;
  j["fix"] = p.fix.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(p.fix);
  j["caused_by"] = p.caused_by ? nlohmann::ordered_json(p.caused_by) : nlohmann::ordered_json();
  return j;
}

nlohmann::ordered_json report_json(const Plan& plan, const CheckReport& rep) {
  nlohmann::ordered_json j;
  j["plan"] = plan.name;
  j["source"] = plan.source;
  j["ok"] = rep.ok();
  j["refusals"] = rep.refusals();
  j["warnings"] = rep.warnings();
  auto steps = nlohmann::ordered_json::array();
  for (const auto& s : rep.steps) {
    nlohmann::ordered_json e;
    e["step"] = s.step;
    e["line"] = s.line;
    e["action"] = std::string(to_string(plan.steps[static_cast<std::size_t>(s.step - 1)].action()));
    e["ok"] = s.ok();
    e["summary"] = s.summary;
    e["protocol"] = s.protocol ? nlohmann::ordered_json(std::string(api::to_string(*s.protocol)))
                               : nlohmann::ordered_json();
    e["objects"] = s.objects;
    steps.push_back(std::move(e));
  }
  j["steps"] = std::move(steps);
  auto problems = nlohmann::ordered_json::array();
  for (const auto& p : rep.problems) problems.push_back(to_json(p));
  j["problems"] = std::move(problems);
  return j;
}

std::string render_report(const Plan& plan, const CheckReport& rep) {
  std::ostringstream os;
  auto problem = [&](const Problem& p) {
    os << "    " << (p.warning ? "warning" : "refused") << " (rule " << p.rule
       << (p.code.empty() ? "" : ", " + p.code) << "): " << p.message << "\n";
    if (!p.fix.empty()) os << "      fix: " << p.fix << "\n";
  };
  bool setup = false;
  for (const auto& p : rep.problems)
    if (p.step == 0) {
      if (!setup) os << "before step 1 (the fleet as declared):\n";
      setup = true;
      problem(p);
    }
  for (const auto& s : rep.steps) {
    os << "step " << s.step << " (" << plan.source << ":" << s.line << ") "
       << (s.ok() ? "ok" : "REFUSED") << ": " << s.summary << "\n";
    for (const auto& p : rep.problems)
      if (p.step == s.step) problem(p);
  }
  os << (rep.ok() ? "plan OK" : "plan refused") << ": " << rep.steps.size() << " step(s), "
     << rep.refusals() << " refusal(s), " << rep.warnings() << " warning(s)\n";
  return os.str();
}

}  // namespace hsm::plans
