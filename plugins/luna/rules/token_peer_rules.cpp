#include "plugins/luna/rules/token_peer_rules.hpp"

#include "plugins/luna/rules/clone_rules.hpp"
#include "plugins/pkcs11/rules/token_rules.hpp"

namespace hsm::luna::rules {

using api::Endpoint;
using api::Protocol;
using api::Verdict;

bool token_pair(const Endpoint& src, const Endpoint& dst) {
  return p11::rules::is_token(src.device) || p11::rules::is_token(dst.device);
}

std::optional<Verdict> kwp_transport(const Endpoint& src, const Endpoint& dst) {
  for (const Endpoint* ep : {&src, &dst}) {
    if (p11::rules::is_token(ep->device) || at_7_8(ep->device)) continue;
    // Model: the domain-keyed AES key wrap (RFC 5649) that the portable form
    // needs is a 7.8.0 feature, as CPv4's extended domain management is.
    Verdict v;
    v.allowed = false;
    v.rule = "P6";
    v.code = "CKR_OPERATION_NOT_ALLOWED";
    const std::string other = (ep == &src ? dst : src).address();
    v.message = ep->address() + " (" + std::string(api::to_string(ep->device.kind)) + " " +
                ep->device.firmware.str() + ") cannot move keys to or from the PKCS#11 token " + other +
                ": the KWP transport needs a Luna 7 at firmware 7.8.0 or a cloud service";
    v.fix = ep->device.kind == api::DeviceKind::luna7
                ? "upgrade " + ep->device.name + " to firmware 7.8.0 (`device upgrade " + ep->device.name +
                      " --firmware 7.8.0`)"
                : "go through a Luna 7 partition at firmware 7.8.0 of the domain";
    return v;
  }
  if (!p11::rules::common_domain(src, dst)) return p11::rules::t4_refusal(src, dst);  // rule T4
  return std::nullopt;
}

std::optional<Verdict> kwp_object(const Endpoint& src, const Endpoint& dst, const api::ObjectDesc& obj,
                                  std::vector<std::string>& warnings, bool& to_token) {
  const Protocol p = Protocol::kwp;
  to_token = p11::rules::is_token(dst.device);
  if (auto r = p11::rules::check_t5_token_target(src, dst, obj, p)) return r;
  if (auto r = p11::rules::check_t2(src, dst, obj, p)) return r;
  if (auto r = p11::rules::check_t3(src, dst, obj, p)) return r;
  if (auto r = p11::rules::check_t5_luna_target(src, dst, obj, p)) {
    if (!r->allowed) return r;
    warnings.insert(warnings.end(), r->warnings.begin(), r->warnings.end());
  }
  return std::nullopt;
}

}  // namespace hsm::luna::rules
