#pragma once

// StatsStream: feeds a StatsAccumulator from a chunk that arrives in pieces, in C order, as a
// streaming decoder produces it (CodecChain::DecodeStreaming), so that the decoded chunk is
// never written to memory as a whole: each piece is reduced while it is in cache.
//
// Bit-identical to the unfused path: after Finish(), the accumulator holds exactly the bits that
// acc.Consume(ChunkView{dtype, shape, whole_chunk}, box) would have given. How: the accumulator
// folds its input one block at a time (StatsAccumulator::BlockElements elements, cut into runs
// by BlockBuilder), and its state depends only on each block's elements and on how the block is
// cut into runs, never on where the runs lie in memory. StatsStream walks the box's runs and
// replays BlockBuilder's decisions on element offsets, which depend on the box and not on the
// data, so it forms the same blocks with the same runs. A run lying wholly inside one piece is
// read in place; a run that crosses the end of a piece, and the runs of a block still open when
// its piece ends, are copied into a block-sized staging buffer first (at most one block per
// piece, so pieces of a few blocks cost little; pieces that end on block boundaries cost
// nothing).
//
// Thread safety: a plain object used by one thread; the accumulator must not be used elsewhere
// meanwhile.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "lsio/base/dtype.h"
#include "lsio/base/result.h"
#include "lsio/base/status.h"
#include "lsio/compute/chunk_box.h"
#include "lsio/compute/stats.h"

namespace lsio::compute {

class StatsStream {
 public:
  // A stream adding the elements inside `box` of a chunk of `shape` (C order, native byte order,
  // elements of acc.dtype()) to `acc`. InvalidArgument (see ValidateShapeBox) for a malformed
  // shape or box. `acc`, `shape` and `box` (the spans it views) must outlive the stream.
  static Result<StatsStream> Make(StatsAccumulator& acc, std::span<const int64_t> shape,
                                  const Box& box);

  StatsStream(StatsStream&&) noexcept;
  StatsStream& operator=(StatsStream&&) noexcept;
  ~StatsStream();

  // The next bytes of the chunk, of any size (not necessarily whole elements); `piece` is read
  // during the call only. kCorruptData if the pieces add up to more than the chunk holds.
  Status Feed(std::span<const std::byte> piece);
  // Ends the chunk: kCorruptData if fewer bytes arrived than it holds; otherwise the last block
  // is folded in. Blocks are folded as soon as they are complete, so after an error the
  // accumulator may hold part of the chunk (DecodeAndConsume restores it).
  Status Finish();

  // Bytes the chunk holds, and bytes fed so far.
  size_t chunk_bytes() const;
  size_t received() const;

 private:
  struct State;
  explicit StatsStream(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace lsio::compute
