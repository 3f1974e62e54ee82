// ops::Rechunk end to end on local stores: sources written with known values (the reference is
// the generated data itself), outputs read back through the whole data path; plans with and
// without re-decoding, refusals, fill-value units, a failed run resumed, and write errors.

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lsio/array/dataset.h"
#include "lsio/array/read.h"
#include "lsio/format/open.h"
#include "lsio/format/zarr/hierarchy_writer.h"
#include "lsio/kvstore/file_store.h"
#include "lsio/kvstore/memory_store.h"
#include "lsio/kvstore/open.h"
#include "lsio/ops/rechunk.h"

namespace lsio::ops {
namespace {

namespace fs = std::filesystem;

class RechunkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "lsio_rechunk_XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
    runtime::ContextOptions co;
    co.threads = 2;
    context_ = *runtime::Context::Make(co);
  }
  void TearDown() override { fs::remove_all(root_); }

  // A Zarr store at `dir`: float32 v(t, y, x) = t*10000 + y*100 + x in `chunks` (optionally
  // sharded), coordinates t (int64 with CF time units) and y, x (float64); chunks whose t index
  // is in `missing_t_chunks` are not stored (fill value 7.5).
  void WriteSource(const std::string& dir, std::vector<int64_t> shape,
                   std::vector<int64_t> chunks, zarr::ZarrFormat format,
                   std::vector<int64_t> shards = {}, bool fill_missing = false) {
    auto store = kvstore::MakeFileStore(dir);
    zarr::HierarchyWriteOptions ho;
    ho.format = format;
    auto w = zarr::HierarchyWriter::Begin(*store, "", ho);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->CreateGroup("", {{"title", "rechunk test"}}).ok());
    zarr::ArrayWriteSpec spec;
    spec.format = format;
    spec.data_type = zarr::NumericZarrDataType(DataType::kFloat32);
    spec.shape = shape;
    spec.chunk_shape = chunks;
    if (!shards.empty()) spec.sharding = zarr::ShardingWriteSpec{shards};
    spec.codecs = {zarr::CodecSpec::Zstd(1)};
    spec.fill_value = 7.5;
    spec.dimension_names = {"t", "y", "x"};
    spec.attributes = {{"units", "K"}, {"scale_factor", 1.0}};
    auto v = (*w)->CreateArray("v", spec);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    values_.assign(static_cast<size_t>(shape[0] * shape[1] * shape[2]), 0.0f);
    size_t i = 0;
    for (int64_t t = 0; t < shape[0]; ++t) {
      for (int64_t y = 0; y < shape[1]; ++y) {
        for (int64_t x = 0; x < shape[2]; ++x) {
          // With fill_missing, the first source chunk along t is all fill value (not stored).
          values_[i++] = fill_missing && t < chunks[0]
                             ? 7.5f
                             : static_cast<float>(t * 10000 + y * 100 + x);
        }
      }
    }
    ASSERT_TRUE((*w)->WriteArray("v", std::as_bytes(std::span(values_))).ok());
    auto coord = [&](const std::string& name, DataType type, int64_t n, nlohmann::json attrs) {
      zarr::ArrayWriteSpec c;
      c.format = format;
      c.data_type = zarr::NumericZarrDataType(type);
      c.shape = {n};
      c.chunk_shape = {std::max<int64_t>(1, n / 2)};
      c.dimension_names = {name};
      c.attributes = attrs;
      ASSERT_TRUE((*w)->CreateArray(name, c).ok());
      std::vector<std::byte> bytes(static_cast<size_t>(n) * 8);
      for (int64_t k = 0; k < n; ++k) {
        if (type == DataType::kInt64) {
          const int64_t val = k * 6;
          std::memcpy(bytes.data() + k * 8, &val, 8);
        } else {
          const double val = 0.5 * static_cast<double>(k);
          std::memcpy(bytes.data() + k * 8, &val, 8);
        }
      }
      ASSERT_TRUE((*w)->WriteArray(name, bytes).ok());
    };
    coord("t", DataType::kInt64, shape[0], {{"units", "hours since 2000-01-01"}});
    coord("y", DataType::kFloat64, shape[1], nlohmann::json::object());
    coord("x", DataType::kFloat64, shape[2], nlohmann::json::object());
    ASSERT_TRUE((*w)->Commit().ok());
  }

  // The array `name` of the dataset at `dir`, read whole through lsio.
  std::vector<std::byte> ReadAll(const std::string& dir, const std::string& name,
                                 array::ArrayInfo* info_out = nullptr) {
    auto ds = format::OpenDataset(*context_, dir);
    EXPECT_TRUE(ds.ok()) << ds.status().ToString();
    if (!ds.ok()) return {};
    auto a = (*ds)->FindArray(name);
    EXPECT_TRUE(a.ok());
    if (!a.ok()) return {};
    const array::ArrayInfo& info = (*a)->info();
    if (info_out) *info_out = info;
    std::vector<array::DimRange> ranges;
    for (int64_t s : info.shape) ranges.push_back(array::FullRange(s));
    std::vector<std::byte> out(static_cast<size_t>(info.num_elements()) * info.element_size());
    EXPECT_TRUE(array::ReadInto(**a, ranges, out, *context_).ok());
    return out;
  }

  void ExpectSameAsSource(const std::string& dst) {
    array::ArrayInfo info;
    std::vector<std::byte> got = ReadAll(dst, "v", &info);
    ASSERT_EQ(got.size(), values_.size() * 4);
    EXPECT_EQ(std::memcmp(got.data(), values_.data(), got.size()), 0);
    EXPECT_EQ(info.attributes.value("units", ""), "K");
    EXPECT_EQ((info.dims), (std::vector<std::string>{"t", "y", "x"}));
    for (const char* c : {"t", "y", "x"}) {
      EXPECT_EQ(ReadAll(dst, c), ReadAll(src_, c)) << c;
    }
    EXPECT_FALSE(fs::exists(dst + "/.lsio-rechunk"));
  }

  std::string root_;
  std::string src_;
  std::shared_ptr<runtime::Context> context_;
  std::vector<float> values_;
};

TEST_F(RechunkTest, V3ToV2WithEdgeChunksDecodesEachChunkOnce) {
  src_ = root_ + "/src.zarr";
  WriteSource(src_, {13, 10, 7}, {4, 3, 5}, zarr::ZarrFormat::kV3);
  RechunkRequest req;
  req.source = src_;
  req.destination = root_ + "/dst.zarr";
  req.chunks = {{"t", -1}, {"y", 2}, {"x", 3}};
  req.zarr_format = 2;
  auto r = Rechunk(*context_, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const RechunkArrayPlan* v = nullptr;
  for (const RechunkArrayPlan& p : r->plan.arrays) {
    if (p.path == "v") v = &p;
  }
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->chunk, (std::vector<int64_t>{13, 2, 3}));
  EXPECT_EQ(v->units, 1u * 5 * 3);
  // 4 x 4 x 2 source chunks, each decoded once.
  EXPECT_EQ(v->source_chunks, 32u);
  EXPECT_EQ(v->chunk_decodes, 32u);
  EXPECT_TRUE(fs::exists(req.destination + "/.zmetadata"));
  EXPECT_TRUE(fs::exists(req.destination + "/v/0.4.2"));  // the edge chunk, stored full size
  ExpectSameAsSource(req.destination);
}

TEST_F(RechunkTest, ShardedV3UnderSmallBudgetReDecodesBoundedly) {
  src_ = root_ + "/src.zarr";
  WriteSource(src_, {64, 64, 64}, {4, 64, 64}, zarr::ZarrFormat::kV2);
  RechunkRequest req;
  req.source = src_;
  req.destination = root_ + "/dst.zarr";
  req.chunks = {{"t", 64}, {"y", 4}, {"x", 4}};
  req.shards = {{"y", 8}, {"x", 8}};
  req.zarr_format = 3;
  req.max_memory = uint64_t{1} << 20;
  req.threads = 1;
  req.multi_stage = false;
  auto r = Rechunk(*context_, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->plan.stages, 1);
  const RechunkArrayPlan& v = r->plan.arrays[1];
  ASSERT_EQ(v.path, "v");
  EXPECT_EQ(v.unit, (std::vector<int64_t>{64, 8, 8}));
  EXPECT_GT(v.blocks, 1u);
  EXPECT_LE(v.block_bytes, req.max_memory);
  EXPECT_GT(v.chunk_decodes, v.source_chunks);
  // Each source chunk is decoded once per block it touches, never more.
  EXPECT_LE(v.chunk_decodes, v.source_chunks * v.blocks);
  EXPECT_TRUE(fs::exists(req.destination + "/v/c/0/7/7"));
  ExpectSameAsSource(req.destination);
}

// The same job with two stages allowed: through an intermediate store whose chunks align with
// both sides, every chunk of each stage's source is decoded once; the intermediate is gone.
TEST_F(RechunkTest, TwoStagesDecodeEachChunkOncePerStage) {
  src_ = root_ + "/src.zarr";
  WriteSource(src_, {64, 64, 64}, {4, 64, 64}, zarr::ZarrFormat::kV2);
  RechunkRequest req;
  req.source = src_;
  req.destination = root_ + "/dst.zarr";
  req.chunks = {{"t", 64}, {"y", 4}, {"x", 4}};
  req.shards = {{"y", 8}, {"x", 8}};
  req.zarr_format = 3;
  req.max_memory = uint64_t{1} << 20;
  req.threads = 1;
  auto plan_only = [&]() -> Result<RechunkPlan> {
    LSIO_ASSIGN_OR_RETURN(auto ds, format::OpenDataset(*context_, src_));
    return PlanRechunk(*ds, req, 1);
  }();
  ASSERT_TRUE(plan_only.ok()) << plan_only.status().ToString();
  EXPECT_EQ(plan_only->stages, 2);
  auto r = Rechunk(*context_, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->plan.stages, 2);
  ASSERT_EQ(r->plan.first_stage.size(), r->plan.arrays.size());
  const RechunkArrayPlan& s1 = r->plan.first_stage[1];
  const RechunkArrayPlan& s2 = r->plan.arrays[1];
  ASSERT_EQ(s1.path, "v");
  EXPECT_EQ(s1.chunk_decodes, s1.source_chunks);
  EXPECT_EQ(s2.chunk_decodes, s2.source_chunks);
  EXPECT_EQ(s2.source_chunk, s1.chunk);
  EXPECT_EQ(s2.unit, (std::vector<int64_t>{64, 8, 8}));
  EXPECT_EQ(r->plan.intermediate, req.destination + ".lsio-stage");
  EXPECT_TRUE(!fs::exists(r->plan.intermediate) || fs::is_empty(r->plan.intermediate));
  ExpectSameAsSource(req.destination);
}

TEST_F(RechunkTest, RefusesTooSmallBudgetNamingTheMinimum) {
  src_ = root_ + "/src.zarr";
  WriteSource(src_, {64, 64, 64}, {4, 64, 64}, zarr::ZarrFormat::kV3);
  RechunkRequest req;
  req.source = src_;
  req.destination = root_ + "/dst.zarr";
  req.chunks = {{"t", 64}, {"y", 64}, {"x", 64}};
  req.max_memory = uint64_t{256} << 10;
  auto r = Rechunk(*context_, req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("too small: at least"), std::string::npos)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find("'v'"), std::string::npos);
  EXPECT_FALSE(fs::exists(req.destination));
}

TEST_F(RechunkTest, FillValueUnitsAreNotStoredAndReadBackAsFill) {
  src_ = root_ + "/src.zarr";
  WriteSource(src_, {12, 6, 6}, {3, 6, 6}, zarr::ZarrFormat::kV3, {}, /*fill_missing=*/true);
  // The source's first chunk along t is all fill value: not stored.
  ASSERT_FALSE(fs::exists(src_ + "/v/c/0/0/0"));
  RechunkRequest req;
  req.source = src_;
  req.destination = root_ + "/dst.zarr";
  req.chunks = {{"t", 2}, {"y", 3}, {"x", 6}};
  auto r = Rechunk(*context_, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(fs::exists(req.destination + "/v/c/0/0/0"));
  EXPECT_TRUE(fs::exists(req.destination + "/v/c/2/0/0"));
  EXPECT_GE(r->units_fill, 2u);
  ExpectSameAsSource(req.destination);
}

TEST_F(RechunkTest, RefusesExistingDestinationAndADifferentPlan) {
  src_ = root_ + "/src.zarr";
  WriteSource(src_, {8, 4, 4}, {2, 4, 4}, zarr::ZarrFormat::kV3);
  RechunkRequest req;
  req.source = src_;
  req.destination = root_ + "/dst.zarr";
  req.chunks = {{"t", 8}};
  fs::create_directories(req.destination);
  { std::ofstream(req.destination + "/something") << "x"; }
  auto r = Rechunk(*context_, req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("already exists"), std::string::npos);
  fs::remove_all(req.destination);
  // An interrupted run's state, then a resume with other chunks.
  req.chunks = {{"t", 4}};
  fs::create_directories(req.destination + "/.lsio-rechunk");
  { std::ofstream(req.destination + "/.lsio-rechunk/plan.json") << "{\"other\": 1}"; }
  req.resume = true;
  r = Rechunk(*context_, req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("different plan"), std::string::npos)
      << r.status().ToString();
  req.chunks = {{"nope", 4}};
  r = Rechunk(*context_, req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no variable has a dimension 'nope'"), std::string::npos);
}

// A read of one source chunk fails (a store that fails it on demand): the run stops with the
// error, what finished is journaled, and a resumed run finishes without rewriting it.
TEST_F(RechunkTest, FailedRunResumesWithoutRewritingFinishedUnits) {
  src_ = root_ + "/src.zarr";
  WriteSource(src_, {32, 8, 8}, {4, 8, 8}, zarr::ZarrFormat::kV3);
  static std::atomic<bool> fail{true};
  static std::string src_dir;
  src_dir = src_;
  kvstore::RegisterStoreScheme("flaky", [](std::string_view, const kvstore::OpenOptions&) {
    // A memory copy of the source store whose chunk c/7/0/0 of v fails while `fail` is set.
    kvstore::MemoryStoreOptions mo;
    mo.name = "flaky";
    mo.fail_read = [](std::string_view key) {
      return fail.load() && key == "v/c/7/0/0" ? IOError("injected failure reading " +
                                                         std::string(key))
                                               : Status::OK();
    };
    std::shared_ptr<kvstore::Store> m = kvstore::MakeMemoryStore(mo);
    for (const auto& e : fs::recursive_directory_iterator(src_dir)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), {});
      const std::string key = fs::relative(e.path(), src_dir).string();
      if (!m->Write(key, std::as_bytes(std::span(data.data(), data.size()))).ok()) return Result<std::shared_ptr<kvstore::Store>>(InternalError("copy"));
    }
    return Result<std::shared_ptr<kvstore::Store>>(m);
  });
  RechunkRequest req;
  req.source = "flaky://src";
  req.destination = root_ + "/dst.zarr";
  req.chunks = {{"t", 4}, {"y", 2}, {"x", 8}};  // one block per source chunk along t
  req.max_memory = uint64_t{1} << 20;
  req.threads = 1;
  auto r = Rechunk(*context_, req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("injected failure"), std::string::npos)
      << r.status().ToString();
  // Not a dataset yet: no metadata, only the rechunk's state.
  EXPECT_FALSE(fs::exists(req.destination + "/zarr.json"));
  EXPECT_TRUE(fs::exists(req.destination + "/.lsio-rechunk/plan.json"));
  EXPECT_FALSE(format::OpenDataset(*context_, req.destination).ok());
  const std::string first = req.destination + "/v/c/0/0/0";
  ASSERT_TRUE(fs::exists(first));
  struct stat before;
  ASSERT_EQ(::stat(first.c_str(), &before), 0);
  // Without --resume the destination is refused.
  r = Rechunk(*context_, req);
  ASSERT_FALSE(r.ok());
  fail = false;
  req.resume = true;
  r = Rechunk(*context_, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->units_resumed, 0u);
  struct stat after;
  ASSERT_EQ(::stat(first.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // a rewrite renames a new file over it
  ExpectSameAsSource(req.destination);
}

TEST_F(RechunkTest, WriteErrorNamesTheLocation) {
  src_ = root_ + "/src.zarr";
  WriteSource(src_, {8, 4, 4}, {2, 4, 4}, zarr::ZarrFormat::kV3);
  { std::ofstream(root_ + "/afile") << "x"; }
  RechunkRequest req;
  req.source = src_;
  req.destination = root_ + "/afile/dst.zarr";
  req.chunks = {{"t", 8}};
  auto r = Rechunk(*context_, req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(root_ + "/afile"), std::string::npos)
      << r.status().ToString();
}

TEST(ParseDimSizes, ReadsAndRefuses) {
  auto r = ParseDimSizes("time=1024,lat=32,lon=-1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::map<std::string, int64_t>{{"time", 1024}, {"lat", 32}, {"lon", -1}}));
  for (const char* bad : {"time", "time=", "=3", "time=0", "time=-2", "time=3x"}) {
    EXPECT_FALSE(ParseDimSizes(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace lsio::ops
