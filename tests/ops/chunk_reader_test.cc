#include "lsio/ops/chunk_reader.h"

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lsio/format/zarr/hierarchy.h"
#include "lsio/format/zarr/store.h"

namespace lsio::ops {
namespace {

std::string FixtureDir() {
  const char* shared = std::getenv("LSIO_SHARED_FIXTURES");
  return std::string(shared ? shared : "../shared/fixtures") + "/zarrs";
}

// The zarrs fixtures hold np.arange(100).reshape(10, 10) as float32 (see their README).
class FixtureReadTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureReadTest, ReadsArangeAndSelections) {
  const std::string root = FixtureDir() + "/" + GetParam();
  zarr::LocalStore store(root);
  Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  const zarr::Node& node = h->root();
  ASSERT_TRUE(node.is_array());
  for (io::Backend backend : {io::Backend::kUring, io::Backend::kPosix}) {
    ReadOptions options;
    options.scheduler.io.backend = backend;
    options.scheduler.threads = 2;
    std::vector<float> all(100);
    std::vector<zarr::DimRange> full = {zarr::FullRange(10), zarr::FullRange(10)};
    Status st = ReadSelection(root, node, full, std::as_writable_bytes(std::span(all)), options);
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (int i = 0; i < 100; ++i) EXPECT_EQ(all[i], static_cast<float>(i)) << GetParam() << i;

    // [2:9:3, 7] -> rows 2, 5, 8 of column 7, the column dropped.
    std::vector<float> part(3);
    std::vector<zarr::DimRange> sel = {zarr::DimRange{2, 3, 3, false},
                                       zarr::DimRange{7, 1, 1, true}};
    st = ReadSelection(root, node, sel, std::as_writable_bytes(std::span(part)), options);
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

TEST(ChunkReaderTest, ShardedFixtureReadsThroughTheIndex) {
  // uint16 8x8, inner chunks 4x4, gzip, index at the end with crc32c. zarr-python reads
  // np.arange(64).reshape(8, 8) from it (checked when the fixture was made; see zarrs'
  // sharded_array_write_read example).
  const std::string root = FixtureDir() + "/sharded_array_write_read.zarr/group";
  zarr::LocalStore store(root);
  Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  const zarr::Node* node = h->Find("array");
  ASSERT_NE(node, nullptr);
  std::vector<uint16_t> all(64);
  std::vector<zarr::DimRange> full = {zarr::FullRange(8), zarr::FullRange(8)};
  Status st = ReadSelection(root, *node, full, std::as_writable_bytes(std::span(all)));
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (int i = 0; i < 64; ++i) EXPECT_EQ(all[i], i) << i;
}

TEST(ChunkReaderTest, UnsupportedCodecIsAClearError) {
  const std::string root = FixtureDir() + "/v2/array_pcodec_C.zarr";
  zarr::LocalStore store(root);
  Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  std::vector<float> all(100);
  std::vector<zarr::DimRange> full = {zarr::FullRange(10), zarr::FullRange(10)};
  Status st = ReadSelection(root, h->root(), full, std::as_writable_bytes(std::span(all)));
  EXPECT_EQ(st.code(), StatusCode::kNotSupported) << st.ToString();
  EXPECT_NE(st.message().find("pcodec"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace lsio::ops
