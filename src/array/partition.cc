#include "lsio/array/partition.h"

#include <algorithm>
#include <string>

namespace lsio::array {

namespace {

uint64_t BlockBytes(const std::vector<int64_t>& block, size_t element_size) {
  uint64_t n = element_size;
  for (int64_t b : block) n *= static_cast<uint64_t>(b);
  return n;
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

Result<std::vector<int64_t>> PreferredBlockShape(const ArrayInfo& info,
                                                 const BlockOptions& options) {
  const size_t rank = info.rank();
  const std::string label = "array '" + info.path + "'";
  if (info.chunk_shape.size() != rank || info.storage_chunk_shape.size() != rank) {
    return InvalidArgumentError(label + ": chunk shapes do not match the array's rank");
  }
  if (options.min_bytes > options.target_bytes || options.target_bytes > options.max_bytes ||
      options.min_bytes == 0) {
    return InvalidArgumentError(
        "block sizes must satisfy 0 < min_bytes <= target_bytes <= max_bytes");
  }
  const size_t element_size = std::max<size_t>(1, info.element_size());
  std::vector<int64_t> unit(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (info.chunk_shape[d] < 1 || info.storage_chunk_shape[d] < 1) {
      return InvalidArgumentError(label + ": chunk shapes must be positive");
    }
    unit[d] = std::max<int64_t>(1, std::min(info.storage_chunk_shape[d], info.shape[d]));
  }
  std::vector<int64_t> block = unit;
  if (BlockBytes(block, element_size) > options.max_bytes) {
    // Split a big storage chunk into an even number of decode chunks per dimension, slowest
    // dimension first, so blocks never straddle a storage chunk boundary.
    for (size_t d = 0; d < rank && BlockBytes(block, element_size) > options.max_bytes; ++d) {
      const int64_t inner = info.chunk_shape[d];
      if (unit[d] % inner != 0 || unit[d] <= inner) continue;
      const int64_t n = unit[d] / inner;  // decode chunks along d in one storage chunk
      for (int64_t k = n; k >= 1; --k) {
        if (n % k != 0) continue;
        block[d] = k * inner;
        if (BlockBytes(block, element_size) <= options.max_bytes) break;
      }
    }
    return block;
  }
  // Group small storage chunks, slowest dimension first.
  for (size_t d = 0; d < rank && BlockBytes(block, element_size) < options.min_bytes; ++d) {
    const uint64_t bytes = BlockBytes(block, element_size);
    const int64_t units_along = CeilDiv(std::max<int64_t>(info.shape[d], 1), unit[d]);
    const int64_t wanted =
        static_cast<int64_t>((options.target_bytes + bytes - 1) / bytes);  // >= 2 here
    const int64_t k = std::min(wanted, units_along);
    block[d] = std::min(unit[d] * k, std::max<int64_t>(info.shape[d], 1));
  }
  return block;
}

Result<std::vector<std::pair<int64_t, int64_t>>> SplitAligned(int64_t start, int64_t stop,
                                                              int64_t unit, int parts) {
  if (unit < 1 || parts < 1) {
    return InvalidArgumentError("SplitAligned: unit and parts must be positive");
  }
  std::vector<std::pair<int64_t, int64_t>> out;
  if (start >= stop) return out;
  // The unit boundaries strictly inside (start, stop): the candidate cut points.
  const int64_t first_cut = (start / unit + 1) * unit;
  const int64_t cuts = first_cut >= stop ? 0 : CeilDiv(stop - first_cut, unit);
  const int64_t pieces_available = cuts + 1;  // units touched (partial ones at the ends count)
  const int64_t n = std::min<int64_t>(parts, pieces_available);
  // Piece i takes units [i * U / n, (i + 1) * U / n) of the U touched units.
  int64_t begin = start;
  for (int64_t i = 1; i <= n; ++i) {
    const int64_t units_end = i * pieces_available / n;  // units before the cut
    const int64_t end =
        i == n ? stop : std::min(stop, first_cut + (units_end - 1) * unit);
    if (end > begin) out.emplace_back(begin, end);
    begin = end;
  }
  return out;
}

}  // namespace lsio::array
