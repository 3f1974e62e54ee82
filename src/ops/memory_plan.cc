#include "lsio/ops/memory_plan.h"

#include <algorithm>
#include <string>
#include <thread>

namespace lsio::ops {

namespace {

constexpr const char* kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

// The size exactly, in the largest unit it is a whole number of ("256 KiB", "1536 MiB",
// "1000000 bytes"): a value the user gave reads back as given.
std::string ExactSize(uint64_t bytes) {
  int u = 0;
  while (u < 6 && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + " " + kUnits[u];
}

// The size in the largest unit it holds at least one of, whole when exact, else to one decimal
// rounded up ("64 KiB", "117.8 MiB"): never 0, and never below the true size, so that a
// minimum read from it is enough.
std::string AtLeastSize(uint64_t bytes) {
  int u = 0;
  uint64_t unit = 1;
  while (u < 6 && bytes / unit >= 1024) {
    unit *= 1024;
    ++u;
  }
  if (bytes % unit == 0) return std::to_string(bytes / unit) + " " + kUnits[u];
  // Tenths of the unit, rounded up; unit >= 1024 here, so this cannot overflow for sizes
  // below 2^63.
  const uint64_t tenths = (bytes / unit) * 10 + ((bytes % unit) * 10 + unit - 1) / unit;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " " + kUnits[u];
}

}  // namespace

Result<MemoryPlan> PlanMemory(uint64_t max_memory, int threads, uint64_t max_decoded_chunk_bytes,
                              uint64_t accumulator_bytes, uint64_t max_io_budget) {
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
    plan.io_budget = std::min<uint64_t>((max_memory - fixed) / 2, max_io_budget);
    plan.io_budget = std::max(plan.io_budget, min_io);
    plan.group_bytes = std::max<uint64_t>(plan.io_budget / 8, 1 << 20);
    plan.decode_cache_bytes = decoded;
    return plan;
  }
  // One worker: its decoded chunks and the pool's cache of as many, the accumulators, and the
  // smallest IO budget with the engine's pool of free buffers beside it.
  const uint64_t decoded = 4 * chunk;
  const uint64_t io = 2 * min_io;
  return InvalidArgumentError(
      "--max-memory " + ExactSize(max_memory) + " is too small: at least " +
      AtLeastSize(decoded + accumulator_bytes + io) + " is needed with one worker (" +
      AtLeastSize(decoded) + " for decoded chunks of " + AtLeastSize(chunk) + ", " +
      AtLeastSize(io) + " for reads in flight, " + AtLeastSize(accumulator_bytes) +
      " for accumulators)");
}

}  // namespace lsio::ops
