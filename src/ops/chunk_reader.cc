#include "lsio/ops/chunk_reader.h"

#include <atomic>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>

#include "lsio/codec/codec.h"
#include "lsio/format/zarr/chunk_key.h"
#include "lsio/format/zarr/metadata.h"
#include "lsio/format/zarr/shard_index.h"
#include "lsio/format/zarr/strided_copy.h"

namespace lsio::ops {

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
  zarr::ChunkSelection compact;  // the selection inside the compact chunk (same out_start)
  uint64_t bytes() const { return ranges.size() * ranges.front().second; }
};

// Chooses the split dimension that reads the fewest bytes within the limits above; nullopt when
// the whole chunk is needed or reading it whole is cheaper.
std::optional<PartialRead> PlanPartialRead(const zarr::ChunkSelection& sel,
                                           std::span<const int64_t> chunk_shape,
                                           size_t element_size) {
  const size_t rank = chunk_shape.size();
  if (rank == 0 || sel.dims.size() != rank) return std::nullopt;
  std::vector<int64_t> extent(rank);  // selected extent per dimension, in elements
  std::vector<int64_t> stride(rank);  // C-order strides of the chunk, in elements
  bool whole = true;
  for (size_t d = rank; d-- > 0;) {
    const zarr::ChunkDimSlice& s = sel.dims[d];
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

}  // namespace

// Everything a handler needs about one array; shared by all of its tasks.
struct ChunkTaskSource::ArrayState {
  std::string label;
  std::string store_root;
  const zarr::Node* node = nullptr;
  const zarr::ArrayMetadata* meta = nullptr;
  ChunkConsumer* consumer = nullptr;
  BufferPool* decode_pool = nullptr;

  DataType dtype = DataType::kUInt8;
  size_t element_size = 1;
  // The decoded unit: the chunk, or the innermost chunk when sharded.
  std::vector<int64_t> read_chunk_shape;
  size_t read_chunk_bytes = 0;
  std::optional<codec::CodecChain> chain;  // decodes one read chunk (not for nested sharding)
  // Uncompressed, native-endian chunks: a selection that needs only part of a chunk reads only
  // those bytes (edge chunks of the array, sub-selections).
  bool partial_reads = false;
  // Counts stored chunks (shards) found missing, for the whole source.
  std::atomic<uint64_t>* missing = nullptr;

  // Sharding (top level).
  const zarr::ShardingSpec* sharding = nullptr;
  std::optional<codec::CodecChain> index_chain;

  // The lazy odometer over the stored chunks (shards) the selection touches.
  std::vector<std::vector<std::pair<int64_t, zarr::ChunkDimSlice>>> splits;
  std::vector<size_t> position;
  bool exhausted = false;

  std::string ChunkPath(std::span<const int64_t> grid, std::string* key) const;
  std::string Where(const std::string& key, const std::string& path) const {
    return label + ": chunk " + key + " (" + path + ")";
  }
  // Decodes one stored (inner) chunk and hands it to the consumer.
  Status DecodeAndConsume(uint64_t ordinal, const zarr::ChunkSelection& selection,
                          const Buffer& bytes, const std::string& where) const;
  Status HandleChunk(uint64_t ordinal, const zarr::ChunkSelection& selection,
                     Result<Buffer> bytes, const std::string& key, const std::string& path) const;
  // The ranges of a partial read, all arrived (`parts` in range order) or failed.
  struct PartialChunk;
  Status HandlePartial(PartialChunk& chunk) const;
  // Adds the tasks that read `plan` for one chunk to `out`.
  void AddPartialTasks(uint64_t ordinal, zarr::ChunkSelection sel, PartialRead plan,
                       const std::string& key, const std::string& path,
                       const std::shared_ptr<const ArrayState>& self,
                       std::deque<sched::ReadTask>* out) const;
  // `inner`: the inner chunks of the shard the selection needs; `first_ordinal`: the ordinal
  // of the first.
  Status HandleShardIndex(uint64_t first_ordinal, std::vector<zarr::ChunkSelection> inner,
                          Result<Buffer> bytes, const std::string& key, const std::string& path,
                          sched::TaskSink& followups,
                          const std::shared_ptr<const ArrayState>& self) const;
  // The next stored chunk of the selection, or false.
  bool NextSelection(zarr::ChunkSelection* out);
  // Ordinal of the next read chunk handed out, and how many there are.
  uint64_t next_ordinal = 0;
  uint64_t read_chunks = 0;
};

std::string ChunkTaskSource::ArrayState::ChunkPath(std::span<const int64_t> grid,
                                                   std::string* key) const {
  *key = meta->ChunkKey(grid);
  std::string path = store_root;
  if (!node->path.empty()) {
    path += '/';
    path += node->path;
  }
  path += '/';
  path += *key;
  return path;
}

Status ChunkTaskSource::ArrayState::DecodeAndConsume(uint64_t ordinal,
                                                     const zarr::ChunkSelection& selection,
                                                     const Buffer& bytes,
                                                     const std::string& where) const {
  const bool aligned = reinterpret_cast<uintptr_t>(bytes.data()) % element_size == 0;
  if (chain && chain->is_identity() && bytes.size() == read_chunk_bytes && aligned) {
    // Uncompressed, native byte order: the bytes read are the chunk.
    return consumer->Consume(ordinal, selection, read_chunk_shape, bytes.span())
        .WithContext(where);
  }
  LSIO_ASSIGN_OR_RETURN(Buffer decoded, decode_pool->Acquire(read_chunk_bytes));
  Status decode;
  if (chain) {
    decode = chain->Decode(bytes.span(), decoded.mutable_span(), *decode_pool);
  } else {
    // Nested sharding: the inner chunk is itself a shard.
    decode = zarr::DecodeShard(bytes.span(), *sharding->nested, dtype, meta->fill_value.bytes,
                               decoded.mutable_span(), where);
  }
  if (!decode.ok()) return consumer->OnError(ordinal, selection, decode.WithContext(where));
  return consumer->Consume(ordinal, selection, read_chunk_shape, decoded.span())
      .WithContext(where);
}

Status ChunkTaskSource::ArrayState::HandleChunk(uint64_t ordinal,
                                                const zarr::ChunkSelection& selection,
                                                Result<Buffer> bytes, const std::string& key,
                                                const std::string& path) const {
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) {
      missing->fetch_add(1, std::memory_order_relaxed);
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

Status ChunkTaskSource::ArrayState::HandleShardIndex(
    uint64_t first_ordinal, std::vector<zarr::ChunkSelection> inner, Result<Buffer> bytes,
    const std::string& key, const std::string& path, sched::TaskSink& followups,
    const std::shared_ptr<const ArrayState>& self) const {
  const std::string where = Where(key, path);
  if (!bytes.ok() && bytes.status().code() == StatusCode::kNotFound) {
    missing->fetch_add(1, std::memory_order_relaxed);
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
  Result<zarr::ShardIndex> index =
      read.ok() ? zarr::ShardIndex::Decode(bytes->span(), *index_chain, *sharding, std::nullopt,
                                           path)
                : Result<zarr::ShardIndex>(read.WithContext("shard index"));
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
    zarr::ChunkSelection& sel = inner[i];
    const uint64_t ordinal = first_ordinal + i;
    const zarr::ShardIndexEntry& entry = index->entry(sel.grid);
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
    task.request = io::ReadRequest::Range(path, static_cast<int64_t>(entry.offset),
                                          static_cast<int64_t>(entry.nbytes), 0);
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
struct ChunkTaskSource::ArrayState::PartialChunk {
  uint64_t ordinal = 0;
  zarr::ChunkSelection selection;  // in the whole chunk (for the fill value and errors)
  PartialRead plan;
  std::string key;
  std::string path;
  std::vector<Result<Buffer>> parts;
  std::atomic<size_t> remaining{0};
};

Status ChunkTaskSource::ArrayState::HandlePartial(PartialChunk& c) const {
  const std::string where = Where(c.key, c.path);
  for (Result<Buffer>& part : c.parts) {
    if (part.ok()) continue;
    const Status& error = part.status();
    if (error.code() == StatusCode::kNotFound) {
      missing->fetch_add(1, std::memory_order_relaxed);
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

void ChunkTaskSource::ArrayState::AddPartialTasks(uint64_t ordinal, zarr::ChunkSelection sel,
                                                  PartialRead plan, const std::string& key,
                                                  const std::string& path,
                                                  const std::shared_ptr<const ArrayState>& self,
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
    task.request =
        io::ReadRequest::Range(path, static_cast<int64_t>(offset), static_cast<int64_t>(length), 0);
    // Only part of the file is read, but a file of the wrong size is corrupt whichever part.
    task.request.file_size = read_chunk_bytes;
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

bool ChunkTaskSource::ArrayState::NextSelection(zarr::ChunkSelection* out) {
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

ChunkTaskSource::~ChunkTaskSource() = default;

Result<std::unique_ptr<ChunkTaskSource>> ChunkTaskSource::Make(
    std::vector<ArrayReadSpec> arrays, const ChunkReaderOptions& options) {
  std::unique_ptr<ChunkTaskSource> source(new ChunkTaskSource());
  for (ArrayReadSpec& spec : arrays) {
    if (spec.array == nullptr || !spec.array->is_array() || spec.consumer == nullptr) {
      return InvalidArgumentError("ChunkTaskSource: an array and a consumer are required");
    }
    auto st = std::make_shared<ArrayState>();
    st->label = std::move(spec.label);
    st->store_root = std::move(spec.store_root);
    st->node = spec.array;
    st->meta = &*spec.array->array;
    st->consumer = spec.consumer;
    st->decode_pool = options.decode_pool ? options.decode_pool : &DefaultBufferPool();
    const zarr::ArrayMetadata& meta = *st->meta;
    LSIO_RETURN_IF_ERROR(meta.data_type.DecodeSupport().WithContext(st->label));
    st->dtype = meta.data_type.storage;
    st->element_size = ByteWidth(st->dtype);
    st->read_chunk_shape = meta.read_chunk_shape();
    if (meta.sharding) {
      st->sharding = &*meta.sharding;
      st->read_chunk_shape = st->sharding->inner_chunk_shape;
      LSIO_ASSIGN_OR_RETURN(codec::CodecChain index_chain,
                            zarr::MakeShardIndexCodecChain(*st->sharding));
      st->index_chain.emplace(std::move(index_chain));
      if (!st->sharding->nested) {
        LSIO_ASSIGN_OR_RETURN(codec::CodecChain chain,
                              zarr::MakeInnerCodecChain(*st->sharding, st->dtype));
        st->chain.emplace(std::move(chain));
      }
    } else {
      LSIO_ASSIGN_OR_RETURN(codec::CodecChain chain, zarr::MakeChunkCodecChain(meta));
      st->chain.emplace(std::move(chain));
    }
    if (meta.fill_value.bytes.size() != st->element_size) {
      return InternalError(st->label + ": fill value has " +
                           std::to_string(meta.fill_value.bytes.size()) + " bytes, expected " +
                           std::to_string(st->element_size));
    }
    st->read_chunk_bytes = static_cast<size_t>(Product(st->read_chunk_shape)) * st->element_size;
    st->partial_reads = st->sharding == nullptr && st->chain && st->chain->is_identity();
    st->missing = &source->missing_chunks_;

    if (spec.ranges.size() != meta.rank()) {
      return InvalidArgumentError(st->label + ": selection has " +
                                  std::to_string(spec.ranges.size()) + " dimensions, the array " +
                                  std::to_string(meta.rank()));
    }
    uint64_t chunks = 1;
    uint64_t read_chunks = 1;
    uint64_t elements = 1;
    for (size_t d = 0; d < meta.rank(); ++d) {
      const zarr::DimRange& r = spec.ranges[d];
      if (r.count < 0 || (r.count > 0 && (r.index(0) < 0 || r.index(0) >= meta.shape[d] ||
                                          r.index(r.count - 1) < 0 ||
                                          r.index(r.count - 1) >= meta.shape[d]))) {
        return OutOfRangeError(st->label + ": selection leaves dimension " + std::to_string(d) +
                               " of size " + std::to_string(meta.shape[d]));
      }
      st->splits.push_back(zarr::SplitDimension(r, meta.chunk_shape[d]));
      chunks *= st->splits.back().size();
      read_chunks *= st->sharding
                         ? zarr::SplitDimension(r, st->read_chunk_shape[d]).size()
                         : st->splits.back().size();
      elements *= static_cast<uint64_t>(r.count);
    }
    st->position.assign(meta.rank(), 0);
    st->exhausted = chunks == 0;
    st->read_chunks = read_chunks;
    source->total_chunks_ += chunks;
    source->total_read_chunks_ += read_chunks;
    source->total_elements_ += elements;
    source->max_decoded_chunk_bytes_ =
        std::max<uint64_t>(source->max_decoded_chunk_bytes_, st->read_chunk_bytes);
    source->arrays_.push_back(std::move(st));
  }
  return source;
}

uint64_t ChunkTaskSource::read_chunks(size_t i) const { return arrays_.at(i)->read_chunks; }

bool ChunkTaskSource::Next(sched::ReadTask* out) {
  while (true) {
    if (!pending_.empty()) {
      *out = std::move(pending_.front());
      pending_.pop_front();
      return true;
    }
    if (current_ >= arrays_.size()) return false;
    std::shared_ptr<ArrayState>& st = arrays_[current_];
    zarr::ChunkSelection sel;
    if (!st->NextSelection(&sel)) {
      ++current_;
      continue;
    }
    std::string key;
    std::string path = st->ChunkPath(sel.grid, &key);
    std::shared_ptr<const ArrayState> self = st;
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
      out->request = io::ReadRequest::WholeFile(path, 0);
      out->request.max_length = MaxStoredChunkBytes(st->read_chunk_bytes);
      out->expected_bytes = st->read_chunk_bytes;
      out->on_read = [self, ordinal, sel = std::move(sel), key = std::move(key), path](
                         Result<Buffer> bytes, sched::TaskSink&) {
        return self->HandleChunk(ordinal, sel, std::move(bytes), key, path);
      };
    } else {
      std::vector<zarr::ChunkSelection> inner =
          zarr::InnerChunksForShard(sel, st->sharding->inner_chunk_shape);
      const uint64_t first_ordinal = st->next_ordinal;
      st->next_ordinal += inner.size();
      const uint64_t n = st->sharding->index_encoded_size;
      const bool at_end = st->sharding->index_location == zarr::ShardIndexLocation::kEnd;
      out->request = io::ReadRequest::Range(path, at_end ? -static_cast<int64_t>(n) : 0,
                                            static_cast<int64_t>(n), 0);
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

namespace {

// Copies each chunk's part into the output array (shape: the array's rank, dropped dimensions
// of size 1). Workers write disjoint boxes, so no lock is needed.
class CopyIntoBuffer final : public ChunkConsumer {
 public:
  CopyIntoBuffer(std::span<std::byte> out, std::vector<int64_t> out_shape, size_t element_size,
                 std::span<const std::byte> fill)
      : out_(out), out_shape_(std::move(out_shape)), element_size_(element_size), fill_(fill) {}

  Status Consume(uint64_t, const zarr::ChunkSelection& selection,
                 std::span<const int64_t> chunk_shape, std::span<const std::byte> chunk) override {
    return zarr::CopyChunkSelection(selection, chunk, chunk_shape, out_, out_shape_,
                                    element_size_);
  }

  Status ConsumeFill(uint64_t, const zarr::ChunkSelection& selection,
                     std::span<const int64_t>) override {
    std::vector<zarr::CopyBoxDim> dims(selection.dims.size());
    for (size_t d = 0; d < dims.size(); ++d) {
      dims[d].dst_start = selection.dims[d].out_start;
      dims[d].count = selection.dims[d].count;
    }
    return zarr::FillBox(out_, out_shape_, dims, fill_);
  }

 private:
  std::span<std::byte> out_;
  std::vector<int64_t> out_shape_;
  size_t element_size_;
  std::span<const std::byte> fill_;
};

}  // namespace

Status ReadSelection(const std::string& store_root, const zarr::Node& array,
                     std::span<const zarr::DimRange> ranges, std::span<std::byte> out,
                     const ReadOptions& options) {
  if (!array.is_array()) return InvalidArgumentError("'" + array.path + "' is not an array");
  const zarr::ArrayMetadata& meta = *array.array;
  LSIO_RETURN_IF_ERROR(meta.data_type.DecodeSupport());
  const size_t element_size = ByteWidth(meta.data_type.storage);
  std::vector<int64_t> out_shape;
  uint64_t elements = 1;
  for (const zarr::DimRange& r : ranges) {
    out_shape.push_back(r.drop ? 1 : r.count);
    elements *= static_cast<uint64_t>(r.count);
  }
  if (out.size() != elements * element_size) {
    return InvalidArgumentError("ReadSelection: output holds " + std::to_string(out.size()) +
                                " bytes, the selection " +
                                std::to_string(elements * element_size));
  }
  CopyIntoBuffer consumer(out, out_shape, element_size, meta.fill_value.bytes);
  BufferPoolOptions pool_options;
  pool_options.max_cached_bytes = size_t{64} << 20;
  BufferPool decode_pool(pool_options);
  std::vector<ArrayReadSpec> specs(1);
  specs[0].store_root = store_root;
  specs[0].array = &array;
  specs[0].ranges.assign(ranges.begin(), ranges.end());
  specs[0].consumer = &consumer;
  specs[0].label = "array '" + array.path + "'";
  LSIO_ASSIGN_OR_RETURN(std::unique_ptr<ChunkTaskSource> source,
                        ChunkTaskSource::Make(std::move(specs), {&decode_pool}));
  return sched::Run(*source, options.scheduler).status();
}

}  // namespace lsio::ops
