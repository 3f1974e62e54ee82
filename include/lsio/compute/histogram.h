#pragma once

// HistogramAccumulator: counts of elements in N equal bins over [lo, hi], mergeable.
//
// Semantics are numpy.histogram(a, bins=N, range=(lo, hi)) exactly, including its choice of
// arithmetic: the bin edges are np.linspace(lo, hi, N + 1) rounded to the "bin type" (float16
// for float16 data, float32 for float32 data, float64 otherwise) and an element x falls in bin
// i when edges[i] <= x < edges[i + 1], the last bin being closed on the right. Elements outside
// [edges[0], edges[N]], NaN and missing values are not counted in any bin (they are counted in
// below(), above() and nan_count()). As in numpy, lo == hi widens the range to
// [lo - 0.5, hi + 0.5]. Integers are compared as float64, so int64 values beyond 2^53 round
// first, as they do in numpy.
//
// Thread safety: a plain value; one per worker, then Merge.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lsio/base/dtype.h"
#include "lsio/base/result.h"
#include "lsio/base/status.h"
#include "lsio/compute/chunk_box.h"
#include "lsio/compute/missing_values.h"

namespace lsio::compute {

struct HistogramOptions {
  int64_t bins = 10;  // 1 .. kMaxHistogramBins
  double lo = 0;      // finite, lo <= hi
  double hi = 1;
  MissingValues missing;
};

inline constexpr int64_t kMaxHistogramBins = int64_t{1} << 26;

class HistogramAccumulator {
 public:
  // InvalidArgument for bins outside [1, kMaxHistogramBins], a non-finite or inverted range, or
  // a range too narrow for `bins` distinct edges in the bin type (numpy's "Too many bins for
  // data range"); NotSupported for complex dtypes.
  static Result<HistogramAccumulator> Make(DataType dtype, HistogramOptions options);

  // Counts the elements of `chunk` inside `box`. InvalidArgument (nothing counted) if the dtype
  // differs or the chunk or box is malformed.
  Status Consume(const ChunkView& chunk, const Box& box);
  // Counts a flat run of elements (size a multiple of the element width, aligned to it).
  Status Consume(std::span<const std::byte> elements);

  // Adds `other`'s counts. InvalidArgument unless both have the same dtype, edges and missing
  // values.
  Status Merge(const HistogramAccumulator& other);

  std::span<const uint64_t> counts() const { return counts_; }
  // bins + 1 edges as numpy.histogram returns them (values of the bin type, as float64).
  std::span<const double> edges() const { return edges_; }
  uint64_t below() const { return below_; }
  uint64_t above() const { return above_; }
  uint64_t nan_count() const { return nan_count_; }
  DataType dtype() const { return dtype_; }

 private:
  HistogramAccumulator() = default;
  void CountValues(const double* values, size_t n);

  DataType dtype_ = DataType::kFloat64;
  MissingValues missing_;
  internal::ResolvedMissing resolved_;
  std::vector<double> edges_;
  std::vector<uint64_t> counts_;
  double scale_ = 0;  // bins / (edges.back() - edges.front()), for the first guess of the bin
  uint64_t below_ = 0;
  uint64_t above_ = 0;
  uint64_t nan_count_ = 0;
};

}  // namespace lsio::compute
