#pragma once

// The runtime Context: what a process shares across calls into lsio (TensorStore's Context).
// It owns the one CPU pool every operation runs its chunk work on, the stores opened by
// location, idle readers (IO engines with their rings, threads and buffer pools) kept for the
// next run, and the default memory budget. Created once (the CLI: once per command; Python: once
// per process, lazily through Default()) and passed down, so that a call into lsio costs no
// thread, ring or store creation after the first.
//
// Thread safety: every method is thread-safe. Runs on one Context may overlap; each leases its
// own reader, and their CPU work shares the pool.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/result.h"
#include "lsio/compute/cpu_pool.h"
#include "lsio/io/engine.h"
#include "lsio/kvstore/open.h"
#include "lsio/kvstore/store.h"
#include "lsio/sched/scheduler.h"

namespace lsio::runtime {

struct ContextOptions {
  // CPU pool workers; 0: one per core this process may run on.
  int threads = 0;
  // Local files: the IO backend (kAuto also honours LSIO_IO).
  io::Backend io_backend = io::Backend::kAuto;
  // Default memory budget of a run (data in flight, decoded chunks, accumulators).
  uint64_t max_memory = uint64_t{256} << 20;
};

class Context;

// A reader on loan from the Context; goes back to its idle list when the lease ends, unless the
// run shut it down (an error or a cancellation) or buffers it handed out are still held, in
// which case it is destroyed (the buffers stay valid).
class ReaderLease {
 public:
  ReaderLease() = default;
  ReaderLease(ReaderLease&&) noexcept = default;
  ReaderLease& operator=(ReaderLease&&) noexcept;
  ~ReaderLease();

  kvstore::Reader* get() const { return reader_.get(); }
  kvstore::Reader& operator*() const { return *reader_; }
  kvstore::Reader* operator->() const { return reader_.get(); }
  // Marks the reader as unusable after this run (it was shut down).
  void Discard() { discard_ = true; }

 private:
  friend class Context;
  void Return();

  std::weak_ptr<Context> owner_;
  std::weak_ptr<kvstore::Store> store_;
  uint64_t budget_ = 0;
  std::unique_ptr<kvstore::Reader> reader_;
  bool discard_ = false;
};

class Context : public std::enable_shared_from_this<Context> {
 public:
  static Result<std::shared_ptr<Context>> Make(const ContextOptions& options = {});
  // The process-wide context, created on first use with default options (threads from the
  // CPU affinity, LSIO_IO honoured).
  static std::shared_ptr<Context> Default();

  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const ContextOptions& options() const { return options_; }
  compute::CpuPool& cpu() { return *cpu_; }
  int threads() const { return cpu_->threads(); }

  // The store at `location` (a path or URL), opened once per location and options. Local
  // stores use the context's IO backend unless `options` names another.
  Result<std::shared_ptr<kvstore::Store>> OpenStore(std::string_view location,
                                                    const kvstore::OpenOptions& options = {});

  // A reader of `store` with this budget: an idle one from an earlier run when there is one.
  Result<ReaderLease> AcquireReader(const std::shared_ptr<kvstore::Store>& store,
                                    const kvstore::ReaderOptions& options);

  // Runs `source` on a leased reader of `store` and the context's CPU pool (sched::Run).
  // `options.threads` bounds this run's concurrent handlers (0: the pool's size).
  Result<sched::SchedulerStats> Run(const std::shared_ptr<kvstore::Store>& store,
                                    sched::TaskSource& source, sched::SchedulerOptions options);

  // Destroys the idle readers, with the engines and free read buffers they keep: for a run
  // that moves on to another store and whose memory budget must not carry them (rechunk's
  // second stage). Readers on loan are not affected.
  void ReleaseIdleReaders();
  // Idle readers kept (tests).
  size_t idle_readers() const;

 private:
  explicit Context(const ContextOptions& options);
  friend class ReaderLease;
  struct IdleReader {
    // A reader is only ever reused for the store it was made by (not one that happens to live
    // at the same address later).
    std::weak_ptr<kvstore::Store> store;
    uint64_t budget = 0;
    std::unique_ptr<kvstore::Reader> reader;
  };
  void ReturnReader(IdleReader idle);

  ContextOptions options_;
  std::unique_ptr<compute::CpuPool> cpu_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<kvstore::Store>> stores_;
  // Idle readers, oldest first; few, since each holds threads and buffers.
  std::vector<IdleReader> idle_;
};

}  // namespace lsio::runtime
