#include "plugins/api/types.hpp"

#include <array>
#include <utility>

namespace hsm::api {
namespace {

template <class E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<DeviceKind, 5> kDeviceKinds{{{DeviceKind::luna6, "luna6"},
                                             {DeviceKind::luna7, "luna7"},
                                             {DeviceKind::cloud, "cloud"},
                                             {DeviceKind::backup_g5, "backup-g5"},
                                             {DeviceKind::pkcs11, "pkcs11"}}};
constexpr Names<FmState, 2> kFm{{{FmState::never, "never"}, {FmState::enabled, "enabled"}}};
constexpr Names<PartitionType, 2> kPartTypes{
    {{PartitionType::v0, "v0"}, {PartitionType::v1, "v1"}}};
constexpr Names<AuthKind, 2> kAuth{{{AuthKind::password, "password"}, {AuthKind::mfa, "mfa"}}};
constexpr Names<DomainKind, 2> kDomainKinds{{{DomainKind::text, "text"}, {DomainKind::ped, "ped"}}};
constexpr Names<Protocol, 4> kProtocols{{{Protocol::cpv1, "CPv1"},
                                         {Protocol::cpv3, "CPv3"},
                                         {Protocol::cpv4, "CPv4"},
                                         {Protocol::kwp, "KWP"}}};
constexpr Names<ObjectClass, 5> kClasses{{{ObjectClass::secret_key, "secret-key"},
                                          {ObjectClass::private_key, "private-key"},
                                          {ObjectClass::public_key, "public-key"},
                                          {ObjectClass::data, "data"},
                                          {ObjectClass::certificate, "certificate"}}};
constexpr Names<KeyType, 6> kKeyTypes{{{KeyType::aes, "aes"},
                                       {KeyType::des3, "des3"},
                                       {KeyType::rsa, "rsa"},
                                       {KeyType::ec, "ec"},
                                       {KeyType::ed25519, "ed25519"},
                                       {KeyType::generic, "generic"}}};
constexpr Names<KeygenMechanism, 4> kMechs{{{KeygenMechanism::none, "none"},
                                            {KeygenMechanism::pkcs, "pkcs"},
                                            {KeygenMechanism::x9_31, "x9.31"},
                                            {KeygenMechanism::fips186_3, "186-3"}}};

template <class E, std::size_t N>
std::string_view name_of(const Names<E, N>& names, E e) {
  for (const auto& [k, s] : names)
    if (k == e) return s;
  return "?";
}
template <class E, std::size_t N>
std::optional<E> parse_of(const Names<E, N>& names, std::string_view s) {
  for (const auto& [k, n] : names)
    if (n == s) return k;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(DeviceKind e) { return name_of(kDeviceKinds, e); }
std::string_view to_string(FmState e) { return name_of(kFm, e); }
std::string_view to_string(PartitionType e) { return name_of(kPartTypes, e); }
std::string_view to_string(AuthKind e) { return name_of(kAuth, e); }
std::string_view to_string(DomainKind e) { return name_of(kDomainKinds, e); }
std::string_view to_string(Protocol e) { return name_of(kProtocols, e); }
std::string_view to_string(ObjectClass e) { return name_of(kClasses, e); }
std::string_view to_string(KeyType e) { return name_of(kKeyTypes, e); }
std::string_view to_string(KeygenMechanism e) { return name_of(kMechs, e); }
std::optional<DeviceKind> parse_device_kind(std::string_view s) { return parse_of(kDeviceKinds, s); }
std::optional<FmState> parse_fm_state(std::string_view s) { return parse_of(kFm, s); }
std::optional<PartitionType> parse_partition_type(std::string_view s) {
  return parse_of(kPartTypes, s);
}
std::optional<AuthKind> parse_auth_kind(std::string_view s) { return parse_of(kAuth, s); }
std::optional<DomainKind> parse_domain_kind(std::string_view s) { return parse_of(kDomainKinds, s); }
std::optional<Protocol> parse_protocol(std::string_view s) { return parse_of(kProtocols, s); }
std::optional<ObjectClass> parse_object_class(std::string_view s) { return parse_of(kClasses, s); }
std::optional<KeyType> parse_key_type(std::string_view s) { return parse_of(kKeyTypes, s); }
std::optional<KeygenMechanism> parse_keygen_mechanism(std::string_view s) {
  return parse_of(kMechs, s);
}

}  // namespace hsm::api
