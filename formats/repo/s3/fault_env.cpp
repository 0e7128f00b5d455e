#include "formats/repo/s3/fault_env.hpp"

#include <signal.h>

#include <map>
#include <memory>
#include <sstream>

namespace hsm::repo::s3 {

namespace {

enum class Action { cut, flip, stop };

struct Plan {
  std::string operation;
  long at = 0;
  Action action = Action::cut;
};

}  // namespace

api::Result<FaultHook> fault_hook_from_env(const EnvLookup& env) {
  const char* v = env(kFaultEnv);
  if (!v || !*v) return FaultHook{};
  std::vector<Plan> plans;
  std::stringstream all(v);
  for (std::string item; std::getline(all, item, ',');) {
    std::vector<std::string> f;
    std::stringstream one(item);
    for (std::string part; std::getline(one, part, ':');) f.push_back(part);
    Plan p;
    char* end = nullptr;
    if (f.size() >= 2) p.at = std::strtol(f[1].c_str(), &end, 10);
    const bool ok_n = f.size() >= 2 && end && *end == '\0' && p.at > 0;
    const std::string action = f.size() >= 3 ? f[2] : "cut";
    if (f.size() < 2 || f.size() > 3 || f[0].empty() || !ok_n ||
        (action != "cut" && action != "flip" && action != "stop"))
      return api::Error::usage(std::string(kFaultEnv) + "=\"" + v + "\" is malformed",
                               "write OPERATION:N[:cut|flip|stop], e.g. UploadPart:2");
    p.operation = f[0];
    p.action = action == "flip" ? Action::flip : action == "stop" ? Action::stop : Action::cut;
    plans.push_back(std::move(p));
  }
  auto seen = std::make_shared<std::map<std::string, long>>();
  return FaultHook([plans, seen](const HttpRequest& r, int attempt) -> std::optional<Fault> {
    if (attempt != 1) return std::nullopt;  // a retry goes through: the fault is one network error
    const long n = ++(*seen)[r.operation];
    for (const Plan& p : plans) {
      if (p.operation != r.operation || p.at != n) continue;
      switch (p.action) {
        case Action::stop:
          ::raise(SIGSTOP);
          return std::nullopt;
        case Action::flip:
          if (r.body_size) return Fault{std::nullopt, r.body_size / 2};
          return std::nullopt;
        case Action::cut:
          return Fault{std::size_t{1}, std::nullopt};
      }
    }
    return std::nullopt;
  });
}

}  // namespace hsm::repo::s3
