// Endpoint builders for the clone and HA rule tests: plain descriptions with
// the defaults a freshly created partition has (policies 0/4 on, 42 and 44
// off where they exist, one primary domain, every CPv4 suite enabled on 7.8).
#pragma once

#include <string>

#include "plugins/api/types.hpp"
#include "plugins/luna/rules/kind_profile.hpp"

namespace hsm::luna::rules::fixtures {

inline constexpr const char* kDomainA = "aaaa";
inline constexpr const char* kDomainB = "bbbb";
inline constexpr const char* kDomainC = "cccc";

inline api::Endpoint endpoint(api::DeviceKind kind, api::Version fw, const std::string& device = "hsm-a",
                              const std::string& partition = "p1") {
  namespace pol = api::policy;
  api::Endpoint ep;
  ep.device.name = device;
  ep.device.kind = kind;
  ep.device.firmware = fw;
  ep.device.hsm_policies = {{pol::hsm_allow_cloning, 1},
                            {pol::hsm_allow_non_fips, 1},
                            {pol::hsm_network_replication, 1},
                            {pol::hsm_allow_clock_sync, 0}};
  ep.partition.name = partition;
  ep.partition.policies = {{pol::part_private_key_cloning, 1},
                           {pol::part_private_key_wrapping, 0},
                           {pol::part_secret_key_cloning, 1},
                           {pol::part_network_replication, 1}};
  const bool luna7 = kind == api::DeviceKind::luna7;
  const bool at78 = kind == api::DeviceKind::cloud || (luna7 && fw >= api::Version{7, 8, 0});
  if (luna7 && fw >= api::Version{7, 7, 1}) ep.partition.policies[pol::part_allow_cpv1] = 0;
  if (at78) {
    ep.partition.policies[pol::part_domain_management] = 0;
    ep.partition.suites_available = cpv4_suites();
    ep.partition.suites_enabled = cpv4_suites();
  }
  ep.partition.domains = {{"", api::DomainKind::text, true, kDomainA}};
  return ep;
}

inline api::Endpoint luna6(const std::string& dev = "hsm-a", api::Version fw = {6, 10, 9}) {
  return endpoint(api::DeviceKind::luna6, fw, dev);
}
inline api::Endpoint luna7(api::Version fw, const std::string& dev = "hsm-a") {
  return endpoint(api::DeviceKind::luna7, fw, dev);
}
inline api::Endpoint cloud(const std::string& dev = "cloud-a") {
  return endpoint(api::DeviceKind::cloud, {7, 8, 0}, dev, "svc");
}
inline api::Endpoint backup(api::Version fw = {6, 28, 0}, const std::string& dev = "bk") {
  return endpoint(api::DeviceKind::backup_g5, fw, dev);
}

inline api::Endpoint with_policy42(api::Endpoint ep, bool on) {
  ep.partition.policies[api::policy::part_allow_cpv1] = on ? 1 : 0;
  return ep;
}
inline api::Endpoint with_fips(api::Endpoint ep, bool fips = true) {
  ep.partition.fips = fips;
  return ep;
}
inline api::Endpoint with_type(api::Endpoint ep, api::PartitionType t) {
  ep.partition.type = t;
  return ep;
}
inline api::Endpoint with_domains(api::Endpoint ep, std::vector<api::DomainDesc> d) {
  ep.partition.domains = std::move(d);
  return ep;
}

inline api::ClientDesc client(api::Version v = {10, 9, 0}) {
  api::ClientDesc c;
  c.version = v;
  return c;
}

inline api::ObjectDesc key(api::KeyType type, int bits, api::ObjectClass cls = api::ObjectClass::private_key) {
  api::ObjectDesc o;
  o.handle = 7;
  o.label = "k1";
  o.cls = cls;
  o.key_type = type;
  o.bits = bits;
  if (type == api::KeyType::ec) o.curve = bits == 384 ? "P-384" : bits == 521 ? "P-521" : "P-256";
  o.assigned = false;
  return o;
}
inline api::ObjectDesc aes() { return key(api::KeyType::aes, 256, api::ObjectClass::secret_key); }

}  // namespace hsm::luna::rules::fixtures
