// Selections: parsing, isel/sel resolution against what xarray selects (manifest), the chunk
// and inner-chunk sets against a brute-force computation in the fixture script, and the boxes
// against a direct index mapping.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "lsio/array/chunk_selection.h"
#include "lsio/array/datetime.h"
#include "lsio/format/zarr/hierarchy.h"
#include "lsio/array/selection.h"
#include "lsio/kvstore/file_store.h"
#include "test_util.h"

namespace lsio::zarr {
namespace {

using nlohmann::json;

std::vector<int64_t> Expand(const DimRange& r) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < r.count; ++i) v.push_back(r.index(i));
  return v;
}

TEST(SelectionParse, Isel) {
  Result<DimSelector> s = ParseIselArgument("time=0:100");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->dim, "time");
  EXPECT_EQ(std::get<IndexSlice>(s->value), (IndexSlice{0, 100, std::nullopt}));
  s = ParseIselArgument(" x = -5 ");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(std::get<int64_t>(s->value), -5);
  s = ParseIselArgument("x=::-2");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(std::get<IndexSlice>(s->value), (IndexSlice{std::nullopt, std::nullopt, -2}));
  for (const char* bad : {"x", "=3", "x=a", "x=1:2:3:4", "x=1:2:0", "x=1.5", "x="}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(ParseIselArgument(bad).status().code(), StatusCode::kInvalidArgument);
  }
  Result<std::vector<DimSelector>> list = ParseSelectorList("time=0:10, lat=5", false);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].dim, "lat");
}

TEST(SelectionParse, Sel) {
  Result<DimSelector> s = ParseSelArgument("lat=55:45");
  ASSERT_TRUE(s.ok());
  const LabelSlice& ls = std::get<LabelSlice>(s->value);
  EXPECT_EQ(std::get<std::string>(*ls.start), "55");
  EXPECT_EQ(std::get<std::string>(*ls.stop), "45");
  s = ParseSelArgument("time=2020-01-01T06:00:2020-01-02T12:30:15");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const LabelSlice& ts = std::get<LabelSlice>(s->value);
  EXPECT_EQ(std::get<std::string>(*ts.start), "2020-01-01T06:00");
  EXPECT_EQ(std::get<std::string>(*ts.stop), "2020-01-02T12:30:15");
  s = ParseSelArgument("time=2020-01-01T06:00:30");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(std::get<std::string>(std::get<Label>(s->value)), "2020-01-01T06:00:30");
  s = ParseSelArgument("time=:2020-01");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(std::get<LabelSlice>(s->value).start.has_value());
  EXPECT_EQ(ParseSelArgument("x=a:b:c").status().code(), StatusCode::kInvalidArgument);
}

TEST(SelectionResolve, IselLikePython) {
  // Python: list(range(10))[slice(a, b, c)].
  struct Case {
    std::optional<int64_t> a, b, c;
    std::vector<int64_t> expected;
  };
  const Case cases[] = {
      {{}, {}, {}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
      {2, 5, {}, {2, 3, 4}},
      {-3, {}, {}, {7, 8, 9}},
      {{}, -8, {}, {0, 1}},
      {{}, {}, 3, {0, 3, 6, 9}},
      {{}, {}, -1, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
      {8, 2, -2, {8, 6, 4}},
      {-1, -11, -3, {9, 6, 3, 0}},
      {100, {}, -4, {9, 5, 1}},
      {5, 5, {}, {}},
      {7, 3, {}, {}},
      {-100, 100, 4, {0, 4, 8}},
      {3, -100, -1, {3, 2, 1, 0}},
  };
  for (const Case& c : cases) {
    DimSelector s{"x", IndexSlice{c.a, c.b, c.c}};
    Result<DimRange> r = ResolveIndexSelector(s, 10);
    ASSERT_TRUE(r.ok()) << DescribeSelector(s);
    EXPECT_EQ(Expand(*r), c.expected) << DescribeSelector(s);
    EXPECT_FALSE(r->drop);
  }
  Result<DimRange> r = ResolveIndexSelector({"x", int64_t{-1}}, 10);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (DimRange{9, 1, 1, true}));
  r = ResolveIndexSelector({"x", int64_t{10}}, 10);
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(r.status().message().find("'x'"), std::string::npos);
}

TEST(SelectionResolve, SelNumericXarrayRules) {
  const Coordinate asc = Coordinate::Numeric({0, 10, 20, 30, 40});
  const Coordinate desc = Coordinate::Numeric({60, 55, 50, 45, 40});
  auto sel = [](const Coordinate& c, const std::string& arg) {
    Result<DimSelector> s = ParseSelArgument("d=" + arg);
    EXPECT_TRUE(s.ok());
    return ResolveLabelSelector(*s, c);
  };
  EXPECT_EQ(Expand(*sel(desc, "55:45")), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(Expand(*sel(desc, "45:55")), (std::vector<int64_t>{}));
  EXPECT_EQ(Expand(*sel(desc, "57:41")), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(Expand(*sel(asc, "5:30")), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(Expand(*sel(asc, "30:5")), (std::vector<int64_t>{}));
  EXPECT_EQ(Expand(*sel(asc, ":10")), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(*sel(asc, "20"), (DimRange{2, 1, 1, true}));
  EXPECT_EQ(sel(asc, "21").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(sel(asc, "2020-01").status().code(), StatusCode::kInvalidArgument);
  // A float32 coordinate compares labels rounded to float32.
  const Coordinate f32 = Coordinate::Numeric({0.1f, 0.2f, 0.3f}, /*single_precision=*/true);
  EXPECT_EQ(*sel(f32, "0.2"), (DimRange{1, 1, 1, true}));
  // Unsorted: exact bounds only.
  const Coordinate unsorted = Coordinate::Numeric({3, 1, 2, 5});
  EXPECT_EQ(Expand(*sel(unsorted, "1:2")), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(sel(unsorted, "1.5:2").status().code(), StatusCode::kNotFound);
  // Duplicates on a sorted coordinate: a slice that keeps the dimension.
  const Coordinate dup = Coordinate::Numeric({1, 2, 2, 3});
  EXPECT_EQ(*sel(dup, "2"), (DimRange{1, 1, 2, false}));
}

TEST(SelectionResolve, SelDatetimePartialDates) {
  std::vector<int64_t> daily;
  const int64_t start = ParseIsoDatetime("2019-12-30").value().ns;
  for (int i = 0; i < 70; ++i) daily.push_back(start + i * kNanosPerDay);
  const Coordinate c = Coordinate::Datetime(daily);
  auto sel = [&](const std::string& arg) {
    return ResolveLabelSelector(*ParseSelArgument("time=" + arg), c);
  };
  EXPECT_EQ(*sel("2020-01"), (DimRange{2, 1, 31, false}));           // the month
  EXPECT_EQ(*sel("2020-01-05"), (DimRange{6, 1, 1, true}));           // exact day
  EXPECT_EQ(*sel("2020-01-05:2020-01-06"), (DimRange{6, 1, 2, false}));
  EXPECT_EQ(*sel("2020-02:2020"), (DimRange{33, 1, 37, false}));     // Feb 1 .. end of 2020
  EXPECT_EQ(*sel("2019"), (DimRange{0, 1, 2, false}));
  EXPECT_EQ(sel("2021").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(sel("2020-01-05T01").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(sel("2020-13").status().code(), StatusCode::kInvalidArgument);
  // An instant (numpy datetime64 from Python) is exact, never a period.
  DimSelector instant{"time", Label(DatetimeLabel{start + 3 * kNanosPerDay})};
  EXPECT_EQ(*ResolveLabelSelector(instant, c), (DimRange{3, 1, 1, true}));
}

// Durations as pandas.Timedelta reads them (the values checked against pandas by hand:
// pd.Timedelta("1 day 06:30:00").value == 109800 * 10**9, str(pd.Timedelta(-3600e9)) ==
// "-1 days +23:00:00").
TEST(SelectionResolve, Timedeltas) {
  constexpr int64_t kHour = 3600 * kNanosPerSecond;
  EXPECT_EQ(*ParseTimedelta("6h"), 6 * kHour);
  EXPECT_EQ(*ParseTimedelta("6 hours"), 6 * kHour);
  EXPECT_EQ(*ParseTimedelta("90min"), 90 * 60 * kNanosPerSecond);
  EXPECT_EQ(*ParseTimedelta("1.5h"), 3 * kHour / 2);
  EXPECT_EQ(*ParseTimedelta("1 day 06:30:00"), 109800 * kNanosPerSecond);
  EXPECT_EQ(*ParseTimedelta("1D"), 24 * kHour);
  EXPECT_EQ(*ParseTimedelta("-30s"), -30 * kNanosPerSecond);
  EXPECT_EQ(*ParseTimedelta("12:00:00"), 12 * kHour);
  EXPECT_EQ(*ParseTimedelta("21600000000000ns"), 6 * kHour);
  for (const char* bad : {"6", "", "h", "6x", "2020-01-01", "06:00", "1 day 6"}) {
    EXPECT_FALSE(ParseTimedelta(bad).ok()) << bad;
    EXPECT_FALSE(LooksLikeTimedelta(bad)) << bad;
  }
  EXPECT_EQ(FormatTimedeltaNs(6 * kHour), "0 days 06:00:00");
  EXPECT_EQ(FormatTimedeltaNs(30 * kHour), "1 days 06:00:00");
  EXPECT_EQ(FormatTimedeltaNs(-kHour), "-1 days +23:00:00");
  EXPECT_EQ(FormatTimedeltaNs(kNanosPerSecond / 2), "0 days 00:00:00.500000");

  // GRIB's step: 0, 6, 12, 18 h.
  const Coordinate c = Coordinate::Timedelta({0, 6 * kHour, 12 * kHour, 18 * kHour});
  auto sel = [&](const std::string& arg) {
    return ResolveLabelSelector(*ParseSelArgument("step=" + arg), c);
  };
  EXPECT_EQ(*sel("6h"), (DimRange{1, 1, 1, true}));
  EXPECT_EQ(*sel("12:00:00"), (DimRange{2, 1, 1, true}));
  EXPECT_EQ(*sel("6h:12h"), (DimRange{1, 1, 2, false}));
  EXPECT_EQ(*sel("7h:"), (DimRange{2, 1, 2, false}));
  EXPECT_EQ(*sel(":1 day"), (DimRange{0, 1, 4, false}));
  EXPECT_EQ(sel("7h").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(sel("6").status().code(), StatusCode::kInvalidArgument);
  DimSelector number{"step", Label(6.0)};
  EXPECT_EQ(ResolveLabelSelector(number, c).status().code(), StatusCode::kInvalidArgument);
}

TEST(SelectionResolve, Errors) {
  const std::vector<std::string> dims = {"time", "x"};
  const std::vector<int64_t> shape = {5, 3};
  auto lookup = [](std::string_view dim) -> Result<Coordinate> {
    if (dim == "x") return Coordinate::Numeric({1, 2, 3});
    return NotFoundError("no coordinate for " + std::string(dim));
  };
  std::vector<DimSelector> sels = {*ParseIselArgument("y=1")};
  EXPECT_EQ(ResolveSelection(dims, shape, sels, lookup).status().code(), StatusCode::kNotFound);
  sels = {*ParseIselArgument("x=1"), *ParseSelArgument("x=2")};
  EXPECT_EQ(ResolveSelection(dims, shape, sels, lookup).status().code(),
            StatusCode::kInvalidArgument);
  sels = {*ParseSelArgument("time=2020")};
  Result<std::vector<DimRange>> r = ResolveSelection(dims, shape, sels, lookup);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("time"), std::string::npos);
  sels = {*ParseSelArgument("x=2:3"), *ParseIselArgument("time=-2:")};
  r = ResolveSelection(dims, shape, sels, lookup);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0], (DimRange{3, 1, 2, false}));
  EXPECT_EQ((*r)[1], (DimRange{1, 1, 2, false}));
}

// Every box of every chunk maps output positions to the right array indices, each output
// position exactly once (checked against the ranges directly).
void CheckBoxes(const std::vector<DimRange>& ranges, const std::vector<int64_t>& shape,
                const std::vector<int64_t>& chunk) {
  const size_t rank = shape.size();
  std::vector<std::map<int64_t, int>> seen(rank);  // per-dim coverage is enough: boxes are
  std::set<std::vector<int64_t>> grids;            // products of per-dim pieces
  Status s = ForEachChunk(ranges, shape, chunk, [&](const ChunkSelection& c) {
    EXPECT_TRUE(grids.insert(c.grid).second) << "chunk visited twice";
    for (size_t d = 0; d < rank; ++d) {
      const ChunkDimSlice& sl = c.dims[d];
      EXPECT_GT(sl.count, 0);
      for (int64_t i = 0; i < sl.count; ++i) {
        const int64_t in_chunk = sl.start + i * sl.step;
        EXPECT_GE(in_chunk, 0);
        EXPECT_LT(in_chunk, chunk[d]);
        const int64_t array_index = c.grid[d] * chunk[d] + in_chunk;
        EXPECT_EQ(array_index, ranges[d].index(sl.out_start + i));
      }
    }
    return Status::OK();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  // Coverage: the product of distinct per-dim chunk indices.
  size_t expected = 1;
  for (size_t d = 0; d < rank; ++d) {
    std::set<int64_t> chunks;
    for (int64_t i = 0; i < ranges[d].count; ++i) chunks.insert(ranges[d].index(i) / chunk[d]);
    expected *= chunks.size();
  }
  EXPECT_EQ(grids.size(), expected);
}

TEST(ChunkSelection, RandomRangesAgainstDirectMapping) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t rank = 1 + rng() % 3;
    std::vector<int64_t> shape, chunk;
    std::vector<DimRange> ranges;
    for (size_t d = 0; d < rank; ++d) {
      shape.push_back(1 + rng() % 40);
      chunk.push_back(1 + rng() % 9);
      IndexSlice s;
      if (rng() % 2) s.start = static_cast<int64_t>(rng() % 50) - 25;
      if (rng() % 2) s.stop = static_cast<int64_t>(rng() % 50) - 25;
      const int64_t steps[] = {1, 1, 2, 3, 7, -1, -2, -5};
      s.step = steps[rng() % 8];
      ranges.push_back(*ResolveIndexSelector({"d", s}, shape[d]));
    }
    SCOPED_TRACE("trial " + std::to_string(trial));
    CheckBoxes(ranges, shape, chunk);
  }
}

TEST(ChunkSelection, ZeroDimensional) {
  std::vector<ChunkSelection> all = *ChunksForSelection({}, {}, {});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].grid.empty());
}

Coordinate FromManifest(const json& c) {
  if (c["kind"] == "datetime") return Coordinate::Datetime(c["values"].get<std::vector<int64_t>>());
  return Coordinate::Numeric(c["values"].get<std::vector<double>>());
}

TEST(SelectionFixtures, MatchXarray) {
  ASSERT_TRUE(testing::Manifest().contains("selections"));
  int checked = 0;
  for (const json& e : testing::Manifest()["selections"]) {
    std::string what;
    for (const json& s : e["isel"]) what += " isel " + s.get<std::string>();
    for (const json& s : e["sel"]) what += " sel " + s.get<std::string>();
    SCOPED_TRACE(e["store"].get<std::string>() + what);
    std::vector<DimSelector> sels;
    bool parsed = true;
    for (const json& s : e["isel"]) {
      Result<DimSelector> p = ParseIselArgument(s.get<std::string>());
      parsed &= p.ok();
      if (p.ok()) sels.push_back(*p);
    }
    for (const json& s : e["sel"]) {
      Result<DimSelector> p = ParseSelArgument(s.get<std::string>());
      parsed &= p.ok();
      if (p.ok()) sels.push_back(*p);
    }
    ASSERT_TRUE(parsed);
    auto store_holder = kvstore::MakeFileStore(testing::StorePath(e));
  kvstore::Store& store = *store_holder;
    Result<Hierarchy> h = OpenHierarchy(store);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    const Node* node = h->Find(e["node"].get<std::string>());
    ASSERT_NE(node, nullptr);
    const ArrayMetadata& m = *node->array;
    auto lookup = [&](std::string_view dim) -> Result<Coordinate> {
      return FromManifest(e["coords"][std::string(dim)]);
    };
    Result<std::vector<DimRange>> ranges =
        ResolveSelection(m.dimension_names, m.shape, sels, lookup);
    if (e["error"].get<bool>()) {
      EXPECT_FALSE(ranges.ok()) << "xarray raised, lsio selected";
      ++checked;
      continue;
    }
    ASSERT_TRUE(ranges.ok()) << ranges.status().ToString();
    for (size_t d = 0; d < ranges->size(); ++d) {
      EXPECT_EQ(Expand((*ranges)[d]), e["indices"][d].get<std::vector<int64_t>>()) << "dim " << d;
      EXPECT_EQ((*ranges)[d].drop, e["drop"][d].get<bool>()) << "dim " << d;
    }
    // The chunk (shard) set equals the brute-force one.
    Result<std::vector<ChunkSelection>> chunks =
        ChunksForSelection(*ranges, m.shape, m.chunk_shape);
    ASSERT_TRUE(chunks.ok());
    std::set<std::vector<int64_t>> got;
    for (const ChunkSelection& c : *chunks) got.insert(c.grid);
    std::set<std::vector<int64_t>> expected;
    for (const json& g : e["chunks"]) expected.insert(g.get<std::vector<int64_t>>());
    EXPECT_EQ(got, expected);
    CheckBoxes(*ranges, m.shape, m.chunk_shape);
    if (m.sharding) {
      std::map<std::vector<int64_t>, std::set<std::vector<int64_t>>> expected_inner;
      for (const json& p : e["inner_chunks"]) {
        for (const json& g : p[1]) {
          expected_inner[p[0].get<std::vector<int64_t>>()].insert(g.get<std::vector<int64_t>>());
        }
      }
      std::map<std::vector<int64_t>, std::set<std::vector<int64_t>>> got_inner;
      for (const ChunkSelection& c : *chunks) {
        for (const ChunkSelection& ic : InnerChunksForShard(c, m.sharding->inner_chunk_shape)) {
          got_inner[c.grid].insert(ic.grid);
        }
      }
      EXPECT_EQ(got_inner, expected_inner);
    }
    // The values numpy returns for the selection, through the test-only read.
    Result<std::vector<std::byte>> values = testing::ReadSelection(store.url(), *node, *ranges);
    ASSERT_TRUE(values.ok()) << values.status().ToString();
    Result<testing::Npy> npy =
        testing::ReadNpy(testing::FixturesDir() + "/" + e["expected"].get<std::string>());
    ASSERT_TRUE(npy.ok());
    EXPECT_EQ(npy->shape, SelectionShape(*ranges));
    EXPECT_TRUE(*values == npy->data);
    ++checked;
  }
  EXPECT_GT(checked, 50);
}

}  // namespace
}  // namespace lsio::zarr
