// Unshuffle with Highway, compiled once per x86 target through foreach_target.h and picked at
// run time (as src/compute/kernels.cc does). Byte streams are interleaved with
// StoreInterleaved{2,3,4}; wider elements first widen 2 or 4 streams into u16 or u32 lanes (a
// promotion keeps lane order across the whole vector, unlike per-128-bit-block zips), so that
// 6-, 8-, 12- and 16-byte elements are 3, 2, 3 and 4 interleaved streams of wider lanes.
// Other sizes take the scalar loop, which is what c-blosc does for them too.

#include "src/codec/unshuffle.h"

#include <cstdint>
#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/codec/unshuffle.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
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

#if HWY_TARGET == HWY_SCALAR

void UnshuffleImpl(const uint8_t* const* streams, size_t typesize, size_t first, size_t count,
                   uint8_t* dst) {
  ScalarUnshuffle(streams, typesize, first, count, dst);
}

#else

// Byte streams: 2, 3 or 4 u8 vectors interleaved.
template <size_t kStreams>
HWY_INLINE size_t InterleaveBytes(const uint8_t* const* streams, size_t first, size_t count,
                                  uint8_t* dst) {
  const hn::CappedTag<uint8_t, 64> d8;
  const size_t N = hn::Lanes(d8);
  const uint8_t* s0 = streams[0] + first;
  const uint8_t* s1 = streams[1] + first;
  const uint8_t* s2 = kStreams > 2 ? streams[2] + first : nullptr;
  const uint8_t* s3 = kStreams > 3 ? streams[3] + first : nullptr;
  size_t i = 0;
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
                   uint8_t* dst) {
  size_t done = 0;
  switch (typesize) {
    case 2: done = InterleaveBytes<2>(streams, first, count, dst); break;
    case 3: done = InterleaveBytes<3>(streams, first, count, dst); break;
    case 4: done = InterleaveBytes<4>(streams, first, count, dst); break;
    case 6: done = InterleaveWide<uint16_t, 3>(streams, first, count, dst); break;
    case 8: done = InterleaveWide<uint32_t, 2>(streams, first, count, dst); break;
    case 12: done = InterleaveWide<uint32_t, 3>(streams, first, count, dst); break;
    case 16: done = InterleaveWide<uint32_t, 4>(streams, first, count, dst); break;
    default: break;
  }
  ScalarUnshuffle(streams, typesize, first + done, count - done, dst + done * typesize);
}

#endif  // HWY_TARGET == HWY_SCALAR

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace lsio::codec::internal
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lsio::codec::internal {

HWY_EXPORT(UnshuffleImpl);
HWY_EXPORT(TargetNameImpl);

void UnshuffleStreams(const std::byte* const* streams, size_t typesize, size_t first,
                      size_t count, std::byte* dst) {
  if (count == 0) return;
  if (typesize == 1) {
    std::memcpy(dst, streams[0] + first, count);
    return;
  }
  HWY_DYNAMIC_DISPATCH(UnshuffleImpl)(reinterpret_cast<const uint8_t* const*>(streams), typesize,
                                      first, count, reinterpret_cast<uint8_t*>(dst));
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
  UnshuffleStreams(streams, typesize, first, count, dst);
}

const char* UnshuffleTargetName() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

}  // namespace lsio::codec::internal
#endif  // HWY_ONCE
