#pragma once

// The two halves of ComputeStats, shared with the partial results of lsio.dask: running the
// passes over the data (leaving unfinished accumulators), and finishing one variable.

#include <optional>
#include <vector>

#include "lsio/compute/axis_reduction.h"
#include "lsio/compute/stats.h"
#include "lsio/ops/stats.h"

namespace lsio::ops::internal {

struct PartialVariable {
  // Everything but the statistics: name, dims, shape, coordinates, attributes, elements,
  // skipped chunks, histogram (counts and raw edges).
  VariableStats header;
  // CF packing applied when finishing.
  bool scaled = false;
  double scale = 1;
  double offset = 0;
  // Exactly one is set: whole-selection moments, or the per-cell grid.
  std::optional<compute::StatsAccumulator> global;
  std::optional<compute::ReductionGrid> grid;
  // Resample: bins no time step falls into are NaN for every statistic, count and sum
  // included, and a count of 0 is NaN, as xarray gives them (a bin of all-NaN values has sum
  // 0 but count NaN).
  // `empty_groups[g]` for each group of the kept axis at position `group_dim` of the grid.
  std::vector<bool> empty_groups;
  size_t group_dim = 0;
};

// Runs every pass; fills the run-level fields of `report` (not `variables`).
Result<std::vector<PartialVariable>> RunStats(const StatsRequest& request, StatsReport* report);

// The finished statistics of one variable (consumes `partial`).
Result<VariableStats> FinishVariable(PartialVariable& partial, const StatsSelection& statistics);

}  // namespace lsio::ops::internal
