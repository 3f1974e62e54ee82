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
#include "lsio/array/element_type.h"
#include "lsio/base/result.h"

namespace lsio::zarr {

// The format-neutral element description (array/element_type.h) is what Zarr's data types
// resolve into.
using DataTypeKind = array::DataTypeKind;
using ZarrDataType = array::ElementType;

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
