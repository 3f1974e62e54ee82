#include "numeric.h"

#include <algorithm>

namespace lsio::codec::internal {

// Rounds a double straight to binary16 (round to nearest even), as numpy's
// npy_double_to_half does. Going through float first would round twice.
uint16_t DoubleToHalf(double value) {
  const uint64_t bits = std::bit_cast<uint64_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 48) & 0x8000u);
  const uint64_t abs = bits & 0x7fffffffffffffffULL;
  if (abs >= 0x7ff0000000000000ULL) {  // inf or NaN
    if (abs == 0x7ff0000000000000ULL) return static_cast<uint16_t>(sign | 0x7c00u);
    uint16_t payload = static_cast<uint16_t>((abs >> 42) & 0x3ffu);
    if (payload == 0) payload = 0x200u;
    return static_cast<uint16_t>(sign | 0x7c00u | payload);
  }
  const int exp = static_cast<int>(abs >> 52);  // biased by 1023
  const uint64_t mant = (abs & 0xfffffffffffffULL) | (uint64_t{1} << 52);
  if (exp >= 1023 + 16) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65536: inf
  if (exp < 1023 - 14) {
    // Subnormal half (units of 2^-24) or zero. Below 2^-25 everything rounds to zero.
    if (exp < 1023 - 25) return sign;
    const int shift = 1051 - exp;  // 43..53
    uint64_t half = mant >> shift;
    const uint64_t rem = mant & ((uint64_t{1} << shift) - 1);
    const uint64_t halfway = uint64_t{1} << (shift - 1);
    if (rem > halfway || (rem == halfway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  // Normal: exponent and the top 10 mantissa bits, then round; a carry runs into the exponent
  // (and into infinity at the top), which is the right result.
  uint64_t half = (static_cast<uint64_t>(exp - 1023 + 15) << 10) | ((mant >> 42) & 0x3ffu);
  const uint64_t rem = mant & ((uint64_t{1} << 42) - 1);
  const uint64_t halfway = uint64_t{1} << 41;
  if (rem > halfway || (rem == halfway && (half & 1u))) ++half;
  return static_cast<uint16_t>(sign | half);
}

namespace {

DataType FloatOfWidth(size_t width) {
  return width <= 2 ? DataType::kFloat16 : width == 4 ? DataType::kFloat32 : DataType::kFloat64;
}
DataType SignedOfWidth(size_t width) {
  switch (width) {
    case 1:
      return DataType::kInt8;
    case 2:
      return DataType::kInt16;
    case 4:
      return DataType::kInt32;
    default:
      return DataType::kInt64;
  }
}

}  // namespace

DataType PromoteTypes(DataType a, DataType b) {
  if (a == b || b == DataType::kBool) return a;
  if (a == DataType::kBool) return b;
  const size_t wa = ByteWidth(a), wb = ByteWidth(b);
  if (IsFloat(a) && IsFloat(b)) return wa >= wb ? a : b;
  if (IsFloat(a) || IsFloat(b)) {
    const DataType f = IsFloat(a) ? a : b;
    const size_t int_width = IsFloat(a) ? wb : wa;
    // The smallest float that holds every value of the integer type (numpy's rule).
    const size_t need = int_width == 1 ? 2 : int_width == 2 ? 4 : 8;
    return FloatOfWidth(std::max(ByteWidth(f), need));
  }
  if (IsSignedInteger(a) == IsSignedInteger(b)) return wa >= wb ? a : b;
  const DataType s = IsSignedInteger(a) ? a : b;
  const size_t ws = ByteWidth(s), wu = IsSignedInteger(a) ? wb : wa;
  if (ws > wu) return s;
  if (wu < 8) return SignedOfWidth(2 * wu);
  return DataType::kFloat64;
}

}  // namespace lsio::codec::internal
