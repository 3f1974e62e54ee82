#pragma once

// How a run splits its memory budget (--max-memory) between the IO engine's bytes in flight,
// the decoded chunks the CPU workers hold, and the accumulators.
//
//   decoded     2 chunks per worker (the decoded chunk, and a fill-value chunk or codec
//               scratch), plus the decode pool's cache of the same size.
//   accumulators as given (per-cell grids for --over).
//   IO          the rest, of which half is the engine's bytes in flight (io_budget) and half
//               its pool of free read buffers, which the engine keeps up to the size of its
//               budget so that a steady scan reuses buffers instead of faulting in new pages.
//               io_budget is at most `max_io_budget` (the store's Store::read_ahead_bytes(),
//               which keeps it busy; kMaxIoBudget when not given) and at least two decoded
//               chunks' worth so that reading overlaps decoding.
//
// When the budget cannot hold that with the requested workers, fewer workers are used; when it
// cannot hold it with one, the plan fails with a message saying how much is needed.

#include <cstdint>

#include "lsio/base/result.h"

namespace lsio::ops {

inline constexpr uint64_t kMaxIoBudget = uint64_t{128} << 20;

struct MemoryPlan {
  int threads = 1;
  uint64_t io_budget = 0;          // EngineOptions::max_bytes_in_flight (the engine's pool may
                                   // cache as much again in free blocks)
  uint64_t group_bytes = 0;        // SchedulerOptions::group_bytes
  uint64_t decode_cache_bytes = 0; // BufferPoolOptions::max_cached_bytes of the decode pool
};

// `threads` 0 means one per core. Errors: kInvalidArgument when `max_memory` is too small,
// naming the minimum.
Result<MemoryPlan> PlanMemory(uint64_t max_memory, int threads, uint64_t max_decoded_chunk_bytes,
                              uint64_t accumulator_bytes,
                              uint64_t max_io_budget = kMaxIoBudget);

}  // namespace lsio::ops
