#include "lsio/kvstore/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "lsio/io/engine.h"
#include "lsio/kvstore/key.h"

namespace lsio::kvstore {

namespace {

constexpr int kMaxWalkDepth = 64;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

class Dir {
 public:
  explicit Dir(DIR* d) : d_(d) {}
  ~Dir() {
    if (d_ != nullptr) ::closedir(d_);
  }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  DIR* get() const { return d_; }

 private:
  DIR* d_;
};

std::string ParentPath(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// mkdir -p.
Status MakeDirectories(const std::string& path) {
  if (path.empty() || path == "/" || path == ".") return Status::OK();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return ErrnoToStatus(ENOTDIR, path);
  }
  LSIO_RETURN_IF_ERROR(MakeDirectories(ParentPath(path)));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoToStatus(errno, path);
  return Status::OK();
}

// rm -rf; a path that does not exist is fine.
Status RemoveTree(const std::string& path, int depth = 0) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::OK();
    return ErrnoToStatus(errno, path);
  }
  if (S_ISDIR(st.st_mode)) {
    if (depth > kMaxWalkDepth) return InvalidArgumentError(path + ": nested too deeply");
    std::vector<std::string> names;
    {
      Dir dir(::opendir(path.c_str()));
      if (dir.get() == nullptr) return ErrnoToStatus(errno, path);
      while (const dirent* e = ::readdir(dir.get())) {
        const std::string_view name = e->d_name;
        if (name != "." && name != "..") names.emplace_back(name);
      }
    }
    for (const std::string& n : names) LSIO_RETURN_IF_ERROR(RemoveTree(path + "/" + n, depth + 1));
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return ErrnoToStatus(errno, path);
    return Status::OK();
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoToStatus(errno, path);
  return Status::OK();
}

// A name no other writer (thread or process) uses: ".NAME.lsio-tmp-PID-N" beside `path`.
std::string TempSibling(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return ParentPath(path) + "/." + BaseName(path) + ".lsio-tmp-" + std::to_string(::getpid()) +
         "-" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

// The writer's PID when `name` is a temporary TempSibling made (".NAME.lsio-tmp-PID-N").
std::optional<pid_t> TempOwner(std::string_view name) {
  constexpr std::string_view kMark = ".lsio-tmp-";
  if (name.size() < 2 || name.front() != '.') return std::nullopt;
  const size_t mark = name.rfind(kMark);
  if (mark == std::string_view::npos || mark < 2) return std::nullopt;
  const std::string_view tail = name.substr(mark + kMark.size());
  const size_t dash = tail.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == tail.size()) return std::nullopt;
  const auto digits = [](std::string_view t) {
    return t.size() <= 19 &&
           std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(tail.substr(0, dash)) || !digits(tail.substr(dash + 1))) return std::nullopt;
  const long long pid = std::strtoll(std::string(tail.substr(0, dash)).c_str(), nullptr, 10);
  if (pid <= 0 || pid > INT32_MAX) return std::nullopt;
  return static_cast<pid_t>(pid);
}

// When process `pid` started (seconds since the epoch), from /proc; nullopt when unknown.
std::optional<double> ProcessStartTime(pid_t pid) {
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat_file, line)) return std::nullopt;
  const size_t paren = line.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(paren + 1));
  std::string field;
  unsigned long long start_ticks = 0;
  for (int i = 3; i <= 22 && (fields >> field); ++i) {  // field 22: starttime, in clock ticks
    if (i == 22) start_ticks = std::strtoull(field.c_str(), nullptr, 10);
  }
  std::ifstream proc_stat("/proc/stat");
  long long boot = -1;
  while (std::getline(proc_stat, line)) {
    if (line.rfind("btime ", 0) == 0) boot = std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  if (boot < 0 || ticks <= 0 || start_ticks == 0) return std::nullopt;
  return static_cast<double>(boot) + static_cast<double>(start_ticks) / static_cast<double>(ticks);
}

// Whether the temporary `st` (named with `pid`) may still be written by a running process:
// `pid` exists and started before the temporary was last modified (else the PID was reused).
bool WriterMayBeRunning(pid_t pid, const struct stat& st) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  const std::optional<double> started = ProcessStartTime(pid);
  if (!started) return true;  // cannot tell: keep it
  const double modified = static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec * 1e-9;
  return *started <= modified + 2.0;  // /proc/stat's boot time is whole seconds
}

// RemoveAbandonedTemporaries below the directory `path`.
Status RemoveAbandoned(const std::string& path, int depth, uint64_t* removed) {
  if (depth > kMaxWalkDepth) return Status::OK();
  std::vector<std::string> names;
  {
    Dir dir(::opendir(path.c_str()));
    if (dir.get() == nullptr) {
      if (errno == ENOENT || errno == ENOTDIR) return Status::OK();
      return ErrnoToStatus(errno, path);
    }
    while (const dirent* e = ::readdir(dir.get())) {
      const std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
  }
  for (const std::string& name : names) {
    const std::string child = path + "/" + name;
    struct stat st;
    if (::lstat(child.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return ErrnoToStatus(errno, child);
    }
    if (const std::optional<pid_t> pid = TempOwner(name)) {
      if (!WriterMayBeRunning(*pid, st)) {
        LSIO_RETURN_IF_ERROR(RemoveTree(child).WithContext("removing an abandoned temporary"));
        ++*removed;
      }
    } else if (S_ISDIR(st.st_mode)) {  // not through symlinks: only the store's own tree
      LSIO_RETURN_IF_ERROR(RemoveAbandoned(child, depth + 1, removed));
    }
  }
  return Status::OK();
}

// The IO engines a store writes through: a batch takes an idle engine (or creates one) and
// gives it back, so that a write costs no ring set-up and concurrent writers do not queue on
// one engine. At most kMaxIdle are kept.
class WriteEngines {
 public:
  explicit WriteEngines(io::EngineOptions options) : options_(std::move(options)) {
    // A write's bytes are the caller's and already in memory: the budget only bounds how many
    // batches' bytes one engine holds, and each batch has an engine to itself.
    options_.max_bytes_in_flight = uint64_t{1} << 40;
  }

  Result<std::unique_ptr<io::Engine>> Take() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<io::Engine> e = std::move(idle_.back());
        idle_.pop_back();
        return e;
      }
    }
    return io::Engine::Create(options_);
  }

  void Give(std::unique_ptr<io::Engine> engine) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(engine));
  }

 private:
  static constexpr size_t kMaxIdle = 4;
  io::EngineOptions options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<io::Engine>> idle_;
};

// Writes each value to a temporary sibling of its path (created exclusively, parents made as
// needed) in one engine group, then renames each over its path: a reader sees the old file or
// the new one, and a crash leaves at most stray temporaries (which listings skip). On an error
// no temporary is left, and the values renamed before it stay written (each is atomic, the
// batch is not).
Status WriteFilesAtomically(WriteEngines& engines,
                            std::vector<std::pair<std::string, Buffer>> files) {
  if (files.empty()) return Status::OK();
  LSIO_ASSIGN_OR_RETURN(std::unique_ptr<io::Engine> engine, engines.Take());
  std::vector<std::string> temps;
  std::vector<io::IoRequest> group;
  temps.reserve(files.size());
  group.reserve(files.size());
  io::WriteOptions wo;
  wo.exclusive = true;
  for (size_t i = 0; i < files.size(); ++i) {
    temps.push_back(TempSibling(files[i].first));
    group.push_back(io::IoRequest::Write(temps.back(), std::move(files[i].second), i, wo));
  }
  Result<uint64_t> id = engine->Submit(std::move(group));
  if (!id.ok()) return id.status();
  std::vector<Status> outcome(files.size());
  bool ended = false;
  io::Completion c;
  while (!ended && engine->Next(&c)) {
    if (c.kind == io::Completion::Kind::kEndOfGroup) {
      ended = true;
    } else if (c.tag < outcome.size()) {
      outcome[c.tag] = std::move(c.status);
    }
  }
  if (!ended) return InternalError("IO engine stopped before finishing a write");
  engines.Give(std::move(engine));
  Status first;
  for (size_t i = 0; i < files.size(); ++i) {
    if (first.ok() && outcome[i].ok() &&
        ::rename(temps[i].c_str(), files[i].first.c_str()) != 0) {
      first = ErrnoToStatus(errno, files[i].first);
    } else if (first.ok() && !outcome[i].ok()) {
      first = outcome[i];
    }
    if (!first.ok()) ::unlink(temps[i].c_str());
  }
  return first;
}

Result<std::optional<std::vector<ListEntry>>> ListDirectory(const std::string& path) {
  Dir dir(::opendir(path.c_str()));
  if (dir.get() == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::vector<ListEntry>>();
    return ErrnoToStatus(errno, path);
  }
  std::vector<ListEntry> entries;
  const int dfd = ::dirfd(dir.get());
  while (true) {
    errno = 0;
    const dirent* e = ::readdir(dir.get());
    if (e == nullptr) {
      if (errno != 0) return ErrnoToStatus(errno, path);
      break;
    }
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    // Temporaries of writers in progress are not part of the store.
    if (name.front() == '.' && name.find(".lsio-tmp-") != std::string_view::npos) continue;
    struct stat st;
    if (::fstatat(dfd, e->d_name, &st, 0) != 0) {
      if (errno == ENOENT) continue;  // dangling symlink, or removed meanwhile
      return ErrnoToStatus(errno, path + "/" + std::string(name));
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;
    ListEntry entry;
    entry.key = std::string(name);
    entry.is_prefix = S_ISDIR(st.st_mode);
    entry.size = S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const ListEntry& a, const ListEntry& b) { return a.key < b.key; });
  return std::optional<std::vector<ListEntry>>(std::move(entries));
}

Status Walk(const std::string& path, const std::string& rel, int depth,
            std::vector<ListEntry>& out) {
  if (depth > kMaxWalkDepth) {
    return InvalidArgumentError(path + ": directories nested more than " +
                                std::to_string(kMaxWalkDepth) + " levels deep");
  }
  LSIO_ASSIGN_OR_RETURN(std::optional<std::vector<ListEntry>> entries, ListDirectory(path));
  if (!entries) return Status::OK();
  for (ListEntry& e : *entries) {
    const std::string key = rel.empty() ? e.key : rel + "/" + e.key;
    if (e.is_prefix) {
      LSIO_RETURN_IF_ERROR(Walk(path + "/" + e.key, key, depth + 1, out));
    } else {
      e.key = key;
      out.push_back(std::move(e));
    }
  }
  return Status::OK();
}

// The IO engine, speaking keys.
class FileReader final : public Reader {
 public:
  FileReader(std::unique_ptr<io::Engine> engine, std::string root)
      : engine_(std::move(engine)), root_(std::move(root)) {}

  std::string_view backend_name() const override { return engine_->backend_name(); }

  Result<uint64_t> Submit(std::vector<ReadRequest> group) override {
    LSIO_ASSIGN_OR_RETURN(std::vector<io::ReadRequest> requests, Translate(group));
    return engine_->Submit(std::move(requests));
  }

  Result<uint64_t> TrySubmit(std::vector<ReadRequest>& group) override {
    LSIO_ASSIGN_OR_RETURN(std::vector<io::ReadRequest> requests, Translate(group));
    Result<uint64_t> id = engine_->TrySubmit(requests);
    if (id.ok()) group.clear();
    return id;
  }

  bool Next(Completion* out) override { return engine_->Next(out); }
  bool NextFor(Completion* out, int timeout_ms) override {
    return engine_->NextFor(out, timeout_ms);
  }
  void Shutdown() override { engine_->Shutdown(); }
  BufferPool& pool() override { return engine_->pool(); }
  uint64_t bytes_in_flight() const override { return engine_->bytes_in_flight(); }
  ReaderStats stats() const override {
    const io::EngineStats s = engine_->stats();
    return ReaderStats{s.bytes_read, s.bytes_device, s.requests};
  }

 private:
  Result<std::vector<io::ReadRequest>> Translate(const std::vector<ReadRequest>& group) const {
    std::vector<io::ReadRequest> out;
    out.reserve(group.size());
    for (const ReadRequest& r : group) {
      LSIO_RETURN_IF_ERROR(ValidateKey(r.key));
      if (r.key.empty()) return InvalidArgumentError(root_ + ": the store's root is not a value");
      io::ReadRequest q;
      q.path.reserve(root_.size() + 1 + r.key.size());
      q.path = root_;
      if (q.path.back() != '/') q.path += '/';  // the root "/"
      q.path += r.key;
      q.offset = r.range.offset;
      q.length = r.range.length;
      q.tag = r.tag;
      q.max_length = r.max_length;
      q.file_size = r.value_size;
      out.push_back(std::move(q));
    }
    return out;
  }

  std::unique_ptr<io::Engine> engine_;
  std::string root_;
};

class FileStore;

class FilePublication final : public Publication {
 public:
  FilePublication(std::string target, std::string temp, bool replace,
                  std::shared_ptr<WriteEngines> engines)
      : target_(std::move(target)),
        temp_(std::move(temp)),
        replace_(replace),
        engines_(std::move(engines)) {}
  ~FilePublication() override {
    if (!committed_) (void)RemoveTree(temp_);
  }

  Status Write(std::string_view key, std::span<const std::byte> value) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    if (key.empty()) return InvalidArgumentError(target_ + ": cannot write the prefix itself");
    if (committed_) return InvalidArgumentError(target_ + ": already published");
    std::vector<KeyValue> one;
    one.push_back(KeyValue{std::string(key), Buffer::CopyOf(value)});
    return WriteBatch(std::move(one));
  }

  Status WriteBatch(std::vector<KeyValue> values) override {
    if (committed_) return InvalidArgumentError(target_ + ": already published");
    std::vector<std::pair<std::string, Buffer>> files;
    files.reserve(values.size());
    for (KeyValue& kv : values) {
      LSIO_RETURN_IF_ERROR(ValidateKey(kv.key));
      if (kv.key.empty()) {
        return InvalidArgumentError(target_ + ": cannot write the prefix itself");
      }
      files.emplace_back(temp_ + "/" + kv.key, std::move(kv.value));
    }
    return WriteFilesAtomically(*engines_, std::move(files))
        .WithContext("publishing to " + target_);
  }

  Status Commit() override {
    if (committed_) return Status::OK();
    LSIO_RETURN_IF_ERROR(MakeDirectories(temp_));
    LSIO_RETURN_IF_ERROR(MakeDirectories(ParentPath(target_)));
    if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_NOREPLACE) == 0) {
      committed_ = true;
      return Status::OK();
    }
    const int err = errno;
    if (err == EEXIST || err == ENOTEMPTY) {
      if (!replace_) {
        return InvalidArgumentError(target_ + " already exists");
      }
      // Move the old content aside, put the new in place, then remove the old: readers see
      // one or the other (the path is briefly absent between the two renames).
      const std::string old = TempSibling(target_);
      if (::rename(target_.c_str(), old.c_str()) != 0) return ErrnoToStatus(errno, target_);
      if (::rename(temp_.c_str(), target_.c_str()) != 0) {
        const int e2 = errno;
        (void)::rename(old.c_str(), target_.c_str());
        return ErrnoToStatus(e2, target_);
      }
      committed_ = true;
      return RemoveTree(old);
    }
    return ErrnoToStatus(err, target_);
  }

 private:
  std::string target_;
  std::string temp_;
  bool replace_;
  std::shared_ptr<WriteEngines> engines_;
  bool committed_ = false;
};

class FileStore final : public Store {
 public:
  FileStore(std::string root, FileStoreOptions options)
      : root_(std::move(root)),
        options_(std::move(options)),
        engines_(std::make_shared<WriteEngines>(options_.engine)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }

  std::string Describe(std::string_view key) const override {
    if (key.empty()) return root_;
    std::string out = root_ == "/" ? std::string() : root_;
    out += '/';
    out.append(key);
    return out;
  }

  CoalesceOptions coalescing() const override { return options_.coalesce; }
  // 32 MiB saturates this machine's disk with 8 MiB reads (stats of an uncompressed array
  // from a cold cache ran as fast as with 128 MiB), and an NVMe drive splits each large read
  // into many commands; more only faulted in fresh buffers and, in a rechunk, competed with
  // the writes (2q at 1 GiB, from the disk: 1.83 s with 32 MiB, 2.04 s with 128 MiB).
  uint64_t read_ahead_bytes() const override { return uint64_t{32} << 20; }

  Result<std::unique_ptr<Reader>> MakeReader(const ReaderOptions& options) override {
    io::EngineOptions eo = options_.engine;
    eo.max_bytes_in_flight = options.max_bytes_in_flight;
    eo.coalesce_max_gap = options_.coalesce.max_gap;
    eo.coalesce_max_size = options_.coalesce.max_size;
    LSIO_ASSIGN_OR_RETURN(std::unique_ptr<io::Engine> engine, io::Engine::Create(eo));
    return std::unique_ptr<Reader>(new FileReader(std::move(engine), root_));
  }

  Result<std::optional<Buffer>> Read(std::string_view key, ByteRange range,
                                     uint64_t max_length) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    const std::string path = Describe(key);
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::optional<Buffer>();
      return ErrnoToStatus(errno, path);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return ErrnoToStatus(errno, path);
    if (S_ISDIR(st.st_mode)) return std::optional<Buffer>();
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    LSIO_ASSIGN_OR_RETURN(auto span, Resolve(range, size, path));
    const auto [offset, length] = span;
    if (length > max_length) {
      return ResourceExhaustedError(path + ": " + std::to_string(length) +
                                    " bytes is more than the " + std::to_string(max_length) +
                                    " bytes lsio reads here");
    }
    LSIO_ASSIGN_OR_RETURN(Buffer out, Buffer::Allocate(length));
    size_t done = 0;
    while (done < length) {
      const ssize_t n = ::pread(fd.get(), out.mutable_data() + done, length - done,
                                static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return ErrnoToStatus(errno, path);
      }
      if (n == 0) break;  // the file shrank meanwhile
      done += static_cast<size_t>(n);
    }
    if (done < length) {
      if (!range.whole()) {
        return OutOfRangeError(path + ": " + range.ToString() + " is past the end (the file " +
                               "shrank to " + std::to_string(offset + done) + " bytes)");
      }
      out.Truncate(done);
    }
    return std::optional<Buffer>(std::move(out));
  }

  // As the IO engine reads one request (io/engine_core.cc): a directory is EISDIR, only regular
  // files are read, the expected value size and the read limit are checked with its messages,
  // and errors say "reading <path> <range>: ...".
  Result<Buffer> ReadNow(const ReadRequest& r) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(r.key));
    if (r.key.empty()) return InvalidArgumentError(root_ + ": the store's root is not a value");
    const std::string path = Describe(r.key);
    const std::string context = "reading " + path + " " + r.range.ToString();
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoToStatus(errno, "").WithContext(context);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return ErrnoToStatus(errno, "").WithContext(context);
    if (S_ISDIR(st.st_mode)) return ErrnoToStatus(EISDIR, "").WithContext(context);
    if (!S_ISREG(st.st_mode)) return InvalidArgumentError("not a regular file").WithContext(context);
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (r.value_size && *r.value_size != size) {
      return OutOfRangeError("the file holds " + std::to_string(size) + " bytes, not the " +
                             std::to_string(*r.value_size) + " expected")
          .WithContext(context);
    }
    LSIO_ASSIGN_OR_RETURN(auto span, Resolve(r.range, size, path));
    const auto [offset, length] = span;
    if (length > r.max_length) {
      return OutOfRangeError(std::to_string(length) + " bytes to read exceed the limit of " +
                             std::to_string(r.max_length) + " set for this read")
          .WithContext(context);
    }
    LSIO_ASSIGN_OR_RETURN(Buffer out, Buffer::Allocate(length));
    size_t done = 0;
    while (done < length) {
      const ssize_t n = ::pread(fd.get(), out.mutable_data() + done, length - done,
                                static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return ErrnoToStatus(errno, "").WithContext(context);
      }
      if (n == 0) {
        return OutOfRangeError("the file ended at " + std::to_string(offset + done) +
                               " bytes while it was read")
            .WithContext(context);
      }
      done += static_cast<size_t>(n);
    }
    return out;
  }

  Result<std::optional<uint64_t>> Size(std::string_view key) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    const std::string path = Describe(key);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::optional<uint64_t>();
      return ErrnoToStatus(errno, path);
    }
    if (!S_ISREG(st.st_mode)) return std::optional<uint64_t>();
    return std::optional<uint64_t>(static_cast<uint64_t>(st.st_size));
  }

  Result<std::vector<ListEntry>> List(std::string_view prefix, ListMode mode) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(prefix));
    const std::string path = Describe(prefix);
    if (mode == ListMode::kChildren) {
      LSIO_ASSIGN_OR_RETURN(std::optional<std::vector<ListEntry>> entries, ListDirectory(path));
      if (!entries) return std::vector<ListEntry>();
      return std::move(*entries);
    }
    std::vector<ListEntry> out;
    LSIO_RETURN_IF_ERROR(Walk(path, "", 0, out));
    std::sort(out.begin(), out.end(),
              [](const ListEntry& a, const ListEntry& b) { return a.key < b.key; });
    return out;
  }

  Status Write(std::string_view key, std::span<const std::byte> value) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    if (key.empty()) return InvalidArgumentError(root_ + ": the store's root is not a value");
    std::vector<KeyValue> one;
    one.push_back(KeyValue{std::string(key), Buffer::CopyOf(value)});
    return WriteBatch(std::move(one));
  }

  // Every value through one group of the IO engine (io_uring writes, O_DIRECT for the aligned
  // part), each to a temporary name and renamed.
  Status WriteBatch(std::vector<KeyValue> values) override {
    std::vector<std::pair<std::string, Buffer>> files;
    files.reserve(values.size());
    for (KeyValue& kv : values) {
      LSIO_RETURN_IF_ERROR(ValidateKey(kv.key));
      if (kv.key.empty()) {
        return InvalidArgumentError(root_ + ": the store's root is not a value");
      }
      files.emplace_back(Describe(kv.key), std::move(kv.value));
    }
    return WriteFilesAtomically(*engines_, std::move(files));
  }

  Status Delete(std::string_view key) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    if (key.empty()) return InvalidArgumentError(root_ + ": the store's root is not a value");
    const std::string path = Describe(key);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
      return ErrnoToStatus(errno, path);
    }
    return Status::OK();
  }

  Status DeletePrefix(std::string_view prefix) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(prefix));
    return RemoveTree(Describe(prefix));
  }

  Result<uint64_t> RemoveAbandonedTemporaries(std::string_view prefix) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(prefix));
    uint64_t removed = 0;
    LSIO_RETURN_IF_ERROR(RemoveAbandoned(Describe(prefix), 0, &removed));
    return removed;
  }

  Result<std::unique_ptr<Publication>> BeginPublish(std::string_view prefix,
                                                    const PublishOptions& options) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(prefix));
    const std::string target = Describe(prefix);
    if (!options.replace) {
      struct stat st;
      if (::stat(target.c_str(), &st) == 0) {
        return InvalidArgumentError(target + " already exists");
      }
    }
    std::string temp = TempSibling(target);
    return std::unique_ptr<Publication>(
        new FilePublication(target, std::move(temp), options.replace, engines_));
  }

 private:
  // [offset, offset + length) of `range` in a value of `size` bytes.
  static Result<std::pair<uint64_t, uint64_t>> Resolve(ByteRange range, uint64_t size,
                                                       const std::string& path) {
    int64_t offset = range.offset;
    if (offset < 0) {
      if (static_cast<uint64_t>(-offset) > size) {
        return OutOfRangeError(path + ": " + range.ToString() + " reach before the start of a " +
                               std::to_string(size) + "-byte file");
      }
      offset += static_cast<int64_t>(size);
    }
    const uint64_t start = static_cast<uint64_t>(offset);
    if (start > size) {
      return OutOfRangeError(path + ": " + range.ToString() + " is past the end of a " +
                             std::to_string(size) + "-byte file");
    }
    const uint64_t length =
        range.length == ByteRange::kToEnd ? size - start : static_cast<uint64_t>(range.length);
    if (length > size - start) {
      return OutOfRangeError(path + ": " + range.ToString() + " is past the end of a " +
                             std::to_string(size) + "-byte file");
    }
    return std::make_pair(start, length);
  }

  std::string root_;
  FileStoreOptions options_;
  std::shared_ptr<WriteEngines> engines_;
};

}  // namespace

std::shared_ptr<Store> MakeFileStore(std::string root, FileStoreOptions options) {
  return std::make_shared<FileStore>(std::move(root), std::move(options));
}

bool IsFileStoreOption(std::string_view name) { return name == "direct_io"; }

Result<FileStoreOptions> TakeFileStoreOptions(std::map<std::string, std::string>& options) {
  FileStoreOptions out;
  auto it = options.find("direct_io");
  if (it != options.end()) {
    std::string v = it->second;
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
    if (v == "true" || v == "1" || v == "yes" || v == "on") {
      out.engine.direct = true;
    } else if (v == "false" || v == "0" || v == "no" || v == "off") {
      out.engine.direct = false;
    } else {
      return InvalidArgumentError("storage option 'direct_io': expected true or false, got '" +
                                  it->second + "'");
    }
    options.erase(it);
  }
  return out;
}

}  // namespace lsio::kvstore
