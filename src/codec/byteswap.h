#pragma once

// Byte-order conversion of element arrays.

#include <cstddef>
#include <span>

namespace lsio::codec::internal {

// Copies `in` to `out` (same size, no overlap) reversing the bytes of every `width`-byte word.
// width is 1, 2, 4 or 8 (complex types swap each component). Precondition: in.size() is a
// multiple of width.
void ByteSwapCopy(std::span<const std::byte> in, std::span<std::byte> out, size_t width);

}  // namespace lsio::codec::internal
