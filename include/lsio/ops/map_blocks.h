#pragma once

// A chunk-wise transform written to a new dataset (issue 17, level 2): a function turns each
// block of a selection (map_reduce.h's Block) into an array of the block's shape, and the
// results are written as one variable of a new dataset (format::DatasetWriter: Zarr, published
// atomically at the store's root), with the selection's dimension names, the coordinates of
// its dimensions (their selected values, stored type and attributes), the variable's attributes
// and its group's attributes.
//
// Output chunks: by default the input's chunk shape (over the dimensions kept), so that each
// block is one output chunk, encoded and written at once. Other chunk shapes, or selections
// that do not start at a chunk boundary, are assembled from the blocks that overlap each output
// chunk; partly filled output chunks wait in memory for their other blocks, and a run whose
// waiting chunks would exceed the memory budget fails (kResourceExhausted) saying so.
//
// Not carried over: auxiliary (non-dimension) coordinates, and a Zarr v2 fill value that is not
// an attribute (floating-point outputs take NaN as their fill value, others none).
//
// Thread safety: blocks the caller; `fn` runs concurrently on CPU workers.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lsio/array/dataset.h"
#include "lsio/array/element_type.h"
#include "lsio/base/result.h"
#include "lsio/format/write.h"
#include "lsio/kvstore/store.h"
#include "lsio/ops/map_reduce.h"
#include "lsio/runtime/context.h"

namespace lsio::ops {

// Fills `out`: block.num_elements() elements of the output type, C order over block.shape,
// native byte order. Called concurrently; an error stops the run (nothing is published) and is
// returned with the block named.
using BlockTransform = std::function<Status(const Block& block, std::span<std::byte> out)>;

struct MapBlocksOptions {
  BlockPassOptions pass;
  // The output variable's name; empty: the input's path.
  std::string name;
  // The output's element type; nullopt: the input's.
  std::optional<array::ElementType> type;
  // Output chunks, one extent per kept dimension; empty: the input's chunks (clipped to the
  // selection).
  std::vector<int64_t> chunk_shape;
  // Format, compression, whether to replace what is at the output.
  format::DatasetWriteOptions write;
};

struct MapBlocksResult {
  PassResult pass;
  std::string name;                 // the variable written
  std::vector<std::string> dims;    // its dimensions
  std::vector<int64_t> shape;
  std::vector<int64_t> chunk_shape;
  std::vector<std::string> coordinates;  // coordinate variables written
  uint64_t assembled_chunks = 0;    // output chunks assembled from several blocks
};

// Errors: ForEachBlock's; the output's (an existing dataset without write.replace, an element
// type the format cannot hold); kInvalidArgument for a chunk shape of the wrong rank or with an
// extent < 1; kResourceExhausted as above.
Result<MapBlocksResult> MapBlocks(runtime::Context& context, const array::Dataset& dataset,
                                  const array::ArraySource& array,
                                  std::span<const array::DimRange> ranges,
                                  const BlockTransform& fn, kvstore::Store& out,
                                  const MapBlocksOptions& options = {});

}  // namespace lsio::ops
