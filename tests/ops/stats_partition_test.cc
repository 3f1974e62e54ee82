// ops/stats_partition.h: shares of a statistics request, checked by merging the partial
// statistics of the shares and comparing with the whole request's.

#include "lsio/ops/stats_partition.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lsio/kvstore/open.h"
#include "lsio/ops/stats_partial.h"

namespace lsio::ops {
namespace {

using nlohmann::json;

std::span<const std::byte> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// "a" (time=10, x=4) float32 in chunks of (3, 4); "b" (time=10) float64 in chunks of (5,);
// "time" int64 days since 2000-01-01.
void WriteDataset(kvstore::Store& store) {
  auto array_json = [](const char* dtype, std::vector<int64_t> shape, std::vector<int64_t> chunks,
                       std::vector<std::string> dims, json attrs) {
    json j = {{"zarr_format", 3},
              {"node_type", "array"},
              {"shape", shape},
              {"data_type", dtype},
              {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", chunks}}}}},
              {"chunk_key_encoding", {{"name", "default"}}},
              {"fill_value", 0},
              {"codecs",
               json::array({{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}})},
              {"dimension_names", dims},
              {"attributes", attrs}};
    return j.dump();
  };
  ASSERT_TRUE(store.Write("zarr.json", Bytes(R"({"zarr_format": 3, "node_type": "group"})")).ok());
  ASSERT_TRUE(store
                  .Write("time/zarr.json",
                         Bytes(array_json("int64", {10}, {10}, {"time"},
                                          {{"units", "days since 2000-01-01"}})))
                  .ok());
  std::vector<int64_t> days = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  ASSERT_TRUE(store.Write("time/c/0", Bytes(std::string(reinterpret_cast<const char*>(days.data()),
                                                        days.size() * 8)))
                  .ok());
  ASSERT_TRUE(store.Write("a/zarr.json", Bytes(array_json("float32", {10, 4}, {3, 4},
                                                          {"time", "x"}, json::object())))
                  .ok());
  for (int c = 0; c < 4; ++c) {
    std::vector<float> v;
    for (int t = 3 * c; t < 3 * c + 3; ++t) {
      for (int x = 0; x < 4; ++x) v.push_back(static_cast<float>(t * t + x));
    }
    ASSERT_TRUE(store
                    .Write("a/c/" + std::to_string(c) + "/0",
                           Bytes(std::string(reinterpret_cast<const char*>(v.data()), 48)))
                    .ok());
  }
  ASSERT_TRUE(store.Write("b/zarr.json", Bytes(array_json("float64", {10}, {5}, {"time"},
                                                          json::object())))
                  .ok());
  for (int c = 0; c < 2; ++c) {
    std::vector<double> v;
    for (int t = 5 * c; t < 5 * c + 5; ++t) v.push_back(0.5 * t);
    ASSERT_TRUE(store
                    .Write("b/c/" + std::to_string(c),
                           Bytes(std::string(reinterpret_cast<const char*>(v.data()), 40)))
                    .ok());
  }
}

class StatsPartitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = kvstore::OpenStore(kLocation);
    ASSERT_TRUE(store.ok());
    WriteDataset(**store);
  }
  static constexpr const char* kLocation = "memory://stats-partition";
};

// The shares' partial statistics merged, against ComputeStats on the whole request.
void ExpectSharesAddUp(const StatsRequest& request, const StatsPartitionPlan& plan,
                       bool aligned_for_all = true) {
  std::vector<std::string> parts;
  for (auto [start, stop] : plan.shares) {
    StatsRequest share = request;
    share.selectors.clear();
    for (const array::DimSelector& s : request.selectors) {
      if (s.dim != plan.split_dim) share.selectors.push_back(s);
    }
    share.selectors.push_back(
        array::DimSelector{plan.split_dim, array::IndexSlice{start, stop, std::nullopt}});
    share.variables = plan.variables;
    Result<std::string> part = ComputePartialStats(share);
    ASSERT_TRUE(part.ok()) << part.status().ToString();
    parts.push_back(*part);
  }
  Result<StatsReport> merged = MergePartialStats(parts);
  Result<StatsReport> whole = ComputeStats(request);
  ASSERT_TRUE(merged.ok() && whole.ok()) << merged.status().ToString();
  ASSERT_EQ(merged->variables.size(), whole->variables.size());
  for (size_t i = 0; i < whole->variables.size(); ++i) {
    const compute::Stats& m = merged->variables[i].stats;
    const compute::Stats& w = whole->variables[i].stats;
    EXPECT_EQ(m.count, w.count) << i;
    EXPECT_DOUBLE_EQ(m.sum, w.sum) << i;
    EXPECT_EQ(m.min, w.min) << i;
    EXPECT_EQ(m.max, w.max) << i;
  }
  // Each stored chunk of the split dimension is in exactly one share.
  if (aligned_for_all) {
    EXPECT_EQ(merged->chunks, whole->chunks);
  }
}

TEST_F(StatsPartitionTest, SplitsAtTheCoarsestStorageChunksOfTheReducedDimension) {
  StatsRequest request;
  request.path = kLocation;
  StatsPartitionOptions options;
  options.parts = 3;
  Result<StatsPartitionPlan> plan = PlanStatsPartitions(request, options);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->variables, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(plan->split_dim, "time");
  // Chunks of 3 (a) and 5 (b) along time have no common boundary inside it: b's (the
  // largest) are kept whole, [0, 5), [5, 10), and a's chunk [3, 6) is read by both shares.
  EXPECT_EQ(plan->shares, (std::vector<std::pair<int64_t, int64_t>>{{0, 5}, {5, 10}}));
  ExpectSharesAddUp(request, *plan, /*aligned_for_all=*/false);

  request.variables = {"a"};
  plan = PlanStatsPartitions(request, options);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->shares, (std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {3, 6}, {6, 10}}));
  ExpectSharesAddUp(request, *plan);
}

TEST_F(StatsPartitionTest, LabelSelectionsOnTheSplitDimensionBecomePositions) {
  StatsRequest request;
  request.path = kLocation;
  request.variables = {"a"};
  request.selectors.push_back(*array::ParseSelArgument("time=2000-01-02:2000-01-08"));
  StatsPartitionOptions options;
  options.parts = 8;
  Result<StatsPartitionPlan> plan = PlanStatsPartitions(request, options);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->shares, (std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {3, 6}, {6, 8}}));
  ExpectSharesAddUp(request, *plan);
}

TEST_F(StatsPartitionTest, RefusesWhatCannotBeSplit) {
  StatsRequest request;
  request.path = kLocation;
  request.variables = {"a"};
  request.over = {"x"};
  StatsPartitionOptions options;
  options.parts = 2;
  options.split_dim = "time";  // kept, not reduced
  EXPECT_EQ(PlanStatsPartitions(request, options).status().code(), StatusCode::kInvalidArgument);
  options.split_dim.clear();
  Result<StatsPartitionPlan> plan = PlanStatsPartitions(request, options);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->split_dim, "x");
  request.over.clear();
  request.selectors.push_back(*array::ParseIselArgument("time=::2"));
  options.split_dim = "time";
  EXPECT_EQ(PlanStatsPartitions(request, options).status().code(), StatusCode::kInvalidArgument);
  request.selectors.clear();
  request.statistics = *ParseStatistics("hist:4");
  EXPECT_EQ(PlanStatsPartitions(request, options).status().code(), StatusCode::kNotSupported);
  request.statistics = DefaultStatistics();
  request.variables = {"nope"};
  EXPECT_EQ(PlanStatsPartitions(request, options).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace lsio::ops
