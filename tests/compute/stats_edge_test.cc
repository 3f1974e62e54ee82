// Hand-checked StatsAccumulator cases: errors, NaN and infinity conventions, exact extremes.

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "lsio/compute/stats.h"

namespace lsio::compute {
namespace {

template <typename T>
Stats StatsOf(DataType t, const std::vector<T>& v, StatsOptions options = {}) {
  auto acc = StatsAccumulator::Make(t, options);
  EXPECT_TRUE(acc.ok());
  EXPECT_TRUE(acc->Consume({reinterpret_cast<const std::byte*>(v.data()), v.size() * sizeof(T)})
                  .ok());
  return acc->Finalize();
}

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(StatsEdgeTest, ComplexIsNotSupported) {
  EXPECT_EQ(StatsAccumulator::Make(DataType::kComplex64).status().code(),
            StatusCode::kNotSupported);
}

TEST(StatsEdgeTest, RejectsMismatchedInput) {
  auto acc = StatsAccumulator::Make(DataType::kFloat32);
  ASSERT_TRUE(acc.ok());
  std::vector<double> d(4);
  const std::vector<int64_t> shape = {4}, start = {0};
  const ChunkView chunk{DataType::kFloat64, shape,
                        {reinterpret_cast<const std::byte*>(d.data()), 32}};
  EXPECT_EQ(acc->Consume(chunk, Box{start, shape}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(acc->Consume({reinterpret_cast<const std::byte*>(d.data()), 6}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(acc->Finalize().count, 0u);
  auto other = StatsAccumulator::Make(DataType::kFloat64);
  EXPECT_EQ(acc->Merge(*other).code(), StatusCode::kInvalidArgument);
  StatsOptions masked;
  masked.missing.fill_value = MissingValue::Float(-1);
  auto with_fill = StatsAccumulator::Make(DataType::kFloat32, masked);
  EXPECT_EQ(acc->Merge(*with_fill).code(), StatusCode::kInvalidArgument);
}

TEST(StatsEdgeTest, InfinitiesFollowNumpy) {
  // np.nansum([inf, 1]) = inf, nanmean = inf, nanstd = nan.
  Stats s = StatsOf<double>(DataType::kFloat64, {kInf, 1.0, kNaN});
  EXPECT_EQ(s.count, 2u);
  EXPECT_EQ(s.nan_count, 1u);
  EXPECT_EQ(s.sum, kInf);
  EXPECT_EQ(s.mean, kInf);
  EXPECT_EQ(s.min, 1.0);
  EXPECT_EQ(s.max, kInf);
  EXPECT_TRUE(std::isnan(s.stddev(0)));
  // inf + -inf = nan.
  s = StatsOf<float>(DataType::kFloat32, {INFINITY, -INFINITY, 3.0f});
  EXPECT_TRUE(std::isnan(s.sum));
  EXPECT_TRUE(std::isnan(s.mean));
  EXPECT_EQ(s.min, -kInf);
  EXPECT_EQ(s.max, kInf);
  // All NaN: count 0, min/max/mean/std NaN, sum 0.
  s = StatsOf<float>(DataType::kFloat32, std::vector<float>(100, NAN));
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.nan_count, 100u);
  EXPECT_TRUE(std::isnan(s.min) && std::isnan(s.max) && std::isnan(s.mean));
  EXPECT_EQ(s.sum, 0.0);
  EXPECT_TRUE(std::isnan(s.variance(0)));
  // One element: variance 0 with ddof 0, NaN with ddof 1.
  s = StatsOf<float>(DataType::kFloat32, {2.5f});
  EXPECT_EQ(s.variance(0), 0.0);
  EXPECT_TRUE(std::isnan(s.variance(1)));
}

TEST(StatsEdgeTest, ExactIntegerExtremes) {
  const int64_t mx = std::numeric_limits<int64_t>::max();
  const int64_t mn = std::numeric_limits<int64_t>::min();
  Stats s = StatsOf<int64_t>(DataType::kInt64, {mx, mx, mn});
  EXPECT_EQ(Int128ToString(s.exact_sum), "9223372036854775806");
  EXPECT_EQ(Int128ToString(s.exact_min), "-9223372036854775808");
  EXPECT_EQ(s.exact_max, mx);
  s = StatsOf<uint64_t>(DataType::kUInt64, std::vector<uint64_t>(1000, ~uint64_t{0}));
  EXPECT_EQ(Int128ToString(s.exact_sum), "18446744073709551615000");
  EXPECT_EQ(s.variance(0), 0.0);
  // Neighbouring int64 values that float64 cannot tell apart: variance 0.25, exactly.
  s = StatsOf<int64_t>(DataType::kInt64, {mx, mx - 1});
  EXPECT_EQ(s.variance(0), 0.25);
  EXPECT_EQ(Int128ToString(std::numeric_limits<__int128>::min()),
            "-170141183460469231731687303715884105728");
  EXPECT_EQ(Int128ToString(0), "0");
  // int16's worst case for the pairwise squares: every element -32768.
  s = StatsOf<int16_t>(DataType::kInt16, std::vector<int16_t>(1001, -32768));
  EXPECT_EQ(Int128ToString(s.exact_sum), "-32800768");
  EXPECT_EQ(s.variance(0), 0.0);
  EXPECT_EQ(s.mean, -32768.0);
}

TEST(StatsEdgeTest, MissingValuesAreCountedAsNan) {
  StatsOptions options;
  options.missing.fill_value = MissingValue::Signed(-9999);
  options.missing.missing_value = MissingValue::Float(7.0);
  const Stats s = StatsOf<int16_t>(DataType::kInt16, {1, -9999, 7, 3, -9999}, options);
  EXPECT_EQ(s.count, 2u);
  EXPECT_EQ(s.nan_count, 3u);
  EXPECT_EQ(s.exact_sum, 4);
  // A value that does not fit the type matches nothing.
  StatsOptions wide;
  wide.missing.fill_value = MissingValue::Signed(300);
  EXPECT_EQ(StatsOf<uint8_t>(DataType::kUInt8, {44, 255}, wide).count, 2u);
  // Float fill values match after rounding to the element type (xarray's rule).
  StatsOptions netcdf;
  netcdf.missing.fill_value = MissingValue::Float(9.969209968386869e36);
  EXPECT_EQ(StatsOf<float>(DataType::kFloat32, {1.0f, 9.96921e36f}, netcdf).count, 1u);
}

TEST(StatsEdgeTest, ScaleOffsetSwapsForNegativeScale) {
  const Stats raw = StatsOf<int16_t>(DataType::kInt16, {0, 10, 20});
  const Stats d = ApplyScaleOffset(raw, -0.5, 100.0);
  EXPECT_EQ(d.min, 90.0);
  EXPECT_EQ(d.max, 100.0);
  EXPECT_EQ(d.mean, 95.0);
  EXPECT_EQ(d.sum, 285.0);
  EXPECT_DOUBLE_EQ(d.stddev(0), 0.5 * raw.stddev(0));
  EXPECT_FALSE(d.exact);
  EXPECT_EQ(d.count, 3u);
}

}  // namespace
}  // namespace lsio::compute
