#pragma once

// Selections with xarray's two conventions, resolved into one index range per dimension.
//
//   isel  positional, like Python slicing: half-open, negative indices count from the end,
//         omitted bounds, optional step (negative too); an integer drops the dimension.
//   sel   by coordinate label, like xarray's .sel(dim=slice(a, b)) on a pandas index:
//         inclusive at both ends, searched on a sorted coordinate (ascending or descending,
//         slice(55, 45) on a descending lat selects 55..45; on an ascending one it is empty);
//         numeric, datetime and timedelta coordinates (durations as pandas reads them: "6h",
//         "1 day", "06:00:00"); partial dates ("2020", "2020-01") mean the whole
//         period as pandas' partial string indexing does; a scalar label is an exact match
//         and drops the dimension (a partial date coarser than the coordinate's own resolution
//         is a slice and keeps it).
//
// From strings as the CLI passes them ("time=0:100", "x=5", "time=2020-01-01:2020-12-31",
// "lat=55:45") or from structured values (DimSelector, for Python).
//
// The resolvers are pure functions: coordinate values are given to them (the data path reads
// them).
//
// Thread safety: pure functions.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "lsio/base/result.h"

namespace lsio::array {

// The values of a 1-D coordinate: numbers, CF-decoded datetime64[ns] (NaT = kNaT), or
// timedelta64[ns] durations (GRIB's step).
struct Coordinate {
  enum class Kind : unsigned char { kNumeric, kDatetime, kTimedelta };
  Kind kind = Kind::kNumeric;
  std::vector<double> numeric;
  // kDatetime: nanoseconds since 1970-01-01; kTimedelta: durations in nanoseconds.
  std::vector<int64_t> datetime_ns;
  // A float32 coordinate: labels are rounded to float32 before comparing (xarray casts labels
  // to a float coordinate's dtype).
  bool single_precision = false;

  size_t size() const { return kind == Kind::kNumeric ? numeric.size() : datetime_ns.size(); }
  static Coordinate Numeric(std::vector<double> values, bool single_precision = false);
  static Coordinate Datetime(std::vector<int64_t> ns);
  static Coordinate Timedelta(std::vector<int64_t> ns);
};

// An exact instant (numpy datetime64 from Python): never a partial period.
struct DatetimeLabel {
  int64_t ns = 0;
  bool operator==(const DatetimeLabel&) const = default;
};

// A label as given: text (parsed as a number or an ISO date according to the coordinate), a
// number, or an instant.
using Label = std::variant<std::string, double, DatetimeLabel>;

struct IndexSlice {
  std::optional<int64_t> start, stop, step;
  bool operator==(const IndexSlice&) const = default;
};

struct LabelSlice {
  std::optional<Label> start, stop;  // both inclusive
  bool operator==(const LabelSlice&) const = default;
};

struct DimSelector {
  std::string dim;
  // isel: an index or an IndexSlice; sel: a Label or a LabelSlice.
  std::variant<int64_t, IndexSlice, Label, LabelSlice> value;

  bool is_label() const { return value.index() >= 2; }
  bool operator==(const DimSelector&) const = default;
};

// "dim=5", "dim=-1", "dim=0:100", "dim=::2", "dim=10:", "dim=:" (isel).
// Errors: kInvalidArgument naming the argument.
Result<DimSelector> ParseIselArgument(std::string_view arg);
// "dim=label", "dim=a:b", "dim=a:", "dim=:b" (sel). Labels that contain ':' (times such as
// 2020-01-01T06:00) are split where both sides are valid labels.
Result<DimSelector> ParseSelArgument(std::string_view arg);
// Several arguments separated by ',' ("time=0:10,lat=5").
Result<std::vector<DimSelector>> ParseSelectorList(std::string_view text, bool label_based);

// The indices start, start + step, ..., count of them, along one dimension.
struct DimRange {
  int64_t start = 0;
  int64_t step = 1;  // never 0
  int64_t count = 0;
  bool drop = false;  // selected by a scalar: the dimension is dropped from the result

  int64_t index(int64_t i) const { return start + i * step; }
  bool operator==(const DimRange&) const = default;
};

// Every index of a dimension of `size`.
DimRange FullRange(int64_t size);

// isel on a dimension of `size`. Errors: kOutOfRange for an index outside [-size, size),
// kInvalidArgument for a step of 0 or a label selector.
Result<DimRange> ResolveIndexSelector(const DimSelector& selector, int64_t size);

// sel on `coordinate`. Errors: kNotFound for a scalar label that is not in the coordinate
// (and for slice bounds pandas cannot place: a missing label on an unsorted coordinate),
// kInvalidArgument for labels of the wrong kind or malformed dates, kNotSupported for
// selections xarray would answer with a non-contiguous array of positions.
Result<DimRange> ResolveLabelSelector(const DimSelector& selector, const Coordinate& coordinate);

// The coordinate of a dimension, read by the caller (the data path); kNotFound when the
// dimension has no coordinate variable.
using CoordinateLookup = std::function<Result<Coordinate>(std::string_view dim)>;

// One DimRange per dimension of an array with dimension names `dims` and `shape`: full ranges
// for dimensions without a selector. Errors: kNotFound for a selector naming a dimension the
// array does not have (isel/sel on another variable's dimension is the caller's business:
// filter first), kInvalidArgument for two selectors on one dimension, and the resolvers'
// errors with the dimension as context.
Result<std::vector<DimRange>> ResolveSelection(std::span<const std::string> dims,
                                               std::span<const int64_t> shape,
                                               std::span<const DimSelector> selectors,
                                               const CoordinateLookup& coordinates);

// For messages: "time=0:100", "lat=55:45".
std::string DescribeSelector(const DimSelector& selector);

}  // namespace lsio::array
