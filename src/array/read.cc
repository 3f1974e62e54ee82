#include "lsio/array/read.h"

#include <algorithm>

#include "lsio/array/strided_copy.h"
#include "lsio/kvstore/open.h"
#include "lsio/sched/inline_run.h"

namespace lsio::array {

namespace {

// Copies each chunk's part into the output array (shape: the array's rank, dropped dimensions
// of size 1). Workers write disjoint boxes, so no lock is needed.
class CopyIntoBuffer final : public ChunkConsumer {
 public:
  CopyIntoBuffer(std::span<std::byte> out, std::vector<int64_t> out_shape, size_t element_size,
                 std::span<const std::byte> fill)
      : out_(out), out_shape_(std::move(out_shape)), element_size_(element_size), fill_(fill) {}

  Status Consume(uint64_t, const ChunkSelection& selection, std::span<const int64_t> chunk_shape,
                 std::span<const std::byte> chunk) override {
    const std::span<std::byte> place = Contiguous(selection, chunk_shape);
    if (!place.empty() && chunk.data() == place.data() && chunk.size() == place.size()) {
      return Status::OK();  // decoded in place
    }
    return CopyChunkSelection(selection, chunk, chunk_shape, out_, out_shape_, element_size_);
  }

  std::span<std::byte> DecodeDestination(const ChunkSelection& selection,
                                         std::span<const int64_t> chunk_shape) override {
    return Contiguous(selection, chunk_shape);
  }

  Status ConsumeFill(uint64_t, const ChunkSelection& selection,
                     std::span<const int64_t>) override {
    std::vector<CopyBoxDim> dims(selection.dims.size());
    for (size_t d = 0; d < dims.size(); ++d) {
      dims[d].dst_start = selection.dims[d].out_start;
      dims[d].count = selection.dims[d].count;
    }
    return FillBox(out_, out_shape_, dims, fill_);
  }

 private:
  // Where the chunk lies in the output when the selection takes all of it and its elements are
  // contiguous there (ContiguousBoxOffset); else empty.
  std::span<std::byte> Contiguous(const ChunkSelection& selection,
                                  std::span<const int64_t> chunk_shape) const {
    std::vector<CopyBoxDim> box(selection.dims.size());
    for (size_t d = 0; d < box.size(); ++d) {
      const ChunkDimSlice& s = selection.dims[d];
      box[d] = CopyBoxDim{s.start, s.step, s.out_start, s.count};
    }
    const std::optional<uint64_t> offset = ContiguousBoxOffset(box, chunk_shape, out_shape_);
    if (!offset) return {};
    uint64_t chunk_elements = 1;
    for (int64_t n : chunk_shape) chunk_elements *= static_cast<uint64_t>(n);
    return out_.subspan(*offset * element_size_, chunk_elements * element_size_);
  }

  std::span<std::byte> out_;
  std::vector<int64_t> out_shape_;
  size_t element_size_;
  std::span<const std::byte> fill_;
};

}  // namespace

Status ReadManyInto(std::span<const ReadTarget> targets, runtime::Context& context,
                    const ReadIntoOptions& options) {
  if (targets.empty()) return Status::OK();
  std::vector<std::unique_ptr<CopyIntoBuffer>> consumers;
  std::vector<std::unique_ptr<ChunkTaskSource>> sources;
  BufferPoolOptions pool_options;
  pool_options.max_cached_bytes = size_t{64} << 20;
  BufferPool decode_pool(pool_options);
  const std::shared_ptr<kvstore::Store>& store = targets.front().array->store();
  for (const ReadTarget& t : targets) {
    const ArrayInfo& info = t.array->info();
    const std::string label = "array '" + info.path + "'";
    if (t.array->store() != store) {
      return InvalidArgumentError("ReadManyInto: " + label + " is in another store");
    }
    LSIO_RETURN_IF_ERROR(info.element.DecodeSupport().WithContext(label));
    const size_t element_size = info.element_size();
    std::vector<int64_t> out_shape;
    uint64_t elements = 1;
    for (const DimRange& r : t.ranges) {
      out_shape.push_back(r.drop ? 1 : r.count);
      elements *= static_cast<uint64_t>(r.count);
    }
    if (t.out.size() != elements * element_size) {
      return InvalidArgumentError("ReadInto: output holds " + std::to_string(t.out.size()) +
                                  " bytes, the selection " +
                                  std::to_string(elements * element_size));
    }
    if (elements == 0) continue;
    consumers.push_back(
        std::make_unique<CopyIntoBuffer>(t.out, out_shape, element_size, info.fill_value));
    ReadPlan plan;
    plan.ranges = t.ranges;
    plan.consumer = consumers.back().get();
    plan.decode_pool = &decode_pool;
    plan.label = label;
    LSIO_ASSIGN_OR_RETURN(std::unique_ptr<ChunkTaskSource> source, t.array->PlanRead(plan));
    sources.push_back(std::move(source));
  }
  if (sources.empty()) return Status::OK();
  uint64_t read_chunks = 0;
  for (const auto& s : sources) read_chunks += s->read_chunks();
  const uint64_t inline_limit =
      kvstore::IsRemoteLocation(store->url()) ? std::min<uint64_t>(options.inline_max_chunks, 1)
                                              : options.inline_max_chunks;
  ConcatTaskSource source(std::move(sources));
  if (read_chunks <= inline_limit) {
    sched::SchedulerOptions so;
    so.cancelled = options.cancelled;
    return sched::RunInline(source, *store, so).status();
  }
  sched::SchedulerOptions so;
  so.threads = options.threads;
  so.max_bytes_in_flight = options.max_bytes_in_flight;
  so.cancelled = options.cancelled;
  return context.Run(store, source, so).status();
}

Status ReadInto(const ArraySource& array, std::span<const DimRange> ranges,
                std::span<std::byte> out, runtime::Context& context,
                const ReadIntoOptions& options) {
  const ReadTarget target{&array, std::vector<DimRange>(ranges.begin(), ranges.end()), out};
  return ReadManyInto(std::span(&target, 1), context, options);
}

}  // namespace lsio::array
