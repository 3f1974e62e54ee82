#pragma once

// The vectorised kernels behind the accumulators, compiled once per SIMD target with Highway
// and picked at run time (kernels.cc). Everything here is private to the compute layer.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lsio/base/dtype.h"
#include "lsio/compute/missing_values.h"

namespace lsio::compute::internal {

// A contiguous stretch of `length` elements starting at `data`.
struct Run {
  const std::byte* data;
  size_t length;
};

// Blocks are sized so that their bytes stay in L1 between the two passes of a float block.
inline constexpr size_t kBlockBytes = 16384;
// Small-integer blocks are read once; the limit keeps 32-bit lane sums from overflowing.
inline constexpr size_t kSmallIntBlockElements = 32768;

// Moments of one block of float data: the count of valid elements, their min and max, their
// float64 sum, mean = sum / count, and the sum and the sum of squares of their deviations from
// that mean. The deviations carry what the rounded mean lost: the block's exact mean is
// mean + dev_sum / count to about 1e-16 of the spread, however large the mean. With count == 0:
// min = +inf, max = -inf and zeros.
struct FloatMoments {
  uint64_t count;
  double min;
  double max;
  double sum;
  double mean;
  double dev_sum;
  double dev_sq;

  // Sum of squared deviations from the block's own mean (corrected two-pass formula).
  double m2() const { return count == 0 ? 0.0 : dev_sq - dev_sum * dev_sum / count; }
};

// Exact moments of a block of 8- or 16-bit integers (bool counts as uint8).
struct IntMoments {
  uint64_t count;
  int64_t min;  // INT64_MAX when count == 0
  int64_t max;  // INT64_MIN when count == 0
  int64_t sum;
  double m2;
};

// Float32 / float64 runs with at most kBlockBytes / sizeof(T) elements in total. NaN and values
// equal to `missing.value[i]` are skipped.
FloatMoments MomentsFloat32(std::span<const Run> runs, const ResolvedMissing& missing);
FloatMoments MomentsFloat64(std::span<const Run> runs, const ResolvedMissing& missing);

// `dtype` is kBool, kInt8, kUInt8, kInt16 or kUInt16; at most kSmallIntBlockElements elements
// in total. Elements whose bits equal `missing.bits[i]` are skipped.
IntMoments MomentsSmallInt(DataType dtype, std::span<const Run> runs,
                           const ResolvedMissing& missing);

// Exact widening conversions (float16 -> float32, int32/uint32 -> float64).
void ConvertFloat16ToFloat32(const uint16_t* src, size_t n, float* dst);
void ConvertInt32ToFloat64(const int32_t* src, size_t n, double* dst);
void ConvertUInt32ToFloat64(const uint32_t* src, size_t n, double* dst);

// One row of a reduction grid: `width` cells of each statistic, struct-of-arrays. The mean is
// held as the unevaluated sum mean_hi + mean_lo (see StatsAccumulator::MeanParts); `sum` is the
// plain float64 sum, which also carries infinities and NaN from inf - inf.
struct GridCells {
  double* count;
  double* nan_count;
  double* sum;
  double* mean_hi;
  double* mean_lo;
  double* m2;
  double* min;
  double* max;
};
inline constexpr int kGridFields = 8;

// Folds `num_rows` rows of `width` values each (value x of every row onto cell x) into `cells`:
// per cell, the rows' valid (non-NaN) values are summarised two-pass and merged with Chan's
// formula. num_rows <= kMaxGridRows. The kernel walks down all rows for each vector of cells,
// twice, so the rows' cache lines must stay in L1 meanwhile: chunk rows a power of two bytes
// apart share cache sets, so feed at most kDirectGridRows of those at a time (L1 is 8-way), or
// copy them into a padded tile first.
inline constexpr size_t kMaxGridRows = 128;
inline constexpr size_t kDirectGridRows = 8;
void GridRowsFloat32(const float* const* rows, size_t num_rows, size_t width, GridCells cells);
void GridRowsFloat64(const double* const* rows, size_t num_rows, size_t width, GridCells cells);

// The scalar form of the merge the grid kernels do per lane: a part of `nb` elements with mean
// mean_b_hi + mean_b_lo, sum `sum_b` and `m2_b` folded into cell `i`.
inline void MergeIntoCell(const GridCells& c, size_t i, double nb, double sum_b, double mean_b_hi,
                          double mean_b_lo, double m2_b) {
  const double na = c.count[i];
  if (nb == 0) return;
  if (na == 0) {
    c.mean_hi[i] = mean_b_hi;
    c.mean_lo[i] = mean_b_lo;
    c.m2[i] += m2_b;
  } else {
    const double nt = na + nb;
    const double delta = (mean_b_hi - c.mean_hi[i]) + (mean_b_lo - c.mean_lo[i]);
    const double frac = nb / nt;
    c.m2[i] += m2_b + delta * delta * na * frac;
    // mean_a += delta * frac as a two-sum, so the low part keeps what the high part drops.
    const double inc = delta * frac;
    const double a = c.mean_hi[i];
    const double t = a + inc;
    const double bb = t - a;
    c.mean_lo[i] += (a - (t - bb)) + (inc - bb);
    c.mean_hi[i] = t;
  }
  c.count[i] = na + nb;
  c.sum[i] += sum_b;
}

// The SIMD target the kernels run on in this process ("AVX3", "AVX2", "SSE4", "SCALAR", ...).
const char* KernelTargetName();

// For tests and benchmarks: the compiled targets this CPU can run (Highway target bits, best
// first), and forcing the kernels onto one of them (0 restores the automatic choice). Not
// thread-safe with respect to running kernels.
std::vector<int64_t> AvailableKernelTargets();
void ForceKernelTarget(int64_t target);

}  // namespace lsio::compute::internal
