// QuantileSearch against sorting the values (numpy's definition written out plainly), with
// tiny windows so that the histogram refinement runs over several passes.

#include "lsio/compute/quantile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "numpy_quantile_reference.h"

namespace lsio::compute {
namespace {

using reference::NumpyQuantile;

std::vector<double> Search(const std::vector<double>& values, const std::vector<double>& qs,
                           int64_t bins, uint64_t max_collect, int* passes) {
  const std::vector<int64_t> shape = {static_cast<int64_t>(values.size())};
  const ChunkView view{DataType::kFloat64, shape, std::as_bytes(std::span(values))};
  const std::vector<int64_t> start = {0}, stop = {shape[0]};
  uint64_t count = 0;
  double mn = INFINITY, mx = -INFINITY;
  for (double v : values) {
    if (std::isnan(v)) continue;
    ++count;
    mn = std::min(mn, v);
    mx = std::max(mx, v);
  }
  QuantileSearch::Options o;
  o.bins = bins;
  o.max_collect = max_collect;
  Result<QuantileSearch> s = QuantileSearch::Make(DataType::kFloat64, {}, qs, count, mn, mx, o);
  EXPECT_TRUE(s.ok());
  *passes = 0;
  while (!s->done()) {
    // Two halves consumed by two accumulators and merged, as two workers would.
    Result<QuantilePass> a = s->NextPass();
    Result<QuantilePass> b = s->NextPass();
    const std::vector<int64_t> mid = {shape[0] / 2};
    EXPECT_TRUE(a->Consume(view, Box{start, mid}).ok());
    EXPECT_TRUE(b->Consume(view, Box{mid, stop}).ok());
    EXPECT_TRUE(a->Merge(*b).ok());
    EXPECT_TRUE(s->Absorb(*a).ok());
    if (++*passes > 50) break;
  }
  return s->Results();
}

TEST(QuantileSearch, EqualsSortingOnRandomTiesAndNaN) {
  std::mt19937 rng(1);
  const std::vector<double> qs = {0, 0.001, 0.01, 0.25, 0.5, 0.5, 0.75, 0.99, 0.999, 1};
  for (int trial = 0; trial < 6; ++trial) {
    std::vector<double> v(20000 + trial * 777);
    std::normal_distribution<double> normal(0, 1);
    std::uniform_int_distribution<int> small(0, 9);
    for (double& x : v) {
      x = trial % 2 == 0 ? normal(rng) : small(rng);  // odd trials: heavy ties
      if (rng() % 50 == 0) x = NAN;
    }
    int passes = 0;
    const std::vector<double> got = Search(v, qs, 16, 64, &passes);
    for (size_t i = 0; i < qs.size(); ++i) {
      EXPECT_EQ(got[i], NumpyQuantile(v, qs[i])) << "trial " << trial << " q " << qs[i];
    }
    if (trial % 2 == 0) {
      EXPECT_GT(passes, 2) << "the refinement ran over several passes";
    }
  }
}

TEST(QuantileSearch, AllEqualEmptyAndOne) {
  int passes = 0;
  EXPECT_EQ(Search(std::vector<double>(1000, 3.5), {0.3}, 16, 8, &passes)[0], 3.5);
  EXPECT_EQ(passes, 0) << "all-equal values need no pass";
  std::vector<double> nans(10, NAN);
  EXPECT_TRUE(std::isnan(Search(nans, {0.5}, 16, 8, &passes)[0]));
  EXPECT_EQ(Search({7.0}, {0.0, 0.5, 1.0}, 16, 8, &passes), (std::vector<double>{7, 7, 7}));
}

TEST(QuantileSearch, RanksInTheSameWindowShareIt) {
  // Every rank starts in [min, max]: the first pass histograms each value once, not once per
  // rank; the quantiles still equal sorting (checked above with ten quantiles).
  QuantileSearch::Options o;
  o.bins = 16;
  o.max_collect = 8;
  Result<QuantileSearch> s =
      QuantileSearch::Make(DataType::kFloat64, {}, {0.01, 0.5, 0.99}, 1000, 0.0, 1.0, o);
  ASSERT_TRUE(s.ok());
  Result<QuantilePass> pass = s->NextPass();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->windows().size(), 1u);
  EXPECT_EQ(s->pass_bytes(), 16u * 24);
}

TEST(NumpyLerp, DifferenceInTheValuesType) {
  // int16: b - a wraps as numpy's does (-30000, 30000 at 0.5 gives 32768, numpy's answer).
  EXPECT_EQ(NumpyLerp(DataType::kInt16, -30000, 30000, 0.5), 32768.0);
  // float32: the difference is rounded to float32 first.
  const double a = 0.1f, b = 0.3f;
  EXPECT_EQ(NumpyLerp(DataType::kFloat32, a, b, 0.25),
            a + static_cast<double>(static_cast<float>(b) - static_cast<float>(a)) * 0.25);
}

}  // namespace
}  // namespace lsio::compute
