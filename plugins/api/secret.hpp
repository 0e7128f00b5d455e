// Secrets in wiped memory (SoftHSM's SecureAllocator habit): PINs, domain
// secrets and key material live in SecretBytes, which is zeroised with
// sodium_memzero when freed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace hsm::api {

void secure_wipe(void* p, std::size_t n) noexcept;  // sodium_memzero

template <class T>
struct ZeroingAllocator {
  using value_type = T;
  ZeroingAllocator() = default;
  template <class U>
  ZeroingAllocator(const ZeroingAllocator<U>&) noexcept {}  // NOLINT
  T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    secure_wipe(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const ZeroingAllocator<U>&) const noexcept { return true; }
};

using SecretBytes = std::vector<std::uint8_t, ZeroingAllocator<std::uint8_t>>;

inline SecretBytes secret_from(std::string_view s) { return SecretBytes(s.begin(), s.end()); }

}  // namespace hsm::api
