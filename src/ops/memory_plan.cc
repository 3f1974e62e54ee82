#include "lsio/ops/memory_plan.h"

#include <algorithm>
#include <string>
#include <thread>

namespace lsio::ops {

namespace {

std::string Mib(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

}  // namespace

Result<MemoryPlan> PlanMemory(uint64_t max_memory, int threads, uint64_t max_decoded_chunk_bytes,
                              uint64_t accumulator_bytes) {
  if (threads <= 0) {
    const unsigned hw = std::thread::hardware_concurrency();
    threads = hw == 0 ? 1 : static_cast<int>(hw);
  }
  const uint64_t chunk = std::max<uint64_t>(max_decoded_chunk_bytes, 4096);
  const uint64_t min_io = 2 * chunk;
  for (int t = threads; t >= 1; --t) {
    // Per worker: the decoded chunk and one more chunk's worth (fill chunk or scratch); the
    // decode pool may cache as much again.
    const uint64_t decoded = 2 * static_cast<uint64_t>(t) * chunk;
    const uint64_t fixed = 2 * decoded + accumulator_bytes;
    // The IO engine's pool keeps up to its budget in free blocks besides the blocks in flight
    // (measured: peak RSS followed twice the budget, not once), so the budget is half of what
    // is left.
    if (fixed + 2 * min_io > max_memory) continue;
    MemoryPlan plan;
    plan.threads = t;
    plan.io_budget = std::min<uint64_t>((max_memory - fixed) / 2, kMaxIoBudget);
    plan.io_budget = std::max(plan.io_budget, min_io);
    plan.group_bytes = std::max<uint64_t>(plan.io_budget / 8, 1 << 20);
    plan.decode_cache_bytes = decoded;
    return plan;
  }
  return InvalidArgumentError(
      "--max-memory " + Mib(max_memory) + " is too small: chunks of " + Mib(chunk) +
      " decoded and " + Mib(accumulator_bytes) + " of accumulators need at least " +
      Mib(4 * chunk + accumulator_bytes + 2 * min_io));
}

}  // namespace lsio::ops
