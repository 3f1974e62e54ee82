#pragma once

// The Zarr data path: the chunks of a selection become scheduler read tasks whose handlers
// decode each chunk and hand it to a ChunkConsumer on a CPU worker.
//
//   non-sharded  one whole-file read per chunk; a missing file is the fill value. An
//                uncompressed chunk of which the selection needs at most 3/4 (an edge chunk of
//                the array, a sub-selection) is read in up to 64 ranges holding just the
//                selected part (then handed to the consumer as a smaller chunk, see
//                ChunkConsumer::Consume); the file must still be exactly one chunk long.
//   sharded      one read of the shard index (a range at the start or end of the shard file),
//                then one range read per inner chunk the selection needs (the IO engine
//                coalesces neighbours); empty index entries and missing shards are the fill
//                value. A shard is never read whole when only part of it is wanted.
//
// Chunks are enumerated lazily (an odometer over the per-dimension chunk lists), so a request
// over millions of chunks holds only the tasks in flight.
//
// Errors name the variable, the chunk key and the file: "variable 't2m': chunk c/3/0/1
// (/data/x.zarr/t2m/c/3/0/1): CorruptData: ..." (for an inner chunk of a shard, "chunk c/0/1
// inner chunk [0, 1]"). A chunk file or shard index entry larger than any encoding of the
// chunk (16 times its decoded size plus 1 MiB) is corrupt and refused before it is read, so
// no damaged file makes a read allocate more than that.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/format/zarr/chunk_selection.h"
#include "lsio/format/zarr/hierarchy.h"
#include "lsio/sched/scheduler.h"

namespace lsio::ops {

// Receives the decoded chunks of one array. Called concurrently from CPU workers, once per
// chunk (or inner chunk) of the selection.
//
// `ordinal` numbers the chunks (inner chunks, when sharded) of one array 0, 1, 2, ... in the
// C order of the selection, whatever order they are read and decoded in: a consumer that
// merges floating-point partial results in ordinal order gets the same bits however the work
// was scheduled (any IO backend, any number of threads).
class ChunkConsumer {
 public:
  virtual ~ChunkConsumer() = default;
  // `chunk`: a decoded chunk of `chunk_shape` elements of the array's storage type, C order,
  // native byte order, aligned to the element size. `selection` says which elements count
  // (dims[i].start / step / count inside the chunk) and where they go (out_start).
  // `chunk_shape` may be smaller than the array's chunk shape when only part of an
  // uncompressed chunk was read; `selection` is then relative to that part.
  virtual Status Consume(uint64_t ordinal, const zarr::ChunkSelection& selection,
                         std::span<const int64_t> chunk_shape,
                         std::span<const std::byte> chunk) = 0;
  // The chunk does not exist (missing file, empty inner chunk): every element is the array's
  // fill value. Nothing was read.
  virtual Status ConsumeFill(uint64_t ordinal, const zarr::ChunkSelection& selection,
                             std::span<const int64_t> chunk_shape) = 0;
  // The chunk could not be read or decoded (for a shard whose index is unreadable: each of its
  // inner chunks). Returning the error stops the run; returning OK skips the chunk (`lsio
  // stats --on-error skip`), and the consumer accounts for what it skipped.
  virtual Status OnError(uint64_t /*ordinal*/, const zarr::ChunkSelection& /*selection*/,
                         const Status& error) {
    return error;
  }
};

// One array's part of a request.
struct ArrayReadSpec {
  // Local path of the store's root directory.
  std::string store_root;
  // The array (must outlive the read).
  const zarr::Node* array = nullptr;
  // One range per dimension (zarr::ResolveSelection).
  std::vector<zarr::DimRange> ranges;
  ChunkConsumer* consumer = nullptr;
  // For messages: "variable 't2m'".
  std::string label;
};

struct ChunkReaderOptions {
  // Decoded chunk buffers come from here (bounded by the number of workers decoding at once).
  BufferPool* decode_pool = nullptr;
};

// A task source over the chunks of several arrays, array after array.
class ChunkTaskSource final : public sched::TaskSource {
 public:
  // Errors: the codec chains cannot be built (kNotSupported "codec X is not supported"), the
  // dtype cannot be decoded, a range leaves its dimension.
  static Result<std::unique_ptr<ChunkTaskSource>> Make(std::vector<ArrayReadSpec> arrays,
                                                       const ChunkReaderOptions& options);
  ~ChunkTaskSource() override;

  bool Next(sched::ReadTask* out) override;

  // Stored chunks (shards, for sharded arrays) the selection touches, over all arrays.
  uint64_t total_chunks() const { return total_chunks_; }
  // Chunks decoded one by one (inner chunks, for sharded arrays), over all arrays.
  uint64_t total_read_chunks() const { return total_read_chunks_; }
  // Chunks decoded one by one of the `i`-th array (the ordinals its consumer will see).
  uint64_t read_chunks(size_t i) const;
  // Elements the selection covers, over all arrays.
  uint64_t total_elements() const { return total_elements_; }
  // Largest decoded chunk (inner chunk when sharded) of any array, in bytes.
  uint64_t max_decoded_chunk_bytes() const { return max_decoded_chunk_bytes_; }
  // Stored chunks (shards) found missing so far (their elements are the fill value).
  uint64_t missing_chunks() const { return missing_chunks_.load(std::memory_order_relaxed); }

  struct ArrayState;

 private:
  ChunkTaskSource() = default;

  std::vector<std::shared_ptr<ArrayState>> arrays_;
  size_t current_ = 0;
  std::deque<sched::ReadTask> pending_;  // the further ranges of a chunk read in parts
  std::atomic<uint64_t> missing_chunks_{0};
  uint64_t total_chunks_ = 0;
  uint64_t total_read_chunks_ = 0;
  uint64_t total_elements_ = 0;
  uint64_t max_decoded_chunk_bytes_ = 0;
};

// Reads the selection `ranges` of `array` into `out`: C order over the selection's shape
// (zarr::SelectionShape), elements of the array's storage type in native byte order, missing
// chunks as the fill value. `out` must hold exactly that many bytes.
struct ReadOptions {
  sched::SchedulerOptions scheduler;
};
Status ReadSelection(const std::string& store_root, const zarr::Node& array,
                     std::span<const zarr::DimRange> ranges, std::span<std::byte> out,
                     const ReadOptions& options = {});

}  // namespace lsio::ops
