#pragma once

// The pass driver: one pass over the selected chunks of several arrays of one dataset, each
// chunk read once and handed, decoded, to its array's aggregator on the CPU pool, within one
// memory budget. Operations (statistics, user map/reduce, quantiles, ...) are aggregators
// driven by this (Arrow's Consume / Merge / Finalize shape: an aggregator consumes chunks
// concurrently, merges its per-chunk or per-worker parts itself, and is finalised by its
// operation after the pass).
//
// Memory plan (PlanMemory): two decoded chunks per worker plus the decode pool's cache of the
// same size, the aggregators' state as each reports it (Aggregator::state_bytes), and the rest
// (at most the store's read_ahead_bytes()) for the reader's bytes in flight. Too small a budget
// reduces workers, then fails naming the minimum.
//
// Thread safety: RunPass blocks; aggregators are called concurrently from CPU workers.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lsio/array/source.h"
#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/runtime/context.h"

namespace lsio::ops {

// A consumer of one array's decoded chunks with a known memory cost.
class Aggregator : public array::ChunkConsumer {
 public:
  // Bytes of state held for the whole pass (accumulators, grids), for the memory plan.
  virtual uint64_t state_bytes() const = 0;
  // Before the pass: where decoded chunks come from (for fill-value chunks an aggregator builds
  // itself) and how many chunk ordinals the pass will hand it (0 .. read_chunks - 1).
  virtual Status BeginPass(BufferPool& decode_pool, uint64_t read_chunks) = 0;
  // After every chunk of the pass was consumed (not called when the pass failed).
  virtual Status EndPass() { return Status::OK(); }
};

struct PassInput {
  const array::ArraySource* array = nullptr;
  std::vector<array::DimRange> ranges;
  Aggregator* aggregator = nullptr;
  // For messages: "variable 't2m'".
  std::string label;
};

struct PassProgress {
  uint64_t bytes_done = 0;   // decoded bytes of the selection consumed
  uint64_t bytes_total = 0;
  uint64_t chunks_done = 0;  // decoded chunks consumed
  uint64_t chunks_total = 0;
  double seconds = 0;        // since the pass started
};

struct PassOptions {
  uint64_t max_memory = uint64_t{256} << 20;
  // CPU workers; 0: the context's pool size.
  int threads = 0;
  std::function<bool()> cancelled;
  // Called on the coordinating thread about 10 times a second and at the end.
  std::function<void(const PassProgress&)> progress;
  // Where decoded chunks come from; null: a pool of the pass's own. A caller that runs passes
  // one after another gives them one pool, so that each pass reuses the decode buffers of the
  // last instead of clearing fresh pages; its cache must stay within the memory plan (at most
  // 2 decoded chunks per worker, as the pass's own pool).
  BufferPool* decode_pool = nullptr;
};

struct PassResult {
  uint64_t bytes_read = 0;      // from the store
  uint64_t bytes_decoded = 0;   // element size x elements selected, over all inputs
  uint64_t chunks = 0;          // stored chunks (shards) touched
  uint64_t missing_chunks = 0;  // of which absent (fill value)
  int threads = 0;
  uint64_t io_budget = 0;
  std::string io_backend;
  double seconds = 0;
};

// Runs one pass. All inputs must come from arrays of one store. Errors: the memory plan's, the
// planning of each array's reads, and the first chunk error an aggregator does not absorb.
Result<PassResult> RunPass(runtime::Context& context, std::vector<PassInput>& inputs,
                           const PassOptions& options);

}  // namespace lsio::ops
