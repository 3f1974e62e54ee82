#pragma once

// The format-neutral array: what operations (statistics, reads into numpy, rechunking, user
// functions) see of an array, whatever format stores it. A format (Zarr, GRIB2) implements
// ArraySource; `ops` depends on this header and never on a format's types.
//
//   ArrayInfo    shape, element type, dimension names, attributes, fill value, the CF inputs,
//                and the chunk grid (the unit of decoding, and the unit of storage that a dask
//                task should align to).
//   ArraySource  plans the reads and decodes of a selection: a task source for the scheduler
//                whose handlers hand each decoded chunk, with its position, to a consumer.
//
// Thread safety: an ArraySource is immutable once opened and safe to share between threads and
// runs; consumers are called concurrently from CPU workers.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/chunk_selection.h"
#include "lsio/array/info.h"
#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/kvstore/store.h"
#include "lsio/sched/scheduler.h"

namespace lsio::codec {
class CodecChain;
}  // namespace lsio::codec

namespace lsio::array {

// Receives the decoded chunks of one array. Called concurrently from CPU workers, once per
// chunk of the selection (per innermost chunk, for sharded arrays).
//
// `ordinal` numbers the chunks of one array 0, 1, 2, ... in the C order of the selection,
// whatever order they are read and decoded in: a consumer that merges floating-point partial
// results in ordinal order gets the same bits however the work was scheduled.
class ChunkConsumer {
 public:
  virtual ~ChunkConsumer() = default;
  // `chunk`: a decoded chunk of `chunk_shape` elements of the array's storage type, C order,
  // native byte order, aligned to the element size. `selection` says which elements count
  // (dims[i].start / step / count inside the chunk) and where they go (out_start).
  // `chunk_shape` may be smaller than ArrayInfo::chunk_shape when only part of a chunk was read;
  // `selection` is then relative to that part.
  virtual Status Consume(uint64_t ordinal, const ChunkSelection& selection,
                         std::span<const int64_t> chunk_shape,
                         std::span<const std::byte> chunk) = 0;
  // No stored data: every element of the selection is the fill value. Nothing was read.
  // `chunk_shape` is the shape of the missing chunk `selection` is relative to.
  virtual Status ConsumeFill(uint64_t ordinal, const ChunkSelection& selection,
                             std::span<const int64_t> chunk_shape) = 0;
  // Fused decode-and-reduce (optional). A consumer that can reduce a chunk straight from its
  // stored bytes (compute::DecodeAndConsume) returns true here for the chunks it takes, asked
  // chunk by chunk with the arguments ConsumeEncoded would get; the source then calls
  // ConsumeEncoded with the stored bytes and `chain` (which decodes them into one chunk of
  // `chunk_shape`) instead of decoding the chunk itself (DecodeDestination, then Consume). Any
  // error ConsumeEncoded returns is handed to OnError with the chunk named, as a decode error
  // is.
  virtual bool ConsumesEncoded(const codec::CodecChain& /*chain*/,
                               const ChunkSelection& /*selection*/,
                               std::span<const int64_t> /*chunk_shape*/) const {
    return false;
  }
  virtual Status ConsumeEncoded(uint64_t /*ordinal*/, const ChunkSelection& /*selection*/,
                                std::span<const int64_t> /*chunk_shape*/,
                                const codec::CodecChain& /*chain*/,
                                std::span<const std::byte> /*encoded*/) {
    return InternalError("this consumer takes decoded chunks only");
  }
  // Decoding in place (optional). When a consumer's output holds the whole of a chunk
  // contiguously (the selection takes every element of `chunk_shape`, in C order, and they land
  // next to each other in the output), it may return exactly that part of its output, of the
  // decoded chunk's size in bytes. The source then decodes the chunk straight into it and calls
  // Consume with `chunk` pointing there, so the consumer can skip its copy: no decoded buffer,
  // no second trip through memory. An empty span (the default): decode into a buffer. If the
  // decode fails, the span holds garbage and OnError is called as usual.
  virtual std::span<std::byte> DecodeDestination(const ChunkSelection& /*selection*/,
                                                 std::span<const int64_t> /*chunk_shape*/) {
    return {};
  }
  // The chunk could not be read or decoded. Returning the error stops the run; returning OK
  // skips the chunk (`--on-error skip`), and the consumer accounts for what it skipped.
  virtual Status OnError(uint64_t /*ordinal*/, const ChunkSelection& /*selection*/,
                         const Status& error) {
    return error;
  }
};

// A task source over the chunks of one array's selection, with what a run needs to plan for.
class ChunkTaskSource : public sched::TaskSource {
 public:
  // Stored chunks (shards, messages) the selection touches.
  virtual uint64_t total_chunks() const = 0;
  // Chunks decoded one by one (the ordinals the consumer will see).
  virtual uint64_t read_chunks() const = 0;
  // Elements the selection covers.
  virtual uint64_t total_elements() const = 0;
  // Stored chunks found missing so far (their elements are the fill value).
  virtual uint64_t missing_chunks() const = 0;
};

struct ReadPlan {
  // One range per dimension of the array (ResolveSelection).
  std::vector<DimRange> ranges;
  ChunkConsumer* consumer = nullptr;
  // Decoded chunk buffers come from here (bounded by the handlers running at once).
  BufferPool* decode_pool = nullptr;
  // For messages: "variable 't2m'".
  std::string label;
};

class ArraySource {
 public:
  virtual ~ArraySource() = default;
  virtual const ArrayInfo& info() const = 0;
  // The store the tasks of PlanRead read from.
  virtual const std::shared_ptr<kvstore::Store>& store() const = 0;
  // The reads and decodes of `plan.ranges`, as a lazily enumerated task source. Errors: the
  // chunks cannot be decoded (kNotSupported naming the codec or type), a range leaves its
  // dimension (kOutOfRange).
  virtual Result<std::unique_ptr<ChunkTaskSource>> PlanRead(const ReadPlan& plan) const = 0;
  // Human-readable description of how chunks are stored (codecs), for `lsio info`.
  virtual std::string DescribeEncoding() const { return {}; }
  // True when a consumer that takes only some rows of a chunk (elements apart along any
  // dimension but the last) gets them for about their share of the decoding: the decoder
  // passes over the rest (blosc frames, block by block). Planners use it to weigh decoding a
  // chunk once per consumer against staging.
  virtual bool decodes_rows_in_part() const { return false; }
  // Whether the store still holds the array that was opened: a format re-reads the documents
  // that describe it (small reads, no listing) and compares what reading depends on (shape,
  // element type, chunking, encoding, fill value, attributes). false when it changed or is
  // gone: the caller re-opens the dataset (a handle held across a rewrite of the store must
  // never decode new chunks with old metadata). Formats that cannot tell return true.
  // Thread-safe; costs one or two small reads.
  virtual Result<bool> StillCurrent() const { return true; }
};

// Tasks of several sources one after another (one pass over several arrays of one store).
class ConcatTaskSource final : public sched::TaskSource {
 public:
  explicit ConcatTaskSource(std::vector<std::unique_ptr<ChunkTaskSource>> sources)
      : sources_(std::move(sources)) {}
  bool Next(sched::ReadTask* out) override;
  const std::vector<std::unique_ptr<ChunkTaskSource>>& sources() const { return sources_; }

 private:
  std::vector<std::unique_ptr<ChunkTaskSource>> sources_;
  size_t current_ = 0;
};

}  // namespace lsio::array
