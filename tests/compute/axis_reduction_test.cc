// ReductionGrid against numpy's nan-reductions along axes (make_reference.py): the array is cut
// into padded chunks here, each chunk's box is fed at its offset in the grid, on every SIMD
// target; also split over several grids and merged.

#include "lsio/compute/axis_reduction.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference.h"

namespace lsio::compute {
namespace {

using nlohmann::json;
using testing::ExpectClose;
using testing::ExpectSame;
using testing::ExpectStd;
using testing::NpyArray;

// A chunk of the array: the full chunk shape, padded past the array's edge with a value that
// would spoil every statistic if it were read.
struct Chunk {
  std::vector<int64_t> shape;
  std::vector<int64_t> box_start, box_stop;  // selection ∩ chunk, in chunk coordinates
  std::vector<int64_t> origin;               // grid coordinates of box_start (kept axes)
  Buffer bytes;
};

void FillPadding(DataType t, std::byte* p, size_t n) {
  const size_t w = ByteWidth(t);
  for (size_t i = 0; i < n; ++i) {
    switch (t) {
      case DataType::kFloat32: {
        const float v = 3e38f;
        std::memcpy(p + i * w, &v, w);
        break;
      }
      case DataType::kFloat64: {
        const double v = 1e300;
        std::memcpy(p + i * w, &v, w);
        break;
      }
      case DataType::kFloat16: {
        const uint16_t v = 0x7bff;  // 65504
        std::memcpy(p + i * w, &v, w);
        break;
      }
      case DataType::kBool:
        p[i] = std::byte{1};
        break;
      default:
        std::memset(p + i * w, 0x7f, w);  // a large positive integer of any width
        break;
    }
  }
}

std::vector<Chunk> CutChunks(const NpyArray& a, const std::vector<int64_t>& chunk_shape,
                             const std::vector<int64_t>& sel_start,
                             const std::vector<int64_t>& sel_stop,
                             const std::vector<size_t>& reduced) {
  const size_t rank = a.shape.size();
  const size_t w = ByteWidth(a.dtype);
  std::vector<int64_t> grid(rank), idx(rank, 0);
  for (size_t i = 0; i < rank; ++i) {
    grid[i] = (a.shape[i] + chunk_shape[i] - 1) / chunk_shape[i];
    if (grid[i] == 0) return {};
  }
  std::vector<Chunk> chunks;
  while (true) {
    Chunk c;
    c.shape = chunk_shape;
    bool empty = false;
    for (size_t i = 0; i < rank; ++i) {
      const int64_t o = idx[i] * chunk_shape[i];
      const int64_t lo = std::max(o, sel_start[i]);
      const int64_t hi = std::min({o + chunk_shape[i], sel_stop[i], a.shape[i]});
      if (lo >= hi) empty = true;
      c.box_start.push_back(lo - o);
      c.box_stop.push_back(std::max(lo, hi) - o);
      if (!std::binary_search(reduced.begin(), reduced.end(), i)) {
        c.origin.push_back(lo - sel_start[i]);
      }
    }
    if (!empty) {
      const int64_t n = ElementCount(chunk_shape);
      c.bytes = Buffer::Allocate(static_cast<size_t>(n) * w).value();
      FillPadding(a.dtype, c.bytes.mutable_data(), static_cast<size_t>(n));
      // Copy the part of the chunk inside the array, element by element.
      std::vector<int64_t> e(rank, 0);
      for (int64_t k = 0; k < n; ++k) {
        int64_t rem = k, src = 0;
        bool inside = true;
        for (size_t i = rank; i-- > 0;) {
          e[i] = rem % chunk_shape[i];
          rem /= chunk_shape[i];
        }
        int64_t stride = 1;
        for (size_t i = rank; i-- > 0;) {
          const int64_t g = idx[i] * chunk_shape[i] + e[i];
          if (g >= a.shape[i]) inside = false;
          src += g * stride;
          stride *= a.shape[i];
        }
        if (inside) {
          std::memcpy(c.bytes.mutable_data() + k * w, a.data.data() + src * w, w);
        }
      }
      chunks.push_back(std::move(c));
    }
    size_t i = rank;
    while (i > 0) {
      --i;
      if (++idx[i] < grid[i]) break;
      idx[i] = 0;
      if (i == 0) return chunks;
    }
    if (rank == 0) return chunks;
  }
}

struct ReductionCase {
  std::string name;
  NpyArray array;
  std::vector<int64_t> chunk_shape, sel_start, sel_stop, grid_shape;
  std::vector<size_t> reduced;
  ReductionGridOptions options;
  NpyArray expect;  // (9, *grid_shape): see kExpect*
};

// Rows of the stacked expectation (make_reference.py's order).
enum ExpectRow { kExpectCount, kExpectNanCount, kExpectMin, kExpectMax, kExpectSum, kExpectMean,
                 kExpectStd0, kExpectStd1, kExpectMeanAbs };

std::vector<ReductionCase> LoadCases() {
  std::vector<ReductionCase> cases;
  for (const json& c : testing::Manifest()["reductions"]) {
    ReductionCase k;
    k.name = c["name"].get<std::string>();
    k.array = testing::LoadArray(c["file"].get<std::string>());
    k.chunk_shape = c["chunk_shape"].get<std::vector<int64_t>>();
    k.sel_start = c["sel_start"].get<std::vector<int64_t>>();
    k.sel_stop = c["sel_stop"].get<std::vector<int64_t>>();
    k.reduced = c["reduced_axes"].get<std::vector<size_t>>();
    for (size_t i = 0; i < k.sel_start.size(); ++i) {
      if (!std::binary_search(k.reduced.begin(), k.reduced.end(), i)) {
        k.grid_shape.push_back(k.sel_stop[i] - k.sel_start[i]);
      }
    }
    k.options.missing = testing::ParseMissing(c["missing"]);
    k.expect = testing::LoadArray(c["expect"].get<std::string>());
    cases.push_back(std::move(k));
  }
  EXPECT_GT(cases.size(), 100u);
  return cases;
}

const std::vector<ReductionCase>& Cases() {
  static const std::vector<ReductionCase>* cases = new std::vector<ReductionCase>(LoadCases());
  return *cases;
}

// Per cell: counts, min and max exact; mean and sum within 1e-12 relative (against mean(|x|)
// and sum(|x|) where values cancel); std with ddof 0 and 1 within 1e-9 relative (see
// stats_test.cc).
void ExpectGridMatches(const ReductionGrid& g, const ReductionCase& c) {
  const size_t cells = static_cast<size_t>(g.cell_count());
  ASSERT_EQ(static_cast<int64_t>(cells), ElementCount(c.grid_shape));
  auto get = [&](CellStatistic s, int ddof = 0) {
    std::vector<double> out(cells);
    EXPECT_TRUE(g.Finalize(s, out, ddof).ok());
    return out;
  };
  const auto count = get(CellStatistic::kCount), nan_count = get(CellStatistic::kNanCount),
             mn = get(CellStatistic::kMin), mx = get(CellStatistic::kMax),
             sum = get(CellStatistic::kSum), mean = get(CellStatistic::kMean),
             std0 = get(CellStatistic::kStd, 0), std1 = get(CellStatistic::kStd, 1),
             var1 = get(CellStatistic::kVariance, 1);
  ASSERT_EQ(c.expect.size(), static_cast<int64_t>(9 * cells));
  auto want = [&](ExpectRow row, size_t i) { return c.expect.as<double>()[row * cells + i]; };
  for (size_t i = 0; i < cells; ++i) {
    SCOPED_TRACE("cell " + std::to_string(i));
    const double scale = want(kExpectMeanAbs, i);
    EXPECT_EQ(count[i], want(kExpectCount, i));
    EXPECT_EQ(nan_count[i], want(kExpectNanCount, i));
    ExpectSame(mn[i], want(kExpectMin, i), "min");
    ExpectSame(mx[i], want(kExpectMax, i), "max");
    const double ref_mean = want(kExpectMean, i);
    ExpectClose(mean[i], ref_mean, 1e-12, std::max(std::fabs(ref_mean), scale), "mean");
    const double ref_sum = want(kExpectSum, i);
    ExpectClose(sum[i], ref_sum, 1e-12, std::max(std::fabs(ref_sum), scale * count[i]), "sum");
    ExpectStd(std0[i], want(kExpectStd0, i), scale, "std ddof=0");
    ExpectStd(std1[i], want(kExpectStd1, i), scale, "std ddof=1");
    if (std::isnan(std1[i])) {
      EXPECT_TRUE(std::isnan(var1[i]));
    } else {
      EXPECT_NEAR(var1[i], std1[i] * std1[i], 1e-15 * var1[i]);
    }
  }
}

class ReductionReferenceTest : public testing::KernelTargetTest {};

TEST_P(ReductionReferenceTest, ChunkedArrayMatchesNumpy) {
  for (const ReductionCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    auto grid = ReductionGrid::Make(c.array.dtype, c.array.shape.size(), c.reduced, c.grid_shape,
                                    c.options);
    ASSERT_TRUE(grid.ok()) << grid.status().ToString();
    for (const Chunk& ch : CutChunks(c.array, c.chunk_shape, c.sel_start, c.sel_stop,
                                     c.reduced)) {
      const ChunkView view{c.array.dtype, ch.shape, ch.bytes.span()};
      const Status st = grid->Consume(view, Box{ch.box_start, ch.box_stop}, ch.origin);
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
    ExpectGridMatches(*grid, c);
  }
}

TEST_P(ReductionReferenceTest, GridsPerWorkerMergeToNumpy) {
  std::mt19937_64 rng(11);
  for (const ReductionCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    std::vector<ReductionGrid> grids;
    for (int i = 0; i < 3; ++i) {
      auto g = ReductionGrid::Make(c.array.dtype, c.array.shape.size(), c.reduced, c.grid_shape,
                                   c.options);
      ASSERT_TRUE(g.ok());
      grids.push_back(std::move(g).value());
    }
    for (const Chunk& ch : CutChunks(c.array, c.chunk_shape, c.sel_start, c.sel_stop,
                                     c.reduced)) {
      const ChunkView view{c.array.dtype, ch.shape, ch.bytes.span()};
      ASSERT_TRUE(grids[rng() % 3].Consume(view, Box{ch.box_start, ch.box_stop}, ch.origin).ok());
    }
    ASSERT_TRUE(grids[1].Merge(grids[2]).ok());
    ASSERT_TRUE(grids[0].Merge(grids[1]).ok());
    ExpectGridMatches(grids[0], c);
  }
}

// A grid keeping only the totals some statistics need gives those statistics with the same
// bits as a grid keeping all of them (which the tests above check against numpy), consumed
// directly and merged from per-worker grids, and refuses the statistics it did not keep.
TEST_P(ReductionReferenceTest, GridsKeepingSomeTotalsGiveTheSameBits) {
  const std::vector<std::vector<CellStatistic>> subsets = {
      {CellStatistic::kCount},
      {CellStatistic::kMean},
      {CellStatistic::kMean, CellStatistic::kStd},
      {CellStatistic::kNanCount, CellStatistic::kMin},
      {CellStatistic::kMax, CellStatistic::kSum},
      {CellStatistic::kVariance},
  };
  const std::vector<uint64_t> bytes = {8, 32, 40, 24, 40, 40};
  for (const ReductionCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    auto full = ReductionGrid::Make(c.array.dtype, c.array.shape.size(), c.reduced,
                                    c.grid_shape, c.options);
    ASSERT_TRUE(full.ok());
    const std::vector<Chunk> chunks =
        CutChunks(c.array, c.chunk_shape, c.sel_start, c.sel_stop, c.reduced);
    for (const Chunk& ch : chunks) {
      const ChunkView view{c.array.dtype, ch.shape, ch.bytes.span()};
      ASSERT_TRUE(full->Consume(view, Box{ch.box_start, ch.box_stop}, ch.origin).ok());
    }
    // A full grid merged from two halves (even and odd chunks), to compare merged subsets with.
    auto full_a = ReductionGrid::Make(c.array.dtype, c.array.shape.size(), c.reduced,
                                      c.grid_shape, c.options);
    auto full_b = ReductionGrid::Make(c.array.dtype, c.array.shape.size(), c.reduced,
                                      c.grid_shape, c.options);
    for (size_t i = 0; i < chunks.size(); ++i) {
      const Chunk& ch = chunks[i];
      const ChunkView view{c.array.dtype, ch.shape, ch.bytes.span()};
      ASSERT_TRUE((i % 2 ? *full_a : *full_b)
                      .Consume(view, Box{ch.box_start, ch.box_stop}, ch.origin)
                      .ok());
    }
    ASSERT_TRUE(full_a->Merge(*full_b).ok());
    const size_t cells = static_cast<size_t>(full->cell_count());
    for (size_t k = 0; k < subsets.size(); ++k) {
      SCOPED_TRACE("subset " + std::to_string(k));
      ReductionGridOptions options = c.options;
      options.statistics = subsets[k];
      EXPECT_EQ(ReductionGrid::BytesPerCell(subsets[k]), bytes[k]);
      auto one = ReductionGrid::Make(c.array.dtype, c.array.shape.size(), c.reduced,
                                     c.grid_shape, options);
      auto a = ReductionGrid::Make(c.array.dtype, c.array.shape.size(), c.reduced,
                                   c.grid_shape, options);
      auto b = ReductionGrid::Make(c.array.dtype, c.array.shape.size(), c.reduced,
                                   c.grid_shape, options);
      ASSERT_TRUE(one.ok() && a.ok() && b.ok());
      EXPECT_EQ(one->bytes_per_cell(), bytes[k]);
      for (size_t i = 0; i < chunks.size(); ++i) {
        const Chunk& ch = chunks[i];
        const ChunkView view{c.array.dtype, ch.shape, ch.bytes.span()};
        const Box box{ch.box_start, ch.box_stop};
        ASSERT_TRUE(one->Consume(view, box, ch.origin).ok());
        ASSERT_TRUE((i % 2 ? *a : *b).Consume(view, box, ch.origin).ok());
      }
      ASSERT_TRUE(a->Merge(*b).ok());
      auto merged_full = ReductionGrid::Make(c.array.dtype, c.array.shape.size(), c.reduced,
                                             c.grid_shape, c.options);
      EXPECT_EQ(merged_full->Merge(*a).code(), StatusCode::kInvalidArgument);
      auto back = ReductionGrid::Deserialize(a->Serialize());
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      std::vector<CellStatistic> asked = subsets[k];
      asked.push_back(CellStatistic::kCount);
      for (CellStatistic s : asked) {
        std::vector<double> want(cells), got(cells), want_merged(cells), got_merged(cells),
            got_back(cells);
        ASSERT_TRUE(full->Finalize(s, want, 1).ok());
        ASSERT_TRUE(full_a->Finalize(s, want_merged, 1).ok());
        ASSERT_TRUE(one->Finalize(s, got, 1).ok());
        ASSERT_TRUE(back->Finalize(s, got_back, 1).ok());
        // Bit for bit (NaNs included); memcmp is not called on the empty grid's null data.
        auto same_bits = [](const std::vector<double>& x, const std::vector<double>& y) {
          return x.size() == y.size() &&
                 (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0);
        };
        EXPECT_TRUE(same_bits(want, got)) << "statistic " << static_cast<int>(s);
        ASSERT_TRUE(a->Finalize(s, got_merged, 1).ok());
        EXPECT_TRUE(same_bits(want_merged, got_merged))
            << "merged, statistic " << static_cast<int>(s);
        EXPECT_TRUE(same_bits(got_merged, got_back));
      }
      if (std::find(asked.begin(), asked.end(), CellStatistic::kMax) == asked.end()) {
        std::vector<double> out(cells);
        EXPECT_EQ(one->Finalize(CellStatistic::kMax, out).code(),
                  StatusCode::kInvalidArgument);
      }
    }
  }
}

LSIO_INSTANTIATE_FOR_KERNEL_TARGETS(ReductionReferenceTest);

}  // namespace
}  // namespace lsio::compute
