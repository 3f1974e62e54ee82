#include "lsio/base/json_util.h"
#include "lsio/format/zarr/source.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "lsio/codec/codec.h"
#include "lsio/format/zarr/chunk_key.h"
#include "lsio/format/zarr/metadata.h"
#include "lsio/format/zarr/shard_index.h"

namespace lsio::zarr {

using array::ChunkDimSlice;
using array::ChunkSelection;
using array::DimRange;

namespace {

// "[0, 3, 1]"
std::string GridToString(std::span<const int64_t> grid) {
  std::string s = "[";
  for (size_t i = 0; i < grid.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(grid[i]);
  }
  return s + "]";
}

int64_t Product(std::span<const int64_t> v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// The most bytes a stored chunk of `decoded` bytes can take. Array-to-array codecs widen
// elements at most 8 times (astype, delta or fixedscaleoffset from 1 to 8 bytes); compressors
// and checksums add a few percent and a header. A larger chunk file or shard index entry is
// corrupt, and is refused before it is read: otherwise a damaged file (or a sparse one of a
// terabyte) would make the read allocate its whole size whatever the memory budget.
uint64_t MaxStoredChunkBytes(uint64_t decoded) { return 16 * decoded + (uint64_t{1} << 20); }

kvstore::ReadRequest RangeRequest(const std::string& key, uint64_t offset, uint64_t length) {
  kvstore::ReadRequest r;
  r.key = key;
  r.range = kvstore::ByteRange::Range(offset, length);
  return r;
}

// Reading part of an uncompressed chunk: at most this many ranges per chunk, each at least
// kMinPartialRun bytes (O_DIRECT rounds every range out to 4 KiB), and only when they hold at
// most 3/4 of the chunk's bytes; otherwise the whole file is read.
constexpr size_t kMaxPartialRanges = 64;
constexpr uint64_t kMinPartialRun = uint64_t{16} << 10;

// The part of an uncompressed chunk a selection needs, as byte ranges of the chunk file, and
// how those bytes, laid end to end, form a smaller C-order chunk ("compact"): dimensions before
// `split` keep only the selected indices, dimension `split` its selected extent, later
// dimensions stay whole.
struct PartialRead {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // (offset, length) in the file
  std::vector<int64_t> compact_shape;
  ChunkSelection compact;  // the selection inside the compact chunk (same out_start)
  uint64_t bytes() const { return ranges.size() * ranges.front().second; }
};

// Chooses the split dimension that reads the fewest bytes within the limits above; nullopt when
// the whole chunk is needed or reading it whole is cheaper.
std::optional<PartialRead> PlanPartialRead(const ChunkSelection& sel,
                                           std::span<const int64_t> chunk_shape,
                                           size_t element_size) {
  const size_t rank = chunk_shape.size();
  if (rank == 0 || sel.dims.size() != rank) return std::nullopt;
  std::vector<int64_t> extent(rank);  // selected extent per dimension, in elements
  std::vector<int64_t> stride(rank);  // C-order strides of the chunk, in elements
  bool whole = true;
  for (size_t d = rank; d-- > 0;) {
    const ChunkDimSlice& s = sel.dims[d];
    extent[d] = s.count > 0 ? (s.count - 1) * s.step + 1 : 0;
    stride[d] = d + 1 == rank ? 1 : stride[d + 1] * chunk_shape[d + 1];
    whole = whole && s.start == 0 && extent[d] == chunk_shape[d];
  }
  if (whole) return std::nullopt;
  const uint64_t chunk_bytes = static_cast<uint64_t>(Product(chunk_shape)) * element_size;
  std::optional<size_t> best;
  uint64_t best_bytes = chunk_bytes * 3 / 4 + 1;
  uint64_t runs = 1;  // ranges for split = d: product of counts before d
  for (size_t d = 0; d < rank; ++d) {
    if (runs > kMaxPartialRanges) break;
    const uint64_t run = static_cast<uint64_t>(extent[d] * stride[d]) * element_size;
    const uint64_t bytes = runs * run;
    if (bytes < best_bytes && (runs == 1 || run >= kMinPartialRun)) {
      best = d;
      best_bytes = bytes;
    }
    runs *= static_cast<uint64_t>(sel.dims[d].count);
  }
  if (!best) return std::nullopt;
  const size_t split = *best;
  PartialRead plan;
  plan.compact = sel;
  plan.compact_shape.assign(chunk_shape.begin(), chunk_shape.end());
  for (size_t d = 0; d <= split; ++d) {
    plan.compact_shape[d] = d < split ? sel.dims[d].count : extent[d];
    plan.compact.dims[d].start = 0;
    if (d < split) plan.compact.dims[d].step = 1;
  }
  const uint64_t run = static_cast<uint64_t>(extent[split] * stride[split]) * element_size;
  // An odometer over the selected indices of the dimensions before the split.
  std::vector<int64_t> i(split, 0);
  while (true) {
    int64_t first = sel.dims[split].start * stride[split];
    for (size_t d = 0; d < split; ++d) {
      first += (sel.dims[d].start + i[d] * sel.dims[d].step) * stride[d];
    }
    plan.ranges.emplace_back(static_cast<uint64_t>(first) * element_size, run);
    size_t d = split;
    while (d > 0 && ++i[d - 1] == sel.dims[d - 1].count) i[--d] = 0;
    if (d == 0) break;
  }
  return plan;
}

// Everything a handler needs about one read of one array; shared by all of its tasks.
struct ReadState {
  std::string label;
  std::shared_ptr<kvstore::Store> store;
  const Node* node = nullptr;
  const ArrayMetadata* meta = nullptr;
  array::ChunkConsumer* consumer = nullptr;
  BufferPool* decode_pool = nullptr;

  DataType dtype = DataType::kUInt8;
  size_t element_size = 1;
  // The decoded unit: the chunk, or the innermost chunk when sharded.
  std::vector<int64_t> read_chunk_shape;
  size_t read_chunk_bytes = 0;
  const codec::CodecChain* chain = nullptr;  // decodes one read chunk (not nested sharding)
  // Uncompressed, native-endian chunks: a selection that needs only part of a chunk reads only
  // those bytes (edge chunks of the array, sub-selections).
  bool partial_reads = false;
  // Stored chunks (shards) found missing.
  mutable std::atomic<uint64_t> missing{0};

  // Sharding (top level).
  const ShardingSpec* sharding = nullptr;
  const codec::CodecChain* index_chain = nullptr;

  // The lazy odometer over the stored chunks (shards) the selection touches.
  std::vector<std::vector<std::pair<int64_t, ChunkDimSlice>>> splits;
  std::vector<size_t> position;
  bool exhausted = false;

  // The store key of the chunk at `grid`; `key` gets the chunk's own key ("c/0/1").
  std::string ChunkPath(std::span<const int64_t> grid, std::string* key) const;
  std::string Where(const std::string& key, const std::string& path) const {
    return label + ": chunk " + key + " (" + store->Describe(path) + ")";
  }
  // Decodes one stored (inner) chunk and hands it to the consumer.
  Status DecodeAndConsume(uint64_t ordinal, const ChunkSelection& selection,
                          const Buffer& bytes, const std::string& where) const;
  Status HandleChunk(uint64_t ordinal, const ChunkSelection& selection,
                     Result<Buffer> bytes, const std::string& key, const std::string& path) const;
  // The ranges of a partial read, all arrived (`parts` in range order) or failed.
  struct PartialChunk;
  Status HandlePartial(PartialChunk& chunk) const;
  // Adds the tasks that read `plan` for one chunk to `out`.
  void AddPartialTasks(uint64_t ordinal, ChunkSelection sel, PartialRead plan,
                       const std::string& key, const std::string& path,
                       const std::shared_ptr<const ReadState>& self,
                       std::deque<sched::ReadTask>* out) const;
  // `inner`: the inner chunks of the shard the selection needs; `first_ordinal`: the ordinal
  // of the first.
  Status HandleShardIndex(uint64_t first_ordinal, std::vector<ChunkSelection> inner,
                          Result<Buffer> bytes, const std::string& key, const std::string& path,
                          sched::TaskSink& followups,
                          const std::shared_ptr<const ReadState>& self) const;
  // The next stored chunk of the selection, or false.
  bool NextSelection(ChunkSelection* out);
  // Ordinal of the next read chunk handed out, and how many there are.
  uint64_t next_ordinal = 0;
  uint64_t read_chunks = 0;
};

std::string ReadState::ChunkPath(std::span<const int64_t> grid,
                                                   std::string* key) const {
  *key = meta->ChunkKey(grid);
  if (node->path.empty()) return *key;
  std::string path = node->path;
  path += '/';
  path += *key;
  return path;
}

Status ReadState::DecodeAndConsume(uint64_t ordinal,
                                                     const ChunkSelection& selection,
                                                     const Buffer& bytes,
                                                     const std::string& where) const {
  const bool aligned = reinterpret_cast<uintptr_t>(bytes.data()) % element_size == 0;
  if (chain && chain->is_identity() && bytes.size() == read_chunk_bytes && aligned) {
    // Uncompressed, native byte order: the bytes read are the chunk.
    return consumer->Consume(ordinal, selection, read_chunk_shape, bytes.span())
        .WithContext(where);
  }
  if (chain && consumer->ConsumesEncoded(*chain, selection, read_chunk_shape)) {
    // Fused: the consumer decodes and reduces in cache-sized pieces.
    Status fused = consumer->ConsumeEncoded(ordinal, selection, read_chunk_shape, *chain,
                                            bytes.span());
    if (!fused.ok()) return consumer->OnError(ordinal, selection, fused.WithContext(where));
    return Status::OK();
  }
  // Straight into the consumer's output when the chunk lands there contiguously, else into a
  // pooled buffer.
  Buffer decoded;
  std::span<std::byte> into = consumer->DecodeDestination(selection, read_chunk_shape);
  if (into.size() != read_chunk_bytes ||
      reinterpret_cast<uintptr_t>(into.data()) % element_size != 0) {
    LSIO_ASSIGN_OR_RETURN(decoded, decode_pool->Acquire(read_chunk_bytes));
    into = decoded.mutable_span();
  }
  Status decode;
  if (chain) {
    decode = chain->Decode(bytes.span(), into, *decode_pool);
  } else {
    // Nested sharding: the inner chunk is itself a shard.
    decode = DecodeShard(bytes.span(), *sharding->nested, dtype, meta->fill_value.bytes, into,
                         where);
  }
  if (!decode.ok()) return consumer->OnError(ordinal, selection, decode.WithContext(where));
  return consumer->Consume(ordinal, selection, read_chunk_shape, into).WithContext(where);
}

Status ReadState::HandleChunk(uint64_t ordinal,
                                                const ChunkSelection& selection,
                                                Result<Buffer> bytes, const std::string& key,
                                                const std::string& path) const {
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) {
      missing.fetch_add(1, std::memory_order_relaxed);
      return consumer->ConsumeFill(ordinal, selection, read_chunk_shape)
          .WithContext(Where(key, path));
    }
    // A whole-file read fails with kOutOfRange only for passing its max_length.
    Status error = bytes.status().code() == StatusCode::kOutOfRange
                       ? CorruptDataError("the chunk file is larger than any encoding of a " +
                                          std::to_string(read_chunk_bytes) +
                                          "-byte chunk: " + bytes.status().message())
                       : bytes.status();
    return consumer->OnError(ordinal, selection, error.WithContext(Where(key, path)));
  }
  return DecodeAndConsume(ordinal, selection, *bytes, Where(key, path));
}

Status ReadState::HandleShardIndex(
    uint64_t first_ordinal, std::vector<ChunkSelection> inner, Result<Buffer> bytes,
    const std::string& key, const std::string& path, sched::TaskSink& followups,
    const std::shared_ptr<const ReadState>& self) const {
  const std::string where = Where(key, path);
  if (!bytes.ok() && bytes.status().code() == StatusCode::kNotFound) {
    missing.fetch_add(1, std::memory_order_relaxed);
    for (size_t i = 0; i < inner.size(); ++i) {
      LSIO_RETURN_IF_ERROR(consumer->ConsumeFill(first_ordinal + i, inner[i], read_chunk_shape)
                               .WithContext(where));
    }
    return Status::OK();
  }
  Status read = bytes.ok() ? Status::OK() : bytes.status();
  if (read.code() == StatusCode::kOutOfRange) {
    // The index is a range of fixed size: kOutOfRange means the file is shorter than that.
    read = CorruptDataError("the shard file is shorter than its " +
                            std::to_string(sharding->index_encoded_size) +
                            "-byte index: " + read.message());
  }
  Result<ShardIndex> index =
      read.ok() ? ShardIndex::Decode(bytes->span(), *index_chain, *sharding, std::nullopt,
                                     store->Describe(path))
                : Result<ShardIndex>(read.WithContext("shard index"));
  if (!index.ok()) {
    // Every inner chunk the selection needs is lost with the index; each is reported by name
    // (for --on-error skip, which lists exactly what it skipped).
    const Status& error = index.status();
    for (size_t i = 0; i < inner.size(); ++i) {
      const std::string inner_where =
          Where(key + " inner chunk " + GridToString(inner[i].grid), path);
      LSIO_RETURN_IF_ERROR(
          consumer->OnError(first_ordinal + i, inner[i], error.WithContext(inner_where)));
    }
    return Status::OK();
  }
  // The shard's reads go to the scheduler as one batch: one IO group, so the engine opens the
  // shard once and merges its neighbouring inner chunks into a few large reads.
  std::vector<sched::ReadTask> batch;
  batch.reserve(inner.size());
  for (size_t i = 0; i < inner.size(); ++i) {
    ChunkSelection& sel = inner[i];
    const uint64_t ordinal = first_ordinal + i;
    const ShardIndexEntry& entry = index->entry(sel.grid);
    if (entry.empty()) {
      LSIO_RETURN_IF_ERROR(
          consumer->ConsumeFill(ordinal, sel, read_chunk_shape).WithContext(where));
      continue;
    }
    std::string inner_key = key + " inner chunk " + GridToString(sel.grid);
    if (entry.nbytes > MaxStoredChunkBytes(read_chunk_bytes)) {
      LSIO_RETURN_IF_ERROR(consumer->OnError(
          ordinal, sel,
          CorruptDataError("the shard index gives it " + std::to_string(entry.nbytes) +
                           " bytes, more than any encoding of a " +
                           std::to_string(read_chunk_bytes) + "-byte chunk")
              .WithContext(Where(inner_key, path))));
      continue;
    }
    sched::ReadTask task;
    task.request = RangeRequest(path, entry.offset, entry.nbytes);
    task.expected_bytes = entry.nbytes;
    task.on_read = [self, ordinal, sel = std::move(sel), inner_key = std::move(inner_key), path](
                       Result<Buffer> b, sched::TaskSink&) -> Status {
      const std::string w = self->Where(inner_key, path);
      if (!b.ok()) {
        Status error = b.status().code() == StatusCode::kOutOfRange
                           ? CorruptDataError("the shard index points outside the file: " +
                                              b.status().message())
                           : b.status();
        return self->consumer->OnError(ordinal, sel, error.WithContext(w));
      }
      return self->DecodeAndConsume(ordinal, sel, *b, w);
    };
    batch.push_back(std::move(task));
  }
  followups.AddBatch(std::move(batch));
  return Status::OK();
}

// One chunk read in several ranges: each range's handler stores its bytes; the last to arrive
// assembles the compact chunk and hands it on.
struct ReadState::PartialChunk {
  uint64_t ordinal = 0;
  ChunkSelection selection;  // in the whole chunk (for the fill value and errors)
  PartialRead plan;
  std::string key;
  std::string path;
  std::vector<Result<Buffer>> parts;
  std::atomic<size_t> remaining{0};
};

Status ReadState::HandlePartial(PartialChunk& c) const {
  const std::string where = Where(c.key, c.path);
  for (Result<Buffer>& part : c.parts) {
    if (part.ok()) continue;
    const Status& error = part.status();
    if (error.code() == StatusCode::kNotFound) {
      missing.fetch_add(1, std::memory_order_relaxed);
      return consumer->ConsumeFill(c.ordinal, c.selection, read_chunk_shape).WithContext(where);
    }
    Status reported =
        error.code() == StatusCode::kOutOfRange
            ? CorruptDataError("the chunk file does not hold an uncompressed chunk of " +
                               std::to_string(read_chunk_bytes) + " bytes: " + error.message())
            : error;
    return consumer->OnError(c.ordinal, c.selection, reported.WithContext(where));
  }
  if (c.parts.size() == 1) {
    const Buffer& bytes = *c.parts.front();
    if (reinterpret_cast<uintptr_t>(bytes.data()) % element_size == 0) {
      return consumer->Consume(c.ordinal, c.plan.compact, c.plan.compact_shape, bytes.span())
          .WithContext(where);
    }
  }
  // Several ranges (or a misaligned one): laid end to end in one buffer, they are the compact
  // chunk. Each range's buffer goes back to the IO engine as soon as it is copied.
  LSIO_ASSIGN_OR_RETURN(Buffer compact, decode_pool->Acquire(c.plan.bytes()));
  size_t at = 0;
  for (Result<Buffer>& part : c.parts) {
    std::memcpy(compact.mutable_data() + at, part->data(), part->size());
    at += part->size();
    part = Buffer();
  }
  return consumer->Consume(c.ordinal, c.plan.compact, c.plan.compact_shape, compact.span())
      .WithContext(where);
}

void ReadState::AddPartialTasks(uint64_t ordinal, ChunkSelection sel,
                                                  PartialRead plan, const std::string& key,
                                                  const std::string& path,
                                                  const std::shared_ptr<const ReadState>& self,
                                                  std::deque<sched::ReadTask>* out) const {
  auto chunk = std::make_shared<PartialChunk>();
  chunk->ordinal = ordinal;
  chunk->selection = std::move(sel);
  chunk->key = key;
  chunk->path = path;
  chunk->plan = std::move(plan);
  const size_t n = chunk->plan.ranges.size();
  chunk->parts.assign(n, Result<Buffer>(Buffer()));
  chunk->remaining.store(n, std::memory_order_relaxed);
  for (size_t r = 0; r < n; ++r) {
    sched::ReadTask task;
    const auto [offset, length] = chunk->plan.ranges[r];
    task.request = RangeRequest(path, offset, length);
    // Only part of the value is read, but a value of the wrong size is corrupt whichever part.
    task.request.value_size = read_chunk_bytes;
    task.expected_bytes = length;
    task.on_read = [self, chunk, r](Result<Buffer> bytes, sched::TaskSink&) -> Status {
      chunk->parts[r] = std::move(bytes);
      // acq_rel: the last handler sees every other handler's part.
      if (chunk->remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return Status::OK();
      return self->HandlePartial(*chunk);
    };
    out->push_back(std::move(task));
  }
}

bool ReadState::NextSelection(ChunkSelection* out) {
  if (exhausted) return false;
  const size_t rank = splits.size();
  out->grid.resize(rank);
  out->dims.resize(rank);
  for (size_t d = 0; d < rank; ++d) {
    out->grid[d] = splits[d][position[d]].first;
    out->dims[d] = splits[d][position[d]].second;
  }
  // Advance the odometer, last dimension fastest (C order of the output).
  size_t d = rank;
  while (d > 0) {
    --d;
    if (++position[d] < splits[d].size()) break;
    position[d] = 0;
    if (d == 0) exhausted = true;
  }
  if (rank == 0) exhausted = true;
  return true;
}

// The chunks of one selection of one array, enumerated lazily.
class ZarrChunkTaskSource final : public array::ChunkTaskSource {
 public:
  explicit ZarrChunkTaskSource(std::shared_ptr<ReadState> state) : st_(std::move(state)) {}

  uint64_t total_chunks() const override { return total_chunks_; }
  uint64_t read_chunks() const override { return st_->read_chunks; }
  uint64_t total_elements() const override { return total_elements_; }
  uint64_t missing_chunks() const override {
    return st_->missing.load(std::memory_order_relaxed);
  }

  bool Next(sched::ReadTask* out) override;

  uint64_t total_chunks_ = 0;
  uint64_t total_elements_ = 0;

 private:
  std::shared_ptr<ReadState> st_;
  std::deque<sched::ReadTask> pending_;  // the further ranges of a chunk read in parts
};

bool ZarrChunkTaskSource::Next(sched::ReadTask* out) {
  while (true) {
    if (!pending_.empty()) {
      *out = std::move(pending_.front());
      pending_.pop_front();
      return true;
    }
    ReadState* st = st_.get();
    ChunkSelection sel;
    if (!st->NextSelection(&sel)) return false;
    std::string key;
    std::string path = st->ChunkPath(sel.grid, &key);
    std::shared_ptr<const ReadState> self = st_;
    if (st->sharding == nullptr) {
      const uint64_t ordinal = st->next_ordinal++;
      if (st->partial_reads) {
        std::optional<PartialRead> plan =
            PlanPartialRead(sel, st->read_chunk_shape, st->element_size);
        if (plan) {
          st->AddPartialTasks(ordinal, std::move(sel), std::move(*plan), key, path, self,
                              &pending_);
          continue;
        }
      }
      out->request = kvstore::ReadRequest();
      out->request.key = path;
      out->request.max_length = MaxStoredChunkBytes(st->read_chunk_bytes);
      out->expected_bytes = st->read_chunk_bytes;
      out->on_read = [self, ordinal, sel = std::move(sel), key = std::move(key), path](
                         Result<Buffer> bytes, sched::TaskSink&) {
        return self->HandleChunk(ordinal, sel, std::move(bytes), key, path);
      };
    } else {
      std::vector<ChunkSelection> inner =
          array::InnerChunksForShard(sel, st->sharding->inner_chunk_shape);
      const uint64_t first_ordinal = st->next_ordinal;
      st->next_ordinal += inner.size();
      const uint64_t n = st->sharding->index_encoded_size;
      const bool at_end = st->sharding->index_location == ShardIndexLocation::kEnd;
      out->request = kvstore::ReadRequest();
      out->request.key = path;
      out->request.range =
          at_end ? kvstore::ByteRange::Suffix(n) : kvstore::ByteRange::Range(0, n);
      out->expected_bytes = n;
      out->on_read = [self, first_ordinal, inner = std::move(inner), key = std::move(key), path](
                         Result<Buffer> bytes, sched::TaskSink& followups) mutable {
        return self->HandleShardIndex(first_ordinal, std::move(inner), std::move(bytes), key,
                                      path, followups, self);
      };
    }
    return true;
  }
}

// The codec chains of an array, built once when the array is opened (or why they cannot be).
struct PreparedChains {
  Status status;
  std::optional<codec::CodecChain> chain;
  std::optional<codec::CodecChain> index_chain;
};

PreparedChains Prepare(const ArrayMetadata& meta) {
  PreparedChains p;
  p.status = meta.data_type.DecodeSupport();
  if (!p.status.ok()) return p;
  if (meta.sharding) {
    Result<codec::CodecChain> index_chain = MakeShardIndexCodecChain(*meta.sharding);
    if (!index_chain.ok()) {
      p.status = index_chain.status();
      return p;
    }
    p.index_chain.emplace(std::move(*index_chain));
    if (!meta.sharding->nested) {
      Result<codec::CodecChain> chain =
          MakeInnerCodecChain(*meta.sharding, meta.data_type.storage);
      if (!chain.ok()) {
        p.status = chain.status();
        return p;
      }
      p.chain.emplace(std::move(*chain));
    }
  } else {
    Result<codec::CodecChain> chain = MakeChunkCodecChain(meta);
    if (!chain.ok()) {
      p.status = chain.status();
      return p;
    }
    p.chain.emplace(std::move(*chain));
  }
  const size_t element_size = ByteWidth(meta.data_type.storage);
  if (meta.fill_value.bytes.size() != element_size) {
    p.status = InternalError("fill value has " + std::to_string(meta.fill_value.bytes.size()) +
                             " bytes, expected " + std::to_string(element_size));
  }
  return p;
}

class ZarrArraySource final : public array::ArraySource {
 public:
  ZarrArraySource(std::shared_ptr<kvstore::Store> store, std::shared_ptr<const Hierarchy> h,
                  const Node* node)
      : store_(std::move(store)),
        hierarchy_(std::move(h)),
        node_(node),
        info_(MakeArrayInfo(*node)),
        prepared_(Prepare(*node->array)) {}

  const array::ArrayInfo& info() const override { return info_; }
  const std::shared_ptr<kvstore::Store>& store() const override { return store_; }
  std::string DescribeEncoding() const override { return DescribeCodecsJson(*node_->array); }
  bool decodes_rows_in_part() const override {
    return prepared_.status.ok() && prepared_.chain && prepared_.chain->can_skip();
  }
  const Node* node() const { return node_; }

  // Re-reads the array's own documents (v3 zarr.json; v2 .zarray and .zattrs, whatever the
  // hierarchy was opened from). Unchanged bytes since the last check cost no parsing; changed
  // bytes are parsed and compared as MakeArrayInfo and the codec description see them, so a
  // rewrite that keeps the array as it was (xarray rewriting the same encoding) still counts
  // as current. A document that no longer parses is a change (re-opening reports its error).
  Result<bool> StillCurrent() const override {
    const bool v3 = node_->zarr_format == ZarrFormat::kV3;
    const std::string prefix = node_->path.empty() ? std::string() : node_->path + "/";
    const std::string main_key = prefix + (v3 ? "zarr.json" : ".zarray");
    const std::string attrs_key = prefix + ".zattrs";
    std::string seen;
    std::optional<Buffer> main_doc;
    std::optional<Buffer> attrs_doc;
    LSIO_ASSIGN_OR_RETURN(main_doc, store_->Read(main_key));
    if (!main_doc) return false;
    seen.append(main_doc->as_string_view());
    if (!v3) {
      LSIO_ASSIGN_OR_RETURN(attrs_doc, store_->Read(attrs_key));
      seen += '\0';
      seen += attrs_doc ? "+" : "-";
      if (attrs_doc) seen.append(attrs_doc->as_string_view());
    }
    {
      std::lock_guard lock(checked_mu_);
      if (checked_ && seen == checked_bytes_) return true;
    }
    const std::string file = store_->Describe(main_key);
    Result<nlohmann::json> doc = ParseMetadataJson(main_doc->as_string_view(), file);
    if (!doc.ok()) return false;
    Result<ArrayMetadata> meta = [&]() -> Result<ArrayMetadata> {
      if (v3) return ParseZarrV3Array(*doc, file);
      nlohmann::json attrs;
      if (attrs_doc) {
        LSIO_ASSIGN_OR_RETURN(attrs, ParseMetadataJson(attrs_doc->as_string_view(),
                                                       store_->Describe(attrs_key)));
      }
      return ParseZarrV2Array(*doc, attrs, file, store_->Describe(attrs_key));
    }();
    if (!meta.ok()) return false;
    Node now;
    now.path = node_->path;
    now.kind = NodeKind::kArray;
    now.zarr_format = node_->zarr_format;
    now.attributes = meta->attributes;
    now.array = std::move(*meta);
    const array::ArrayInfo info = MakeArrayInfo(now);
    const bool same = info.shape == info_.shape && info.element.kind == info_.element.kind &&
                      info.element.storage == info_.element.storage &&
                      info.element.endian == info_.element.endian &&
                      info.element.item_size == info_.element.item_size &&
                      info.element.time_unit == info_.element.time_unit &&
                      info.element.time_scale == info_.element.time_scale &&
                      info.dims == info_.dims &&
                      internal::SameJson(info.attributes, info_.attributes) &&
                      info.fill_value == info_.fill_value &&
                      info.mask_value == info_.mask_value &&
                      info.chunk_shape == info_.chunk_shape &&
                      info.storage_chunk_shape == info_.storage_chunk_shape &&
                      DescribeCodecsJson(*now.array) == DescribeEncoding();
    if (!same) return false;
    std::lock_guard lock(checked_mu_);
    checked_ = true;
    checked_bytes_ = std::move(seen);
    return true;
  }

  Result<std::unique_ptr<array::ChunkTaskSource>> PlanRead(
      const array::ReadPlan& plan) const override {
    const std::string& label = plan.label;
    if (plan.consumer == nullptr) return InvalidArgumentError(label + ": no consumer");
    if (!prepared_.status.ok()) return prepared_.status.WithContext(label);
    const ArrayMetadata& meta = *node_->array;
    auto st = std::make_shared<ReadState>();
    st->label = label;
    st->store = store_;
    st->node = node_;
    st->meta = &meta;
    st->consumer = plan.consumer;
    st->decode_pool = plan.decode_pool ? plan.decode_pool : &DefaultBufferPool();
    st->dtype = meta.data_type.storage;
    st->element_size = ByteWidth(st->dtype);
    st->read_chunk_shape = meta.read_chunk_shape();
    st->chain = prepared_.chain ? &*prepared_.chain : nullptr;
    st->index_chain = prepared_.index_chain ? &*prepared_.index_chain : nullptr;
    if (meta.sharding) {
      st->sharding = &*meta.sharding;
      st->read_chunk_shape = st->sharding->inner_chunk_shape;
    }
    st->read_chunk_bytes = static_cast<size_t>(Product(st->read_chunk_shape)) * st->element_size;
    st->partial_reads = st->sharding == nullptr && st->chain && st->chain->is_identity();
    if (plan.ranges.size() != meta.rank()) {
      return InvalidArgumentError(label + ": selection has " +
                                  std::to_string(plan.ranges.size()) + " dimensions, the array " +
                                  std::to_string(meta.rank()));
    }
    uint64_t chunks = 1;
    uint64_t read_chunks = 1;
    uint64_t elements = 1;
    for (size_t d = 0; d < meta.rank(); ++d) {
      const DimRange& r = plan.ranges[d];
      if (r.count < 0 || (r.count > 0 && (r.index(0) < 0 || r.index(0) >= meta.shape[d] ||
                                          r.index(r.count - 1) < 0 ||
                                          r.index(r.count - 1) >= meta.shape[d]))) {
        return OutOfRangeError(label + ": selection leaves dimension " + std::to_string(d) +
                               " of size " + std::to_string(meta.shape[d]));
      }
      st->splits.push_back(array::SplitDimension(r, meta.chunk_shape[d]));
      chunks *= st->splits.back().size();
      read_chunks *= st->sharding ? array::SplitDimension(r, st->read_chunk_shape[d]).size()
                                  : st->splits.back().size();
      elements *= static_cast<uint64_t>(r.count);
    }
    st->position.assign(meta.rank(), 0);
    st->exhausted = chunks == 0;
    st->read_chunks = chunks == 0 ? 0 : read_chunks;
    auto source = std::make_unique<ZarrChunkTaskSource>(std::move(st));
    source->total_chunks_ = chunks;
    source->total_elements_ = elements;
    return std::unique_ptr<array::ChunkTaskSource>(std::move(source));
  }

 private:
  std::shared_ptr<kvstore::Store> store_;
  std::shared_ptr<const Hierarchy> hierarchy_;
  const Node* node_;
  array::ArrayInfo info_;
  PreparedChains prepared_;
  // The documents' bytes as last found current (StillCurrent).
  mutable std::mutex checked_mu_;
  mutable bool checked_ = false;
  mutable std::string checked_bytes_;
};

}  // namespace

array::ArrayInfo MakeArrayInfo(const Node& node) {
  const ArrayMetadata& m = *node.array;
  array::ArrayInfo info;
  info.path = node.path;
  info.where = m.metadata_file;
  info.element = m.data_type;
  info.shape = m.shape;
  info.dims.resize(m.rank());
  for (size_t i = 0; i < m.rank(); ++i) {
    if (i < m.dimension_names.size() && !m.dimension_names[i].empty()) {
      info.dims[i] = m.dimension_names[i];
    } else {
      info.dims[i] = "dim_" + std::to_string(i);
    }
  }
  info.attributes = m.attributes;
  info.fill_value = m.fill_value.bytes;
  if (m.zarr_format == ZarrFormat::kV2 && !m.fill_value.is_null) {
    info.mask_value = m.fill_value.bytes;
  }
  info.fill_value_attr = m.zarr_format == ZarrFormat::kV3
                             ? array::FillValueAttrEncoding::kBase64Double
                             : array::FillValueAttrEncoding::kPlain;
  info.chunk_shape = m.read_chunk_shape();
  if (m.sharding) info.chunk_shape = m.sharding->inner_chunk_shape;
  info.storage_chunk_shape = m.chunk_shape;
  return info;
}

ZarrDatasetSource::ZarrDatasetSource(std::shared_ptr<kvstore::Store> store, Hierarchy hierarchy)
    : store_(std::move(store)), hierarchy_(std::make_shared<const Hierarchy>(std::move(hierarchy))) {
  for (const Node& n : hierarchy_->nodes) {
    if (n.is_array()) arrays_.push_back(std::make_shared<ZarrArraySource>(store_, hierarchy_, &n));
  }
  std::sort(arrays_.begin(), arrays_.end(),
            [](const auto& a, const auto& b) { return a->info().path < b->info().path; });
}

nlohmann::json ZarrDatasetSource::group_attributes(std::string_view path) const {
  const Node* n = hierarchy_->Find(path);
  if (n == nullptr || n->is_array()) return nullptr;
  return n->attributes;
}

std::vector<std::string> ZarrDatasetSource::groups() const {
  std::vector<std::string> out;
  for (const Node& n : hierarchy_->nodes) {
    if (!n.is_array()) out.push_back(n.path);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ZarrDatasetSource::format_name() const {
  return hierarchy_->root().zarr_format == ZarrFormat::kV2 ? "Zarr v2" : "Zarr v3";
}

const Node* ZarrDatasetSource::NodeOf(const array::ArraySource& array) const {
  const auto* z = dynamic_cast<const ZarrArraySource*>(&array);
  return z == nullptr ? nullptr : z->node();
}

Result<std::shared_ptr<const ZarrDatasetSource>> OpenDataset(std::shared_ptr<kvstore::Store> store,
                                                             const OpenOptions& options) {
  LSIO_ASSIGN_OR_RETURN(Hierarchy h, OpenHierarchy(*store, options));
  return std::make_shared<const ZarrDatasetSource>(std::move(store), std::move(h));
}

}  // namespace lsio::zarr
