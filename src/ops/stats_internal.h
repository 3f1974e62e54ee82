#pragma once

// The two halves of ComputeStats, shared with the partial results of lsio.dask: running the
// passes over the data (leaving unfinished accumulators), and finishing one variable.

#include <optional>
#include <utility>
#include <vector>

#include "lsio/compute/axis_reduction.h"
#include "lsio/compute/stats.h"
#include "lsio/ops/stats.h"

namespace lsio::ops::internal {

struct PartialVariable {
  // Everything but the statistics: name, dims, shape, coordinates, attributes, elements,
  // skipped chunks, histogram (counts and edges, of decoded values).
  VariableStats header;
  // CF packing applied when finishing.
  bool scaled = false;
  double scale = 1;
  double offset = 0;
  // Exactly one is set: whole-selection moments, the per-cell grid, or the per-cell statistics
  // finished already (computed in passes over tiles, one tile's grid at a time).
  std::optional<compute::StatsAccumulator> global;
  std::optional<compute::ReductionGrid> grid;
  std::optional<std::vector<std::pair<Statistic, CellMap>>> maps;
  // The CF-decoded type of the values (float32 keeps per-cell values float32: CellMap).
  DataType decoded = DataType::kFloat64;
  // Resample: bins no time step falls into are NaN for every statistic, count and sum
  // included, and a count of 0 is NaN, as xarray gives them (a bin of all-NaN values has sum
  // 0 but count NaN).
  // `empty_groups[g]` for each group of the kept axis at position `group_dim` of the grid.
  std::vector<bool> empty_groups;
  size_t group_dim = 0;
};

// Runs every pass; fills the run-level fields of `report` (not `variables`). Per-cell
// statistics whose grid does not fit the budget run in passes over tiles and come back
// finished (PartialVariable::maps) when `tiled_grids`; otherwise, as for partial results that
// must be merged, such a grid is kResourceExhausted.
Result<std::vector<PartialVariable>> RunStats(const StatsRequest& request, StatsReport* report,
                                              bool tiled_grids = true);

// The finished per-cell statistics of `grid` (C order over its shape): CF scale and offset
// applied; with resample, the cells of `empty_groups` (groups along grid dimension
// `group_dim`) and counts of 0 are NaN.
Result<std::vector<std::pair<Statistic, std::vector<double>>>> FinishGridMaps(
    const compute::ReductionGrid& grid, const StatsSelection& statistics, double scale,
    double offset, const std::vector<bool>& empty_groups, size_t group_dim);

// `values` of statistic `s` as a CellMap for values decoded as `decoded` (consumes them).
CellMap MakeCellMap(Statistic s, DataType decoded, std::vector<double> values);

// The finished statistics of one variable (consumes `partial`).
Result<VariableStats> FinishVariable(PartialVariable& partial, const StatsSelection& statistics);

}  // namespace lsio::ops::internal
