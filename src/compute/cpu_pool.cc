#include "lsio/compute/cpu_pool.h"

#include <algorithm>

#include <oneapi/tbb/info.h>

#include "lsio/base/tsan.h"

namespace lsio::compute {

namespace {

int ResolveThreads(int requested) {
  if (requested > 0) return requested;
  // default_concurrency() honours the process's CPU affinity mask, unlike
  // std::thread::hardware_concurrency().
  return std::max(1, tbb::info::default_concurrency());
}

}  // namespace

CpuPool::CpuPool(CpuPoolOptions options)
    // One arena slot beyond the workers is reserved for the thread that calls Wait, so that it
    // can help instead of blocking idle.
    : threads_(ResolveThreads(options.threads)), arena_(threads_ + 1, 1) {
  // The process-wide default allows default_concurrency() threads in all, the calling thread
  // included; the pool wants threads_ workers besides whoever waits.
  if (threads_ + 1 > tbb::info::default_concurrency()) {
    thread_limit_.emplace(tbb::global_control::max_allowed_parallelism,
                          static_cast<size_t>(threads_) + 1);
  }
}

CpuPool::~CpuPool() { (void)Wait(); }

Status CpuPool::Wait() {
  arena_.execute([this] { group_.wait(); });
  TsanTbbAcquire();  // the tasks' ends, inside libtbb (lsio/base/tsan.h)
  // group_.wait() resets the group's cancellation, so new tasks run again after it.
  if (cancelled_.exchange(false, std::memory_order_relaxed)) {
    return CancelledError("CPU tasks were cancelled");
  }
  return Status::OK();
}

void CpuPool::Cancel() {
  // The group first, so that a task which stops because it saw cancelled() frees its worker
  // only for tasks that are already being skipped.
  group_.cancel();
  cancelled_.store(true, std::memory_order_relaxed);
}

}  // namespace lsio::compute
