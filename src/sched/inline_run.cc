#include "lsio/sched/inline_run.h"

#include <chrono>
#include <deque>
#include <mutex>

namespace lsio::sched {

namespace {

class QueueSink final : public TaskSink {
 public:
  void Add(ReadTask task) override {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  void AddBatch(std::vector<ReadTask> tasks) override {
    std::lock_guard lock(mu_);
    for (ReadTask& t : tasks) tasks_.push_back(std::move(t));
  }
  bool Pop(ReadTask* out) {
    std::lock_guard lock(mu_);
    if (tasks_.empty()) return false;
    *out = std::move(tasks_.front());
    tasks_.pop_front();
    return true;
  }

 private:
  std::mutex mu_;  // handlers run on this thread; the lock keeps the sink's contract
  std::deque<ReadTask> tasks_;
};

}  // namespace

Result<SchedulerStats> RunInline(TaskSource& source, kvstore::Store& store,
                                 const SchedulerOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  SchedulerStats stats;
  stats.io_backend = "inline";
  QueueSink followups;
  ReadTask task;
  while (followups.Pop(&task) || source.Next(&task)) {
    if (options.cancelled && options.cancelled()) return CancelledError("cancelled");
    Result<Buffer> bytes = store.ReadNow(task.request);
    if (bytes.ok()) {
      stats.bytes_read += bytes->size();
    } else if (bytes.status().code() == StatusCode::kNotFound) {
      ++stats.missing;
    }
    LSIO_RETURN_IF_ERROR(task.on_read(std::move(bytes), followups));
    ++stats.tasks;
  }
  if (options.tick) options.tick();
  stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace lsio::sched
