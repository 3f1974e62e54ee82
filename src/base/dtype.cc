#include "lsio/base/dtype.h"

#include <bit>
#include <cstring>

namespace lsio {

namespace {

struct TypeInfo {
  DataType type;
  std::string_view name;
  size_t width;
};

constexpr TypeInfo kTypeInfo[] = {
    {DataType::kBool, "bool", 1},           {DataType::kInt8, "int8", 1},
    {DataType::kInt16, "int16", 2},         {DataType::kInt32, "int32", 4},
    {DataType::kInt64, "int64", 8},         {DataType::kUInt8, "uint8", 1},
    {DataType::kUInt16, "uint16", 2},       {DataType::kUInt32, "uint32", 4},
    {DataType::kUInt64, "uint64", 8},       {DataType::kFloat16, "float16", 2},
    {DataType::kFloat32, "float32", 4},     {DataType::kFloat64, "float64", 8},
    {DataType::kComplex64, "complex64", 8}, {DataType::kComplex128, "complex128", 16},
};

const TypeInfo& Info(DataType t) { return kTypeInfo[static_cast<size_t>(t)]; }

}  // namespace

size_t ByteWidth(DataType t) { return Info(t).width; }
std::string_view DataTypeName(DataType t) { return Info(t).name; }

std::optional<DataType> ParseDataTypeName(std::string_view name) {
  for (const TypeInfo& info : kTypeInfo) {
    if (info.name == name) return info.type;
  }
  return std::nullopt;
}

bool IsSignedInteger(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt16 || t == DataType::kInt32 ||
         t == DataType::kInt64;
}
bool IsUnsignedInteger(DataType t) {
  return t == DataType::kUInt8 || t == DataType::kUInt16 || t == DataType::kUInt32 ||
         t == DataType::kUInt64;
}
bool IsFloat(DataType t) {
  return t == DataType::kFloat16 || t == DataType::kFloat32 || t == DataType::kFloat64;
}
bool IsComplex(DataType t) { return t == DataType::kComplex64 || t == DataType::kComplex128; }

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;  // inf or NaN (payload kept)
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

uint16_t FloatToHalf(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (abs < 0x38800000u) {  // subnormal or zero in half
    // Shift the implicit-1 mantissa into place with round to nearest even.
    const uint32_t exp = abs >> 23;
    if (exp < 102) return static_cast<uint16_t>(sign);  // rounds to zero
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exp;  // 14..24
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = ((abs >> 13) - ((127 - 15) << 10));
  const uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(sign | half);
}

}  // namespace lsio
