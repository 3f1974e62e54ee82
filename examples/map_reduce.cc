// Your own function on every chunk of an array, from C++ (lsio/ops/map_reduce.h and
// map_blocks.h): counts the values above a threshold, chunk by chunk on lsio's CPU workers,
// and optionally writes a chunk-wise transform (the values above the threshold, others 0) as a
// new Zarr store.
//
//   map_reduce_example data/demo.zarr sst 25 [--sel time=2000-01:2000-06] [--out above.zarr]
//
// Build it as `make build` does (CMake target lsio_example_map_reduce, linked to lsio_ops and
// lsio_formats), or copy it into your project and link the same libraries.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lsio/array/dataset.h"
#include "lsio/format/open.h"
#include "lsio/ops/map_blocks.h"
#include "lsio/ops/map_reduce.h"
#include "lsio/runtime/context.h"

namespace {

using lsio::Result;
using lsio::Status;

// The block's values as doubles, whatever the stored numeric type.
template <typename F>
Status ForEachValue(const lsio::ops::Block& b, F&& f) {
  switch (b.array->element.storage) {
    case lsio::DataType::kFloat32:
      for (float v : b.values<float>()) f(v);
      return Status::OK();
    case lsio::DataType::kFloat64:
      for (double v : b.values<double>()) f(v);
      return Status::OK();
    case lsio::DataType::kInt16:
      for (int16_t v : b.values<int16_t>()) f(v);
      return Status::OK();
    case lsio::DataType::kInt32:
      for (int32_t v : b.values<int32_t>()) f(v);
      return Status::OK();
    case lsio::DataType::kInt64:
      for (int64_t v : b.values<int64_t>()) f(static_cast<double>(v));
      return Status::OK();
    case lsio::DataType::kUInt8:
      for (uint8_t v : b.values<uint8_t>()) f(v);
      return Status::OK();
    default:
      return lsio::NotSupportedError("this example reads float32/64, int16/32/64 and uint8, not " +
                                     b.array->element.name);
  }
}

int Fail(const Status& s) {
  std::fprintf(stderr, "map_reduce_example: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s STORE VARIABLE THRESHOLD [--sel dim=a:b]... [--isel dim=i:j]... "
                 "[--out OUT.zarr]\n",
                 argv[0]);
    return 2;
  }
  const std::string location = argv[1];
  const std::string variable = argv[2];
  const double threshold = std::strtod(argv[3], nullptr);
  std::vector<lsio::array::DimSelector> selectors;
  std::string out;
  for (int i = 4; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--out") {
      out = argv[i + 1];
      continue;
    }
    Result<lsio::array::DimSelector> s = flag == "--sel"
                                             ? lsio::array::ParseSelArgument(argv[i + 1])
                                             : lsio::array::ParseIselArgument(argv[i + 1]);
    if (!s.ok()) return Fail(s.status());
    selectors.push_back(*s);
  }

  // One context per program: the CPU pool, opened stores and idle IO readers.
  std::shared_ptr<lsio::runtime::Context> context = lsio::runtime::Context::Default();
  Result<std::shared_ptr<const lsio::array::Dataset>> dataset =
      lsio::format::OpenDataset(*context, location);
  if (!dataset.ok()) return Fail(dataset.status());
  Result<const lsio::array::ArraySource*> array = (*dataset)->FindArray(variable);
  if (!array.ok()) return Fail(array.status());
  Result<std::vector<lsio::array::DimRange>> ranges =
      (*dataset)->ResolveSelection(**array, selectors, *context);
  if (!ranges.ok()) return Fail(ranges.status());

  // map: a count per block, on lsio's workers while later chunks are read and decoded;
  // combine: in chunk order, so the result never depends on the thread count.
  Result<std::optional<int64_t>> above = lsio::ops::MapReduce<int64_t>(
      *context, **array, *ranges,
      [&](const lsio::ops::Block& block) -> Result<int64_t> {
        int64_t n = 0;
        LSIO_RETURN_IF_ERROR(ForEachValue(block, [&](double v) { n += v > threshold; }));
        return n;
      },
      [](int64_t a, int64_t b) -> Result<int64_t> { return a + b; });
  if (!above.ok()) return Fail(above.status());
  std::printf("%s: %lld values above %g\n", variable.c_str(),
              static_cast<long long>(above->value_or(0)), threshold);

  if (!out.empty()) {
    Result<std::shared_ptr<lsio::kvstore::Store>> store = context->OpenStore(out);
    if (!store.ok()) return Fail(store.status());
    lsio::ops::MapBlocksOptions options;
    options.type = lsio::format::NumericElementType(lsio::DataType::kFloat64);
    options.name = variable + "_above";
    Result<lsio::ops::MapBlocksResult> written = lsio::ops::MapBlocks(
        *context, **dataset, **array, *ranges,
        [&](const lsio::ops::Block& block, std::span<std::byte> values) -> Status {
          auto* o = reinterpret_cast<double*>(values.data());
          size_t i = 0;
          return ForEachValue(block, [&](double v) { o[i++] = v > threshold ? v : 0.0; });
        },
        **store, options);
    if (!written.ok()) return Fail(written.status());
    std::printf("wrote %s (variable '%s', %zu coordinates)\n", out.c_str(),
                written->name.c_str(), written->coordinates.size());
  }
  return 0;
}
