#pragma once

// The backend-neutral half of the IO engine: groups, ordering, planning (open + statx +
// coalesce), the bytes-in-flight budget and delivery. A backend (io_uring, pread) only runs
// worker threads that ask the core for work (TakeWork), perform it, and report back
// (FinishRead / FinishReads, Plan or PlanStat + PlanOpened, FinishWrite). Everything here is
// private to src/io.
//
// Scheduling rules, which together give the contract's guarantees:
//  * Planning is FIFO over all groups (plan_queue_), at most max_open_files_ files are open
//    (a quarter of RLIMIT_NOFILE, at most 1024), and planning stops while queue_depth x
//    threads planned reads wait to be issued.
//  * Reads are issued FIFO at group granularity: a read of group g is issued only when every
//    earlier group has all its files planned and all its reads issued (the "issue frontier").
//    Reads already issued finish without needing budget, and a group's completions become
//    deliverable once all earlier groups are delivered, so everything the engine holds drains
//    as the consumer releases buffers: the engine never deadlocks on its own budget.
//  * A read is issued only while the charge (bytes of pool blocks not yet released) is below
//    the budget, and its buffer is acquired under the same lock, so the charge never exceeds
//    budget + one read.
//  * Every device read completes its requests as soon as it finishes (not per file), so a
//    file bigger than the budget streams.
//  * A write is one FileJob of its own (a path written in a group has no other request
//    there). It waits in the same FIFO plan queue as the files to read and is handed out by
//    TakeWork (Work::writes) under the same open-file limit; the backend then opens, writes,
//    syncs and closes it on its own and reports once (FinishWrite). Writes do not hold the
//    issue frontier (a group's pending writes do not delay later groups' reads) and are not
//    gated by the budget (they allocate nothing); their bytes count in bytes_in_flight()
//    until FinishWrite, which gates Submit only.

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "lsio/base/buffer.h"
#include "lsio/io/coalesce.h"
#include "lsio/io/engine.h"

namespace lsio::io::internal {

struct Group;
struct FileJob;

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_ = -1;
};

// One read the kernel performs into one buffer, serving one or more requests (after
// coalescing). May take several system calls: short reads and pieces of at most kMaxIoBytes.
struct DeviceRead {
  FileJob* file = nullptr;
  uint64_t offset = 0;  // file offset of buffer byte 0 (aligned when direct)
  uint64_t length = 0;  // bytes asked of the kernel (aligned when direct)
  uint64_t needed = 0;  // bytes that must arrive; past this, end of file is fine
  Buffer buffer;
  std::vector<CoalescedRange::Part> parts;  // Part::index indexes FileJob::requests
  // Progress of the pread backend (the io_uring backend keeps its own per piece).
  uint64_t done = 0;           // bytes read so far
  int attempts = 0;            // EAGAIN/EINTR retries, bounded
  bool issued_direct = false;  // whether the last pread was issued with O_DIRECT
};

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif
// What planning asks statx for: type, size and O_DIRECT alignment.
inline constexpr unsigned kStatxMask = STATX_TYPE | STATX_SIZE | STATX_DIOALIGN;

// One distinct path of one group.
struct FileJob {
  Group* group = nullptr;
  std::string path;
  std::vector<size_t> requests;  // indices into Group::requests
  // Resolved [offset, offset + length) of each request (parallel to `requests`).
  std::vector<ByteRange> ranges;
  UniqueFd fd;
  std::atomic<bool> direct{false};  // flips to false once if O_DIRECT is refused at read time
  uint64_t size = 0;
  uint64_t align = 1;          // O_DIRECT offset alignment
  Status file_error;           // stat or open failed: every request fails with it
  std::vector<Status> errors;  // per request (parallel to `requests`), while planning
  struct statx stx {};         // filled by an asynchronous statx (io_uring backend)
  std::vector<std::unique_ptr<DeviceRead>> reads;
  size_t reads_unfinished = 0;
  // A write job: requests holds its one request, whose `data` is written to `path`.
  bool write = false;
};

struct Group {
  uint64_t id = 0;
  std::vector<IoRequest> requests;
  std::vector<std::unique_ptr<FileJob>> files;
  size_t unplanned_files = 0;  // files to read not yet planned (write jobs are not counted)
  std::deque<DeviceRead*> issuable;  // planned, waiting for a queue slot and budget
  size_t remaining = 0;              // requests not yet completed
  std::deque<Completion> ready;      // completed, not yet delivered
  int pins = 0;                      // reads in flight + files being planned, outside the lock
};

// Work handed to one worker thread by TakeWork.
struct Work {
  std::vector<DeviceRead*> reads;  // buffers acquired; issue them
  std::vector<FileJob*> plans;     // plan them with Plan()
  std::vector<FileJob*> writes;    // carry them out, then FinishWrite()
  bool exit = false;               // shut down and nothing of this worker's left: return
};

// Per-worker state the core needs for its decisions.
struct WorkerLimits {
  size_t read_slots = 0;  // how many more reads this worker can have in flight
  size_t max_plans = 1;   // how many files it may take to plan or write now (both count)
};

class EngineCore : public Engine {
 public:
  explicit EngineCore(const EngineOptions& options);
  ~EngineCore() override;

  Result<uint64_t> Submit(std::vector<IoRequest> group) override;
  Result<uint64_t> TrySubmit(std::vector<IoRequest>& group) override;
  bool Next(Completion* out) override;
  bool NextFor(Completion* out, int timeout_ms) override;
  void Shutdown() override;
  BufferPool& pool() override { return *pool_; }
  EngineStats stats() const override;
  uint64_t bytes_in_flight() const override;

  // --- for backends ---
  const EngineOptions& options() const { return options_; }
  // A value that changes whenever something a worker might wait for happens (new work, budget
  // freed, shutdown). Read it before TakeWork and pass it to WaitForChange.
  uint64_t change_seq() const;
  // Waits until change_seq() != seen, or until timeout_ms (< 0: no timeout) has passed.
  void WaitForChange(uint64_t seen, int timeout_ms = -1);
  Work TakeWork(const WorkerLimits& limits);
  // Stats and opens the file and coalesces its requests into device reads (system calls, no
  // lock held), then publishes them. Requests that fail here complete at once.
  void Plan(FileJob* job);
  // The same in two steps, for a backend that stats and opens asynchronously:
  // PlanStat takes the statx outcome (err = errno, or 0 and `stx`), resolves the ranges and
  // decides O_DIRECT (job->direct); it returns whether the file must be opened (O_DIRECT if
  // job->direct). DirectRefusedAtOpen switches the job to buffered after EINVAL at open.
  // PlanOpened takes the open outcome (fd >= 0, or open_err; fd -1 and open_err 0 when
  // PlanStat said no open is needed), builds the reads and publishes everything.
  bool PlanStat(FileJob* job, const struct statx* stx, int err);
  void DirectRefusedAtOpen(FileJob* job);
  void PlanOpened(FileJob* job, int fd, int open_err);
  // Reports a finished device read (status OK: its bytes are in the buffer).
  void FinishRead(DeviceRead* read, Status status);
  // The same for several reads under one lock (a batch of completions).
  struct FinishedRead {
    DeviceRead* read;
    Status status;
  };
  void FinishReads(std::span<FinishedRead> finished);
  // Called by a backend when O_DIRECT was refused with EINVAL at read time: switches the file
  // to buffered reads (once) and tells whether the read should simply be retried.
  bool FallBackToBuffered(DeviceRead* read);
  void AddDeviceReads(uint64_t n) { device_reads_.fetch_add(n, std::memory_order_relaxed); }
  void AddDeviceBytes(uint64_t n) { bytes_device_.fetch_add(n, std::memory_order_relaxed); }

  // The request a write job carries out.
  static const IoRequest& WriteRequestOf(const FileJob* job) {
    return job->group->requests[job->requests.front()];
  }
  // Reports a write taken from Work::writes as finished (its file closed): completes its
  // request with `status` (the cause alone; the path is added here) and drops the engine's
  // reference to its bytes. Must be called exactly once per write job.
  void FinishWrite(FileJob* job, Status status);
  // Carries out a write job with blocking system calls on the calling thread (the pread
  // backend; the io_uring backend when its kernel cannot open files through the ring) and
  // reports it with FinishWrite.
  void WriteBlocking(FileJob* job);
  void AddDeviceWrites(uint64_t n) { device_writes_.fetch_add(n, std::memory_order_relaxed); }
  void AddBytesWritten(uint64_t n) { bytes_written_.fetch_add(n, std::memory_order_relaxed); }
  void AddBytesWrittenDirect(uint64_t n) {
    bytes_written_direct_.fetch_add(n, std::memory_order_relaxed);
  }
  // Whether a write starts with O_DIRECT: options().direct, at least kDirectWriteAlign bytes,
  // and the bytes start on a kDirectWriteAlign boundary. Its first
  // size / kDirectWriteAlign * kDirectWriteAlign bytes are then written with O_DIRECT, the
  // rest through the page cache (after ClearDirect); EINVAL at open or at a write switches the
  // file to buffered writes.
  bool WriteDirectly(const IoRequest& r) const;
  void AddFileOpened() { files_opened_.fetch_add(1, std::memory_order_relaxed); }

 protected:
  friend class DeferWakes;
  void Wake();

 private:
  Result<uint64_t> Enqueue(std::vector<IoRequest>& group);
  bool Drain(Completion* out, int timeout_ms);
  Group* IssueFrontier();
  void CompleteRequest(Group* group, size_t index, Status status, Buffer data);
  // Drops one pin of `group`; after Shutdown, hands back a dropped group that nobody uses any
  // more (to be destroyed outside the lock).
  std::unique_ptr<Group> Unpin(Group* group);
  // Whether reads may be issued: read buffers charged below the budget.
  bool BudgetAvailable() const;
  // Whether a group may be submitted: read buffers plus pending writes below the budget.
  bool SubmitBudgetAvailable() const;

  const EngineOptions options_;
  // Shared with the pool's on_release hook, which may outlive this object.
  struct WakeState;
  std::shared_ptr<WakeState> wake_;
  size_t max_open_files_ = 0;
  size_t plan_lookahead_ = 0;
  std::unique_ptr<BufferPool> pool_;

  mutable std::mutex mu_;
  bool shutdown_ = false;
  uint64_t next_group_id_ = 0;
  std::deque<std::unique_ptr<Group>> groups_;  // undelivered, in id order
  size_t issue_cursor_ = 0;  // groups_[0, issue_cursor_) have planned and issued everything
  std::deque<FileJob*> plan_queue_;
  size_t open_files_ = 0;
  size_t issuable_total_ = 0;  // planned reads not yet issued, all groups
  size_t reads_in_flight_ = 0;
  // Bytes of writes submitted and not yet finished (dropped ones leave at Shutdown).
  std::atomic<uint64_t> write_bytes_pending_{0};
  std::vector<std::unique_ptr<Group>> dropped_;  // shut down while still pinned

  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> bytes_device_{0};
  std::atomic<uint64_t> requests_done_{0};
  std::atomic<uint64_t> device_reads_{0};
  std::atomic<uint64_t> files_opened_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> device_writes_{0};
  std::atomic<uint64_t> writes_done_{0};
  std::atomic<uint64_t> bytes_written_direct_{0};
};

// While alive, the calling thread's wake-ups of waiters (consumers in Next, workers waiting
// for work) are collected and sent once at destruction: a backend reaping a batch of 30
// completions wakes the consumer once, not 30 times.
class DeferWakes {
 public:
  explicit DeferWakes(EngineCore* core);
  ~DeferWakes();
  DeferWakes(const DeferWakes&) = delete;
  DeferWakes& operator=(const DeferWakes&) = delete;

 private:
  EngineCore* core_;
};

// Largest piece asked of the kernel in one read or write; bigger device reads and writes go in
// pieces, like short ones. (Linux caps one read or write at 2 GiB - 4 KiB anyway.)
inline constexpr uint64_t kMaxIoBytes = uint64_t{1} << 30;
// EAGAIN/EINTR retries of one read or write before giving up with the error.
inline constexpr int kMaxRetries = 1000;

// How a write opens its file.
inline int WriteOpenFlags(const WriteOptions& options) {
  return O_WRONLY | O_CREAT | O_CLOEXEC | (options.exclusive ? O_EXCL : O_TRUNC);
}
inline constexpr mode_t kWriteFileMode = 0644;
// Offset, length and memory alignment of O_DIRECT writes. The file does not exist before the
// write, so statx cannot tell its file system's alignment; 4096 is a multiple of every
// logical block size in use (512, 4096) and is the alignment of every pool Buffer. A file
// system that wants more refuses with EINVAL, and the write falls back to buffered.
inline constexpr uint64_t kDirectWriteAlign = 4096;

// Clears O_DIRECT on `fd` (no-op when not set). Returns 0 or the errno of fcntl.
int ClearDirect(int fd);

struct FaultInjection;
// kMaxIoBytes, or the test override of it.
uint64_t MaxIoBytes(const FaultInjection* faults);

// Creates the missing directories above `path` (mode 0755), like `mkdir -p $(dirname path)`.
// Returns 0 or the errno of the mkdir that failed (ENOTDIR when a component is a file).
int CreateParentDirectories(const std::string& path);

// "writing <path>": the context of a write's errors.
std::string WriteContext(const std::string& path);

}  // namespace lsio::io::internal
