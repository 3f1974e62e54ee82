#pragma once

// HistogramAccumulator: counts of elements in N equal bins over [lo, hi], mergeable.
//
// Semantics are numpy.histogram(values, bins=N, range=(lo, hi)) exactly, arithmetic included,
// where `values` are the elements as xarray returns them (see ValueDecoding) in their own
// dtype, the "value type". numpy computes in the "bin type": float16, float32 or float64 for
// values of those types, float64 for integers. The edges are np.linspace(lo, hi, N + 1) in
// the bin type (each operation rounded to it, as numpy 2 computes float16 and float32), and an
// element's bin is numpy's: a first guess ((x - lo) / (hi - lo)) * N in the bin type, moved at
// most one bin down and one up by comparing x with the edges, the last bin closed on the right.
// Elements outside [lo, hi], NaN and missing values are in no bin (they are counted in
// below(), above() and nan_count()). As in numpy, lo == hi widens the range to
// [lo - 0.5, hi + 0.5]. Integers are compared as float64, so int64 values beyond 2^53 round
// first, as they do in numpy (whose range of such integers is exact where here it is rounded;
// the edge comparisons settle what little that moves).
//
// Thread safety: a plain value; one per worker, then Merge.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "lsio/base/dtype.h"
#include "lsio/base/result.h"
#include "lsio/base/status.h"
#include "lsio/compute/chunk_box.h"
#include "lsio/compute/missing_values.h"

namespace lsio::compute {

// How a stored element becomes the value numpy sees when that is not the element itself:
// xarray's CF decoding (zarr::ApplyCfMaskAndScale). The element is converted to `type`
// (float16, float32 or float64), multiplied by `scale` if given, then `offset` is added if
// given, each step rounded to `type`.
struct ValueDecoding {
  DataType type = DataType::kFloat64;
  std::optional<double> scale;
  std::optional<double> offset;

  // `stored` (an element, exactly as a double) decoded.
  double Apply(double stored) const;
};

struct HistogramOptions {
  int64_t bins = 10;  // 1 .. kMaxHistogramBins
  // numpy's range, in values (after `decoding`): finite, lo <= hi, values of the value type.
  double lo = 0;
  double hi = 1;
  MissingValues missing;  // stored elements that are missing (before decoding)
  std::optional<ValueDecoding> decoding;
  // The range is numpy's for data with no values, (0, 1) as Python ints, of which numpy
  // computes the edges in float64 and then rounds them to the bin type.
  bool range_of_no_values = false;
};

inline constexpr int64_t kMaxHistogramBins = int64_t{1} << 26;

class HistogramAccumulator {
 public:
  // InvalidArgument for bins outside [1, kMaxHistogramBins], a non-finite or inverted range, or
  // a range too narrow for `bins` distinct edges in the bin type (numpy's "Too many bins for
  // data range"); NotSupported for complex dtypes.
  // `dtype`: the stored elements Consume receives.
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
  // For an empty selection numpy's range is (0, 1).
  std::span<const double> edges() const { return edges_; }
  uint64_t below() const { return below_; }
  uint64_t above() const { return above_; }
  uint64_t nan_count() const { return nan_count_; }
  DataType dtype() const { return dtype_; }

 private:
  HistogramAccumulator() = default;
  template <typename Arith>
  void CountValues(double* values, size_t n);

  DataType dtype_ = DataType::kFloat64;
  DataType bin_type_ = DataType::kFloat64;
  MissingValues missing_;
  internal::ResolvedMissing resolved_;
  std::optional<ValueDecoding> decoding_;
  std::vector<double> edges_;
  std::vector<uint64_t> counts_;
  double denom_ = 1;  // hi - lo in the bin type (numpy's norm_denom)
  uint64_t below_ = 0;
  uint64_t above_ = 0;
  uint64_t nan_count_ = 0;
};

}  // namespace lsio::compute
