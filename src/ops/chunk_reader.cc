#include "lsio/ops/chunk_reader.h"

#include <cstring>
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
      return consumer->ConsumeFill(ordinal, selection, read_chunk_shape)
          .WithContext(Where(key, path));
    }
    return consumer->OnError(ordinal, selection, bytes.status().WithContext(Where(key, path)));
  }
  return DecodeAndConsume(ordinal, selection, *bytes, Where(key, path));
}

Status ChunkTaskSource::ArrayState::HandleShardIndex(
    uint64_t first_ordinal, std::vector<zarr::ChunkSelection> inner, Result<Buffer> bytes,
    const std::string& key, const std::string& path, sched::TaskSink& followups,
    const std::shared_ptr<const ArrayState>& self) const {
  const std::string where = Where(key, path);
  if (!bytes.ok() && bytes.status().code() == StatusCode::kNotFound) {
    for (size_t i = 0; i < inner.size(); ++i) {
      LSIO_RETURN_IF_ERROR(consumer->ConsumeFill(first_ordinal + i, inner[i], read_chunk_shape)
                               .WithContext(where));
    }
    return Status::OK();
  }
  Result<zarr::ShardIndex> index =
      bytes.ok() ? zarr::ShardIndex::Decode(bytes->span(), *index_chain, *sharding, std::nullopt,
                                            path)
                 : Result<zarr::ShardIndex>(bytes.status());
  if (!index.ok()) {
    const Status error = index.status().WithContext(where + ": shard index");
    for (size_t i = 0; i < inner.size(); ++i) {
      LSIO_RETURN_IF_ERROR(consumer->OnError(first_ordinal + i, inner[i], error));
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
  while (current_ < arrays_.size()) {
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
      out->request = io::ReadRequest::WholeFile(path, 0);
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
  return false;
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
