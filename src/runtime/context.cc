#include "lsio/runtime/context.h"

#include <cstdio>

namespace lsio::runtime {

namespace {

// At most this many idle readers are kept (each holds IO threads and a buffer cache).
constexpr size_t kMaxIdleReaders = 4;

std::string StoreKey(std::string_view location, const kvstore::OpenOptions& options) {
  std::string key(location);
  key += '\n';
  key += std::to_string(static_cast<int>(options.io_backend));
  for (const auto& [name, value] : options.storage_options) {
    key += '\n';
    key += name;
    key += '=';
    key += value;
  }
  return key;
}

}  // namespace

ReaderLease& ReaderLease::operator=(ReaderLease&& other) noexcept {
  if (this != &other) {
    Return();
    owner_ = std::move(other.owner_);
    store_ = std::move(other.store_);
    budget_ = other.budget_;
    reader_ = std::move(other.reader_);
    discard_ = other.discard_;
  }
  return *this;
}

ReaderLease::~ReaderLease() { Return(); }

void ReaderLease::Return() {
  if (!reader_) return;
  std::shared_ptr<Context> owner = owner_.lock();
  // A reader whose buffers are still held elsewhere (results handed to a caller) has that much
  // less budget: reusing it could stall the next run, so it is not kept.
  if (!owner || discard_ || reader_->bytes_in_flight() > 0) {
    reader_.reset();
    return;
  }
  owner->ReturnReader(Context::IdleReader{std::move(store_), budget_, std::move(reader_)});
}

Context::Context(const ContextOptions& options)
    : options_(options),
      cpu_(std::make_unique<compute::CpuPool>(compute::CpuPoolOptions{options.threads})) {}

Context::~Context() = default;

Result<std::shared_ptr<Context>> Context::Make(const ContextOptions& options) {
  if (options.threads < 0 || options.threads > 1024) {
    return InvalidArgumentError("threads must be between 0 (one per core) and 1024, got " +
                                std::to_string(options.threads));
  }
  if (options.max_memory == 0) return InvalidArgumentError("the memory budget must be positive");
  return std::shared_ptr<Context>(new Context(options));
}

std::shared_ptr<Context> Context::Default() {
  static std::shared_ptr<Context>* context = [] {
    return new std::shared_ptr<Context>(new Context(ContextOptions{}));
  }();
  return *context;
}

Result<std::shared_ptr<kvstore::Store>> Context::OpenStore(std::string_view location,
                                                           const kvstore::OpenOptions& options) {
  kvstore::OpenOptions o = options;
  if (o.io_backend == io::Backend::kAuto) o.io_backend = options_.io_backend;
  const std::string key = StoreKey(location, o);
  {
    std::lock_guard lock(mu_);
    auto it = stores_.find(key);
    if (it != stores_.end()) return it->second;
  }
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<kvstore::Store> store, kvstore::OpenStore(location, o));
  std::lock_guard lock(mu_);
  // Another thread may have opened it meanwhile: keep the first.
  auto [it, inserted] = stores_.emplace(key, store);
  return it->second;
}

Result<ReaderLease> Context::AcquireReader(const std::shared_ptr<kvstore::Store>& store,
                                           const kvstore::ReaderOptions& options) {
  ReaderLease lease;
  lease.owner_ = weak_from_this();
  lease.store_ = store;
  lease.budget_ = options.max_bytes_in_flight;
  {
    std::lock_guard lock(mu_);
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      const bool same_store = !it->store.owner_before(store) && !store.owner_before(it->store) &&
                              !it->store.expired();
      if (same_store && it->budget == options.max_bytes_in_flight) {
        lease.reader_ = std::move(it->reader);
        idle_.erase(it);
        return lease;
      }
    }
  }
  LSIO_ASSIGN_OR_RETURN(lease.reader_, store->MakeReader(options));
  return lease;
}

void Context::ReturnReader(IdleReader idle) {
  std::vector<IdleReader> evicted;  // destroyed outside the lock (joins IO threads)
  std::lock_guard lock(mu_);
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (it->store.expired()) {
      evicted.push_back(std::move(*it));
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  if (idle_.size() >= kMaxIdleReaders) {
    evicted.push_back(std::move(idle_.front()));
    idle_.erase(idle_.begin());
  }
  idle_.push_back(std::move(idle));
}

void Context::ReleaseIdleReaders() {
  std::vector<IdleReader> released;  // destroyed outside the lock (joins IO threads)
  std::lock_guard lock(mu_);
  released.swap(idle_);
}

size_t Context::idle_readers() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

Result<sched::SchedulerStats> Context::Run(const std::shared_ptr<kvstore::Store>& store,
                                           sched::TaskSource& source,
                                           sched::SchedulerOptions options) {
  kvstore::ReaderOptions ro;
  ro.max_bytes_in_flight = options.max_bytes_in_flight;
  LSIO_ASSIGN_OR_RETURN(ReaderLease reader, AcquireReader(store, ro));
  if (options.threads <= 0 || options.threads > cpu_->threads()) {
    options.threads = cpu_->threads();
  }
  Result<sched::SchedulerStats> stats = sched::Run(source, *reader, *cpu_, options);
  if (!stats.ok()) reader.Discard();
  return stats;
}

}  // namespace lsio::runtime
