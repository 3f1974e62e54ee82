#pragma once

// PerWorker<T>: one accumulator per thread, so that tasks never merge under a shared lock.
//
//   PerWorker<StatsAccumulator> per_worker(empty);      // `empty` is copied lazily per thread
//   pool.Submit([&] { ...; (void)per_worker.Local().Consume(chunk, box); });
//   ...
//   LSIO_RETURN_IF_ERROR(pool.Wait());
//   LSIO_ASSIGN_OR_RETURN(StatsAccumulator total,
//                         per_worker.Combine([](StatsAccumulator& into, const StatsAccumulator&
//                                               from) { return into.Merge(from); }));
//
// Thread safety: Local() may be called concurrently from any threads; it returns the calling
// thread's own copy. Combine and ForEach must not run concurrently with Local().

#include <utility>
#include <vector>

#include <oneapi/tbb/enumerable_thread_specific.h>

#include "lsio/base/result.h"
#include "lsio/base/status.h"

namespace lsio::compute {

template <typename T>
class PerWorker {
 public:
  // Every thread's copy starts as a copy of `empty`.
  explicit PerWorker(const T& empty) : empty_(empty), locals_(empty) {}

  // The calling thread's copy.
  T& Local() { return locals_.local(); }

  // Merges every thread's copy into one, pairwise in a balanced tree (so rounding errors grow
  // with the log of the number of threads). `merge(T& into, const T& from)` returns Status; the
  // first error is returned. With no thread copies, the result is `empty`.
  template <typename MergeFn>
  Result<T> Combine(MergeFn merge) const {
    std::vector<const T*> parts;
    for (const T& t : locals_) parts.push_back(&t);
    if (parts.empty()) return empty_;
    std::vector<T> level;
    level.reserve(parts.size());
    for (const T* p : parts) level.push_back(*p);
    while (level.size() > 1) {
      std::vector<T> next;
      next.reserve((level.size() + 1) / 2);
      for (size_t i = 0; i + 1 < level.size(); i += 2) {
        LSIO_RETURN_IF_ERROR(merge(level[i], level[i + 1]));
        next.push_back(std::move(level[i]));
      }
      if (level.size() % 2 == 1) next.push_back(std::move(level.back()));
      level = std::move(next);
    }
    return std::move(level.front());
  }

  // Calls fn(const T&) for every thread's copy.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const T& t : locals_) fn(t);
  }

 private:
  T empty_;
  tbb::enumerable_thread_specific<T> locals_;
};

}  // namespace lsio::compute
