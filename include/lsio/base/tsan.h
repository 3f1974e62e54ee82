#pragma once

// ThreadSanitizer annotations for hand-offs through code TSan cannot see.
//
// Debian's libtbb is not built with -fsanitize=thread, so the synchronisation inside
// task_arena::enqueue and task_group::wait is invisible to TSan: it would report every task's
// captured state as a race between the thread that submits the task and the worker that runs it.
// The wrappers below (__tsan_release / __tsan_acquire around every functor handed to oneTBB)
// restore those edges; they are no-ops unless built with -fsanitize=thread (LSIO_TSAN is 1).

#if defined(__SANITIZE_THREAD__)  // gcc
#define LSIO_TSAN 1
#elif defined(__has_feature)  // clang
#if __has_feature(thread_sanitizer)
#define LSIO_TSAN 1
#endif
#endif
#ifndef LSIO_TSAN
#define LSIO_TSAN 0
#endif

#include <utility>

#if LSIO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace lsio {

#if LSIO_TSAN
namespace internal {
// The one address every oneTBB hand-off is annotated on. One address, not one per task: the
// inlined oneTBB templates write a task object before the functor can learn its address, and
// libtbb recycles task memory between threads in its own pool, so per-task addresses cannot
// cover those accesses. The cost is that TSan treats each task as ordered after every task that
// finished before it was submitted or started, so it misses races between such tasks.
inline char tbb_handoff;
}  // namespace internal

// Wraps a functor given to task_arena::enqueue or task_group::defer/run so that TSan sees the
// hand-offs that happen inside the uninstrumented libtbb: submitting thread -> worker (released
// when oneTBB moves the functor into its task object, acquired before the body runs), and
// worker -> whoever waits or reuses the task's memory (released when the body returns and when
// oneTBB destroys the functor; acquired by TsanTbbAcquire()).
template <typename F>
class TbbTask {
 public:
  explicit TbbTask(F f) : f_(std::move(f)) {}
  TbbTask(TbbTask&& other) : f_(std::move(other.f_)) { __tsan_release(&internal::tbb_handoff); }
  ~TbbTask() { __tsan_release(&internal::tbb_handoff); }
  void operator()() const {
    __tsan_acquire(&internal::tbb_handoff);
    f_();
    __tsan_release(&internal::tbb_handoff);
  }

 private:
  F f_;
};
// Call before handing a task to oneTBB and after waiting for tasks through oneTBB.
inline void TsanTbbAcquire() { __tsan_acquire(&internal::tbb_handoff); }
template <typename F>
TbbTask<F> MakeTbbTask(F f) {
  return TbbTask<F>(std::move(f));
}
#else
template <typename F>
using TbbTask = F;
inline void TsanTbbAcquire() {}
template <typename F>
F MakeTbbTask(F f) {
  return f;
}
#endif

}  // namespace lsio
