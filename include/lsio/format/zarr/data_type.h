#pragma once

// Zarr data types (v2 typestrings, v3 names) resolved into one description, and fill values
// resolved into the bytes of one element.
//
// Numeric types and bool map onto lsio::DataType. datetime64 / timedelta64 (with their numpy
// unit and multiplier) are stored as int64. Strings, raw bytes, structured and optional types
// open for `lsio info` but cannot be read as numbers: StatisticsSupport() says why.
//
// Thread safety: plain values.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/base/dtype.h"
#include "lsio/base/result.h"

namespace lsio::zarr {

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

struct ZarrDataType {
  DataTypeKind kind = DataTypeKind::kNumeric;
  // The element type the bytes hold once decoded: the numeric type, kInt64 for datetime64 and
  // timedelta64, kUInt8 (meaningless) for the rest.
  DataType storage = DataType::kUInt8;
  // Byte order of the stored elements as the v2 typestring declares it ('>' big, '<' or '|'
  // little). Zarr v3 declares byte order in the `bytes` codec instead; this is then kLittle.
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

// Zarr v2 `dtype`: a typestring ("<f4", ">i2", "|b1", "<M8[ns]", "<m8[10s]", "<U10", "|S5",
// "|V4", "|O") or a structured list ([["a", "<i4"], ["b", "<f8", [2]]]). `object_codec_id`
// is the id of the first filter for "|O" ("vlen-utf8", "vlen-bytes", ...), empty if none.
// Errors: kInvalidArgument for malformed typestrings, kNotSupported for valid numpy types
// lsio does not know.
Result<ZarrDataType> ParseZarrV2DataType(const nlohmann::json& dtype,
                                         std::string_view object_codec_id = {});

// Zarr v3 `data_type`: a name ("float32", "bool", "string", "r16", ...) or an object
// ({"name": "numpy.datetime64", "configuration": {"unit": "ns", "scale_factor": 1}},
// fixed_length_utf32, null_terminated_bytes, raw_bytes, structured, optional). Unknown names
// are kNotSupported "data type X is not supported".
Result<ZarrDataType> ParseZarrV3DataType(const nlohmann::json& data_type);

// A fill value resolved for one element.
struct FillValue {
  // The element in memory (native byte order, the decoded representation: UTF-32 code units
  // for fixed strings, raw bytes for byte types); empty for variable-length and optional
  // types.
  std::vector<std::byte> bytes;
  // Zarr v2 `null`: no fill value declared. `bytes` then holds zeros, which is what
  // zarr-python returns for missing chunks.
  bool is_null = false;
  // The value as the metadata wrote it.
  nlohmann::json json;
};

enum class ZarrFormat : unsigned char { kV2 = 2, kV3 = 3 };

// Resolves a fill value in every form the specs allow: numbers, "NaN", "Infinity",
// "-Infinity", null (v2), hex bit patterns "0x7fc00000" (v3 floats), [re, im] for complex,
// base64 (v2 fixed bytes / structured, zarr-python's v3 raw and structured types), bools,
// "NaT" or integers for datetime64. Errors (kInvalidArgument, naming `file`): wrong type,
// out of range for the type, malformed base64 or hex; kNotSupported for elements larger than
// kMaxElementBytes (the fill value is held as one element's bytes).
inline constexpr size_t kMaxElementBytes = size_t{1} << 24;
Result<FillValue> ResolveFillValue(const nlohmann::json& fill, const ZarrDataType& dtype,
                                   ZarrFormat format, std::string_view file);

// For display: "NaN", "0", "-9223372036854775808 (NaT)", "\"abc\"", "null".
std::string DescribeFillValue(const FillValue& fill, const ZarrDataType& dtype);

}  // namespace lsio::zarr
