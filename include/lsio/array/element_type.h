#pragma once

// What one element of an array is, whatever the format: a number (lsio::DataType), a numpy
// datetime64 / timedelta64 with its unit (int64 storage), or one of the types that open for
// `lsio info` but cannot be read as numbers (strings, raw bytes, structured, optional), for
// which StatisticsSupport() and DecodeSupport() say why.
//
// Thread safety: plain values.

#include <cstddef>
#include <cstdint>
#include <string>

#include "lsio/base/dtype.h"
#include "lsio/base/result.h"

namespace lsio::array {

enum class DataTypeKind : unsigned char {
  kNumeric,          // bool, integers, floats, complex: `storage` says which
  kDatetime64,       // numpy datetime64[<scale><unit>], int64 storage, NaT = INT64_MIN
  kTimedelta64,      // numpy timedelta64[<scale><unit>], int64 storage
  kFixedUtf32,       // numpy "<U10" / v3 fixed_length_utf32
  kFixedBytes,       // numpy "|S5" / v3 null_terminated_bytes
  kRawBytes,         // numpy "|V4" / v3 raw_bytes and r<bits>
  kVariableString,   // v2 "|O" with vlen-utf8 / v3 "string"
  kVariableBytes,    // v2 "|O" with vlen-bytes / v3 "bytes", "variable_length_bytes"
  kObject,           // v2 "|O" with another object codec
  kStructured,       // numpy structured / v3 structured
  kOptional,         // zarrs' optional<T>
};

struct ElementType {
  DataTypeKind kind = DataTypeKind::kNumeric;
  // The element type the bytes hold once decoded: the numeric type, kInt64 for datetime64 and
  // timedelta64, kUInt8 (meaningless) for the rest.
  DataType storage = DataType::kUInt8;
  // Byte order of the stored elements where the format declares it per type (a Zarr v2
  // typestring: '>' big, '<' or '|' little); kLittle where a codec says it instead (Zarr v3).
  Endian endian = Endian::kLittle;
  // Bytes per element; 0 for variable-length types.
  size_t item_size = 0;
  // datetime64 / timedelta64 only: numpy unit ("Y", "M", "W", "D", "h", "m", "s", "ms",
  // "us", "ns", "ps", "fs", "as", or "generic") and multiplier (datetime64[10ms]: 10).
  std::string time_unit;
  int64_t time_scale = 1;
  // For display: "float32", "datetime64[ns]", "<U4", "string", "optional<uint8>", ...
  std::string name;

  bool is_numeric() const { return kind == DataTypeKind::kNumeric; }
  // Numeric or time: the chunks can be decoded with a codec chain into `storage` elements.
  bool is_fixed_size_number() const {
    return kind == DataTypeKind::kNumeric || kind == DataTypeKind::kDatetime64 ||
           kind == DataTypeKind::kTimedelta64;
  }
  // OK for bool, integers, floats, datetime64 and timedelta64; otherwise kNotSupported
  // "statistics not supported: dtype <name>".
  Status StatisticsSupport() const;
  // OK when chunks of this type can be decoded into `storage` elements (numeric and time
  // types); otherwise kNotSupported "reading dtype <name> is not supported".
  Status DecodeSupport() const;
};

// The numpy typestring of a numeric or time element in native (little-endian) order: "<f4",
// "|b1", "|u1", "<i8", "<M8[ns]", "<m8[10s]".
std::string NumpyTypeString(const ElementType& element);

}  // namespace lsio::array
