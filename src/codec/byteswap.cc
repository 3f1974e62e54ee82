#include "byteswap.h"

#include <cstdint>
#include <cstring>

namespace lsio::codec::internal {

namespace {

template <typename U>
void SwapWords(const std::byte* in, std::byte* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    U v;
    std::memcpy(&v, in + i * sizeof(U), sizeof(U));
    if constexpr (sizeof(U) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(U) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(U) == 8) v = __builtin_bswap64(v);
    std::memcpy(out + i * sizeof(U), &v, sizeof(U));
  }
}

}  // namespace

void ByteSwapCopy(std::span<const std::byte> in, std::span<std::byte> out, size_t width) {
  switch (width) {
    case 2:
      SwapWords<uint16_t>(in.data(), out.data(), in.size() / 2);
      return;
    case 4:
      SwapWords<uint32_t>(in.data(), out.data(), in.size() / 4);
      return;
    case 8:
      SwapWords<uint64_t>(in.data(), out.data(), in.size() / 8);
      return;
    default:
      if (!in.empty()) std::memcpy(out.data(), in.data(), in.size());
      return;
  }
}

}  // namespace lsio::codec::internal
