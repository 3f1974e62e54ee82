// Selection strings: the input is parsed as --isel and as --sel arguments (one, or a
// comma-separated list) and resolved against a small in-memory dataset with datetime,
// descending, float32, unsorted and missing coordinates; the resolved ranges are then split
// into chunks and inner (shard) chunks, whose boxes must tile the selection exactly.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "lsio/array/chunk_selection.h"
#include "lsio/array/datetime.h"
#include "lsio/array/selection.h"

namespace {

using namespace lsio::array;  // NOLINT(build/namespaces): a fuzz target over one namespace

const std::vector<std::string> kDims = {"time", "lat", "lon", "level", "x", "step"};
const std::vector<int64_t> kShape = {730, 360, 720, 5, 10, 8};
const std::vector<int64_t> kChunks = {10, 180, 360, 1, 3, 1};
const std::vector<int64_t> kInnerChunks = {5, 90, 90, 1, 1, 1};

lsio::Result<Coordinate> Lookup(std::string_view dim) {
  if (dim == "time") {  // daily from 2000-01-01
    std::vector<int64_t> ns(kShape[0]);
    const int64_t start = DaysFromCivil(2000, 1, 1) * kNanosPerDay;
    for (size_t i = 0; i < ns.size(); ++i) ns[i] = start + static_cast<int64_t>(i) * kNanosPerDay;
    return Coordinate::Datetime(std::move(ns));
  }
  if (dim == "lat") {  // 89.75 .. -89.75, descending
    std::vector<double> v(kShape[1]);
    for (size_t i = 0; i < v.size(); ++i) v[i] = 89.75 - 0.5 * static_cast<double>(i);
    return Coordinate::Numeric(std::move(v));
  }
  if (dim == "lon") {  // 0.25 .. 359.75, float32
    std::vector<double> v(kShape[2]);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(0.25 + 0.5 * i);
    return Coordinate::Numeric(std::move(v), /*single_precision=*/true);
  }
  if (dim == "level") return Coordinate::Numeric({1000, 850, 500, 925, 250});  // unsorted
  if (dim == "step") {  // 0 h .. 42 h every 6 h (GRIB's step, a duration)
    std::vector<int64_t> ns(kShape[5]);
    for (size_t i = 0; i < ns.size(); ++i) {
      ns[i] = static_cast<int64_t>(i) * 6 * 3600 * kNanosPerSecond;
    }
    return Coordinate::Timedelta(std::move(ns));
  }
  return lsio::NotFoundError("no coordinate for dimension '" + std::string(dim) + "'");
}

void CheckResolved(const std::vector<DimRange>& ranges) {
  LSIO_FUZZ_CHECK(ranges.size() == kDims.size());
  int64_t total = 1;
  for (size_t d = 0; d < ranges.size(); ++d) {
    const DimRange& r = ranges[d];
    LSIO_FUZZ_CHECK(r.step != 0 && r.count >= 0);
    if (r.drop) LSIO_FUZZ_CHECK(r.count == 1);
    if (r.count > 0) {
      LSIO_FUZZ_CHECK(r.index(0) >= 0 && r.index(0) < kShape[d]);
      LSIO_FUZZ_CHECK(r.index(r.count - 1) >= 0 && r.index(r.count - 1) < kShape[d]);
    }
    total *= r.count;
  }
  (void)SelectionShape(ranges);

  // Chunks and inner chunks tile the selection: their element counts add up to it. Large
  // selections are checked through ForEachChunk without building the inner lists.
  int64_t covered = 0;
  int64_t chunks = 0;
  const lsio::Status st = ForEachChunk(ranges, kShape, kChunks, [&](const ChunkSelection& c) {
    LSIO_FUZZ_CHECK(c.grid.size() == kDims.size() && c.dims.size() == kDims.size());
    for (size_t d = 0; d < c.dims.size(); ++d) {
      const ChunkDimSlice& s = c.dims[d];
      LSIO_FUZZ_CHECK(s.count > 0 && s.start >= 0);
      LSIO_FUZZ_CHECK(s.start + (s.count - 1) * s.step < kChunks[d]);
      LSIO_FUZZ_CHECK(s.start + (s.count - 1) * s.step >= 0);
      LSIO_FUZZ_CHECK(s.out_start >= 0 && s.out_start + s.count <= ranges[d].count);
    }
    covered += c.num_elements();
    if (++chunks <= 64) {
      int64_t inner = 0;
      for (const ChunkSelection& i : InnerChunksForShard(c, kInnerChunks)) {
        inner += i.num_elements();
      }
      LSIO_FUZZ_CHECK(inner == c.num_elements());
    }
    return lsio::Status::OK();
  });
  LSIO_FUZZ_CHECK(st.ok());
  LSIO_FUZZ_CHECK(covered == total);
}

void Resolve(const std::vector<DimSelector>& selectors) {
  for (const DimSelector& s : selectors) (void)DescribeSelector(s);
  lsio::Result<std::vector<DimRange>> ranges = ResolveSelection(kDims, kShape, selectors, Lookup);
  if (ranges.ok()) CheckResolved(*ranges);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool label : {false, true}) {
    lsio::Result<std::vector<DimSelector>> list = ParseSelectorList(text, label);
    if (list.ok()) Resolve(*list);
    lsio::Result<DimSelector> one = label ? ParseSelArgument(text) : ParseIselArgument(text);
    if (one.ok()) Resolve({*one});
  }
  lsio::Result<ParsedDatetime> t = ParseIsoDatetime(text);
  if (t.ok()) {
    LSIO_FUZZ_CHECK(PeriodEndNs(*t) >= t->ns);
    (void)FormatDatetimeNs(t->ns);
  }
  (void)LooksLikeIsoDatetime(text);
  return 0;
}
