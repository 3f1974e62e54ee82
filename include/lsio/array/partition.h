#pragma once

// Partitions of an array into blocks that tasks read one each (dask chunks, scale-out shares):
// aligned to the unit of storage, so that no stored chunk (shard, chunk, message) is read by two
// tasks, and large enough that a task's fixed cost (scheduling, one engine call, its Python
// frames) is small beside the bytes it moves, while a task still fits comfortably in memory.
//
// Thread safety: pure functions.

#include <cstdint>
#include <utility>
#include <vector>

#include "lsio/array/info.h"
#include "lsio/base/result.h"

namespace lsio::array {

struct BlockOptions {
  // Decoded bytes a block should move: blocks of storage chunks grow along the slowest
  // dimensions until they reach at least min_bytes, aiming at target_bytes.
  uint64_t min_bytes = uint64_t{32} << 20;
  uint64_t target_bytes = uint64_t{64} << 20;
  // A storage chunk larger than this (a big shard) is split into blocks of whole decode chunks
  // (ArrayInfo::chunk_shape), slowest dimensions first, that divide it evenly.
  uint64_t max_bytes = uint64_t{128} << 20;
};

// The shape of a block (the last block along a dimension may be smaller):
//   - a storage chunk of at least min_bytes and at most max_bytes is one block;
//   - smaller ones are grouped: along dimension 0 first, then 1, ..., each in whole storage
//     chunks, until a block reaches min_bytes (target_bytes along the dimension where it stops);
//   - larger ones are split along dimension 0 first, then 1, ..., into a divisor of the
//     storage chunk in decode chunks, until a block is at most max_bytes (or one decode chunk).
// Every block boundary is a storage chunk boundary (grouping) or a decode chunk boundary
// inside one storage chunk (splitting). Dimensions of size 0 get blocks of 1.
// Errors: kInvalidArgument for an ArrayInfo whose chunk shapes do not match its rank or are not
// positive, or options with min_bytes > target_bytes or target_bytes > max_bytes.
Result<std::vector<int64_t>> PreferredBlockShape(const ArrayInfo& info,
                                                 const BlockOptions& options = {});

// Splits [start, stop) along a dimension into at most `parts` contiguous, non-empty pieces whose
// inner boundaries are multiples of `unit` (storage chunk boundaries: no stored chunk is in two
// pieces), with the units spread as evenly as they go. start >= stop gives no piece.
// Errors: kInvalidArgument for unit < 1 or parts < 1.
Result<std::vector<std::pair<int64_t, int64_t>>> SplitAligned(int64_t start, int64_t stop,
                                                              int64_t unit, int parts);

}  // namespace lsio::array
