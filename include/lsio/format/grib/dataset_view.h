#pragma once

// The dataset view cfgrib gives a set of GRIB fields (cfgrib.open_datasets), as a pure
// function over the fields' keys: which variables there are, their dimensions and
// coordinates, and which field (file, message, field) holds each cell of each variable.
//
// cfgrib's rules, reproduced here:
//   - one variable per paramId; a variable whose fields differ in dataType, numberOfPoints,
//     typeOfLevel, stepType, gridType, uvRelativeToGrid, edition, centre or subCentre is split
//     into one variable per value (the first such key in that order, recursively);
//   - a variable is named by cfVarName, else shortName ("unknown" when neither is known);
//   - header dimensions number, time, step, <typeOfLevel> (its level values), then the grid's
//     (latitude, longitude) for regular grids, (y, x) for projected ones, (values) otherwise;
//     coordinate values sorted ascending (isobaric levels descending); a cell no field fills is
//     absent (NaN when read); when two fields claim a cell, cfgrib's last-combination-wins
//     rule picks one;
//   - variables of the same typeOfLevel are merged into one dataset when their shared
//     coordinates are identical (xarray's join="exact"), their dataset attributes (edition,
//     centre, subCentre) equal and their names differ; datasets are ordered by typeOfLevel;
//   - dimensions of size 1 become scalar coordinates; valid_time = time + step.
// Two departures, both where cfgrib compares data this view does not read: two variables of
// the same name never merge (xarray would if their values agreed), and grids are compared by
// their grid definition section (xarray compares the coordinate values).
//
// Thread safety: pure functions.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lsio/base/result.h"
#include "lsio/format/grib/field_keys.h"
#include "lsio/format/grib/grid.h"
#include "lsio/format/grib/message.h"

namespace lsio::grib {

// Where a field is: the caller's file number, the message number in that file, the field
// number in that message.
struct FieldLocation {
  uint32_t file = 0;
  uint32_t message = 0;
  uint32_t field = 0;
  bool operator==(const FieldLocation&) const = default;
};

// What the view needs to know about one field (cfgrib's index keys).
struct FieldRecord {
  FieldLocation location;
  FieldKeys keys;
  int edition = 2;
  int64_t sub_centre = 0;
  std::string data_type;        // ecCodes' dataType: MARS type, else typeOfProcessedData's
  int uv_relative_to_grid = -1;  // -1 when the grid has no resolution flags
  uint64_t number_of_points = 0;
  // The grid: its layout and sizes as cfgrib's geography takes them, and a digest of its grid
  // definition section (ecCodes' md5GridSection plays this part in cfgrib's index).
  GridLayout layout = GridLayout::kUnstructured;
  int64_t nx = 0, ny = 0;
  uint64_t grid_digest = 0;
};

// Describes field `field_index` of a parsed message. `message_bytes` holds the message.
Result<FieldRecord> DescribeField(std::span<const std::byte> message_bytes, const Message& message,
                                  size_t field_index, FieldLocation location);

enum class CoordinateKind {
  kTime,        // seconds since 1970-01-01T00:00:00 (int64): time, valid_time
  kStep,        // seconds (int64): step (cfgrib's timedelta)
  kValue,       // double: number, levels
  kGeography,   // latitude / longitude: ComputeGridCoordinates of the hypercube's
                // geography_field gives the values
};

struct Coordinate {
  std::string name;
  std::vector<std::string> dims;  // empty: a scalar coordinate
  CoordinateKind kind = CoordinateKind::kValue;
  std::vector<int64_t> ints;      // kTime, kStep (C order over dims)
  std::vector<double> values;     // kValue
};

struct Variable {
  std::string name;  // cfgrib's variable name
  std::string path;  // "<typeOfLevel>/<stepType>/<name>", unique in the view
  ParameterNames parameter;
  std::string type_of_level;
  std::string step_type;
  std::string grid_type;
  std::string data_type;
  std::vector<std::string> dims;
  std::vector<int64_t> shape;
  // The leading `header_rank` dims index fields; the others are the grid's.
  size_t header_rank = 0;
  // For each header cell (C order over shape[0:header_rank]), the field in
  // DatasetView::fields that fills it, or -1 (absent: NaN).
  std::vector<int64_t> cells;
};

// One dataset of cfgrib.open_datasets.
struct Hypercube {
  std::vector<Variable> variables;
  std::vector<Coordinate> coordinates;
  std::vector<std::string> dim_names;  // every dimension of the dataset, in order
  std::vector<int64_t> dim_sizes;
  GridLayout layout = GridLayout::kUnstructured;
  // The field whose grid gives the latitude/longitude coordinates (an index into
  // DatasetView::fields).
  size_t geography_field = 0;
  // The dataset attributes cfgrib sets.
  int edition = 2;
  std::string centre;
  int64_t sub_centre = 0;
};

struct DatasetView {
  std::vector<FieldLocation> fields;  // as given, in the same order
  std::vector<Hypercube> hypercubes;
};

// cfgrib's view of `fields` (in file order; several files in the caller's order).
DatasetView BuildDatasetView(std::span<const FieldRecord> fields);

}  // namespace lsio::grib
