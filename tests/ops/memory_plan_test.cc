// PlanMemory: how a --max-memory budget is split, and what it says when the budget is too small.

#include "lsio/ops/memory_plan.h"

#include <gtest/gtest.h>

#include <string>

namespace lsio::ops {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;

// One worker holds its decoded chunk, a second chunk's worth and the pool's cache of both (4
// chunks), and the IO budget is at least two chunks with as much again in free buffers (4
// chunks): 8 chunks plus the accumulators in all.
TEST(PlanMemory, OneWorkerNeedsEightChunksAndTheAccumulators) {
  const uint64_t chunk = 64 * kKiB;
  Result<MemoryPlan> plan = PlanMemory(8 * chunk + 100, 4, chunk, 100);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->threads, 1);
  EXPECT_EQ(plan->io_budget, 2 * chunk);
  EXPECT_FALSE(PlanMemory(8 * chunk + 99, 4, chunk, 100).ok());
}

// The message gives the budget as the user wrote it and the minimum with its parts, in units
// that do not round a small amount to 0 (it once read "--max-memory 1 MiB is too small: chunks
// of 1 MiB decoded and 0 MiB of accumulators need at least 1 MiB" for 256KiB).
TEST(PlanMemory, ReadsInFlightStopAtTheStoresReadAhead) {
  // 256 MiB, 2 workers, 8 MiB chunks: 64 MiB for decoded chunks and the decode pool, half of
  // the remaining 192 MiB for reads in flight, unless the store keeps busy with less.
  Result<MemoryPlan> plan = PlanMemory(256 * kMiB, 2, 8 * kMiB, 0);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->io_budget, 96 * kMiB);
  plan = PlanMemory(256 * kMiB, 2, 8 * kMiB, 0, 32 * kMiB);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->io_budget, 32 * kMiB);
  EXPECT_EQ(plan->threads, 2);
  // Never below two chunks, so that reading overlaps decoding.
  plan = PlanMemory(1024 * kMiB, 2, 24 * kMiB, 0, 32 * kMiB);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->io_budget, 48 * kMiB);
}

TEST(PlanMemory, TooSmallSaysWhatWasGivenAndWhatIsNeeded) {
  Result<MemoryPlan> plan = PlanMemory(256 * kKiB, 2, 64 * kKiB, 0);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(plan.status().message(),
            "--max-memory 256 KiB is too small: at least 512 KiB is needed with one worker "
            "(256 KiB for decoded chunks of 64 KiB, 256 KiB for reads in flight, 0 bytes for "
            "accumulators)");

  // Sizes that are no whole number of KiB: the budget exactly, the minimum rounded up.
  plan = PlanMemory(100000, 1, 7052, 48000);
  ASSERT_FALSE(plan.ok());
  const std::string m = plan.status().message();
  EXPECT_NE(m.find("--max-memory 100000 bytes is too small"), std::string::npos) << m;
  // 8 * 7052 + 48000 = 104416 bytes = 101.97 KiB.
  EXPECT_NE(m.find("at least 102.0 KiB is needed"), std::string::npos) << m;
  EXPECT_NE(m.find("decoded chunks of 6.9 KiB"), std::string::npos) << m;
  EXPECT_NE(m.find("46.9 KiB for accumulators"), std::string::npos) << m;

  plan = PlanMemory(3 * kMiB / 2, 1, 1 * kMiB, 0);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("--max-memory 1536 KiB is too small: at least 8 MiB"),
            std::string::npos)
      << plan.status().message();
}

}  // namespace
}  // namespace lsio::ops
