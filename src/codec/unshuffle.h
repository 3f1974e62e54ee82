#pragma once

// Byte unshuffle (the inverse of blosc's and numcodecs' byte shuffle), vectorised with Highway
// and dispatched at run time (unshuffle.cc). Private to the codec layer.

#include <cstddef>

namespace lsio::codec::internal {

// Gathers `count` elements of `typesize` bytes from a shuffled block: byte j of element i is
// src[j * stride + first + i], where `stride` is the number of elements the block holds (the
// length of each byte stream). Writes count * typesize bytes to dst[i * typesize + j].
// `src` and `dst` must not overlap. typesize >= 1.
void UnshuffleElements(const std::byte* src, size_t typesize, size_t stride, size_t first,
                       size_t count, std::byte* dst);

// The same with each byte stream where it lies: byte j of element i is streams[j][first + i].
// typesize <= kMaxUnshuffleStreams (blosc splits blocks into streams only up to 16 bytes).
inline constexpr size_t kMaxUnshuffleStreams = 256;
// With `stream_out`, writes with non-temporal stores where it can (for output much larger than
// the cache that is not read back soon).
void UnshuffleStreams(const std::byte* const* streams, size_t typesize, size_t first,
                      size_t count, std::byte* dst, bool stream_out);

// Bit unshuffle (the inverse of blosc's bitshuffle, bitshuffle's bshuf_trans_bit_elem) up to the
// byte-shuffled layout: `src` holds 8 * typesize rows of n / 8 bytes, row 8 j + i holding bit i
// of byte j of every element (element e at bit e % 8 of byte e / 8). Writes typesize byte planes
// of n bytes, plane j holding byte j of every element, which UnshuffleElements then
// interleaves. n % 8 == 0.
void BitRowsToBytePlanes(const std::byte* src, size_t typesize, size_t n, std::byte* planes);

// The SIMD target UnshuffleElements runs on ("AVX3", "AVX2", ...).
const char* UnshuffleTargetName();

}  // namespace lsio::codec::internal
