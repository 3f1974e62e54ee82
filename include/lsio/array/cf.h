#pragma once

// CF decoding rules, as xarray applies them by default (open_zarr / open_dataset with
// mask_and_scale=True, decode_times=True): pure functions from a variable's attributes and
// element type (ArrayInfo, whatever the format) to what must be done to its stored values.
//
//   mask     values equal to _FillValue or missing_value become NaN (xarray's CFMaskCoder).
//            ArrayInfo::mask_value, when the format has one, plays _FillValue (Zarr v2's
//            fill_value: xarray's use_zarr_fill_value_as_mask=True, so an int array with fill 0
//            has its zeros masked); otherwise the `_FillValue` attribute does (base64 of a
//            float64 for Zarr v3 float arrays, as xarray writes it).
//   scale    decoded = stored * scale_factor + add_offset, computed in the dtype xarray picks
//            (_choose_float_dtype: float64 for JSON-float scale/offset, ...).
//   unsigned _Unsigned = "true" on a signed integer type reads it as unsigned.
//   times    units "<unit> since <date>" with calendar standard / gregorian /
//            proleptic_gregorian decode to datetime64[ns]; units "<unit>" alone to
//            timedelta64[ns]. Other calendars, months/years units, and reference dates before
//            1582-10-15 in the standard calendar (which xarray hands to cftime) are kNotSupported.
//
// Known deviation: xarray decodes a masked bool variable to an object array; here it becomes
// float64 (0, 1, NaN).
//
// Thread safety: pure functions.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/base/dtype.h"
#include "lsio/base/result.h"
#include "lsio/array/info.h"
#include "lsio/array/selection.h"

namespace lsio::array {

enum class CfTimeKind : unsigned char { kNone, kDatetime, kTimedelta };

struct CfMaskAndScale {
  DataType stored = DataType::kFloat64;   // element type of the stored values (native order)
  DataType encoded = DataType::kFloat64;  // after _Unsigned reinterpretation
  // Encoded values that become missing (NaN, or NaT for time-like integers). Compared after
  // converting both sides to `decoded`, as xarray does.
  std::vector<double> fill_values;
  std::optional<double> scale_factor;
  std::optional<double> add_offset;
  // The dtype xarray returns (before time decoding): float32/float64, or `encoded` when
  // nothing applies. kInt64 for time-like integer variables with a fill value (masked to NaT).
  DataType decoded = DataType::kFloat64;
  // Time-like integer data with a fill value: missing values become INT64_MIN (NaT) and the
  // values stay int64.
  bool mask_to_nat = false;
  // attrs dtype == "bool" without mask or scale: decoded to bool.
  bool to_bool = false;
  CfTimeKind time_kind = CfTimeKind::kNone;

  // True when decoding changes anything (mask, scale, offset, _Unsigned, bool).
  bool active() const;
};

// The rules for one array. Errors: kInvalidArgument for attributes of the wrong type (a
// string scale_factor), naming the array's metadata file; kNotSupported for stored types that
// CF decoding does not apply to (strings) when attributes ask for it.
Result<CfMaskAndScale> ResolveCfMaskAndScale(const ArrayInfo& array);

// Applies `cf` to `stored` (elements of cf.stored, native byte order) writing elements of
// cf.decoded to `decoded`. Sizes must match the element count. The arithmetic is xarray's:
// cast to the decoded dtype, mask, multiply by scale_factor, add add_offset, each in that
// dtype.
Status ApplyCfMaskAndScale(const CfMaskAndScale& cf, std::span<const std::byte> stored,
                           std::span<std::byte> decoded);

// "days since 2000-01-01", "hours since 1970-01-01 00:00:00 UTC", ...
struct CfTimeUnits {
  int64_t ns_per_unit = 0;
  int64_t reference_ns = 0;  // datetime64[ns] of the reference date (0 for timedeltas)
  std::string unit;          // "days", "hours", ...
  std::string calendar;      // lower case
};

// Whether `attrs` make the variable time-like for xarray: "units" with " since " and a
// parseable date -> kDatetime, a bare time unit -> kTimedelta.
CfTimeKind ClassifyCfTime(const nlohmann::json& attrs);

// Parses "<unit> since <date>" (datetime) with `calendar` ("" = standard). Errors:
// kInvalidArgument for malformed units, kNotSupported for calendars, units or dates xarray
// would hand to cftime.
Result<CfTimeUnits> ParseCfTimeUnits(std::string_view units, std::string_view calendar = {});
// Parses a bare "<unit>" (timedelta).
Result<CfTimeUnits> ParseCfTimedeltaUnits(std::string_view units);

// Stored numbers -> datetime64[ns] (or timedelta64[ns] when units.reference_ns is unused:
// pass ParseCfTimedeltaUnits' result), exactly as xarray computes them: integers are scaled
// exactly (INT64_MIN is NaT), floats are multiplied in float64 and truncated (NaN is NaT).
// Errors: kOutOfRange for values outside datetime64[ns].
Result<std::vector<int64_t>> DecodeCfTimes(std::span<const double> values,
                                           const CfTimeUnits& units);
Result<std::vector<int64_t>> DecodeCfTimes(std::span<const int64_t> values,
                                           const CfTimeUnits& units);

// A coordinate variable as selection.h wants it, from the array's metadata and its stored
// values (`stored`: all elements of the 1-D array, native byte order, the array's storage
// dtype): CF mask/scale applied, CF times and native datetime64 arrays decoded to
// datetime64[ns]. Errors: kInvalidArgument for arrays that are not 1-D numeric, and those of
// the functions above.
Result<Coordinate> DecodeCoordinate(const ArrayInfo& array, std::span<const std::byte> stored);

}  // namespace lsio::array
