// The shared Luna device model as an api::Backend. Each plugin module is a
// thin configuration of it: it names its device kind and exports the entry.
#pragma once

#include "plugins/api/backend.hpp"

namespace hsm::luna {

// The Backend singleton for one device kind (configured by its KindProfile).
api::Backend& backend_for(api::DeviceKind kind);

}  // namespace hsm::luna

// Exports the two symbols the loader looks for (see plugins/api/backend.hpp).
#define HSM_LUNA_PLUGIN(KIND)                                                              \
  extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t hsm_migrate_abi_version =             \
      hsm::api::kAbiVersion;                                                               \
  namespace {                                                                              \
  hsm::api::Backend& hsm_plugin_entry() { return hsm::luna::backend_for(KIND); }           \
  }                                                                                        \
  BOOST_DLL_ALIAS(hsm_plugin_entry, hsm_migrate_backend)
