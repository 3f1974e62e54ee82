#include "lsio/ops/map_blocks.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>

#include "lsio/array/strided_copy.h"

namespace lsio::ops {

namespace {

int64_t Product(std::span<const int64_t> v) {
  int64_t n = 1;
  for (int64_t x : v) n *= x;
  return n;
}

// Output chunks built from several blocks: each waits, partly filled, until every element was
// written, then is encoded and written.
class ChunkAssembler {
 public:
  ChunkAssembler(std::vector<int64_t> shape, std::vector<int64_t> chunk, size_t element_size,
                 uint64_t max_pending_bytes, format::DatasetWriter& writer, int array)
      : shape_(std::move(shape)),
        chunk_(std::move(chunk)),
        element_size_(element_size),
        max_pending_bytes_(max_pending_bytes),
        writer_(writer),
        array_(array) {
    grid_.resize(shape_.size());
    for (size_t d = 0; d < shape_.size(); ++d) grid_[d] = (shape_[d] + chunk_[d] - 1) / chunk_[d];
  }

  // The block's values `values` (C order over `count`) at `start` of the output.
  Status Add(std::span<const int64_t> start, std::span<const int64_t> count,
             std::span<const std::byte> values) {
    const size_t rank = shape_.size();
    if (rank == 0) return writer_.WriteChunk(array_, {}, values);
    std::vector<int64_t> first(rank), last(rank);
    for (size_t d = 0; d < rank; ++d) {
      if (count[d] == 0) return Status::OK();
      first[d] = start[d] / chunk_[d];
      last[d] = (start[d] + count[d] - 1) / chunk_[d];
    }
    std::vector<int64_t> at = first;
    while (true) {
      LSIO_RETURN_IF_ERROR(AddToChunk(at, start, count, values));
      size_t d = rank;
      while (d-- > 0) {
        if (++at[d] <= last[d]) break;
        at[d] = first[d];
      }
      if (d == static_cast<size_t>(-1)) break;
    }
    return Status::OK();
  }

  // Whether a block at `start` of `count` is exactly one output chunk.
  bool IsWholeChunk(std::span<const int64_t> start, std::span<const int64_t> count) const {
    for (size_t d = 0; d < shape_.size(); ++d) {
      if (start[d] % chunk_[d] != 0) return false;
      if (count[d] != std::min(chunk_[d], shape_[d] - start[d])) return false;
    }
    return true;
  }

  uint64_t assembled() const { return assembled_.load(); }
  bool empty() {
    std::lock_guard lock(mu_);
    return pending_.empty();
  }

 private:
  struct Pending {
    Buffer values;
    int64_t filled = 0;
    int64_t total = 0;
  };

  Status AddToChunk(std::span<const int64_t> c, std::span<const int64_t> start,
                    std::span<const int64_t> count, std::span<const std::byte> values) {
    const size_t rank = shape_.size();
    std::vector<int64_t> extent(rank);
    std::vector<array::CopyBoxDim> box(rank);
    int64_t linear = 0;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t origin = c[d] * chunk_[d];
      extent[d] = std::min(chunk_[d], shape_[d] - origin);
      const int64_t lo = std::max(origin, start[d]);
      const int64_t hi = std::min(origin + extent[d], start[d] + count[d]);
      box[d] = array::CopyBoxDim{lo - start[d], 1, lo - origin, hi - lo};
      linear = linear * grid_[d] + c[d];
    }
    int64_t part = 1;
    for (const array::CopyBoxDim& b : box) part *= b.count;
    const int64_t total = Product(extent);
    Pending* p = nullptr;
    {
      std::lock_guard lock(mu_);
      auto it = pending_.find(linear);
      if (it == pending_.end()) {
        const uint64_t bytes = static_cast<uint64_t>(total) * element_size_;
        if (pending_bytes_ + bytes > max_pending_bytes_) {
          return ResourceExhaustedError(
              "map_blocks: output chunks waiting for the rest of their values would exceed the "
              "memory budget (" +
              std::to_string(max_pending_bytes_ >> 20) +
              " MiB): the output chunks do not line up with the input's; use output chunks that "
              "are the input's chunks (or multiples of them along the fastest dimensions) and a "
              "selection that starts at a chunk boundary, or a larger max_memory");
        }
        LSIO_ASSIGN_OR_RETURN(Buffer b, Buffer::Allocate(static_cast<size_t>(bytes)));
        pending_bytes_ += bytes;
        it = pending_.emplace(linear, Pending{std::move(b), 0, total}).first;
      }
      p = &it->second;
    }
    // Blocks are disjoint: copies into one chunk from several threads touch different bytes,
    // and the entry stays until every element has been counted below.
    LSIO_RETURN_IF_ERROR(array::CopyBox(values, count, p->values.mutable_span(), extent, box,
                                        element_size_));
    Buffer done;
    {
      std::lock_guard lock(mu_);
      p->filled += part;
      if (p->filled == p->total) {
        done = std::move(p->values);
        pending_bytes_ -= done.size();
        pending_.erase(linear);
      }
    }
    if (done.empty()) return Status::OK();
    assembled_.fetch_add(1);
    return writer_.WriteChunk(array_, c, done.span());
  }

  std::vector<int64_t> shape_, chunk_, grid_;
  size_t element_size_;
  uint64_t max_pending_bytes_;
  format::DatasetWriter& writer_;
  int array_;
  std::mutex mu_;
  std::map<int64_t, Pending> pending_;
  uint64_t pending_bytes_ = 0;
  std::atomic<uint64_t> assembled_{0};
};

}  // namespace

Result<MapBlocksResult> MapBlocks(runtime::Context& context, const array::Dataset& dataset,
                                  const array::ArraySource& array,
                                  std::span<const array::DimRange> ranges,
                                  const BlockTransform& fn, kvstore::Store& out,
                                  const MapBlocksOptions& options) {
  const array::ArrayInfo& info = array.info();
  const std::string label = "variable '" + info.path + "'";
  if (ranges.size() != info.rank()) {
    return InvalidArgumentError(label + ": the selection has " + std::to_string(ranges.size()) +
                                " dimensions, the array " + std::to_string(info.rank()));
  }
  LSIO_RETURN_IF_ERROR(format::CheckDatasetWriteOptions(options.write));
  MapBlocksResult result;
  result.name = options.name.empty() ? info.path : options.name;
  std::vector<size_t> kept;
  for (size_t d = 0; d < ranges.size(); ++d) {
    if (ranges[d].drop) continue;
    kept.push_back(d);
    result.dims.push_back(d < info.dims.size() ? info.dims[d] : "dim_" + std::to_string(d));
    result.shape.push_back(ranges[d].count);
  }
  if (!options.chunk_shape.empty()) {
    if (options.chunk_shape.size() != kept.size()) {
      return InvalidArgumentError("map_blocks: chunks has " +
                                  std::to_string(options.chunk_shape.size()) +
                                  " extents, the output " + std::to_string(kept.size()) +
                                  " dimensions");
    }
    for (int64_t c : options.chunk_shape) {
      if (c < 1) return InvalidArgumentError("map_blocks: chunk extents must be >= 1");
    }
    result.chunk_shape = options.chunk_shape;
  } else {
    for (size_t i = 0; i < kept.size(); ++i) {
      result.chunk_shape.push_back(
          std::max<int64_t>(1, std::min(info.chunk_shape[kept[i]], result.shape[i])));
    }
  }
  array::ElementType type = options.type ? *options.type : info.element;
  type.endian = Endian::kLittle;  // the writer takes native elements and spells the order
  if (!type.is_fixed_size_number() || type.item_size == 0) {
    return NotSupportedError("map_blocks: cannot write elements of type " + type.name);
  }
  const size_t out_size = type.item_size;

  // The dataset: the group's attributes, the coordinates of the kept dimensions, the variable.
  const std::string group = array::Dataset::GroupOf(info.path);
  nlohmann::json root_attrs = dataset.source().group_attributes(group);
  if (!root_attrs.is_object()) root_attrs = nlohmann::json::object();
  LSIO_ASSIGN_OR_RETURN(std::unique_ptr<format::DatasetWriter> writer,
                        format::DatasetWriter::Begin(out, root_attrs, options.write));
  for (size_t i = 0; i < kept.size(); ++i) {
    const std::string& dim = result.dims[i];
    if (dim == result.name) continue;
    const array::ArraySource* c = dataset.CoordinateOf(group, dim);
    if (c == nullptr || c->info().rank() != 1 || !c->info().element.is_fixed_size_number()) {
      continue;
    }
    LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const array::Dataset::CoordinateData> data,
                          dataset.ReadCoordinate(*c, context));
    const size_t esize = c->info().element_size();
    const array::DimRange& r = ranges[kept[i]];
    std::vector<std::byte> values(static_cast<size_t>(r.count) * esize);
    for (int64_t k = 0; k < r.count; ++k) {
      const size_t from = static_cast<size_t>(r.index(k)) * esize;
      if (from + esize > data->stored.size()) {
        return InternalError("coordinate '" + dim + "' is shorter than its dimension");
      }
      std::memcpy(values.data() + static_cast<size_t>(k) * esize, data->stored.data() + from,
                  esize);
    }
    format::OutputArraySpec cs;
    cs.name = dim;
    cs.type = c->info().element;
    cs.type.endian = Endian::kLittle;
    cs.dims = {dim};
    cs.shape = {r.count};
    cs.attributes = c->info().attributes;
    LSIO_ASSIGN_OR_RETURN(int index, writer->AddArray(cs));
    LSIO_RETURN_IF_ERROR(writer->WriteArray(index, values));
    result.coordinates.push_back(dim);
  }
  format::OutputArraySpec vs;
  vs.name = result.name;
  vs.type = type;
  vs.dims = result.dims;
  vs.shape = result.shape;
  vs.chunk_shape = result.chunk_shape;
  vs.attributes = info.attributes.is_object() ? info.attributes : nlohmann::json::object();
  LSIO_ASSIGN_OR_RETURN(int variable, writer->AddArray(vs));

  BlockPassOptions po = options.pass;
  const uint64_t out_chunk_bytes = static_cast<uint64_t>(Product(result.chunk_shape)) * out_size;
  const int threads = po.threads > 0 ? std::min(po.threads, context.threads()) : context.threads();
  // Each running call holds its output block; a quarter of the budget for assembly.
  po.state_bytes += static_cast<uint64_t>(threads) * out_chunk_bytes + po.max_memory / 4;
  ChunkAssembler assembler(result.shape, result.chunk_shape, out_size, po.max_memory / 4, *writer,
                           variable);
  BufferPoolOptions pool_options;
  pool_options.max_cached_bytes = 2 * static_cast<uint64_t>(threads) * out_chunk_bytes;
  BufferPool out_pool(pool_options);
  Result<PassResult> pass = ForEachBlock(
      context, array, ranges,
      [&](const Block& block) -> Status {
        LSIO_ASSIGN_OR_RETURN(
            Buffer buffer,
            out_pool.Acquire(static_cast<size_t>(block.num_elements()) * out_size));
        LSIO_RETURN_IF_ERROR(fn(block, buffer.mutable_span()));
        std::vector<int64_t> start, count;
        for (size_t d : kept) {
          start.push_back(block.dims[d].out_start);
          count.push_back(block.dims[d].count);
        }
        if (assembler.IsWholeChunk(start, count)) {
          std::vector<int64_t> chunk(start.size());
          for (size_t i = 0; i < start.size(); ++i) chunk[i] = start[i] / result.chunk_shape[i];
          return writer->WriteChunk(variable, chunk, buffer.span());
        }
        return assembler.Add(start, count, buffer.span());
      },
      po);
  if (!pass.ok()) return pass.status();
  if (!assembler.empty()) {
    return InternalError("map_blocks: output chunks left incomplete after the pass");
  }
  LSIO_RETURN_IF_ERROR(writer->Commit());
  result.pass = *pass;
  result.assembled_chunks = assembler.assembled();
  return result;
}

}  // namespace lsio::ops
