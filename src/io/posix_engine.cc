// The pread backend: the same core on a pool of blocking workers. Used where io_uring cannot
// be set up (seccomp, old kernels) or on request. Each worker performs one read or one whole
// write (open, pwrite, fdatasync, close) at a time; at most queue_depth reads are in flight in
// total.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "backends.h"
#include "engine_core.h"
#include "fault_injection.h"

namespace lsio::io::internal {
namespace {

class PosixEngine final : public EngineCore {
 public:
  explicit PosixEngine(const EngineOptions& options) : EngineCore(options) {}

  ~PosixEngine() override {
    Shutdown();
    for (std::thread& t : threads_) t.join();
  }

  std::string_view backend_name() const override { return "posix"; }

  void Start() {
    const int n = options().threads > 0 ? options().threads : 16;
    faults_ = ActiveFaults();
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Run(); });
  }

 private:
  void Run() {
    const int depth = std::max(options().queue_depth, 1);
    for (;;) {
      const uint64_t seen = change_seq();
      // Reserve a read slot first so that the total never exceeds queue_depth.
      const bool slot = reads_active_.fetch_add(1, std::memory_order_acq_rel) < depth;
      if (!slot) reads_active_.fetch_sub(1, std::memory_order_acq_rel);
      WorkerLimits limits;
      limits.read_slots = slot ? 1 : 0;
      limits.max_plans = 1;
      Work work = TakeWork(limits);
      if (slot && work.reads.empty()) reads_active_.fetch_sub(1, std::memory_order_acq_rel);
      if (work.exit) return;
      for (DeviceRead* read : work.reads) {
        ReadAll(read);
        reads_active_.fetch_sub(1, std::memory_order_acq_rel);
      }
      for (FileJob* job : work.plans) Plan(job);
      for (FileJob* job : work.writes) WriteBlocking(job);
      if (!work.reads.empty() || !work.plans.empty() || !work.writes.empty()) continue;
      WaitForChange(seen);
    }
  }

  void ReadAll(DeviceRead* read) {
    FileJob* file = read->file;
    while (read->done < read->needed) {
      const bool direct = file->direct.load(std::memory_order_relaxed);
      read->issued_direct = direct;
      const uint64_t piece = std::min(read->length - read->done, MaxIoBytes(faults_));
      ssize_t n = ::pread(file->fd.get(), read->buffer.mutable_data() + read->done, piece,
                          static_cast<off_t>(read->offset + read->done));
      int err = n < 0 ? errno : 0;
      AddDeviceReads(1);
      if (n >= 0 && faults_ && faults_->read) {
        if (int fault = faults_->read(file->path, direct); fault != 0) {
          n = -1;
          err = fault;
        }
      }
      if (n > 0 && faults_ && faults_->short_read) {
        const uint64_t cap = faults_->short_read(file->path);
        if (cap > 0 && static_cast<uint64_t>(n) > cap) n = static_cast<ssize_t>(cap);
      }
      if (n < 0) {
        if ((err == EINTR || err == EAGAIN) && ++read->attempts < kMaxRetries) continue;
        if (err == EINVAL && direct && FallBackToBuffered(read)) continue;
        FinishRead(read, ErrnoToStatus(err, "pread"));
        return;
      }
      if (n == 0) {
        FinishRead(read, IOError("unexpected end of file at byte " +
                                 std::to_string(read->offset + read->done) +
                                 " (did the file shrink while being read?)"));
        return;
      }
      AddDeviceBytes(static_cast<uint64_t>(n));
      read->done += static_cast<uint64_t>(n);
    }
    FinishRead(read, Status::OK());
  }

  const FaultInjection* faults_ = nullptr;
  std::atomic<int> reads_active_{0};
  std::vector<std::thread> threads_;
};

}  // namespace

Result<std::unique_ptr<Engine>> CreatePosixEngine(const EngineOptions& options) {
  auto engine = std::make_unique<PosixEngine>(options);
  engine->Start();
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace lsio::io::internal
