#include "lsio/compute/histogram.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "src/compute/runs.h"
#include "src/compute/to_double.h"

namespace lsio::compute {

namespace {

// numpy's arithmetic in each bin type, on values of the type held exactly as doubles: every
// operation is rounded to the type. numpy computes float16 operations in float32 and rounds
// the result to float16 (npy_half loops and scalar math), and so does HalfArith.
struct HalfArith {
  static double Round(float x) { return static_cast<double>(HalfToFloat(FloatToHalf(x))); }
  static double From(double x) { return Round(static_cast<float>(x)); }
  static double FromInt(uint64_t i) { return Round(static_cast<float>(i)); }
  static double Add(double a, double b) {
    return Round(static_cast<float>(a) + static_cast<float>(b));
  }
  static double Sub(double a, double b) {
    return Round(static_cast<float>(a) - static_cast<float>(b));
  }
  static double Mul(double a, double b) {
    return Round(static_cast<float>(a) * static_cast<float>(b));
  }
  static double Div(double a, double b) {
    return Round(static_cast<float>(a) / static_cast<float>(b));
  }
};

struct FloatArith {
  static double From(double x) { return static_cast<double>(static_cast<float>(x)); }
  static double FromInt(uint64_t i) { return static_cast<double>(static_cast<float>(i)); }
  static double Add(double a, double b) {
    return static_cast<double>(static_cast<float>(a) + static_cast<float>(b));
  }
  static double Sub(double a, double b) {
    return static_cast<double>(static_cast<float>(a) - static_cast<float>(b));
  }
  static double Mul(double a, double b) {
    return static_cast<double>(static_cast<float>(a) * static_cast<float>(b));
  }
  static double Div(double a, double b) {
    return static_cast<double>(static_cast<float>(a) / static_cast<float>(b));
  }
};

struct DoubleArith {
  static double From(double x) { return x; }
  static double FromInt(uint64_t i) { return static_cast<double>(i); }
  static double Add(double a, double b) { return a + b; }
  static double Sub(double a, double b) { return a - b; }
  static double Mul(double a, double b) { return a * b; }
  static double Div(double a, double b) { return a / b; }
};

// Calls fn(Arith{}) for the bin type.
template <typename Fn>
decltype(auto) WithArith(DataType bin_type, Fn&& fn) {
  if (bin_type == DataType::kFloat16) return fn(HalfArith{});
  if (bin_type == DataType::kFloat32) return fn(FloatArith{});
  return fn(DoubleArith{});
}

// numpy.histogram's edges: _get_outer_edges widens an empty range, then
// np.linspace(first, last, n + 1) in the bin type. linspace: delta = last - first,
// step = delta / n, y = arange(n + 1) * step + first (or, when step underflows to 0,
// arange / n * delta + first), and the last edge is `last` itself.
template <typename A>
std::vector<double> NumpyEdges(double lo, double hi, size_t n) {
  if (lo == hi) {
    lo = A::Sub(lo, 0.5);
    hi = A::Add(hi, 0.5);
  }
  const double delta = A::Sub(hi, lo);
  const double div = A::FromInt(n);
  const double step = A::Div(delta, div);
  std::vector<double> edges(n + 1);
  for (size_t i = 0; i <= n; ++i) {
    const double y = A::FromInt(i);
    edges[i] = A::Add(step == 0 ? A::Mul(A::Div(y, div), delta) : A::Mul(y, step), lo);
  }
  edges[n] = hi;
  return edges;
}

bool SameDecoding(const std::optional<ValueDecoding>& a, const std::optional<ValueDecoding>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->type == b->type && a->scale == b->scale && a->offset == b->offset);
}

}  // namespace

double ValueDecoding::Apply(double stored) const {
  auto apply = [&](auto arith) {
    using A = decltype(arith);
    double v = A::From(stored);
    if (scale) v = A::Mul(v, A::From(*scale));
    if (offset) v = A::Add(v, A::From(*offset));
    return v;
  };
  if (type == DataType::kFloat16) return apply(HalfArith{});
  if (type == DataType::kFloat32) return apply(FloatArith{});
  return apply(DoubleArith{});
}

Result<HistogramAccumulator> HistogramAccumulator::Make(DataType dtype,
                                                        HistogramOptions options) {
  if (!IsRealNumeric(dtype)) {
    return NotSupportedError("histograms of " + std::string(DataTypeName(dtype)) +
                             " data are not supported");
  }
  if (options.decoding && !IsFloat(options.decoding->type)) {
    return InvalidArgumentError("histogram values decoded to " +
                                std::string(DataTypeName(options.decoding->type)) +
                                ": only float16, float32 and float64 are supported");
  }
  if (options.bins < 1 || options.bins > kMaxHistogramBins) {
    return InvalidArgumentError("histogram bins " + std::to_string(options.bins) +
                                " outside [1, " + std::to_string(kMaxHistogramBins) + "]");
  }
  const double lo = options.lo;
  const double hi = options.hi;
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
    return InvalidArgumentError("histogram range [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "] is not a finite, ordered range");
  }
  HistogramAccumulator h;
  h.dtype_ = dtype;
  const DataType value_type = options.decoding ? options.decoding->type : dtype;
  h.bin_type_ = IsFloat(value_type) ? value_type : DataType::kFloat64;
  h.missing_ = options.missing;
  h.resolved_ = internal::ResolveMissing(options.missing, dtype);
  h.decoding_ = options.decoding;
  const size_t n = static_cast<size_t>(options.bins);
  WithArith(h.bin_type_, [&](auto arith) {
    using A = decltype(arith);
    if (options.range_of_no_values) {
      h.edges_ = NumpyEdges<DoubleArith>(lo, hi, n);
      for (double& e : h.edges_) e = A::From(e);
    } else {
      h.edges_ = NumpyEdges<A>(lo, hi, n);
    }
    h.denom_ = A::Sub(h.edges_[n], h.edges_[0]);
  });
  for (size_t i = 0; i < n; ++i) {
    if (!(h.edges_[i] < h.edges_[i + 1])) {
      return InvalidArgumentError("too many bins (" + std::to_string(n) + ") for the range [" +
                                  std::to_string(options.lo) + ", " + std::to_string(options.hi) +
                                  "] in " + std::string(DataTypeName(h.bin_type_)) +
                                  " precision");
    }
  }
  h.counts_.assign(n, 0);
  return h;
}

template <typename A>
void HistogramAccumulator::CountValues(double* values, size_t n) {
  if (decoding_) {
    for (size_t k = 0; k < n; ++k) values[k] = decoding_->Apply(values[k]);
  }
  const double first = edges_.front();
  const double last = edges_.back();
  const int64_t nbins = static_cast<int64_t>(counts_.size());
  const double numerator = A::FromInt(counts_.size());
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
    // numpy's guess, ((x - first) / norm_denom) * n in the bin type, truncated; then at most
    // one step down and one up by the edges.
    int64_t i = static_cast<int64_t>(A::Mul(A::Div(A::Sub(x, first), denom_), numerator));
    i = std::clamp<int64_t>(i, 0, nbins - 1);
    if (i > 0 && x < edges[i]) --i;
    if (i != nbins - 1 && x >= edges[i + 1]) ++i;
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
      WithArith(bin_type_, [&](auto arith) { CountValues<decltype(arith)>(scratch, m); });
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
      !internal::SameMissingValues(missing_, other.missing_) ||
      !SameDecoding(decoding_, other.decoding_)) {
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
