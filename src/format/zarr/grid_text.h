#pragma once

// Small grid helpers shared by the shard code (private to src/format/zarr).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lsio::zarr::internal {

// "1.0.3" for messages ("0" for a 0-d grid).
inline std::string GridText(std::span<const int64_t> g) {
  std::string s;
  for (size_t i = 0; i < g.size(); ++i) {
    if (i > 0) s += ".";
    s += std::to_string(g[i]);
  }
  return s.empty() ? "0" : s;
}

// C-order coordinates of linear position `i` in a grid of `shape`.
inline std::vector<int64_t> Unravel(int64_t i, std::span<const int64_t> shape) {
  std::vector<int64_t> g(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    g[d] = i % shape[d];
    i /= shape[d];
  }
  return g;
}

}  // namespace lsio::zarr::internal
