// Highway kernels, compiled once per x86 target (SSE4, AVX2, AVX-512, plus the EMU128 baseline)
// through foreach_target.h and dispatched at run time; a plain -O2 build therefore still uses
// AVX-512 on a machine that has it, and never executes an instruction the CPU lacks.

#include "src/compute/kernels.h"

#include "lsio/compute/simd_target.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/compute/kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lsio::compute::internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr double kInf = std::numeric_limits<double>::infinity();

#if HWY_TARGET == HWY_SCALAR
// Highway's single-lane target lacks some ops used below (half vectors, 8-bit promotion). On
// x86 it is only the fallback for CPUs without SSE4 (GCC 12 rules out EMU128), so it runs these
// plain C++ kernels, which compute the same quantities the same way.

template <typename T>
bool ScalarValid(T x, const ResolvedMissing& missing) {
  if (std::isnan(x)) return false;
  for (int k = 0; k < missing.count; ++k) {
    if (static_cast<double>(x) == missing.value[k]) return false;
  }
  return true;
}

template <typename T>
FloatMoments ScalarFloatMoments(std::span<const internal::Run> runs,
                                const ResolvedMissing& missing) {
  FloatMoments out{0, kInf, -kInf, 0.0, 0.0, 0.0, 0.0};
  for (const auto& r : runs) {
    const T* p = reinterpret_cast<const T*>(r.data);
    for (size_t i = 0; i < r.length; ++i) {
      if (!ScalarValid(p[i], missing)) continue;
      const double x = static_cast<double>(p[i]);
      ++out.count;
      out.min = std::min(out.min, x);
      out.max = std::max(out.max, x);
      out.sum += x;
    }
  }
  if (out.count == 0) return out;
  const double mean = out.sum / static_cast<double>(out.count);
  out.mean = mean;
  double q = 0, c = 0;
  for (const auto& r : runs) {
    const T* p = reinterpret_cast<const T*>(r.data);
    for (size_t i = 0; i < r.length; ++i) {
      if (!ScalarValid(p[i], missing)) continue;
      const double d = static_cast<double>(p[i]) - mean;
      q += d * d;
      c += d;
    }
  }
  out.dev_sum = c;
  out.dev_sq = q;
  return out;
}

FloatMoments MomentsFloat32Impl(std::span<const internal::Run> runs,
                                const ResolvedMissing& missing) {
  return ScalarFloatMoments<float>(runs, missing);
}
FloatMoments MomentsFloat64Impl(std::span<const internal::Run> runs,
                                const ResolvedMissing& missing) {
  return ScalarFloatMoments<double>(runs, missing);
}

template <typename T>
void ScalarSmallInt(const internal::Run& r, const ResolvedMissing& missing, IntMoments& out,
                    uint64_t& sq) {
  using U = std::make_unsigned_t<T>;
  const T* p = reinterpret_cast<const T*>(r.data);
  for (size_t i = 0; i < r.length; ++i) {
    const uint64_t bits = static_cast<U>(p[i]);
    if ((missing.count > 0 && bits == missing.bits[0]) ||
        (missing.count > 1 && bits == missing.bits[1])) {
      continue;
    }
    const int64_t x = p[i];
    ++out.count;
    out.min = std::min(out.min, x);
    out.max = std::max(out.max, x);
    out.sum += x;
    sq += static_cast<uint64_t>(x * x);
  }
}

IntMoments MomentsSmallIntImpl(DataType dtype, std::span<const internal::Run> runs,
                               const ResolvedMissing& missing) {
  IntMoments out{0, INT64_MAX, INT64_MIN, 0, 0.0};
  uint64_t sq = 0;  // <= 32768 * 65535^2 < 2^48
  for (const auto& r : runs) {
    switch (dtype) {
      case DataType::kInt8: ScalarSmallInt<int8_t>(r, missing, out, sq); break;
      case DataType::kInt16: ScalarSmallInt<int16_t>(r, missing, out, sq); break;
      case DataType::kUInt16: ScalarSmallInt<uint16_t>(r, missing, out, sq); break;
      default: ScalarSmallInt<uint8_t>(r, missing, out, sq); break;
    }
  }
  if (out.count == 0) return out;
  const __int128 n = out.count;
  const __int128 n_m2 = n * static_cast<__int128>(sq) - static_cast<__int128>(out.sum) * out.sum;
  out.m2 = static_cast<double>(n_m2) / static_cast<double>(out.count);
  return out;
}

void ConvertFloat16ToFloat32Impl(const uint16_t* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = HalfToFloat(src[i]);
}
void ConvertInt32ToFloat64Impl(const int32_t* src, size_t n, double* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<double>(src[i]);
}
void ConvertUInt32ToFloat64Impl(const uint32_t* src, size_t n, double* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<double>(src[i]);
}

template <typename T>
void ScalarGridRows(const T* const* rows, size_t num_rows, size_t width, GridCells c) {
  for (size_t x = 0; x < width; ++x) {
    double n = 0, s = 0, mn = kInf, mx = -kInf;
    for (size_t r = 0; r < num_rows; ++r) {
      const double v = static_cast<double>(rows[r][x]);
      if (std::isnan(v)) continue;
      n += 1;
      s += v;
      mn = std::min(mn, v);
      mx = std::max(mx, v);
    }
    c.nan_count[x] += static_cast<double>(num_rows) - n;
    if (n == 0) continue;
    const double mean = s / n;
    double q = 0, cs = 0;
    for (size_t r = 0; r < num_rows; ++r) {
      const double v = static_cast<double>(rows[r][x]);
      if (std::isnan(v)) continue;
      q += (v - mean) * (v - mean);
      cs += v - mean;
    }
    MergeIntoCell(c, x, n, s, mean, cs / n, q - cs * cs / n);
    c.min[x] = std::min(c.min[x], mn);
    c.max[x] = std::max(c.max[x], mx);
  }
}

void GridRowsFloat32Impl(const float* const* rows, size_t num_rows, size_t width,
                         GridCells cells) {
  ScalarGridRows(rows, num_rows, width, cells);
}
void GridRowsFloat64Impl(const double* const* rows, size_t num_rows, size_t width,
                         GridCells cells) {
  ScalarGridRows(rows, num_rows, width, cells);
}

#else

// Copies the last `n` < Lanes(d) elements of a run into a full vector's worth of stack memory,
// padding with `pad`, so that tails are processed with the same code as full vectors without
// reading past the end of the chunk (Highway 1.0's MaskedLoad may fault on SSE4).
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE hn::VFromD<D> LoadTail(D d, const T* p, size_t n, T pad) {
  HWY_ALIGN T buf[hn::MaxLanes(d)];
  for (size_t i = 0; i < hn::Lanes(d); ++i) buf[i] = i < n ? p[i] : pad;
  return hn::Load(d, buf);
}

// ----------------------------------------------------------------------------- float moments
//
// Pass 1 over the block gives count, min, max and a sum; pass 2 re-reads the block from L1 for
// the sum of deviations from the block mean and of their squares (float64), whose first term
// corrects the rounding of the mean (the corrected two-pass formula). Blocks without NaN and
// without missing values take a path with no masking; a block whose sum came out NaN had a NaN
// (or both infinities) and is redone with masks.

template <typename T>
struct FloatKernel {
  using D = hn::ScalableTag<T>;
  using DD = hn::ScalableTag<double>;
  using V = hn::VFromD<D>;
  using VD = hn::VFromD<DD>;

  // Lane halves of a float vector as float64; for double the vector itself (hi unused).
  static HWY_INLINE void Widen(V v, VD& lo, VD& hi) {
    if constexpr (sizeof(T) == 4) {
      const DD dd;
      const hn::Half<D> dh;
      lo = hn::PromoteTo(dd, hn::LowerHalf(dh, v));
      hi = hn::PromoteTo(dd, hn::UpperHalf(dh, v));
    } else {
      lo = v;
      hi = v;
    }
  }

  static HWY_INLINE hn::Mask<D> Valid(V v, const ResolvedMissing& missing, V m0, V m1) {
    auto valid = hn::Not(hn::IsNaN(v));
    if (missing.count > 0) {
      valid = hn::And(valid, hn::Ne(v, m0));
      valid = hn::And(valid, hn::Ne(v, m1));
    }
    return valid;
  }

  static FloatMoments Run(std::span<const internal::Run> runs, const ResolvedMissing& missing) {
    size_t total = 0;
    for (const auto& r : runs) total += r.length;
    FloatMoments out{0, kInf, -kInf, 0.0, 0.0, 0.0, 0.0};
    if (total == 0) return out;
    if (missing.count == 0 && FastPath(runs, total, out)) return out;
    MaskedPath(runs, missing, out);
    return out;
  }

  // Returns false (and leaves `out` unspecified) when the block must be redone with masks.
  //
  // Pass 1 sums in the element type: for float32 that avoids widening every element twice, and
  // the rounding it costs does not matter, because the sum only picks the reference `mean` that
  // pass 2 measures deviations from; pass 2 (in float64) returns the exact correction dev_sum,
  // so mean + dev_sum / n is the block's mean to float64 precision either way. A sum that is
  // not finite (NaN, an infinity, or float32 overflow) sends the block to the masked path,
  // which sums in float64.
  static bool FastPath(std::span<const internal::Run> runs, size_t total, FloatMoments& out) {
    const D d;
    const DD dd;
    const size_t N = hn::Lanes(d);
    const T inf = std::numeric_limits<T>::infinity();
    V vmin = hn::Set(d, inf);
    V vmax = hn::Set(d, -inf);
    V s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
    for (const auto& r : runs) {
      const T* p = reinterpret_cast<const T*>(r.data);
      const size_t n = r.length;
      size_t i = 0;
      for (; i + 4 * N <= n; i += 4 * N) {
        const V v0 = hn::LoadU(d, p + i);
        const V v1 = hn::LoadU(d, p + i + N);
        const V v2 = hn::LoadU(d, p + i + 2 * N);
        const V v3 = hn::LoadU(d, p + i + 3 * N);
        vmin = hn::Min(vmin, hn::Min(hn::Min(v0, v1), hn::Min(v2, v3)));
        vmax = hn::Max(vmax, hn::Max(hn::Max(v0, v1), hn::Max(v2, v3)));
        s0 = hn::Add(s0, v0);
        s1 = hn::Add(s1, v1);
        s2 = hn::Add(s2, v2);
        s3 = hn::Add(s3, v3);
      }
      for (; i + N <= n; i += N) {
        const V v = hn::LoadU(d, p + i);
        vmin = hn::Min(vmin, v);
        vmax = hn::Max(vmax, v);
        s0 = hn::Add(s0, v);
      }
      if (i < n) {
        const auto valid = hn::FirstN(d, n - i);
        const V v = LoadTail(d, p + i, n - i, T(0));  // zero padding adds nothing to the sum
        vmin = hn::Min(vmin, hn::IfThenElse(valid, v, hn::Set(d, inf)));
        vmax = hn::Max(vmax, hn::IfThenElse(valid, v, hn::Set(d, -inf)));
        s0 = hn::Add(s0, v);
      }
    }
    VD lo, hi, w0, w1;
    Widen(hn::Add(s0, s1), lo, hi);
    Widen(hn::Add(s2, s3), w0, w1);
    VD wide = hn::Add(lo, w0);
    if constexpr (sizeof(T) == 4) wide = hn::Add(wide, hn::Add(hi, w1));
    const double sum = hn::GetLane(hn::SumOfLanes(dd, wide));
    if (!std::isfinite(sum)) return false;
    const double mean = sum / static_cast<double>(total);

    // Pass 2 steps a float64 vector at a time, loading float32 elements at half width straight
    // into the widening conversion (no lane shuffles).
    const hn::Rebind<T, DD> dt;
    const VD vmean = hn::Set(dd, mean);
    VD q0 = hn::Zero(dd), q1 = hn::Zero(dd), q2 = hn::Zero(dd), q3 = hn::Zero(dd);
    VD c0 = hn::Zero(dd), c1 = hn::Zero(dd), c2 = hn::Zero(dd), c3 = hn::Zero(dd);
    const size_t ND = hn::Lanes(dd);
    auto load = [&](const T* q) HWY_ATTR {
      if constexpr (sizeof(T) == 4) {
        return hn::PromoteTo(dd, hn::LoadU(dt, q));
      } else {
        return hn::LoadU(dd, q);
      }
    };
    for (const auto& r : runs) {
      const T* p = reinterpret_cast<const T*>(r.data);
      const size_t n = r.length;
      // While pass 2 computes on L1, have the memory after this run (where the next block
      // usually starts) fetched, so that the next pass 1 does not wait for DRAM. Prefetches
      // never fault, so running past the end of the chunk is harmless.
      const uintptr_t ahead = reinterpret_cast<uintptr_t>(p + n);
      size_t i = 0;
      for (; i + 4 * ND <= n; i += 4 * ND) {
        for (size_t b = 0; b < 4 * ND * sizeof(T); b += 64) {
          hwy::Prefetch(reinterpret_cast<const uint8_t*>(ahead + i * sizeof(T) + b));
        }
        const VD d0 = hn::Sub(load(p + i), vmean);
        const VD d1 = hn::Sub(load(p + i + ND), vmean);
        const VD d2 = hn::Sub(load(p + i + 2 * ND), vmean);
        const VD d3 = hn::Sub(load(p + i + 3 * ND), vmean);
        q0 = hn::MulAdd(d0, d0, q0);
        c0 = hn::Add(c0, d0);
        q1 = hn::MulAdd(d1, d1, q1);
        c1 = hn::Add(c1, d1);
        q2 = hn::MulAdd(d2, d2, q2);
        c2 = hn::Add(c2, d2);
        q3 = hn::MulAdd(d3, d3, q3);
        c3 = hn::Add(c3, d3);
      }
      for (; i + ND <= n; i += ND) {
        const VD d0 = hn::Sub(load(p + i), vmean);
        q0 = hn::MulAdd(d0, d0, q0);
        c0 = hn::Add(c0, d0);
      }
      if (i < n) {
        VD x;
        if constexpr (sizeof(T) == 4) {
          x = hn::PromoteTo(dd, LoadTail(dt, p + i, n - i, T(0)));
        } else {
          x = LoadTail(dd, p + i, n - i, T(0));
        }
        const VD d0 = hn::IfThenElseZero(hn::FirstN(dd, n - i), hn::Sub(x, vmean));
        q0 = hn::MulAdd(d0, d0, q0);
        c0 = hn::Add(c0, d0);
      }
    }
    const double q =
        hn::GetLane(hn::SumOfLanes(dd, hn::Add(hn::Add(q0, q1), hn::Add(q2, q3))));
    const double c =
        hn::GetLane(hn::SumOfLanes(dd, hn::Add(hn::Add(c0, c1), hn::Add(c2, c3))));
    out.count = total;
    out.min = static_cast<double>(hn::GetLane(hn::MinOfLanes(d, vmin)));
    out.max = static_cast<double>(hn::GetLane(hn::MaxOfLanes(d, vmax)));
    // For float64 (and the int32 data widened to it) `sum` is the float64 sum, exact for
    // integers; for float32 the float64 sum is rebuilt from the deviations.
    out.sum = sizeof(T) == 8 ? sum : mean * static_cast<double>(total) + c;
    out.mean = mean;
    out.dev_sum = c;
    out.dev_sq = q;
    return true;
  }

  static void MaskedPath(std::span<const internal::Run> runs, const ResolvedMissing& missing,
                         FloatMoments& out) {
    const D d;
    const DD dd;
    const size_t N = hn::Lanes(d);
    const T inf = std::numeric_limits<T>::infinity();
    const T nan = std::numeric_limits<T>::quiet_NaN();
    const V m0 = hn::Set(d, static_cast<T>(missing.value[0]));
    const V m1 = hn::Set(d, static_cast<T>(missing.count > 1 ? missing.value[1]
                                                              : missing.value[0]));
    const V vinf = hn::Set(d, inf);
    const V vninf = hn::Set(d, -inf);
    V vmin = vinf, vmax = vninf;
    VD s0 = hn::Zero(dd), s1 = hn::Zero(dd);
    VD lo, hi;
    size_t count = 0;
    auto step1 = [&](V v, hn::Mask<D> valid) HWY_ATTR {
      vmin = hn::Min(vmin, hn::IfThenElse(valid, v, vinf));
      vmax = hn::Max(vmax, hn::IfThenElse(valid, v, vninf));
      Widen(hn::IfThenElseZero(valid, v), lo, hi);
      s0 = hn::Add(s0, lo);
      if constexpr (sizeof(T) == 4) s1 = hn::Add(s1, hi);
      count += hn::CountTrue(d, valid);
    };
    for (const auto& r : runs) {
      const T* p = reinterpret_cast<const T*>(r.data);
      size_t i = 0;
      for (; i + N <= r.length; i += N) {
        const V v = hn::LoadU(d, p + i);
        step1(v, Valid(v, missing, m0, m1));
      }
      if (i < r.length) {
        const V v = LoadTail(d, p + i, r.length - i, nan);  // NaN padding is skipped
        step1(v, Valid(v, missing, m0, m1));
      }
    }
    out.count = count;
    if (count == 0) return;
    out.min = static_cast<double>(hn::GetLane(hn::MinOfLanes(d, vmin)));
    out.max = static_cast<double>(hn::GetLane(hn::MaxOfLanes(d, vmax)));
    out.sum = hn::GetLane(hn::SumOfLanes(dd, hn::Add(s0, s1)));
    const double mean = out.sum / static_cast<double>(count);
    out.mean = mean;

    const VD vmean = hn::Set(dd, mean);
    VD q0 = hn::Zero(dd), q1 = hn::Zero(dd), c0 = hn::Zero(dd), c1 = hn::Zero(dd);
    auto step2 = [&](V v, hn::Mask<D> valid) HWY_ATTR {
      if constexpr (sizeof(T) == 4) {
        // The mask has float32 lanes; carry it over to the float64 halves as 1.0 / 0.0 weights.
        VD wlo, whi;
        Widen(hn::IfThenElseZero(valid, hn::Set(d, T(1))), wlo, whi);
        Widen(hn::IfThenElseZero(valid, v), lo, hi);
        const VD dlo = hn::Mul(hn::Sub(lo, vmean), wlo);
        const VD dhi = hn::Mul(hn::Sub(hi, vmean), whi);
        q0 = hn::MulAdd(dlo, dlo, q0);
        c0 = hn::Add(c0, dlo);
        q1 = hn::MulAdd(dhi, dhi, q1);
        c1 = hn::Add(c1, dhi);
      } else {
        const VD dv = hn::IfThenElseZero(valid, hn::Sub(v, vmean));
        q0 = hn::MulAdd(dv, dv, q0);
        c0 = hn::Add(c0, dv);
      }
    };
    for (const auto& r : runs) {
      const T* p = reinterpret_cast<const T*>(r.data);
      size_t i = 0;
      for (; i + N <= r.length; i += N) {
        const V v = hn::LoadU(d, p + i);
        step2(v, Valid(v, missing, m0, m1));
      }
      if (i < r.length) {
        const V v = LoadTail(d, p + i, r.length - i, nan);
        step2(v, Valid(v, missing, m0, m1));
      }
    }
    const double q = hn::GetLane(hn::SumOfLanes(dd, hn::Add(q0, q1)));
    const double c = hn::GetLane(hn::SumOfLanes(dd, hn::Add(c0, c1)));
    out.dev_sum = c;
    out.dev_sq = q;
  }
};

FloatMoments MomentsFloat32Impl(std::span<const internal::Run> runs,
                                const ResolvedMissing& missing) {
  return FloatKernel<float>::Run(runs, missing);
}
FloatMoments MomentsFloat64Impl(std::span<const internal::Run> runs,
                                const ResolvedMissing& missing) {
  return FloatKernel<double>::Run(runs, missing);
}

// ----------------------------------------------------------------------- small-integer moments
//
// Every supported type is mapped onto int16 lanes x' = x - offset (offset 32768 for uint16,
// else 0) where the sums are exact: sum(x') in int32 lanes through a widening multiply-add with
// 1, sum(x'^2) through the same multiply-add with x' itself. A pair of squares can reach 2^31,
// one more than int32 holds, so the pair sums are read as uint32 and widened into uint64 lanes
// at every step. Missing elements become 0, which adds nothing to either sum, and are left out
// of the count, min and max.

struct SmallIntState {
  using D16 = hn::ScalableTag<int16_t>;
  using D32 = hn::Repartition<int32_t, D16>;
  using DU64 = hn::Repartition<uint64_t, D16>;
  using V16 = hn::VFromD<D16>;

  // Spelled out (rather than default member initializers) so that the constructor is compiled
  // for the target like every other function here.
  HWY_INLINE SmallIntState()
      : sum(hn::Zero(D32())),
        sum_odd(hn::Zero(D32())),
        sq(hn::Zero(DU64())),
        vmin(hn::Set(D16(), INT16_MAX)),
        vmax(hn::Set(D16(), INT16_MIN)) {}

  hn::VFromD<D32> sum;
  hn::VFromD<D32> sum_odd;  // targets without a pairwise madd use both
  hn::VFromD<DU64> sq;
  V16 vmin;
  V16 vmax;
  size_t count = 0;

  HWY_INLINE void AddSums(V16 x) {
    const D16 d16;
    const D32 d32;
    const DU64 du64;
    sum = hn::ReorderWidenMulAccumulate(d32, x, hn::Set(d16, int16_t{1}), sum, sum_odd);
    auto odd = hn::Zero(d32);
    const auto even = hn::ReorderWidenMulAccumulate(d32, x, x, hn::Zero(d32), odd);
    const auto pairs = hn::BitCast(du64, hn::RearrangeToOddPlusEven(even, odd));
    sq = hn::Add(sq, hn::And(pairs, hn::Set(du64, uint64_t{0xFFFFFFFFu})));
    sq = hn::Add(sq, hn::ShiftRight<32>(pairs));
  }

  HWY_INLINE void Add(V16 x) {
    vmin = hn::Min(vmin, x);
    vmax = hn::Max(vmax, x);
    AddSums(x);
    count += hn::Lanes(D16());
  }

  HWY_INLINE void AddMasked(V16 x, hn::Mask<D16> valid) {
    const D16 d16;
    vmin = hn::Min(vmin, hn::IfThenElse(valid, x, hn::Set(d16, INT16_MAX)));
    vmax = hn::Max(vmax, hn::IfThenElse(valid, x, hn::Set(d16, INT16_MIN)));
    AddSums(hn::IfThenElseZero(valid, x));
    count += hn::CountTrue(d16, valid);
  }
};

// `T` is int8_t, uint8_t (also bool), int16_t or uint16_t; `flip` is 0x8000 for uint16 (which
// maps x onto x - 32768) and 0 otherwise.
template <typename T>
HWY_INLINE void SmallIntRun(const T* p, size_t n, bool masked, int16_t m0, int16_t m1,
                            SmallIntState& st) {
  const hn::ScalableTag<int16_t> d16;
  const size_t N16 = hn::Lanes(d16);
  const auto vm0 = hn::Set(d16, m0);
  const auto vm1 = hn::Set(d16, m1);
  auto valid_of = [&](hn::VFromD<decltype(d16)> x) HWY_ATTR {
    return hn::And(hn::Ne(x, vm0), hn::Ne(x, vm1));
  };
  if constexpr (sizeof(T) == 2) {
    const int16_t flip = std::is_same_v<T, uint16_t> ? int16_t(-32768) : int16_t(0);
    const auto vflip = hn::Set(d16, flip);
    auto load = [&](const T* q) HWY_ATTR {
      return hn::Xor(hn::LoadU(d16, reinterpret_cast<const int16_t*>(q)), vflip);
    };
    size_t i = 0;
    if (masked) {
      for (; i + N16 <= n; i += N16) {
        const auto x = load(p + i);
        st.AddMasked(x, valid_of(x));
      }
    } else {
      for (; i + N16 <= n; i += N16) st.Add(load(p + i));
    }
    if (i < n) {
      HWY_ALIGN T buf[hn::MaxLanes(d16)] = {};
      std::memcpy(buf, p + i, (n - i) * sizeof(T));
      const auto x = load(buf);
      auto valid = hn::FirstN(d16, n - i);
      if (masked) valid = hn::And(valid, valid_of(x));
      st.AddMasked(x, valid);
    }
  } else {
    // 8-bit lanes: one vector widens into two int16 vectors.
    const hn::Repartition<T, decltype(d16)> d8;
    const hn::Half<decltype(d8)> d8h;
    const size_t N8 = hn::Lanes(d8);
    auto widen_add = [&](hn::VFromD<decltype(d8)> v, size_t valid_lanes) HWY_ATTR {
      const auto x0 = hn::PromoteTo(d16, hn::LowerHalf(d8h, v));
      const auto x1 = hn::PromoteTo(d16, hn::UpperHalf(d8h, v));
      if (!masked && valid_lanes == N8) {
        st.Add(x0);
        st.Add(x1);
        return;
      }
      auto v0 = hn::FirstN(d16, valid_lanes);
      auto v1 = hn::FirstN(d16, valid_lanes > N16 ? valid_lanes - N16 : 0);
      if (masked) {
        v0 = hn::And(v0, valid_of(x0));
        v1 = hn::And(v1, valid_of(x1));
      }
      st.AddMasked(x0, v0);
      st.AddMasked(x1, v1);
    };
    size_t i = 0;
    for (; i + N8 <= n; i += N8) widen_add(hn::LoadU(d8, p + i), N8);
    if (i < n) {
      HWY_ALIGN T buf[hn::MaxLanes(d8)] = {};
      std::memcpy(buf, p + i, n - i);
      widen_add(hn::Load(d8, buf), n - i);
    }
  }
}

IntMoments MomentsSmallIntImpl(DataType dtype, std::span<const internal::Run> runs,
                               const ResolvedMissing& missing) {
  const hn::ScalableTag<int16_t> d16;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const hn::Repartition<uint64_t, decltype(d16)> du64;
  const int64_t offset = dtype == DataType::kUInt16 ? 32768 : 0;
  // A missing value arrives as the element's raw bits; map it into the int16 domain.
  auto to_domain = [&](uint64_t bits) -> int16_t {
    switch (dtype) {
      case DataType::kInt8:
        return static_cast<int16_t>(static_cast<int8_t>(static_cast<uint8_t>(bits)));
      case DataType::kUInt16:
        return static_cast<int16_t>(static_cast<uint16_t>(bits) ^ 0x8000u);
      case DataType::kInt16:
        return static_cast<int16_t>(static_cast<uint16_t>(bits));
      default:  // bool, uint8
        return static_cast<int16_t>(static_cast<uint8_t>(bits));
    }
  };
  const bool masked = missing.count > 0;
  const int16_t m0 = masked ? to_domain(missing.bits[0]) : 0;
  const int16_t m1 = masked ? to_domain(missing.bits[missing.count > 1 ? 1 : 0]) : 0;

  SmallIntState st;
  for (const auto& r : runs) {
    switch (dtype) {
      case DataType::kInt8:
        SmallIntRun(reinterpret_cast<const int8_t*>(r.data), r.length, masked, m0, m1, st);
        break;
      case DataType::kInt16:
        SmallIntRun(reinterpret_cast<const int16_t*>(r.data), r.length, masked, m0, m1, st);
        break;
      case DataType::kUInt16:
        SmallIntRun(reinterpret_cast<const uint16_t*>(r.data), r.length, masked, m0, m1, st);
        break;
      default:  // bool, uint8
        SmallIntRun(reinterpret_cast<const uint8_t*>(r.data), r.length, masked, m0, m1, st);
        break;
    }
  }
  IntMoments out{st.count, INT64_MAX, INT64_MIN, 0, 0.0};
  if (st.count == 0) return out;
  // |sum(x')| <= 32768 * 2^15 = 2^30 and sum(x'^2) <= 32768 * 2^30: exact in these types.
  const int64_t s = hn::GetLane(hn::SumOfLanes(d32, hn::Add(st.sum, st.sum_odd)));
  const uint64_t q = hn::GetLane(hn::SumOfLanes(du64, st.sq));
  const __int128 n = static_cast<__int128>(st.count);
  out.min = hn::GetLane(hn::MinOfLanes(d16, st.vmin)) + offset;
  out.max = hn::GetLane(hn::MaxOfLanes(d16, st.vmax)) + offset;
  out.sum = s + offset * static_cast<int64_t>(st.count);
  // n * m2 = n * sum(x'^2) - sum(x')^2 is an exact integer; m2 is shift-invariant.
  const __int128 n_m2 = n * static_cast<__int128>(q) - static_cast<__int128>(s) * s;
  out.m2 = static_cast<double>(n_m2) / static_cast<double>(st.count);
  return out;
}

// ------------------------------------------------------------------------------ conversions

void ConvertFloat16ToFloat32Impl(const uint16_t* src, size_t n, float* dst) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du32;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const size_t N = hn::Lanes(df);
  const auto exp_mask = hn::Set(du32, 0x7C00u);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    auto f = hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(src + i)));
    // Highway 1.0's emulation for targets without F16C (SSE4 and below) turns infinities and
    // NaN into large finite numbers; rebuild those lanes from their bits.
    const auto bits = hn::PromoteTo(du32, hn::LoadU(du16, src + i));
    const auto special = hn::Eq(hn::And(bits, exp_mask), exp_mask);
    const auto fixed = hn::Or(hn::Or(hn::ShiftLeft<16>(hn::And(bits, hn::Set(du32, 0x8000u))),
                                     hn::Set(du32, 0x7F800000u)),
                              hn::ShiftLeft<13>(hn::And(bits, hn::Set(du32, 0x3FFu))));
    f = hn::IfThenElse(hn::RebindMask(df, special), hn::BitCast(df, fixed), f);
    hn::StoreU(f, df, dst + i);
  }
  for (; i < n; ++i) dst[i] = HalfToFloat(src[i]);
}

void ConvertInt32ToFloat64Impl(const int32_t* src, size_t n, double* dst) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<int32_t, decltype(dd)> di;
  const size_t N = hn::Lanes(dd);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::PromoteTo(dd, hn::LoadU(di, src + i)), dd, dst + i);
  for (; i < n; ++i) dst[i] = static_cast<double>(src[i]);
}

void ConvertUInt32ToFloat64Impl(const uint32_t* src, size_t n, double* dst) {
  // x = (x ^ 2^31) as int32 + 2^31, both steps exact.
  const hn::ScalableTag<double> dd;
  const hn::Rebind<int32_t, decltype(dd)> di;
  const size_t N = hn::Lanes(dd);
  const auto flip = hn::Set(di, INT32_MIN);
  const auto bias = hn::Set(dd, 2147483648.0);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::Xor(hn::LoadU(di, reinterpret_cast<const int32_t*>(src + i)), flip);
    hn::StoreU(hn::Add(hn::PromoteTo(dd, v), bias), dd, dst + i);
  }
  for (; i < n; ++i) dst[i] = static_cast<double>(src[i]);
}

// ----------------------------------------------------------------------------- grid rows
//
// Cells are processed a vector of float64 lanes at a time ("strips"): pass 1 runs down the rows
// of the strip accumulating count, sum, min and max in registers, pass 2 re-reads the same
// (L1-resident) lanes for the sum of squared deviations, and the strip's moments are merged into
// the cells with Chan's formula. Rows are loaded at their own width and widened to float64.

template <typename T>
struct GridKernel {
  using DD = hn::ScalableTag<double>;
  using VD = hn::VFromD<DD>;

  static HWY_INLINE VD Load(const T* p) {
    const DD dd;
    if constexpr (sizeof(T) == 8) {
      return hn::LoadU(dd, p);
    } else {
      const hn::Rebind<T, DD> dt;
      return hn::PromoteTo(dd, hn::LoadU(dt, p));
    }
  }

  static HWY_INLINE void Strip(const T* const* rows, size_t num_rows, size_t x,
                               const GridCells& c) {
    const DD dd;
    const VD zero = hn::Zero(dd);
    // Without NaN every lane counts num_rows elements and nothing needs masking; a NaN shows
    // up in the sum, and then the strip is redone with masks.
    VD s = zero, mn = Load(rows[0] + x), mx = mn;
    for (size_t r = 0; r < num_rows; ++r) {
      const VD v = Load(rows[r] + x);
      s = hn::Add(s, v);
      mn = hn::Min(mn, v);
      mx = hn::Max(mx, v);
    }
    if (hn::AllFalse(dd, hn::IsNaN(s))) {
      const double rows_d = static_cast<double>(num_rows);
      const VD n = hn::Set(dd, rows_d);
      const VD inv_n = hn::Set(dd, 1.0 / rows_d);
      const VD mean = hn::Mul(s, inv_n);
      VD q = zero, cs = zero;
      for (size_t r = 0; r < num_rows; ++r) {
        const VD dv = hn::Sub(Load(rows[r] + x), mean);
        q = hn::MulAdd(dv, dv, q);
        cs = hn::Add(cs, dv);
      }
      Merge(c, x, num_rows, n, inv_n, s, mean, cs, q, mn, mx);
      return;
    }
    const VD one = hn::Set(dd, 1.0);
    const VD inf = hn::Set(dd, kInf);
    const VD ninf = hn::Set(dd, -kInf);
    VD n = zero;
    s = zero;
    mn = inf;
    mx = ninf;
    for (size_t r = 0; r < num_rows; ++r) {
      const VD v = Load(rows[r] + x);
      const auto valid = hn::Not(hn::IsNaN(v));
      n = hn::Add(n, hn::IfThenElseZero(valid, one));
      s = hn::Add(s, hn::IfThenElseZero(valid, v));
      mn = hn::Min(mn, hn::IfThenElse(valid, v, inf));
      mx = hn::Max(mx, hn::IfThenElse(valid, v, ninf));
    }
    const VD inv_n = hn::Div(one, n);  // inf where n == 0: those lanes are masked off in Merge
    const VD mean = hn::IfThenElseZero(hn::Gt(n, zero), hn::Mul(s, inv_n));
    VD q = zero, cs = zero;
    for (size_t r = 0; r < num_rows; ++r) {
      const VD v = Load(rows[r] + x);
      const VD dv = hn::IfThenElseZero(hn::Not(hn::IsNaN(v)), hn::Sub(v, mean));
      q = hn::MulAdd(dv, dv, q);
      cs = hn::Add(cs, dv);
    }
    Merge(c, x, num_rows, n, inv_n, s, mean, cs, q, mn, mx);
  }

  // Chan's merge of a strip's moments (per lane: n valid elements, sum s, reference mean with
  // deviations summing to cs and their squares to q) into the cells, lane by lane as
  // MergeIntoCell does it. Lanes whose cells got nothing (n == 0) keep their state, whatever
  // 0/0 computed for them.
  static HWY_INLINE void Merge(const GridCells& c, size_t x, size_t num_rows, VD n, VD inv_n,
                               VD s, VD mean, VD cs, VD q, VD mn, VD mx) {
    const DD dd;
    const VD zero = hn::Zero(dd);
    const auto has = hn::Gt(n, zero);
    const VD lo_b = hn::Mul(cs, inv_n);
    const VD m2b = hn::NegMulAdd(cs, lo_b, q);
    const VD na = hn::LoadU(dd, c.count + x);
    const VD mean_a = hn::LoadU(dd, c.mean_hi + x);
    const VD lo_a = hn::LoadU(dd, c.mean_lo + x);
    const VD m2a = hn::LoadU(dd, c.m2 + x);
    const auto had = hn::Gt(na, zero);
    const VD nt = hn::Add(na, n);
    const VD frac = hn::Div(n, nt);
    const VD delta = hn::Add(hn::Sub(mean, mean_a), hn::Sub(lo_b, lo_a));
    const VD cross = hn::Mul(hn::Mul(delta, delta), hn::Mul(na, frac));
    const VD inc = hn::Mul(delta, frac);
    const VD t = hn::Add(mean_a, inc);
    const VD bb = hn::Sub(t, mean_a);
    const VD err = hn::Add(hn::Sub(mean_a, hn::Sub(t, bb)), hn::Sub(inc, bb));
    const VD new_hi = hn::IfThenElse(had, t, mean);
    const VD new_lo = hn::IfThenElse(had, hn::Add(lo_a, err), lo_b);
    const VD new_m2 = hn::Add(m2a, hn::IfThenElse(had, hn::Add(m2b, cross), m2b));
    hn::StoreU(hn::IfThenElse(has, new_hi, mean_a), dd, c.mean_hi + x);
    hn::StoreU(hn::IfThenElse(has, new_lo, lo_a), dd, c.mean_lo + x);
    hn::StoreU(hn::IfThenElse(has, new_m2, m2a), dd, c.m2 + x);
    hn::StoreU(nt, dd, c.count + x);
    hn::StoreU(hn::Add(hn::LoadU(dd, c.sum + x), s), dd, c.sum + x);
    const VD rows_v = hn::Set(dd, static_cast<double>(num_rows));
    hn::StoreU(hn::Add(hn::LoadU(dd, c.nan_count + x), hn::Sub(rows_v, n)), dd, c.nan_count + x);
    hn::StoreU(hn::Min(hn::LoadU(dd, c.min + x), mn), dd, c.min + x);
    hn::StoreU(hn::Max(hn::LoadU(dd, c.max + x), mx), dd, c.max + x);
  }

  static void Rows(const T* const* rows, size_t num_rows, size_t width, GridCells cells) {
    const DD dd;
    const size_t N = hn::Lanes(dd);
    size_t x = 0;
    for (; x + N <= width; x += N) Strip(rows, num_rows, x, cells);
    if (x == width) return;
    // The last partial strip goes through stack copies padded with NaN (skipped) so that no
    // row or cell is touched past its end.
    const size_t rest = width - x;
    constexpr size_t kMaxN = hn::MaxLanes(DD());
    HWY_ALIGN T tail[kMaxGridRows * kMaxN];
    const T* tail_rows[kMaxGridRows];
    for (size_t r = 0; r < num_rows; ++r) {
      T* t = tail + r * N;
      for (size_t i = 0; i < N; ++i) {
        t[i] = i < rest ? rows[r][x + i] : std::numeric_limits<T>::quiet_NaN();
      }
      tail_rows[r] = t;
    }
    HWY_ALIGN double cell_buf[kGridFields][kMaxN];
    double* const src[kGridFields] = {cells.count + x,   cells.nan_count + x, cells.sum + x,
                                      cells.mean_hi + x, cells.mean_lo + x,   cells.m2 + x,
                                      cells.min + x,     cells.max + x};
    for (int k = 0; k < kGridFields; ++k) {
      for (size_t i = 0; i < N; ++i) cell_buf[k][i] = i < rest ? src[k][i] : 0.0;
    }
    Strip(tail_rows, num_rows, 0,
          GridCells{cell_buf[0], cell_buf[1], cell_buf[2], cell_buf[3], cell_buf[4], cell_buf[5],
                    cell_buf[6], cell_buf[7]});
    for (int k = 0; k < kGridFields; ++k) {
      std::memcpy(src[k], cell_buf[k], rest * sizeof(double));
    }
  }
};

void GridRowsFloat32Impl(const float* const* rows, size_t num_rows, size_t width,
                         GridCells cells) {
  GridKernel<float>::Rows(rows, num_rows, width, cells);
}
void GridRowsFloat64Impl(const double* const* rows, size_t num_rows, size_t width,
                         GridCells cells) {
  GridKernel<double>::Rows(rows, num_rows, width, cells);
}

#endif  // HWY_TARGET == HWY_SCALAR

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace lsio::compute::internal
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lsio::compute::internal {

HWY_EXPORT(MomentsFloat32Impl);
HWY_EXPORT(MomentsFloat64Impl);
HWY_EXPORT(MomentsSmallIntImpl);
HWY_EXPORT(ConvertFloat16ToFloat32Impl);
HWY_EXPORT(ConvertInt32ToFloat64Impl);
HWY_EXPORT(ConvertUInt32ToFloat64Impl);
HWY_EXPORT(GridRowsFloat32Impl);
HWY_EXPORT(GridRowsFloat64Impl);
HWY_EXPORT(TargetNameImpl);

FloatMoments MomentsFloat32(std::span<const Run> runs, const ResolvedMissing& missing) {
  return HWY_DYNAMIC_DISPATCH(MomentsFloat32Impl)(runs, missing);
}
FloatMoments MomentsFloat64(std::span<const Run> runs, const ResolvedMissing& missing) {
  return HWY_DYNAMIC_DISPATCH(MomentsFloat64Impl)(runs, missing);
}
IntMoments MomentsSmallInt(DataType dtype, std::span<const Run> runs,
                           const ResolvedMissing& missing) {
  return HWY_DYNAMIC_DISPATCH(MomentsSmallIntImpl)(dtype, runs, missing);
}
void ConvertFloat16ToFloat32(const uint16_t* src, size_t n, float* dst) {
  HWY_DYNAMIC_DISPATCH(ConvertFloat16ToFloat32Impl)(src, n, dst);
}
void ConvertInt32ToFloat64(const int32_t* src, size_t n, double* dst) {
  HWY_DYNAMIC_DISPATCH(ConvertInt32ToFloat64Impl)(src, n, dst);
}
void ConvertUInt32ToFloat64(const uint32_t* src, size_t n, double* dst) {
  HWY_DYNAMIC_DISPATCH(ConvertUInt32ToFloat64Impl)(src, n, dst);
}
void GridRowsFloat32(const float* const* rows, size_t num_rows, size_t width, GridCells cells) {
  HWY_DYNAMIC_DISPATCH(GridRowsFloat32Impl)(rows, num_rows, width, cells);
}
void GridRowsFloat64(const double* const* rows, size_t num_rows, size_t width, GridCells cells) {
  HWY_DYNAMIC_DISPATCH(GridRowsFloat64Impl)(rows, num_rows, width, cells);
}
const char* KernelTargetName() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

std::vector<int64_t> AvailableKernelTargets() { return hwy::SupportedAndGeneratedTargets(); }

void ForceKernelTarget(int64_t target) { hwy::SetSupportedTargetsForTest(target); }

}  // namespace lsio::compute::internal

namespace lsio::compute {
const char* SimdTargetName() { return internal::KernelTargetName(); }
}  // namespace lsio::compute
#endif  // HWY_ONCE
