#include "lsio/format/zarr/chunk_key.h"

namespace lsio::zarr {

std::string EncodeChunkKey(const ChunkKeyEncoding& encoding, std::span<const int64_t> grid) {
  if (encoding.kind == ChunkKeyEncoding::Kind::kDefault) {
    // Constructed, not assigned from "c": g++ 12 warns (-Wrestrict) on assigning a one-char
    // literal to a string (GCC PR 105651, a false positive).
    std::string key(1, 'c');
    for (int64_t g : grid) {
      key += encoding.separator;
      key += std::to_string(g);
    }
    return key;
  }
  if (grid.empty()) return "0";
  std::string key;
  for (size_t i = 0; i < grid.size(); ++i) {
    if (i > 0) key += encoding.separator;
    key += std::to_string(grid[i]);
  }
  return key;
}

}  // namespace lsio::zarr
