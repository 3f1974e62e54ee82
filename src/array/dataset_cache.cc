#include "lsio/array/dataset_cache.h"

#include <sstream>

#include "lsio/base/json_util.h"

namespace lsio::array {

namespace {

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

std::string ListText(const std::vector<std::string>& names) {
  std::string s = "(";
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s + ")";
}

}  // namespace

DatasetCache::DatasetCache(size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {}

DatasetCache& DatasetCache::Default() {
  // Never destroyed: handles may be released from Python after static destruction began.
  static DatasetCache* cache = new DatasetCache(64);
  return *cache;
}

void DatasetCache::TouchLocked(Entry& e, const std::string& key) {
  lru_.erase(e.lru);
  lru_.push_front(key);
  e.lru = lru_.begin();
}

Result<std::shared_ptr<const Dataset>> DatasetCache::GetOrOpen(const std::string& key, Mode mode,
                                                               const Dataset* stale,
                                                               const DatasetOpener& open) {
  // Whether what is cached now serves this call.
  auto usable = [&](const Entry& e) {
    if (!e.dataset) return false;
    if (mode == Mode::kRefresh) return e.dataset.get() != stale;
    return mode == Mode::kGet;
  };
  std::shared_ptr<std::mutex> opening;
  const Dataset* before = nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      lru_.push_front(key);
      it = entries_.emplace(key, Entry{nullptr, std::make_shared<std::mutex>(), lru_.begin()})
               .first;
    }
    if (usable(it->second)) {
      TouchLocked(it->second, key);
      return it->second.dataset;
    }
    opening = it->second.opening;
    before = it->second.dataset.get();
  }
  std::lock_guard open_lock(*opening);
  {
    // Another caller may have opened it while this one waited.
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.dataset && it->second.dataset.get() != before &&
        it->second.dataset.get() != stale) {
      TouchLocked(it->second, key);
      return it->second.dataset;
    }
  }
  Result<std::shared_ptr<const Dataset>> opened = open();
  std::lock_guard lock(mu_);
  ++opens_;
  auto it = entries_.find(key);
  if (!opened.ok()) {
    // Drop what failed to re-open (a stale dataset), keep what another caller put there.
    if (it != entries_.end() && (!it->second.dataset || it->second.dataset.get() == before)) {
      lru_.erase(it->second.lru);
      entries_.erase(it);
    }
    return opened.status();
  }
  if (it == entries_.end()) {
    lru_.push_front(key);
    it = entries_.emplace(key, Entry{nullptr, opening, lru_.begin()}).first;
  }
  it->second.dataset = *opened;
  TouchLocked(it->second, key);
  // Drop the least recently used datasets beyond capacity (handles keep theirs alive).
  while (entries_.size() > capacity_) {
    const std::string victim = lru_.back();
    if (victim == key) break;
    entries_.erase(victim);
    lru_.pop_back();
  }
  return *opened;
}

Result<std::shared_ptr<const Dataset>> DatasetCache::Get(const std::string& key,
                                                         const DatasetOpener& open) {
  return GetOrOpen(key, Mode::kGet, nullptr, open);
}

Result<std::shared_ptr<const Dataset>> DatasetCache::Refresh(const std::string& key,
                                                             const Dataset* stale,
                                                             const DatasetOpener& open) {
  return GetOrOpen(key, Mode::kRefresh, stale, open);
}

Result<std::shared_ptr<const Dataset>> DatasetCache::Reload(const std::string& key,
                                                            const DatasetOpener& open) {
  return GetOrOpen(key, Mode::kReload, nullptr, open);
}

size_t DatasetCache::size() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [key, e] : entries_) n += e.dataset ? 1 : 0;
  return n;
}

uint64_t DatasetCache::opens() const {
  std::lock_guard lock(mu_);
  return opens_;
}

void DatasetCache::Clear() {
  std::lock_guard lock(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    // An entry whose opener runs stays (its caller fills it).
    if (it->second.dataset) {
      lru_.erase(it->second.lru);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

Status CheckSameArray(const ArrayInfo& expected, const ArrayInfo& now, const std::string& label) {
  auto changed = [&](const std::string& what) {
    return ChangedError(label + " changed since it was opened (" + what +
                        "); open the dataset again");
  };
  if (now.shape != expected.shape) {
    return changed("shape " + ShapeText(expected.shape) + " -> " + ShapeText(now.shape));
  }
  if (now.element.kind != expected.element.kind ||
      now.element.storage != expected.element.storage ||
      now.element.item_size != expected.element.item_size ||
      now.element.time_unit != expected.element.time_unit ||
      now.element.time_scale != expected.element.time_scale) {
    return changed("dtype " + expected.element.name + " -> " + now.element.name);
  }
  if (now.dims != expected.dims) {
    return changed("dimensions " + ListText(expected.dims) + " -> " + ListText(now.dims));
  }
  if (now.fill_value != expected.fill_value || now.mask_value != expected.mask_value) {
    return changed("fill value");
  }
  if (!internal::SameJson(now.attributes, expected.attributes)) return changed("attributes");
  return Status::OK();
}

ArrayHandle::ArrayHandle(DatasetCache& cache, std::string key, DatasetOpener open,
                         ArrayInfo expected, Pinned pinned)
    : cache_(cache),
      key_(std::move(key)),
      open_(std::move(open)),
      expected_(std::move(expected)),
      pinned_(std::move(pinned)) {}

Result<ArrayHandle::Pinned> ArrayHandle::Find(const std::shared_ptr<const Dataset>& dataset) const {
  const std::string label = "array '" + expected_.path + "' of " + dataset->location();
  Result<const ArraySource*> found = dataset->FindArray(expected_.path);
  if (!found.ok()) {
    return ChangedError(label + " is no longer there (it was when opened); open the dataset "
                                "again");
  }
  LSIO_RETURN_IF_ERROR(CheckSameArray(expected_, (*found)->info(), label));
  return Pinned{dataset, *found};
}

Result<std::shared_ptr<ArrayHandle>> ArrayHandle::Make(DatasetCache& cache, std::string key,
                                                       DatasetOpener open,
                                                       std::shared_ptr<const Dataset> dataset,
                                                       std::string_view path) {
  LSIO_ASSIGN_OR_RETURN(const ArraySource* array, dataset->FindArray(path));
  ArrayInfo expected = array->info();
  return std::shared_ptr<ArrayHandle>(new ArrayHandle(cache, std::move(key), std::move(open),
                                                      std::move(expected),
                                                      Pinned{std::move(dataset), array}));
}

Result<std::shared_ptr<ArrayHandle>> ArrayHandle::Reopen(DatasetCache& cache, std::string key,
                                                         DatasetOpener open, ArrayInfo expected) {
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const Dataset> dataset, cache.Get(key, open));
  std::shared_ptr<ArrayHandle> handle(
      new ArrayHandle(cache, std::move(key), std::move(open), std::move(expected), {}));
  Result<Pinned> pinned = handle->Find(dataset);
  bool current = false;
  if (pinned.ok()) {
    LSIO_ASSIGN_OR_RETURN(current, pinned->array->StillCurrent());
  }
  if (!current) {
    // The cached dataset may predate a rewrite of the store: look at the store as it is.
    LSIO_ASSIGN_OR_RETURN(dataset, cache.Refresh(handle->key_, dataset.get(), handle->open_));
    LSIO_ASSIGN_OR_RETURN(pinned, handle->Find(dataset));
  }
  handle->pinned_ = *std::move(pinned);
  return handle;
}

Result<ArrayHandle::Pinned> ArrayHandle::Current() {
  Pinned pinned = Last();
  LSIO_ASSIGN_OR_RETURN(bool current, pinned.array->StillCurrent());
  if (current) return pinned;
  // What the cache holds may be newer than this handle's dataset and still older than the
  // store (another handle refreshed it before the store changed again): check it too, and
  // open anew when it is stale. A store rewritten faster than it can be opened gives up.
  std::shared_ptr<const Dataset> stale = pinned.dataset;
  for (int attempt = 0;; ++attempt) {
    LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const Dataset> dataset,
                          cache_.Refresh(key_, stale.get(), open_));
    Result<Pinned> found = Find(dataset);
    if (found.ok()) {
      LSIO_ASSIGN_OR_RETURN(current, found->array->StillCurrent());
      if (current) {
        std::lock_guard lock(mu_);
        pinned_ = *found;
        return found;
      }
    }
    if (attempt == 2) {
      if (!found.ok()) return found.status();
      return ChangedError("array '" + expected_.path + "' of " + dataset->location() +
                          " keeps changing while it is opened");
    }
    stale = std::move(dataset);
  }
}

ArrayHandle::Pinned ArrayHandle::Last() const {
  std::lock_guard lock(mu_);
  return pinned_;
}

}  // namespace lsio::array
