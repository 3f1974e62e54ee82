#include "lsio/ops/pass.h"

#include <atomic>
#include <chrono>
#include <optional>

#include "lsio/ops/memory_plan.h"

namespace lsio::ops {

namespace {

using Clock = std::chrono::steady_clock;

// Forwards one array's chunks to its aggregator and counts what was consumed (progress).
class CountingConsumer final : public array::ChunkConsumer {
 public:
  CountingConsumer(Aggregator* inner, size_t element_size, std::atomic<uint64_t>* bytes,
                   std::atomic<uint64_t>* chunks)
      : inner_(inner), element_size_(element_size), bytes_(bytes), chunks_(chunks) {}

  Status Consume(uint64_t ordinal, const array::ChunkSelection& selection,
                 std::span<const int64_t> chunk_shape, std::span<const std::byte> chunk) override {
    LSIO_RETURN_IF_ERROR(inner_->Consume(ordinal, selection, chunk_shape, chunk));
    Count(selection);
    return Status::OK();
  }
  Status ConsumeFill(uint64_t ordinal, const array::ChunkSelection& selection,
                     std::span<const int64_t> chunk_shape) override {
    LSIO_RETURN_IF_ERROR(inner_->ConsumeFill(ordinal, selection, chunk_shape));
    Count(selection);
    return Status::OK();
  }
  bool ConsumesEncoded(const codec::CodecChain& chain, const array::ChunkSelection& selection,
                       std::span<const int64_t> chunk_shape) const override {
    return inner_->ConsumesEncoded(chain, selection, chunk_shape);
  }
  Status ConsumeEncoded(uint64_t ordinal, const array::ChunkSelection& selection,
                        std::span<const int64_t> chunk_shape, const codec::CodecChain& chain,
                        std::span<const std::byte> encoded) override {
    LSIO_RETURN_IF_ERROR(inner_->ConsumeEncoded(ordinal, selection, chunk_shape, chain, encoded));
    Count(selection);
    return Status::OK();
  }
  std::span<std::byte> DecodeDestination(const array::ChunkSelection& selection,
                                         std::span<const int64_t> chunk_shape) override {
    return inner_->DecodeDestination(selection, chunk_shape);
  }
  Status OnError(uint64_t ordinal, const array::ChunkSelection& selection,
                 const Status& error) override {
    return inner_->OnError(ordinal, selection, error);
  }

 private:
  void Count(const array::ChunkSelection& selection) {
    bytes_->fetch_add(static_cast<uint64_t>(selection.num_elements()) * element_size_,
                      std::memory_order_relaxed);
    chunks_->fetch_add(1, std::memory_order_relaxed);
  }

  Aggregator* inner_;
  size_t element_size_;
  std::atomic<uint64_t>* bytes_;
  std::atomic<uint64_t>* chunks_;
};

}  // namespace

Result<PassResult> RunPass(runtime::Context& context, std::vector<PassInput>& inputs,
                           const PassOptions& options) {
  const auto start = Clock::now();
  PassResult result;
  if (inputs.empty()) return result;
  const std::shared_ptr<kvstore::Store>& store = inputs.front().array->store();
  uint64_t max_chunk_bytes = 0;
  uint64_t state_bytes = 0;
  uint64_t total_bytes = 0;
  for (const PassInput& in : inputs) {
    if (in.array == nullptr || in.aggregator == nullptr) {
      return InvalidArgumentError("RunPass: an input needs an array and an aggregator");
    }
    if (in.array->store() != store) {
      return InvalidArgumentError("RunPass: " + in.label + " is in another store");
    }
    const array::ArrayInfo& info = in.array->info();
    max_chunk_bytes = std::max(max_chunk_bytes, info.chunk_bytes());
    state_bytes += in.aggregator->state_bytes();
    uint64_t elements = 1;
    for (const array::DimRange& r : in.ranges) elements *= static_cast<uint64_t>(r.count);
    total_bytes += elements * info.element_size();
  }
  const int threads = options.threads > 0 ? std::min(options.threads, context.threads())
                                          : context.threads();
  LSIO_ASSIGN_OR_RETURN(MemoryPlan plan,
                        PlanMemory(options.max_memory, threads, max_chunk_bytes, state_bytes,
                                   store->read_ahead_bytes()));
  std::optional<BufferPool> own_pool;
  if (options.decode_pool == nullptr) {
    BufferPoolOptions pool_options;
    pool_options.max_cached_bytes = plan.decode_cache_bytes;
    own_pool.emplace(pool_options);
  }
  BufferPool& decode_pool = options.decode_pool ? *options.decode_pool : *own_pool;

  std::atomic<uint64_t> bytes_done{0};
  std::atomic<uint64_t> chunks_done{0};
  std::vector<std::unique_ptr<CountingConsumer>> counters;
  std::vector<std::unique_ptr<array::ChunkTaskSource>> sources;
  uint64_t chunks_total = 0;
  for (PassInput& in : inputs) {
    counters.push_back(std::make_unique<CountingConsumer>(
        in.aggregator, in.array->info().element_size(), &bytes_done, &chunks_done));
    array::ReadPlan rp;
    rp.ranges = in.ranges;
    rp.consumer = counters.back().get();
    rp.decode_pool = &decode_pool;
    rp.label = in.label;
    LSIO_ASSIGN_OR_RETURN(std::unique_ptr<array::ChunkTaskSource> source, in.array->PlanRead(rp));
    LSIO_RETURN_IF_ERROR(in.aggregator->BeginPass(decode_pool, source->read_chunks()));
    chunks_total += source->read_chunks();
    sources.push_back(std::move(source));
  }
  array::ConcatTaskSource source(std::move(sources));

  sched::SchedulerOptions so;
  so.max_bytes_in_flight = plan.io_budget;
  so.threads = plan.threads;
  so.group_bytes = plan.group_bytes;
  so.cancelled = options.cancelled;
  if (options.progress) {
    so.tick = [&] {
      PassProgress p;
      p.bytes_done = bytes_done.load(std::memory_order_relaxed);
      p.bytes_total = total_bytes;
      p.chunks_done = chunks_done.load(std::memory_order_relaxed);
      p.chunks_total = chunks_total;
      p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      options.progress(p);
    };
  }
  LSIO_ASSIGN_OR_RETURN(sched::SchedulerStats st, context.Run(store, source, so));
  for (PassInput& in : inputs) LSIO_RETURN_IF_ERROR(in.aggregator->EndPass());
  result.bytes_read = st.bytes_read;
  result.bytes_decoded = total_bytes;
  for (const auto& one : source.sources()) {
    result.chunks += one->total_chunks();
    result.missing_chunks += one->missing_chunks();
  }
  result.threads = plan.threads;
  result.io_budget = plan.io_budget;
  result.io_backend = st.io_backend;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace lsio::ops
