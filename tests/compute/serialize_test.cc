// Serialized accumulators (lsio.dask partial results) come back with exactly the same state.
#include <sys/resource.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "lsio/compute/axis_reduction.h"
#include "lsio/compute/stats.h"

namespace lsio::compute {
namespace {

std::vector<float> RandomData(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(1e4f, 30.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  v[3] = NAN;
  v[7] = -9999.f;  // the missing value below
  return v;
}

void ExpectSameBits(double a, double b) {
  EXPECT_EQ(std::bit_cast<uint64_t>(a), std::bit_cast<uint64_t>(b)) << a << " vs " << b;
}

TEST(SerializeTest, StatsAccumulatorRoundTripsExactly) {
  StatsOptions options;
  options.missing.fill_value = MissingValue::Float(-9999.0);
  std::vector<float> a = RandomData(5000, 1), b = RandomData(3000, 2);
  Result<StatsAccumulator> x = StatsAccumulator::Make(DataType::kFloat32, options);
  Result<StatsAccumulator> y = StatsAccumulator::Make(DataType::kFloat32, options);
  ASSERT_TRUE(x.ok() && y.ok());
  ASSERT_TRUE(x->Consume(std::as_bytes(std::span(a))).ok());
  ASSERT_TRUE(y->Consume(std::as_bytes(std::span(b))).ok());

  Result<StatsAccumulator> x2 = StatsAccumulator::Deserialize(x->Serialize());
  Result<StatsAccumulator> y2 = StatsAccumulator::Deserialize(y->Serialize());
  ASSERT_TRUE(x2.ok()) << x2.status().ToString();
  ASSERT_TRUE(y2.ok());
  ASSERT_TRUE(x->Merge(*y).ok());
  ASSERT_TRUE(x2->Merge(*y2).ok());  // also checks the missing values came back equal
  const Stats s1 = x->Finalize(), s2 = x2->Finalize();
  EXPECT_EQ(s1.count, s2.count);
  EXPECT_EQ(s1.nan_count, s2.nan_count);
  EXPECT_EQ(s1.nan_count, 4u);
  ExpectSameBits(s1.min, s2.min);
  ExpectSameBits(s1.max, s2.max);
  ExpectSameBits(s1.sum, s2.sum);
  ExpectSameBits(s1.mean, s2.mean);
  ExpectSameBits(s1.m2, s2.m2);
}

TEST(SerializeTest, IntegerStatsKeepTheirExactSums) {
  std::vector<int64_t> v = {INT64_MAX, INT64_MAX, -5, 7};
  Result<StatsAccumulator> x = StatsAccumulator::Make(DataType::kInt64);
  ASSERT_TRUE(x->Consume(std::as_bytes(std::span(v))).ok());
  Result<StatsAccumulator> x2 = StatsAccumulator::Deserialize(x->Serialize());
  ASSERT_TRUE(x2.ok());
  const Stats s = x2->Finalize();
  EXPECT_TRUE(s.exact);
  EXPECT_EQ(s.exact_sum, static_cast<__int128>(INT64_MAX) * 2 + 2);
  EXPECT_EQ(s.exact_max, INT64_MAX);
}

TEST(SerializeTest, ReductionGridRoundTripsExactly) {
  const std::vector<int64_t> chunk_shape = {4, 3, 5};
  std::vector<float> data = RandomData(60, 3);
  const std::vector<size_t> reduced = {0};
  const std::vector<int64_t> grid_shape = {3, 5};
  Result<ReductionGrid> g = ReductionGrid::Make(DataType::kFloat32, 3, reduced, grid_shape);
  ASSERT_TRUE(g.ok());
  const std::vector<int64_t> start = {0, 0, 0}, stop = {4, 3, 5}, origin = {0, 0};
  ChunkView view{DataType::kFloat32, chunk_shape, std::as_bytes(std::span(data))};
  ASSERT_TRUE(g->Consume(view, Box{start, stop}, origin).ok());
  Result<ReductionGrid> g2 = ReductionGrid::Deserialize(g->Serialize());
  ASSERT_TRUE(g2.ok()) << g2.status().ToString();
  for (CellStatistic s : {CellStatistic::kCount, CellStatistic::kNanCount, CellStatistic::kMin,
                          CellStatistic::kMax, CellStatistic::kSum, CellStatistic::kMean,
                          CellStatistic::kStd}) {
    std::vector<double> a(15), b(15);
    ASSERT_TRUE(g->Finalize(s, a).ok());
    ASSERT_TRUE(g2->Finalize(s, b).ok());
    for (size_t i = 0; i < a.size(); ++i) ExpectSameBits(a[i], b[i]);
  }
  ASSERT_TRUE(g->Merge(*g2).ok());
}

TEST(SerializeTest, DamagedBytesAreRefused) {
  Result<StatsAccumulator> x = StatsAccumulator::Make(DataType::kFloat64);
  std::string bytes = x->Serialize();
  EXPECT_EQ(StatsAccumulator::Deserialize(bytes.substr(0, bytes.size() - 1)).status().code(),
            StatusCode::kCorruptData);
  EXPECT_EQ(StatsAccumulator::Deserialize(bytes + "x").status().code(),
            StatusCode::kCorruptData);
  std::string wrong = bytes;
  wrong[0] ^= 1;
  EXPECT_EQ(StatsAccumulator::Deserialize(wrong).status().code(), StatusCode::kCorruptData);
  const std::vector<size_t> reduced = {0};
  const std::vector<int64_t> grid_shape = {2};
  Result<ReductionGrid> g = ReductionGrid::Make(DataType::kInt16, 2, reduced, grid_shape);
  std::string gb = g->Serialize();
  EXPECT_EQ(ReductionGrid::Deserialize(gb.substr(0, gb.size() - 8)).status().code(),
            StatusCode::kCorruptData);
  EXPECT_EQ(ReductionGrid::Deserialize(bytes).status().code(), StatusCode::kCorruptData);
}

// Found by fuzz/partial_stats (UBSan: signed overflow computing the grid's strides): a grid
// with a zero extent whose other extents multiply past int64 has no cells, and its serialized
// form round-trips. Under `make test-asan` the overflow itself would fail this test.
TEST(SerializeTest, EmptyGridWithHugeExtentsHasNoCells) {
  const std::vector<int64_t> grid_shape = {0, 467748913152, 173546153986};
  Result<ReductionGrid> g = ReductionGrid::Make(DataType::kFloat32, 3, {}, grid_shape);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->cell_count(), 0);
  Result<ReductionGrid> back = ReductionGrid::Deserialize(g->Serialize());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->cell_count(), 0);
  EXPECT_EQ(std::vector<int64_t>(back->grid_shape().begin(), back->grid_shape().end()),
            grid_shape);
}

// Found by fuzz/partial_stats (libFuzzer out-of-memory: a 4 GiB allocation from a 90-byte
// input): a header whose shape promises more cells than the bytes hold is refused before the
// grid is allocated.
TEST(SerializeTest, GridHeaderPromisingMoreCellsThanTheBytesHoldAllocatesNothing) {
  const std::vector<size_t> reduced = {0};
  const std::vector<int64_t> grid_shape = {2};
  Result<ReductionGrid> g = ReductionGrid::Make(DataType::kFloat32, 2, reduced, grid_shape);
  ASSERT_TRUE(g.ok());
  std::string bytes = g->Serialize();
  // magic u32, dtype u8, rank u64, reduced-axis count u64, one reduced axis u64, then the shape.
  constexpr size_t kShapeOffset = 4 + 1 + 8 + 8 + 8;
  int64_t extent = 0;
  std::memcpy(&extent, bytes.data() + kShapeOffset, 8);
  ASSERT_EQ(extent, 2) << "serialized layout changed; update kShapeOffset";
  extent = int64_t{1} << 26;  // 2^26 cells: 4 GiB of state, under the grid's 8 GiB limit
  std::memcpy(bytes.data() + kShapeOffset, &extent, 8);

  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  Result<ReductionGrid> back = ReductionGrid::Deserialize(bytes);
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  EXPECT_EQ(back.status().code(), StatusCode::kCorruptData);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 256 * 1024) << "peak RSS grew (KiB)";
}

}  // namespace
}  // namespace lsio::compute
