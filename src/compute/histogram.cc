#include "lsio/compute/histogram.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "src/compute/runs.h"
#include "src/compute/to_double.h"

namespace lsio::compute {

namespace {

// A value rounded to the bin type (see the header).
double ToBinType(DataType dtype, double x) {
  if (dtype == DataType::kFloat32) return static_cast<double>(static_cast<float>(x));
  if (dtype == DataType::kFloat16) {
    return static_cast<double>(HalfToFloat(FloatToHalf(static_cast<float>(x))));
  }
  return x;
}

}  // namespace

Result<HistogramAccumulator> HistogramAccumulator::Make(DataType dtype,
                                                        HistogramOptions options) {
  if (!IsRealNumeric(dtype)) {
    return NotSupportedError("histograms of " + std::string(DataTypeName(dtype)) +
                             " data are not supported");
  }
  if (options.bins < 1 || options.bins > kMaxHistogramBins) {
    return InvalidArgumentError("histogram bins " + std::to_string(options.bins) +
                                " outside [1, " + std::to_string(kMaxHistogramBins) + "]");
  }
  double lo = options.lo;
  double hi = options.hi;
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
    return InvalidArgumentError("histogram range [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "] is not a finite, ordered range");
  }
  if (lo == hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  HistogramAccumulator h;
  h.dtype_ = dtype;
  h.missing_ = options.missing;
  h.resolved_ = internal::ResolveMissing(options.missing, dtype);
  // np.linspace(lo, hi, bins + 1) in float64, then cast to the bin type: y = i * step + lo,
  // with the last edge set to hi.
  const size_t n = static_cast<size_t>(options.bins);
  const double delta = hi - lo;
  const double step = delta / static_cast<double>(n);
  h.edges_.resize(n + 1);
  for (size_t i = 0; i <= n; ++i) {
    const double y = step == 0 ? static_cast<double>(i) / static_cast<double>(n) * delta + lo
                               : static_cast<double>(i) * step + lo;
    h.edges_[i] = ToBinType(dtype, y);
  }
  h.edges_[n] = ToBinType(dtype, hi);
  for (size_t i = 0; i < n; ++i) {
    if (!(h.edges_[i] < h.edges_[i + 1])) {
      return InvalidArgumentError("too many bins (" + std::to_string(n) + ") for the range [" +
                                  std::to_string(options.lo) + ", " + std::to_string(options.hi) +
                                  "] in " + std::string(DataTypeName(dtype)) + " precision");
    }
  }
  h.scale_ = static_cast<double>(n) / (h.edges_[n] - h.edges_[0]);
  h.counts_.assign(n, 0);
  return h;
}

void HistogramAccumulator::CountValues(const double* values, size_t n) {
  const double first = edges_.front();
  const double last = edges_.back();
  const int64_t nbins = static_cast<int64_t>(counts_.size());
  const double* edges = edges_.data();
  for (size_t k = 0; k < n; ++k) {
    const double x = values[k];
    if (!(x >= first)) {
      if (std::isnan(x)) {
        ++nan_count_;
      } else {
        ++below_;
      }
      continue;
    }
    if (x > last) {
      ++above_;
      continue;
    }
    // A first guess from the equal widths, then the edge comparisons decide (numpy corrects
    // its guess the same way; rounding moves the guess by at most one bin except in float16).
    int64_t i = static_cast<int64_t>((x - first) * scale_);
    i = std::clamp<int64_t>(i, 0, nbins - 1);
    while (i > 0 && x < edges[i]) --i;
    while (i < nbins - 1 && x >= edges[i + 1]) ++i;
    ++counts_[static_cast<size_t>(i)];
  }
}

Status HistogramAccumulator::Consume(const ChunkView& chunk, const Box& box) {
  if (chunk.dtype != dtype_) {
    return InvalidArgumentError("chunk of dtype " + std::string(DataTypeName(chunk.dtype)) +
                                " fed to a histogram of " + std::string(DataTypeName(dtype_)));
  }
  LSIO_RETURN_IF_ERROR(ValidateChunkBox(chunk, box));
  const size_t width = ByteWidth(dtype_);
  alignas(64) double scratch[1024];
  internal::ForEachRun(chunk, box, [&](const std::byte* data, size_t length) {
    for (size_t i = 0; i < length; i += 1024) {
      const size_t m = std::min<size_t>(1024, length - i);
      internal::ToDouble(dtype_, data + i * width, m, resolved_, scratch);
      CountValues(scratch, m);
    }
  });
  return Status::OK();
}

Status HistogramAccumulator::Consume(std::span<const std::byte> elements) {
  const size_t width = ByteWidth(dtype_);
  if (elements.size() % width != 0 ||
      reinterpret_cast<uintptr_t>(elements.data()) % width != 0) {
    return InvalidArgumentError(std::to_string(elements.size()) +
                                " bytes are not a whole, aligned number of " +
                                std::string(DataTypeName(dtype_)) + " elements");
  }
  const int64_t shape[1] = {static_cast<int64_t>(elements.size() / width)};
  const int64_t start[1] = {0};
  return Consume(ChunkView{dtype_, shape, elements}, Box{start, shape});
}

Status HistogramAccumulator::Merge(const HistogramAccumulator& other) {
  if (other.dtype_ != dtype_ || other.edges_ != edges_ ||
      !internal::SameMissingValues(missing_, other.missing_)) {
    return InvalidArgumentError(
        "cannot merge histograms of different dtypes, bins, ranges or missing values");
  }
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  below_ += other.below_;
  above_ += other.above_;
  nan_count_ += other.nan_count_;
  return Status::OK();
}

}  // namespace lsio::compute
