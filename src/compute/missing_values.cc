#include "lsio/compute/missing_values.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace lsio::compute::internal {

namespace {

// The exact integer a MissingValue denotes, if it denotes one.
bool AsInteger(const MissingValue& v, __int128* out) {
  switch (v.kind) {
    case MissingValue::Kind::kSigned:
      *out = v.signed_value;
      return true;
    case MissingValue::Kind::kUnsigned:
      *out = v.unsigned_value;
      return true;
    case MissingValue::Kind::kFloat: {
      const double f = v.float_value;
      // Integral and within +-2^64: anything larger fits no element type anyway.
      if (!std::isfinite(f) || f != std::floor(f) || std::fabs(f) >= 18446744073709551616.0) {
        return false;
      }
      *out = static_cast<__int128>(f);
      return true;
    }
  }
  return false;
}

double AsDouble(const MissingValue& v) {
  switch (v.kind) {
    case MissingValue::Kind::kSigned:
      return static_cast<double>(v.signed_value);
    case MissingValue::Kind::kUnsigned:
      return static_cast<double>(v.unsigned_value);
    case MissingValue::Kind::kFloat:
      return v.float_value;
  }
  return 0;
}

void IntegerRange(DataType t, __int128* lo, __int128* hi) {
  switch (t) {
    case DataType::kBool: *lo = 0; *hi = 1; return;
    case DataType::kInt8: *lo = INT8_MIN; *hi = INT8_MAX; return;
    case DataType::kInt16: *lo = INT16_MIN; *hi = INT16_MAX; return;
    case DataType::kInt32: *lo = INT32_MIN; *hi = INT32_MAX; return;
    case DataType::kInt64: *lo = INT64_MIN; *hi = INT64_MAX; return;
    case DataType::kUInt8: *lo = 0; *hi = UINT8_MAX; return;
    case DataType::kUInt16: *lo = 0; *hi = UINT16_MAX; return;
    case DataType::kUInt32: *lo = 0; *hi = UINT32_MAX; return;
    default: *lo = 0; *hi = UINT64_MAX; return;
  }
}

// Adds `v` to `r` if some element of type `t` equals it.
void Resolve(const MissingValue& v, DataType t, ResolvedMissing* r) {
  if (IsInteger(t) || t == DataType::kBool) {
    __int128 x, lo, hi;
    if (!AsInteger(v, &x)) return;
    IntegerRange(t, &lo, &hi);
    if (x < lo || x > hi) return;
    const size_t bits = 8 * ByteWidth(t);
    const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    r->bits[r->count] = static_cast<uint64_t>(x) & mask;
    r->value[r->count] = static_cast<double>(x);
    ++r->count;
    return;
  }
  const double x = AsDouble(v);
  double rounded = x;
  if (t == DataType::kFloat32) {
    rounded = static_cast<double>(static_cast<float>(x));
  } else if (t == DataType::kFloat16) {
    rounded = static_cast<double>(HalfToFloat(FloatToHalf(static_cast<float>(x))));
  }
  // NaN is skipped anyway; a finite value that overflows the type fits no element.
  if (std::isnan(rounded) || (std::isinf(rounded) && !std::isinf(x))) return;
  r->value[r->count] = rounded;
  r->bits[r->count] = 0;
  ++r->count;
}

}  // namespace

ResolvedMissing ResolveMissing(const MissingValues& missing, DataType dtype) {
  ResolvedMissing r;
  if (missing.fill_value) Resolve(*missing.fill_value, dtype, &r);
  if (missing.missing_value) Resolve(*missing.missing_value, dtype, &r);
  return r;
}

namespace {

bool SameValue(const MissingValue& a, const MissingValue& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case MissingValue::Kind::kSigned:
      return a.signed_value == b.signed_value;
    case MissingValue::Kind::kUnsigned:
      return a.unsigned_value == b.unsigned_value;
    case MissingValue::Kind::kFloat:
      // Bitwise, so that NaN equals NaN here.
      return std::memcmp(&a.float_value, &b.float_value, sizeof(double)) == 0;
  }
  return false;
}

bool SameOptional(const std::optional<MissingValue>& a, const std::optional<MissingValue>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || SameValue(*a, *b);
}

}  // namespace

bool SameMissingValues(const MissingValues& a, const MissingValues& b) {
  return SameOptional(a.fill_value, b.fill_value) && SameOptional(a.missing_value, b.missing_value);
}

}  // namespace lsio::compute::internal
