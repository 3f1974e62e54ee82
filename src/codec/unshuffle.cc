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

void ScalarUnshuffle(const uint8_t* src, size_t typesize, size_t stride, size_t first,
                     size_t count, uint8_t* dst) {
  for (size_t i = 0; i < count; ++i) {
    for (size_t j = 0; j < typesize; ++j) dst[i * typesize + j] = src[j * stride + first + i];
  }
}

#if HWY_TARGET == HWY_SCALAR

void UnshuffleImpl(const uint8_t* src, size_t typesize, size_t stride, size_t first,
                   size_t count, uint8_t* dst) {
  ScalarUnshuffle(src, typesize, stride, first, count, dst);
}

#else

// Byte streams: 2, 3 or 4 u8 vectors interleaved.
template <size_t kStreams>
HWY_INLINE size_t InterleaveBytes(const uint8_t* src, size_t stride, size_t first, size_t count,
                                  uint8_t* dst) {
  const hn::ScalableTag<uint8_t> d8;
  const size_t N = hn::Lanes(d8);
  const uint8_t* s = src + first;
  size_t i = 0;
  for (; i + N <= count; i += N) {
    const auto v0 = hn::LoadU(d8, s + i);
    const auto v1 = hn::LoadU(d8, s + stride + i);
    if constexpr (kStreams == 2) {
      hn::StoreInterleaved2(v0, v1, d8, dst + i * 2);
    } else if constexpr (kStreams == 3) {
      const auto v2 = hn::LoadU(d8, s + 2 * stride + i);
      hn::StoreInterleaved3(v0, v1, v2, d8, dst + i * 3);
    } else {
      const auto v2 = hn::LoadU(d8, s + 2 * stride + i);
      const auto v3 = hn::LoadU(d8, s + 3 * stride + i);
      hn::StoreInterleaved4(v0, v1, v2, v3, d8, dst + i * 4);
    }
  }
  return i;
}

// Elements of kStreams * sizeof(T) bytes: each group of sizeof(T) byte streams is widened into
// one stream of T lanes (little-endian), then the T streams are interleaved.
template <typename T, size_t kStreams>
HWY_INLINE size_t InterleaveWide(const uint8_t* src, size_t stride, size_t first, size_t count,
                                 uint8_t* dst) {
  const hn::ScalableTag<T> dw;
  const hn::Rebind<uint8_t, decltype(dw)> d8;
  const size_t N = hn::Lanes(dw);
  constexpr size_t kBytes = sizeof(T);
  constexpr size_t kSize = kStreams * kBytes;
  const uint8_t* s = src + first;
  auto widen = [&](size_t stream, size_t i) HWY_ATTR {
    const uint8_t* p = s + stream * kBytes * stride + i;
    auto w = hn::PromoteTo(dw, hn::LoadU(d8, p));
    w = hn::Or(w, hn::ShiftLeft<8>(hn::PromoteTo(dw, hn::LoadU(d8, p + stride))));
    if constexpr (kBytes == 4) {
      w = hn::Or(w, hn::ShiftLeft<16>(hn::PromoteTo(dw, hn::LoadU(d8, p + 2 * stride))));
      w = hn::Or(w, hn::ShiftLeft<24>(hn::PromoteTo(dw, hn::LoadU(d8, p + 3 * stride))));
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

void UnshuffleImpl(const uint8_t* src, size_t typesize, size_t stride, size_t first,
                   size_t count, uint8_t* dst) {
  size_t done = 0;
  switch (typesize) {
    case 2: done = InterleaveBytes<2>(src, stride, first, count, dst); break;
    case 3: done = InterleaveBytes<3>(src, stride, first, count, dst); break;
    case 4: done = InterleaveBytes<4>(src, stride, first, count, dst); break;
    case 6: done = InterleaveWide<uint16_t, 3>(src, stride, first, count, dst); break;
    case 8: done = InterleaveWide<uint32_t, 2>(src, stride, first, count, dst); break;
    case 12: done = InterleaveWide<uint32_t, 3>(src, stride, first, count, dst); break;
    case 16: done = InterleaveWide<uint32_t, 4>(src, stride, first, count, dst); break;
    default: break;
  }
  ScalarUnshuffle(src, typesize, stride, first + done, count - done, dst + done * typesize);
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

void UnshuffleElements(const std::byte* src, size_t typesize, size_t stride, size_t first,
                       size_t count, std::byte* dst) {
  if (count == 0) return;
  if (typesize == 1) {
    std::memcpy(dst, src + first, count);
    return;
  }
  HWY_DYNAMIC_DISPATCH(UnshuffleImpl)(reinterpret_cast<const uint8_t*>(src), typesize, stride,
                                      first, count, reinterpret_cast<uint8_t*>(dst));
}

const char* UnshuffleTargetName() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

}  // namespace lsio::codec::internal
#endif  // HWY_ONCE
