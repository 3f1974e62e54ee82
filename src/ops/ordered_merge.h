#pragma once

// OrderedMerge<T>: merges per-chunk partial results in chunk order, whatever order the chunks
// finish in, so that floating-point results have the same bits on every run (any IO backend,
// any number of threads). Parts are combined pairwise as a binary counter does (the k-th level
// holds the merge of 2^k consecutive parts), so rounding error grows with log(n), as in a
// balanced tree.
//
// Memory: parts that arrive ahead of their turn wait in a map; the scheduler's window of chunks
// in flight bounds how many.
//
// T needs a copy constructor and `Status Merge(const T& later)`.
//
// Thread safety: Add may be called concurrently; Finish after the last Add.

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "lsio/base/result.h"

namespace lsio::ops::internal {

template <typename T>
class OrderedMerge {
 public:
  explicit OrderedMerge(T empty) : empty_(std::move(empty)) {}

  // Adds the part with ordinal `ordinal` (each ordinal exactly once).
  Status Add(uint64_t ordinal, T part) {
    std::lock_guard lock(mu_);
    if (ordinal < next_ || pending_.count(ordinal)) {
      return InternalError("chunk " + std::to_string(ordinal) + " was accounted for twice");
    }
    pending_.emplace(ordinal, std::move(part));
    for (auto it = pending_.begin(); it != pending_.end() && it->first == next_;
         it = pending_.begin()) {
      LSIO_RETURN_IF_ERROR(Push(std::move(it->second)));
      pending_.erase(it);
      ++next_;
    }
    return Status::OK();
  }

  // The merge of parts 0 .. n-1, where n must be the number of parts added.
  Result<T> Finish(uint64_t n) {
    std::lock_guard lock(mu_);
    if (next_ != n || !pending_.empty()) {
      return InternalError("ordered merge: " + std::to_string(next_) + " of " +
                           std::to_string(n) + " chunks accounted for");
    }
    if (levels_.empty()) return empty_;
    T result = std::move(levels_.back().second);
    for (size_t i = levels_.size() - 1; i-- > 0;) {
      T older = std::move(levels_[i].second);
      LSIO_RETURN_IF_ERROR(older.Merge(result));
      result = std::move(older);
    }
    levels_.clear();
    return result;
  }

 private:
  Status Push(T part) {
    levels_.emplace_back(1, std::move(part));
    while (levels_.size() >= 2 && levels_[levels_.size() - 2].first == levels_.back().first) {
      auto newer = std::move(levels_.back());
      levels_.pop_back();
      LSIO_RETURN_IF_ERROR(levels_.back().second.Merge(newer.second));
      levels_.back().first *= 2;
    }
    return Status::OK();
  }

  T empty_;
  std::mutex mu_;
  uint64_t next_ = 0;
  std::map<uint64_t, T> pending_;
  std::vector<std::pair<uint64_t, T>> levels_;  // (parts merged, their merge), oldest first
};

}  // namespace lsio::ops::internal
