#pragma once

// ChunkView and Box: how the compute kernels see a decoded chunk and the part of it that counts.
//
// The scheduler decodes a chunk into its full shape (edge chunks are padded up to the chunk
// shape) and asks a kernel to look only at a box inside it: the part that lies inside the array
// and inside the user's selection. Both are borrowed views; nothing is copied.

#include <cstddef>
#include <cstdint>
#include <span>

#include "lsio/base/dtype.h"
#include "lsio/base/status.h"

namespace lsio::compute {

// Kernels accept chunks of rank 0 (one element) up to this rank.
inline constexpr size_t kMaxRank = 32;

// A decoded chunk: C-order elements of `dtype` in native byte order, `shape` as decoded (the
// full chunk shape). `bytes` must hold exactly product(shape) * ByteWidth(dtype) bytes and be
// aligned to ByteWidth(dtype) (decoded buffers from BufferPool are 4096-aligned).
struct ChunkView {
  DataType dtype = DataType::kFloat64;
  std::span<const int64_t> shape;
  std::span<const std::byte> bytes;
};

// The elements [start[i], stop[i]) on every axis i of a chunk. A box with start[i] == stop[i]
// on any axis is empty. Rank 0 chunks take empty spans.
struct Box {
  std::span<const int64_t> start;
  std::span<const int64_t> stop;
};

// Number of elements of a shape (1 for rank 0), or -1 if it overflows int64 or an extent is
// negative.
int64_t ElementCount(std::span<const int64_t> shape);

// Checks that `chunk` is self-consistent (rank <= kMaxRank, non-negative extents, byte size and
// alignment as documented above) and that `box` has the chunk's rank with
// 0 <= start[i] <= stop[i] <= shape[i]. InvalidArgument naming the offending axis and values
// otherwise; callers add the chunk key with Status::WithContext.
Status ValidateChunkBox(const ChunkView& chunk, const Box& box);

// The checks of ValidateChunkBox that do not need the bytes (rank, dtype, shape, box), for a
// chunk that arrives in pieces (StatsStream).
Status ValidateShapeBox(DataType dtype, std::span<const int64_t> shape, const Box& box);

}  // namespace lsio::compute
