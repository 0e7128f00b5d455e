// `plan run` setup for a plan's PKCS#11 tokens (kind = "pkcs11"): what
// `device add` and `partition domain add` do, driven by the plan. The tool
// knows no token: the options go to the pkcs11 backend as `device add`
// passes them (see api::DeviceCreateRequest::options).
#include <algorithm>

#include "tool/plan_runner.hpp"

namespace hsm::tool {

namespace fs = std::filesystem;
using api::Result;

Result<std::string> ToolStepRunner::register_token(const plans::DeviceSpec& d) {
  if (ctx_.fleet->kind_of(d.name).ok()) return "token device " + d.name + " is registered";
  discard_interrupted_create(d.name);
  const plans::PartitionSpec& p = d.partitions.front();  // one, checked by the parser (T1)
  api::DeviceCreateRequest req;
  req.name = d.name;
  req.options = {{"module", d.token.module}, {"token", d.token.label}, {"partition", p.name}};
  for (const auto& [k, v] : d.token.module_env) req.options.emplace_back("module-env", k + "=" + v);
  std::string made;
  if (!d.token.softhsm2_folder.empty()) {
    const fs::path folder = ctx_.fleet->home() / d.token.softhsm2_folder;
    req.options.emplace_back("softhsm2-folder", folder.string());
    req.options.emplace_back("init-token", "yes");
    made = " (SoftHSM2 token in " + folder.string() + ")";
  }
  HSM_TRY_ASSIGN(req.credential, pin_of({d.name, p.name}));
  HSM_TRY(ctx_.fleet->create(d.name, "pkcs11", req));
  return "registered token \"" + d.token.label + "\" as " + d.name + "/" + p.name + made;
}

Result<std::string> ToolStepRunner::join_token_domains(const plans::DeviceSpec& d,
                                                       const plans::PartitionSpec& p) {
  const plans::Address a{d.name, p.name};
  HSM_TRY_ASSIGN(auto part, open_logged_in(a));
  HSM_TRY_ASSIGN(api::Endpoint ep, part->describe());
  std::string joined;
  for (const auto& u : p.domains) {
    // Held already (a resumed run): by label, as the live check finds it.
    const auto& have = ep.partition.domains;
    if (std::any_of(have.begin(), have.end(),
                    [&](const api::DomainDesc& x) { return x.label == u.label; }))
      continue;
    HSM_TRY_ASSIGN(api::DomainSecret secret, domain_of(u.name, u.label));
    HSM_TRY(part->domain_add(secret, u.primary));
    joined += (joined.empty() ? "" : ", ") + u.name;
  }
  if (joined.empty()) return "token " + a.str() + " holds the plan's domains";
  return "token " + a.str() + " joined domain " + joined;
}

}  // namespace hsm::tool
