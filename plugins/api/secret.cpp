#include "plugins/api/secret.hpp"

#include <sodium.h>

namespace hsm::api {
void secure_wipe(void* p, std::size_t n) noexcept { sodium_memzero(p, n); }
}  // namespace hsm::api
