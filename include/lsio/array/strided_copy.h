#pragma once

// Copying a strided box of elements between two C-order arrays, and filling a box with one
// element value: how a decoded chunk lands in an output array (and a missing chunk becomes
// its fill value).
//
// Bounds are checked: a box that leaves either array is kInvalidArgument, never an overrun.
//
// Thread safety: pure functions; concurrent calls writing disjoint boxes of one output are
// safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "lsio/base/result.h"
#include "lsio/array/chunk_selection.h"

namespace lsio::array {

struct CopyBoxDim {
  int64_t src_start = 0;
  int64_t src_step = 1;  // may be negative
  int64_t dst_start = 0;
  int64_t count = 0;  // dst positions are dst_start .. dst_start + count - 1
};

// dst[dst_start + i] = src[src_start + i * src_step] along every dimension.
Status CopyBox(std::span<const std::byte> src, std::span<const int64_t> src_shape,
               std::span<std::byte> dst, std::span<const int64_t> dst_shape,
               std::span<const CopyBoxDim> dims, size_t element_size);

// Sets the box [dst_start, dst_start + count) of `dst` to `element` (element.size() bytes).
Status FillBox(std::span<std::byte> dst, std::span<const int64_t> dst_shape,
               std::span<const CopyBoxDim> dims, std::span<const std::byte> element);

// When `dims` takes every element of a chunk of `src_shape` (each dimension from 0, step 1, in
// full) and they lie next to each other, in the chunk's order, in `dst` of `dst_shape`
// (leading dimensions of one element, then one that may be partial, then dimensions the box
// spans in full): the offset of the first, in elements. Else nullopt. Where a chunk can be
// decoded straight into its destination.
std::optional<uint64_t> ContiguousBoxOffset(std::span<const CopyBoxDim> dims,
                                            std::span<const int64_t> src_shape,
                                            std::span<const int64_t> dst_shape);

// CopyBox for one ChunkSelection: from a decoded chunk of `chunk_shape` into an output of
// `out_shape`, which has the array's rank (dropped dimensions kept with size 1).
Status CopyChunkSelection(const ChunkSelection& selection, std::span<const std::byte> chunk,
                          std::span<const int64_t> chunk_shape, std::span<std::byte> out,
                          std::span<const int64_t> out_shape, size_t element_size);

}  // namespace lsio::array
