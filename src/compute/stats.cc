#include "lsio/compute/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "src/compute/kernels.h"
#include "src/compute/wire.h"
#include "src/compute/runs.h"

namespace lsio::compute {

namespace {

using internal::Run;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

size_t TotalElements(std::span<const Run> runs) {
  size_t n = 0;
  for (const Run& r : runs) n += r.length;
  return n;
}

double Mean128(__int128 sum, uint64_t count) {
  // long double keeps 64 bits of the quotient, so the result is within an ulp of sum / count.
  return static_cast<double>(static_cast<long double>(sum) / static_cast<long double>(count));
}

// Exact moments of 64-bit integers, scalar. Pass 2 measures each element against
// ref = floor(mean) exactly in integer arithmetic (the difference of two int64 can need 65
// bits, so it is taken as an unsigned magnitude plus a sign) and subtracts the fractional part
// of the mean in float64.
struct Moments64Result {
  uint64_t count = 0;
  __int128 min = 0;
  __int128 max = 0;
  __int128 sum = 0;
  double m2 = 0;
};

template <typename T>
Moments64Result Moments64(std::span<const Run> runs, const internal::ResolvedMissing& missing) {
  const uint64_t m0 = missing.bits[0];
  const uint64_t m1 = missing.count > 1 ? missing.bits[1] : missing.bits[0];
  const bool masked = missing.count > 0;
  auto valid = [&](T x) {
    const uint64_t b = static_cast<uint64_t>(x);
    return !masked || (b != m0 && b != m1);
  };
  Moments64Result out;
  T lo = std::numeric_limits<T>::max();
  T hi = std::numeric_limits<T>::lowest();
  for (const Run& r : runs) {
    const T* p = reinterpret_cast<const T*>(r.data);
    for (size_t i = 0; i < r.length; ++i) {
      const T x = p[i];
      if (!valid(x)) continue;
      ++out.count;
      out.sum += x;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  if (out.count == 0) return out;
  out.min = lo;
  out.max = hi;
  const __int128 n = out.count;
  __int128 floor_mean = out.sum / n;
  if (out.sum % n != 0 && out.sum < 0) --floor_mean;  // C++ division truncates
  const T ref = static_cast<T>(floor_mean);              // min <= floor(mean) <= max
  const double frac = static_cast<double>(out.sum - floor_mean * n) / static_cast<double>(n);
  double q = 0, c = 0;
  for (const Run& r : runs) {
    const T* p = reinterpret_cast<const T*>(r.data);
    for (size_t i = 0; i < r.length; ++i) {
      const T x = p[i];
      if (!valid(x)) continue;
      const double d = x >= ref ? static_cast<double>(static_cast<uint64_t>(x) -
                                                      static_cast<uint64_t>(ref))
                                : -static_cast<double>(static_cast<uint64_t>(ref) -
                                                       static_cast<uint64_t>(x));
      const double dev = d - frac;
      q += dev * dev;
      c += dev;
    }
  }
  out.m2 = q - c * c / static_cast<double>(out.count);
  return out;
}

double ClampM2(double m2) { return m2 < 0 ? 0.0 : m2; }  // keeps NaN

}  // namespace

double Stats::variance(int ddof) const {
  const double dof = static_cast<double>(count) - ddof;
  if (!(dof > 0)) return kNaN;
  return m2 / dof;
}

double Stats::stddev(int ddof) const { return std::sqrt(variance(ddof)); }

Result<StatsAccumulator> StatsAccumulator::Make(DataType dtype, StatsOptions options) {
  if (!IsRealNumeric(dtype)) {
    return NotSupportedError("summary statistics of " + std::string(DataTypeName(dtype)) +
                             " data are not supported");
  }
  StatsAccumulator acc;
  acc.dtype_ = dtype;
  acc.is_integer_ = !IsFloat(dtype);
  acc.missing_ = options.missing;
  acc.resolved_ = internal::ResolveMissing(options.missing, dtype);
  return acc;
}

double StatsAccumulator::SumAsDouble() const {
  if (is_integer_) return static_cast<double>(int_sum_);
  return (sum_ + sum_compensation_) + sum_nonfinite_;
}

StatsAccumulator::MeanParts StatsAccumulator::CurrentMean() const {
  const double n = static_cast<double>(count_);
  if (sum_nonfinite_ != 0 || std::isnan(sum_nonfinite_)) return {SumAsDouble() / n, 0.0};
  // (sum_ + sum_compensation_) / n in two parts; the fma gives the division's exact remainder.
  const double hi = sum_ / n;
  return {hi, (std::fma(-hi, n, sum_) + sum_compensation_) / n};
}

void StatsAccumulator::MergeMoments(uint64_t count_b, MeanParts mean_b, double m2_b) {
  if (count_ == 0) {
    m2_ = m2_b;
    return;
  }
  const double na = static_cast<double>(count_);
  const double nb = static_cast<double>(count_b);
  const MeanParts mean_a = CurrentMean();
  // The hi parts are close when it matters, so their difference is exact (Sterbenz).
  const double delta = (mean_b.hi - mean_a.hi) + (mean_b.lo - mean_a.lo);
  m2_ += m2_b + delta * delta * (na * nb / (na + nb));
}

void StatsAccumulator::AddToSum(double x) {
  // Neumaier's compensated sum; infinities and overflow go to a separate plain sum so that the
  // compensation never computes inf - inf.
  if (!std::isfinite(x)) {
    sum_nonfinite_ += x;
    return;
  }
  const double t = sum_ + x;
  if (!std::isfinite(t)) {
    sum_nonfinite_ += t;
    sum_ = 0;
    sum_compensation_ = 0;
    return;
  }
  if (std::fabs(sum_) >= std::fabs(x)) {
    sum_compensation_ += (sum_ - t) + x;
  } else {
    sum_compensation_ += (x - t) + sum_;
  }
  sum_ = t;
}

void StatsAccumulator::AddFloatPart(uint64_t count, double min, double max, double sum_hi,
                                    double sum_lo, MeanParts mean, double m2) {
  if (count == 0) return;
  MergeMoments(count, mean, ClampM2(m2));
  if (count_ == 0) {
    min_ = min;
    max_ = max;
  } else {
    min_ = std::min(min_, min);
    max_ = std::max(max_, max);
  }
  count_ += count;
  AddToSum(sum_hi);
  AddToSum(sum_lo);
}

void StatsAccumulator::AddIntPart(uint64_t count, __int128 min, __int128 max, __int128 sum,
                                  double m2) {
  if (count == 0) return;
  if (count_ == 0) {
    m2_ = ClampM2(m2);
    int_min_ = min;
    int_max_ = max;
  } else {
    // Chan's update with the exact difference of the means: both are measured from
    // ref = floor(mean_a) in integer arithmetic first.
    const double na = static_cast<double>(count_);
    const double nb = static_cast<double>(count);
    __int128 ref = int_sum_ / count_;
    const long double da =
        static_cast<long double>(int_sum_ - ref * count_) / static_cast<long double>(count_);
    const long double db =
        static_cast<long double>(sum - ref * count) / static_cast<long double>(count);
    const double delta = static_cast<double>(db - da);
    m2_ += ClampM2(m2) + delta * delta * (na * nb / (na + nb));
    int_min_ = std::min(int_min_, min);
    int_max_ = std::max(int_max_, max);
  }
  count_ += count;
  int_sum_ += sum;
}

// A float kernel's block as the parts AddFloatPart takes: sum = count * mean + dev_sum, held as
// hi + lo (the fma recovers the rounding of count * mean exactly).
void StatsAccumulator::AddFloatMoments(const internal::FloatMoments& m) {
  if (m.count == 0) return;
  const double n = static_cast<double>(m.count);
  if (!std::isfinite(m.mean) || !std::isfinite(m.dev_sum)) {
    // An infinity (or inf - inf) in the block: the sum says so, the moments are NaN.
    AddFloatPart(m.count, m.min, m.max, m.sum, 0.0, {m.mean, 0.0}, m.m2());
    return;
  }
  const double hi = n * m.mean;
  AddFloatPart(m.count, m.min, m.max, hi, std::fma(n, m.mean, -hi) + m.dev_sum,
               {m.mean, m.dev_sum / n}, m.m2());
}

size_t StatsAccumulator::BlockElements(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32:
    case DataType::kFloat16:
      return internal::kBlockBytes / 4;
    case DataType::kFloat64:
    case DataType::kInt32:
    case DataType::kUInt32:
    case DataType::kInt64:
    case DataType::kUInt64:
      return internal::kBlockBytes / 8;
    default:  // bool, int8, uint8, int16, uint16
      return internal::kSmallIntBlockElements;
  }
}

void StatsAccumulator::ConsumeBlock(std::span<const Run> runs) {
  switch (dtype_) {
    case DataType::kFloat32: {
      const internal::FloatMoments m = internal::MomentsFloat32(runs, resolved_);
      nan_count_ += TotalElements(runs) - m.count;
      AddFloatMoments(m);
      break;
    }
    case DataType::kFloat64: {
      const internal::FloatMoments m = internal::MomentsFloat64(runs, resolved_);
      nan_count_ += TotalElements(runs) - m.count;
      AddFloatMoments(m);
      break;
    }
    case DataType::kFloat16: {
      // Widened to float32 in L1 (exact), then the float32 kernel.
      alignas(64) float scratch[internal::kBlockBytes / 4];
      size_t n = 0;
      for (const Run& r : runs) {
        internal::ConvertFloat16ToFloat32(reinterpret_cast<const uint16_t*>(r.data), r.length,
                                          scratch + n);
        n += r.length;
      }
      const Run run{reinterpret_cast<const std::byte*>(scratch), n};
      const internal::FloatMoments m = internal::MomentsFloat32({&run, 1}, resolved_);
      nan_count_ += n - m.count;
      AddFloatMoments(m);
      break;
    }
    case DataType::kInt32:
    case DataType::kUInt32: {
      // Widened to float64 in L1, exactly; blocks of 2048 keep every partial sum below 2^53, so
      // the float64 block sum is the exact integer sum.
      alignas(64) double scratch[internal::kBlockBytes / 8];
      size_t n = 0;
      for (const Run& r : runs) {
        if (dtype_ == DataType::kInt32) {
          internal::ConvertInt32ToFloat64(reinterpret_cast<const int32_t*>(r.data), r.length,
                                          scratch + n);
        } else {
          internal::ConvertUInt32ToFloat64(reinterpret_cast<const uint32_t*>(r.data), r.length,
                                           scratch + n);
        }
        n += r.length;
      }
      const Run run{reinterpret_cast<const std::byte*>(scratch), n};
      const internal::FloatMoments m = internal::MomentsFloat64({&run, 1}, resolved_);
      nan_count_ += n - m.count;
      if (m.count == 0) return;
      AddIntPart(m.count, static_cast<__int128>(m.min), static_cast<__int128>(m.max),
                 static_cast<__int128>(m.sum), m.m2());
      break;
    }
    case DataType::kInt64:
    case DataType::kUInt64: {
      const Moments64Result m = dtype_ == DataType::kInt64 ? Moments64<int64_t>(runs, resolved_)
                                                           : Moments64<uint64_t>(runs, resolved_);
      nan_count_ += TotalElements(runs) - m.count;
      AddIntPart(m.count, m.min, m.max, m.sum, m.m2);
      break;
    }
    default: {  // bool, int8, uint8, int16, uint16
      const internal::IntMoments m = internal::MomentsSmallInt(dtype_, runs, resolved_);
      nan_count_ += TotalElements(runs) - m.count;
      AddIntPart(m.count, m.min, m.max, m.sum, m.m2);
      break;
    }
  }
}

template <typename Walk>
void StatsAccumulator::ConsumeWith(Walk&& walk) {
  auto sink = [this](std::span<const Run> runs) { ConsumeBlock(runs); };
  internal::BlockBuilder builder(ByteWidth(dtype_), BlockElements(dtype_), sink);
  walk([&](const std::byte* data, size_t length) { builder.Add(data, length); });
  builder.Flush();
}

Status StatsAccumulator::Consume(const ChunkView& chunk, const Box& box) {
  if (chunk.dtype != dtype_) {
    return InvalidArgumentError("chunk of dtype " + std::string(DataTypeName(chunk.dtype)) +
                                " fed to statistics of " + std::string(DataTypeName(dtype_)));
  }
  LSIO_RETURN_IF_ERROR(ValidateChunkBox(chunk, box));
  ConsumeWith([&](auto&& emit) { internal::ForEachRun(chunk, box, emit); });
  return Status::OK();
}

Status StatsAccumulator::Consume(std::span<const std::byte> elements) {
  const size_t width = ByteWidth(dtype_);
  if (elements.size() % width != 0 ||
      reinterpret_cast<uintptr_t>(elements.data()) % width != 0) {
    return InvalidArgumentError(std::to_string(elements.size()) +
                                " bytes are not a whole, aligned number of " +
                                std::string(DataTypeName(dtype_)) + " elements");
  }
  if (elements.empty()) return Status::OK();
  ConsumeWith([&](auto&& emit) { emit(elements.data(), elements.size() / width); });
  return Status::OK();
}

Status StatsAccumulator::Merge(const StatsAccumulator& other) {
  if (other.dtype_ != dtype_) {
    return InvalidArgumentError("cannot merge statistics of " +
                                std::string(DataTypeName(other.dtype_)) + " into statistics of " +
                                std::string(DataTypeName(dtype_)));
  }
  if (!internal::SameMissingValues(missing_, other.missing_)) {
    return InvalidArgumentError("cannot merge statistics taken with different missing values");
  }
  nan_count_ += other.nan_count_;
  if (other.count_ == 0) return Status::OK();
  if (is_integer_) {
    AddIntPart(other.count_, other.int_min_, other.int_max_, other.int_sum_, other.m2_);
    return Status::OK();
  }
  AddFloatPart(other.count_, other.min_, other.max_, other.sum_, other.sum_compensation_,
               other.CurrentMean(), other.m2_);
  sum_nonfinite_ += other.sum_nonfinite_;
  return Status::OK();
}

Stats StatsAccumulator::Finalize() const {
  Stats s;
  s.dtype = dtype_;
  s.count = count_;
  s.nan_count = nan_count_;
  s.exact = is_integer_;
  if (count_ == 0) {
    s.min = s.max = s.mean = s.m2 = kNaN;
    s.sum = 0;
    return s;
  }
  if (is_integer_) {
    s.exact_min = int_min_;
    s.exact_max = int_max_;
    s.exact_sum = int_sum_;
    s.min = static_cast<double>(int_min_);
    s.max = static_cast<double>(int_max_);
    s.sum = static_cast<double>(int_sum_);
    s.mean = Mean128(int_sum_, count_);
    s.m2 = m2_;
    return s;
  }
  s.min = min_;
  s.max = max_;
  s.sum = SumAsDouble();
  s.mean = s.sum / static_cast<double>(count_);
  // numpy's nanvar of data holding an infinity is NaN (x - mean meets inf - inf).
  s.m2 = std::isfinite(s.sum) ? m2_ : kNaN;
  return s;
}

Stats ApplyScaleOffset(const Stats& raw, double scale_factor, double add_offset) {
  Stats d = raw;
  d.exact = false;
  d.exact_min = d.exact_max = d.exact_sum = 0;
  if (raw.count == 0) return d;
  double lo = raw.min * scale_factor + add_offset;
  double hi = raw.max * scale_factor + add_offset;
  if (scale_factor < 0) std::swap(lo, hi);
  d.min = lo;
  d.max = hi;
  d.sum = raw.sum * scale_factor + add_offset * static_cast<double>(raw.count);
  d.mean = raw.mean * scale_factor + add_offset;
  d.m2 = raw.m2 * scale_factor * scale_factor;
  return d;
}

std::string Int128ToString(__int128 value) {
  if (value == 0) return "0";
  const bool negative = value < 0;
  // Magnitude as unsigned, which also holds -(2^127).
  unsigned __int128 m = negative ? -static_cast<unsigned __int128>(value)
                                 : static_cast<unsigned __int128>(value);
  std::string digits;
  while (m != 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(m % 10)));
    m /= 10;
  }
  if (negative) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

}  // namespace lsio::compute

namespace lsio::compute {

namespace {
constexpr uint32_t kStatsMagic = 0x53544131;  // "STA1"
}  // namespace

std::string StatsAccumulator::Serialize() const {
  internal::WireWriter w;
  w.Put(kStatsMagic);
  w.Put(static_cast<uint8_t>(dtype_));
  w.PutMissing(missing_);
  w.Put(count_);
  w.Put(nan_count_);
  w.Put(m2_);
  w.Put(min_);
  w.Put(max_);
  w.Put(sum_);
  w.Put(sum_compensation_);
  w.Put(sum_nonfinite_);
  w.Put(int_min_);
  w.Put(int_max_);
  w.Put(int_sum_);
  return w.Take();
}

Result<StatsAccumulator> StatsAccumulator::Deserialize(std::string_view bytes) {
  internal::WireReader r(bytes, "serialized statistics");
  uint32_t magic = 0;
  LSIO_RETURN_IF_ERROR(r.Get(&magic));
  if (magic != kStatsMagic) return CorruptDataError("not serialized statistics");
  uint8_t dtype = 0;
  LSIO_RETURN_IF_ERROR(r.Get(&dtype));
  if (dtype > static_cast<uint8_t>(DataType::kComplex128)) {
    return CorruptDataError("serialized statistics: bad dtype");
  }
  StatsOptions options;
  LSIO_RETURN_IF_ERROR(r.GetMissing(&options.missing));
  LSIO_ASSIGN_OR_RETURN(StatsAccumulator acc, Make(static_cast<DataType>(dtype), options));
  LSIO_RETURN_IF_ERROR(r.Get(&acc.count_));
  LSIO_RETURN_IF_ERROR(r.Get(&acc.nan_count_));
  LSIO_RETURN_IF_ERROR(r.Get(&acc.m2_));
  LSIO_RETURN_IF_ERROR(r.Get(&acc.min_));
  LSIO_RETURN_IF_ERROR(r.Get(&acc.max_));
  LSIO_RETURN_IF_ERROR(r.Get(&acc.sum_));
  LSIO_RETURN_IF_ERROR(r.Get(&acc.sum_compensation_));
  LSIO_RETURN_IF_ERROR(r.Get(&acc.sum_nonfinite_));
  LSIO_RETURN_IF_ERROR(r.Get(&acc.int_min_));
  LSIO_RETURN_IF_ERROR(r.Get(&acc.int_max_));
  LSIO_RETURN_IF_ERROR(r.Get(&acc.int_sum_));
  LSIO_RETURN_IF_ERROR(r.ExpectEnd());
  return acc;
}

}  // namespace lsio::compute
