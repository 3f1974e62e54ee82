#include "lsio/format/zarr/chunk_key.h"

namespace lsio::zarr {

std::string EncodeChunkKey(const ChunkKeyEncoding& encoding, std::span<const int64_t> grid) {
  std::string key;
  if (encoding.kind == ChunkKeyEncoding::Kind::kDefault) {
    key = "c";
    for (int64_t g : grid) {
      key += encoding.separator;
      key += std::to_string(g);
    }
    return key;
  }
  if (grid.empty()) return "0";
  for (size_t i = 0; i < grid.size(); ++i) {
    if (i > 0) key += encoding.separator;
    key += std::to_string(grid[i]);
  }
  return key;
}

}  // namespace lsio::zarr
