// The store layer for Python (lsio.store, lsio.read_ranges): keyed byte-range reads through a
// kvstore::Reader, results handed to Python as lsio Buffers without a copy.
//
// Readers. A call that returns every result at once (get, get_ranges, read_ranges) cannot let a
// reader's byte budget hold it back: the caller keeps what it asked for, so the memory of the
// call is its results whatever the budget, and a budget smaller than them would stall the call
// on buffers only the caller can release. Those calls therefore use readers without a budget
// (kUnbounded), kept idle per store between calls (ReaderCache: no ring, thread or pool
// creation per call, and buffers the caller releases go back to that reader's pool). The
// streaming form (iter_ranges) bounds its own window of bytes submitted and not yet delivered
// instead, so that results the consumer holds on to can never deadlock it.
//
// The GIL is released around every wait and every blocking store call; the main thread polls
// for Ctrl-C while it waits. Errors become Python exceptions in module.cc's translator; a
// missing key is ErrorSubject::kKey (FileNotFoundError).

#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common.h"
#include "lsio/base/buffer.h"
#include "lsio/io/engine.h"
#include "lsio/kvstore/byte_range.h"
#include "lsio/kvstore/file_store.h"
#include "lsio/kvstore/open.h"
#include "lsio/kvstore/store.h"
#include "lsio/runtime/context.h"

namespace lsio::python {

using namespace nb::literals;

namespace {

using kvstore::ByteRange;
using kvstore::ReadRequest;
using kvstore::Reader;
using kvstore::Store;

// A budget no call reaches: collect-all calls hold what they return (see the header comment).
constexpr uint64_t kUnbounded = uint64_t{1} << 62;
// Idle readers kept per store and in all.
constexpr size_t kIdlePerStore = 2;
constexpr size_t kIdleTotal = 8;
// Freed blocks an idle reader's pool may keep for the next call: an unbounded reader's pool
// caches everything released into it, so when the next call on it needs less than what is
// cached (and more than this is cached) the cache is given back to the OS first. Repeated calls
// of one size reuse their memory; a small call after a big one does not keep the big one's.
constexpr uint64_t kKeepCached = uint64_t{256} << 20;
// How long a wait blocks before polling for Ctrl-C.
constexpr int kPollMs = 50;

// ------------------------------------------------------------------------------------------
// Buffer: a Python object holding an lsio::Buffer, exporting it read-only through the buffer
// protocol (memoryview, numpy.frombuffer, bytes(...) work on it; only bytes() copies).

struct PyBuffer {
  Buffer buffer;
};

int PyBufferGet(PyObject* self, Py_buffer* view, int flags) {
  static char empty = 0;
  PyBuffer* b = nb::inst_ptr<PyBuffer>(nb::handle(self));
  void* data = b->buffer.empty() ? static_cast<void*>(&empty)
                                 : const_cast<std::byte*>(b->buffer.data());
  return PyBuffer_FillInfo(view, self, data, static_cast<Py_ssize_t>(b->buffer.size()),
                           /*readonly=*/1, flags);
}

PyType_Slot kBufferSlots[] = {{Py_bf_getbuffer, reinterpret_cast<void*>(PyBufferGet)},
                              {0, nullptr}};

nb::object Wrap(Buffer b) { return nb::cast(PyBuffer{std::move(b)}, nb::rv_policy::move); }

// Borrowed bytes of any object with the buffer protocol (C-contiguous).
class BorrowedBytes {
 public:
  explicit BorrowedBytes(nb::handle h) {
    if (PyObject_GetBuffer(h.ptr(), &view_, PyBUF_C_CONTIGUOUS) != 0) throw nb::python_error();
  }
  ~BorrowedBytes() { PyBuffer_Release(&view_); }
  BorrowedBytes(const BorrowedBytes&) = delete;
  BorrowedBytes& operator=(const BorrowedBytes&) = delete;
  std::span<const std::byte> span() const {
    return {static_cast<const std::byte*>(view_.buf), static_cast<size_t>(view_.len)};
  }

 private:
  Py_buffer view_{};
};

bool BufferEquals(const PyBuffer& a, nb::handle other) {
  if (PyObject_CheckBuffer(other.ptr()) == 0) return false;
  BorrowedBytes b(other);
  return a.buffer.size() == b.span().size() &&
         (a.buffer.empty() || std::memcmp(a.buffer.data(), b.span().data(), a.buffer.size()) == 0);
}

// ------------------------------------------------------------------------------------------
// Readers without a budget, kept idle per store.

class ReaderCache {
 public:
  static ReaderCache& Default() {
    static ReaderCache* cache = new ReaderCache();
    return *cache;
  }

  // A reader of `store` for a call expected to read about `expected_bytes`.
  Result<std::unique_ptr<Reader>> Acquire(const std::shared_ptr<Store>& store,
                                          uint64_t expected_bytes) {
    std::unique_ptr<Reader> reader;
    {
      std::lock_guard lock(mu_);
      for (auto it = idle_.begin(); it != idle_.end(); ++it) {
        if (it->store == store.get()) {
          reader = std::move(it->reader);
          idle_.erase(it);
          break;
        }
      }
    }
    if (reader) {
      const uint64_t cached = reader->pool().stats().bytes_cached;
      if (cached > kKeepCached && cached > 2 * expected_bytes) reader->pool().Trim();
      return reader;
    }
    kvstore::ReaderOptions options;
    options.max_bytes_in_flight = kUnbounded;
    return store->MakeReader(options);
  }

  // Keeps `reader` for the next call on `store` (its buffers may still be held: they return to
  // its pool when released). Call without the GIL: evicting a reader joins its threads.
  void Release(const std::shared_ptr<Store>& store, std::unique_ptr<Reader> reader) {
    std::vector<Idle> evicted;
    std::lock_guard lock(mu_);
    size_t same = 0;
    for (const Idle& i : idle_) same += i.store == store.get() ? 1 : 0;
    if (same >= kIdlePerStore) return;  // `reader` is destroyed on return
    if (idle_.size() >= kIdleTotal) {
      evicted.push_back(std::move(idle_.front()));
      idle_.erase(idle_.begin());
    }
    idle_.push_back(Idle{store.get(), store, std::move(reader)});
  }

  // Drops the idle readers of `store` (Store.close).
  void Evict(const Store* store) {
    std::vector<Idle> evicted;
    std::lock_guard lock(mu_);
    for (auto it = idle_.begin(); it != idle_.end();) {
      if (it->store == store) {
        evicted.push_back(std::move(*it));
        it = idle_.erase(it);
      } else {
        ++it;
      }
    }
  }

 private:
  struct Idle {
    const Store* store;
    // Keeps the store (and so the address compared above) alive while its reader is idle.
    std::shared_ptr<Store> keep;
    std::unique_ptr<Reader> reader;
  };
  std::mutex mu_;
  std::vector<Idle> idle_;
};

// A reader on loan from the cache; shut down and dropped instead of returned when a call ends
// early (an error, Ctrl-C) with reads still in flight.
class ReaderLoan {
 public:
  static Result<ReaderLoan> Make(std::shared_ptr<Store> store, uint64_t expected_bytes) {
    ReaderLoan loan;
    LSIO_ASSIGN_OR_RETURN(loan.reader_, ReaderCache::Default().Acquire(store, expected_bytes));
    loan.store_ = std::move(store);
    return loan;
  }
  ReaderLoan() = default;
  ReaderLoan(ReaderLoan&&) noexcept = default;
  ReaderLoan& operator=(ReaderLoan&&) noexcept = default;
  ~ReaderLoan() {
    if (!reader_) return;
    if (discard_) {
      reader_->Shutdown();
      Completion c;
      while (reader_->Next(&c)) {
      }
      reader_.reset();
      return;
    }
    ReaderCache::Default().Release(store_, std::move(reader_));
  }
  Reader& operator*() const { return *reader_; }
  Reader* operator->() const { return reader_.get(); }
  const std::shared_ptr<Store>& store() const { return store_; }
  void Discard() { discard_ = true; }

 private:
  using Completion = kvstore::Completion;
  std::shared_ptr<Store> store_;
  std::unique_ptr<Reader> reader_;
  bool discard_ = false;
};

// ------------------------------------------------------------------------------------------
// Requests from Python.

// Python's (start, end) as a ByteRange: [start, end) with end None meaning the end of the value;
// a negative start counts from the end (start=-n, end=None: the last n bytes), and then a
// negative end too.
Result<ByteRange> ToByteRange(int64_t start, std::optional<int64_t> end) {
  if (!end) return ByteRange{start, ByteRange::kToEnd};
  if (start >= 0 && *end < 0) {
    return InvalidArgumentError("range [" + std::to_string(start) + ", " + std::to_string(*end) +
                                "): a negative end needs a negative start (both from the end)");
  }
  if (start < 0 && *end > 0) {
    return InvalidArgumentError("range [" + std::to_string(start) + ", " + std::to_string(*end) +
                                "): a negative start needs a negative end or None");
  }
  if (*end < start) {
    return InvalidArgumentError("range [" + std::to_string(start) + ", " + std::to_string(*end) +
                                "): end is before start");
  }
  return ByteRange{start, *end - start};
}

// Bytes a range will read: its length, a suffix's length, or (to the end of a value of unknown
// size) kUnknownLength.
constexpr uint64_t kUnknownLength = uint64_t{1} << 20;
uint64_t ExpectedBytes(const ByteRange& r) {
  if (r.length >= 0) return static_cast<uint64_t>(r.length);
  if (r.offset < 0) return static_cast<uint64_t>(-r.offset);
  return kUnknownLength;
}

int64_t ToInt(PyObject* o, const char* what, size_t index) {
  const long long v = PyLong_AsLongLong(o);
  if (v == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    throw StatusError(InvalidArgumentError(std::string(what) + "[" + std::to_string(index) +
                                           "]: expected an integer"));
  }
  return v;
}

std::string ToKey(PyObject* o, size_t index) {
  Py_ssize_t n = 0;
  const char* s = PyUnicode_Check(o) ? PyUnicode_AsUTF8AndSize(o, &n) : nullptr;
  if (s == nullptr) {
    PyErr_Clear();
    throw StatusError(
        InvalidArgumentError("keys[" + std::to_string(index) + "]: expected a str"));
  }
  return std::string(s, static_cast<size_t>(n));
}

// A sequence's items, borrowed (PySequence_Fast).
class FastSequence {
 public:
  FastSequence(nb::handle h, const char* what) {
    seq_ = nb::steal(PySequence_Fast(h.ptr(), what));
    if (!seq_.is_valid()) throw nb::python_error();
  }
  size_t size() const { return static_cast<size_t>(PySequence_Fast_GET_SIZE(seq_.ptr())); }
  PyObject* operator[](size_t i) const {
    return PySequence_Fast_GET_ITEM(seq_.ptr(), static_cast<Py_ssize_t>(i));
  }

 private:
  nb::object seq_;
};

// keys (one str for all, or one per range), starts, ends (None or a sequence with None items)
// -> requests tagged with their position.
std::vector<ReadRequest> ParseRanges(nb::handle keys, nb::handle starts, nb::handle ends) {
  FastSequence s(starts, "starts must be a sequence of integers");
  const size_t n = s.size();
  std::optional<FastSequence> e;
  if (!ends.is_none()) {
    e.emplace(ends, "ends must be a sequence of integers (or None items), or None");
    if (e->size() != n) {
      throw StatusError(InvalidArgumentError(std::to_string(n) + " starts but " +
                                             std::to_string(e->size()) + " ends"));
    }
  }
  std::optional<std::string> one_key;
  std::optional<FastSequence> k;
  if (PyUnicode_Check(keys.ptr())) {
    one_key = ToKey(keys.ptr(), 0);
  } else {
    k.emplace(keys, "keys must be a str or a sequence of str");
    if (k->size() != n) {
      throw StatusError(InvalidArgumentError(std::to_string(n) + " starts but " +
                                             std::to_string(k->size()) + " keys"));
    }
  }
  std::vector<ReadRequest> out(n);
  for (size_t i = 0; i < n; ++i) {
    ReadRequest& r = out[i];
    r.key = one_key ? *one_key : ToKey((*k)[i], i);
    const int64_t start = ToInt(s[i], "starts", i);
    std::optional<int64_t> end;
    if (e && (*e)[i] != Py_None) end = ToInt((*e)[i], "ends", i);
    Result<ByteRange> range = ToByteRange(start, end);
    if (!range.ok()) throw StatusError(range.status().WithContext("key '" + r.key + "'"));
    r.range = *range;
    r.tag = i;
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Reading.

// Adds the location and range to a request's error unless the store's message names it.
Status WithRequestContext(const Store& store, const ReadRequest& r, Status st) {
  const std::string where = store.Describe(r.key);
  if (st.message().find(where) != std::string::npos) return st;
  return st.WithContext("reading " + where + " " + r.range.ToString());
}

// One store's share of a call.
struct StoreShare {
  std::shared_ptr<Store> store;
  std::vector<ReadRequest> requests;  // tagged with their position in the call
};

// Reads every request of every share, each share as one group on a reader of its store, all
// stores at once; results[tag] = the bytes. Call without the GIL. `poll` (may be empty) is
// called while waiting and stops the call when it returns true.
Status ReadAll(const std::vector<StoreShare>& shares, std::vector<Buffer>& results,
               const std::function<bool()>& poll) {
  struct Running {
    const StoreShare* share;
    ReaderLoan reader;
    bool done = false;
  };
  std::vector<Running> running;
  running.reserve(shares.size());
  auto abort = [&running] {
    for (Running& r : running) r.reader.Discard();
  };
  for (const StoreShare& share : shares) {
    if (share.requests.empty()) continue;
    uint64_t expected = 0;
    for (const ReadRequest& q : share.requests) expected += ExpectedBytes(q.range);
    Result<ReaderLoan> loan = ReaderLoan::Make(share.store, expected);
    if (!loan.ok()) {
      abort();
      return loan.status().WithContext("reading from " + share.store->url());
    }
    running.push_back(Running{&share, *std::move(loan), false});
    Result<uint64_t> id = running.back().reader->Submit(share.requests);
    if (!id.ok()) {
      abort();
      return id.status().WithContext("reading from " + share.store->url());
    }
  }
  struct Failure {
    uint64_t tag;
    Status status;
    const StoreShare* share;
  };
  std::vector<Failure> failed;
  size_t left = running.size();
  while (left > 0) {
    for (Running& r : running) {
      if (r.done) continue;
      // One store: block (polling for Ctrl-C); several: take turns.
      int wait_ms = left == 1 ? kPollMs : 1;
      kvstore::Completion c;
      bool got = false;
      while (r.reader->NextFor(&c, wait_ms)) {
        got = true;
        wait_ms = 0;
        if (c.kind == kvstore::Completion::Kind::kEndOfGroup) {
          r.done = true;
          --left;
          break;
        }
        if (c.status.ok()) {
          results[c.tag] = std::move(c.data);
        } else {
          failed.push_back(Failure{c.tag, std::move(c.status), r.share});
        }
      }
      if (!got && poll && poll()) {
        abort();
        return CancelledError("interrupted");
      }
    }
  }
  if (failed.empty()) return Status::OK();
  // The first failed request in request order is the call's error.
  const Failure& f = *std::min_element(
      failed.begin(), failed.end(), [](const Failure& a, const Failure& b) { return a.tag < b.tag; });
  for (const ReadRequest& q : f.share->requests) {
    if (q.tag == f.tag) return WithRequestContext(*f.share->store, q, f.status);
  }
  return f.status;
}

// Splits a path or URL into its store's location and the key: a local path into "/" and the
// absolute path's components (".", ".." and repeated slashes resolved as os.path.abspath
// does); "scheme://authority/rest" into "scheme://authority" and "rest" (file:// as a path).
Result<std::pair<std::string, std::string>> SplitLocation(std::string_view location,
                                                          const std::string& cwd) {
  const std::string_view scheme = kvstore::LocationScheme(location);
  std::string_view path = location;
  if (!scheme.empty() && scheme != "file") {
    const size_t auth = scheme.size() + 3;
    const size_t slash = location.find('/', auth);
    if (slash == std::string_view::npos || slash + 1 >= location.size() || slash == auth) {
      return InvalidArgumentError(std::string(location) +
                                  ": expected scheme://bucket-or-host/key");
    }
    return std::make_pair(std::string(location.substr(0, slash)),
                          std::string(location.substr(slash + 1)));
  }
  if (scheme == "file") path = location.substr(7);
  if (path.empty()) return InvalidArgumentError("an empty path names no file");
  std::string full = path.front() == '/' ? std::string(path) : cwd + "/" + std::string(path);
  std::vector<std::string_view> parts;
  std::string_view rest = full;
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  if (parts.empty()) return InvalidArgumentError(std::string(location) + ": not a file");
  std::string key;
  for (std::string_view p : parts) {
    if (!key.empty()) key += '/';
    key += p;
  }
  return std::make_pair(std::string("/"), std::move(key));
}

std::string CurrentDirectory() {
  std::string buf(4096, '\0');
  if (::getcwd(buf.data(), buf.size()) == nullptr) return ".";
  buf.resize(std::strlen(buf.c_str()));
  return buf;
}

kvstore::OpenOptions MakeOpenOptions(const std::string& io,
                                     std::map<std::string, std::string> storage_options) {
  kvstore::OpenOptions o;
  o.io_backend = ValueOrThrow(io::ParseBackend(io));
  o.storage_options = std::move(storage_options);
  return o;
}

// Opens (or finds, in the process-wide context) the store at a location. Each kind of store
// gets the storage options that apply to it: local files the file store's ("direct_io"),
// object stores the others. Call without the GIL.
class StoreResolver {
 public:
  explicit StoreResolver(kvstore::OpenOptions options) : options_(std::move(options)) {}

  Result<std::shared_ptr<Store>> Open(const std::string& location) const {
    kvstore::OpenOptions o = options_;
    const bool local = !kvstore::IsRemoteLocation(location);
    std::erase_if(o.storage_options, [local](const auto& kv) {
      return kvstore::IsFileStoreOption(kv.first) != local;
    });
    return runtime::Context::Default()->OpenStore(location, o);
  }

 private:
  kvstore::OpenOptions options_;
};

// (path_or_url, start, end) -> location and request. Needs the GIL.
struct ParsedLocationRange {
  std::string location;
  ReadRequest request;
};

ParsedLocationRange ParseLocationRange(nb::handle item, size_t index, const std::string& cwd) {
  PyObject* t = item.ptr();
  if (!PyTuple_Check(t) && !PyList_Check(t)) {
    throw StatusError(InvalidArgumentError("requests[" + std::to_string(index) +
                                           "]: expected (path_or_url, start, end)"));
  }
  FastSequence f(item, "request");
  if (f.size() != 3) {
    throw StatusError(InvalidArgumentError("requests[" + std::to_string(index) +
                                           "]: expected (path_or_url, start, end)"));
  }
  PyObject* loc = f[0];
  nb::object fs;
  if (!PyUnicode_Check(loc)) {
    fs = nb::steal(PyOS_FSPath(loc));  // pathlib.Path
    if (!fs.is_valid()) {
      PyErr_Clear();
      throw StatusError(InvalidArgumentError("requests[" + std::to_string(index) +
                                             "]: expected a path or URL"));
    }
    loc = fs.ptr();
  }
  const std::string location = ToKey(loc, index);
  std::optional<int64_t> end;
  if (f[2] != Py_None) end = ToInt(f[2], "end of request", index);
  Result<ByteRange> range = ToByteRange(ToInt(f[1], "start of request", index), end);
  if (!range.ok()) throw StatusError(range.status().WithContext(location));
  auto split = SplitLocation(location, cwd);
  if (!split.ok()) throw StatusError(split.status());
  ParsedLocationRange out;
  out.location = std::move(split->first);
  out.request.key = std::move(split->second);
  out.request.range = *range;
  out.request.tag = index;
  return out;
}

nb::list ToList(std::vector<Buffer>& results) {
  nb::list out;
  for (Buffer& b : results) out.append(Wrap(std::move(b)));
  return out;
}

// Runs ReadAll with the GIL released and Ctrl-C polled; raises the call's first error.
nb::list ReadAndWrap(std::vector<StoreShare>& shares, size_t n) {
  std::vector<Buffer> results(n);
  MainThreadInterrupt interrupt;
  Status st;
  {
    nb::gil_scoped_release release;
    st = ReadAll(shares, results, interrupt.Poll());
  }
  interrupt.RaiseIfInterrupted();
  if (!st.ok()) throw StatusError(st, ErrorSubject::kKey);
  return ToList(results);
}

// ------------------------------------------------------------------------------------------
// lsio.store.Store

class StoreHandle {
 public:
  StoreHandle(std::string location, std::string io,
              std::map<std::string, std::string> storage_options)
      : location_(std::move(location)) {
    kvstore::OpenOptions o = MakeOpenOptions(io, std::move(storage_options));
    nb::gil_scoped_release release;
    store_ = ValueOrThrow(runtime::Context::Default()->OpenStore(location_, o));
    local_ = !kvstore::IsRemoteLocation(location_);
  }

  std::string url() const { return location_; }
  bool closed() const { return store_ == nullptr; }

  nb::object Get(const std::string& key) { return GetRange(key, 0, std::nullopt); }

  nb::object GetRange(const std::string& key, int64_t start, std::optional<int64_t> end) {
    std::shared_ptr<Store> store = Open();
    ReadRequest r;
    r.key = key;
    Result<ByteRange> range = ToByteRange(start, end);
    if (!range.ok()) throw StatusError(range.status().WithContext(store->Describe(key)));
    r.range = *range;
    if (local_) {
      // One read on this thread (pread): no hand-off to the engine's threads.
      Result<Buffer> b = [&] {
        nb::gil_scoped_release release;
        return store->ReadNow(r);
      }();
      if (!b.ok()) throw StatusError(WithRequestContext(*store, r, b.status()), ErrorSubject::kKey);
      return Wrap(*std::move(b));
    }
    std::vector<StoreShare> shares{StoreShare{store, {std::move(r)}}};
    nb::list out = ReadAndWrap(shares, 1);
    return out[0];
  }

  nb::list GetRanges(nb::handle keys, nb::handle starts, nb::handle ends) {
    std::shared_ptr<Store> store = Open();
    std::vector<StoreShare> shares{StoreShare{store, ParseRanges(keys, starts, ends)}};
    const size_t n = shares[0].requests.size();
    return ReadAndWrap(shares, n);
  }

  uint64_t Head(const std::string& key) {
    std::shared_ptr<Store> store = Open();
    Result<std::optional<uint64_t>> size = [&] {
      nb::gil_scoped_release release;
      return store->Size(key);
    }();
    if (!size.ok()) throw StatusError(size.status().WithContext(store->Describe(key)));
    if (!*size) {
      throw StatusError(NotFoundError(store->Describe(key) + ": no such key"), ErrorSubject::kKey);
    }
    return **size;
  }

  nb::object List(const std::string& prefix, bool recursive, bool sizes) {
    std::shared_ptr<Store> store = Open();
    Result<std::vector<kvstore::ListEntry>> entries = [&] {
      nb::gil_scoped_release release;
      return store->List(prefix, recursive ? kvstore::ListMode::kRecursive
                                           : kvstore::ListMode::kChildren);
    }();
    if (!entries.ok()) throw StatusError(entries.status());
    std::string base = prefix;
    if (!base.empty() && base.back() != '/') base += '/';
    nb::list keys;
    nb::dict with_sizes;
    for (const kvstore::ListEntry& e : *entries) {
      std::string key = base + e.key;
      if (e.is_prefix) key += '/';
      if (sizes) {
        with_sizes[nb::str(key.c_str(), key.size())] = e.size;
      } else {
        keys.append(nb::str(key.c_str(), key.size()));
      }
    }
    if (sizes) return with_sizes;
    return keys;
  }

  void Put(const std::string& key, nb::handle data) {
    std::shared_ptr<Store> store = Open();
    BorrowedBytes bytes(data);
    Status st;
    {
      nb::gil_scoped_release release;
      st = store->Write(key, bytes.span());
    }
    if (!st.ok()) throw StatusError(st.WithContext("writing " + store->Describe(key)));
  }

  void Delete(const std::string& key) {
    std::shared_ptr<Store> store = Open();
    Status st;
    {
      nb::gil_scoped_release release;
      st = store->Delete(key);
    }
    if (!st.ok()) throw StatusError(st.WithContext("deleting " + store->Describe(key)));
  }

  // Drops this handle's store and the idle readers of it (their pools go away; buffers handed
  // out stay valid). Other handles on the same location keep working.
  void Close() {
    if (!store_) return;
    std::shared_ptr<Store> store = std::move(store_);
    nb::gil_scoped_release release;
    ReaderCache::Default().Evict(store.get());
  }

  std::shared_ptr<Store> Open() const {
    if (!store_) throw StatusError(InvalidArgumentError(location_ + ": the store is closed"));
    return store_;
  }

 private:
  std::string location_;
  std::shared_ptr<Store> store_;
  bool local_ = true;
};

// ------------------------------------------------------------------------------------------
// read_ranges and iter_ranges

nb::list ReadRanges(nb::handle requests, const std::string& io,
                    std::map<std::string, std::string> storage_options) {
  const std::string cwd = CurrentDirectory();
  FastSequence items(requests, "requests must be a sequence of (path_or_url, start, end)");
  std::vector<ParsedLocationRange> parsed;
  parsed.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    parsed.push_back(ParseLocationRange(nb::handle(items[i]), i, cwd));
  }
  std::vector<StoreShare> shares;
  {
    nb::gil_scoped_release release;
    const StoreResolver resolver(MakeOpenOptions(io, std::move(storage_options)));
    std::map<std::string, size_t> share_of;
    for (ParsedLocationRange& p : parsed) {
      auto it = share_of.find(p.location);
      if (it == share_of.end()) {
        shares.push_back(StoreShare{ValueOrThrow(resolver.Open(p.location)), {}});
        it = share_of.emplace(p.location, shares.size() - 1).first;
      }
      shares[it->second].requests.push_back(std::move(p.request));
    }
  }
  return ReadAndWrap(shares, parsed.size());
}

// The streaming form: pulls requests from an iterator, keeps at most `window` bytes submitted
// and not yet delivered (ExpectedBytes: a read to the end of a value counts as kUnknownLength
// until it is delivered), and hands out whatever has completed, in groups.
// Results the consumer keeps are its own memory and never hold the stream back.
class RangeStream {
 public:
  // Requests taken from the iterator per submitted group, at most.
  static constexpr size_t kGroupMax = 4096;

  RangeStream(nb::object iterator, std::shared_ptr<Store> fixed, uint64_t window,
              kvstore::OpenOptions options)
      : iterator_(std::move(iterator)),
        fixed_(std::move(fixed)),
        window_(std::max<uint64_t>(window, 1)),
        resolver_(std::move(options)),
        cwd_(CurrentDirectory()) {}

  RangeStream(const RangeStream&) = delete;
  RangeStream& operator=(const RangeStream&) = delete;

  nb::list Next() {
    // As a generator: one __next__ at a time (another thread could run while this one waits).
    if (busy_) throw nb::value_error("iter_ranges: the stream is already being advanced");
    busy_ = true;
    struct Unbusy {
      bool& b;
      ~Unbusy() { b = false; }
    } unbusy{busy_};
    if (!error_.ok()) throw StatusError(error_, ErrorSubject::kKey);
    if (broken_) throw StatusError(InvalidArgumentError("iter_ranges: the stream failed"));
    try {
      Refill();
    } catch (...) {
      // A malformed request or a store that does not open: what was taken is dropped.
      broken_ = true;
      nb::gil_scoped_release release;
      Abort();
      throw;
    }
    if (outstanding_ == 0) {
      Finish();
      throw nb::stop_iteration();
    }
    std::vector<std::pair<uint64_t, Buffer>> done;
    MainThreadInterrupt interrupt;
    Status st;
    {
      nb::gil_scoped_release release;
      st = Wait(done, interrupt.Poll());
    }
    interrupt.RaiseIfInterrupted();
    if (!st.ok()) {
      error_ = st;
      Abort();
      throw StatusError(st, ErrorSubject::kKey);
    }
    nb::list out;
    for (auto& [tag, b] : done) out.append(nb::make_tuple(tag, Wrap(std::move(b))));
    return out;
  }

  ~RangeStream() {
    nb::gil_scoped_release release;
    Abort();
  }

 private:
  struct Active {
    ReaderLoan reader;
    std::vector<ReadRequest> pending;  // taken from the iterator, not yet submitted
    size_t groups_open = 0;            // submitted groups without their end marker
  };
  struct InFlight {
    uint64_t charge;
    Active* active;
    std::string key;
    ByteRange range;
  };

  // Takes requests from the iterator while the window has room; submits them. Needs the GIL.
  void Refill() {
    size_t taken = 0;
    while (!exhausted_ && charged_ < window_ && taken < kGroupMax) {
      nb::object item = nb::steal(PyIter_Next(iterator_.ptr()));
      if (!item.is_valid()) {
        if (PyErr_Occurred()) throw nb::python_error();
        exhausted_ = true;
        break;
      }
      const uint64_t index = next_index_++;
      std::string location;
      ReadRequest r;
      if (fixed_) {
        FastSequence f(item, "request");
        if (f.size() != 3) {
          throw StatusError(InvalidArgumentError("requests[" + std::to_string(index) +
                                                 "]: expected (key, start, end)"));
        }
        r.key = ToKey(f[0], index);
        std::optional<int64_t> end;
        if (f[2] != Py_None) end = ToInt(f[2], "end of request", index);
        Result<ByteRange> range = ToByteRange(ToInt(f[1], "start of request", index), end);
        if (!range.ok()) throw StatusError(range.status().WithContext(fixed_->Describe(r.key)));
        r.range = *range;
        r.tag = index;
      } else {
        ParsedLocationRange p = ParseLocationRange(item, index, cwd_);
        location = std::move(p.location);
        r = std::move(p.request);
      }
      Active* active = nullptr;
      {
        nb::gil_scoped_release release;
        active = ValueOrThrow(ActiveFor(location));
      }
      const uint64_t charge = ExpectedBytes(r.range);
      charged_ += charge;
      in_flight_.emplace(index, InFlight{charge, active, r.key, r.range});
      active->pending.push_back(std::move(r));
      ++taken;
    }
    nb::gil_scoped_release release;
    for (auto& [location, a] : actives_) {
      if (a->pending.empty()) continue;
      std::vector<ReadRequest> group = std::move(a->pending);
      a->pending.clear();
      outstanding_ += group.size();
      Result<uint64_t> id = a->reader->Submit(std::move(group));
      if (!id.ok()) {
        error_ = id.status().WithContext("reading from " + a->reader.store()->url());
        throw StatusError(error_);
      }
      ++a->groups_open;
    }
  }

  Result<Active*> ActiveFor(const std::string& location) {
    auto it = actives_.find(location);
    if (it != actives_.end()) return it->second.get();
    std::shared_ptr<Store> store = fixed_;
    if (!store) {
      LSIO_ASSIGN_OR_RETURN(store, resolver_.Open(location));
    }
    LSIO_ASSIGN_OR_RETURN(ReaderLoan loan, ReaderLoan::Make(store, window_));
    auto a = std::make_unique<Active>();
    a->reader = std::move(loan);
    Active* raw = a.get();
    actives_.emplace(location, std::move(a));
    return raw;
  }

  // Waits for at least one completion, then takes every one already there. No GIL.
  Status Wait(std::vector<std::pair<uint64_t, Buffer>>& done, const std::function<bool()>& poll) {
    while (done.empty()) {
      size_t open = 0;
      for (auto& [location, a] : actives_) open += a->groups_open > 0 ? 1 : 0;
      bool any = false;
      for (auto& [location, a] : actives_) {
        if (a->groups_open == 0) continue;
        kvstore::Completion c;
        int wait_ms = open == 1 ? kPollMs : 1;
        while (a->reader->NextFor(&c, wait_ms)) {
          wait_ms = 0;
          any = true;
          if (c.kind == kvstore::Completion::Kind::kEndOfGroup) {
            --a->groups_open;
            continue;
          }
          auto it = in_flight_.find(c.tag);
          if (it == in_flight_.end()) continue;
          const InFlight f = std::move(it->second);
          in_flight_.erase(it);
          charged_ -= f.charge;
          --outstanding_;
          if (!c.status.ok()) {
            ReadRequest r;
            r.key = f.key;
            r.range = f.range;
            return WithRequestContext(*a->reader.store(), r, c.status);
          }
          done.emplace_back(c.tag, std::move(c.data));
        }
      }
      if (!any && poll && poll()) return CancelledError("interrupted");
      if (!any && outstanding_ == 0) break;
    }
    return Status::OK();
  }

  // Ends the stream early: readers with reads in flight are shut down, not reused. No GIL.
  void Abort() {
    for (auto& [location, a] : actives_) {
      if (a->groups_open > 0) a->reader.Discard();
    }
    actives_.clear();
    exhausted_ = true;
  }

  // Ends the stream after its last result: readers go back to the cache. Needs the GIL.
  void Finish() {
    nb::gil_scoped_release release;
    actives_.clear();
  }

  nb::object iterator_;
  std::shared_ptr<Store> fixed_;
  uint64_t window_;
  StoreResolver resolver_;
  std::string cwd_;
  std::map<std::string, std::unique_ptr<Active>> actives_;
  std::unordered_map<uint64_t, InFlight> in_flight_;
  uint64_t next_index_ = 0;
  uint64_t charged_ = 0;
  size_t outstanding_ = 0;
  bool exhausted_ = false;
  bool broken_ = false;
  bool busy_ = false;
  Status error_;
};

}  // namespace

void RegisterStoreBindings(nb::module_& m) {
  nb::class_<PyBuffer>(m, "Buffer", nb::type_slots(kBufferSlots),
                       "Bytes read by lsio, without a copy: a read-only buffer (memoryview, "
                       "numpy.frombuffer, bytes()). Releasing the last reference (and every "
                       "memoryview of it) returns the memory to lsio's buffer pool.")
      .def("__len__", [](const PyBuffer& b) { return b.buffer.size(); })
      .def("__bytes__",
           [](const PyBuffer& b) {
             return nb::bytes(reinterpret_cast<const char*>(b.buffer.data()), b.buffer.size());
           })
      .def("__eq__", &BufferEquals, "other"_a.none())
      .def("__repr__",
           [](const PyBuffer& b) {
             return "<lsio.store.Buffer of " + std::to_string(b.buffer.size()) + " bytes>";
           })
      .def_prop_ro("nbytes", [](const PyBuffer& b) { return b.buffer.size(); });

  nb::class_<StoreHandle>(m, "StoreHandle", "A store opened by lsio.store.open.")
      .def(nb::init<std::string, std::string, std::map<std::string, std::string>>(),
           "location"_a, "io"_a = "auto",
           "storage_options"_a = std::map<std::string, std::string>{})
      .def_prop_ro("url", &StoreHandle::url)
      .def_prop_ro("closed", &StoreHandle::closed)
      .def("get", &StoreHandle::Get, "key"_a)
      .def("get_range", &StoreHandle::GetRange, "key"_a, "start"_a, "end"_a.none() = nb::none())
      .def("get_ranges", &StoreHandle::GetRanges, "keys"_a, "starts"_a, "ends"_a.none())
      .def("head", &StoreHandle::Head, "key"_a)
      .def("list", &StoreHandle::List, "prefix"_a = "", "recursive"_a = true, "sizes"_a = false)
      .def("put", &StoreHandle::Put, "key"_a, "data"_a)
      .def("delete", &StoreHandle::Delete, "key"_a)
      .def("close", &StoreHandle::Close);

  nb::class_<RangeStream>(m, "RangeStream", "Results of lsio.store.iter_ranges, in groups.")
      .def("__iter__", [](nb::handle self) { return nb::borrow(self); })
      .def("__next__", &RangeStream::Next);

  m.def("read_ranges", &ReadRanges, "requests"_a, "io"_a = "auto",
        "storage_options"_a = std::map<std::string, std::string>{},
        "(path_or_url, start, end) requests across stores, in one call (see lsio.store).");
  m.def(
      "iter_ranges",
      [](nb::handle requests, uint64_t window, const std::string& io,
         std::map<std::string, std::string> storage_options) {
        nb::object it = nb::steal(PyObject_GetIter(requests.ptr()));
        if (!it.is_valid()) throw nb::python_error();
        return new RangeStream(std::move(it), nullptr, window,
                               MakeOpenOptions(io, std::move(storage_options)));
      },
      "requests"_a, "max_bytes_in_flight"_a, "io"_a = "auto",
      "storage_options"_a = std::map<std::string, std::string>{}, nb::rv_policy::take_ownership,
      "(path_or_url, start, end) requests from an iterator, streamed (see "
      "lsio.store.iter_ranges).");
  m.def(
      "store_iter_ranges",
      [](StoreHandle& store, nb::handle requests, uint64_t window) {
        nb::object it = nb::steal(PyObject_GetIter(requests.ptr()));
        if (!it.is_valid()) throw nb::python_error();
        return new RangeStream(std::move(it), store.Open(), window, kvstore::OpenOptions{});
      },
      "store"_a, "requests"_a, "max_bytes_in_flight"_a, nb::rv_policy::take_ownership,
      "(key, start, end) requests on one store, streamed (see lsio.store.Store.iter_ranges).");
}

}  // namespace lsio::python
