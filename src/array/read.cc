#include "lsio/array/read.h"

#include "lsio/array/strided_copy.h"

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
    return CopyChunkSelection(selection, chunk, chunk_shape, out_, out_shape_, element_size_);
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
  std::span<std::byte> out_;
  std::vector<int64_t> out_shape_;
  size_t element_size_;
  std::span<const std::byte> fill_;
};

}  // namespace

Status ReadInto(const ArraySource& array, std::span<const DimRange> ranges,
                std::span<std::byte> out, runtime::Context& context,
                const ReadIntoOptions& options) {
  const ArrayInfo& info = array.info();
  const std::string label = "array '" + info.path + "'";
  LSIO_RETURN_IF_ERROR(info.element.DecodeSupport().WithContext(label));
  const size_t element_size = info.element_size();
  std::vector<int64_t> out_shape;
  uint64_t elements = 1;
  for (const DimRange& r : ranges) {
    out_shape.push_back(r.drop ? 1 : r.count);
    elements *= static_cast<uint64_t>(r.count);
  }
  if (out.size() != elements * element_size) {
    return InvalidArgumentError("ReadInto: output holds " + std::to_string(out.size()) +
                                " bytes, the selection " +
                                std::to_string(elements * element_size));
  }
  if (elements == 0) return Status::OK();
  CopyIntoBuffer consumer(out, out_shape, element_size, info.fill_value);
  BufferPoolOptions pool_options;
  pool_options.max_cached_bytes = size_t{64} << 20;
  BufferPool decode_pool(pool_options);
  ReadPlan plan;
  plan.ranges.assign(ranges.begin(), ranges.end());
  plan.consumer = &consumer;
  plan.decode_pool = &decode_pool;
  plan.label = label;
  LSIO_ASSIGN_OR_RETURN(std::unique_ptr<ChunkTaskSource> source, array.PlanRead(plan));
  sched::SchedulerOptions so;
  so.threads = options.threads;
  so.max_bytes_in_flight = options.max_bytes_in_flight;
  so.cancelled = options.cancelled;
  return context.Run(array.store(), *source, so).status();
}

}  // namespace lsio::array
