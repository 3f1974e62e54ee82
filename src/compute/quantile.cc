#include "lsio/compute/quantile.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "src/compute/runs.h"

namespace lsio::compute {

namespace {

// The raw values of `missing` as elements of T (those T can hold exactly), as CF matches them.
template <typename T>
std::vector<T> MissingAs(const MissingValues& missing) {
  std::vector<T> out;
  for (const std::optional<MissingValue>& m : {missing.fill_value, missing.missing_value}) {
    if (!m) continue;
    double v = 0;
    switch (m->kind) {
      case MissingValue::Kind::kSigned:
        v = static_cast<double>(m->signed_value);
        break;
      case MissingValue::Kind::kUnsigned:
        v = static_cast<double>(m->unsigned_value);
        break;
      case MissingValue::Kind::kFloat:
        v = m->float_value;
        break;
    }
    if (std::isnan(v)) continue;
    if constexpr (std::is_floating_point_v<T>) {
      out.push_back(static_cast<T>(v));
    } else {
      if (v != std::floor(v) || v < static_cast<double>(std::numeric_limits<T>::min()) ||
          v > static_cast<double>(std::numeric_limits<T>::max())) {
        continue;
      }
      out.push_back(static_cast<T>(v));
    }
  }
  return out;
}

// The element at `p` as a double, or NaN for NaN and missing values.
template <typename T>
struct ValueReader {
  std::vector<T> missing;
  double operator()(const std::byte* p) const {
    T x;
    std::memcpy(&x, p, sizeof(T));
    for (const T& m : missing) {
      if (x == m) return std::numeric_limits<double>::quiet_NaN();
    }
    return static_cast<double>(x);
  }
};

struct HalfReader {
  std::vector<float> missing;
  double operator()(const std::byte* p) const {
    uint16_t bits;
    std::memcpy(&bits, p, 2);
    const float x = HalfToFloat(bits);
    for (float m : missing) {
      if (x == HalfToFloat(FloatToHalf(m))) return std::numeric_limits<double>::quiet_NaN();
    }
    return static_cast<double>(x);
  }
};

}  // namespace

Result<QuantilePass> QuantilePass::Make(DataType dtype, const MissingValues& missing,
                                        std::vector<Window> windows, int64_t bins) {
  if (IsComplex(dtype)) return NotSupportedError("quantiles of complex values are not supported");
  if (bins < 1 || bins > (int64_t{1} << 20)) return InvalidArgumentError("quantile bins");
  QuantilePass p;
  p.dtype_ = dtype;
  p.missing_ = missing;
  p.windows_ = std::move(windows);
  p.bins_ = bins;
  p.below_.assign(p.windows_.size(), 0);
  // Per window and bin: the count, then the smallest and largest value seen (as bits).
  p.histograms_.assign(p.windows_.size() * static_cast<size_t>(bins) * 3, 0);
  for (size_t w = 0; w < p.windows_.size(); ++w) {
    for (int64_t b = 0; b < bins; ++b) {
      uint64_t* cell = &p.histograms_[(w * static_cast<size_t>(bins) + b) * 3];
      const double inf = std::numeric_limits<double>::infinity();
      std::memcpy(&cell[1], &inf, 8);
      const double ninf = -inf;
      std::memcpy(&cell[2], &ninf, 8);
    }
  }
  p.collected_.resize(p.windows_.size());
  return p;
}

std::span<const uint64_t> QuantilePass::histogram(size_t w) const {
  return std::span(histograms_).subspan(w * static_cast<size_t>(bins_) * 3,
                                        static_cast<size_t>(bins_) * 3);
}

uint64_t QuantilePass::bytes() const {
  uint64_t n = histograms_.size() * 8 + below_.size() * 8;
  for (const auto& c : collected_) n += c.capacity() * 8;
  return n;
}

template <typename T>
void QuantilePass::ConsumeTyped(const ChunkView& chunk, const Box& box) {
  auto visit = [&](double v) {
    if (std::isnan(v)) return;
    for (size_t w = 0; w < windows_.size(); ++w) {
      const Window& win = windows_[w];
      if (v < win.lo) {
        ++below_[w];
      } else if (v <= win.hi) {
        if (win.collect) {
          collected_[w].push_back(v);
          continue;
        }
        int64_t b = 0;
        if (win.hi > win.lo) {
          b = static_cast<int64_t>((v - win.lo) / (win.hi - win.lo) * static_cast<double>(bins_));
          b = std::clamp<int64_t>(b, 0, bins_ - 1);
        }
        uint64_t* cell = &histograms_[(w * static_cast<size_t>(bins_) + b) * 3];
        ++cell[0];
        double lo, hi;
        std::memcpy(&lo, &cell[1], 8);
        std::memcpy(&hi, &cell[2], 8);
        if (v < lo) std::memcpy(&cell[1], &v, 8);
        if (v > hi) std::memcpy(&cell[2], &v, 8);
      }
    }
  };
  const size_t width = ByteWidth(dtype_);
  auto scan = [&](const auto& read) {
    internal::ForEachRun(chunk, box, [&](const std::byte* data, size_t length) {
      for (size_t i = 0; i < length; ++i) visit(read(data + i * width));
    });
  };
  if constexpr (std::is_same_v<T, uint16_t>) {
    if (dtype_ == DataType::kFloat16) {
      HalfReader r;
      for (const MissingValue* m : {missing_.fill_value ? &*missing_.fill_value : nullptr,
                                    missing_.missing_value ? &*missing_.missing_value : nullptr}) {
        if (m != nullptr && m->kind == MissingValue::Kind::kFloat) {
          r.missing.push_back(static_cast<float>(m->float_value));
        } else if (m != nullptr) {
          r.missing.push_back(static_cast<float>(m->kind == MissingValue::Kind::kSigned
                                                     ? static_cast<double>(m->signed_value)
                                                     : static_cast<double>(m->unsigned_value)));
        }
      }
      scan(r);
      return;
    }
  }
  scan(ValueReader<T>{MissingAs<T>(missing_)});
}

Status QuantilePass::Consume(const ChunkView& chunk, const Box& box) {
  LSIO_RETURN_IF_ERROR(ValidateChunkBox(chunk, box));
  switch (dtype_) {
    case DataType::kBool:
    case DataType::kUInt8:
      ConsumeTyped<uint8_t>(chunk, box);
      break;
    case DataType::kInt8:
      ConsumeTyped<int8_t>(chunk, box);
      break;
    case DataType::kInt16:
      ConsumeTyped<int16_t>(chunk, box);
      break;
    case DataType::kUInt16:
    case DataType::kFloat16:
      ConsumeTyped<uint16_t>(chunk, box);
      break;
    case DataType::kInt32:
      ConsumeTyped<int32_t>(chunk, box);
      break;
    case DataType::kUInt32:
      ConsumeTyped<uint32_t>(chunk, box);
      break;
    case DataType::kInt64:
      ConsumeTyped<int64_t>(chunk, box);
      break;
    case DataType::kUInt64:
      ConsumeTyped<uint64_t>(chunk, box);
      break;
    case DataType::kFloat32:
      ConsumeTyped<float>(chunk, box);
      break;
    case DataType::kFloat64:
      ConsumeTyped<double>(chunk, box);
      break;
    default:
      return NotSupportedError("quantiles of " + std::string(DataTypeName(dtype_)));
  }
  return Status::OK();
}

Status QuantilePass::Merge(const QuantilePass& other) {
  if (other.windows_.size() != windows_.size() || other.bins_ != bins_) {
    return InternalError("merging quantile passes of different shapes");
  }
  for (size_t w = 0; w < windows_.size(); ++w) {
    below_[w] += other.below_[w];
    collected_[w].insert(collected_[w].end(), other.collected_[w].begin(),
                         other.collected_[w].end());
  }
  for (size_t c = 0; c < histograms_.size(); c += 3) {
    histograms_[c] += other.histograms_[c];
    double lo, hi, olo, ohi;
    std::memcpy(&lo, &histograms_[c + 1], 8);
    std::memcpy(&hi, &histograms_[c + 2], 8);
    std::memcpy(&olo, &other.histograms_[c + 1], 8);
    std::memcpy(&ohi, &other.histograms_[c + 2], 8);
    lo = std::min(lo, olo);
    hi = std::max(hi, ohi);
    std::memcpy(&histograms_[c + 1], &lo, 8);
    std::memcpy(&histograms_[c + 2], &hi, 8);
  }
  return Status::OK();
}

Result<QuantileSearch> QuantileSearch::Make(DataType dtype, const MissingValues& missing,
                                            std::vector<double> quantiles, uint64_t count,
                                            double min, double max, Options options) {
  QuantileSearch s;
  s.dtype_ = dtype;
  s.missing_ = missing;
  s.options_ = options;
  s.count_ = count;
  for (double q : quantiles) {
    if (!(q >= 0 && q <= 1)) {
      return InvalidArgumentError("quantiles must be in the range [0, 1], got " +
                                  std::to_string(q));
    }
  }
  s.quantiles_ = std::move(quantiles);
  if (count == 0) return s;
  const double n = static_cast<double>(count);
  auto rank_index = [&](uint64_t k) {
    for (size_t i = 0; i < s.ranks_.size(); ++i) {
      if (s.ranks_[i].k == k) return i;
    }
    Rank r;
    r.k = k;
    r.lo = min;
    r.hi = max;
    r.inside = count;
    if (min == max) r.value = min;
    s.ranks_.push_back(r);
    return s.ranks_.size() - 1;
  };
  for (double q : s.quantiles_) {
    // numpy's virtual index for method "linear", as it computes it: (n - 1) * q.
    const double v = (n - 1) * q;
    uint64_t previous, next;
    if (v >= n - 1) {
      previous = next = count - 1;
    } else if (v < 0) {
      previous = next = 0;
    } else {
      previous = static_cast<uint64_t>(std::floor(v));
      next = previous + 1;
    }
    if (options.reversed) {
      previous = count - 1 - previous;
      next = count - 1 - next;
    }
    Plan plan;
    plan.previous = rank_index(previous);
    plan.next = rank_index(next);
    // numpy: gamma = virtual index - previous index (previous is -1 above the bounds).
    plan.gamma = v >= n - 1 ? v + 1.0 : v - std::floor(v);
    s.plans_.push_back(plan);
  }
  return s;
}

bool QuantileSearch::done() const {
  for (const Rank& r : ranks_) {
    if (!r.value) return false;
  }
  return true;
}

std::vector<size_t> QuantileSearch::PassWindows(
    std::vector<QuantilePass::Window>* windows) const {
  std::vector<size_t> window_of;
  for (const Rank& r : ranks_) {
    if (r.value) continue;
    const QuantilePass::Window w{r.lo, r.hi, r.inside <= options_.max_collect};
    size_t i = 0;
    while (i < windows->size() && !((*windows)[i].lo == w.lo && (*windows)[i].hi == w.hi &&
                                     (*windows)[i].collect == w.collect)) {
      ++i;
    }
    if (i == windows->size()) windows->push_back(w);
    window_of.push_back(i);
  }
  return window_of;
}

Result<QuantilePass> QuantileSearch::NextPass() const {
  std::vector<QuantilePass::Window> windows;
  PassWindows(&windows);
  return QuantilePass::Make(dtype_, missing_, std::move(windows), options_.bins);
}

uint64_t QuantileSearch::pass_bytes() const {
  std::vector<QuantilePass::Window> windows;
  const std::vector<size_t> window_of = PassWindows(&windows);
  // A collected window holds the values inside it (Rank::inside: the same for every rank in
  // it); a histogram, `bins` cells of 24 bytes.
  std::vector<uint64_t> bytes(windows.size(), static_cast<uint64_t>(options_.bins) * 24);
  size_t next = 0;
  for (const Rank& r : ranks_) {
    if (r.value) continue;
    const size_t w = window_of[next++];
    if (windows[w].collect) bytes[w] = r.inside * 8;
  }
  uint64_t total = 0;
  for (uint64_t b : bytes) total += b;
  return total;
}

Status QuantileSearch::Absorb(const QuantilePass& pass) {
  std::vector<QuantilePass::Window> windows;
  const std::vector<size_t> window_of = PassWindows(&windows);
  if (windows.size() != pass.windows().size()) {
    return InternalError("quantile search: a pass of " + std::to_string(pass.windows().size()) +
                         " windows absorbed where " + std::to_string(windows.size()) +
                         " were planned");
  }
  size_t next = 0;
  for (Rank& r : ranks_) {
    if (r.value) continue;
    const size_t w = window_of[next++];
    const uint64_t below = pass.below(w);
    if (pass.windows()[w].collect) {
      std::vector<double> values = pass.collected(w);
      const uint64_t at = r.k - below;
      if (r.k < below || at >= values.size()) {
        return InternalError("quantile search: rank " + std::to_string(r.k) +
                             " not in its window (the data changed between passes?)");
      }
      std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(at), values.end());
      r.value = values[at];
    } else {
      std::span<const uint64_t> h = pass.histogram(w);
      uint64_t seen = below;
      bool found = false;
      for (int64_t b = 0; b < pass.bins(); ++b) {
        const uint64_t c = h[static_cast<size_t>(b) * 3];
        if (r.k < seen + c) {
          double lo, hi;
          std::memcpy(&lo, &h[static_cast<size_t>(b) * 3 + 1], 8);
          std::memcpy(&hi, &h[static_cast<size_t>(b) * 3 + 2], 8);
          r.lo = lo;
          r.hi = hi;
          r.below = seen;
          r.inside = c;
          if (lo == hi) r.value = lo;
          found = true;
          break;
        }
        seen += c;
      }
      if (!found) {
        return InternalError("quantile search: rank " + std::to_string(r.k) +
                             " beyond the values counted (the data changed between passes?)");
      }
    }
  }
  return Status::OK();
}

namespace {

// b - a in the values' own type, as numpy computes it before interpolating.
double DiffInType(DataType dtype, double a, double b) {
  switch (dtype) {
    case DataType::kFloat16:
      return HalfToFloat(FloatToHalf(HalfToFloat(FloatToHalf(static_cast<float>(b))) -
                                     HalfToFloat(FloatToHalf(static_cast<float>(a)))));
    case DataType::kFloat32:
      return static_cast<double>(static_cast<float>(b) - static_cast<float>(a));
    case DataType::kFloat64:
      return b - a;
    case DataType::kInt8:
      return static_cast<int8_t>(static_cast<int8_t>(b) - static_cast<int8_t>(a));
    case DataType::kInt16:
      return static_cast<int16_t>(static_cast<int16_t>(b) - static_cast<int16_t>(a));
    case DataType::kInt32:
      return static_cast<int32_t>(static_cast<uint32_t>(static_cast<int32_t>(b)) -
                                  static_cast<uint32_t>(static_cast<int32_t>(a)));
    case DataType::kInt64:
      return static_cast<double>(static_cast<int64_t>(static_cast<uint64_t>(static_cast<int64_t>(b)) -
                                                      static_cast<uint64_t>(static_cast<int64_t>(a))));
    case DataType::kBool:
    case DataType::kUInt8:
      return static_cast<uint8_t>(static_cast<uint8_t>(b) - static_cast<uint8_t>(a));
    case DataType::kUInt16:
      return static_cast<uint16_t>(static_cast<uint16_t>(b) - static_cast<uint16_t>(a));
    case DataType::kUInt32:
      return static_cast<uint32_t>(static_cast<uint32_t>(b) - static_cast<uint32_t>(a));
    case DataType::kUInt64:
      return static_cast<double>(static_cast<uint64_t>(b) - static_cast<uint64_t>(a));
    default:
      return b - a;
  }
}

}  // namespace

double NumpyLerp(DataType dtype, double a, double b, double gamma) {
  const double diff = DiffInType(dtype, a, b);
  if (gamma >= 0.5) return b - diff * (1.0 - gamma);
  return a + diff * gamma;
}

std::vector<QuantileSearch::Interpolation> QuantileSearch::Interpolations() const {
  std::vector<Interpolation> out;
  if (count_ == 0) return out;
  for (const Plan& p : plans_) {
    out.push_back({*ranks_[p.previous].value, *ranks_[p.next].value, p.gamma});
  }
  return out;
}

std::vector<double> QuantileSearch::Results() const {
  std::vector<double> out;
  if (count_ == 0) return std::vector<double>(quantiles_.size(), std::nan(""));
  for (const Plan& p : plans_) {
    out.push_back(NumpyLerp(dtype_, *ranks_[p.previous].value, *ranks_[p.next].value, p.gamma));
  }
  return out;
}

}  // namespace lsio::compute
