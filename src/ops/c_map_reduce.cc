#include "lsio/ops/c_map_reduce.h"

#include <mutex>
#include <string>
#include <utility>

namespace lsio::ops {

int32_t NumpyTypeNumber(DataType type) {
  switch (type) {
    case DataType::kBool:
      return 0;
    case DataType::kInt8:
      return 1;
    case DataType::kUInt8:
      return 2;
    case DataType::kInt16:
      return 3;
    case DataType::kUInt16:
      return 4;
    case DataType::kInt32:
      return 5;
    case DataType::kUInt32:
      return 6;
    case DataType::kInt64:
      return 7;
    case DataType::kUInt64:
      return 8;
    case DataType::kFloat16:
      return 23;
    case DataType::kFloat32:
      return 11;
    case DataType::kFloat64:
      return 12;
    case DataType::kComplex64:
      return 14;
    case DataType::kComplex128:
      return 15;
  }
  return -1;
}

Result<std::optional<std::vector<std::byte>>> CMapReduce(runtime::Context& context,
                                                         const array::ArraySource& array,
                                                         std::span<const array::DimRange> ranges,
                                                         const CMapReduceFunctions& fns,
                                                         const BlockPassOptions& options) {
  using Bytes = std::vector<std::byte>;
  constexpr size_t kMaxResult = size_t{1} << 20;
  if (fns.map == nullptr || fns.combine == nullptr) {
    return InvalidArgumentError("map_reduce: the C map and combine functions must not be null");
  }
  if (fns.result_bytes == 0 || fns.result_bytes > kMaxResult) {
    return InvalidArgumentError("map_reduce: the C functions' result size must be 1 .. " +
                                std::to_string(kMaxResult) + " bytes, not " +
                                std::to_string(fns.result_bytes));
  }
  const int32_t dtype = NumpyTypeNumber(array.info().element.storage);
  internal::OrderedCombine<Bytes> reduced([&](Bytes earlier, Bytes later) -> Result<Bytes> {
    const int32_t rc = fns.combine(earlier.data(), later.data());
    if (rc != 0) {
      return InvalidArgumentError("variable '" + array.info().path +
                                  "': the C combine function returned " + std::to_string(rc));
    }
    return earlier;
  });
  uint64_t blocks = 0;
  std::mutex count_mu;
  BlockPassOptions o = options;
  o.owned_blocks = false;
  // Results held until an earlier chunk's arrives: at most the scheduler's window of them.
  o.state_bytes += fns.result_bytes * 64;
  Result<PassResult> pass = ForEachBlock(
      context, array, ranges,
      [&](const Block& block) -> Status {
        std::vector<int64_t> origin;
        origin.reserve(block.shape.size());
        for (const BlockDim& d : block.dims) {
          if (!d.dropped) origin.push_back(d.out_start);
        }
        Bytes result(fns.result_bytes);
        const int32_t rc = fns.map(block.data.data(), block.shape.data(), origin.data(),
                                   static_cast<int32_t>(block.shape.size()), dtype,
                                   result.data());
        if (rc != 0) {
          // ForEachBlock adds the array and the block.
          return InvalidArgumentError("the C map function returned " + std::to_string(rc));
        }
        {
          std::lock_guard lock(count_mu);
          ++blocks;
        }
        return reduced.Add(block.ordinal, std::move(result));
      },
      o);
  if (!pass.ok()) return pass.status();
  return reduced.Finish(blocks);
}

}  // namespace lsio::ops
