#pragma once

// The one storage interface: keyed values (local files, memory, object storage), read by byte
// range in groups, listed by prefix, written whole, and published atomically. Formats and
// operations name keys, never paths or URLs; only a store knows where its keys live
// (TensorStore kvstore/driver.h, zarrs_storage's readable/listable/writable traits).
//
// The data path is a Reader: the three queues of the project brief.
//   1. grouped read requests go in (Submit / TrySubmit),
//   2. completions come out group by group (Next): every completion of group n before any of
//      group n+1, then one end-of-group marker per group; within a group in any order,
//   3. used buffers go back for reuse by releasing them (the Buffer returns to pool()).
// A reader charges every buffer it hands out against max_bytes_in_flight until the buffer (and
// every slice of it) is released; reads are issued only below that budget, Submit blocks and
// TrySubmit returns kResourceExhausted while it is used up, and the oldest undelivered group can
// always make progress (no deadlock on the reader's own budget). Requests of one key in one
// group may be merged into one read (the store's coalescing options).
//
// Errors are per request: a missing key fails that request with kNotFound (a format decides
// what that means: a missing Zarr chunk is its fill value), a range past the end with
// kOutOfRange; messages name the location (path or URL) and the range. Reader-level failures are
// returned by Submit.
//
// Thread safety: a Store is safe for concurrent use from any thread. A Reader's methods may be
// called from any thread (typically one submits and another drains).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/io/engine.h"
#include "lsio/kvstore/byte_range.h"

namespace lsio::kvstore {

// Metadata-sized values (Store::Read's default limit).
inline constexpr uint64_t kMaxMetadataBytes = uint64_t{256} << 20;

struct ReadRequest {
  std::string key;
  ByteRange range;
  // Returned unchanged in the completion.
  uint64_t tag = 0;
  // A read that would be longer than this (a whole value this large) fails with kOutOfRange
  // before memory is allocated for it, so a damaged or hostile value cannot make the reader
  // allocate its whole size.
  uint64_t max_length = UINT64_MAX;
  // When set, the value must be exactly this many bytes, or the read fails with kOutOfRange
  // (reading part of a value whose size is known: a truncated value is found whatever part is
  // read).
  std::optional<uint64_t> value_size;
};

// kind, group, tag, status and data, as the IO engine delivers them.
using Completion = io::Completion;

struct ReaderOptions {
  // Budget of bytes held in buffers handed out and not yet released.
  uint64_t max_bytes_in_flight = uint64_t{128} << 20;
};

struct ReaderStats {
  uint64_t bytes_read = 0;    // bytes delivered to callers
  uint64_t bytes_device = 0;  // bytes moved from the device or network (rounding, coalescing)
  uint64_t requests = 0;      // completed requests
};

class Reader {
 public:
  virtual ~Reader() = default;
  // "io_uring", "posix", "memory", "http", ...
  virtual std::string_view backend_name() const = 0;
  // Queues a group and returns its id (0, 1, 2, ... per reader). Blocks while the budget is used
  // up. An empty group still produces its end-of-group marker. Errors: kCancelled after
  // Shutdown.
  virtual Result<uint64_t> Submit(std::vector<ReadRequest> group) = 0;
  // As Submit, but kResourceExhausted (leaving `group` untouched) instead of blocking.
  virtual Result<uint64_t> TrySubmit(std::vector<ReadRequest>& group) = 0;
  // The next completion; false once shut down or when nothing submitted is undelivered.
  virtual bool Next(Completion* out) = 0;
  // As Next, but false after `timeout_ms` without a completion.
  virtual bool NextFor(Completion* out, int timeout_ms) = 0;
  // Stops issuing reads, drops what is queued; Next returns false once in-flight reads end.
  virtual void Shutdown() = 0;
  virtual BufferPool& pool() = 0;
  // Bytes charged against max_bytes_in_flight now.
  virtual uint64_t bytes_in_flight() const = 0;
  virtual ReaderStats stats() const = 0;
};

struct ListEntry {
  // Relative to the listed prefix ("c/0/1"; for a prefix entry, without a trailing '/').
  std::string key;
  // A "directory": keys exist below it (kChildren listings only).
  bool is_prefix = false;
  uint64_t size = 0;  // bytes of the value (0 for prefixes)
};

enum class ListMode : unsigned char {
  kChildren,   // the keys and sub-prefixes directly below the prefix
  kRecursive,  // every key below the prefix, at any depth (no prefix entries)
};

// Nearby ranges of one key in one group are read as one when the gap is at most max_gap and the
// result at most max_size. Local disks and object storage want different values.
struct CoalesceOptions {
  uint64_t max_gap = uint64_t{64} << 10;
  uint64_t max_size = uint64_t{8} << 20;
};

struct KeyValue {
  std::string key;
  Buffer value;
};

// Writes under one prefix that become visible all at once: nothing is visible at the prefix
// before Commit, everything after it. Destroying an uncommitted publication removes what it
// wrote. Not thread-safe: one writer at a time.
class Publication {
 public:
  virtual ~Publication() = default;
  // `key` is relative to the publication's prefix.
  virtual Status Write(std::string_view key, std::span<const std::byte> value) = 0;
  // Several values at once (one IO group where the store can).
  virtual Status WriteBatch(std::vector<KeyValue> values);
  // Makes everything written visible at the prefix. Errors: kInvalidArgument "already exists"
  // when something is at the prefix and the publication was not begun with `replace` (nothing
  // is then visible, and what was written is removed).
  virtual Status Commit() = 0;
};

struct PublishOptions {
  // Replace what is at the prefix (the old content disappears at Commit).
  bool replace = false;
};

class Store {
 public:
  virtual ~Store() = default;

  // Where `key` lives, for messages: "/data/x.zarr/t2m/c/0/1", "s3://bucket/x.zarr/zarr.json".
  // Never contains credentials.
  virtual std::string Describe(std::string_view key) const = 0;
  // The store's own location (Describe("")), as given to OpenStore.
  std::string url() const { return Describe(""); }

  // --- the data path ---
  virtual Result<std::unique_ptr<Reader>> MakeReader(const ReaderOptions& options) = 0;
  virtual CoalesceOptions coalescing() const { return {}; }
  // Bytes of reads in flight that keep this store busy (its bandwidth times its latency, with
  // room to spare); a run reads no further ahead than this. More costs memory and, for local
  // files, CPU: every buffer of the read-ahead is a fresh mapping whose pages the kernel clears
  // on first use. Default: for stores across a network.
  virtual uint64_t read_ahead_bytes() const { return uint64_t{128} << 20; }

  // --- small synchronous operations (metadata) ---
  // The bytes of `range` of `key`, or nullopt when the key does not exist. Errors:
  // kOutOfRange for a range past the end, kResourceExhausted when more than `max_length` bytes
  // would be read, IO errors naming the location.
  virtual Result<std::optional<Buffer>> Read(std::string_view key, ByteRange range = {},
                                             uint64_t max_length = kMaxMetadataBytes) = 0;
  // The size of `key`'s value, or nullopt when it does not exist.
  virtual Result<std::optional<uint64_t>> Size(std::string_view key) = 0;
  // One data-path request on the calling thread, with a Reader completion's semantics (its
  // status is what the completion's would be: kNotFound for a missing key, value_size and
  // max_length checked, the same messages where the store can): what a read of a few chunks
  // uses instead of a Reader, to hand nothing to other threads. The default is Size + Read.
  virtual Result<Buffer> ReadNow(const ReadRequest& request);
  // Sorted by key. A prefix that does not exist lists as empty. Keys are relative to `prefix`.
  virtual Result<std::vector<ListEntry>> List(std::string_view prefix, ListMode mode) = 0;

  // --- writes ---
  // Stores `value` at `key`, replacing what was there. Atomic per key: a reader sees the old
  // value or the new one, never part of either, and a crash leaves one of them.
  virtual Status Write(std::string_view key, std::span<const std::byte> value) = 0;
  // Several keys (one IO group where the store can); each atomic as Write.
  virtual Status WriteBatch(std::vector<KeyValue> values);
  // Removes `key`; a key that does not exist is not an error.
  virtual Status Delete(std::string_view key) = 0;
  // Removes every key below `prefix` ("" = the whole store).
  virtual Status DeletePrefix(std::string_view prefix) = 0;
  // Starts writes under `prefix` that become visible together at Commit.
  virtual Result<std::unique_ptr<Publication>> BeginPublish(std::string_view prefix,
                                                            const PublishOptions& options) = 0;
  // Removes what writers that were killed mid-write left below `prefix` ("" = the whole store):
  // the store's own temporaries (a write or publication not yet renamed into place) whose
  // writer is gone, and nothing else. Temporaries of writers still running are kept. Returns
  // how many were removed. Stores that write in one request (object storage, memory) leave no
  // temporaries: the default removes nothing.
  virtual Result<uint64_t> RemoveAbandonedTemporaries(std::string_view prefix) {
    (void)prefix;
    return uint64_t{0};
  }
};

// The values of `keys` (nullopt for missing ones), read through one Reader group: what a
// format uses to fetch many small documents at once (one round trip on object storage).
Result<std::vector<std::optional<Buffer>>> ReadMany(Store& store, std::span<const std::string> keys,
                                                    uint64_t max_length = kMaxMetadataBytes);

// Total size and number of the keys below `prefix` whose last component is not in
// `skip_names`.
struct PrefixUsage {
  uint64_t keys = 0;
  uint64_t bytes = 0;
};
Result<PrefixUsage> Usage(Store& store, std::string_view prefix,
                          std::span<const std::string> skip_names);

}  // namespace lsio::kvstore
