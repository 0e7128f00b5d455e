// A module built against a future plugin interface: the loader must refuse it.
#include <boost/config.hpp>

#include <cstdint>

extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t hsm_migrate_abi_version = 999;
