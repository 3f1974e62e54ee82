// Unshuffle with Highway, compiled once per x86 target through foreach_target.h and picked at
// run time (as src/compute/kernels.cc does). Byte streams are interleaved with
// StoreInterleaved{2,3,4}; wider elements first widen 2 or 4 streams into u16 or u32 lanes (a
// promotion keeps lane order across the whole vector, unlike per-128-bit-block zips), so that
// 6-, 8-, 12- and 16-byte elements are 3, 2, 3 and 4 interleaved streams of wider lanes.
// Other sizes take the scalar loop, which is what c-blosc does for them too.

#include "src/codec/unshuffle.h"

#include <cstdint>
#include <cstring>
#include <type_traits>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/codec/unshuffle.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lsio::codec::internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void ScalarUnshuffle(const uint8_t* const* streams, size_t typesize, size_t first, size_t count,
                     uint8_t* dst) {
  for (size_t i = 0; i < count; ++i) {
    for (size_t j = 0; j < typesize; ++j) dst[i * typesize + j] = streams[j][first + i];
  }
}

// Bit rows to byte planes, one group of 8 elements: plane[k] (byte j of element 8g + k) gathers
// bit k of row byte rows[i][g] as its bit i.
void ScalarBitGroups(const uint8_t* const* rows, size_t g0, size_t g1, uint8_t* plane) {
  for (size_t g = g0; g < g1; ++g) {
    for (size_t k = 0; k < 8; ++k) {
      unsigned byte = 0;
      for (size_t i = 0; i < 8; ++i) byte |= ((rows[i][g] >> k) & 1u) << i;
      plane[8 * g + k] = static_cast<uint8_t>(byte);
    }
  }
}

#if HWY_TARGET == HWY_SCALAR

void BitPlanesImpl(const uint8_t* src, size_t typesize, size_t n, uint8_t* planes) {
  const size_t row = n / 8;
  for (size_t j = 0; j < typesize; ++j) {
    const uint8_t* rows[8];
    for (size_t i = 0; i < 8; ++i) rows[i] = src + (j * 8 + i) * row;
    ScalarBitGroups(rows, 0, row, planes + j * n);
  }
}

void UnshuffleImpl(const uint8_t* const* streams, size_t typesize, size_t first, size_t count,
                   uint8_t* dst, bool /*stream_out*/) {
  ScalarUnshuffle(streams, typesize, first, count, dst);
}

#else

// Byte streams: 2, 3 or 4 u8 vectors interleaved.
// 128-bit vectors: Highway 1.0's StoreInterleaved{3,4} of bytes in 512-bit vectors shuffles
// across lanes at a cost that makes it slower (24 GB/s in L2 for 4-byte elements on this
// machine's AVX-512) than 128-bit vectors (40 GB/s); AVX2 and SSE4 are no faster either.
// With kStream, the output goes out with non-temporal stores (2 and 4 streams, 16-byte aligned
// output): a whole decoded chunk is larger than the cache, and streaming stores spare the
// read-for-ownership of every output line.
template <size_t kStreams, bool kStream>
HWY_INLINE size_t InterleaveBytes(const uint8_t* const* streams, size_t first, size_t count,
                                  uint8_t* dst) {
  const hn::CappedTag<uint8_t, 16> d8;
  const size_t N = hn::Lanes(d8);
  const uint8_t* s0 = streams[0] + first;
  const uint8_t* s1 = streams[1] + first;
  const uint8_t* s2 = kStreams > 2 ? streams[2] + first : nullptr;
  const uint8_t* s3 = kStreams > 3 ? streams[3] + first : nullptr;
  size_t i = 0;
  if constexpr (kStream && (kStreams == 2 || kStreams == 4)) {
    if (N == 16) {
      const hn::Repartition<uint16_t, decltype(d8)> d16;
      for (; i + N <= count; i += N) {
        const auto v0 = hn::LoadU(d8, s0 + i);
        const auto v1 = hn::LoadU(d8, s1 + i);
        const auto lo01 = hn::InterleaveLower(d8, v0, v1);
        const auto hi01 = hn::InterleaveUpper(d8, v0, v1);
        uint8_t* out = dst + i * kStreams;
        if constexpr (kStreams == 2) {
          hn::Stream(lo01, d8, out);
          hn::Stream(hi01, d8, out + N);
        } else {
          const auto v2 = hn::LoadU(d8, s2 + i);
          const auto v3 = hn::LoadU(d8, s3 + i);
          const auto lo23 = hn::BitCast(d16, hn::InterleaveLower(d8, v2, v3));
          const auto hi23 = hn::BitCast(d16, hn::InterleaveUpper(d8, v2, v3));
          const auto a = hn::BitCast(d16, lo01);
          const auto b = hn::BitCast(d16, hi01);
          hn::Stream(hn::BitCast(d8, hn::InterleaveLower(d16, a, lo23)), d8, out);
          hn::Stream(hn::BitCast(d8, hn::InterleaveUpper(d16, a, lo23)), d8, out + N);
          hn::Stream(hn::BitCast(d8, hn::InterleaveLower(d16, b, hi23)), d8, out + 2 * N);
          hn::Stream(hn::BitCast(d8, hn::InterleaveUpper(d16, b, hi23)), d8, out + 3 * N);
        }
      }
      return i;
    }
  }
  for (; i + N <= count; i += N) {
    const auto v0 = hn::LoadU(d8, s0 + i);
    const auto v1 = hn::LoadU(d8, s1 + i);
    if constexpr (kStreams == 2) {
      hn::StoreInterleaved2(v0, v1, d8, dst + i * 2);
    } else if constexpr (kStreams == 3) {
      const auto v2 = hn::LoadU(d8, s2 + i);
      hn::StoreInterleaved3(v0, v1, v2, d8, dst + i * 3);
    } else {
      const auto v2 = hn::LoadU(d8, s2 + i);
      const auto v3 = hn::LoadU(d8, s3 + i);
      hn::StoreInterleaved4(v0, v1, v2, v3, d8, dst + i * 4);
    }
  }
  return i;
}

// Elements of kStreams * sizeof(T) bytes: each group of sizeof(T) byte streams is widened into
// one stream of T lanes (little-endian), then the T streams are interleaved.
template <typename T, size_t kStreams>
HWY_INLINE size_t InterleaveWide(const uint8_t* const* streams, size_t first, size_t count,
                                 uint8_t* dst) {
  const hn::ScalableTag<T> dw;
  const hn::Rebind<uint8_t, decltype(dw)> d8;
  const size_t N = hn::Lanes(dw);
  constexpr size_t kBytes = sizeof(T);
  constexpr size_t kSize = kStreams * kBytes;
  auto widen = [&](size_t stream, size_t i) HWY_ATTR {
    const uint8_t* const* b = streams + stream * kBytes;
    const size_t at = first + i;
    auto w = hn::PromoteTo(dw, hn::LoadU(d8, b[0] + at));
    w = hn::Or(w, hn::ShiftLeft<8>(hn::PromoteTo(dw, hn::LoadU(d8, b[1] + at))));
    if constexpr (kBytes == 4) {
      w = hn::Or(w, hn::ShiftLeft<16>(hn::PromoteTo(dw, hn::LoadU(d8, b[2] + at))));
      w = hn::Or(w, hn::ShiftLeft<24>(hn::PromoteTo(dw, hn::LoadU(d8, b[3] + at))));
    }
    return w;
  };
  size_t i = 0;
  for (; i + N <= count; i += N) {
    T* out = reinterpret_cast<T*>(dst + i * kSize);
    const auto w0 = widen(0, i);
    const auto w1 = widen(1, i);
    if constexpr (kStreams == 2) {
      hn::StoreInterleaved2(w0, w1, dw, out);
    } else if constexpr (kStreams == 3) {
      hn::StoreInterleaved3(w0, w1, widen(2, i), dw, out);
    } else {
      hn::StoreInterleaved4(w0, w1, widen(2, i), widen(3, i), dw, out);
    }
  }
  return i;
}

void UnshuffleImpl(const uint8_t* const* streams, size_t typesize, size_t first, size_t count,
                   uint8_t* dst, bool stream_out) {
  size_t done = 0;
  const bool nt = stream_out && reinterpret_cast<uintptr_t>(dst) % 16 == 0;
  switch (typesize) {
    case 2:
      done = nt ? InterleaveBytes<2, true>(streams, first, count, dst)
                : InterleaveBytes<2, false>(streams, first, count, dst);
      break;
    case 3: done = InterleaveBytes<3, false>(streams, first, count, dst); break;
    case 4:
      done = nt ? InterleaveBytes<4, true>(streams, first, count, dst)
                : InterleaveBytes<4, false>(streams, first, count, dst);
      break;
    case 6: done = InterleaveWide<uint16_t, 3>(streams, first, count, dst); break;
    case 8: done = InterleaveWide<uint32_t, 2>(streams, first, count, dst); break;
    case 12: done = InterleaveWide<uint32_t, 3>(streams, first, count, dst); break;
    case 16: done = InterleaveWide<uint32_t, 4>(streams, first, count, dst); break;
    default: break;
  }
  ScalarUnshuffle(streams, typesize, first + done, count - done, dst + done * typesize);
  if (nt) hwy::FlushStream();
}

// Bit unshuffle, first half: the 8 bit rows of byte j hold, in byte g, bit i of byte j of
// elements 8g..8g+7. Sixteen groups at a time, the 8 x 8 bit matrices of the 8 row vectors are
// transposed in registers (three butterfly stages of masked shifts and xors; u16 shifts are
// safe because the masks drop the bits that cross bytes), giving vector k = byte j of elements
// 8g + k, and an 8-way byte interleave puts those in element order: byte plane j.
void BitPlanesImpl(const uint8_t* src, size_t typesize, size_t n, uint8_t* planes) {
  const hn::CappedTag<uint8_t, 16> d8;
  const hn::Repartition<uint16_t, decltype(d8)> d16;
  const hn::Repartition<uint32_t, decltype(d8)> d32;
  const size_t N = hn::Lanes(d8);
  const size_t row = n / 8;
  for (size_t j = 0; j < typesize; ++j) {
    const uint8_t* rows[8];
    for (size_t i = 0; i < 8; ++i) rows[i] = src + (j * 8 + i) * row;
    uint8_t* plane = planes + j * n;
    size_t g = 0;
    if (N == 16) {
      for (; g + 16 <= row; g += 16) {
        hn::VFromD<decltype(d8)> r[8];
        for (size_t i = 0; i < 8; ++i) r[i] = hn::LoadU(d8, rows[i] + g);
        auto stage = [&](size_t a, size_t b, auto shift, uint8_t mask) HWY_ATTR {
          constexpr int kShift = decltype(shift)::value;
          const auto t = hn::And(
              hn::Xor(hn::BitCast(d8, hn::ShiftRight<kShift>(hn::BitCast(d16, r[a]))), r[b]),
              hn::Set(d8, mask));
          r[b] = hn::Xor(r[b], t);
          r[a] = hn::Xor(r[a], hn::BitCast(d8, hn::ShiftLeft<kShift>(hn::BitCast(d16, t))));
        };
        using S4 = std::integral_constant<int, 4>;
        using S2 = std::integral_constant<int, 2>;
        using S1 = std::integral_constant<int, 1>;
        for (size_t i = 0; i < 4; ++i) stage(i, i + 4, S4(), 0x0F);
        for (size_t i : {0, 1, 4, 5}) stage(i, i + 2, S2(), 0x33);
        for (size_t i : {0, 2, 4, 6}) stage(i, i + 1, S1(), 0x55);
        // r[k] lane g' = byte j of element 8 (g + g') + k; interleave into element order.
        const auto a01 = hn::BitCast(d16, hn::InterleaveLower(d8, r[0], r[1]));
        const auto b01 = hn::BitCast(d16, hn::InterleaveUpper(d8, r[0], r[1]));
        const auto a23 = hn::BitCast(d16, hn::InterleaveLower(d8, r[2], r[3]));
        const auto b23 = hn::BitCast(d16, hn::InterleaveUpper(d8, r[2], r[3]));
        const auto a45 = hn::BitCast(d16, hn::InterleaveLower(d8, r[4], r[5]));
        const auto b45 = hn::BitCast(d16, hn::InterleaveUpper(d8, r[4], r[5]));
        const auto a67 = hn::BitCast(d16, hn::InterleaveLower(d8, r[6], r[7]));
        const auto b67 = hn::BitCast(d16, hn::InterleaveUpper(d8, r[6], r[7]));
        auto quad = [&](auto x01, auto x23, auto x45, auto x67, uint8_t* out) HWY_ATTR {
          const auto lo03 = hn::BitCast(d32, hn::InterleaveLower(d16, x01, x23));
          const auto hi03 = hn::BitCast(d32, hn::InterleaveUpper(d16, x01, x23));
          const auto lo47 = hn::BitCast(d32, hn::InterleaveLower(d16, x45, x67));
          const auto hi47 = hn::BitCast(d32, hn::InterleaveUpper(d16, x45, x67));
          hn::StoreU(hn::BitCast(d8, hn::InterleaveLower(d32, lo03, lo47)), d8, out);
          hn::StoreU(hn::BitCast(d8, hn::InterleaveUpper(d32, lo03, lo47)), d8, out + 16);
          hn::StoreU(hn::BitCast(d8, hn::InterleaveLower(d32, hi03, hi47)), d8, out + 32);
          hn::StoreU(hn::BitCast(d8, hn::InterleaveUpper(d32, hi03, hi47)), d8, out + 48);
        };
        quad(a01, a23, a45, a67, plane + 8 * g);
        quad(b01, b23, b45, b67, plane + 8 * g + 64);
      }
    }
    ScalarBitGroups(rows, g, row, plane);
  }
}

#endif  // HWY_TARGET == HWY_SCALAR

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace lsio::codec::internal
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lsio::codec::internal {

HWY_EXPORT(UnshuffleImpl);
HWY_EXPORT(BitPlanesImpl);
HWY_EXPORT(TargetNameImpl);

void UnshuffleStreams(const std::byte* const* streams, size_t typesize, size_t first,
                      size_t count, std::byte* dst, bool stream_out) {
  if (count == 0) return;
  if (typesize == 1) {
    std::memcpy(dst, streams[0] + first, count);
    return;
  }
  // Non-temporal stores need an aligned destination; a chunk decoded straight into a caller's
  // array (array::ChunkConsumer::DecodeDestination) may start anywhere.
  stream_out = stream_out && reinterpret_cast<uintptr_t>(dst) % 64 == 0;
  HWY_DYNAMIC_DISPATCH(UnshuffleImpl)(reinterpret_cast<const uint8_t* const*>(streams), typesize,
                                      first, count, reinterpret_cast<uint8_t*>(dst), stream_out);
}

void UnshuffleElements(const std::byte* src, size_t typesize, size_t stride, size_t first,
                       size_t count, std::byte* dst) {
  const std::byte* streams[kMaxUnshuffleStreams];
  if (typesize > kMaxUnshuffleStreams) {
    for (size_t i = 0; i < count; ++i) {
      for (size_t j = 0; j < typesize; ++j) dst[i * typesize + j] = src[j * stride + first + i];
    }
    return;
  }
  for (size_t j = 0; j < typesize; ++j) streams[j] = src + j * stride;
  UnshuffleStreams(streams, typesize, first, count, dst, false);
}

void BitRowsToBytePlanes(const std::byte* src, size_t typesize, size_t n, std::byte* planes) {
  if (n == 0) return;
  HWY_DYNAMIC_DISPATCH(BitPlanesImpl)(reinterpret_cast<const uint8_t*>(src), typesize, n,
                                      reinterpret_cast<uint8_t*>(planes));
}

const char* UnshuffleTargetName() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

}  // namespace lsio::codec::internal
#endif  // HWY_ONCE
