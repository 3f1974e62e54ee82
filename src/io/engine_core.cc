#include "engine_core.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <unordered_map>
#include <utility>

#include "fault_injection.h"

namespace lsio::io::internal {

namespace {

std::string RangeText(const IoRequest& r) {
  if (r.offset == 0 && r.length == IoRequest::kToEnd) return "(whole file)";
  if (r.length == IoRequest::kToEnd) return "bytes [" + std::to_string(r.offset) + ", end)";
  if (r.offset >= 0 && r.length >= 0) {
    return "bytes [" + std::to_string(r.offset) + ", " + std::to_string(r.offset + r.length) + ")";
  }
  return "offset " + std::to_string(r.offset) + " length " + std::to_string(r.length);
}

std::string ReadContext(const std::string& path, const IoRequest& r) {
  return "reading " + path + " " + RangeText(r);
}

std::string RequestContext(const std::string& path, const IoRequest& r) {
  return r.op == IoOp::kWrite ? WriteContext(path) : ReadContext(path, r);
}

// Resolves a request against the file size: negative offsets count from the end, kToEnd
// reaches the end. Ranges outside the file are the request's error, not the engine's.
Result<ByteRange> ResolveRange(const IoRequest& r, uint64_t size) {
  if (r.file_size && *r.file_size != size) {
    return OutOfRangeError("the file holds " + std::to_string(size) + " bytes, not the " +
                           std::to_string(*r.file_size) + " expected");
  }
  if (r.length < IoRequest::kToEnd) {
    return InvalidArgumentError("negative length " + std::to_string(r.length));
  }
  uint64_t offset;
  if (r.offset < 0) {
    const uint64_t back = uint64_t{0} - static_cast<uint64_t>(r.offset);
    if (back > size) {
      return OutOfRangeError("offset " + std::to_string(r.offset) +
                             " is before the start of the file (size " + std::to_string(size) +
                             ")");
    }
    offset = size - back;
  } else {
    offset = static_cast<uint64_t>(r.offset);
    if (offset > size) {
      return OutOfRangeError("offset " + std::to_string(offset) +
                             " is past the end of the file (size " + std::to_string(size) + ")");
    }
  }
  const uint64_t length =
      r.length == IoRequest::kToEnd ? size - offset : static_cast<uint64_t>(r.length);
  if (length > size - offset) {
    return OutOfRangeError("range ends at " + std::to_string(offset + length) +
                           ", past the end of the file (size " + std::to_string(size) + ")");
  }
  if (length > r.max_length) {
    return OutOfRangeError(std::to_string(length) + " bytes to read exceed the limit of " +
                           std::to_string(r.max_length) + " set for this read");
  }
  return ByteRange{offset, length};
}

size_t MaxOpenFiles() {
  rlimit lim{};
  size_t soft = 1024;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) soft = lim.rlim_cur;
  // Leave most descriptors to the rest of the process.
  return std::clamp<size_t>(soft / 4, 16, 1024);
}

}  // namespace

std::string WriteContext(const std::string& path) { return "writing " + path; }

uint64_t MaxIoBytes(const FaultInjection* faults) {
  return faults && faults->max_io_bytes > 0 ? faults->max_io_bytes : kMaxIoBytes;
}

int CreateParentDirectories(const std::string& path) {
  // Walk down from the first component, creating what is missing. EEXIST is fine whatever the
  // entry is: if it is not a directory, the open that follows reports ENOTDIR.
  size_t slash = path.find_first_not_of('/');
  while ((slash = path.find('/', slash)) != std::string::npos) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return errno;
    slash = path.find_first_not_of('/', slash);
    if (slash == std::string::npos) break;
  }
  return 0;
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

void UniqueFd::reset() {
  // close() may report EINTR/EIO; the descriptor is gone either way on Linux, and a read-only
  // file has nothing to flush.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

// A change counter with a condition variable, shared with the pool's release hook (which may
// run after the engine is gone). Waiters read the counter before looking at engine state, so
// a change between that look and the wait is never missed. Notify is called on every buffer
// release and every finished read, so it only takes the mutex when someone waits: the waiter
// counts itself before re-reading the counter and the notifier bumps the counter before
// reading the count (both sequentially consistent), so one of them always sees the other.
struct EngineCore::WakeState {
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<uint64_t> seq{0};
  std::atomic<int> waiters{0};

  void Notify() {
    seq.fetch_add(1);
    if (waiters.load() == 0) return;
    { std::lock_guard lock(mu); }  // a waiter between its check and its wait gets the notify
    cv.notify_all();
  }

  void Wait(uint64_t seen, int timeout_ms) {
    std::unique_lock lock(mu);
    waiters.fetch_add(1);
    auto changed = [&] { return seq.load() != seen; };
    if (timeout_ms < 0) {
      cv.wait(lock, changed);
    } else {
      cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), changed);
    }
    waiters.fetch_sub(1);
  }
};

namespace {
// Set while a backend thread handles a batch of completions: the wake-ups of the whole batch
// become one (see DeferWakes).
thread_local bool t_defer_wakes = false;
thread_local bool t_wake_pending = false;
}  // namespace

DeferWakes::DeferWakes(EngineCore* core) : core_(core) { t_defer_wakes = true; }

DeferWakes::~DeferWakes() {
  t_defer_wakes = false;
  if (t_wake_pending) {
    t_wake_pending = false;
    core_->Wake();
  }
}

EngineCore::EngineCore(const EngineOptions& options)
    : options_(options), wake_(std::make_shared<WakeState>()) {
  BufferPoolOptions pool_options;
  // Keep enough free blocks to serve a steady-state scan without allocating.
  pool_options.max_cached_bytes =
      std::max<uint64_t>(options_.max_bytes_in_flight, uint64_t{16} << 20);
  pool_options.on_release = [wake = wake_] { wake->Notify(); };
  pool_ = std::make_unique<BufferPool>(std::move(pool_options));
  max_open_files_ = MaxOpenFiles();
  const int threads = std::max(options_.threads, 1);
  plan_lookahead_ = static_cast<size_t>(std::max(options_.queue_depth, 1)) * threads;
}

EngineCore::~EngineCore() { Shutdown(); }

uint64_t EngineCore::change_seq() const { return wake_->seq.load(); }

void EngineCore::Wake() {
  if (t_defer_wakes) {
    t_wake_pending = true;
    return;
  }
  wake_->Notify();
}

void EngineCore::WaitForChange(uint64_t seen, int timeout_ms) { wake_->Wait(seen, timeout_ms); }

bool EngineCore::BudgetAvailable() const {
  return pool_->stats().bytes_outstanding < options_.max_bytes_in_flight;
}

bool EngineCore::SubmitBudgetAvailable() const {
  return bytes_in_flight() < options_.max_bytes_in_flight;
}

uint64_t EngineCore::bytes_in_flight() const {
  return pool_->stats().bytes_outstanding + write_bytes_pending_.load(std::memory_order_relaxed);
}

EngineStats EngineCore::stats() const {
  EngineStats s;
  s.bytes_read = bytes_read_.load(std::memory_order_relaxed);
  s.bytes_device = bytes_device_.load(std::memory_order_relaxed);
  s.requests = requests_done_.load(std::memory_order_relaxed);
  s.device_reads = device_reads_.load(std::memory_order_relaxed);
  s.files_opened = files_opened_.load(std::memory_order_relaxed);
  s.bytes_written = bytes_written_.load(std::memory_order_relaxed);
  s.device_writes = device_writes_.load(std::memory_order_relaxed);
  s.writes = writes_done_.load(std::memory_order_relaxed);
  s.bytes_written_direct = bytes_written_direct_.load(std::memory_order_relaxed);
  return s;
}

Result<uint64_t> EngineCore::Enqueue(std::vector<IoRequest>& requests) {
  // Built outside the lock: grouping 20,000 paths is the submitter's work, not the workers'.
  auto group = std::make_unique<Group>();
  group->requests = std::move(requests);
  group->remaining = group->requests.size();
  std::unordered_map<std::string_view, FileJob*> by_path;
  by_path.reserve(group->requests.size());
  for (size_t i = 0; i < group->requests.size(); ++i) {
    const IoRequest& r = group->requests[i];
    auto [it, inserted] = by_path.try_emplace(r.path, nullptr);
    if (inserted) {
      auto job = std::make_unique<FileJob>();
      job->group = group.get();
      job->path = r.path;
      it->second = job.get();
      group->files.push_back(std::move(job));
    }
    it->second->requests.push_back(i);
    it->second->write |= r.op == IoOp::kWrite;
  }
  // Requests that fail before any IO: a written path with other requests on it (their order
  // would be undefined), a write with a range.
  uint64_t write_bytes = 0;
  for (auto& job : group->files) {
    if (!job->write) {
      ++group->unplanned_files;
      continue;
    }
    const IoRequest& r = group->requests[job->requests.front()];
    if (job->requests.size() > 1) {
      job->file_error = InvalidArgumentError(
          "this group has " + std::to_string(job->requests.size()) +
          " requests for a path it writes (a written path may have no other request in its "
          "group)");
    } else if (r.offset != 0 || r.length != IoRequest::kToEnd) {
      job->file_error = InvalidArgumentError(
          "a write replaces the whole file: offset and length must be 0 and kToEnd, not " +
          std::to_string(r.offset) + " and " + std::to_string(r.length));
    } else {
      write_bytes += r.data.size();
    }
  }

  std::unique_lock lock(mu_);
  if (shutdown_) return CancelledError("IO engine is shut down");
  const uint64_t id = next_group_id_++;
  group->id = id;
  for (auto& job : group->files) {
    if (job->file_error.ok()) {
      plan_queue_.push_back(job.get());
      continue;
    }
    for (size_t index : job->requests) {
      const std::string context = RequestContext(job->path, group->requests[index]);
      CompleteRequest(group.get(), index, job->file_error.WithContext(context), Buffer());
    }
  }
  write_bytes_pending_.fetch_add(write_bytes, std::memory_order_relaxed);
  groups_.push_back(std::move(group));
  lock.unlock();
  Wake();
  return id;
}

Result<uint64_t> EngineCore::Submit(std::vector<IoRequest> group) {
  for (;;) {
    const uint64_t seen = change_seq();
    {
      std::lock_guard lock(mu_);
      if (shutdown_) return CancelledError("IO engine is shut down");
      if (SubmitBudgetAvailable()) break;
    }
    WaitForChange(seen);
  }
  return Enqueue(group);
}

Result<uint64_t> EngineCore::TrySubmit(std::vector<IoRequest>& group) {
  {
    std::lock_guard lock(mu_);
    if (shutdown_) return CancelledError("IO engine is shut down");
    if (!SubmitBudgetAvailable()) {
      return ResourceExhaustedError("IO engine: " + std::to_string(bytes_in_flight()) +
                                    " bytes in flight, budget " +
                                    std::to_string(options_.max_bytes_in_flight));
    }
  }
  return Enqueue(group);
}

bool EngineCore::Next(Completion* out) { return Drain(out, -1); }

bool EngineCore::NextFor(Completion* out, int timeout_ms) {
  return Drain(out, std::max(timeout_ms, 0));
}

bool EngineCore::Drain(Completion* out, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  for (;;) {
    const uint64_t seen = change_seq();
    std::unique_ptr<Group> finished;  // destroyed outside the lock
    {
      std::unique_lock lock(mu_);
      if (shutdown_) {
        if (reads_in_flight_ == 0 && dropped_.empty()) return false;
      } else {
        if (groups_.empty()) return false;
        Group* g = groups_.front().get();
        if (!g->ready.empty()) {
          Completion c = std::move(g->ready.front());
          g->ready.pop_front();
          lock.unlock();
          *out = std::move(c);
          return true;
        }
        if (g->remaining == 0 && g->unplanned_files == 0 && g->pins == 0) {
          const uint64_t id = g->id;
          finished = std::move(groups_.front());
          groups_.pop_front();
          if (issue_cursor_ > 0) --issue_cursor_;
          lock.unlock();
          finished.reset();
          *out = Completion{};
          out->kind = Completion::Kind::kEndOfGroup;
          out->group = id;
          return true;
        }
      }
    }
    if (timeout_ms < 0) {
      WaitForChange(seen);
    } else {
      const auto now = Clock::now();
      if (now >= deadline) return false;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
      WaitForChange(seen, static_cast<int>(left));
    }
  }
}

void EngineCore::Shutdown() {
  std::vector<std::unique_ptr<Group>> unused;  // destroyed outside the lock
  {
    std::lock_guard lock(mu_);
    if (!shutdown_) {
      shutdown_ = true;
      // Writes never taken by a worker are dropped: their bytes leave the charge now.
      for (FileJob* job : plan_queue_) {
        if (job->write) {
          write_bytes_pending_.fetch_sub(job->group->requests[job->requests.front()].data.size(),
                                         std::memory_order_relaxed);
        }
      }
      plan_queue_.clear();
      issuable_total_ = 0;
      issue_cursor_ = 0;
      for (auto& g : groups_) {
        g->issuable.clear();
        if (g->pins > 0) {
          dropped_.push_back(std::move(g));
        } else {
          unused.push_back(std::move(g));
        }
      }
      groups_.clear();
    }
  }
  unused.clear();
  Wake();
}

Group* EngineCore::IssueFrontier() {
  while (issue_cursor_ < groups_.size()) {
    Group* g = groups_[issue_cursor_].get();
    if (g->unplanned_files > 0 || !g->issuable.empty()) return g;
    ++issue_cursor_;
  }
  return nullptr;
}

void EngineCore::CompleteRequest(Group* group, size_t index, Status status, Buffer data) {
  const IoRequest& r = group->requests[index];
  Completion c;
  c.kind = r.op == IoOp::kWrite ? Completion::Kind::kWrite : Completion::Kind::kRead;
  c.group = group->id;
  c.tag = r.tag;
  c.status = std::move(status);
  c.data = std::move(data);
  group->ready.push_back(std::move(c));
  --group->remaining;
  requests_done_.fetch_add(1, std::memory_order_relaxed);
  if (r.op == IoOp::kWrite) writes_done_.fetch_add(1, std::memory_order_relaxed);
}

std::unique_ptr<Group> EngineCore::Unpin(Group* group) {
  --group->pins;
  if (!shutdown_ || group->pins > 0) return nullptr;
  for (auto it = dropped_.begin(); it != dropped_.end(); ++it) {
    if (it->get() == group) {
      std::unique_ptr<Group> g = std::move(*it);
      dropped_.erase(it);
      return g;
    }
  }
  return nullptr;
}

Work EngineCore::TakeWork(const WorkerLimits& limits) {
  Work work;
  std::lock_guard lock(mu_);
  if (shutdown_) {
    work.exit = true;
    return work;
  }
  while (work.reads.size() < limits.read_slots) {
    Group* g = IssueFrontier();
    if (g == nullptr || g->issuable.empty()) break;
    if (!BudgetAvailable()) break;
    DeviceRead* read = g->issuable.front();
    g->issuable.pop_front();
    --issuable_total_;
    Result<Buffer> buffer = pool_->Acquire(read->length);
    ++g->pins;
    ++reads_in_flight_;
    if (!buffer.ok()) {
      // Out of memory is this read's failure; its requests report it.
      FileJob* file = read->file;
      for (const auto& part : read->parts) {
        const size_t index = file->requests[part.index];
        CompleteRequest(g, index,
                        buffer.status().WithContext(ReadContext(file->path, g->requests[index])),
                        Buffer());
      }
      --reads_in_flight_;
      --g->pins;
      if (--file->reads_unfinished == 0) {
        file->fd.reset();
        --open_files_;
      }
      continue;
    }
    read->buffer = std::move(buffer).value();
    work.reads.push_back(read);
  }
  while (work.plans.size() + work.writes.size() < limits.max_plans && !plan_queue_.empty() &&
         open_files_ < max_open_files_ && issuable_total_ < plan_lookahead_) {
    FileJob* job = plan_queue_.front();
    plan_queue_.pop_front();
    ++open_files_;
    ++job->group->pins;
    (job->write ? work.writes : work.plans).push_back(job);
  }
  return work;
}

void EngineCore::Plan(FileJob* job) {
  struct statx stx {};
  int err = 0;
  if (::statx(AT_FDCWD, job->path.c_str(), AT_STATX_SYNC_AS_STAT, kStatxMask, &stx) != 0) {
    err = errno;
  }
  if (!PlanStat(job, err == 0 ? &stx : nullptr, err)) {
    PlanOpened(job, -1, 0);
    return;
  }
  const FaultInjection* faults = ActiveFaults();
  int fd = -1;
  int open_err = 0;
  if (job->direct.load(std::memory_order_relaxed)) {
    open_err = faults && faults->open_direct ? faults->open_direct(job->path) : 0;
    if (open_err == 0) {
      fd = ::open(job->path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
      if (fd < 0) open_err = errno;
    }
    if (fd < 0 && open_err == EINVAL) {
      DirectRefusedAtOpen(job);
      open_err = 0;
    }
  }
  if (fd < 0 && open_err == 0) {
    fd = ::open(job->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) open_err = errno;
  }
  PlanOpened(job, fd, open_err);
}

bool EngineCore::PlanStat(FileJob* job, const struct statx* stx, int err) {
  const IoRequest* const requests = job->group->requests.data();
  job->errors.assign(job->requests.size(), Status::OK());
  job->ranges.assign(job->requests.size(), ByteRange{});
  if (err == 0 && S_ISDIR(stx->stx_mode)) err = EISDIR;
  if (err != 0) {
    job->file_error = ErrnoToStatus(err, "");
    return false;
  }
  if (!S_ISREG(stx->stx_mode)) {
    // FIFOs and devices would block or have no size; only regular files are read.
    job->file_error = InvalidArgumentError("not a regular file");
    return false;
  }
  job->size = stx->stx_size;
  bool any_valid = false;
  for (size_t i = 0; i < job->requests.size(); ++i) {
    Result<ByteRange> range = ResolveRange(requests[job->requests[i]], job->size);
    if (range.ok()) {
      job->ranges[i] = *range;
      any_valid = true;
    } else {
      job->errors[i] = range.status();
    }
  }
  // O_DIRECT needs offsets, lengths and memory aligned as the file system says (statx
  // STATX_DIOALIGN, Linux 6.1); without that information, 4096 is safe on every device.
  bool direct = options_.direct;
  job->align = 4096;
  if (direct && (stx->stx_mask & STATX_DIOALIGN)) {
    if (stx->stx_dio_offset_align == 0 || stx->stx_dio_mem_align > kBufferAlignment) {
      direct = false;  // the file system says it cannot do direct IO on this file
    } else {
      job->align = std::max<uint64_t>(stx->stx_dio_offset_align, 512);
    }
  }
  job->direct.store(direct, std::memory_order_relaxed);
  // Open even when every range is empty, so that an unreadable file reports it.
  return any_valid;
}

void EngineCore::DirectRefusedAtOpen(FileJob* job) {
  // EINVAL: the file system refuses O_DIRECT (tmpfs before Linux 6.6, overlayfs, FUSE); read
  // this file through the page cache instead.
  job->direct.store(false, std::memory_order_relaxed);
}

void EngineCore::PlanOpened(FileJob* job, int fd, int open_err) {
  if (job->file_error.ok() && open_err != 0) job->file_error = ErrnoToStatus(open_err, "");
  const bool opened = fd >= 0 && job->file_error.ok();
  if (fd >= 0) {
    job->fd = UniqueFd(fd);
    files_opened_.fetch_add(1, std::memory_order_relaxed);
  }
  const bool direct = job->direct.load(std::memory_order_relaxed);

  std::vector<std::unique_ptr<DeviceRead>> reads;
  std::vector<size_t> empty_ok;  // valid zero-length requests: complete with no bytes
  if (opened) {
    std::vector<ByteRange> to_read;
    std::vector<size_t> slot_of;
    for (size_t i = 0; i < job->requests.size(); ++i) {
      if (!job->errors[i].ok()) continue;
      if (job->ranges[i].length == 0) {
        empty_ok.push_back(i);
        continue;
      }
      to_read.push_back(job->ranges[i]);
      slot_of.push_back(i);
    }
    CoalesceOptions co;
    co.max_gap = options_.coalesce_max_gap;
    co.max_size = std::max<uint64_t>(options_.coalesce_max_size, 1);
    co.alignment = direct ? job->align : 1;
    for (CoalescedRange& merged : CoalesceRanges(to_read, co)) {
      auto read = std::make_unique<DeviceRead>();
      read->file = job;
      read->offset = merged.range.offset;
      read->length = merged.range.length;
      for (auto& part : merged.parts) {
        const size_t slot = slot_of[part.index];
        read->needed = std::max(read->needed, part.offset_in_range + job->ranges[slot].length);
        read->parts.push_back(CoalescedRange::Part{slot, part.offset_in_range});
      }
      reads.push_back(std::move(read));
    }
  }

  UniqueFd close_now;  // closed outside the lock when no read needs the file
  std::unique_ptr<Group> dead;
  {
    std::lock_guard lock(mu_);
    Group* g = job->group;
    if (!shutdown_) {
      for (size_t i = 0; i < job->requests.size(); ++i) {
        const size_t index = job->requests[i];
        if (!job->errors[i].ok()) {
          CompleteRequest(g, index,
                          job->errors[i].WithContext(ReadContext(job->path, g->requests[index])),
                          Buffer());
        } else if (!job->file_error.ok()) {
          // The cause alone (ErrnoToStatus with empty context), after the path and range.
          CompleteRequest(g, index,
                          job->file_error.WithContext(ReadContext(job->path, g->requests[index])),
                          Buffer());
        }
      }
      for (size_t i : empty_ok) CompleteRequest(g, job->requests[i], Status::OK(), Buffer());
      job->reads_unfinished = reads.size();
      for (auto& r : reads) {
        g->issuable.push_back(r.get());
        job->reads.push_back(std::move(r));
      }
      issuable_total_ += job->reads_unfinished;
      if (job->reads_unfinished == 0) {
        close_now = std::move(job->fd);
        --open_files_;
      }
    }
    // Last touch of `job`: once unlocked, the consumer may finish and free the group.
    std::vector<Status>().swap(job->errors);
    --g->unplanned_files;
    dead = Unpin(g);
  }
  close_now.reset();
  dead.reset();
  Wake();
}

bool EngineCore::FallBackToBuffered(DeviceRead* read) {
  FileJob* file = read->file;
  bool expected = true;
  if (file->direct.compare_exchange_strong(expected, false)) {
    const int flags = ::fcntl(file->fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(file->fd.get(), F_SETFL, flags & ~O_DIRECT) != 0) return false;
  }
  return true;
}

void EngineCore::FinishRead(DeviceRead* read, Status status) {
  FinishedRead one{read, std::move(status)};
  FinishReads(std::span<FinishedRead>(&one, 1));
}

void EngineCore::FinishReads(std::span<FinishedRead> finished) {
  // Buffers, descriptors and dead groups are let go after the lock is dropped.
  std::vector<Buffer> buffers;
  std::vector<UniqueFd> to_close;
  std::vector<std::unique_ptr<Group>> dead;
  buffers.reserve(finished.size());
  for (FinishedRead& f : finished) buffers.push_back(std::move(f.read->buffer));
  {
    std::lock_guard lock(mu_);
    for (size_t k = 0; k < finished.size(); ++k) {
      DeviceRead* read = finished[k].read;
      const Status& status = finished[k].status;
      const Buffer& buffer = buffers[k];
      FileJob* file = read->file;
      Group* g = file->group;
      --reads_in_flight_;
      if (!shutdown_) {
        uint64_t delivered = 0;
        for (const auto& part : read->parts) {
          const size_t index = file->requests[part.index];
          if (status.ok()) {
            const uint64_t length = file->ranges[part.index].length;
            CompleteRequest(g, index, Status::OK(), buffer.Slice(part.offset_in_range, length));
            delivered += length;
          } else {
            CompleteRequest(g, index,
                            status.WithContext(ReadContext(file->path, g->requests[index])),
                            Buffer());
          }
        }
        bytes_read_.fetch_add(delivered, std::memory_order_relaxed);
      }
      if (--file->reads_unfinished == 0) {
        to_close.push_back(std::move(file->fd));
        if (!shutdown_) --open_files_;
      }
      if (std::unique_ptr<Group> d = Unpin(g)) dead.push_back(std::move(d));
    }
  }
  buffers.clear();
  to_close.clear();
  dead.clear();
  Wake();
}

void EngineCore::FinishWrite(FileJob* job, Status status) {
  Buffer data;  // the engine's reference to the written bytes, let go outside the lock
  std::unique_ptr<Group> dead;
  {
    std::lock_guard lock(mu_);
    Group* g = job->group;
    const size_t index = job->requests.front();
    data = std::move(g->requests[index].data);
    write_bytes_pending_.fetch_sub(data.size(), std::memory_order_relaxed);
    if (!shutdown_) {
      CompleteRequest(g, index, status.WithContext(WriteContext(job->path)), Buffer());
      --open_files_;
    }
    dead = Unpin(g);
  }
  data.reset();
  dead.reset();
  Wake();
}

bool EngineCore::WriteDirectly(const IoRequest& r) const {
  return options_.direct && r.data.size() >= kDirectWriteAlign &&
         reinterpret_cast<uintptr_t>(r.data.data()) % kDirectWriteAlign == 0;
}

void EngineCore::WriteBlocking(FileJob* job) {
  const IoRequest& r = WriteRequestOf(job);
  const FaultInjection* faults = ActiveFaults();
  const char* path = job->path.c_str();
  bool direct = WriteDirectly(r);
  auto open_file = [&]() -> int {
    if (direct && faults && faults->open_direct) {
      if (const int err = faults->open_direct(job->path); err != 0) {
        errno = err;
        return -1;
      }
    }
    return ::open(path, WriteOpenFlags(r.write) | (direct ? O_DIRECT : 0), kWriteFileMode);
  };
  int fd = open_file();
  if (fd < 0 && errno == ENOENT && r.write.create_parents) {
    if (const int err = CreateParentDirectories(job->path); err != 0) {
      FinishWrite(job, ErrnoToStatus(err, "creating its parent directories"));
      return;
    }
    fd = open_file();
  }
  if (fd < 0 && errno == EINVAL && direct) {
    direct = false;  // the file system refuses O_DIRECT: write through the page cache
    fd = open_file();
  }
  if (fd < 0) {
    FinishWrite(job, ErrnoToStatus(errno, "open"));
    return;
  }
  files_opened_.fetch_add(1, std::memory_order_relaxed);
  Status status;
  const uint64_t size = r.data.size();
  // With O_DIRECT, bytes [0, direct_end) go directly and the unaligned tail through the page
  // cache.
  const uint64_t direct_end = direct ? size / kDirectWriteAlign * kDirectWriteAlign : 0;
  const uint64_t max_io = MaxIoBytes(faults);
  uint64_t done = 0;
  int attempts = 0;
  while (done < size) {
    if (direct && done >= direct_end) {
      if (const int err = ClearDirect(fd); err != 0) {
        status = ErrnoToStatus(err, "fcntl (leaving O_DIRECT for the last bytes)");
        break;
      }
      direct = false;
    }
    const uint64_t piece = std::min(direct ? direct_end - done : size - done, max_io);
    ssize_t n = ::pwrite(fd, r.data.data() + done, piece, static_cast<off_t>(done));
    int err = n < 0 ? errno : 0;
    AddDeviceWrites(1);
    if (n >= 0 && faults && faults->write) {
      if (const int fault = faults->write(job->path, direct); fault != 0) {
        n = -1;
        err = fault;
      }
    }
    if (n > 0 && faults && faults->short_write) {
      const uint64_t cap = faults->short_write(job->path);
      if (cap > 0 && static_cast<uint64_t>(n) > cap) n = static_cast<ssize_t>(cap);
    }
    if (n < 0) {
      if ((err == EINTR || err == EAGAIN) && ++attempts < kMaxRetries) continue;
      if (err == EINVAL && direct) {
        // O_DIRECT refused at write time (or a short direct write left an unaligned
        // offset): the rest goes through the page cache.
        if (const int e = ClearDirect(fd); e == 0) {
          direct = false;
          continue;
        }
      }
      status = ErrnoToStatus(err, "pwrite at byte " + std::to_string(done));
      break;
    }
    if (n == 0) {
      // POSIX allows it for a nonzero count only in odd cases; retrying forever would hang.
      status = IOError("pwrite at byte " + std::to_string(done) + " wrote nothing");
      break;
    }
    AddBytesWritten(static_cast<uint64_t>(n));
    if (direct) AddBytesWrittenDirect(static_cast<uint64_t>(n));
    done += static_cast<uint64_t>(n);
  }
  if (status.ok() && r.write.sync) {
    int err = ::fdatasync(fd) != 0 ? errno : 0;
    if (err == 0 && faults && faults->sync) err = faults->sync(job->path);
    if (err != 0) status = ErrnoToStatus(err, "fdatasync");
  }
  // close reports deferred write errors on some file systems (NFS: EIO, ENOSPC, EDQUOT); the
  // descriptor is gone whatever it returns, and EINTR says nothing about the data.
  if (::close(fd) != 0 && errno != EINTR && status.ok()) status = ErrnoToStatus(errno, "close");
  FinishWrite(job, std::move(status));
}

int ClearDirect(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return errno;
  if ((flags & O_DIRECT) == 0) return 0;
  return ::fcntl(fd, F_SETFL, flags & ~O_DIRECT) == 0 ? 0 : errno;
}

}  // namespace lsio::io::internal
