#pragma once

// Partial statistics for scale-out (lsio.dask.stats): each worker computes the unfinished
// accumulators of its share of a request (a selection along a dimension that is reduced), as an
// opaque byte string; the client merges the shares in order and finishes them. The merged
// result equals ComputeStats on the whole request up to floating-point rounding order.

#include <string>
#include <vector>

#include "lsio/base/result.h"
#include "lsio/ops/stats.h"

namespace lsio::ops {

// ComputeStats without finishing. Errors as ComputeStats; kNotSupported for hist:N (it needs
// the global range first).
Result<std::string> ComputePartialStats(const StatsRequest& request);

// Merges partial results (same variables, statistics and result shapes; in the order given)
// and finishes them. bytes_read and chunks add up; seconds is the longest share's.
// Errors: kCorruptData for bytes that are not a partial result, kInvalidArgument for shares
// that do not fit together.
Result<StatsReport> MergePartialStats(const std::vector<std::string>& parts);

}  // namespace lsio::ops
