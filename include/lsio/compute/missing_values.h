#pragma once

// MissingValues: raw element values that mean "no data" (CF `_FillValue` and `missing_value`).
//
// The Zarr layer asks for statistics of CF-decoded data. Decoding turns these raw values into
// NaN, so every accumulator in this layer can treat elements equal to them exactly like NaN:
// skipped, and counted in nan_count.
//
// A value is matched the way xarray's CF decoding matches it: converted to the chunk's element
// type first (floats round to the nearest float32/float16; a float given for an integer type
// must be integral and in range), then compared for equality with each raw element. A value
// that does not fit the element type (300 for uint8, 0.5 for int16) matches nothing; a NaN
// value adds nothing (NaN is skipped anyway).

#include <cstdint>
#include <optional>

#include "lsio/base/dtype.h"

namespace lsio::compute {

// One raw value, held exactly as the attribute gave it (an int64 attribute, a uint64 one, or
// a float).
struct MissingValue {
  enum class Kind : unsigned char { kSigned, kUnsigned, kFloat };
  Kind kind = Kind::kFloat;
  int64_t signed_value = 0;
  uint64_t unsigned_value = 0;
  double float_value = 0;

  static MissingValue Signed(int64_t v) { return {Kind::kSigned, v, 0, 0}; }
  static MissingValue Unsigned(uint64_t v) { return {Kind::kUnsigned, 0, v, 0}; }
  static MissingValue Float(double v) { return {Kind::kFloat, 0, 0, v}; }
};

struct MissingValues {
  std::optional<MissingValue> fill_value;     // CF _FillValue
  std::optional<MissingValue> missing_value;  // CF missing_value

  bool empty() const { return !fill_value && !missing_value; }
};

namespace internal {

// MissingValues resolved for one element type: the values that can occur, as the element's
// bits zero-extended to 64 (integer types compare these) and as a double (float types compare
// numerically, so -0.0 matches 0.0).
struct ResolvedMissing {
  int count = 0;
  uint64_t bits[2] = {0, 0};
  double value[2] = {0, 0};
};

// Resolves `missing` for elements of `dtype` (see the file comment for which values match).
ResolvedMissing ResolveMissing(const MissingValues& missing, DataType dtype);

// Whether two MissingValues are the same (floats compared bitwise, so NaN equals NaN).
bool SameMissingValues(const MissingValues& a, const MissingValues& b);

}  // namespace internal

}  // namespace lsio::compute
