#include "lsio/ops/stats_partition.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "lsio/array/cf.h"
#include "lsio/array/dataset.h"
#include "lsio/array/partition.h"
#include "lsio/format/open.h"

namespace lsio::ops {

namespace {

// ComputeStats' default variables: data variables with statistics (not strings, not times).
bool HasStatistics(const array::ArrayInfo& info) {
  return info.element.StatisticsSupport().ok() &&
         info.element.kind == array::DataTypeKind::kNumeric &&
         array::ClassifyCfTime(info.attributes) == array::CfTimeKind::kNone;
}

}  // namespace

Result<StatsPartitionPlan> PlanStatsPartitions(const StatsRequest& request,
                                               const StatsPartitionOptions& options) {
  if (request.statistics.histogram_bins > 0) {
    return NotSupportedError("hist:N cannot be computed in shares (it needs the global range "
                             "first)");
  }
  if (options.parts < 1) return InvalidArgumentError("parts must be at least 1");
  runtime::Context& context =
      request.context != nullptr ? *request.context : *runtime::Context::Default();
  format::DatasetOptions open;
  open.io_backend = request.io_backend;
  open.storage_options = request.storage_options;
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const array::Dataset> ds,
                        format::OpenDataset(context, request.path, open));
  std::vector<const array::ArraySource*> arrays;
  if (request.variables.empty()) {
    for (const array::ArraySource* a : ds->DataVariables()) {
      if (HasStatistics(a->info())) arrays.push_back(a);
    }
    if (arrays.empty()) {
      return NotFoundError(request.path + ": no data variable with statistics to compute");
    }
  } else {
    for (const std::string& v : request.variables) {
      LSIO_ASSIGN_OR_RETURN(const array::ArraySource* a, ds->FindArray(v));
      if (std::find(arrays.begin(), arrays.end(), a) == arrays.end()) arrays.push_back(a);
    }
  }
  StatsPartitionPlan plan;
  for (const array::ArraySource* a : arrays) plan.variables.push_back(a->info().path);

  // Per candidate dimension: its selected range in every variable and the storage unit.
  struct Candidate {
    array::DimRange range;
    int64_t unit = 1;  // the largest storage chunk along it
    int64_t lcm = 1;   // a multiple of every variable's storage chunk along it
    int variables = 0;
    bool consistent = true;
  };
  std::map<std::string, Candidate> candidates;
  for (const array::ArraySource* a : arrays) {
    const array::ArrayInfo& info = a->info();
    LSIO_ASSIGN_OR_RETURN(std::vector<array::DimRange> ranges,
                          ds->ResolveSelection(*a, request.selectors, context));
    for (size_t d = 0; d < info.rank(); ++d) {
      const std::string& dim = info.dims[d];
      const bool reduced =
          request.over.empty() ||
          std::find(request.over.begin(), request.over.end(), dim) != request.over.end();
      if (!reduced) continue;
      auto [it, inserted] = candidates.try_emplace(dim);
      Candidate& c = it->second;
      if (inserted) {
        c.range = ranges[d];
        c.unit = c.lcm = info.storage_chunk_shape[d];
      } else {
        c.consistent = c.consistent && c.range == ranges[d];
        c.unit = std::max(c.unit, info.storage_chunk_shape[d]);
        c.lcm = std::min<int64_t>(std::lcm(c.lcm, info.storage_chunk_shape[d]), INT64_C(1) << 40);
      }
      ++c.variables;
    }
  }
  auto usable = [&](const Candidate& c) {
    return c.variables == static_cast<int>(arrays.size()) && c.consistent && !c.range.drop &&
           (c.range.step == 1 || c.range.count <= 1);
  };
  auto span_units = [](const Candidate& c) {
    if (c.range.count == 0) return int64_t{0};
    const int64_t first = c.range.start / c.unit;
    const int64_t last = (c.range.start + c.range.count - 1) / c.unit;
    return last - first + 1;
  };
  if (options.split_dim.empty()) {
    int64_t best = -1;
    for (const auto& [dim, c] : candidates) {
      if (usable(c) && span_units(c) > best) {
        best = span_units(c);
        plan.split_dim = dim;
      }
    }
    if (plan.split_dim.empty()) {
      return InvalidArgumentError(
          "no reduced dimension shared by all variables (with the same selection) to split on");
    }
  } else {
    auto it = candidates.find(options.split_dim);
    if (it == candidates.end() || it->second.variables != static_cast<int>(arrays.size())) {
      return InvalidArgumentError("split_dim '" + options.split_dim +
                                  "' is not a reduced dimension of every variable");
    }
    if (!usable(it->second)) {
      return InvalidArgumentError("split_dim '" + options.split_dim +
                                  "' must be selected with the same contiguous range in every "
                                  "variable");
    }
    plan.split_dim = options.split_dim;
  }
  const Candidate& c = candidates.at(plan.split_dim);
  const int64_t start = c.range.start;
  const int64_t stop = c.range.start + c.range.count;
  // Aligned to every variable's chunks when that leaves as many shares; otherwise to the
  // largest chunks (a smaller chunk of another variable may then be read by two shares).
  LSIO_ASSIGN_OR_RETURN(plan.shares, array::SplitAligned(start, stop, c.lcm, options.parts));
  LSIO_ASSIGN_OR_RETURN(auto coarse, array::SplitAligned(start, stop, c.unit, options.parts));
  if (coarse.size() > plan.shares.size()) plan.shares = std::move(coarse);
  return plan;
}

}  // namespace lsio::ops
