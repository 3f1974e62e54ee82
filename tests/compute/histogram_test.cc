// HistogramAccumulator against numpy.histogram (make_reference.py), on every SIMD target.

#include "lsio/compute/histogram.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference.h"

namespace lsio::compute {
namespace {

using nlohmann::json;
using testing::F;

class HistogramReferenceTest : public testing::KernelTargetTest {};

HistogramOptions Range(int64_t bins, double lo, double hi) {
  HistogramOptions options;
  options.bins = bins;
  options.lo = lo;
  options.hi = hi;
  return options;
}

Result<HistogramAccumulator> MakeFor(const json& c, DataType dtype) {
  HistogramOptions options;
  options.bins = c["bins"].get<int64_t>();
  options.lo = F(c["lo"]);
  options.hi = F(c["hi"]);
  options.missing = testing::ParseMissing(c["missing"]);
  if (c.contains("decoding")) {
    const json& d = c["decoding"];
    ValueDecoding decoding;
    decoding.type = d["type"] == "float32" ? DataType::kFloat32 : DataType::kFloat64;
    if (d.contains("scale")) decoding.scale = F(d["scale"]);
    if (d.contains("offset")) decoding.offset = F(d["offset"]);
    options.decoding = decoding;
  }
  return HistogramAccumulator::Make(dtype, options);
}

void ExpectMatches(const HistogramAccumulator& h, const json& c) {
  const auto& counts = c["counts"];
  ASSERT_EQ(h.counts().size(), counts.size());
  for (size_t i = 0; i < counts.size(); ++i) {
    EXPECT_EQ(h.counts()[i], std::stoull(counts[i].get<std::string>())) << "bin " << i;
  }
  const auto& edges = c["edges"];
  ASSERT_EQ(h.edges().size(), edges.size());
  for (size_t i = 0; i < edges.size(); ++i) EXPECT_EQ(h.edges()[i], F(edges[i])) << "edge " << i;
}

TEST_P(HistogramReferenceTest, CountsAndEdgesMatchNumpy) {
  std::mt19937_64 rng(3);
  size_t cases = 0;
  for (const json& c : testing::Manifest()["histograms"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const testing::NpyArray a = testing::LoadArray(c["file"].get<std::string>());
    auto h = MakeFor(c, a.dtype);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    ASSERT_TRUE(h->Consume(a.view(), Box{std::vector<int64_t>(a.shape.size(), 0), a.shape}).ok());
    ExpectMatches(*h, c);
    uint64_t binned = 0;
    for (uint64_t k : h->counts()) binned += k;
    EXPECT_EQ(binned + h->below() + h->above() + h->nan_count(), static_cast<uint64_t>(a.size()));

    // The same data in three flat parts, merged.
    const size_t n = static_cast<size_t>(a.size());
    const size_t w = ByteWidth(a.dtype);
    size_t cut1 = rng() % (n + 1), cut2 = rng() % (n + 1);
    if (cut1 > cut2) std::swap(cut1, cut2);
    auto total = MakeFor(c, a.dtype);
    ASSERT_TRUE(total.ok());
    for (auto [from, to] : {std::pair{size_t{0}, cut1}, {cut1, cut2}, {cut2, n}}) {
      auto part = MakeFor(c, a.dtype);
      ASSERT_TRUE(part.ok());
      ASSERT_TRUE(part->Consume(a.data.span().subspan(from * w, (to - from) * w)).ok());
      ASSERT_TRUE(total->Merge(*part).ok());
    }
    ExpectMatches(*total, c);
    ++cases;
  }
  EXPECT_GT(cases, 40u);
}

LSIO_INSTANTIATE_FOR_KERNEL_TARGETS(HistogramReferenceTest);

TEST(HistogramTest, RejectsBadOptions) {
  EXPECT_EQ(HistogramAccumulator::Make(DataType::kFloat32, Range(0, 0, 1)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(HistogramAccumulator::Make(DataType::kFloat32, Range(10, 1, 0)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(HistogramAccumulator::Make(DataType::kFloat32, Range(10, 0, INFINITY)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(HistogramAccumulator::Make(DataType::kComplex64, Range(10, 0, 1)).status().code(),
            StatusCode::kNotSupported);
  // 2000 bins over [1000, 1001] cannot have distinct float16 edges (numpy raises too).
  EXPECT_EQ(HistogramAccumulator::Make(DataType::kFloat16, Range(2000, 1000, 1001))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(HistogramAccumulator::Make(DataType::kFloat64, Range(2000, 1000, 1001)).ok());
}

TEST(HistogramTest, MergeRejectsDifferentBins) {
  auto a = HistogramAccumulator::Make(DataType::kFloat32, Range(10, 0, 1));
  auto b = HistogramAccumulator::Make(DataType::kFloat32, Range(11, 0, 1));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->Merge(*b).code(), StatusCode::kInvalidArgument);
  // Same edges, values decoded differently.
  HistogramOptions scaled = Range(10, 0, 1);
  scaled.decoding = ValueDecoding{DataType::kFloat64, 0.5, std::nullopt};
  auto c = HistogramAccumulator::Make(DataType::kInt16, Range(10, 0, 1));
  auto d = HistogramAccumulator::Make(DataType::kInt16, scaled);
  ASSERT_TRUE(c.ok() && d.ok());
  EXPECT_EQ(c->Merge(*d).code(), StatusCode::kInvalidArgument);
}

// numpy.histogram of no values: the range (0, 1) comes as Python ints, and numpy computes those
// edges in float64 and rounds them (np.histogram(np.array([], np.float16), bins=7)[1]).
TEST(HistogramTest, NoValuesHaveNumpysFloat64EdgesRounded) {
  HistogramOptions options = Range(7, 0, 1);
  options.range_of_no_values = true;
  auto h = HistogramAccumulator::Make(DataType::kFloat16, options);
  ASSERT_TRUE(h.ok());
  const std::vector<double> want = {0.0,          0.142822265625, 0.28564453125, 0.428466796875,
                                    0.5712890625, 0.71435546875,  0.85693359375, 1.0};
  EXPECT_EQ(std::vector<double>(h->edges().begin(), h->edges().end()), want);
  // In float16 arithmetic (numpy's edges for data whose min and max are 0 and 1) the sixth edge
  // is 0.7138671875.
  auto in_type = HistogramAccumulator::Make(DataType::kFloat16, Range(7, 0, 1));
  ASSERT_TRUE(in_type.ok());
  EXPECT_NE(std::vector<double>(in_type->edges().begin(), in_type->edges().end()), want);
}

TEST(HistogramTest, DecodingMustBeToAFloatType) {
  HistogramOptions options = Range(10, 0, 1);
  options.decoding = ValueDecoding{DataType::kInt32, 2.0, std::nullopt};
  EXPECT_EQ(HistogramAccumulator::Make(DataType::kInt16, options).status().code(),
            StatusCode::kInvalidArgument);
}

// xarray's arithmetic: converted to the type, times scale, plus offset, each rounded to it.
TEST(HistogramTest, ValueDecodingRoundsEachStepToItsType) {
  const ValueDecoding f64{DataType::kFloat64, 0.1, 0.2};
  EXPECT_EQ(f64.Apply(3), 3 * 0.1 + 0.2);
  const ValueDecoding f32{DataType::kFloat32, 0.1, 0.2};
  const float x = 3.0f * 0.1f;
  EXPECT_EQ(f32.Apply(3), static_cast<double>(x + 0.2f));
  const ValueDecoding only_type{DataType::kFloat32, std::nullopt, std::nullopt};
  EXPECT_EQ(only_type.Apply(16777217.0), 16777216.0);
}

}  // namespace
}  // namespace lsio::compute
