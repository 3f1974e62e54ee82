#include "lsio/io/coalesce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace lsio::io {
namespace {

using Part = CoalescedRange::Part;

struct Case {
  const char* name;
  std::vector<ByteRange> input;
  CoalesceOptions options;
  std::vector<CoalescedRange> want;
};

CoalesceOptions Opts(uint64_t gap, uint64_t size, uint64_t align = 1) {
  CoalesceOptions o;
  o.max_gap = gap;
  o.max_size = size;
  o.alignment = align;
  return o;
}

TEST(CoalesceTest, Table) {
  const std::vector<Case> cases = {
      {"empty", {}, Opts(0, 100), {}},
      {"single", {{10, 5}}, Opts(0, 100), {{{10, 5}, {{0, 0}}}}},
      {"touching ranges merge with gap 0",
       {{0, 10}, {10, 10}},
       Opts(0, 100),
       {{{0, 20}, {{0, 0}, {1, 10}}}}},
      {"gap within max_gap merges",
       {{0, 10}, {15, 5}},
       Opts(5, 100),
       {{{0, 20}, {{0, 0}, {1, 15}}}}},
      {"gap over max_gap splits",
       {{0, 10}, {16, 5}},
       Opts(5, 100),
       {{{0, 10}, {{0, 0}}}, {{16, 5}, {{1, 0}}}}},
      {"max_size stops merging",
       {{0, 10}, {10, 10}, {20, 10}},
       Opts(0, 20),
       {{{0, 20}, {{0, 0}, {1, 10}}}, {{20, 10}, {{2, 0}}}}},
      {"oversized range stands alone",
       {{0, 50}, {50, 10}},
       Opts(0, 20),
       {{{0, 50}, {{0, 0}}}, {{50, 10}, {{1, 0}}}}},
      {"unsorted input comes out sorted, indices kept",
       {{100, 10}, {0, 10}, {50, 10}},
       Opts(0, 1000),
       {{{0, 10}, {{1, 0}}}, {{50, 10}, {{2, 0}}}, {{100, 10}, {{0, 0}}}}},
      {"overlapping", {{0, 10}, {5, 10}}, Opts(0, 100), {{{0, 15}, {{0, 0}, {1, 5}}}}},
      {"contained range does not extend",
       {{0, 100}, {10, 5}},
       Opts(0, 100),
       {{{0, 100}, {{0, 0}, {1, 10}}}}},
      {"duplicates keep input order",
       {{7, 3}, {7, 3}, {7, 3}},
       Opts(0, 100),
       {{{7, 3}, {{0, 0}, {1, 0}, {2, 0}}}}},
      {"zero-length ranges", {{5, 0}, {5, 10}}, Opts(0, 100), {{{5, 10}, {{0, 0}, {1, 0}}}}},
      {"alignment rounds out", {{100, 100}}, Opts(0, 1 << 20, 4096), {{{0, 4096}, {{0, 100}}}}},
      {"same page merges even with gap 0",
       {{100, 10}, {3000, 10}},
       Opts(0, 1 << 20, 4096),
       {{{0, 4096}, {{0, 100}, {1, 3000}}}}},
      {"aligned gap counts whole pages",
       {{0, 10}, {8192 + 5, 10}},
       Opts(4095, 1 << 20, 4096),
       {{{0, 4096}, {{0, 0}}}, {{8192, 4096}, {{1, 5}}}}},
      {"aligned gap of one page merges",
       {{0, 10}, {8192 + 5, 10}},
       Opts(4096, 1 << 20, 4096),
       {{{0, 12288}, {{0, 0}, {1, 8197}}}}},
      {"range crossing a page boundary",
       {{4000, 200}},
       Opts(0, 1 << 20, 4096),
       {{{0, 8192}, {{0, 4000}}}}},
      {"max_size counts aligned bytes",
       {{0, 10}, {4096, 10}},
       Opts(0, 4096, 4096),
       {{{0, 4096}, {{0, 0}}}, {{4096, 4096}, {{1, 0}}}}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CoalesceRanges(c.input, c.options), c.want) << c.name;
  }
}

// Invariants on random inputs, checked independently of how the merge is done.
TEST(CoalesceTest, RandomInvariants) {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<ByteRange> input(rng() % 40);
    for (auto& r : input) r = ByteRange{rng() % 100000, rng() % 5000};
    const uint64_t align = uint64_t{1} << (rng() % 13);
    const CoalesceOptions o = Opts(rng() % 10000, 1 + rng() % 50000, align);
    const std::vector<CoalescedRange> out = CoalesceRanges(input, o);
    std::vector<int> seen(input.size(), 0);
    for (size_t k = 0; k < out.size(); ++k) {
      const CoalescedRange& m = out[k];
      ASSERT_EQ(m.range.offset % align, 0u);
      ASSERT_EQ(m.range.length % align, 0u);
      ASSERT_FALSE(m.parts.empty());
      if (m.parts.size() > 1) {
        ASSERT_LE(m.range.length, o.max_size);
      }
      if (k > 0) {
        const CoalescedRange& prev = out[k - 1];
        ASSERT_LE(prev.range.offset, m.range.offset);
        // Split only for a reason: a hole too big, or the merged range would be too long.
        const uint64_t hole =
            m.range.offset > prev.range.end() ? m.range.offset - prev.range.end() : 0;
        // The greedy merge looked at the first range of `m` only.
        const ByteRange& first = input[m.parts.front().index];
        const uint64_t first_end = (first.end() + align - 1) / align * align;
        const uint64_t merged = std::max(prev.range.end(), first_end) - prev.range.offset;
        ASSERT_TRUE(hole > o.max_gap || merged > o.max_size) << "iter " << iter;
      }
      for (const Part& p : m.parts) {
        ++seen[p.index];
        const ByteRange& in = input[p.index];
        ASSERT_EQ(m.range.offset + p.offset_in_range, in.offset);
        ASSERT_LE(in.end(), m.range.end());
      }
    }
    for (int s : seen) ASSERT_EQ(s, 1);
  }
}

}  // namespace
}  // namespace lsio::io
