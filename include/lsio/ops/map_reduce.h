#pragma once

// A user's function on every chunk of an array (issue 17, level 2): ForEachBlock hands each
// decoded chunk of a selection (the part of it inside the selection, as a contiguous C-order
// block) with its position to a function, on the context's CPU workers while reads and decodes
// of later chunks continue; MapReduce<T> builds a reduction on it whose result does not depend
// on the thread count or the order chunks finish in.
//
//   auto count = ops::MapReduce<int64_t>(
//       context, *array, ranges,
//       [](const ops::Block& b) -> Result<int64_t> {
//         int64_t n = 0;
//         for (float v : b.values<float>()) n += v > 300.0f;
//         return n;
//       },
//       [](int64_t a, int64_t b) -> Result<int64_t> { return a + b; });
//
// Blocks hold the values as stored (the array's storage type, native byte order; no CF masking
// or scaling); a missing chunk is a block of the fill value. Blocks of one run follow the
// chunk grid: a block is one chunk's part of the selection (one inner chunk of a sharded array).
//
// Memory: the pass driver's plan (pass.h): blocks are decoded chunks or copies from the pass's
// decode pool, two per worker; results waiting for an earlier chunk's are held until it comes
// (the scheduler's window of chunks in flight bounds how many).
//
// Thread safety: the functions are called concurrently from CPU workers (at most
// `options.threads` at once) and must be thread-safe; `combine` is called under a lock, one
// call at a time. The calls block until the run ends.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lsio/array/info.h"
#include "lsio/array/selection.h"
#include "lsio/array/source.h"
#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/ops/pass.h"
#include "lsio/runtime/context.h"

namespace lsio::ops {

// Where a block lies along one dimension of the array.
struct BlockDim {
  int64_t start = 0;      // array index of the block's first element
  int64_t step = 1;       // the selection's step: indices start, start + step, ...
  int64_t count = 0;      // elements along this dimension
  int64_t out_start = 0;  // position of the first one along the selection's dimension
  bool dropped = false;   // selected by a scalar: not a dimension of the block

  // One past the last index (Python's stop for this step; -1 when a negative step reaches 0).
  int64_t stop() const { return start + count * step; }
};

// One decoded chunk's part of the selection.
struct Block {
  // The chunk's number: 0, 1, ... in the C order of the selection's chunks.
  uint64_t ordinal = 0;
  // One per dimension of the array.
  std::vector<BlockDim> dims;
  // The block's shape: the counts of the dimensions not dropped.
  std::vector<int64_t> shape;
  // shape's elements, C order, contiguous, of the array's storage type in native byte order.
  std::span<const std::byte> data;
  // The same bytes as a Buffer the caller may keep, when the run was asked for owned blocks
  // (BlockPassOptions::owned_blocks); empty otherwise.
  Buffer owned;
  // The array (element type, dimension names, attributes).
  const array::ArrayInfo* array = nullptr;

  int64_t num_elements() const;
  // The values, for T of the array's element size. Precondition: sizeof(T) == element size.
  template <typename T>
  std::span<const T> values() const {
    return {reinterpret_cast<const T*>(data.data()), data.size() / sizeof(T)};
  }
  // "chunk 3 (time 10:20, lat 0:90, lon 180:360)": array index ranges, for messages.
  std::string Describe() const;
};

struct BlockPassOptions {
  // CPU workers running the function at once; 0: the context's pool size.
  int threads = 0;
  // Data in flight, decoded chunks and blocks (pass.h's memory plan).
  uint64_t max_memory = uint64_t{256} << 20;
  // Every block in its own Buffer (Block::owned) that outlives the call (for the Python
  // binding, which hands it to numpy without another copy). Otherwise a block that is a whole
  // decoded chunk is handed over without a copy and is valid only during the call.
  bool owned_blocks = false;
  // Memory the function's results hold across calls, for the memory plan.
  uint64_t state_bytes = 0;
  // Polled about every 20 ms; true cancels the run (kCancelled).
  std::function<bool()> cancelled;
  // Called on the coordinating thread about 10 times a second and at the end.
  std::function<void(const PassProgress&)> progress;
};

// Called once per block, concurrently. An error stops the run; it is returned with the array
// and the block named ("variable 't2m': chunk 3 (time 10:20, ...): <the function's error>").
using BlockFunction = std::function<Status(const Block&)>;

// Runs `fn` on every block of `ranges` (one DimRange per dimension of `array`,
// Dataset::ResolveSelection) of `array`. Errors: the function's first error, the array's read
// and decode errors (naming the chunk), kCancelled, the memory plan's.
Result<PassResult> ForEachBlock(runtime::Context& context, const array::ArraySource& array,
                                std::span<const array::DimRange> ranges, const BlockFunction& fn,
                                const BlockPassOptions& options = {});

namespace internal {

// Combines per-chunk results in chunk order, whatever order they arrive in, as a binary counter
// does (level k holds the combination of 2^k consecutive results): the same calls, on the same
// values, for any thread count. Thread-safe; `combine` runs under the lock.
template <typename T>
class OrderedCombine {
 public:
  using Combine = std::function<Result<T>(T earlier, T later)>;
  explicit OrderedCombine(Combine combine) : combine_(std::move(combine)) {}

  Status Add(uint64_t ordinal, T part) {
    std::lock_guard lock(mu_);
    if (ordinal < next_ || pending_.count(ordinal)) {
      return InternalError("chunk " + std::to_string(ordinal) + " was reduced twice");
    }
    pending_.emplace(ordinal, std::move(part));
    for (auto it = pending_.begin(); it != pending_.end() && it->first == next_;
         it = pending_.begin()) {
      T value = std::move(it->second);
      pending_.erase(it);
      ++next_;
      levels_.emplace_back(1, std::move(value));
      while (levels_.size() >= 2 && levels_[levels_.size() - 2].first == levels_.back().first) {
        std::pair<uint64_t, T> later = std::move(levels_.back());
        levels_.pop_back();
        Result<T> merged =
            combine_(std::move(levels_.back().second), std::move(later.second));
        if (!merged.ok()) return merged.status();
        levels_.back().second = *std::move(merged);
        levels_.back().first *= 2;
      }
    }
    return Status::OK();
  }

  // The combination of results 0 .. n-1 (nullopt for n == 0). Errors: kInternal when not all
  // n were added; `combine`'s.
  Result<std::optional<T>> Finish(uint64_t n) {
    std::lock_guard lock(mu_);
    if (next_ != n || !pending_.empty()) {
      return InternalError("map_reduce: " + std::to_string(next_) + " of " + std::to_string(n) +
                           " chunks reduced");
    }
    if (levels_.empty()) return std::optional<T>();
    T result = std::move(levels_.back().second);
    levels_.pop_back();
    while (!levels_.empty()) {
      Result<T> merged = combine_(std::move(levels_.back().second), std::move(result));
      levels_.pop_back();
      if (!merged.ok()) return merged.status();
      result = *std::move(merged);
    }
    return std::optional<T>(std::move(result));
  }

  // Drops what is held (under the lock), e.g. before an owner that needs a lock to destroy
  // values goes away.
  void Clear() {
    std::lock_guard lock(mu_);
    pending_.clear();
    levels_.clear();
  }

 private:
  Combine combine_;
  std::mutex mu_;
  uint64_t next_ = 0;
  std::map<uint64_t, T> pending_;
  std::vector<std::pair<uint64_t, T>> levels_;
};

}  // namespace internal

// map on every block, then combine(earlier, later) over the results in chunk order (a balanced
// tree over the chunk ordinals: `combine` must be associative; it need not be commutative).
// nullopt when the selection is empty. `map` runs concurrently on CPU workers; `combine` one
// call at a time, on whichever thread completes a pair. Errors: ForEachBlock's; `map`'s and
// `combine`'s, naming the block for `map`.
template <typename T>
Result<std::optional<T>> MapReduce(runtime::Context& context, const array::ArraySource& array,
                                   std::span<const array::DimRange> ranges,
                                   const std::function<Result<T>(const Block&)>& map,
                                   const std::function<Result<T>(T earlier, T later)>& combine,
                                   const BlockPassOptions& options = {}) {
  internal::OrderedCombine<T> reduced(combine);
  uint64_t blocks = 0;
  std::mutex count_mu;
  Result<PassResult> pass = ForEachBlock(
      context, array, ranges,
      [&](const Block& block) -> Status {
        Result<T> part = map(block);
        if (!part.ok()) return part.status();
        {
          std::lock_guard lock(count_mu);
          ++blocks;
        }
        return reduced.Add(block.ordinal, *std::move(part));
      },
      options);
  if (!pass.ok()) return pass.status();
  return reduced.Finish(blocks);
}

}  // namespace lsio::ops
