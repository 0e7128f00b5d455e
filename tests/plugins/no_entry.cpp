// A module with the right interface version but no entry point.
#include <boost/config.hpp>

#include <cstdint>

#include "plugins/api/backend.hpp"

extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t hsm_migrate_abi_version = hsm::api::kAbiVersion;
