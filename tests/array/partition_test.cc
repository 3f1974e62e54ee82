// array/partition.h: block shapes for dask chunks and aligned splits for scale-out shares,
// checked against hand-worked cases and against brute-force invariants.

#include "lsio/array/partition.h"

#include <gtest/gtest.h>

#include <random>

namespace lsio::array {
namespace {

ArrayInfo Info(std::vector<int64_t> shape, std::vector<int64_t> chunk,
               std::vector<int64_t> storage, DataType type = DataType::kFloat32) {
  ArrayInfo info;
  info.path = "t2m";
  info.element.storage = type;
  info.shape = std::move(shape);
  info.chunk_shape = std::move(chunk);
  info.storage_chunk_shape = std::move(storage);
  return info;
}

constexpr uint64_t kMiB = uint64_t{1} << 20;

uint64_t Bytes(const std::vector<int64_t>& block, size_t element) {
  uint64_t n = element;
  for (int64_t b : block) n *= b;
  return n;
}

TEST(PreferredBlockShape, GroupsSmallChunksAlongTheSlowestDimensionsFirst) {
  // The stats benchmark's 64 KiB chunks: 256 time steps fill 16 MiB, then lat groups by 4.
  auto b = PreferredBlockShape(Info({256, 720, 1440}, {1, 128, 128}, {1, 128, 128}));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*b, (std::vector<int64_t>{256, 512, 128}));
  // 8 MiB chunks: 8 of them along time make 64 MiB.
  b = PreferredBlockShape(Info({1024, 720, 1440}, {8, 512, 512}, {8, 512, 512}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<int64_t>{64, 512, 512}));
  // Shards of 16 MiB (inner chunks 1 MiB): whole shards grouped, never inner chunks.
  b = PreferredBlockShape(Info({1024, 720, 1440}, {4, 128, 128}, {16, 512, 512}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<int64_t>{64, 512, 512}));
}

TEST(PreferredBlockShape, KeepsAStorageChunkInRangeAndSplitsBigShards) {
  // A 64 MiB chunk is a block by itself.
  auto b = PreferredBlockShape(Info({100, 4096, 4096}, {1, 4096, 4096}, {1, 4096, 4096}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<int64_t>{1, 4096, 4096}));
  // A 1 GiB shard of 16 MiB inner chunks: split in time into the largest blocks of whole inner
  // chunks that divide the shard and stay within 128 MiB: 8 of its 64 time steps.
  b = PreferredBlockShape(Info({256, 2048, 2048}, {1, 2048, 2048}, {64, 2048, 2048}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<int64_t>{8, 2048, 2048}));
  EXPECT_EQ(64 % (*b)[0], 0);
  // Inner chunks of 2 time steps, shard of 6: blocks must be 2, 6 (divisors in whole inner
  // chunks): 6 x 32 MiB = 192 MiB is too big, 2 x 32 MiB = 64 MiB fits.
  b = PreferredBlockShape(Info({60, 2048, 4096}, {2, 2048, 4096}, {6, 2048, 4096}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<int64_t>{2, 2048, 4096}));
}

TEST(PreferredBlockShape, SmallArraysAndEdgeCases) {
  // The whole array is smaller than min_bytes: one block covering it.
  auto b = PreferredBlockShape(Info({23, 17, 29}, {5, 6, 7}, {10, 6, 14}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<int64_t>{23, 17, 29}));
  // A zero-sized dimension.
  b = PreferredBlockShape(Info({0, 10}, {4, 10}, {4, 10}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<int64_t>{1, 10}));
  // Rank 0.
  b = PreferredBlockShape(Info({}, {}, {}));
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->empty());
  EXPECT_EQ(PreferredBlockShape(Info({10}, {0}, {0})).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(PreferredBlockShape(Info({10, 10}, {1}, {1})).status().code(),
            StatusCode::kInvalidArgument);
  BlockOptions bad;
  bad.min_bytes = 10 * kMiB;
  bad.target_bytes = 5 * kMiB;
  EXPECT_EQ(PreferredBlockShape(Info({10}, {1}, {1}), bad).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PreferredBlockShape, InvariantsOnRandomGrids) {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    const size_t rank = 1 + rng() % 4;
    std::vector<int64_t> shape(rank), chunk(rank), storage(rank);
    for (size_t d = 0; d < rank; ++d) {
      shape[d] = 1 + static_cast<int64_t>(rng() % 3000);
      chunk[d] = 1 + static_cast<int64_t>(rng() % 300);
      storage[d] = chunk[d] * (1 + static_cast<int64_t>(rng() % 8));
    }
    const DataType type = rng() % 2 ? DataType::kFloat64 : DataType::kUInt8;
    const ArrayInfo info = Info(shape, chunk, storage, type);
    BlockOptions o;
    o.min_bytes = (1 + rng() % 64) * kMiB / 8;
    o.target_bytes = o.min_bytes * 2;
    o.max_bytes = o.target_bytes * 2;
    auto b = PreferredBlockShape(info, o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    const size_t es = info.element_size();
    std::vector<int64_t> unit(rank);
    for (size_t d = 0; d < rank; ++d) unit[d] = std::min(storage[d], shape[d]);
    const bool split = Bytes(unit, es) > o.max_bytes;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t v = (*b)[d];
      ASSERT_GE(v, 1);
      ASSERT_LE(v, shape[d]);
      if (split) {
        // Inside one storage chunk, whole decode chunks that tile it.
        ASSERT_TRUE(v == unit[d] || (v % chunk[d] == 0 && unit[d] % v == 0))
            << iter << " dim " << d;
      } else {
        // Whole storage chunks (or the whole dimension).
        ASSERT_TRUE(v % unit[d] == 0 || v == shape[d]) << iter << " dim " << d;
      }
    }
    const uint64_t bytes = Bytes(*b, es);
    uint64_t whole = es;
    for (int64_t s : shape) whole *= s;
    if (split) {
      // Could only stay above max when no dimension can be cut further.
      if (bytes > o.max_bytes) {
        for (size_t d = 0; d < rank; ++d) {
          ASSERT_TRUE((*b)[d] <= chunk[d] || unit[d] % chunk[d] != 0) << iter;
        }
      }
    } else if (bytes < o.min_bytes) {
      ASSERT_EQ(bytes, whole) << iter << ": a block below min_bytes must be the whole array";
    }
  }
}

TEST(SplitAligned, PiecesAreAlignedEvenAndCoverTheRange) {
  auto s = SplitAligned(0, 100, 10, 3);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (std::vector<std::pair<int64_t, int64_t>>{{0, 30}, {30, 60}, {60, 100}}));
  s = SplitAligned(5, 35, 10, 8);  // 4 units touched: [5,10) [10,20) [20,30) [30,35)
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (std::vector<std::pair<int64_t, int64_t>>{{5, 10}, {10, 20}, {20, 30}, {30, 35}}));
  s = SplitAligned(3, 7, 10, 4);  // inside one unit: one piece
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (std::vector<std::pair<int64_t, int64_t>>{{3, 7}}));
  s = SplitAligned(7, 7, 10, 4);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->empty());
  EXPECT_FALSE(SplitAligned(0, 10, 0, 1).ok());
  EXPECT_FALSE(SplitAligned(0, 10, 1, 0).ok());
  std::mt19937_64 rng(3);
  for (int iter = 0; iter < 5000; ++iter) {
    const int64_t unit = 1 + rng() % 50;
    const int64_t start = rng() % 500;
    const int64_t stop = start + 1 + rng() % 2000;
    const int parts = 1 + static_cast<int>(rng() % 40);
    auto p = SplitAligned(start, stop, unit, parts);
    ASSERT_TRUE(p.ok());
    const int64_t touched = (stop - 1) / unit - start / unit + 1;
    ASSERT_EQ(static_cast<int64_t>(p->size()), std::min<int64_t>(parts, touched));
    int64_t at = start;
    int64_t min_units = INT64_MAX, max_units = 0;
    for (size_t i = 0; i < p->size(); ++i) {
      auto [a, b] = (*p)[i];
      ASSERT_EQ(a, at);
      ASSERT_LT(a, b);
      if (i + 1 < p->size()) {
        ASSERT_EQ(b % unit, 0) << "inner boundaries on unit multiples";
      }
      const int64_t units = (b - 1) / unit - a / unit + 1;
      min_units = std::min(min_units, units);
      max_units = std::max(max_units, units);
      at = b;
    }
    ASSERT_EQ(at, stop);
    ASSERT_LE(max_units - min_units, 1) << "units spread evenly";
  }
}

}  // namespace
}  // namespace lsio::array
