// `lsio stats` and `lsio info` end to end on a MemoryStore: no file system anywhere below the
// operation, and the coordinate cache reading each coordinate once.

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/format/zarr/info.h"
#include "lsio/format/zarr/source.h"
#include "lsio/kvstore/memory_store.h"
#include "lsio/kvstore/open.h"
#include "lsio/ops/stats.h"

namespace lsio::ops {
namespace {

using nlohmann::json;

std::span<const std::byte> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

template <typename T>
std::string Raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// A Zarr v3 float32 array `name` of shape (time=6, x=4) in chunks of (2, 4), uncompressed, with
// the coordinates time (int64 days since 2000-01-01) and x (float64) beside it.
void WriteDataset(kvstore::Store& store, const std::vector<std::string>& names) {
  ASSERT_TRUE(store.Write("zarr.json", Bytes(R"({"zarr_format": 3, "node_type": "group"})")).ok());
  auto array_json = [](const char* dtype, std::vector<int64_t> shape, std::vector<int64_t> chunks,
                       std::vector<std::string> dims, json attrs) {
    json j = {{"zarr_format", 3},
              {"node_type", "array"},
              {"shape", shape},
              {"data_type", dtype},
              {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", chunks}}}}},
              {"chunk_key_encoding", {{"name", "default"}}},
              {"fill_value", 0},
              {"codecs", json::array({{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}})},
              {"dimension_names", dims},
              {"attributes", attrs}};
    return j.dump();
  };
  ASSERT_TRUE(store
                  .Write("time/zarr.json",
                         Bytes(array_json("int64", {6}, {6}, {"time"},
                                          {{"units", "days since 2000-01-01"},
                                           {"calendar", "proleptic_gregorian"}})))
                  .ok());
  ASSERT_TRUE(store.Write("time/c/0", Bytes(Raw(std::vector<int64_t>{0, 1, 2, 3, 4, 5}))).ok());
  ASSERT_TRUE(
      store.Write("x/zarr.json", Bytes(array_json("float64", {4}, {4}, {"x"}, json::object())))
          .ok());
  ASSERT_TRUE(store.Write("x/c/0", Bytes(Raw(std::vector<double>{10, 20, 30, 40}))).ok());
  for (size_t k = 0; k < names.size(); ++k) {
    const std::string& n = names[k];
    ASSERT_TRUE(store
                    .Write(n + "/zarr.json",
                           Bytes(array_json("float32", {6, 4}, {2, 4}, {"time", "x"},
                                            {{"units", "K"}})))
                    .ok());
    for (int c = 0; c < 3; ++c) {
      std::vector<float> chunk;
      for (int t = 2 * c; t < 2 * c + 2; ++t) {
        for (int x = 0; x < 4; ++x) chunk.push_back(static_cast<float>(100 * k + 10 * t + x));
      }
      ASSERT_TRUE(store.Write(n + "/c/" + std::to_string(c) + "/0", Bytes(Raw(chunk))).ok());
    }
  }
}

TEST(MemoryStoreEndToEnd, StatsWithSelectionsAndOver) {
  Result<std::shared_ptr<kvstore::Store>> store = kvstore::OpenStore("memory://stats-e2e");
  ASSERT_TRUE(store.ok());
  WriteDataset(**store, {"a", "b"});

  StatsRequest req;
  req.path = "memory://stats-e2e";
  req.variables = {"a"};
  // 2000-01-02 .. 2000-01-04: time indices 1..3; values 10 t + x for t in 1..3, x in 0..3.
  req.selectors.push_back(*array::ParseSelArgument("time=2000-01-02:2000-01-04"));
  Result<StatsReport> report = ComputeStats(req);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const compute::Stats& s = report->variables.at(0).stats;
  std::vector<double> values;
  for (int t = 1; t <= 3; ++t) {
    for (int x = 0; x < 4; ++x) values.push_back(10.0 * t + x);
  }
  double sum = 0;
  for (double v : values) sum += v;
  EXPECT_EQ(s.count, values.size());
  EXPECT_EQ(s.min, 10.0);
  EXPECT_EQ(s.max, 33.0);
  EXPECT_DOUBLE_EQ(s.sum, sum);
  EXPECT_EQ(report->io_backend, "memory");

  // Per-x means over time of "b" (values 100 + 10 t + x): 100 + 25 + x; x keeps its coordinate.
  req.variables = {"b"};
  req.selectors.clear();
  req.over = {"time"};
  req.statistics = *ParseStatistics("mean,count");
  report = ComputeStats(req);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const VariableStats& b = report->variables.at(0);
  ASSERT_EQ(b.dims, std::vector<std::string>{"x"});
  ASSERT_EQ(b.maps.size(), 2u);
  for (int x = 0; x < 4; ++x) EXPECT_DOUBLE_EQ(b.maps[0].second[x], 125.0 + x) << x;
  ASSERT_EQ(b.coordinates.size(), 1u);
  EXPECT_EQ(b.coordinates[0].name, "x");
  EXPECT_EQ(b.coordinates[0].numpy_dtype, "<f8");

  // The result written to another memory store, published atomically.
  Result<std::shared_ptr<kvstore::Store>> out = kvstore::OpenStore("memory://stats-e2e-out");
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(WriteStatsZarr(*report, **out).ok());
  // Zarr v3 by default: the consolidated metadata is inline in the root zarr.json.
  Result<std::optional<Buffer>> meta = (*out)->Read("zarr.json");
  ASSERT_TRUE(meta.ok() && meta->has_value());
  EXPECT_NE((*meta)->as_string_view().find("consolidated_metadata"), std::string_view::npos);
  EXPECT_NE((*meta)->as_string_view().find("b_mean"), std::string_view::npos);
  EXPECT_FALSE(WriteStatsZarr(*report, **out).ok()) << "an existing output is refused";
  Result<std::shared_ptr<kvstore::Store>> out2 = kvstore::OpenStore("memory://stats-e2e-out-v2");
  ASSERT_TRUE(out2.ok());
  StatsOutputOptions v2;
  v2.zarr_format = 2;
  ASSERT_TRUE(WriteStatsZarr(*report, **out2, v2).ok());
  meta = (*out2)->Read(".zmetadata");
  ASSERT_TRUE(meta.ok() && meta->has_value());
  EXPECT_NE((*meta)->as_string_view().find("b_mean/.zarray"), std::string_view::npos);
}

TEST(MemoryStoreEndToEnd, EachCoordinateIsReadOnce) {
  std::mutex mu;
  std::map<std::string, int> reads;
  kvstore::MemoryStoreOptions o;
  o.fail_read = [&](std::string_view key) {
    std::lock_guard lock(mu);
    ++reads[std::string(key)];
    return Status::OK();
  };
  std::shared_ptr<kvstore::Store> store = kvstore::MakeMemoryStore(o);
  std::vector<std::string> names;
  for (int i = 0; i < 200; ++i) names.push_back("v" + std::to_string(i));
  WriteDataset(*store, names);

  Result<std::shared_ptr<const zarr::ZarrDatasetSource>> source = zarr::OpenDataset(store);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  Result<std::shared_ptr<runtime::Context>> context = runtime::Context::Make({});
  ASSERT_TRUE(context.ok());
  zarr::InfoOptions info;
  info.context = context->get();
  Result<json> doc = zarr::InfoJson(**source, info);
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(reads["time/c/0"], 1);
    EXPECT_EQ(reads["x/c/0"], 1);
  }
  int shown = 0;
  for (const json& n : (*doc)["nodes"]) {
    if (n.value("kind", "") != "array" || n["path"] == "time" || n["path"] == "x") continue;
    EXPECT_EQ(n["dims"][0]["coordinate"]["first"], "2000-01-01") << n.dump();
    EXPECT_EQ(n["dims"][1]["coordinate"]["last"], 40.0) << n.dump();
    ++shown;
  }
  EXPECT_EQ(shown, 200);
}

}  // namespace
}  // namespace lsio::ops
