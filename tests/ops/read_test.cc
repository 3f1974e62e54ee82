// Reads of Zarr arrays through the whole data path (kvstore::FileStore, zarr's array source,
// array::ReadInto on the runtime Context), on stores whose values are known without lsio.

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lsio/array/dataset.h"
#include "lsio/array/memory_source.h"
#include "lsio/array/read.h"
#include "lsio/format/zarr/hierarchy.h"
#include "lsio/format/zarr/source.h"
#include "lsio/kvstore/file_store.h"
#include "lsio/ops/stats.h"

namespace lsio::ops {
namespace {

// Reads `ranges` of `node` of the Zarr store at `root` through lsio's data path.
Status ReadSelection(const std::string& root, const zarr::Node& node,
                     const std::vector<array::DimRange>& ranges, std::span<std::byte> out,
                     io::Backend backend = io::Backend::kAuto) {
  kvstore::FileStoreOptions fo;
  fo.engine.backend = backend;
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const zarr::ZarrDatasetSource> source,
                        zarr::OpenDataset(kvstore::MakeFileStore(root, fo)));
  const array::Dataset ds(source);
  LSIO_ASSIGN_OR_RETURN(const array::ArraySource* a, ds.FindArray(node.path));
  array::ReadIntoOptions o;
  o.threads = 2;
  return array::ReadInto(*a, ranges, out, *runtime::Context::Default(), o);
}

std::string FixtureDir() {
  const char* shared = std::getenv("LSIO_SHARED_FIXTURES");
  return std::string(shared ? shared : "../shared/fixtures") + "/zarrs";
}

// The zarrs fixtures hold np.arange(100).reshape(10, 10) as float32 (see their README).
class FixtureReadTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureReadTest, ReadsArangeAndSelections) {
  const std::string root = FixtureDir() + "/" + GetParam();
  auto store_holder = kvstore::MakeFileStore(root);
  kvstore::Store& store = *store_holder;
  Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  const zarr::Node& node = h->root();
  ASSERT_TRUE(node.is_array());
  for (io::Backend backend : {io::Backend::kUring, io::Backend::kPosix}) {
    std::vector<float> all(100);
    std::vector<array::DimRange> full = {array::FullRange(10), array::FullRange(10)};
    Status st = ReadSelection(root, node, full, std::as_writable_bytes(std::span(all)), backend);
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (int i = 0; i < 100; ++i) EXPECT_EQ(all[i], static_cast<float>(i)) << GetParam() << i;

    // [2:9:3, 7] -> rows 2, 5, 8 of column 7, the column dropped.
    std::vector<float> part(3);
    std::vector<array::DimRange> sel = {array::DimRange{2, 3, 3, false},
                                       array::DimRange{7, 1, 1, true}};
    st = ReadSelection(root, node, sel, std::as_writable_bytes(std::span(part)), backend);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(part, (std::vector<float>{27, 57, 87}));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Zarrs, FixtureReadTest,
    ::testing::Values("v2/array_none_C.zarr", "v2/array_none_F.zarr", "v2/array_blosc_C.zarr",
                      "v2/array_blosc_F.zarr", "v2/array_gzip_C.zarr", "v2/array_bz2_C.zarr",
                      "v2/array_zstd_C.zarr"),
    [](const auto& info) {
      std::string n = info.param;
      for (char& c : n) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return n;
    });

// An uncompressed Zarr v2 int32 array written by hand (the format is raw little-endian C-order
// elements per chunk file, edge chunks padded to the full chunk), holding arange over its
// shape, so every expected value is known without lsio: element (i, j, k) is
// (i * kShape[1] + j) * kShape[2] + k. Shape 10 x 100 x 150 in chunks 4 x 64 x 128 (128 KiB):
// the edge chunks along x are read as one range (rows 8-9), those along y as one range per x
// row (36 of 64 y rows, 18 KiB each), the corner chunks as two.
class PartialReadTest : public ::testing::Test {
 protected:
  static constexpr int64_t kShape[3] = {10, 100, 150};
  static constexpr int64_t kChunk[3] = {4, 64, 128};

  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lsio_partial_XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
    Write(".zgroup", R"({"zarr_format": 2})");
    Write("a/.zarray",
          R"({"zarr_format": 2, "shape": [10, 100, 150], "chunks": [4, 64, 128], "dtype": "<i4",
              "compressor": null, "filters": null, "order": "C", "fill_value": -1})");
    Write("a/.zattrs", R"({"_ARRAY_DIMENSIONS": ["x", "y", "z"]})");
    for (int64_t ci = 0; ci * kChunk[0] < kShape[0]; ++ci) {
      for (int64_t cj = 0; cj * kChunk[1] < kShape[1]; ++cj) {
        for (int64_t ck = 0; ck * kChunk[2] < kShape[2]; ++ck) {
          std::vector<int32_t> chunk;
          for (int64_t i = 0; i < kChunk[0]; ++i) {
            for (int64_t j = 0; j < kChunk[1]; ++j) {
              for (int64_t k = 0; k < kChunk[2]; ++k) {
                const int64_t gi = ci * kChunk[0] + i, gj = cj * kChunk[1] + j,
                              gk = ck * kChunk[2] + k;
                const bool inside = gi < kShape[0] && gj < kShape[1] && gk < kShape[2];
                chunk.push_back(inside ? static_cast<int32_t>(Value(gi, gj, gk)) : -7);
              }
            }
          }
          std::string key = "a/";
          key += std::to_string(ci);
          key += '.';
          key += std::to_string(cj);
          key += '.';
          key += std::to_string(ck);
          Write(key, std::string(reinterpret_cast<const char*>(chunk.data()),
                                 chunk.size() * sizeof(int32_t)));
        }
      }
    }
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  static int64_t Value(int64_t i, int64_t j, int64_t k) {
    return (i * kShape[1] + j) * kShape[2] + k;
  }

  void Write(const std::string& rel, const std::string& bytes) {
    const std::filesystem::path p = std::filesystem::path(root_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  // Reads `sel` with both backends and compares with the values the selection names.
  void ExpectSelection(const std::vector<array::DimRange>& sel) {
    auto store_holder = kvstore::MakeFileStore(root_);
  kvstore::Store& store = *store_holder;
    Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    const zarr::Node* node = h->Find("a");
    ASSERT_NE(node, nullptr);
    std::vector<int32_t> expected;
    for (int64_t a = 0; a < sel[0].count; ++a) {
      for (int64_t b = 0; b < sel[1].count; ++b) {
        for (int64_t c = 0; c < sel[2].count; ++c) {
          expected.push_back(
              static_cast<int32_t>(Value(sel[0].index(a), sel[1].index(b), sel[2].index(c))));
        }
      }
    }
    for (io::Backend backend : {io::Backend::kUring, io::Backend::kPosix}) {
      std::vector<int32_t> got(expected.size(), 12345);
      Status st =
          ReadSelection(root_ + "/", *node, sel, std::as_writable_bytes(std::span(got)), backend);
      ASSERT_TRUE(st.ok()) << st.ToString();
      EXPECT_EQ(got, expected) << "start " << sel[0].start << "," << sel[1].start << ","
                               << sel[2].start;
    }
  }

  std::string root_;
};

TEST_F(PartialReadTest, WholeArrayAndSubSelectionsMatchTheValuesWritten) {
  using array::DimRange;
  ExpectSelection({array::FullRange(10), array::FullRange(100), array::FullRange(150)});
  ExpectSelection(
      {DimRange{1, 1, 8, false}, DimRange{2, 1, 90, false}, DimRange{0, 1, 150, false}});
  ExpectSelection(
      {DimRange{0, 3, 4, false}, DimRange{1, 2, 40, false}, DimRange{0, 1, 128, false}});
  ExpectSelection(
      {DimRange{9, 1, 1, true}, DimRange{0, 1, 100, false}, DimRange{0, 1, 150, false}});
  ExpectSelection({DimRange{5, 1, 2, false}, DimRange{99, 1, 1, false}, DimRange{2, 2, 70, false}});
  ExpectSelection(
      {DimRange{8, -2, 4, false}, DimRange{97, -3, 20, false}, DimRange{3, 1, 140, false}});
  ExpectSelection(
      {DimRange{2, 1, 5, false}, DimRange{70, 1, 20, false}, DimRange{140, 1, 1, true}});
}

TEST_F(PartialReadTest, StatisticsReadOnlyTheBytesInsideTheArray) {
  // Whole-array statistics: interior chunks are read whole, edge chunks along x and y in part
  // (the z edge, 22 of 128 columns per row, is read whole: 256 ranges would be too many).
  StatsRequest req;
  req.path = root_;
  req.variables = {"a"};
  for (io::Backend backend : {io::Backend::kUring, io::Backend::kPosix}) {
    req.io_backend = backend;
    Result<StatsReport> report = ComputeStats(req);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    const compute::Stats& s = report->variables.at(0).stats;
    const int64_t n = kShape[0] * kShape[1] * kShape[2];
    EXPECT_EQ(s.count, static_cast<uint64_t>(n));
    EXPECT_EQ(s.min, 0);
    EXPECT_EQ(s.max, static_cast<double>(n - 1));
    EXPECT_DOUBLE_EQ(s.mean, (n - 1) / 2.0);
    // Per z chunk column (2 of them, 128 KiB chunks): x chunks 0-1 read 64 + 36 y rows, x chunk
    // 2 reads 2 of its 4 x rows: (2 * (64 + 36) + 2 * (64 + 36)) rows of 128 int32.
    const uint64_t expected = 2 * (4 * (64 + 36) * 2 + 2 * (64 + 36)) * 128 * sizeof(int32_t);
    EXPECT_EQ(report->bytes_read, expected);
    EXPECT_LT(report->bytes_read, uint64_t{3 * 2 * 2} * (128 << 10));  // all chunks whole
  }
}

TEST_F(PartialReadTest, MissingEdgeChunkIsTheFillValue) {
  std::filesystem::remove(std::filesystem::path(root_) / "a/2.1.0");  // x 8-9, y 64-99
  auto store_holder = kvstore::MakeFileStore(root_);
  kvstore::Store& store = *store_holder;
  Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store);
  ASSERT_TRUE(h.ok());
  std::vector<int32_t> got(2 * 3);
  std::vector<array::DimRange> sel = {array::DimRange{8, 1, 2, false},
                                     array::DimRange{90, 1, 3, false},
                                     array::DimRange{6, 1, 1, true}};
  Status st = ReadSelection(root_, *h->Find("a"), sel, std::as_writable_bytes(std::span(got)));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(got, std::vector<int32_t>(6, -1));
  StatsRequest req;
  req.path = root_;
  Result<StatsReport> report = ComputeStats(req);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->missing_chunks, 1u);
}

TEST_F(PartialReadTest, TruncatedChunkReadInPartIsCorruptDataNamingTheChunk) {
  // Chunk 0.1.0 holds y rows 64-99 (of 64): the reads want the first 36 rows of each x row,
  // the file has 100 bytes.
  Write("a/0.1.0", std::string(100, '\0'));
  auto store_holder = kvstore::MakeFileStore(root_);
  kvstore::Store& store = *store_holder;
  Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store);
  ASSERT_TRUE(h.ok());
  std::vector<int32_t> got(10 * 100 * 150);
  std::vector<array::DimRange> full = {array::FullRange(10), array::FullRange(100),
                                      array::FullRange(150)};
  Status st = ReadSelection(root_, *h->Find("a"), full, std::as_writable_bytes(std::span(got)));
  EXPECT_EQ(st.code(), StatusCode::kCorruptData) << st.ToString();
  EXPECT_NE(st.message().find("0.1.0"), std::string::npos) << st.ToString();
}

TEST(ChunkReaderTest, ShardedFixtureReadsThroughTheIndex) {
  // uint16 8x8, inner chunks 4x4, gzip, index at the end with crc32c. zarr-python reads
  // np.arange(64).reshape(8, 8) from it (checked when the fixture was made; see zarrs'
  // sharded_array_write_read example).
  const std::string root = FixtureDir() + "/sharded_array_write_read.zarr/group";
  auto store_holder = kvstore::MakeFileStore(root);
  kvstore::Store& store = *store_holder;
  Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  const zarr::Node* node = h->Find("array");
  ASSERT_NE(node, nullptr);
  std::vector<uint16_t> all(64);
  std::vector<array::DimRange> full = {array::FullRange(8), array::FullRange(8)};
  Status st = ReadSelection(root, *node, full, std::as_writable_bytes(std::span(all)));
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (int i = 0; i < 64; ++i) EXPECT_EQ(all[i], i) << i;
}

TEST(ChunkReaderTest, UnsupportedCodecIsAClearError) {
  const std::string root = FixtureDir() + "/v2/array_pcodec_C.zarr";
  auto store_holder = kvstore::MakeFileStore(root);
  kvstore::Store& store = *store_holder;
  Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  std::vector<float> all(100);
  std::vector<array::DimRange> full = {array::FullRange(10), array::FullRange(10)};
  Status st = ReadSelection(root, h->root(), full, std::as_writable_bytes(std::span(all)));
  EXPECT_EQ(st.code(), StatusCode::kNotSupported) << st.ToString();
  EXPECT_NE(st.message().find("pcodec"), std::string::npos) << st.ToString();
}

array::ArrayInfo MemoryInfo(std::string path, std::vector<int64_t> shape,
                            std::vector<std::string> dims) {
  array::ArrayInfo info;
  info.path = std::move(path);
  info.element.storage = DataType::kFloat64;
  info.element.item_size = 8;
  info.element.name = "float64";
  info.shape = std::move(shape);
  info.dims = std::move(dims);
  info.fill_value.assign(8, std::byte{0});
  return info;
}

// Arrays held in memory (array/memory_source.h: GRIB's coordinates) read like stored ones.
TEST(MemoryArraySourceTest, ReadsSelectionsScalarsAndCoordinates) {
  auto store = kvstore::MakeFileStore(std::filesystem::temp_directory_path().string());
  // 2-D: v[i, j] = 10 i + j.
  auto values = std::make_shared<std::vector<std::byte>>(4 * 5 * 8);
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 5; ++j) {
      const double v = 10 * i + j;
      std::memcpy(values->data() + (i * 5 + j) * 8, &v, 8);
    }
  }
  Result<std::shared_ptr<const array::ArraySource>> grid = array::MakeMemoryArraySource(
      MemoryInfo("g/lat2d", {4, 5}, {"y", "x"}), values, store);
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  EXPECT_EQ((*grid)->info().chunk_shape, (std::vector<int64_t>{4, 5}));
  // A strided, reversed selection.
  std::vector<double> out(2 * 2);
  std::vector<array::DimRange> ranges = {{3, -2, 2, false}, {1, 2, 2, false}};
  Status st = array::ReadInto(**grid, ranges, std::as_writable_bytes(std::span(out)),
                              *runtime::Context::Default());
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, (std::vector<double>{31, 33, 11, 13}));
  // 0-d.
  auto one = std::make_shared<std::vector<std::byte>>(8);
  const double pi = 3.25;
  std::memcpy(one->data(), &pi, 8);
  Result<std::shared_ptr<const array::ArraySource>> scalar =
      array::MakeMemoryArraySource(MemoryInfo("g/level", {}, {}), one, store);
  ASSERT_TRUE(scalar.ok()) << scalar.status().ToString();
  double got = 0;
  st = array::ReadInto(**scalar, {}, std::as_writable_bytes(std::span(&got, 1)),
                       *runtime::Context::Default());
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(got, 3.25);
  // Wrong sizes are refused; a selection leaving the array is kOutOfRange.
  EXPECT_FALSE(array::MakeMemoryArraySource(MemoryInfo("bad", {3}, {"x"}), one, store).ok());
  std::vector<double> two(4);
  st = array::ReadInto(**grid, std::vector<array::DimRange>{{3, 1, 2, false}, {0, 1, 2, false}},
                       std::as_writable_bytes(std::span(two)), *runtime::Context::Default());
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.ToString();
}

}  // namespace
}  // namespace lsio::ops
