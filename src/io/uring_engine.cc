// The io_uring backend: one ring per IO thread. Each thread asks the core for work, looks the
// files up and opens them through the ring (STATX, then OPENAT), turns each device read into
// SQEs (user_data: the piece of the read, or the file operation, tagged), submits everything
// prepared in one call per loop and reaps completions in batches, reporting each batch to the
// core under one lock with one wake-up.
//
// A write runs through the ring as a small state machine: OPENAT (O_CREAT | O_TRUNC), WRITEs
// of pieces in flight together, FSYNC with IORING_FSYNC_DATASYNC when asked, CLOSE (whose
// result is checked: some file systems report write errors only there). Creating missing
// parent directories after an ENOENT is a blocking mkdir on the ring thread: it happens once
// per new directory, and io_uring's MKDIRAT would add a step for a rare path.
//
// With EngineOptions::direct, aligned data is written with O_DIRECT up to its last whole 4096
// bytes and the tail through the page cache (clearing O_DIRECT with fcntl once the aligned
// pieces are done: the flag belongs to the open file, so the tail cannot overlap them). Why,
// measured on this machine's ext4 disk against fio --rw=write with the same file sizes, in
// one interleaved run (2 rounds, 256 MiB per run, with and without fdatasync per file):
//   16 x 16 MiB, fdatasync: lsio O_DIRECT 1441 / 1188 MiB/s, 0.013-0.016 s CPU;
//     lsio buffered 1021 / 810 MiB/s, 0.09 s CPU; fio io_uring direct iodepth 64
//     548 / 788 MiB/s; fio psync buffered 210 / 141 MiB/s.
//   256 x 1 MiB, fdatasync: lsio O_DIRECT 1452 / 1499, lsio buffered 819 / 817,
//     fio io_uring direct 442 / 165, fio psync 129 / 131 MiB/s.
//   Without fdatasync, buffered writes only win for small files that fit the page cache
//   (256 x 1 MiB: 2478 / 993 buffered against 1196 / 1234 MiB/s O_DIRECT), and still cost
//   2-5 times the CPU. A 1234-byte tail per 1 MiB file costs O_DIRECT about 5-10%.
// O_DIRECT reads of files just written through the page cache stay coherent (the kernel
// flushes the range's dirty pages first), and buffered reads see O_DIRECT writes (the kernel
// drops the range's cached pages).

#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
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
  // A device read is cut into pieces of at most kPieceBytes that are in flight together: the
  // kernel serves one large buffered io_uring read a page at a time from task work, which is
  // many times slower than several medium reads in parallel (measured: 3 GiB in 1 GiB pieces
  // 20 s, in 8 MiB reads 0.8 s). O_DIRECT reads are split by the block layer anyway.
  static constexpr uint64_t kPieceBytes = uint64_t{4} << 20;

  struct InFlightRead;
  struct Piece {
    InFlightRead* owner = nullptr;
    uint64_t begin = 0;  // offset inside the device read's buffer
    uint64_t end = 0;
    uint64_t done = 0;
    int attempts = 0;
    bool issued_direct = false;
  };
  struct InFlightRead {
    DeviceRead* read = nullptr;
    std::vector<Piece> pieces;
    size_t left = 0;  // pieces not finished
    Status status;    // first failure of any piece
  };

  // Looking a file up and opening it through the ring: STATX by path first (only regular files
  // are opened: an OPENAT of a FIFO would block an io-wq worker), then OPENAT. Both run
  // asynchronously in the kernel (io-wq when the inode is not cached), so many files are looked
  // up in parallel instead of one blocking system call after another on this thread.
  struct FileOp {
    enum class Step : unsigned char { kStatx, kOpen };
    Step step = Step::kStatx;
    FileJob* job = nullptr;
    bool direct = false;
    int attempts = 0;  // EAGAIN/EINTR retries of the open
  };

  // A write job on its way: open, pieces, sync, close (see the top of the file).
  struct WriteOp;
  struct WritePiece {
    WriteOp* owner = nullptr;
    uint64_t begin = 0;  // offset in the file (and in the data)
    uint64_t end = 0;
    uint64_t done = 0;
    int attempts = 0;
    bool issued_direct = false;  // whether the last write of it was issued with O_DIRECT
  };
  struct WriteOp {
    enum class Step : unsigned char { kOpen, kWrite, kSync, kClose };
    Step step = Step::kOpen;
    FileJob* job = nullptr;
    const IoRequest* request = nullptr;
    int fd = -1;
    int attempts = 0;  // EAGAIN/EINTR retries of the open or the sync
    bool parents_created = false;
    bool direct = false;  // the descriptor has O_DIRECT (see EngineCore::WriteDirectly)
    std::vector<WritePiece> pieces;
    // With O_DIRECT, the pieces cover the aligned prefix and the rest is this one piece,
    // written through the page cache once the prefix is done.
    WritePiece tail;
    bool tail_queued = false;
    size_t left = 0;  // pieces not finished
    Status status;    // first failure
  };

  // user_data: a pointer (at least 8-aligned) with its kind in the low two bits.
  enum TagKind : uint64_t { kReadPiece = 0, kFileOp = 1, kWriteOp = 2, kWritePiece = 3 };
  static uint64_t Tag(Piece* p) { return reinterpret_cast<uintptr_t>(p) | kReadPiece; }
  static uint64_t Tag(FileOp* op) { return reinterpret_cast<uintptr_t>(op) | kFileOp; }
  static uint64_t Tag(WriteOp* op) { return reinterpret_cast<uintptr_t>(op) | kWriteOp; }
  static uint64_t Tag(WritePiece* p) { return reinterpret_cast<uintptr_t>(p) | kWritePiece; }
  static TagKind KindOf(uint64_t tag) { return static_cast<TagKind>(tag & 3); }
  template <typename T>
  static T* As(uint64_t tag) {
    return reinterpret_cast<T*>(tag & ~uint64_t{3});
  }

  // Per-thread state of one ring.
  struct RingWorker {
    std::unique_ptr<Ring> ring;
    size_t in_flight = 0;                // SQEs submitted or queued, not yet completed
    std::deque<uint64_t> pending;        // tagged operations waiting for a ring slot
    size_t opening = 0;                  // FileOps alive (pending or in flight)
    size_t writing = 0;                  // WriteOps alive
    bool ring_opens = true;              // STATX/OPENAT through the ring (else blocking calls)
    bool ring_writes = true;             // writes through the ring (else blocking calls)
    std::vector<FinishedRead> finished;  // reads completed by the current batch of CQEs
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
    // Measured on 16,384 files of 64 KiB, cold cache: 10% faster and 10% less CPU than
    // blocking statx + open on this thread (docs/benchmarks.md).
    const RingFeatures& f = w.ring->features();
    w.ring_opens = f.op_statx && f.op_openat;
    w.ring_writes = f.op_openat && f.op_write && f.op_fsync && f.op_close;
    Loop(w, depth);
  }

  void Loop(RingWorker& w, size_t depth) {
    io_uring* ring = w.ring->get();
    std::vector<io_uring_cqe*> cqes(depth * 2);
    for (;;) {
      // Reap everything that is ready, in one pass over the CQ.
      const unsigned n = io_uring_peek_batch_cqe(ring, cqes.data(), cqes.size());
      if (n > 0) {
        DeferWakes batch(this);
        for (unsigned i = 0; i < n; ++i) HandleCompletion(w, cqes[i]);
        io_uring_cq_advance(ring, n);
        if (!w.finished.empty()) {
          FinishReads(w.finished);
          w.finished.clear();
        }
      }

      const uint64_t seen = change_seq();
      WorkerLimits limits;
      // New reads only when the pieces already taken are all in the ring.
      limits.read_slots = w.pending.empty() ? depth - std::min(depth, w.in_flight) : 0;
      // Files being looked up or written take ring slots too; keep at most `depth` of them
      // going.
      limits.max_plans = depth - std::min(depth, w.opening + w.writing);
      Work work = TakeWork(limits);
      if (w.ring_opens) {
        for (FileJob* job : work.plans) {
          auto* op = new FileOp;
          op->job = job;
          ++w.opening;
          w.pending.push_back(Tag(op));
        }
      }
      if (w.ring_writes) {
        for (FileJob* job : work.writes) {
          auto* op = new WriteOp;
          op->job = job;
          op->request = &WriteRequestOf(job);
          op->direct = WriteDirectly(*op->request);
          ++w.writing;
          w.pending.push_back(Tag(op));
        }
      }
      for (DeviceRead* read : work.reads) Start(w, read);
      Fill(w, depth);
      // One submission for the whole batch (plus requeued short reads).
      if (io_uring_sq_ready(ring) > 0) io_uring_submit(ring);
      const bool busy = w.in_flight > 0 || !w.pending.empty();
      if (work.exit) {
        if (!busy) return;
        // Shut down: nothing new is taken, but the kernel still writes into our buffers.
        io_uring_submit_and_wait(ring, 1);
        continue;
      }
      if (!w.ring_writes && !work.writes.empty()) {
        for (FileJob* job : work.writes) WriteBlocking(job);
        continue;
      }
      if (!w.ring_opens && !work.plans.empty()) {
        for (FileJob* job : work.plans) Plan(job);
        continue;
      }
      if (!work.reads.empty() || !work.plans.empty() || !work.writes.empty() || n > 0) continue;
      if (w.in_flight > 0) {
        io_uring_submit_and_wait(ring, 1);
        continue;
      }
      WaitForChange(seen);
    }
  }

  void Start(RingWorker& w, DeviceRead* read) {
    auto* f = new InFlightRead;
    f->read = read;
    const uint64_t count = std::max<uint64_t>(1, (read->length + kPieceBytes - 1) / kPieceBytes);
    f->pieces.resize(count);
    f->left = count;
    for (uint64_t i = 0; i < count; ++i) {
      Piece& p = f->pieces[i];
      p.owner = f;
      p.begin = i * kPieceBytes;
      p.end = std::min(read->length, p.begin + kPieceBytes);
      w.pending.push_back(Tag(&p));
    }
  }

  // Moves pending pieces into the SQ while the ring has room (not submitted yet).
  void Fill(RingWorker& w, size_t depth) {
    io_uring* ring = w.ring->get();
    while (w.in_flight < depth && !w.pending.empty()) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (sqe == nullptr) {
        io_uring_submit(ring);
        continue;
      }
      const uint64_t tag = w.pending.front();
      w.pending.pop_front();
      ++w.in_flight;
      if (KindOf(tag) == kWriteOp) {
        PrepareWriteOp(sqe, As<WriteOp>(tag));
        continue;
      }
      if (KindOf(tag) == kWritePiece) {
        WritePiece* p = As<WritePiece>(tag);
        const uint64_t at = p->begin + p->done;
        const uint64_t len = std::min(p->end - at, MaxIoBytes(w.faults));
        p->issued_direct = p->owner->direct;
        io_uring_prep_write(sqe, p->owner->fd, p->owner->request->data.data() + at,
                            static_cast<unsigned>(len), at);
        io_uring_sqe_set_data64(sqe, tag);
        AddDeviceWrites(1);
        continue;
      }
      if (KindOf(tag) == kFileOp) {
        FileOp* op = As<FileOp>(tag);
        const char* path = op->job->path.c_str();
        if (op->step == FileOp::Step::kStatx) {
          io_uring_prep_statx(sqe, AT_FDCWD, path, AT_STATX_SYNC_AS_STAT, kStatxMask,
                              &op->job->stx);
        } else {
          io_uring_prep_openat(sqe, AT_FDCWD, path,
                               O_RDONLY | O_CLOEXEC | (op->direct ? O_DIRECT : 0), 0);
        }
        io_uring_sqe_set_data64(sqe, tag);
        continue;
      }
      Piece* p = As<Piece>(tag);
      DeviceRead* read = p->owner->read;
      const uint64_t at = p->begin + p->done;
      const uint64_t len = std::min(p->end - at, MaxIoBytes(w.faults));
      p->issued_direct = read->file->direct.load(std::memory_order_relaxed);
      io_uring_prep_read(sqe, read->file->fd.get(), read->buffer.mutable_data() + at,
                         static_cast<unsigned>(len), read->offset + at);
      io_uring_sqe_set_data64(sqe, tag);
      AddDeviceReads(1);
    }
  }

  void HandleFileOp(RingWorker& w, FileOp* op, int res) {
    FileJob* job = op->job;
    if (op->step == FileOp::Step::kStatx) {
      if (res == 0 && PlanStat(job, &job->stx, 0)) {
        op->step = FileOp::Step::kOpen;
        op->direct = job->direct.load(std::memory_order_relaxed);
        w.pending.push_back(Tag(op));
        return;
      }
      if (res < 0) PlanStat(job, nullptr, -res);
      --w.opening;
      delete op;
      PlanOpened(job, -1, 0);
      return;
    }
    if (op->direct && w.faults && w.faults->open_direct) {
      if (int err = w.faults->open_direct(job->path); err != 0) {
        if (res >= 0) ::close(res);
        res = -err;
      }
    }
    if (res == -EINVAL && op->direct) {
      DirectRefusedAtOpen(job);
      op->direct = false;
      w.pending.push_front(Tag(op));
      return;
    }
    if ((res == -EAGAIN || res == -EINTR) && ++op->attempts < kMaxRetries) {
      w.pending.push_front(Tag(op));
      return;
    }
    --w.opening;
    delete op;
    PlanOpened(job, res >= 0 ? res : -1, res < 0 ? -res : 0);
  }

  // Collects a finished piece; the reads it completes are reported in one FinishReads per
  // batch of completions (one lock instead of one per read).
  void PieceDone(RingWorker& w, Piece* p, Status status) {
    InFlightRead* f = p->owner;
    if (!status.ok() && f->status.ok()) f->status = std::move(status);
    if (--f->left > 0) return;
    DeviceRead* read = f->read;
    w.finished.push_back(FinishedRead{read, std::move(f->status)});
    delete f;
  }

  void PrepareWriteOp(io_uring_sqe* sqe, WriteOp* op) {
    switch (op->step) {
      case WriteOp::Step::kOpen:
        io_uring_prep_openat(sqe, AT_FDCWD, op->job->path.c_str(),
                             WriteOpenFlags(op->request->write) | (op->direct ? O_DIRECT : 0),
                             kWriteFileMode);
        break;
      case WriteOp::Step::kSync:
        io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC);
        break;
      case WriteOp::Step::kClose:
        io_uring_prep_close(sqe, op->fd);
        break;
      case WriteOp::Step::kWrite:
        break;  // pieces are queued as WritePiece tags
    }
    io_uring_sqe_set_data64(sqe, Tag(op));
  }

  // Leaves O_DIRECT for the rest of this write's file (the unaligned tail, or after EINVAL).
  bool LeaveDirect(WriteOp* op) {
    if (!op->direct) return true;
    if (const int err = ClearDirect(op->fd); err != 0) {
      if (op->status.ok()) op->status = ErrnoToStatus(err, "fcntl (leaving O_DIRECT)");
      return false;
    }
    op->direct = false;
    return true;
  }

  // The next step of a write whose pieces have all finished (or that had none).
  void AfterPieces(RingWorker& w, WriteOp* op) {
    op->step = op->status.ok() && op->request->write.sync ? WriteOp::Step::kSync
                                                          : WriteOp::Step::kClose;
    op->attempts = 0;
    w.pending.push_back(Tag(op));
  }

  void FinishWriteOp(RingWorker& w, WriteOp* op) {
    --w.writing;
    FileJob* job = op->job;
    Status status = std::move(op->status);
    delete op;
    FinishWrite(job, std::move(status));
  }

  void HandleWriteOp(RingWorker& w, WriteOp* op, int res) {
    // Asked after any injected fault has replaced `res`.
    auto retry = [&] {
      return (res == -EAGAIN || res == -EINTR) && op->attempts + 1 < kMaxRetries;
    };
    switch (op->step) {
      case WriteOp::Step::kOpen: {
        if (op->direct && w.faults && w.faults->open_direct) {
          if (const int err = w.faults->open_direct(op->job->path); err != 0) {
            if (res >= 0) ::close(res);
            res = -err;
          }
        }
        if (retry()) {
          ++op->attempts;
          w.pending.push_front(Tag(op));
          return;
        }
        if (res == -EINVAL && op->direct) {
          op->direct = false;  // the file system refuses O_DIRECT: write through the cache
          w.pending.push_front(Tag(op));
          return;
        }
        if (res == -ENOENT && op->request->write.create_parents && !op->parents_created) {
          op->parents_created = true;
          if (const int err = CreateParentDirectories(op->job->path); err != 0) {
            op->status = ErrnoToStatus(err, "creating its parent directories");
            FinishWriteOp(w, op);
            return;
          }
          w.pending.push_front(Tag(op));
          return;
        }
        if (res < 0) {
          op->status = ErrnoToStatus(res, "open");
          FinishWriteOp(w, op);
          return;
        }
        op->fd = res;
        AddFileOpened();
        const uint64_t size = op->request->data.size();
        if (size == 0) {
          AfterPieces(w, op);
          return;
        }
        op->step = WriteOp::Step::kWrite;
        const uint64_t direct_end =
            op->direct ? size / kDirectWriteAlign * kDirectWriteAlign : size;
        op->tail.owner = op;
        op->tail.begin = direct_end;
        op->tail.end = size;
        // kPieceBytes is a multiple of kDirectWriteAlign: every piece starts aligned.
        const uint64_t count = (direct_end + kPieceBytes - 1) / kPieceBytes;
        op->pieces.resize(count);
        op->left = count;
        for (uint64_t i = 0; i < count; ++i) {
          WritePiece& p = op->pieces[i];
          p.owner = op;
          p.begin = i * kPieceBytes;
          p.end = std::min(direct_end, p.begin + kPieceBytes);
          w.pending.push_back(Tag(&p));
        }
        return;
      }
      case WriteOp::Step::kSync: {
        if (res == 0 && w.faults && w.faults->sync) {
          if (const int err = w.faults->sync(op->job->path); err != 0) res = -err;
        }
        if (retry()) {
          ++op->attempts;
          w.pending.push_front(Tag(op));
          return;
        }
        if (res < 0) op->status = ErrnoToStatus(res, "fdatasync");
        op->step = WriteOp::Step::kClose;
        w.pending.push_front(Tag(op));
        return;
      }
      case WriteOp::Step::kClose:
        // The descriptor is gone whatever close returns; EINTR says nothing about the data.
        if (res < 0 && res != -EINTR && op->status.ok()) op->status = ErrnoToStatus(res, "close");
        op->fd = -1;
        FinishWriteOp(w, op);
        return;
      case WriteOp::Step::kWrite:
        return;  // not submitted as such
    }
  }

  void HandleWritePiece(RingWorker& w, WritePiece* p, int res) {
    WriteOp* op = p->owner;
    const std::string& path = op->job->path;
    if (res >= 0 && w.faults && w.faults->write) {
      if (const int err = w.faults->write(path, p->issued_direct); err != 0) res = -err;
    }
    if (res > 0 && w.faults && w.faults->short_write) {
      const uint64_t cap = w.faults->short_write(path);
      if (cap > 0 && static_cast<uint64_t>(res) > cap) res = static_cast<int>(cap);
    }
    const uint64_t at = p->begin + p->done;
    Status failed;
    if (res < 0) {
      if ((res == -EAGAIN || res == -EINTR) && ++p->attempts < kMaxRetries) {
        w.pending.push_front(Tag(p));
        return;
      }
      // O_DIRECT refused at write time (or a short direct write left an unaligned offset):
      // the rest of the file goes through the page cache.
      if (res == -EINVAL && p->issued_direct && LeaveDirect(op)) {
        w.pending.push_front(Tag(p));
        return;
      }
      failed = ErrnoToStatus(res, "write at byte " + std::to_string(at));
    } else if (res == 0) {
      // A write of a nonzero count that makes no progress would loop forever.
      failed = IOError("write at byte " + std::to_string(at) + " wrote nothing");
    } else {
      AddBytesWritten(static_cast<uint64_t>(res));
      if (p->issued_direct) AddBytesWrittenDirect(static_cast<uint64_t>(res));
      p->done += static_cast<uint64_t>(res);
      if (p->begin + p->done < p->end) {
        w.pending.push_front(Tag(p));  // short write: write the rest
        return;
      }
    }
    if (!failed.ok() && op->status.ok()) op->status = std::move(failed);
    if (--op->left > 0) return;
    if (op->status.ok() && !op->tail_queued && op->tail.begin < op->tail.end) {
      op->tail_queued = true;
      if (LeaveDirect(op)) {
        op->left = 1;
        w.pending.push_back(Tag(&op->tail));
        return;
      }
    }
    AfterPieces(w, op);
  }

  void HandleCompletion(RingWorker& w, io_uring_cqe* cqe) {
    const uint64_t tag = io_uring_cqe_get_data64(cqe);
    --w.in_flight;
    int res = cqe->res;
    switch (KindOf(tag)) {
      case kFileOp:
        HandleFileOp(w, As<FileOp>(tag), res);
        return;
      case kWriteOp:
        HandleWriteOp(w, As<WriteOp>(tag), res);
        return;
      case kWritePiece:
        HandleWritePiece(w, As<WritePiece>(tag), res);
        return;
      case kReadPiece:
        break;
    }
    Piece* p = As<Piece>(tag);
    DeviceRead* read = p->owner->read;
    if (res >= 0 && w.faults && w.faults->read) {
      if (int err = w.faults->read(read->file->path, p->issued_direct); err != 0) res = -err;
    }
    if (res > 0 && w.faults && w.faults->short_read) {
      const uint64_t cap = w.faults->short_read(read->file->path);
      if (cap > 0 && static_cast<uint64_t>(res) > cap) res = static_cast<int>(cap);
    }
    if (res < 0) {
      if ((res == -EAGAIN || res == -EINTR) && ++p->attempts < kMaxRetries) {
        w.pending.push_front(Tag(p));
        return;
      }
      // O_DIRECT refused at read time (some FUSE and network file systems): retry buffered.
      if (res == -EINVAL && p->issued_direct && FallBackToBuffered(read)) {
        w.pending.push_front(Tag(p));
        return;
      }
      PieceDone(w, p, ErrnoToStatus(res, "io_uring read"));
      return;
    }
    AddDeviceBytes(static_cast<uint64_t>(res));
    p->done += static_cast<uint64_t>(res);
    const uint64_t at = p->begin + p->done;
    // Past `needed` only alignment padding is left, which may lie beyond the end of the file.
    if (at >= p->end || at >= read->needed) {
      PieceDone(w, p, Status::OK());
      return;
    }
    if (res == 0) {
      PieceDone(w, p,
                IOError("unexpected end of file at byte " + std::to_string(read->offset + at) +
                        " (did the file shrink while being read?)"));
      return;
    }
    w.pending.push_front(Tag(p));  // short read: ask for the rest
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
