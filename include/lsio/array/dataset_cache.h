#pragma once

// Opened datasets shared by key (location and open options), so that a process opens and parses
// a dataset once however many handles on it are made: lsio's Python handles unpickled on a dask
// worker, one per task, all find the dataset the first one opened. A dataset whose store changed
// under it (ArraySource::StillCurrent) is opened again in place, once, whoever notices first.
//
//   DatasetCache::Default()   the process-wide cache (bounded, least recently used dropped).
//   ArrayHandle               one array of a cached dataset by path, re-checked before use:
//                             what its user was told (shape, element type, dims, attributes,
//                             fill value) must still hold after a re-open, or reads fail with
//                             kChanged rather than return data of another array.
//
// The format is not known here: the caller passes an opener (format::OpenDataset on a context).
//
// Thread safety: every method is thread-safe; an opener may run concurrently for different keys
// and runs at most once at a time per key.

#include <cstddef>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "lsio/array/dataset.h"
#include "lsio/array/info.h"
#include "lsio/base/result.h"

namespace lsio::array {

using DatasetOpener = std::function<Result<std::shared_ptr<const Dataset>>()>;

class DatasetCache {
 public:
  explicit DatasetCache(size_t capacity = 64);
  DatasetCache(const DatasetCache&) = delete;
  DatasetCache& operator=(const DatasetCache&) = delete;

  // The process-wide cache.
  static DatasetCache& Default();

  // The dataset cached under `key`, or `open()`'s, cached. Callers racing on one key open once.
  // An opener's error is returned and nothing is cached.
  Result<std::shared_ptr<const Dataset>> Get(const std::string& key, const DatasetOpener& open);
  // The dataset under `key` after `stale` was found out of date: opened again unless another
  // caller already replaced `stale` (then that one is returned). On an error `stale` is dropped
  // from the cache.
  Result<std::shared_ptr<const Dataset>> Refresh(const std::string& key, const Dataset* stale,
                                                 const DatasetOpener& open);
  // Opens the dataset anew and caches it in place of what was under `key`: what an explicit
  // open by a user does (they expect the store as it is now, not as this process first saw it).
  Result<std::shared_ptr<const Dataset>> Reload(const std::string& key, const DatasetOpener& open);
  // Datasets cached, and how many times an opener ran (tests).
  size_t size() const;
  uint64_t opens() const;
  void Clear();

 private:
  struct Entry {
    std::shared_ptr<const Dataset> dataset;
    std::shared_ptr<std::mutex> opening;  // held while this key's opener runs
    std::list<std::string>::iterator lru;
  };
  enum class Mode : unsigned char { kGet, kRefresh, kReload };
  Result<std::shared_ptr<const Dataset>> GetOrOpen(const std::string& key, Mode mode,
                                                   const Dataset* stale, const DatasetOpener& open);
  void TouchLocked(Entry& e, const std::string& key);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently used first
  uint64_t opens_ = 0;
};

// kChanged naming `label` and the first difference when `now` is not the array `expected`
// describes for a reader: shape, element type, dims, attributes or fill value differ (chunking
// and encoding may change: the source decodes the new chunks with the new metadata).
Status CheckSameArray(const ArrayInfo& expected, const ArrayInfo& now, const std::string& label);

// One array of a cached dataset, found again after the dataset is re-opened.
class ArrayHandle {
 public:
  // The array at `path` of `dataset`, which the caller opened or got from `cache` under `key`.
  // Errors: kNotFound for a path that is not an array there.
  static Result<std::shared_ptr<ArrayHandle>> Make(DatasetCache& cache, std::string key,
                                                   DatasetOpener open,
                                                   std::shared_ptr<const Dataset> dataset,
                                                   std::string_view path);
  // A handle rebuilt elsewhere (unpickled) from what it described: the dataset under `key` from
  // the cache (opened once per process), re-opened if the array is not current there; the array
  // at expected.path must be the one `expected` describes (CheckSameArray), or kChanged.
  static Result<std::shared_ptr<ArrayHandle>> Reopen(DatasetCache& cache, std::string key,
                                                     DatasetOpener open, ArrayInfo expected);

  // The dataset and array to read now: when the array is no longer current in its store, the
  // dataset is re-opened (through the cache: a dataset another handle re-opened is used when it
  // is itself current) and the array found again; kChanged when it is gone or no longer the
  // array this handle describes; the re-open's errors otherwise.
  struct Pinned {
    std::shared_ptr<const Dataset> dataset;
    const ArraySource* array = nullptr;
  };
  Result<Pinned> Current();
  // The same without the check (what was current at the last check).
  Pinned Last() const;

  // What the handle describes: the array as first opened.
  const ArrayInfo& info() const { return expected_; }
  const std::string& key() const { return key_; }

 private:
  ArrayHandle(DatasetCache& cache, std::string key, DatasetOpener open, ArrayInfo expected,
              Pinned pinned);
  Result<Pinned> Find(const std::shared_ptr<const Dataset>& dataset) const;

  DatasetCache& cache_;
  const std::string key_;
  const DatasetOpener open_;
  const ArrayInfo expected_;
  mutable std::mutex mu_;
  Pinned pinned_;
};

}  // namespace lsio::array
