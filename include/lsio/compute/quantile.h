#pragma once

// Exact quantiles in constant memory, equal to numpy.nanquantile(values, q, method="linear")
// with q as a float64 array.
//
// numpy sorts the n valid values (NaN and CF missing values excluded) and interpolates between
// the order statistics around the virtual index v = (n - 1) q (in float64): previous = floor(v), next = previous + 1, both clipped to [0, n - 1], gamma =
// v - previous, and result = a + (b - a) gamma, or b - (b - a)(1 - gamma) when gamma >= 0.5,
// where b - a is computed in the values' own type (float32 stays float32; integers wrap as
// numpy's do) and the rest in float64.
//
// Only the order statistics numpy needs are found, by passes over the data that never hold
// more than a bounded number of values: a pass counts the values below each unresolved
// window [lo, hi] and histograms the window's values into `bins` bins (narrowing the window to
// the bin holding the wanted rank), or, once a window holds few enough values, collects them
// and sorts them. A window whose values are all equal resolves at once. Typically two passes
// after the one that found the count, minimum and maximum.
//
// Values are compared as float64 (exact for every type but 64-bit integers beyond 2^53).
//
// Thread safety: a QuantilePass is consumed by one thread; merge per-thread copies.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "lsio/base/dtype.h"
#include "lsio/base/result.h"
#include "lsio/compute/chunk_box.h"
#include "lsio/compute/missing_values.h"

namespace lsio::compute {

// One pass's accumulator: for each window, the count of valid values below it and either a
// histogram of the values inside it or the values themselves.
class QuantilePass {
 public:
  struct Window {
    double lo = 0;
    double hi = 0;  // inclusive
    bool collect = false;
  };

  static Result<QuantilePass> Make(DataType dtype, const MissingValues& missing,
                                   std::vector<Window> windows, int64_t bins);

  Status Consume(const ChunkView& chunk, const Box& box);
  Status Merge(const QuantilePass& other);

  const std::vector<Window>& windows() const { return windows_; }
  int64_t bins() const { return bins_; }
  uint64_t below(size_t w) const { return below_[w]; }
  std::span<const uint64_t> histogram(size_t w) const;
  const std::vector<double>& collected(size_t w) const { return collected_[w]; }
  // Bytes held now (histograms and collected values).
  uint64_t bytes() const;

 private:
  QuantilePass() = default;
  template <typename T>
  void ConsumeTyped(const ChunkView& chunk, const Box& box);

  DataType dtype_ = DataType::kFloat64;
  MissingValues missing_;
  std::vector<Window> windows_;
  int64_t bins_ = 0;
  std::vector<uint64_t> below_;
  std::vector<uint64_t> histograms_;  // windows x bins
  std::vector<std::vector<double>> collected_;
};

// The search for the order statistics of some quantiles, one pass at a time.
class QuantileSearch {
 public:
  struct Options {
    int64_t bins = 4096;
    // A window holding at most this many values is collected rather than histogrammed.
    uint64_t max_collect = uint64_t{4} << 20;
    // The quantiles are of values in the reverse order of the raw ones (CF scale_factor < 0):
    // the k-th smallest is the (n - 1 - k)-th smallest raw value.
    bool reversed = false;
  };

  // `count`: valid values; `min`, `max`: their extremes (as found by the moments pass).
  static Result<QuantileSearch> Make(DataType dtype, const MissingValues& missing,
                                     std::vector<double> quantiles, uint64_t count, double min,
                                     double max, Options options);
  static Result<QuantileSearch> Make(DataType dtype, const MissingValues& missing,
                                     std::vector<double> quantiles, uint64_t count, double min,
                                     double max) {
    return Make(dtype, missing, std::move(quantiles), count, min, max, Options{});
  }

  bool done() const;
  // The accumulator of the next pass (precondition: !done()).
  Result<QuantilePass> NextPass() const;
  // Narrows the windows with the merged result of that pass.
  Status Absorb(const QuantilePass& pass);
  // numpy's values, one per quantile (NaN when there are no valid values), interpolated in
  // the raw values' type. Precondition: done().
  std::vector<double> Results() const;
  // What to interpolate, per quantile: the raw order statistics around its virtual index and
  // gamma (for values that are decoded before interpolating: decode, then NumpyLerp in the
  // decoded type). Empty when there are no valid values. Precondition: done().
  struct Interpolation {
    double previous = 0;
    double next = 0;
    double gamma = 0;
  };
  std::vector<Interpolation> Interpolations() const;
  // Upper bound of the bytes a pass can hold per thread.
  uint64_t pass_bytes() const;

 private:
  QuantileSearch() = default;

  // The next pass's windows, one per distinct window of the unresolved ranks (ranks searched
  // in the same window, as every rank is at first, share it: each value is visited once per
  // window), and for each unresolved rank in order the index of its window.
  std::vector<size_t> PassWindows(std::vector<QuantilePass::Window>* windows) const;

  // An order statistic being searched: rank k among the sorted valid values.
  struct Rank {
    uint64_t k = 0;
    double lo = 0, hi = 0;  // the window known to hold it
    uint64_t below = 0;     // valid values below lo
    uint64_t inside = 0;    // valid values in [lo, hi] (known after a histogram; else count)
    std::optional<double> value;
  };

  DataType dtype_ = DataType::kFloat64;
  MissingValues missing_;
  Options options_;
  std::vector<double> quantiles_;
  uint64_t count_ = 0;
  std::vector<Rank> ranks_;
  // For each quantile: the indices into ranks_ of its previous and next order statistics, and
  // gamma.
  struct Plan {
    size_t previous = 0, next = 0;
    double gamma = 0;
  };
  std::vector<Plan> plans_;
};

// numpy's _lerp: a + (b - a) gamma, or b - (b - a)(1 - gamma) when gamma >= 0.5, with b - a
// computed in `dtype` (float32 rounding, integer wraparound) and the rest in float64.
double NumpyLerp(DataType dtype, double a, double b, double gamma);

}  // namespace lsio::compute
