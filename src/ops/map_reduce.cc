#include "lsio/ops/map_reduce.h"

#include <cstring>
#include <vector>

#include "lsio/array/strided_copy.h"
#include "lsio/codec/chain.h"

namespace lsio::ops {

int64_t Block::num_elements() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::string Block::Describe() const {
  std::string out = "chunk " + std::to_string(ordinal) + " (";
  for (size_t d = 0; d < dims.size(); ++d) {
    const BlockDim& b = dims[d];
    if (d > 0) out += ", ";
    out += array != nullptr && d < array->dims.size() ? array->dims[d] : "dim_" + std::to_string(d);
    out += ' ';
    if (b.dropped) {
      out += std::to_string(b.start);
      continue;
    }
    out += std::to_string(b.start) + ":";
    if (b.step == 1) {
      out += std::to_string(b.stop());
    } else {
      // Python's slice of exactly these indices.
      const int64_t last = b.start + (b.count - 1) * b.step;
      const int64_t stop = last + (b.step > 0 ? 1 : -1);
      if (stop >= 0) out += std::to_string(stop);
      out += ':';
      out += std::to_string(b.step);
    }
  }
  return out + ")";
}

namespace {

// Turns the pass's chunks into blocks for the function.
class BlockAggregator final : public Aggregator {
 public:
  BlockAggregator(const array::ArraySource& array, std::span<const array::DimRange> ranges,
                  const BlockFunction& fn, const BlockPassOptions& options, std::string label)
      : info_(array.info()),
        ranges_(ranges.begin(), ranges.end()),
        fn_(fn),
        options_(options),
        label_(std::move(label)) {}

  uint64_t state_bytes() const override { return options_.state_bytes; }

  Status BeginPass(BufferPool& decode_pool, uint64_t /*read_chunks*/) override {
    pool_ = &decode_pool;
    return Status::OK();
  }

  Status Consume(uint64_t ordinal, const array::ChunkSelection& selection,
                 std::span<const int64_t> chunk_shape, std::span<const std::byte> chunk) override {
    return ConsumeDecoded(ordinal, selection, chunk_shape, chunk, nullptr);
  }

  // Owned blocks: decode straight into a buffer the block can own, so that a block that is a
  // whole chunk reaches the function without a copy.
  bool ConsumesEncoded(const codec::CodecChain& /*chain*/,
                       const array::ChunkSelection& /*selection*/,
                       std::span<const int64_t> /*chunk_shape*/) const override {
    return options_.owned_blocks;
  }
  Status ConsumeEncoded(uint64_t ordinal, const array::ChunkSelection& selection,
                        std::span<const int64_t> chunk_shape, const codec::CodecChain& chain,
                        std::span<const std::byte> encoded) override {
    size_t bytes = info_.element_size();
    for (int64_t x : chunk_shape) bytes *= static_cast<size_t>(x);
    LSIO_ASSIGN_OR_RETURN(Buffer decoded, pool_->Acquire(bytes));
    LSIO_RETURN_IF_ERROR(chain.Decode(encoded, decoded.mutable_span(), *pool_));
    return ConsumeDecoded(ordinal, selection, chunk_shape, decoded.span(), &decoded);
  }

  Status ConsumeFill(uint64_t ordinal, const array::ChunkSelection& selection,
                     std::span<const int64_t> /*chunk_shape*/) override {
    Block block = MakeBlock(ordinal, selection);
    const size_t esize = info_.element_size();
    const size_t n = static_cast<size_t>(block.num_elements());
    LSIO_ASSIGN_OR_RETURN(Buffer buffer, pool_->Acquire(n * esize));
    std::byte* out = buffer.mutable_data();
    if (info_.fill_value.size() == esize) {
      const std::byte* fill = info_.fill_value.data();
      bool zero = true;
      for (size_t i = 0; i < esize; ++i) zero = zero && fill[i] == std::byte{0};
      if (zero) {
        std::memset(out, 0, n * esize);
      } else {
        for (size_t i = 0; i < n; ++i) std::memcpy(out + i * esize, fill, esize);
      }
    } else {
      std::memset(out, 0, n * esize);
    }
    block.data = buffer.span();
    if (options_.owned_blocks) block.owned = std::move(buffer);
    return Call(block);
  }

 private:
  // `owned`: the buffer holding `chunk`, when the block may take it over.
  Status ConsumeDecoded(uint64_t ordinal, const array::ChunkSelection& selection,
                        std::span<const int64_t> chunk_shape, std::span<const std::byte> chunk,
                        Buffer* owned) {
    Block block = MakeBlock(ordinal, selection);
    const size_t esize = info_.element_size();
    const size_t bytes = static_cast<size_t>(block.num_elements()) * esize;
    bool whole = bytes == chunk.size();
    for (const array::ChunkDimSlice& d : selection.dims) whole = whole && d.step == 1;
    if (whole && (!options_.owned_blocks || owned != nullptr)) {
      // The selection covers the decoded chunk: hand it over as it is.
      block.data = chunk;
      if (options_.owned_blocks) block.owned = std::move(*owned);
      return Call(block);
    }
    LSIO_ASSIGN_OR_RETURN(Buffer buffer, pool_->Acquire(bytes));
    if (whole) {
      std::memcpy(buffer.mutable_data(), chunk.data(), bytes);
    } else {
      // The selected box, moved to the block's origin.
      array::ChunkSelection local = selection;
      std::vector<int64_t> out_shape(selection.dims.size());
      for (size_t d = 0; d < local.dims.size(); ++d) {
        local.dims[d].out_start = 0;
        out_shape[d] = local.dims[d].count;
      }
      LSIO_RETURN_IF_ERROR(array::CopyChunkSelection(local, chunk, chunk_shape,
                                                     buffer.mutable_span(), out_shape, esize)
                               .WithContext(label_ + ": " + block.Describe()));
    }
    block.data = buffer.span();
    if (options_.owned_blocks) block.owned = std::move(buffer);
    return Call(block);
  }

  Block MakeBlock(uint64_t ordinal, const array::ChunkSelection& selection) const {
    Block block;
    block.ordinal = ordinal;
    block.array = &info_;
    block.dims.resize(selection.dims.size());
    for (size_t d = 0; d < selection.dims.size(); ++d) {
      const array::ChunkDimSlice& s = selection.dims[d];
      const array::DimRange& r = ranges_[d];
      BlockDim& b = block.dims[d];
      b.start = r.index(s.out_start);
      b.step = r.step;
      b.count = s.count;
      b.out_start = s.out_start;
      b.dropped = r.drop;
      if (!r.drop) block.shape.push_back(s.count);
    }
    return block;
  }

  Status Call(const Block& block) {
    return fn_(block).WithContext(label_ + ": " + block.Describe());
  }

  const array::ArrayInfo& info_;
  std::vector<array::DimRange> ranges_;
  const BlockFunction& fn_;
  const BlockPassOptions& options_;
  std::string label_;
  BufferPool* pool_ = nullptr;
};

}  // namespace

Result<PassResult> ForEachBlock(runtime::Context& context, const array::ArraySource& array,
                                std::span<const array::DimRange> ranges, const BlockFunction& fn,
                                const BlockPassOptions& options) {
  const array::ArrayInfo& info = array.info();
  const std::string label = "variable '" + info.path + "'";
  if (ranges.size() != info.rank()) {
    return InvalidArgumentError(label + ": the selection has " + std::to_string(ranges.size()) +
                                " dimensions, the array " + std::to_string(info.rank()));
  }
  LSIO_RETURN_IF_ERROR(info.element.DecodeSupport().WithContext(label));
  BlockAggregator aggregator(array, ranges, fn, options, label);
  std::vector<PassInput> inputs(1);
  inputs[0].array = &array;
  inputs[0].ranges.assign(ranges.begin(), ranges.end());
  inputs[0].aggregator = &aggregator;
  inputs[0].label = label;
  PassOptions po;
  po.max_memory = options.max_memory;
  po.threads = options.threads;
  po.cancelled = options.cancelled;
  po.progress = options.progress;
  return RunPass(context, inputs, po);
}

}  // namespace lsio::ops
