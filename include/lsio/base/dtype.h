#pragma once

// The element types lsio computes with, named as numpy names them.
//
// Storage formats have richer types (datetime64 with units, fixed-length strings); the format
// layer maps those onto a DataType for the bytes (datetime64[s] is stored as kInt64) and keeps
// the rest as annotations.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lsio {

enum class DataType : unsigned char {
  kBool,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUInt64,
  kFloat16,
  kFloat32,
  kFloat64,
  kComplex64,
  kComplex128,
};

inline constexpr DataType kAllDataTypes[] = {
    DataType::kBool,    DataType::kInt8,      DataType::kInt16,      DataType::kInt32,
    DataType::kInt64,   DataType::kUInt8,     DataType::kUInt16,     DataType::kUInt32,
    DataType::kUInt64,  DataType::kFloat16,   DataType::kFloat32,    DataType::kFloat64,
    DataType::kComplex64, DataType::kComplex128};

// Bytes per element.
size_t ByteWidth(DataType t);
// numpy's name: "bool", "int8", ..., "float16", "complex128".
std::string_view DataTypeName(DataType t);
// Inverse of DataTypeName; nullopt for anything else.
std::optional<DataType> ParseDataTypeName(std::string_view name);

bool IsSignedInteger(DataType t);
bool IsUnsignedInteger(DataType t);
inline bool IsInteger(DataType t) { return IsSignedInteger(t) || IsUnsignedInteger(t); }
bool IsFloat(DataType t);    // float16/32/64
bool IsComplex(DataType t);  // complex64/128
// Types summary statistics are defined for: bool, integers and floats.
inline bool IsRealNumeric(DataType t) { return !IsComplex(t); }

enum class Endian : unsigned char { kLittle, kBig };
inline constexpr Endian kNativeEndian = Endian::kLittle;
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "lsio assumes a little-endian host");

// IEEE binary16 stored as its bits; conversions are exact (half -> float) and round to nearest
// even (float -> half), like numpy.
struct Float16 {
  uint16_t bits;
};
float HalfToFloat(uint16_t bits);
uint16_t FloatToHalf(float value);

}  // namespace lsio
