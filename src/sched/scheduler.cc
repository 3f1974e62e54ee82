#include "lsio/sched/scheduler.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>


namespace lsio::sched {

bool VectorTaskSource::Next(ReadTask* out) {
  if (next_ >= tasks_.size()) return false;
  *out = std::move(tasks_[next_++]);
  return true;
}

namespace {

using Clock = std::chrono::steady_clock;

// Reads whose size nobody predicted count as this much when filling a group.
constexpr uint64_t kUnknownReadBytes = uint64_t{64} << 10;

uint64_t GroupBytes(const ReadTask& t) {
  return t.expected_bytes ? t.expected_bytes : kUnknownReadBytes;
}

// Follow-up tasks added together; `next` is the first not yet taken.
struct Batch {
  std::vector<ReadTask> tasks;
  size_t next = 0;
  uint64_t bytes = 0;  // of all its tasks (for the whole-batch decision, made before any is taken)
};

// State shared between the coordinating thread and the CPU workers.
class RunState final : public TaskSink {
 public:
  void Add(ReadTask task) override {
    std::vector<ReadTask> one;
    one.push_back(std::move(task));
    AddBatch(std::move(one));
  }

  void AddBatch(std::vector<ReadTask> tasks) override {
    if (tasks.empty()) return;
    Batch batch;
    for (const ReadTask& t : tasks) batch.bytes += GroupBytes(t);
    batch.tasks = std::move(tasks);
    std::lock_guard lock(mu_);
    followups_.push_back(std::move(batch));
    cv_.notify_all();
  }

  // Moves follow-ups into `staged` (holding `bytes`) until the group is full. A batch that fits
  // in one group is never split: if it does not fit in this one, it waits for the next. A batch
  // larger than two groups is cut into group-sized pieces.
  void TakeFollowups(std::vector<ReadTask>& staged, uint64_t& bytes, uint64_t group_bytes,
                     size_t max_requests) {
    std::lock_guard lock(mu_);
    while (!followups_.empty() && staged.size() < max_requests && bytes < group_bytes) {
      Batch& b = followups_.front();
      const size_t n = b.tasks.size() - b.next;
      const bool whole = b.next == 0 && n <= max_requests && b.bytes <= 2 * group_bytes;
      if (whole) {
        if (!staged.empty() &&
            (staged.size() + n > max_requests || bytes + b.bytes > group_bytes)) {
          return;  // starts the next group
        }
        for (ReadTask& t : b.tasks) staged.push_back(std::move(t));
        bytes += b.bytes;
        followups_.pop_front();
        continue;
      }
      while (b.next < b.tasks.size() && staged.size() < max_requests && bytes < group_bytes) {
        bytes += GroupBytes(b.tasks[b.next]);
        staged.push_back(std::move(b.tasks[b.next++]));
      }
      if (b.next == b.tasks.size()) followups_.pop_front();
    }
  }

  bool HasFollowups() {
    std::lock_guard lock(mu_);
    return !followups_.empty();
  }

  void TaskStarted() { running_.fetch_add(1, std::memory_order_relaxed); }

  void TaskFinished(Status status) {
    std::lock_guard lock(mu_);
    if (!status.ok() && error_.ok()) {
      error_ = std::move(status);
      failed_.store(true, std::memory_order_release);
    }
    running_.fetch_sub(1, std::memory_order_acq_rel);
    cv_.notify_all();
  }

  void Fail(Status status) {
    std::lock_guard lock(mu_);
    if (error_.ok()) error_ = std::move(status);
    failed_.store(true, std::memory_order_release);
  }

  bool failed() const { return failed_.load(std::memory_order_acquire); }
  int64_t running() const { return running_.load(std::memory_order_acquire); }

  Status error() {
    std::lock_guard lock(mu_);
    return error_;
  }

  // Waits until a follow-up arrives, a task finishes, or `timeout` passes.
  void WaitForProgress(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    const int64_t running_now = running_.load();
    cv_.wait_for(lock, timeout, [&] {
      return !followups_.empty() || running_.load() != running_now || failed_.load();
    });
  }

  // Waits until no CPU task is running.
  void WaitIdle() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return running_.load() == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> followups_;
  std::atomic<int64_t> running_{0};
  std::atomic<bool> failed_{false};
  Status error_;
};

// One handler invocation waiting for, or running on, a CPU worker.
struct Job {
  ReadTask task;
  Result<Buffer> bytes;
};

// This run's handlers on the shared CPU pool, at most `limit` at once: jobs wait in a queue and
// up to `limit` drainer tasks on the pool run them one after another.
class JobQueue {
 public:
  JobQueue(compute::CpuPool& pool, int limit, RunState& state, std::atomic<uint64_t>& tasks_run)
      : pool_(pool), limit_(limit), state_(state), tasks_run_(tasks_run) {}

  void Push(std::unique_ptr<Job> job) {
    state_.TaskStarted();
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
      if (drainers_ >= limit_) return;
      ++drainers_;
    }
    // A drainer counts as a running task too, so that the run (and this queue) outlives it.
    state_.TaskStarted();
    pool_.Submit([this] { Drain(); });
  }

 private:
  void Drain() {
    RunState& state = state_;
    while (true) {
      std::unique_ptr<Job> job;
      {
        std::lock_guard lock(mu_);
        if (jobs_.empty()) {
          --drainers_;
          break;
        }
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      Status st;
      if (!state.failed()) {
        st = job->task.on_read(std::move(job->bytes), state);
        tasks_run_.fetch_add(1, std::memory_order_relaxed);
      }
      // Release the bytes (back to the reader's pool, lifting its budget) and whatever the
      // handler captured before announcing that the task is done.
      job.reset();
      state.TaskFinished(std::move(st));
    }
    // The last use of anything the run owns.
    state.TaskFinished(Status::OK());
  }

  compute::CpuPool& pool_;
  const int limit_;
  RunState& state_;
  std::atomic<uint64_t>& tasks_run_;
  std::mutex mu_;
  std::deque<std::unique_ptr<Job>> jobs_;
  int drainers_ = 0;
};

}  // namespace

Result<SchedulerStats> Run(TaskSource& source, kvstore::Reader& reader, compute::CpuPool& pool,
                           const SchedulerOptions& options) {
  const auto start = Clock::now();
  const int threads = options.threads > 0 ? std::min(options.threads, pool.threads())
                                          : pool.threads();
  RunState state;
  SchedulerStats stats;
  stats.io_backend = std::string(reader.backend_name());
  std::atomic<uint64_t> tasks_run{0};
  std::atomic<uint64_t> missing{0};
  // Declared after `state` and the counters it refers to, and drained (WaitIdle) before they go.
  JobQueue jobs(pool, threads, state, tasks_run);

  std::unordered_map<uint64_t, ReadTask> in_flight;  // by tag
  std::vector<ReadTask> staged;                      // the next group, not yet accepted
  std::vector<kvstore::ReadRequest> requests;
  uint64_t next_tag = 0;
  int64_t groups_in_flight = 0;
  bool source_done = false;
  auto last_poll = Clock::now();
  auto last_tick = Clock::now();

  // Moves tasks into `staged` until the group is full: follow-ups first, since they finish
  // work already begun (and release its memory), then new tasks from the source.
  auto fill_group = [&] {
    uint64_t bytes = 0;
    for (const ReadTask& t : staged) bytes += GroupBytes(t);
    state.TakeFollowups(staged, bytes, options.group_bytes, options.group_max_requests);
    // A follow-up batch left behind starts the next group; source tasks wait behind it.
    if (state.HasFollowups()) return;
    ReadTask task;
    while (!source_done && staged.size() < options.group_max_requests &&
           bytes < options.group_bytes) {
      if (!source.Next(&task)) {
        source_done = true;
        break;
      }
      bytes += GroupBytes(task);
      staged.push_back(std::move(task));
    }
  };

  auto dispatch = [&](kvstore::Completion& c) {
    auto it = in_flight.find(c.tag);
    if (it == in_flight.end()) {
      state.Fail(InternalError("IO completion for an unknown tag"));
      return;
    }
    auto job = std::make_unique<Job>(Job{std::move(it->second), Buffer()});
    in_flight.erase(it);
    job->bytes = c.status.ok() ? Result<Buffer>(std::move(c.data)) : c.status;
    if (!c.status.ok() && c.status.code() == StatusCode::kNotFound) {
      missing.fetch_add(1, std::memory_order_relaxed);
    }
    jobs.Push(std::move(job));
  };

  while (true) {
    if (options.cancelled && Clock::now() - last_poll >= std::chrono::milliseconds(20)) {
      last_poll = Clock::now();
      if (options.cancelled()) {
        state.Fail(CancelledError("cancelled"));
      }
    }
    if (options.tick && Clock::now() - last_tick >= std::chrono::milliseconds(options.tick_ms)) {
      last_tick = Clock::now();
      options.tick();
    }
    if (state.failed()) break;

    // Keep the disk busy: submit groups until the engine pushes back or work runs out.
    while (true) {
      fill_group();
      // Tasks without IO go to the CPU pool now.
      const auto in_memory = std::stable_partition(
          staged.begin(), staged.end(), [](const ReadTask& t) { return !t.no_read; });
      const bool ran_in_memory = in_memory != staged.end();
      for (auto it = in_memory; it != staged.end(); ++it) {
        jobs.Push(std::make_unique<Job>(Job{std::move(*it), Buffer()}));
      }
      staged.erase(in_memory, staged.end());
      if (staged.empty()) {
        // More in-memory tasks only while few are queued: they are not bounded by the
        // reader's budget.
        if (ran_in_memory && state.running() < 4 * int64_t{threads} + 16) continue;
        break;
      }
      requests.clear();
      requests.reserve(staged.size());
      for (ReadTask& t : staged) {
        t.request.tag = next_tag++;
        requests.push_back(t.request);
      }
      Result<uint64_t> group = reader.TrySubmit(requests);
      if (!group.ok()) {
        next_tag -= staged.size();
        if (group.status().code() == StatusCode::kResourceExhausted) break;
        state.Fail(group.status());
        break;
      }
      for (ReadTask& t : staged) {
        const uint64_t tag = t.request.tag;
        in_flight.emplace(tag, std::move(t));
      }
      staged.clear();
      ++groups_in_flight;
      ++stats.groups;
      stats.peak_bytes_in_flight = std::max(stats.peak_bytes_in_flight, reader.bytes_in_flight());
    }
    if (state.failed()) break;

    if (groups_in_flight == 0 && staged.empty()) {
      if (state.running() == 0 && !state.HasFollowups()) {
        if (source_done) break;
        continue;  // the source has more
      }
      // Nothing on the disk: wait for handlers to finish or to emit follow-ups.
      state.WaitForProgress(std::chrono::milliseconds(20));
      continue;
    }
    if (groups_in_flight == 0) {
      // The engine refused a group while nothing of ours is on the disk: its budget is held by
      // buffers the handlers still use. Wait for them.
      state.WaitForProgress(std::chrono::milliseconds(20));
      continue;
    }

    kvstore::Completion c;
    // Drain whatever is ready, then go back to submitting.
    for (int i = 0; i < 256 && reader.NextFor(&c, i == 0 ? 20 : 0); ++i) {
      if (c.kind == kvstore::Completion::Kind::kEndOfGroup) {
        --groups_in_flight;
      } else {
        stats.bytes_read += c.data.size();
        stats.peak_bytes_in_flight =
            std::max(stats.peak_bytes_in_flight, reader.bytes_in_flight());
        dispatch(c);
      }
      c = kvstore::Completion();
      if (state.failed()) break;
    }
  }

  // Tear down after a failure: stop the reader, drop what was queued. Either way, let running
  // handlers finish.
  if (state.failed()) {
    reader.Shutdown();
    kvstore::Completion c;
    while (reader.NextFor(&c, 0)) c = kvstore::Completion();
  }
  in_flight.clear();
  staged.clear();
  state.WaitIdle();
  if (options.tick) options.tick();

  LSIO_RETURN_IF_ERROR(state.error());
  stats.tasks = tasks_run.load();
  stats.missing = missing.load();
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return stats;
}

}  // namespace lsio::sched
