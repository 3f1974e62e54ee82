#include "lsio/compute/chunk_box.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lsio/compute/simd_target.h"
#include "src/compute/runs.h"

namespace lsio::compute {
namespace {

TEST(ElementCountTest, ProductOrMinusOne) {
  EXPECT_EQ(ElementCount(std::vector<int64_t>{}), 1);
  EXPECT_EQ(ElementCount(std::vector<int64_t>{3, 0, 5}), 0);
  EXPECT_EQ(ElementCount(std::vector<int64_t>{3, 4, 5}), 60);
  EXPECT_EQ(ElementCount(std::vector<int64_t>{-1}), -1);
  EXPECT_EQ(ElementCount(std::vector<int64_t>{int64_t{1} << 40, int64_t{1} << 40}), -1);
}

TEST(ValidateChunkBoxTest, AcceptsConsistentInput) {
  std::vector<float> data(24);
  const std::vector<int64_t> shape = {2, 3, 4}, start = {0, 1, 1}, stop = {2, 3, 4};
  const ChunkView chunk{DataType::kFloat32, shape,
                        {reinterpret_cast<const std::byte*>(data.data()), 96}};
  EXPECT_TRUE(ValidateChunkBox(chunk, Box{start, stop}).ok());
  const std::vector<int64_t> empty_start = {1, 1, 1}, empty_stop = {1, 3, 4};
  EXPECT_TRUE(ValidateChunkBox(chunk, Box{empty_start, empty_stop}).ok());
}

TEST(ValidateChunkBoxTest, RejectsMalformedInput) {
  std::vector<double> data(25);
  const auto* bytes = reinterpret_cast<const std::byte*>(data.data());
  const std::vector<int64_t> shape = {2, 3, 4}, start = {0, 0, 0}, stop = {2, 3, 4};
  auto code = [](const ChunkView& c, const Box& b) { return ValidateChunkBox(c, b).code(); };
  // Wrong byte count.
  EXPECT_EQ(code({DataType::kFloat64, shape, {bytes, 25 * 8}}, {start, stop}),
            StatusCode::kInvalidArgument);
  // Misaligned.
  EXPECT_EQ(code({DataType::kFloat64, shape, {bytes + 4, 24 * 8}}, {start, stop}),
            StatusCode::kInvalidArgument);
  const ChunkView ok{DataType::kFloat64, shape, {bytes, 24 * 8}};
  // Box rank.
  const std::vector<int64_t> two = {0, 0};
  EXPECT_EQ(code(ok, {two, two}), StatusCode::kInvalidArgument);
  // Outside, inverted, negative.
  const std::vector<int64_t> past = {2, 3, 5}, negative = {-1, 0, 0};
  const std::vector<int64_t> inverted_start = {1, 0, 0}, inverted_stop = {0, 3, 4};
  EXPECT_EQ(code(ok, {start, past}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(ok, {inverted_start, inverted_stop}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(ok, {negative, stop}), StatusCode::kInvalidArgument);
  // Complex elements, negative extents, rank beyond kMaxRank.
  EXPECT_EQ(code({DataType::kComplex128, {}, {bytes, 16}}, {{}, {}}),
            StatusCode::kInvalidArgument);
  const std::vector<int64_t> neg_shape = {-2, 3};
  EXPECT_EQ(code({DataType::kFloat64, neg_shape, {bytes, 0}}, {two, two}),
            StatusCode::kInvalidArgument);
  const std::vector<int64_t> deep(kMaxRank + 1, 1);
  EXPECT_EQ(code({DataType::kFloat64, deep, {bytes, 8}}, {deep, deep}),
            StatusCode::kInvalidArgument);
  // The message names the axis and the values.
  const Status st = ValidateChunkBox(ok, {start, past});
  EXPECT_NE(st.message().find("axis 2"), std::string::npos) << st.message();
}

// ForEachRun against a naive walk of every element of the box.
TEST(ForEachRunTest, RunsCoverTheBoxInCOrder) {
  const std::vector<int64_t> shape = {3, 4, 5, 6};
  std::vector<int32_t> data(360);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<int32_t>(i);
  const ChunkView chunk{DataType::kInt32, shape,
                        {reinterpret_cast<const std::byte*>(data.data()), data.size() * 4}};
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> boxes = {
      {{0, 0, 0, 0}, {3, 4, 5, 6}},  // whole chunk: one run
      {{1, 0, 0, 0}, {3, 4, 5, 6}},  // leading axis cut: still one run
      {{0, 1, 0, 0}, {3, 3, 5, 6}},  // runs of 2*5*6
      {{0, 0, 2, 1}, {3, 4, 4, 5}},
      {{2, 3, 4, 5}, {3, 4, 5, 6}},  // one element
      {{0, 0, 0, 0}, {3, 4, 0, 6}},  // empty
  };
  const std::vector<size_t> expected_runs = {1, 1, 3, 24, 1, 0};
  for (size_t b = 0; b < boxes.size(); ++b) {
    const auto& [start, stop] = boxes[b];
    std::vector<int32_t> got;
    size_t runs = 0;
    internal::ForEachRun(chunk, Box{start, stop}, [&](const std::byte* p, size_t n) {
      ++runs;
      const auto* q = reinterpret_cast<const int32_t*>(p);
      got.insert(got.end(), q, q + n);
    });
    std::vector<int32_t> want;
    for (int64_t i = start[0]; i < stop[0]; ++i)
      for (int64_t j = start[1]; j < stop[1]; ++j)
        for (int64_t k = start[2]; k < stop[2]; ++k)
          for (int64_t l = start[3]; l < stop[3]; ++l)
            want.push_back(static_cast<int32_t>(((i * 4 + j) * 5 + k) * 6 + l));
    EXPECT_EQ(got, want) << "box " << b;
    EXPECT_EQ(runs, expected_runs[b]) << "box " << b;
  }
  // Rank 0: one element.
  size_t elements = 0;
  const ChunkView scalar{DataType::kInt32, {}, {chunk.bytes.data(), 4}};
  internal::ForEachRun(scalar, Box{}, [&](const std::byte*, size_t n) { elements += n; });
  EXPECT_EQ(elements, 1u);
}

TEST(SimdTargetTest, NamesAHighwayTarget) {
  const std::string name = SimdTargetName();
  EXPECT_FALSE(name.empty());
#if defined(__x86_64__)
  EXPECT_TRUE(name == "AVX3" || name == "AVX3_DL" || name == "AVX2" || name == "SSE4" ||
              name == "SSSE3" || name == "SCALAR")
      << name;
#endif
}

}  // namespace
}  // namespace lsio::compute
