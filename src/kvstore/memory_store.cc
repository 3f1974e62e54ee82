#include "lsio/kvstore/memory_store.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>

#include "lsio/kvstore/key.h"

namespace lsio::kvstore {

namespace {

using Values = std::map<std::string, Buffer, std::less<>>;

// Keys of `values` below `prefix` ("" = all): [first, last).
std::pair<Values::const_iterator, Values::const_iterator> PrefixRange(const Values& values,
                                                                      std::string_view prefix) {
  if (prefix.empty()) return {values.begin(), values.end()};
  std::string lo(prefix);
  lo += '/';
  std::string hi(prefix);
  hi += static_cast<char>('/' + 1);
  return {values.lower_bound(lo), values.lower_bound(hi)};
}

// [offset, offset + length) of `range` in `size` bytes, or kOutOfRange.
Result<std::pair<uint64_t, uint64_t>> ResolveRange(const ByteRange& range, uint64_t size,
                                                   const std::string& where) {
  int64_t offset = range.offset;
  if (offset < 0) {
    if (static_cast<uint64_t>(-offset) > size) {
      return OutOfRangeError(where + ": " + range.ToString() + " of a " + std::to_string(size) +
                             "-byte value");
    }
    offset += static_cast<int64_t>(size);
  }
  const uint64_t start = static_cast<uint64_t>(offset);
  const uint64_t length =
      range.length == ByteRange::kToEnd ? (start <= size ? size - start : 0)
                                        : static_cast<uint64_t>(range.length);
  if (start > size || length > size - start) {
    return OutOfRangeError(where + ": " + range.ToString() + " is past the end of a " +
                           std::to_string(size) + "-byte value");
  }
  return std::make_pair(start, length);
}

class MemoryStore;

// Reads from memory, with the engine's contract: groups in order, end-of-group markers, and a
// budget charged until buffers are released (values are copied into the reader's pool, so a
// consumer's hold on them is accounted for as on any other store).
class MemoryReader final : public Reader {
 public:
  MemoryReader(std::shared_ptr<MemoryStore> store, const ReaderOptions& options);
  ~MemoryReader() override { Shutdown(); }

  std::string_view backend_name() const override { return "memory"; }

  Result<uint64_t> Submit(std::vector<ReadRequest> group) override {
    std::unique_lock lock(state_->mu);
    state_->cv.wait(lock, [&] { return state_->shutdown || !OverBudget(); });
    return EnqueueLocked(group);
  }

  Result<uint64_t> TrySubmit(std::vector<ReadRequest>& group) override {
    std::lock_guard lock(state_->mu);
    if (!state_->shutdown && OverBudget()) {
      return ResourceExhaustedError("memory reader: budget in use");
    }
    return EnqueueLocked(group);
  }

  bool Next(Completion* out) override { return NextFor(out, -1); }
  bool NextFor(Completion* out, int timeout_ms) override;

  void Shutdown() override {
    std::lock_guard lock(state_->mu);
    state_->shutdown = true;
    state_->groups.clear();
    state_->cv.notify_all();
  }

  BufferPool& pool() override { return *pool_; }
  uint64_t bytes_in_flight() const override { return pool_->stats().bytes_outstanding; }
  ReaderStats stats() const override {
    std::lock_guard lock(state_->mu);
    return state_->stats;
  }

 private:
  struct Group {
    uint64_t id = 0;
    std::deque<ReadRequest> requests;
  };
  // Shared with the pool's release hook, which may outlive the reader.
  struct State {
    mutable std::mutex mu;
    std::condition_variable cv;
    bool shutdown = false;
    uint64_t next_id = 0;
    std::deque<Group> groups;
    ReaderStats stats;
  };

  bool OverBudget() const { return pool_->stats().bytes_outstanding >= budget_; }

  Result<uint64_t> EnqueueLocked(std::vector<ReadRequest>& group) {
    if (state_->shutdown) return CancelledError("memory reader: shut down");
    Group g;
    g.id = state_->next_id++;
    for (ReadRequest& r : group) g.requests.push_back(std::move(r));
    group.clear();
    state_->groups.push_back(std::move(g));
    state_->cv.notify_all();
    return state_->groups.back().id;
  }

  Completion Perform(uint64_t group, const ReadRequest& r);

  std::shared_ptr<MemoryStore> store_;
  uint64_t budget_;
  std::shared_ptr<State> state_;
  std::unique_ptr<BufferPool> pool_;
};

class MemoryPublication;

class MemoryStore final : public Store, public std::enable_shared_from_this<MemoryStore> {
 public:
  explicit MemoryStore(MemoryStoreOptions options) : options_(std::move(options)) {}

  // No latency to hide: reads complete as they are submitted.
  uint64_t read_ahead_bytes() const override { return uint64_t{32} << 20; }

  std::string Describe(std::string_view key) const override {
    std::string s = options_.name;
    if (s.find("://") == std::string::npos) s = "memory://" + s;
    if (!key.empty()) {
      if (s.back() != '/') s += '/';
      s += key;
    }
    return s;
  }

  Result<std::unique_ptr<Reader>> MakeReader(const ReaderOptions& options) override {
    if (options.max_bytes_in_flight == 0) {
      return InvalidArgumentError("memory reader: max_bytes_in_flight must be positive");
    }
    return std::unique_ptr<Reader>(new MemoryReader(shared_from_this(), options));
  }

  // The value of `key` (a shared view: values are immutable once stored), or the fault.
  Result<std::optional<Buffer>> Get(std::string_view key) const {
    if (options_.fail_read) {
      Status st = options_.fail_read(key);
      if (!st.ok()) return st.WithContext(Describe(key));
    }
    std::lock_guard lock(mu_);
    auto it = values_.find(key);
    if (it == values_.end()) return std::optional<Buffer>();
    return std::optional<Buffer>(it->second);
  }

  Result<std::optional<Buffer>> Read(std::string_view key, ByteRange range,
                                     uint64_t max_length) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    LSIO_ASSIGN_OR_RETURN(std::optional<Buffer> value, Get(key));
    if (!value) return value;
    LSIO_ASSIGN_OR_RETURN(auto span, ResolveRange(range, value->size(), Describe(key)));
    if (span.second > max_length) {
      return ResourceExhaustedError(Describe(key) + ": " + std::to_string(span.second) +
                                    " bytes is more than the " + std::to_string(max_length) +
                                    " bytes lsio reads here");
    }
    return std::optional<Buffer>(value->Slice(span.first, span.second));
  }

  Result<std::optional<uint64_t>> Size(std::string_view key) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    std::lock_guard lock(mu_);
    auto it = values_.find(key);
    if (it == values_.end()) return std::optional<uint64_t>();
    return std::optional<uint64_t>(it->second.size());
  }

  Result<std::vector<ListEntry>> List(std::string_view prefix, ListMode mode) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(prefix));
    std::lock_guard lock(mu_);
    std::vector<ListEntry> out;
    const size_t skip = prefix.empty() ? 0 : prefix.size() + 1;
    auto [first, last] = PrefixRange(values_, prefix);
    for (auto it = first; it != last; ++it) {
      const std::string_view rel = std::string_view(it->first).substr(skip);
      const size_t slash = rel.find('/');
      if (mode == ListMode::kRecursive || slash == std::string_view::npos) {
        out.push_back(ListEntry{std::string(rel), false, it->second.size()});
        continue;
      }
      const std::string_view child = rel.substr(0, slash);
      if (out.empty() || out.back().key != child || !out.back().is_prefix) {
        out.push_back(ListEntry{std::string(child), true, 0});
      }
    }
    std::sort(out.begin(), out.end(),
              [](const ListEntry& a, const ListEntry& b) { return a.key < b.key; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const ListEntry& a, const ListEntry& b) {
                            return a.key == b.key && a.is_prefix == b.is_prefix;
                          }),
              out.end());
    return out;
  }

  Status Write(std::string_view key, std::span<const std::byte> value) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    if (key.empty()) return InvalidArgumentError(Describe("") + ": the root is not a value");
    Buffer copy = Buffer::CopyOf(value);
    std::lock_guard lock(mu_);
    values_.insert_or_assign(std::string(key), std::move(copy));
    return Status::OK();
  }

  Status Delete(std::string_view key) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    std::lock_guard lock(mu_);
    auto it = values_.find(key);
    if (it != values_.end()) values_.erase(it);
    return Status::OK();
  }

  Status DeletePrefix(std::string_view prefix) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(prefix));
    std::lock_guard lock(mu_);
    auto [first, last] = PrefixRange(values_, prefix);
    values_.erase(first, last);
    if (!prefix.empty()) {
      auto it = values_.find(prefix);
      if (it != values_.end()) values_.erase(it);
    }
    return Status::OK();
  }

  Result<std::unique_ptr<Publication>> BeginPublish(std::string_view prefix,
                                                    const PublishOptions& options) override;

  // Installs `staged` (keys relative to `prefix`) at once; see Publication::Commit.
  Status Install(const std::string& prefix, Values staged, bool replace) {
    std::lock_guard lock(mu_);
    auto [first, last] = PrefixRange(values_, prefix);
    const bool exists = first != last || (!prefix.empty() && values_.count(prefix) > 0);
    if (exists && !replace) return InvalidArgumentError(Describe(prefix) + " already exists");
    if (exists) {
      values_.erase(first, last);
      if (!prefix.empty()) values_.erase(prefix);
    }
    for (auto& [key, value] : staged) {
      values_.insert_or_assign(prefix.empty() ? key : prefix + "/" + key, std::move(value));
    }
    return Status::OK();
  }

  bool PrefixExists(std::string_view prefix) const {
    std::lock_guard lock(mu_);
    auto [first, last] = PrefixRange(values_, prefix);
    return first != last || (!prefix.empty() && values_.count(prefix) > 0);
  }

 private:
  MemoryStoreOptions options_;
  mutable std::mutex mu_;
  Values values_;
};

class MemoryPublication final : public Publication {
 public:
  MemoryPublication(std::shared_ptr<MemoryStore> store, std::string prefix, bool replace)
      : store_(std::move(store)), prefix_(std::move(prefix)), replace_(replace) {}

  Status Write(std::string_view key, std::span<const std::byte> value) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    if (key.empty()) return InvalidArgumentError("cannot write the publication's prefix itself");
    if (committed_) return InvalidArgumentError("already published");
    staged_.insert_or_assign(std::string(key), Buffer::CopyOf(value));
    return Status::OK();
  }

  Status Commit() override {
    if (committed_) return Status::OK();
    Status st = store_->Install(prefix_, std::move(staged_), replace_);
    staged_.clear();
    committed_ = st.ok();
    return st;
  }

 private:
  std::shared_ptr<MemoryStore> store_;
  std::string prefix_;
  bool replace_;
  bool committed_ = false;
  Values staged_;
};

Result<std::unique_ptr<Publication>> MemoryStore::BeginPublish(std::string_view prefix,
                                                               const PublishOptions& options) {
  LSIO_RETURN_IF_ERROR(ValidateKey(prefix));
  if (!options.replace && PrefixExists(prefix)) {
    return InvalidArgumentError(Describe(prefix) + " already exists");
  }
  return std::unique_ptr<Publication>(
      new MemoryPublication(shared_from_this(), std::string(prefix), options.replace));
}

MemoryReader::MemoryReader(std::shared_ptr<MemoryStore> store, const ReaderOptions& options)
    : store_(std::move(store)),
      budget_(options.max_bytes_in_flight),
      state_(std::make_shared<State>()) {
  BufferPoolOptions po;
  po.max_cached_bytes = options.max_bytes_in_flight;
  std::weak_ptr<State> weak = state_;
  po.on_release = [weak] {
    if (std::shared_ptr<State> s = weak.lock()) {
      std::lock_guard lock(s->mu);
      s->cv.notify_all();
    }
  };
  pool_ = std::make_unique<BufferPool>(po);
}

Completion MemoryReader::Perform(uint64_t group, const ReadRequest& r) {
  Completion c;
  c.kind = Completion::Kind::kRead;
  c.group = group;
  c.tag = r.tag;
  const std::string where = store_->Describe(r.key);
  Status valid = ValidateKey(r.key);
  if (valid.ok() && r.key.empty()) valid = InvalidArgumentError("the store's root is not a value");
  if (!valid.ok()) {
    c.status = valid;
    return c;
  }
  Result<std::optional<Buffer>> value = store_->Get(r.key);
  if (!value.ok()) {
    c.status = value.status();
    return c;
  }
  if (!*value) {
    c.status = NotFoundError(where + ": no such key");
    return c;
  }
  const Buffer& v = **value;
  if (r.value_size && v.size() != *r.value_size) {
    c.status = OutOfRangeError(where + ": the value has " + std::to_string(v.size()) +
                               " bytes, expected " + std::to_string(*r.value_size));
    return c;
  }
  Result<std::pair<uint64_t, uint64_t>> span = ResolveRange(r.range, v.size(), where);
  if (!span.ok()) {
    c.status = span.status();
    return c;
  }
  if (span->second > r.max_length) {
    c.status = OutOfRangeError(where + ": " + std::to_string(span->second) +
                               " bytes is more than the " + std::to_string(r.max_length) +
                               " allowed for this read");
    return c;
  }
  Result<Buffer> out = pool_->Acquire(span->second);
  if (!out.ok()) {
    c.status = out.status();
    return c;
  }
  if (span->second > 0) std::memcpy(out->mutable_data(), v.data() + span->first, span->second);
  c.data = std::move(*out);
  return c;
}

bool MemoryReader::NextFor(Completion* out, int timeout_ms) {
  std::unique_lock lock(state_->mu);
  auto ready = [&] {
    if (state_->shutdown || state_->groups.empty()) return true;
    // A read is performed only under budget, or when nothing is held at all (so a read larger
    // than the budget still makes progress); an end-of-group marker needs no budget.
    return state_->groups.front().requests.empty() || !OverBudget() ||
           pool_->stats().bytes_outstanding == 0;
  };
  if (timeout_ms < 0) {
    state_->cv.wait(lock, ready);
  } else if (!state_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready)) {
    return false;
  }
  if (state_->shutdown || state_->groups.empty()) return false;
  Group& g = state_->groups.front();
  if (g.requests.empty()) {
    out->kind = Completion::Kind::kEndOfGroup;
    out->group = g.id;
    out->tag = 0;
    out->status = Status::OK();
    out->data = Buffer();
    state_->groups.pop_front();
    state_->cv.notify_all();
    return true;
  }
  ReadRequest r = std::move(g.requests.front());
  g.requests.pop_front();
  const uint64_t id = g.id;
  lock.unlock();
  *out = Perform(id, r);
  lock.lock();
  ++state_->stats.requests;
  state_->stats.bytes_read += out->data.size();
  state_->stats.bytes_device += out->data.size();
  return true;
}

}  // namespace

std::shared_ptr<Store> MakeMemoryStore(MemoryStoreOptions options) {
  return std::make_shared<MemoryStore>(std::move(options));
}

}  // namespace lsio::kvstore
