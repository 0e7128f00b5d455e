#include "plugins/pkcs11/device/token_context.hpp"

#include <algorithm>

#include "plugins/pkcs11/device/connection.hpp"
#include "plugins/pkcs11/device/token_objects.hpp"
#include "plugins/pkcs11/device/token_setup.hpp"

namespace hsm::p11::plugin {

using api::Error;
using api::Result;

Result<Session*> TokenContext::session() {
  if (!session_) {
    if (!token_) {
      HSM_TRY_ASSIGN(Token t, find_registered_token(reg_));  // rule T1
      token_.emplace(std::move(t));
    }
    HSM_TRY_ASSIGN(Session s, Session::open(*token_, true));
    session_.emplace(std::move(s));
  }
  return &*session_;
}

api::Status TokenContext::login(const api::SecretBytes& pin) {
  HSM_TRY_ASSIGN(Session * s, session());
  HSM_TRY(login_user(*s, pin));
  logged_in_ = true;
  return {};
}

Result<Session*> TokenContext::logged_in_session() {
  if (!logged_in_)
    return Error::usage("not logged in to " + address() + ": the token's user PIN is required",
                        "set HSM_MIGRATE_PIN or pass --pin-file FILE");
  return session();
}

Result<api::DeviceDesc> TokenContext::device_desc() {
  api::DeviceDesc d;
  d.name = reg_.device;
  d.kind = api::DeviceKind::pkcs11;
  d.fm = api::FmState::never;
  auto s = session();
  if (!s.ok()) {
    // The registration still describes it: `device list` keeps working.
    d.attributes = {{"module", reg_.module},
                    {"token", reg_.token_label},
                    {"serial", reg_.token_serial},
                    {"state", "unreachable: " + s.error().message}};
    return d;
  }
  const TokenInfo& ti = (*s)->token().info();
  d.firmware = api::Version{ti.firmware.major, ti.firmware.minor, 0};
  HSM_TRY_ASSIGN(d.attributes, token_attributes((*s)->token()));
  d.attributes.insert(d.attributes.begin() + 1, {"identity key", reg_.identity_key});
  return d;
}

Result<api::Endpoint> TokenContext::endpoint(bool count) {
  api::Endpoint ep;
  HSM_TRY_ASSIGN(ep.device, device_desc());
  HSM_TRY_ASSIGN(Session * s, session());
  auto& p = ep.partition;
  p.name = reg_.partition;
  p.type = api::PartitionType::v0;
  p.auth = api::AuthKind::password;
  p.transport = reg_.transport;
  // rule T4: a domain counts when the token really holds its KEK (checked
  // once logged in: the KEK is a private object).
  for (const auto& d : reg_.domains)
    if (!logged_in_ || kek(d.fingerprint).ok()) p.domains.push_back(d);
  if (count) {
    // The token's objects but hsm-migrate's own (domain KEKs, identity pair).
    HSM_TRY_ASSIGN(auto all, p11::find_objects(*s, token_objects()));
    std::size_t own = 0;
    for (std::string_view label : {kDomainKekLabel, kIdentityLabel}) {
      ObjectFilter f = token_objects();
      f.label = bytes_of(label);
      HSM_TRY_ASSIGN(auto mine, p11::find_objects(*s, f));
      own += mine.size();
    }
    p.object_count = all.size() - std::min(own, all.size());
  }
  return ep;
}

Result<CK_OBJECT_HANDLE> TokenContext::kek(const std::string& fingerprint) {
  if (auto it = keks_.find(fingerprint); it != keks_.end()) return it->second;
  HSM_TRY_ASSIGN(Session * s, session());
  HSM_TRY_ASSIGN(CK_OBJECT_HANDLE h, find_kek(*s, fingerprint));
  keks_[fingerprint] = h;
  return h;
}

Result<CK_OBJECT_HANDLE> TokenContext::primary_kek() {
  for (const auto& d : reg_.domains)
    if (d.primary) return kek(d.fingerprint);
  return CK_OBJECT_HANDLE{CK_INVALID_HANDLE};
}

}  // namespace hsm::p11::plugin
