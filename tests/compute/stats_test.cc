// StatsAccumulator against numpy (make_reference.py), on every SIMD target.

#include "lsio/compute/stats.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference.h"

namespace lsio::compute {
namespace {

using testing::ExpectClose;
using testing::ExpectSame;
using testing::ExpectStd;
using testing::F;
using testing::I128;
using nlohmann::json;

// Compares finished statistics with make_reference.py's expectations:
//   counts, integer min/max/sum: exact; float min/max: exact;
//   mean: relative error <= 1e-12 (integers: against the exact mean). For float data the
//     error is measured against max(|mean|, mean(|x|)): the same thing for data of one sign,
//     and, where positive and negative values cancel, the scale that the error of any
//     floating-point summation is proportional to (the reference itself is exactly rounded);
//   float sum: the same, against max(|sum|, sum(|x|));
//   std with ddof 0 and 1: relative error <= 1e-9 (ExpectStd; for constant data, where the
//     reference is 0, at most 1e-14 of mean(|x|)).
void ExpectStats(const Stats& s, const json& exp) {
  const uint64_t count = std::stoull(exp["count"].get<std::string>());
  EXPECT_EQ(s.count, count);
  EXPECT_EQ(s.nan_count, std::stoull(exp["nan_count"].get<std::string>()));
  const double mean_abs = F(exp["mean_abs"]);
  if (s.exact) {
    EXPECT_EQ(Int128ToString(s.exact_sum), exp["sum"].get<std::string>());
    if (count > 0) {
      EXPECT_EQ(Int128ToString(s.exact_min), exp["min"].get<std::string>());
      EXPECT_EQ(Int128ToString(s.exact_max), exp["max"].get<std::string>());
      EXPECT_EQ(s.min, static_cast<double>(I128(exp["min"])));
      EXPECT_EQ(s.max, static_cast<double>(I128(exp["max"])));
      const double mean = F(exp["mean"]);
      ExpectClose(s.mean, mean, 1e-12, std::fabs(mean), "mean");
    } else {
      ExpectSame(s.mean, NAN, "mean of nothing");
      ExpectSame(s.min, NAN, "min of nothing");
    }
  } else {
    ExpectSame(s.min, F(exp["min"]), "min");
    ExpectSame(s.max, F(exp["max"]), "max");
    const double mean = F(exp["mean"]);
    ExpectClose(s.mean, mean, 1e-12, std::max(std::fabs(mean), mean_abs), "mean");
    const double sum = F(exp["sum"]);
    ExpectClose(s.sum, sum, 1e-12, std::max(std::fabs(sum), mean_abs * count), "sum");
  }
  ExpectStd(s.stddev(0), F(exp["std0"]), mean_abs, "std ddof=0");
  ExpectStd(s.stddev(1), F(exp["std1"]), mean_abs, "std ddof=1");
}

struct Case {
  std::string name;
  testing::NpyArray array;
  std::vector<int64_t> start, stop;
  StatsOptions options;
  json expect;
};

std::vector<Case> LoadCases() {
  std::vector<Case> cases;
  for (const json& c : testing::Manifest()["stats"]) {
    Case k;
    k.name = c["name"].get<std::string>();
    k.array = testing::LoadArray(c["file"].get<std::string>());
    EXPECT_EQ(DataTypeName(k.array.dtype), c["dtype"].get<std::string>());
    k.start = c["box_start"].get<std::vector<int64_t>>();
    k.stop = c["box_stop"].get<std::vector<int64_t>>();
    k.options.missing = testing::ParseMissing(c["missing"]);
    k.expect = c["expect"];
    cases.push_back(std::move(k));
  }
  EXPECT_GT(cases.size(), 500u);
  return cases;
}

const std::vector<Case>& Cases() {
  static const std::vector<Case>* cases = new std::vector<Case>(LoadCases());
  return *cases;
}

class StatsReferenceTest : public testing::KernelTargetTest {};

TEST_P(StatsReferenceTest, OneAccumulatorMatchesNumpy) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    auto acc = StatsAccumulator::Make(c.array.dtype, c.options);
    ASSERT_TRUE(acc.ok());
    const Status st = acc->Consume(c.array.view(), Box{c.start, c.stop});
    EXPECT_TRUE(st.ok()) << st.ToString();
    ExpectStats(acc->Finalize(), c.expect);
  }
}

// The box is cut into random parts along random axes (some parts empty), each part goes into its
// own accumulator, and the accumulators are merged in a random tree.
TEST_P(StatsReferenceTest, MergedPartsMatchNumpy) {
  std::mt19937_64 rng(42);
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    std::vector<StatsAccumulator> parts;
    const size_t rank = c.start.size();
    // Boxes to split; each split cuts one box along one axis at a random point.
    std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> boxes = {{c.start, c.stop}};
    const int splits = rank == 0 ? 0 : static_cast<int>(rng() % 6);
    for (int i = 0; i < splits; ++i) {
      auto [s, e] = boxes[rng() % boxes.size()];
      const size_t axis = rng() % rank;
      const int64_t cut = s[axis] + static_cast<int64_t>(rng() % (e[axis] - s[axis] + 1));
      auto lo = std::make_pair(s, e);
      auto hi = std::make_pair(s, e);
      lo.second[axis] = cut;
      hi.first[axis] = cut;
      boxes.erase(std::find(boxes.begin(), boxes.end(), std::make_pair(s, e)));
      boxes.push_back(lo);
      boxes.push_back(hi);
    }
    for (const auto& [s, e] : boxes) {
      auto acc = StatsAccumulator::Make(c.array.dtype, c.options);
      ASSERT_TRUE(acc.ok());
      ASSERT_TRUE(acc->Consume(c.array.view(), Box{s, e}).ok());
      parts.push_back(std::move(acc).value());
    }
    while (parts.size() > 1) {
      const size_t i = rng() % parts.size();
      size_t j = rng() % (parts.size() - 1);
      if (j >= i) ++j;
      ASSERT_TRUE(parts[i].Merge(parts[j]).ok());
      parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(j));
    }
    ExpectStats(parts[0].Finalize(), c.expect);
  }
}

// Whole-chunk cases fed as flat spans split at random element offsets.
TEST_P(StatsReferenceTest, FlatSpansMatchNumpy) {
  std::mt19937_64 rng(7);
  for (const Case& c : Cases()) {
    if (c.start != std::vector<int64_t>(c.start.size(), 0) || c.stop != c.array.shape) continue;
    SCOPED_TRACE(c.name);
    const size_t width = ByteWidth(c.array.dtype);
    const size_t n = static_cast<size_t>(c.array.size());
    std::vector<size_t> cuts = {0, n};
    for (int i = 0; i < 4; ++i) cuts.push_back(n ? rng() % (n + 1) : 0);
    std::sort(cuts.begin(), cuts.end());
    auto total = StatsAccumulator::Make(c.array.dtype, c.options);
    ASSERT_TRUE(total.ok());
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
      auto part = StatsAccumulator::Make(c.array.dtype, c.options);
      ASSERT_TRUE(part.ok());
      ASSERT_TRUE(part->Consume(c.array.data.span().subspan(cuts[i] * width,
                                                            (cuts[i + 1] - cuts[i]) * width))
                      .ok());
      ASSERT_TRUE(total->Merge(*part).ok());
    }
    ExpectStats(total->Finalize(), c.expect);
  }
}

// CF decoding: statistics of raw * scale_factor + add_offset with the fill value masked, from
// the raw statistics, against numpy on the decoded float64 data.
TEST_P(StatsReferenceTest, ScaleOffsetMatchesDecodedNumpy) {
  for (const json& c : testing::Manifest()["scale_offset"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const testing::NpyArray raw = testing::LoadArray(c["file"].get<std::string>());
    StatsOptions options;
    options.missing = testing::ParseMissing(c["missing"]);
    auto acc = StatsAccumulator::Make(raw.dtype, options);
    ASSERT_TRUE(acc.ok());
    ASSERT_TRUE(acc->Consume(raw.data.span()).ok());
    const Stats s = ApplyScaleOffset(acc->Finalize(), F(c["scale_factor"]), F(c["add_offset"]));
    EXPECT_FALSE(s.exact);
    ExpectStats(s, c["expect"]);
  }
}

LSIO_INSTANTIATE_FOR_KERNEL_TARGETS(StatsReferenceTest);

}  // namespace
}  // namespace lsio::compute
