#include "lsio/array/memory_source.h"

#include <cstdint>
#include <string>
#include <utility>

namespace lsio::array {

namespace {

class MemoryArraySource final : public ArraySource {
 public:
  MemoryArraySource(ArrayInfo info, std::shared_ptr<const std::vector<std::byte>> values,
                    std::shared_ptr<kvstore::Store> store)
      : info_(std::move(info)), values_(std::move(values)), store_(std::move(store)) {}

  const ArrayInfo& info() const override { return info_; }
  const std::shared_ptr<kvstore::Store>& store() const override { return store_; }
  std::string DescribeEncoding() const override { return "in memory"; }

  Result<std::unique_ptr<ChunkTaskSource>> PlanRead(const ReadPlan& plan) const override;

 private:
  ArrayInfo info_;
  std::shared_ptr<const std::vector<std::byte>> values_;
  std::shared_ptr<kvstore::Store> store_;
};

// The one task of a read.
class MemoryTaskSource final : public ChunkTaskSource {
 public:
  MemoryTaskSource(sched::ReadTask task, uint64_t elements)
      : task_(std::move(task)), elements_(elements), done_(elements == 0) {}

  uint64_t total_chunks() const override { return elements_ == 0 ? 0 : 1; }
  uint64_t read_chunks() const override { return elements_ == 0 ? 0 : 1; }
  uint64_t total_elements() const override { return elements_; }
  uint64_t missing_chunks() const override { return 0; }

  bool Next(sched::ReadTask* out) override {
    if (done_) return false;
    done_ = true;
    *out = std::move(task_);
    return true;
  }

 private:
  sched::ReadTask task_;
  uint64_t elements_;
  bool done_;
};

Result<std::unique_ptr<ChunkTaskSource>> MemoryArraySource::PlanRead(const ReadPlan& plan) const {
  const std::string& label = plan.label;
  if (plan.consumer == nullptr) return InvalidArgumentError(label + ": no consumer");
  if (plan.ranges.size() != info_.rank()) {
    return InvalidArgumentError(label + ": selection has " + std::to_string(plan.ranges.size()) +
                                " dimensions, the array " + std::to_string(info_.rank()));
  }
  ChunkSelection sel;
  uint64_t elements = 1;
  for (size_t d = 0; d < info_.rank(); ++d) {
    const DimRange& r = plan.ranges[d];
    const int64_t n = info_.shape[d];
    if (r.count < 0 || (r.count > 0 && (r.index(0) < 0 || r.index(0) >= n ||
                                        r.index(r.count - 1) < 0 || r.index(r.count - 1) >= n))) {
      return OutOfRangeError(label + ": selection leaves dimension " + std::to_string(d) +
                             " of size " + std::to_string(n));
    }
    sel.grid.push_back(0);
    sel.dims.push_back(ChunkDimSlice{r.start, r.step, r.count, 0});
    elements *= static_cast<uint64_t>(r.count);
  }
  sched::ReadTask task;
  task.no_read = true;
  task.on_read = [values = values_, shape = info_.shape, consumer = plan.consumer, sel, label](
                     Result<Buffer>, sched::TaskSink&) -> Status {
    return consumer->Consume(0, sel, shape, *values).WithContext(label);
  };
  return std::unique_ptr<ChunkTaskSource>(
      std::make_unique<MemoryTaskSource>(std::move(task), elements));
}

}  // namespace

Result<std::shared_ptr<const ArraySource>> MakeMemoryArraySource(
    ArrayInfo info, std::shared_ptr<const std::vector<std::byte>> values,
    std::shared_ptr<kvstore::Store> store) {
  if (values == nullptr) return InvalidArgumentError(info.path + ": no values");
  const uint64_t expected = static_cast<uint64_t>(info.num_elements()) * info.element_size();
  if (values->size() != expected) {
    return InvalidArgumentError(info.path + ": " + std::to_string(values->size()) +
                                " bytes of values for " + std::to_string(info.num_elements()) +
                                " elements of " + info.element.name);
  }
  // Values are handed to consumers in place: they must be aligned as a decoded chunk is.
  if (info.element_size() > 1 &&
      reinterpret_cast<uintptr_t>(values->data()) % info.element_size() != 0) {
    return InvalidArgumentError(info.path + ": values are not aligned to their element size");
  }
  info.chunk_shape = info.shape;
  info.storage_chunk_shape = info.shape;
  return std::shared_ptr<const ArraySource>(
      std::make_shared<MemoryArraySource>(std::move(info), std::move(values), std::move(store)));
}

}  // namespace lsio::array
