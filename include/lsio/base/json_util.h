#pragma once

// Exception-free helpers for reading metadata JSON (Zarr documents, attributes) with
// nlohmann::json.
//
// nlohmann::json throws on type mismatches (get<int>() of a string) and on out-of-range
// access (at()); every access here checks the type first so that nothing throws, and every
// error names the metadata file and the field.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/base/result.h"

namespace lsio::internal {

// Parses `text` as JSON, accepting the bare tokens NaN, Infinity and -Infinity outside strings
// as Python's json does (as doubles). Malformed JSON is kInvalidArgument "<file>: malformed
// JSON at byte N: <reason>".
Result<nlohmann::json> ParseJson(std::string_view text, std::string_view file);

// The text of `j` (one line when indent < 0) with NaN and infinities as the bare tokens NaN,
// Infinity and -Infinity, as Python's json writes and reads them and ParseJson reads them
// (nlohmann's dump() writes null); invalid UTF-8 in strings is replaced.
std::string DumpJson(const nlohmann::json& j, int indent);

// a == b, except that NaN equals NaN (metadata and attributes that hold NaN, as zarr-python and
// xarray write them, are the same document as themselves).
bool SameJson(const nlohmann::json& a, const nlohmann::json& b);

// Compact one-line rendering for messages, cut to `max_chars`.
std::string Abbreviate(const nlohmann::json& j, size_t max_chars = 80);

// A JSON integer as int64 (unsigned values above INT64_MAX and non-integers: nullopt). Floats
// with an integral value are accepted when `allow_integral_float` (zarr-python 2 wrote 0.0
// for integer fill values).
std::optional<int64_t> AsInt64(const nlohmann::json& j, bool allow_integral_float = false);

// "<file>: field 'x': <what>" as kInvalidArgument.
Status FieldError(std::string_view file, std::string_view field, std::string_view what);

// A list of positive (or, with allow_zero, non-negative) int64 values: a shape or chunk shape.
Result<std::vector<int64_t>> GetShape(const nlohmann::json& j, std::string_view file,
                                      std::string_view field, bool allow_zero);

// Standard base64 (RFC 4648, with padding); nullopt for malformed input.
std::optional<std::string> DecodeBase64(std::string_view text);

// a * b and a + b for non-negative int64 values; nullopt on overflow.
std::optional<int64_t> CheckedMul(int64_t a, int64_t b);
std::optional<int64_t> CheckedAdd(int64_t a, int64_t b);
// The product of `dims` (1 for none); nullopt on overflow.
std::optional<int64_t> CheckedProduct(const std::vector<int64_t>& dims);

// "[1, 2, 3]".
std::string FormatShape(const std::vector<int64_t>& dims);

}  // namespace lsio::internal
