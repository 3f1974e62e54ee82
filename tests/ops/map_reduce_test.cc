// ops::ForEachBlock / MapReduce / MapBlocks on a Zarr v3 array written here byte by byte into a
// MemoryStore (uncompressed chunks, edge chunks, missing chunks), checked against the values'
// formula.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/read.h"
#include "lsio/format/open.h"
#include "lsio/kvstore/open.h"
#include "lsio/ops/c_map_reduce.h"
#include "lsio/ops/map_blocks.h"
#include "lsio/ops/map_reduce.h"

namespace lsio::ops {
namespace {

using nlohmann::json;

constexpr int64_t kT = 7, kY = 5, kX = 6;     // shape
constexpr int64_t kCT = 3, kCY = 2, kCX = 4;  // chunks
constexpr float kFill = 1.5f;

float Value(int64_t t, int64_t y, int64_t x) {
  return static_cast<float>(t * 100 + y * 10 + x) + 0.25f;
}
// Chunk (1, 1, 0) is not stored: its elements are the fill value.
bool Missing(int64_t t, int64_t y, int64_t x) {
  return t / kCT == 1 && y / kCY == 1 && x / kCX == 0;
}
float Expected(int64_t t, int64_t y, int64_t x) {
  return Missing(t, y, x) ? kFill : Value(t, y, x);
}

std::span<const std::byte> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Writes the array "v" (time, y, x) with the coordinate "time" into memory://<name>.
std::string MakeStore(const std::string& name) {
  const std::string location = "memory://" + name;
  std::shared_ptr<kvstore::Store> store = *kvstore::OpenStore(location);
  auto write = [&](const std::string& key, const std::string& value) {
    EXPECT_TRUE(store->Write(key, Bytes(value)).ok()) << key;
  };
  write("zarr.json", R"({"zarr_format": 3, "node_type": "group", "attributes": {"title": "t"}})");
  auto array_json = [](const char* dtype, std::vector<int64_t> shape, std::vector<int64_t> chunks,
                       std::vector<std::string> dims, json fill, json attrs) {
    return json{{"zarr_format", 3},
                {"node_type", "array"},
                {"shape", shape},
                {"data_type", dtype},
                {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", chunks}}}}},
                {"chunk_key_encoding", {{"name", "default"}}},
                {"fill_value", fill},
                {"codecs",
                 json::array({{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}})},
                {"dimension_names", dims},
                {"attributes", attrs}}
        .dump();
  };
  write("time/zarr.json", array_json("int64", {kT}, {kT}, {"time"}, 0,
                                     {{"units", "days since 2000-01-01"}}));
  std::string times;
  for (int64_t t = 0; t < kT; ++t) {
    const int64_t v = 10 * t;
    times.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  write("time/c/0", times);
  write("v/zarr.json", array_json("float32", {kT, kY, kX}, {kCT, kCY, kCX}, {"time", "y", "x"},
                                  kFill, {{"units", "K"}}));
  for (int64_t ct = 0; ct * kCT < kT; ++ct) {
    for (int64_t cy = 0; cy * kCY < kY; ++cy) {
      for (int64_t cx = 0; cx * kCX < kX; ++cx) {
        if (ct == 1 && cy == 1 && cx == 0) continue;
        std::string chunk;  // stored at full chunk size, as Zarr does at the edges
        for (int64_t t = ct * kCT; t < (ct + 1) * kCT; ++t) {
          for (int64_t y = cy * kCY; y < (cy + 1) * kCY; ++y) {
            for (int64_t x = cx * kCX; x < (cx + 1) * kCX; ++x) {
              const float v = Value(t, y, x);
              chunk.append(reinterpret_cast<const char*>(&v), sizeof v);
            }
          }
        }
        write("v/c/" + std::to_string(ct) + "/" + std::to_string(cy) + "/" + std::to_string(cx),
              chunk);
      }
    }
  }
  return location;
}

struct Opened {
  std::shared_ptr<const array::Dataset> dataset;
  const array::ArraySource* array = nullptr;
};

Opened Open(const std::string& location) {
  Opened o;
  Result<std::shared_ptr<const array::Dataset>> ds =
      format::OpenDataset(*runtime::Context::Default(), location);
  EXPECT_TRUE(ds.ok()) << ds.status().ToString();
  o.dataset = *ds;
  o.array = *o.dataset->FindArray("v");
  return o;
}

// A selection: time 1..6, y = 3 (dropped), x 0, 2, 4.
std::vector<array::DimRange> Selection() {
  return {array::DimRange{1, 1, 5, false}, array::DimRange{3, 1, 1, true},
          array::DimRange{0, 2, 3, false}};
}

TEST(MapReduce, CountAndSumEqualTheFormulaForAnyThreadCount) {
  Opened o = Open(MakeStore("mapreduce-count"));
  for (const std::vector<array::DimRange>& ranges :
       {std::vector<array::DimRange>{array::FullRange(kT), array::FullRange(kY),
                                     array::FullRange(kX)},
        Selection()}) {
    int64_t count = 0;
    double sum = 0;
    for (int64_t i = 0; i < ranges[0].count; ++i) {
      for (int64_t j = 0; j < ranges[1].count; ++j) {
        for (int64_t k = 0; k < ranges[2].count; ++k) {
          const float v = Expected(ranges[0].index(i), ranges[1].index(j), ranges[2].index(k));
          count += v > 200.0f;
          sum += v;
        }
      }
    }
    struct Part {
      int64_t count = 0;
      double sum = 0;
    };
    std::vector<double> sums;
    for (int threads : {1, 2}) {
      BlockPassOptions options;
      options.threads = threads;
      Result<std::optional<Part>> r = MapReduce<Part>(
          *runtime::Context::Default(), *o.array, ranges,
          [&](const Block& b) -> Result<Part> {
            Part p;
            size_t i = 0;
            // Every element where the block says it is.
            const BlockDim &bt = b.dims[0], &by = b.dims[1], &bx = b.dims[2];
            for (int64_t a = 0; a < bt.count; ++a) {
              for (int64_t c = 0; c < by.count; ++c) {
                for (int64_t d = 0; d < bx.count; ++d) {
                  const float v = b.values<float>()[i++];
                  const float want = Expected(bt.start + a * bt.step, by.start + c * by.step,
                                              bx.start + d * bx.step);
                  if (v != want) return InternalError("block " + b.Describe() + " is wrong");
                  p.count += v > 200.0f;
                  p.sum += v;
                }
              }
            }
            return p;
          },
          [](Part a, Part b) -> Result<Part> { return Part{a.count + b.count, a.sum + b.sum}; },
          options);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_TRUE(r->has_value());
      EXPECT_EQ((*r)->count, count);
      EXPECT_NEAR((*r)->sum, sum, 1e-6 * std::abs(sum));
      sums.push_back((*r)->sum);
    }
    EXPECT_EQ(sums[0], sums[1]) << "the result depends on the thread count";
  }
}

TEST(MapReduce, CombinesInChunkOrder) {
  Opened o = Open(MakeStore("mapreduce-order"));
  const std::vector<array::DimRange> ranges = {array::FullRange(kT), array::FullRange(kY),
                                               array::FullRange(kX)};
  const int64_t chunks = 3 * 3 * 2;
  std::string want;
  for (int64_t i = 0; i < chunks; ++i) want += std::to_string(i) + ",";
  for (int threads : {1, 2}) {
    BlockPassOptions options;
    options.threads = threads;
    Result<std::optional<std::string>> r = MapReduce<std::string>(
        *runtime::Context::Default(), *o.array, ranges,
        [](const Block& b) -> Result<std::string> { return std::to_string(b.ordinal) + ","; },
        [](std::string a, std::string b) -> Result<std::string> { return a + b; }, options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(**r, want);
  }
}

TEST(MapReduce, EmptySelectionGivesNothing) {
  Opened o = Open(MakeStore("mapreduce-empty"));
  const std::vector<array::DimRange> ranges = {array::DimRange{0, 1, 0, false},
                                               array::FullRange(kY), array::FullRange(kX)};
  Result<std::optional<int>> r = MapReduce<int>(
      *runtime::Context::Default(), *o.array, ranges,
      [](const Block&) -> Result<int> { return 1; },
      [](int a, int b) -> Result<int> { return a + b; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->has_value());
}

TEST(MapReduce, AnErrorStopsTheRunNamingTheChunk) {
  Opened o = Open(MakeStore("mapreduce-error"));
  const std::vector<array::DimRange> ranges = {array::FullRange(kT), array::FullRange(kY),
                                               array::FullRange(kX)};
  std::atomic<int> calls{0};
  BlockPassOptions options;
  options.threads = 2;
  Result<std::optional<int>> r = MapReduce<int>(
      *runtime::Context::Default(), *o.array, ranges,
      [&](const Block& b) -> Result<int> {
        ++calls;
        if (b.ordinal == 4) return InvalidArgumentError("no good");
        return 1;
      },
      [](int a, int b) -> Result<int> { return a + b; }, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  // Chunk 4 in C order of the (3, 3, 2) grid is (0, 2, 0): time 0:3, y 4:5 (the edge), x 0:4.
  EXPECT_NE(r.status().message().find("variable 'v': chunk 4 (time 0:3, y 4:5, x 0:4): no good"),
            std::string::npos)
      << r.status().ToString();
}

TEST(MapReduce, CancelStopsPartWay) {
  Opened o = Open(MakeStore("mapreduce-cancel"));
  const std::vector<array::DimRange> ranges = {array::FullRange(kT), array::FullRange(kY),
                                               array::FullRange(kX)};
  std::atomic<bool> cancel{false};
  std::atomic<int> calls{0};
  BlockPassOptions options;
  options.threads = 1;
  options.cancelled = [&] { return cancel.load(); };
  Result<std::optional<int>> r = MapReduce<int>(
      *runtime::Context::Default(), *o.array, ranges,
      [&](const Block&) -> Result<int> {
        ++calls;
        cancel = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
        return 1;
      },
      [](int a, int b) -> Result<int> { return a + b; }, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  EXPECT_LT(calls.load(), 18);
}

// C functions for CMapReduce: the count of values above 200, their sum, and the sum of their
// positions in the selection weighted 1, 100, 10000 (last dimension first), which checks
// shape and origin; result: 3 int64 + the dtype number.
extern "C" int32_t CountAbove(const void* data, const int64_t* shape, const int64_t* origin,
                              int32_t ndim, int32_t dtype, void* result) {
  if (dtype != 11) return 2;
  int64_t n = 1;
  for (int32_t d = 0; d < ndim; ++d) n *= shape[d];
  const float* v = static_cast<const float*>(data);
  int64_t* r = static_cast<int64_t*>(result);
  for (int64_t i = 0; i < n; ++i) {
    if (v[i] > 200.0f) {
      ++r[0];
      r[1] += static_cast<int64_t>(v[i] * 4);  // exact: values are multiples of 0.25
      int64_t rem = i, w = 1;
      for (int32_t d = ndim - 1; d >= 0; --d) {
        r[2] += (origin[d] + rem % shape[d]) * w;
        rem /= shape[d];
        w *= 100;
      }
    }
  }
  return 0;
}
extern "C" int32_t AddThree(void* earlier, const void* later) {
  int64_t* a = static_cast<int64_t*>(earlier);
  const int64_t* b = static_cast<const int64_t*>(later);
  for (int i = 0; i < 3; ++i) a[i] += b[i];
  return 0;
}
extern "C" int32_t FailAtTime3(const void*, const int64_t*, const int64_t* origin, int32_t,
                               int32_t, void*) {
  return origin[0] == 3 && origin[1] == 0 && origin[2] == 0 ? 5 : 0;
}

TEST(CMapReduce, EqualsTheFormulaForAnyThreadCountAndSelection) {
  Opened o = Open(MakeStore("cmapreduce"));
  for (const std::vector<array::DimRange>& ranges :
       {std::vector<array::DimRange>{array::FullRange(kT), array::FullRange(kY),
                                     array::FullRange(kX)},
        Selection()}) {
    int64_t want[3] = {0, 0, 0};
    const bool dropped_y = ranges[1].drop;
    for (int64_t i = 0; i < ranges[0].count; ++i) {
      for (int64_t j = 0; j < ranges[1].count; ++j) {
        for (int64_t k = 0; k < ranges[2].count; ++k) {
          const float v = Expected(ranges[0].index(i), ranges[1].index(j), ranges[2].index(k));
          if (v <= 200.0f) continue;
          ++want[0];
          want[1] += static_cast<int64_t>(v * 4);
          want[2] += dropped_y ? i * 100 + k : i * 10000 + j * 100 + k;
        }
      }
    }
    for (int threads : {1, 2}) {
      BlockPassOptions options;
      options.threads = threads;
      CMapReduceFunctions fns{&CountAbove, &AddThree, 3 * sizeof(int64_t)};
      Result<std::optional<std::vector<std::byte>>> r =
          CMapReduce(*runtime::Context::Default(), *o.array, ranges, fns, options);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_TRUE(r->has_value());
      ASSERT_EQ((*r)->size(), 3 * sizeof(int64_t));
      const int64_t* got = reinterpret_cast<const int64_t*>((*r)->data());
      EXPECT_EQ(got[0], want[0]);
      EXPECT_EQ(got[1], want[1]);
      EXPECT_EQ(got[2], want[2]);
    }
  }
}

TEST(CMapReduce, AnErrorCodeStopsTheRunNamingTheChunk) {
  Opened o = Open(MakeStore("cmapreduce-error"));
  const std::vector<array::DimRange> ranges = {array::FullRange(kT), array::FullRange(kY),
                                               array::FullRange(kX)};
  CMapReduceFunctions fns{&FailAtTime3, &AddThree, 3 * sizeof(int64_t)};
  Result<std::optional<std::vector<std::byte>>> r =
      CMapReduce(*runtime::Context::Default(), *o.array, ranges, fns);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  // The block at (3, 0, 0) is chunk 6 of the (3, 3, 2) grid: (1, 0, 0).
  EXPECT_NE(r.status().message().find(
                "variable 'v': chunk 6 (time 3:6, y 0:2, x 0:4): the C map function returned 5"),
            std::string::npos)
      << r.status().ToString();
  fns.result_bytes = 0;
  EXPECT_EQ(CMapReduce(*runtime::Context::Default(), *o.array, ranges, fns).status().code(),
            StatusCode::kInvalidArgument);
}

// Reads array `name` of the dataset at `location` whole, as doubles.
std::vector<double> ReadAll(const std::string& location, const std::string& name,
                            std::vector<int64_t>* shape) {
  Result<std::shared_ptr<const array::Dataset>> ds =
      format::OpenDataset(*runtime::Context::Default(), location);
  EXPECT_TRUE(ds.ok()) << ds.status().ToString();
  const array::ArraySource* a = *(*ds)->FindArray(name);
  *shape = a->info().shape;
  std::vector<array::DimRange> ranges;
  int64_t n = 1;
  for (int64_t s : *shape) {
    ranges.push_back(array::FullRange(s));
    n *= s;
  }
  std::vector<double> out(static_cast<size_t>(n));
  EXPECT_EQ(a->info().element.storage, DataType::kFloat64);
  Status st = array::ReadInto(*a, ranges, std::as_writable_bytes(std::span(out)),
                              *runtime::Context::Default());
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

TEST(MapBlocks, WritesTheTransformWithCoordinates) {
  Opened o = Open(MakeStore("mapblocks-in"));
  const std::vector<array::DimRange> ranges = Selection();
  // Default chunks (aligned blocks), and chunks that need assembling.
  for (const std::vector<int64_t>& chunks :
       {std::vector<int64_t>{}, std::vector<int64_t>{5, 1}, std::vector<int64_t>{2, 3}}) {
    const std::string out_location =
        "memory://mapblocks-out-" + std::to_string(chunks.empty() ? 0 : chunks[0]);
    std::shared_ptr<kvstore::Store> out = *kvstore::OpenStore(out_location);
    MapBlocksOptions options;
    options.type = format::NumericElementType(DataType::kFloat64);
    options.name = "doubled";
    options.chunk_shape = chunks;
    options.pass.threads = 2;
    Result<MapBlocksResult> r = MapBlocks(
        *runtime::Context::Default(), *o.dataset, *o.array, ranges,
        [](const Block& b, std::span<std::byte> values) -> Status {
          auto* d = reinterpret_cast<double*>(values.data());
          size_t i = 0;
          for (float v : b.values<float>()) d[i++] = 2.0 * v;
          return Status::OK();
        },
        *out, options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->dims, (std::vector<std::string>{"time", "x"}));
    EXPECT_EQ(r->coordinates, (std::vector<std::string>{"time"}));
    std::vector<int64_t> shape;
    std::vector<double> got = ReadAll(out_location, "doubled", &shape);
    ASSERT_EQ(shape, (std::vector<int64_t>{5, 3}));
    for (int64_t i = 0; i < 5; ++i) {
      for (int64_t k = 0; k < 3; ++k) {
        EXPECT_EQ(got[static_cast<size_t>(i * 3 + k)], 2.0 * Expected(1 + i, 3, 2 * k))
            << i << "," << k;
      }
    }
    // The coordinate's selected values, as stored (days: 10 * t).
    Result<std::shared_ptr<const array::Dataset>> ds =
        format::OpenDataset(*runtime::Context::Default(), out_location);
    ASSERT_TRUE(ds.ok());
    const array::ArraySource* time = *(*ds)->FindArray("time");
    std::vector<int64_t> days(5);
    ASSERT_TRUE(array::ReadInto(*time, std::vector<array::DimRange>{array::FullRange(5)},
                                std::as_writable_bytes(std::span(days)),
                                *runtime::Context::Default())
                    .ok());
    EXPECT_EQ(days, (std::vector<int64_t>{10, 20, 30, 40, 50}));
    EXPECT_EQ(time->info().attributes.value("units", ""), "days since 2000-01-01");
    EXPECT_EQ((*(*ds)->FindArray("doubled"))->info().attributes.value("units", ""), "K");
  }
}

TEST(MapBlocks, AFailedRunPublishesNothing) {
  Opened o = Open(MakeStore("mapblocks-fail-in"));
  const std::string out_location = "memory://mapblocks-fail-out";
  std::shared_ptr<kvstore::Store> out = *kvstore::OpenStore(out_location);
  const std::vector<array::DimRange> ranges = {array::FullRange(kT), array::FullRange(kY),
                                               array::FullRange(kX)};
  Result<MapBlocksResult> r = MapBlocks(
      *runtime::Context::Default(), *o.dataset, *o.array, ranges,
      [](const Block& b, std::span<std::byte> values) -> Status {
        if (b.ordinal == 5) return CorruptDataError("bad block");
        std::fill(values.begin(), values.end(), std::byte{0});
        return Status::OK();
      },
      *out);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("chunk 5"), std::string::npos) << r.status().ToString();
  EXPECT_FALSE(format::OpenDataset(*runtime::Context::Default(), out_location).ok());
}

}  // namespace
}  // namespace lsio::ops
