#include "lsio/compute/cpu_pool.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "lsio/compute/per_worker.h"
#include "lsio/compute/stats.h"

namespace lsio::compute {
namespace {

using std::chrono::steady_clock;

// Spins (yielding) until pred() or a generous deadline; returns pred().
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto deadline = steady_clock::now() + limit;
  while (!pred() && steady_clock::now() < deadline) std::this_thread::yield();
  return pred();
}

TEST(CpuPoolTest, RunsEveryTaskBeforeWaitReturns) {
  CpuPool pool({.threads = 2});
  EXPECT_EQ(pool.threads(), 2);
  std::atomic<int> done{0};
  for (int i = 0; i < 1000; ++i) pool.Submit([&] { done.fetch_add(1); });
  EXPECT_TRUE(pool.Wait().ok());
  EXPECT_EQ(done.load(), 1000);
  // Reusable after a Wait.
  for (int i = 0; i < 10; ++i) pool.Submit([&] { done.fetch_add(1); });
  EXPECT_TRUE(pool.Wait().ok());
  EXPECT_EQ(done.load(), 1010);
}

TEST(CpuPoolTest, DefaultThreadsIsPositive) {
  CpuPool pool;
  EXPECT_GE(pool.threads(), 1);
}

TEST(CpuPoolTest, TasksSubmittedFromTasksAndOtherThreadsAreWaitedFor) {
  CpuPool pool({.threads = 2});
  std::atomic<int> done{0};
  std::vector<std::thread> submitters;
  for (int t = 0; t < 3; ++t) {
    submitters.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        pool.Submit([&] {
          pool.Submit([&] { done.fetch_add(1); });  // a follow-up task, as decode -> reduce
          done.fetch_add(1);
        });
      }
    });
  }
  for (auto& t : submitters) t.join();
  EXPECT_TRUE(pool.Wait().ok());
  EXPECT_EQ(done.load(), 600);
}

// The pool really has `threads` workers even beyond the hardware concurrency (oneTBB would
// otherwise cap them at hardware_concurrency - 1), and they run without anyone calling Wait
// (the IO thread submits and goes back to reaping completions).
TEST(CpuPoolTest, AllWorkersRunConcurrentlyWithoutAWaiter) {
  const int threads = static_cast<int>(std::thread::hardware_concurrency()) + 2;
  CpuPool pool({.threads = threads});
  std::atomic<int> arrived{0};
  std::atomic<bool> release{false};
  for (int i = 0; i < threads; ++i) {
    pool.Submit([&] {
      arrived.fetch_add(1);
      WaitFor([&] { return release.load(); });
    });
  }
  EXPECT_TRUE(WaitFor([&] { return arrived.load() == threads; }))
      << "only " << arrived.load() << " of " << threads << " workers started";
  release = true;
  EXPECT_TRUE(pool.Wait().ok());
}

TEST(CpuPoolTest, CancelSkipsTasksThatHaveNotStarted) {
  CpuPool pool({.threads = 2});
  std::atomic<bool> gate{false};
  std::atomic<int> started{0};
  for (int i = 0; i < 200; ++i) {
    pool.Submit([&] {
      started.fetch_add(1);
      WaitFor([&] { return gate.load() || pool.cancelled(); });
    });
  }
  ASSERT_TRUE(WaitFor([&] { return started.load() >= 1; }));
  pool.Cancel();
  EXPECT_TRUE(pool.cancelled());
  gate = true;
  const Status st = pool.Wait();
  EXPECT_EQ(st.code(), StatusCode::kCancelled);
  // Only tasks already running when Cancel came (at most one per worker) ran.
  EXPECT_LE(started.load(), 2);
  EXPECT_FALSE(pool.cancelled());
  // The pool works again after the cancelled Wait.
  std::atomic<int> after{0};
  for (int i = 0; i < 50; ++i) pool.Submit([&] { after.fetch_add(1); });
  EXPECT_TRUE(pool.Wait().ok());
  EXPECT_EQ(after.load(), 50);
}

TEST(CpuPoolTest, MoveOnlyAndMutatingTasks) {
  CpuPool pool({.threads = 2});
  std::atomic<int> sum{0};
  for (int i = 0; i < 10; ++i) {
    auto owned = std::make_unique<int>(i);
    pool.Submit([&sum, p = std::move(owned)]() mutable {
      sum.fetch_add(*p);
      p.reset();
    });
  }
  EXPECT_TRUE(pool.Wait().ok());
  EXPECT_EQ(sum.load(), 45);
}

TEST(CpuPoolTest, DestructorWaitsForTasks) {
  std::atomic<int> done{0};
  {
    CpuPool pool({.threads = 2});
    for (int i = 0; i < 8; ++i) {
      pool.Submit([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        done.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(done.load(), 8);
}

// Per-worker accumulators fed from pool tasks and combined: the result equals the exact
// statistics of 0..n-1.
TEST(PerWorkerTest, AccumulatorsPerWorkerCombineToTheWhole) {
  auto empty = StatsAccumulator::Make(DataType::kInt32);
  ASSERT_TRUE(empty.ok());
  PerWorker<StatsAccumulator> per_worker(*empty);
  CpuPool pool({.threads = 3});
  constexpr int kTasks = 1000, kPerTask = 100;
  std::vector<int32_t> values(kTasks * kPerTask);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int32_t>(i);
  std::atomic<int> failures{0};
  for (int t = 0; t < kTasks; ++t) {
    pool.Submit([&, t] {
      const auto* p = reinterpret_cast<const std::byte*>(values.data() + t * kPerTask);
      if (!per_worker.Local().Consume({p, kPerTask * sizeof(int32_t)}).ok()) failures++;
    });
  }
  ASSERT_TRUE(pool.Wait().ok());
  EXPECT_EQ(failures.load(), 0);
  int locals = 0;
  per_worker.ForEach([&](const StatsAccumulator&) { ++locals; });
  EXPECT_GE(locals, 1);
  auto total = per_worker.Combine(
      [](StatsAccumulator& into, const StatsAccumulator& from) { return into.Merge(from); });
  ASSERT_TRUE(total.ok());
  const Stats s = total->Finalize();
  const int64_t n = kTasks * kPerTask;
  EXPECT_EQ(s.count, static_cast<uint64_t>(n));
  EXPECT_EQ(Int128ToString(s.exact_sum), std::to_string(n * (n - 1) / 2));
  EXPECT_EQ(s.exact_min, 0);
  EXPECT_EQ(s.exact_max, n - 1);
  // Variance of 0..n-1 is (n^2 - 1) / 12.
  EXPECT_NEAR(s.variance(0), (static_cast<double>(n) * n - 1) / 12, 1e-9 * n * n / 12);
}

TEST(PerWorkerTest, CombineWithoutLocalsGivesTheEmptyValue) {
  auto empty = StatsAccumulator::Make(DataType::kFloat32);
  ASSERT_TRUE(empty.ok());
  PerWorker<StatsAccumulator> per_worker(*empty);
  auto total = per_worker.Combine(
      [](StatsAccumulator& into, const StatsAccumulator& from) { return into.Merge(from); });
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(total->Finalize().count, 0u);
}

}  // namespace
}  // namespace lsio::compute
