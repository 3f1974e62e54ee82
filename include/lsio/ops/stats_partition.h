#pragma once

// How lsio.dask.stats splits a statistics request into shares for workers: along one dimension
// that every selected variable reduces, at storage chunk boundaries of every variable (no stored
// chunk is read by two shares) when their common multiple leaves as many shares, else at the
// largest variable's, as evenly as the chunks allow. Each share is the request with a positional
// selection of its piece of that dimension in place of any selector on it; the shares' partial
// statistics (stats_partial.h), merged in order, give the request's statistics.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lsio/base/result.h"
#include "lsio/ops/stats.h"

namespace lsio::ops {

struct StatsPartitionOptions {
  // Shares wanted (at most this many; fewer when the dimension has fewer storage chunks).
  int parts = 1;
  // The dimension to split; empty: the reduced dimension shared by every variable whose
  // selection spans the most storage chunks.
  std::string split_dim;
};

struct StatsPartitionPlan {
  // The variables, as ComputeStats chooses them (request.variables, or every data variable
  // with statistics), by path.
  std::vector<std::string> variables;
  std::string split_dim;
  // Positional [start, stop) pieces of split_dim, in order.
  std::vector<std::pair<int64_t, int64_t>> shares;
};

// Plans the shares of `request` (opening its dataset on request.context or the default one).
// Errors: those of opening and selecting as ComputeStats; kInvalidArgument when no dimension is
// reduced by every variable, when split_dim is not one, when the variables' selections of it
// differ, or when it is selected with a step or a scalar; kNotSupported for hist:N.
Result<StatsPartitionPlan> PlanStatsPartitions(const StatsRequest& request,
                                               const StatsPartitionOptions& options);

}  // namespace lsio::ops
