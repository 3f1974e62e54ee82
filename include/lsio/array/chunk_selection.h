#pragma once

// From per-dimension index ranges (selection.h) to the exact set of chunks a selection touches,
// and for each chunk the strided box to take from the chunk and where it goes in the output;
// for sharded arrays, the exact inner chunks needed inside each shard.
//
// The output array has one dimension per non-dropped DimRange, of size DimRange::count, in
// C order. Boxes are given for every array dimension (a dropped dimension has count 1 and
// out_start 0), so the caller can copy with the array's rank and squeeze afterwards.
//
// Thread safety: pure functions.

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "lsio/base/result.h"
#include "lsio/array/selection.h"

namespace lsio::array {

// One dimension of one chunk's part of a selection.
struct ChunkDimSlice {
  int64_t start = 0;      // first element inside the chunk
  int64_t step = 1;       // stride inside the chunk (the DimRange's step)
  int64_t count = 0;      // elements taken
  int64_t out_start = 0;  // position of the first one along the output dimension

  bool operator==(const ChunkDimSlice&) const = default;
};

struct ChunkSelection {
  std::vector<int64_t> grid;        // chunk coordinates in the grid (or in the shard)
  std::vector<ChunkDimSlice> dims;  // one per array dimension

  int64_t num_elements() const;
  bool operator==(const ChunkSelection&) const = default;
};

// The pieces of `range` that fall into each chunk of size `chunk_size` along one dimension,
// in output order. Precondition: every index of `range` lies in [0, dimension size).
std::vector<std::pair<int64_t, ChunkDimSlice>> SplitDimension(const DimRange& range,
                                                              int64_t chunk_size);

// Calls `fn` once per chunk the selection touches (C order of the output), with its grid
// coordinates and boxes. Stops at and returns the first error `fn` returns. Errors:
// kInvalidArgument when ranks differ or a range leaves [0, shape).
Status ForEachChunk(std::span<const DimRange> ranges, std::span<const int64_t> shape,
                    std::span<const int64_t> chunk_shape,
                    const std::function<Status(const ChunkSelection&)>& fn);

// All of them in a vector. Errors as ForEachChunk, plus kResourceExhausted beyond
// `max_chunks` chunks.
Result<std::vector<ChunkSelection>> ChunksForSelection(std::span<const DimRange> ranges,
                                                       std::span<const int64_t> shape,
                                                       std::span<const int64_t> chunk_shape,
                                                       size_t max_chunks = size_t{1} << 24);

// The inner chunks of a shard that `shard` (one element of ForEachChunk over the shard grid)
// needs, with boxes inside each inner chunk and positions in the same output. Grid coordinates
// are inside the shard. Precondition: inner_chunk_shape divides the shard shape.
std::vector<ChunkSelection> InnerChunksForShard(const ChunkSelection& shard,
                                                std::span<const int64_t> inner_chunk_shape);

// The output shape: counts of the non-dropped ranges.
std::vector<int64_t> SelectionShape(std::span<const DimRange> ranges);

}  // namespace lsio::array
