#pragma once

// Fused decode-and-reduce: statistics of a stored chunk without materialising the decoded
// chunk. The chain's decoder hands the decoded bytes over in cache-sized pieces
// (CodecChain::DecodeStreaming: blosc frames that lsio's own decoder handles, block by block,
// unshuffled into an L1-sized window) and a StatsStream folds each piece into the accumulator
// while it is in cache, so the chunk crosses the memory bus once (compressed) instead of three
// times (compressed in, decoded out, decoded back in). Chains that cannot stream (array->array
// codecs, byte swapping, codecs other than blosc) are decoded into scratch and consumed as
// before: DecodeAndConsume always works, and is fused where it can be.
//
// Results are bit-identical to
//   chain.Decode(encoded, buf); acc.Consume(ChunkView{dtype, shape, buf}, box);
// (see stats_stream.h for why), and so are the errors' codes: corrupt or truncated data is
// kCorruptData on both paths.
//
// Example (one accumulator per worker, as with Consume):
//   LSIO_RETURN_IF_ERROR(compute::DecodeAndConsume(chain, stored_bytes, box, acc));

#include <cstddef>
#include <span>

#include "lsio/base/buffer.h"
#include "lsio/base/status.h"
#include "lsio/codec/chain.h"
#include "lsio/compute/chunk_box.h"
#include "lsio/compute/stats.h"

namespace lsio::compute {

// Decodes `encoded` (one stored chunk of chain.decoded_spec()) and adds the elements inside
// `box` (of the decoded chunk's shape) to `acc`. InvalidArgument if the chain's dtype is not
// acc.dtype() or the box does not fit the chunk; the chain's decode errors otherwise (kCorruptData
// for data that does not decode to exactly the chunk). On any error `acc` is left as it was.
// Scratch (when the chain cannot stream) comes from `pool`.
Status DecodeAndConsume(const codec::CodecChain& chain, std::span<const std::byte> encoded,
                        const Box& box, StatsAccumulator& acc,
                        BufferPool& pool = DefaultBufferPool());

}  // namespace lsio::compute
