#pragma once

// Grid coordinates: the latitudes and longitudes ecCodes' geoiterator gives a field's grid,
// in the shape cfgrib exposes them.
//
//   regular_ll (3.0), regular_gg (3.40): one latitude per row and one longitude per column,
//     ecCodes' `distinctLatitudes` / `distinctLongitudes` (cfgrib's 1-D latitude/longitude
//     dimension coordinates). Longitudes follow ecCodes' Latlon/Regular iterator: the step is
//     (Lo2 - Lo1) / (Ni - 1) accumulated from Lo1 (first shifted by -360 when Lo1 > Lo2 would
//     run past 360), the last one set to Lo2; latitudes step by the coded Dj (or the span when
//     Dj is missing) and Gaussian latitudes are the roots of the Legendre polynomial computed
//     as ecCodes computes them.
//   lambert (3.30): a latitude and longitude per point (cfgrib's 2-D coordinates on y, x).
//   reduced_gg (3.40 with a list of points per row, global grids): a latitude and longitude
//     per point (cfgrib's coordinates on its `values` dimension).
//
// Other grid templates are NotSupported.
//
// Thread safety: pure functions.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lsio/base/result.h"
#include "lsio/format/grib/message.h"

namespace lsio::grib {

// Where cfgrib puts a grid's points: (latitude, longitude) dimensions for regular grids,
// (y, x) for projected ones, one `values` dimension otherwise.
enum class GridLayout { kRegular, kProjected, kUnstructured };

struct GridCoordinates {
  std::string grid_type;  // ecCodes' gridType
  GridLayout layout = GridLayout::kUnstructured;
  int64_t nx = 0;  // points along a row (kRegular, kProjected)
  int64_t ny = 0;  // rows (kRegular, kProjected)
  // kRegular: ny distinct latitudes and nx distinct longitudes.
  // kProjected, kUnstructured: one of each per point, in the message's storage order.
  std::vector<double> latitudes;
  std::vector<double> longitudes;
};

// The grid's coordinates. `message_bytes` holds the message (the reduced grids' list of points
// per row is read from it).
// Errors: NotSupported (a grid template, earth shape or sub-area lsio does not compute),
// CorruptData (a grid inconsistent with itself: Ni * Nj != number of points, first and last
// latitudes against the scanning direction, a Gaussian first latitude that is not one).
Result<GridCoordinates> ComputeGridCoordinates(std::span<const std::byte> message_bytes,
                                               const Field& field);

// ecCodes' Gaussian latitudes for N parallels between a pole and the equator: 2N values from
// north to south (grib_get_gaussian_latitudes).
// Errors: InvalidArgument (N <= 0 or N > 8192), CorruptData (the Newton iteration did not
// converge).
Result<std::vector<double>> GaussianLatitudes(int64_t n);

// The first/last grid point and increments in degrees, as ecCodes' g2latlon / scale accessors
// compute them (value / subdivisions * basic angle; 1e6 micro-degrees by default).
// `missing` for an increment that is missing or flagged as not given.
struct GridDegrees {
  double lat1 = 0, lon1 = 0, lat2 = 0, lon2 = 0;
  double di = 0, dj = 0;
  bool di_missing = false, dj_missing = false;
};
GridDegrees ComputeGridDegrees(const GridDefinition& grid);

}  // namespace lsio::grib
