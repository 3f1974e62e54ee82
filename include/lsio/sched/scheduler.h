#pragma once

// The scheduler: turns a stream of read tasks into grouped IO on the engine and CPU work on
// the pool, within one memory budget.
//
// It knows nothing of Zarr. A format layer describes a request as ReadTasks: "read these
// bytes, then run this handler on them". A handler runs on a CPU worker as soon as its bytes
// arrive (decode, then reduce or copy); it may emit follow-up tasks, which is how two-step
// reads work (a shard's index first, then exactly the inner chunks that are needed). Tasks are
// pulled from the source lazily, so planning a terabyte-sized request holds only the tasks in
// flight, not all of them.
//
// Memory: the reader's byte budget bounds the bytes read and not yet consumed; each handler's
// own decode buffer is bounded by the number of handlers running at once (options.threads).
// The caller chooses the split (see SchedulerOptions).
//
// Resources: the reader (a store's three-queue data path) and the CPU pool are given (the
// runtime Context owns and lends them), so a run creates no thread and no ring.
//
// Each task's bytes are read exactly once. A missing key is not an error here: the handler
// receives kNotFound and decides (a missing Zarr chunk is its fill value).
//
// Errors: the first handler error (or engine failure) stops the run: no new reads, queued work
// dropped, in-flight work drained, and Run returns that error. Cancellation (the `cancelled`
// callback returning true) does the same and returns kCancelled. Either way, every thread the
// run used is idle and every buffer returned when Run returns.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/compute/cpu_pool.h"
#include "lsio/kvstore/store.h"

namespace lsio::sched {

class TaskSink;

struct ReadTask {
  // What to read. The tag is assigned by the scheduler; whatever is set here is ignored.
  kvstore::ReadRequest request;
  // Bytes this read is expected to return (for grouping); 0 when unknown.
  uint64_t expected_bytes = 0;
  // Runs on a CPU worker with the bytes read, or the read's error (kNotFound for a missing
  // key). Its return value is the task's outcome: an error stops the run. It may add
  // follow-up tasks to `followups`. Must not block on other tasks.
  std::function<Status(Result<Buffer> bytes, TaskSink& followups)> on_read;
  // No IO: the handler is queued for the CPU pool at once with an empty buffer (`request` is
  // ignored). For data a source already holds in memory (coordinates computed when a dataset
  // was opened, a fill value for a part nothing stores), so that it reaches the consumer the
  // same way as read data. Such tasks take no reader budget: a source should make few.
  bool no_read = false;
};

// Where handlers put follow-up tasks. Thread-safe.
class TaskSink {
 public:
  virtual ~TaskSink() = default;
  virtual void Add(ReadTask task) = 0;
  // Adds tasks that belong together (the inner chunks of one shard): they are submitted in one
  // IO group, so that the engine opens the file once and merges their ranges into few large
  // reads, unless the batch alone is larger than two groups (then it is cut into group-sized
  // pieces, in order).
  virtual void AddBatch(std::vector<ReadTask> tasks) = 0;
};

// A lazily pulled sequence of tasks. Called only from the thread running Run.
class TaskSource {
 public:
  virtual ~TaskSource() = default;
  // Fills `out` with the next task and returns true, or returns false when there are no more.
  virtual bool Next(ReadTask* out) = 0;
};

// A TaskSource over a vector (tests, small requests).
class VectorTaskSource : public TaskSource {
 public:
  explicit VectorTaskSource(std::vector<ReadTask> tasks) : tasks_(std::move(tasks)) {}
  bool Next(ReadTask* out) override;

 private:
  std::vector<ReadTask> tasks_;
  size_t next_ = 0;
};

struct SchedulerOptions {
  // Handlers of this run running at once on the pool; 0: the pool's size.
  int threads = 0;
  // The reader's budget of bytes in flight (the runtime Context leases a reader with it).
  uint64_t max_bytes_in_flight = uint64_t{128} << 20;
  // Target bytes per IO group: small enough that several groups are in flight within the
  // engine's budget, large enough that each submission is a real batch. A follow-up batch
  // (TaskSink::AddBatch) that does not fit in the group being filled starts the next one.
  uint64_t group_bytes = uint64_t{16} << 20;
  // At most this many requests per group.
  size_t group_max_requests = 1024;
  // Polled by the coordinating thread about every 20 ms; returning true cancels the run.
  std::function<bool()> cancelled;
  // Called by the coordinating thread about every `tick_ms` (progress reports), and once more
  // when the run ends.
  std::function<void()> tick;
  int tick_ms = 100;
};

struct SchedulerStats {
  uint64_t tasks = 0;          // handlers run
  uint64_t bytes_read = 0;     // bytes delivered by the engine
  uint64_t missing = 0;        // reads that found no file
  uint64_t groups = 0;         // IO groups submitted
  // Highest reader charge seen (sampled by the coordinating thread after each submission and
  // completion); bounded by the reader's budget plus one read.
  uint64_t peak_bytes_in_flight = 0;
  double seconds = 0;          // wall time of Run
  std::string io_backend;      // the reader's backend_name(): "io_uring", "posix", "memory", ...
};

// Runs every task of `source` (and their follow-ups) to completion, reading through `reader`
// and running handlers on `pool`. The reader must be idle (nothing submitted and undelivered)
// and is idle again when Run returns OK; after an error or cancellation it has been shut down.
Result<SchedulerStats> Run(TaskSource& source, kvstore::Reader& reader, compute::CpuPool& pool,
                           const SchedulerOptions& options);

}  // namespace lsio::sched
