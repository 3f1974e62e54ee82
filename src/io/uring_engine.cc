// The io_uring backend: one ring per IO thread. Each thread asks the core for work, turns the
// reads into SQEs (the DeviceRead is the user_data), submits them in one call per batch and
// reaps completions in batches. Files are opened by the core's Plan() on the same thread,
// between batches, while the ring keeps the device busy.

#include <liburing.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "backends.h"
#include "engine_core.h"
#include "fault_injection.h"
#include "uring_ring.h"

namespace lsio::io::internal {
namespace {

class UringEngine final : public EngineCore {
 public:
  explicit UringEngine(const EngineOptions& options) : EngineCore(options) {}

  ~UringEngine() override {
    Shutdown();
    for (std::thread& t : threads_) t.join();
  }

  std::string_view backend_name() const override { return "io_uring"; }

  Status Start() {
    const int n = options().threads > 0 ? options().threads : 1;
    std::vector<std::future<Status>> started;
    for (int i = 0; i < n; ++i) {
      std::promise<Status> promise;
      started.push_back(promise.get_future());
      threads_.emplace_back([this, p = std::move(promise)]() mutable { Run(std::move(p)); });
    }
    Status first_error;
    for (auto& f : started) {
      Status s = f.get();
      if (!s.ok() && first_error.ok()) first_error = s;
    }
    return first_error;
  }

 private:
  // Per-thread state of one ring.
  struct RingWorker {
    std::unique_ptr<Ring> ring;
    size_t in_flight = 0;
    const FaultInjection* faults = nullptr;
  };

  void Run(std::promise<Status> started) {
    // The ring is created on the thread that uses it: SINGLE_ISSUER binds it to its creator.
    const unsigned depth = static_cast<unsigned>(std::max(options().queue_depth, 1));
    Result<std::unique_ptr<Ring>> ring = Ring::Create(depth);
    if (!ring.ok()) {
      started.set_value(ring.status());
      return;
    }
    started.set_value(Status::OK());
    RingWorker w;
    w.ring = std::move(ring).value();
    w.faults = ActiveFaults();
    Loop(w, depth);
  }

  void Loop(RingWorker& w, size_t depth) {
    io_uring* ring = w.ring->get();
    std::vector<io_uring_cqe*> cqes(depth * 2);
    for (;;) {
      // Reap everything that is ready, in one pass over the CQ.
      const unsigned n = io_uring_peek_batch_cqe(ring, cqes.data(), cqes.size());
      for (unsigned i = 0; i < n; ++i) HandleCompletion(w, cqes[i]);
      io_uring_cq_advance(ring, n);

      const uint64_t seen = change_seq();
      WorkerLimits limits;
      limits.read_slots = depth - std::min(depth, w.in_flight);
      limits.max_plans = depth;
      Work work = TakeWork(limits);
      for (DeviceRead* read : work.reads) {
        ++w.in_flight;
        Queue(w, read);
      }
      // One submission for the whole batch (plus requeued short reads).
      if (io_uring_sq_ready(ring) > 0) io_uring_submit(ring);
      if (work.exit) {
        if (w.in_flight == 0) return;
        // Shut down: nothing new is issued, but the kernel still writes into our buffers.
        io_uring_submit_and_wait(ring, 1);
        continue;
      }
      if (!work.plans.empty()) {
        for (FileJob* job : work.plans) Plan(job);
        continue;
      }
      if (!work.reads.empty() || n > 0) continue;
      if (w.in_flight > 0) {
        io_uring_submit_and_wait(ring, 1);
        continue;
      }
      WaitForChange(seen);
    }
  }

  // Puts the next piece of `read` into the SQ (not submitted yet).
  void Queue(RingWorker& w, DeviceRead* read) {
    io_uring* ring = w.ring->get();
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    while (sqe == nullptr) {
      // The SQ has one slot per read in flight, so this only happens with requeues pending.
      io_uring_submit(ring);
      sqe = io_uring_get_sqe(ring);
    }
    const uint64_t piece = std::min(read->length - read->done, kMaxIoBytes);
    read->issued_direct = read->file->direct.load(std::memory_order_relaxed);
    io_uring_prep_read(sqe, read->file->fd.get(), read->buffer.mutable_data() + read->done,
                       static_cast<unsigned>(piece), read->offset + read->done);
    io_uring_sqe_set_data(sqe, read);
    AddDeviceReads(1);
  }

  void HandleCompletion(RingWorker& w, io_uring_cqe* cqe) {
    auto* read = static_cast<DeviceRead*>(io_uring_cqe_get_data(cqe));
    int res = cqe->res;
    if (res >= 0 && w.faults && w.faults->read) {
      if (int err = w.faults->read(read->file->path, read->issued_direct); err != 0) res = -err;
    }
    if (res < 0) {
      if ((res == -EAGAIN || res == -EINTR) && ++read->attempts < kMaxRetries) {
        Queue(w, read);
        return;
      }
      // O_DIRECT refused at read time (some FUSE and network file systems): retry buffered.
      if (res == -EINVAL && read->issued_direct && FallBackToBuffered(read)) {
        Queue(w, read);
        return;
      }
      --w.in_flight;
      FinishRead(read, ErrnoToStatus(res, "io_uring read"));
      return;
    }
    AddDeviceBytes(static_cast<uint64_t>(res));
    read->done += static_cast<uint64_t>(res);
    if (read->done >= read->needed) {
      --w.in_flight;
      FinishRead(read, Status::OK());
      return;
    }
    if (res == 0) {
      --w.in_flight;
      FinishRead(read, IOError("unexpected end of file at byte " +
                               std::to_string(read->offset + read->done) +
                               " (did the file shrink while being read?)"));
      return;
    }
    Queue(w, read);  // short read: ask for the rest
  }

  std::vector<std::thread> threads_;
};

}  // namespace

Result<std::unique_ptr<Engine>> CreateUringEngine(const EngineOptions& options) {
  auto engine = std::make_unique<UringEngine>(options);
  Status s = engine->Start();
  if (!s.ok()) return s;  // the destructor shuts down and joins the threads that did start
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace lsio::io::internal
