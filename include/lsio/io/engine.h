#pragma once

// The IO engine: the contract every backend (io_uring, pread, later object storage) honours.
//
// Three queues, as in the project brief:
//   1. grouped requests go in (Submit / TrySubmit): reads of whole files or byte ranges, and
//      writes of whole files, mixed freely in one group,
//   2. completions come out, group by group (Next): read bytes, write outcomes,
//   3. used buffers come back for reuse (by releasing the Buffer: its block returns to pool()).
//
// Ordering: every completion of group n is delivered before any completion of group n+1, and
// after the last completion of a group comes one end-of-group marker for it. Within a group,
// completions arrive in whatever order the device finishes them.
//
// Errors are per request: a missing file, a range past the end, an EIO, a full disk fails that
// request only (its completion has a non-OK status naming the path, and for a read the range;
// an error from the system keeps its errno); the rest of the group is delivered as usual.
// Engine-level failures (cannot create a ring, shut down) are returned by Create / Submit.
//
// Memory: the engine charges every read buffer it allocates against max_bytes_in_flight until
// the consumer releases that buffer (and all slices of it). Reads are only issued while the
// charge is below the budget, and Submit blocks (TrySubmit reports kResourceExhausted) while the
// budget is used up, so a consumer slower than the disk holds memory flat instead of growing
// it. The oldest undelivered group can always make progress, so the engine cannot deadlock on
// its own budget; the charge stays below max_bytes_in_flight plus one read. (Reads are issued
// group by group: a later group's reads start once every read of the earlier groups has been
// issued, and each read's requests are delivered as soon as that read finishes.)
// A consumer that holds on to buffers stalls the engine by design: Next then waits until it
// releases some (use NextFor to wait with a limit). A thread that both submits and drains must
// use TrySubmit and drain on kResourceExhausted: Submit would wait for releases that only the
// same thread could make. Buffers a caller acquires from pool() count against the budget too.
//
// Writes and the budget: a write allocates nothing; its bytes are the caller's Buffer, which
// the engine holds from Submit until the write has finished (then drops its reference, before
// the completion is delivered). Those bytes count in bytes_in_flight() for that time, so that
// Submit / TrySubmit also hold back a producer that outruns the disk (a writer of encoded
// chunks keeps memory flat the way a slow reader does). They never hold back *issuing*: a
// write needs no memory to proceed and frees memory when it finishes, so writes cannot take
// part in a budget deadlock, and pending writes do not stop reads from being issued. The
// charge can exceed the budget by the writes of one group. (A write buffer acquired from
// pool() is counted twice while the write is pending: once as a pool block, once as a write.)
//
// Reads and writes of one path: within a group, a path that is written may not also be read
// or written by another request of that group (every request of that path then fails with
// kInvalidArgument, since their order would be undefined). Across groups there is no ordering
// of device work, only of delivery: a read sees a write's bytes if the write's completion was
// delivered before the read was submitted; a read submitted earlier may see the old bytes, the
// new ones, a mixture, or fail on a file that shrank. (The Store layer publishes by writing
// under temporary names and renaming, so readers never see a half-written value.)
//
// Thread safety: all methods may be called from any thread. Typically one thread submits and
// another (or the same, alternating) drains.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/buffer.h"
#include "lsio/base/result.h"

namespace lsio::io {

enum class IoOp : unsigned char { kRead, kWrite };

// How a write is carried out.
struct WriteOptions {
  // fdatasync(2) the file before closing it: when the completion reports OK, the bytes (and
  // the file size) are on the device, not only in the page cache. Off by default: the engine
  // then guarantees what write(2) does (other readers see the bytes; a crash may lose them).
  bool sync = false;
  // Create missing parent directories (mode 0755, like `mkdir -p`) when the open fails with
  // ENOENT. On by default: a store writes keys such as "temp/c/0/3" whose directories may not
  // exist yet. Off: a missing directory fails the write with kNotFound.
  bool create_parents = true;
  // Fail if `path` exists (O_EXCL instead of O_TRUNC): the write then fails with errno EEXIST
  // and leaves the file alone. For temporary names that no other writer may be using.
  bool exclusive = false;
};

// One request: a read of a whole file or of a byte range of a file, or a write of a whole
// file. (Named ReadRequest before writes existed; that name remains an alias.)
//
// A write creates `path` or truncates it (open with O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
// or O_EXCL instead of O_TRUNC with write.exclusive; mode 0644 before the umask), writes
// every byte of `data` (short writes continue where they stopped, EAGAIN/EINTR are retried,
// more than 1 GiB goes in pieces), fdatasyncs it if `write.sync`, and closes it; a close that
// reports an error fails the write. Its errors read "writing <path>: <step>: <strerror>" with
// the errno kept, the step being "open", "creating its parent directories", "write at byte
// N" ("pwrite at byte N" on the pread backend), "fdatasync" or "close".
// O_DIRECT: with EngineOptions::direct (the default), a write whose `data` starts on a 4096-
// byte boundary (every Buffer from a pool or Buffer::Allocate does; a slice at another offset
// does not) and holds at least 4096 bytes writes its first size / 4096 * 4096 bytes with
// O_DIRECT and the remaining tail (under 4096 bytes) through the page cache; other writes go
// through the page cache. A file system that refuses O_DIRECT (EINVAL at open or at a write)
// gets buffered writes for that file. Measured against fio (src/io/uring_engine.cc): faster
// than buffered writes and a fifth of the CPU time. Either way the bytes are visible to every
// reader (buffered or O_DIRECT) once the completion is delivered.
// On failure the file may be left empty or partly written: the engine does not guess whether
// removing it is safe (a store writes under a temporary name and removes it on failure). A
// write is not atomic (write a temporary name and rename for that).
struct IoRequest {
  static constexpr int64_t kToEnd = -1;

  std::string path;
  // Start of the range; a negative offset counts from the end of the file (-16: last 16 bytes).
  // Reads only: a write must leave it 0 (else kInvalidArgument).
  int64_t offset = 0;
  // Bytes to read, or kToEnd for "to the end of the file". A range that extends past the end
  // of the file is an error (kOutOfRange) for this request. Reads only: a write must leave it
  // kToEnd (else kInvalidArgument).
  int64_t length = kToEnd;
  // Returned unchanged in the completion.
  uint64_t tag = 0;
  // A read that would be longer than this (most usefully a whole-file read of a file this
  // large) fails with kOutOfRange before any memory is allocated for it. Callers that know how
  // large a file can plausibly be (a chunk of known decoded size) set it, so that a damaged or
  // hostile file cannot make them allocate its whole size. Ignored by writes.
  uint64_t max_length = UINT64_MAX;
  // When set, the file must be exactly this many bytes, or the read fails with kOutOfRange
  // (for reading part of a file whose size is known, such as an uncompressed chunk: a
  // truncated or overlong file is then found whichever part is read). Ignored by writes.
  std::optional<uint64_t> file_size = std::nullopt;
  IoOp op = IoOp::kRead;
  // kWrite: the bytes that become the file's contents (may be empty: an empty file). The
  // engine keeps a reference until the write has finished; the caller must not modify the
  // bytes meanwhile.
  Buffer data;
  // kWrite: how to write.
  WriteOptions write;

  static IoRequest WholeFile(std::string path, uint64_t tag) {
    return Range(std::move(path), 0, kToEnd, tag);
  }
  static IoRequest Range(std::string path, int64_t offset, int64_t length, uint64_t tag) {
    IoRequest r;
    r.path = std::move(path);
    r.offset = offset;
    r.length = length;
    r.tag = tag;
    return r;
  }
  static IoRequest Write(std::string path, Buffer data, uint64_t tag, WriteOptions options = {}) {
    IoRequest r;
    r.path = std::move(path);
    r.tag = tag;
    r.op = IoOp::kWrite;
    r.data = std::move(data);
    r.write = options;
    return r;
  }
};
using ReadRequest = IoRequest;

struct Completion {
  enum class Kind : unsigned char { kRead, kWrite, kEndOfGroup };

  Kind kind = Kind::kRead;
  uint64_t group = 0;  // as returned by Submit
  uint64_t tag = 0;    // the request's tag (kRead, kWrite)
  Status status;       // this request's outcome (kRead, kWrite)
  // kRead: exactly the bytes asked for (for a whole-file read, the whole file); empty on error.
  // Releasing it (and every slice of it) returns the memory to the engine's pool.
  // kWrite: always empty (the engine has already dropped its reference to the written bytes).
  Buffer data;
};

enum class Backend : unsigned char {
  kAuto,   // io_uring when it can be set up, else pread (with one notice)
  kUring,  // io_uring or fail
  kPosix,  // pread on a thread pool
};

// Parses "auto", "uring"/"io_uring", "posix"/"pread".
Result<Backend> ParseBackend(std::string_view name);

struct EngineOptions {
  // kAuto also honours the environment variable LSIO_IO=uring|posix.
  Backend backend = Backend::kAuto;
  // IO threads: rings for io_uring, workers for pread. 0 picks a default (1 ring; 16 preaders).
  // At most 256.
  int threads = 0;
  // Reads kept in flight per ring (io_uring) or in total (pread, where at most `threads` reads
  // run at once). 1 to 4096. For io_uring it is also the number of files a ring writes at once
  // (the pread backend writes at most `threads` files at once).
  int queue_depth = 64;
  // Open files with O_DIRECT where the file system allows it; falls back to buffered reads and
  // writes for a file that refuses it (tmpfs before Linux 6.6, overlayfs). Writes use it only
  // for aligned data (see IoRequest).
  bool direct = true;
  // Budget of bytes held in read buffers and pending writes (see the header comment).
  uint64_t max_bytes_in_flight = uint64_t{128} << 20;
  // Ranges of one file in one group whose gap is at most this are read as one.
  uint64_t coalesce_max_gap = uint64_t{64} << 10;
  // ... unless the merged read would exceed this.
  uint64_t coalesce_max_size = uint64_t{8} << 20;
  // Where the notice about falling back to pread goes: called once by each Create that falls
  // back. Default: stderr, once per process.
  std::function<void(std::string_view)> notice;
};

struct EngineStats {
  uint64_t bytes_read = 0;     // bytes delivered to callers (not counting alignment padding)
  uint64_t bytes_device = 0;   // bytes read from files, including O_DIRECT rounding
  uint64_t requests = 0;       // completed requests, reads and writes
  uint64_t device_reads = 0;   // reads issued to the kernel (after coalescing and splitting)
  uint64_t files_opened = 0;   // for reading or writing
  uint64_t bytes_written = 0;  // bytes the kernel accepted for writes (all attempts)
  uint64_t device_writes = 0;  // writes issued to the kernel (pieces and short-write retries)
  uint64_t writes = 0;         // completed write requests (OK or not)
  uint64_t bytes_written_direct = 0;  // of bytes_written, those written with O_DIRECT
};

class Engine {
 public:
  // Creates the backend `options.backend` asks for (see Backend) and starts its threads.
  // Errors: kInvalidArgument for out-of-range options or a bad LSIO_IO; for kUring, the
  // io_uring set-up error (kPermissionDenied under seccomp, kNotSupported without io_uring).
  static Result<std::unique_ptr<Engine>> Create(const EngineOptions& options);

  // Cancels requests not yet issued (they are dropped, not delivered), waits for the ones in
  // flight, closes every file and joins the threads. Buffers the caller still holds stay valid.
  // A write that an IO thread has taken up runs to its end (all bytes, the sync if asked, the
  // close); one still queued is dropped and its file left untouched.
  virtual ~Engine() = default;

  // "io_uring" or "posix".
  virtual std::string_view backend_name() const = 0;

  // Queues a group and returns its id (0, 1, 2, ... in submission order). Blocks while the
  // budget is used up. An empty group still produces its end-of-group marker. Reads of one
  // path in one group share one open of the file, and nearby ranges are read as one
  // (coalesce_max_gap / coalesce_max_size). Errors: kCancelled after Shutdown.
  virtual Result<uint64_t> Submit(std::vector<ReadRequest> group) = 0;
  // As Submit, but returns kResourceExhausted (leaving `group` untouched) instead of blocking.
  virtual Result<uint64_t> TrySubmit(std::vector<ReadRequest>& group) = 0;

  // Waits for the next completion. Returns false once the engine is shut down, or when
  // nothing has been submitted that is not yet delivered (so it never blocks forever).
  virtual bool Next(Completion* out) = 0;
  // As Next, but returns false after `timeout_ms` without a completion.
  virtual bool NextFor(Completion* out, int timeout_ms) = 0;

  // Stops issuing new reads and writes, drops everything queued, and makes Next return false
  // once the reads and writes already in flight have finished. Safe to call more than once
  // and from any thread.
  virtual void Shutdown() = 0;

  virtual BufferPool& pool() = 0;
  virtual EngineStats stats() const = 0;
  // Bytes currently charged against max_bytes_in_flight: read buffers not yet released plus
  // the bytes of writes submitted and not yet finished.
  virtual uint64_t bytes_in_flight() const = 0;
};

}  // namespace lsio::io
