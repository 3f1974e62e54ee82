#pragma once

// CpuPool: the CPU executor the scheduler runs decode-then-reduce tasks on, a thin wrapper over
// a oneTBB task_arena (its own thread count) and task_group (to wait for what was submitted).
//
// Submit never blocks and may be called from any thread: the IO thread hands over each chunk as
// its read completes, and tasks may submit more tasks. Wait blocks until everything submitted so
// far has run, and the waiting thread helps run tasks meanwhile. Cancel skips every task that
// has not started yet; running tasks can poll cancelled() to stop early.
//
// Tasks must not throw (the library reports errors through Status, so a task records its Status
// somewhere its submitter can see): a task that throws terminates the process.
//
// Thread safety: every method is thread-safe except the destructor, which waits for the tasks.
// Neither Wait nor the destructor may be called from one of the pool's own tasks (the task would
// wait for itself).
//
// One pool per process is the intended use: a pool with more threads than oneTBB's default
// raises oneTBB's process-wide thread limit while it lives (tbb::global_control, whose smallest
// value wins when several are alive).

#include <atomic>
#include <optional>
#include <type_traits>
#include <utility>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include "lsio/base/status.h"
#include "lsio/base/tsan.h"

namespace lsio::compute {

namespace internal {
// oneTBB calls a task through a const reference; tasks that mutate their captures (move a
// Buffer out, say) are kept in a mutable member.
template <typename F>
struct PoolTask {
  mutable F body;
  void operator()() const noexcept { body(); }
};
}  // namespace internal

struct CpuPoolOptions {
  // Worker threads that run tasks; 0 means one per CPU this process may run on.
  int threads = 0;
};

class CpuPool {
 public:
  explicit CpuPool(CpuPoolOptions options = {});
  ~CpuPool();
  CpuPool(const CpuPool&) = delete;
  CpuPool& operator=(const CpuPool&) = delete;

  int threads() const { return threads_; }

  // Schedules task() to run on a worker and returns at once.
  template <typename F>
  void Submit(F&& task) {
    static_assert(std::is_invocable_r_v<void, std::decay_t<F>&>, "a task is a void() callable");
    // TbbTask: libtbb is not built with TSan (lsio/base/tsan.h); a no-op otherwise.
    TsanTbbAcquire();
    arena_.enqueue(group_.defer(
        TbbTask<internal::PoolTask<std::decay_t<F>>>(internal::PoolTask<std::decay_t<F>>{
            std::forward<F>(task)})));
  }

  // Blocks until every task submitted before the call (and every task those submit) has run or
  // been skipped by Cancel. Returns Cancelled if Cancel was called since the previous Wait, and
  // re-arms the pool for new work either way.
  Status Wait();

  // Skips the tasks that have not started; running tasks see cancelled() == true.
  void Cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  int threads_;
  // oneTBB starts hardware_concurrency - 1 worker threads process-wide unless told otherwise;
  // a pool asking for more raises the limit while it lives.
  std::optional<tbb::global_control> thread_limit_;
  tbb::task_arena arena_;
  tbb::task_group group_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace lsio::compute
