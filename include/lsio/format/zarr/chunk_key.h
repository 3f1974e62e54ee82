#pragma once

// Chunk keys: grid coordinates -> the key of the chunk's object in the store, and joining keys
// to store paths without escaping the store.
//
//   Zarr v2                      "0.1" or "0/1" (dimension_separator), "0" for a 0-d array
//   Zarr v3, encoding "default"  "c/0/1" or "c.0.1", "c" for a 0-d array
//   Zarr v3, encoding "v2"       "0.1" or "0/1", "0" for a 0-d array
//
// Thread safety: pure functions.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "lsio/base/result.h"

namespace lsio::zarr {

struct ChunkKeyEncoding {
  enum class Kind : unsigned char { kDefault, kV2 };
  Kind kind = Kind::kDefault;
  char separator = '/';  // '/' or '.'

  bool operator==(const ChunkKeyEncoding&) const = default;
};

// The key of the chunk at `grid` (one coordinate per dimension; empty for a 0-d array).
std::string EncodeChunkKey(const ChunkKeyEncoding& encoding, std::span<const int64_t> grid);

}  // namespace lsio::zarr
