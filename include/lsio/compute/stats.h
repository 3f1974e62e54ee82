#pragma once

// StatsAccumulator: count, NaN count, min, max, sum, mean, variance and standard deviation of
// the elements it is fed, in one pass over memory, mergeable across workers.
//
// Semantics are numpy's NaN-skipping reductions on the data converted to float64 (nanmin,
// nanmax, nansum, nanmean, nanvar/nanstd with ddof): NaN elements, and elements equal to a
// MissingValue, are skipped and counted in nan_count. +inf and -inf are values: a sum with +inf
// is +inf, one with both infinities is NaN, and so is the variance of data holding an infinity.
// When no element counts (empty input or all NaN) count is 0, min, max and mean are NaN, sum is
// 0 and every variance is NaN; variance(ddof) is NaN whenever count <= ddof.
//
// Precision: float sums accumulate in float64 (compensated between blocks); integer and bool
// sums, mins and maxes are exact (Stats::exact_*), and integer means come from the exact sum.
// Variances use Chan et al.'s pairwise update over L1-sized blocks whose own moments are
// computed two-pass (float) or exactly (integers), with the means in the update carried as two
// doubles (exactly, for integers), so that data like 1e8 + small noise or int64 values next to
// 2^63 keep their digits. Data are read once from memory; each block is re-read from L1.
// Bool elements are bytes holding 0 or 1.
//
// Example:
//   LSIO_ASSIGN_OR_RETURN(auto acc, StatsAccumulator::Make(DataType::kFloat32));
//   LSIO_RETURN_IF_ERROR(acc.Consume(chunk, box));   // once per decoded chunk
//   LSIO_RETURN_IF_ERROR(total.Merge(acc));           // one accumulator per worker, merged
//   Stats s = total.Finalize();
//
// Thread safety: an accumulator is a plain value; use one per worker (see per_worker.h) and
// merge them, never share one between threads without a lock.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "lsio/base/dtype.h"
#include "lsio/base/result.h"
#include "lsio/base/status.h"
#include "lsio/compute/chunk_box.h"
#include "lsio/compute/missing_values.h"

namespace lsio::compute {

namespace internal {
struct FloatMoments;
struct Run;
}  // namespace internal

class StatsStream;

// The finished statistics. See the file comment for the NaN conventions.
struct Stats {
  DataType dtype = DataType::kFloat64;
  uint64_t count = 0;      // elements that are neither NaN nor missing
  uint64_t nan_count = 0;  // elements that are NaN or missing
  double min = 0;          // NaN when count == 0
  double max = 0;          // NaN when count == 0
  double sum = 0;          // 0 when count == 0; for integers the exact sum rounded once
  double mean = 0;         // NaN when count == 0
  double m2 = 0;           // sum of squared deviations from the mean; NaN when count == 0

  // Bool and integer dtypes (before ApplyScaleOffset): min, max and sum held exactly (print them
  // with Int128ToString). The sum is exact for fewer than 2^62 elements. Zero when !exact or
  // count == 0.
  bool exact = false;
  __int128 exact_min = 0;
  __int128 exact_max = 0;
  __int128 exact_sum = 0;

  // m2 / (count - ddof), NaN when count <= ddof (numpy's nanvar).
  double variance(int ddof) const;
  // sqrt(variance(ddof)) (numpy's nanstd).
  double stddev(int ddof) const;
};

struct StatsOptions {
  MissingValues missing;
};

class StatsAccumulator {
 public:
  // An empty accumulator for elements of `dtype`. NotSupported for complex types.
  static Result<StatsAccumulator> Make(DataType dtype, StatsOptions options = {});

  // Adds the elements of `chunk` inside `box`. InvalidArgument (see ValidateChunkBox) if the
  // chunk's dtype is not this accumulator's or the chunk or box is malformed; nothing is added
  // then.
  Status Consume(const ChunkView& chunk, const Box& box);

  // Adds a flat run of elements (size a multiple of the element width, aligned to it).
  Status Consume(std::span<const std::byte> elements);

  // Adds everything `other` has seen. InvalidArgument if the dtypes or the missing values
  // differ.
  Status Merge(const StatsAccumulator& other);

  Stats Finalize() const;

  // The complete state as bytes, to send a partial result to another process (lsio.dask), and
  // back. Deserialize checks the format and sizes: kCorruptData for anything else.
  std::string Serialize() const;
  static Result<StatsAccumulator> Deserialize(std::string_view bytes);

  DataType dtype() const { return dtype_; }

 private:
  StatsAccumulator() = default;

  friend class StatsStream;

  // Feeds the elements that walk(emit) emits as runs (emit(const std::byte*, size_t)) through
  // the dtype's block kernel, grouped into blocks of BlockElements(dtype_) by BlockBuilder.
  template <typename Walk>
  void ConsumeWith(Walk&& walk);
  // The number of elements of one block (the unit the kernels summarise and Chan's update
  // merges), and the folding of one block, given as the runs BlockBuilder makes. The state after
  // a sequence of blocks depends on the blocks' elements and on how each block is cut into
  // runs (the kernels' lanes restart at every run), not on where the runs lie in memory.
  static size_t BlockElements(DataType dtype);
  void ConsumeBlock(std::span<const internal::Run> runs);
  // A mean held as the unevaluated sum hi + lo, so that the difference of two means close to
  // each other (1e8 + noise, int64 values next to 2^63) keeps its digits in Chan's update.
  struct MeanParts {
    double hi;
    double lo;
  };
  // Folds the moments of one block (or of another accumulator) into the running state; the
  // float sum arrives as hi + lo.
  void AddFloatPart(uint64_t count, double min, double max, double sum_hi, double sum_lo,
                    MeanParts mean, double m2);
  void AddIntPart(uint64_t count, __int128 min, __int128 max, __int128 sum, double m2);
  void AddFloatMoments(const internal::FloatMoments& m);
  // Chan's update of m2_ (float path) with a part of `count_b` elements, mean `mean_b` and m2
  // `m2_b`; call before count_ and the sum change.
  void MergeMoments(uint64_t count_b, MeanParts mean_b, double m2_b);
  void AddToSum(double x);
  double SumAsDouble() const;
  MeanParts CurrentMean() const;  // float path; precondition: count_ > 0

  DataType dtype_ = DataType::kFloat64;
  bool is_integer_ = false;  // bool and integer dtypes take the exact path
  MissingValues missing_;
  internal::ResolvedMissing resolved_;

  uint64_t count_ = 0;
  uint64_t nan_count_ = 0;
  double m2_ = 0;
  // Float path: min/max as double; sum as a compensated pair plus the non-finite part (infinite
  // block sums are kept apart so that compensation never meets inf - inf).
  double min_ = 0;
  double max_ = 0;
  double sum_ = 0;
  double sum_compensation_ = 0;
  double sum_nonfinite_ = 0;
  // Integer path: exact.
  __int128 int_min_ = 0;
  __int128 int_max_ = 0;
  __int128 int_sum_ = 0;
};

// Statistics of decoded = raw * scale_factor + add_offset (CF packing) from those of the raw
// data: min and max swap when scale_factor < 0, the standard deviation scales by
// |scale_factor|. The result is not exact (exact = false). Counts are unchanged.
Stats ApplyScaleOffset(const Stats& raw, double scale_factor, double add_offset);

// Decimal text of an exact value ("-170141183460469231731687303715884105728").
std::string Int128ToString(__int128 value);

}  // namespace lsio::compute
