// The Reader and the synchronous helpers that S3Store and HttpStore share.

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <unordered_map>

#include "lsio/io/coalesce.h"
#include "object_store_internal.h"

namespace lsio::kvstore {

namespace http = io::http;

// ---------------------------------------------------------------------------------------------
// Options.

namespace {

Result<double> ParseSeconds(std::string_view name, const std::string& v, double min) {
  double out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || !(out >= min) || out > 1e7) {
    return InvalidArgumentError("storage option '" + std::string(name) +
                                "': expected a number of seconds, got '" + v + "'");
  }
  return out;
}

Result<uint64_t> ParseBytes(std::string_view name, const std::string& v, uint64_t min) {
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < min) {
    return InvalidArgumentError("storage option '" + std::string(name) +
                                "': expected a number of bytes >= " + std::to_string(min) +
                                ", got '" + v + "'");
  }
  return out;
}

Result<bool> ParseBool(std::string_view name, const std::string& v) {
  std::string l(v);
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "0" || l == "no" || l == "off") return false;
  return InvalidArgumentError("storage option '" + std::string(name) +
                              "': expected true or false, got '" + v + "'");
}

}  // namespace

Result<ObjectStoreOptions> TakeObjectStoreOptions(std::map<std::string, std::string>& opts) {
  ObjectStoreOptions o;
  auto take = [&](const char* name) -> std::optional<std::string> {
    auto it = opts.find(name);
    if (it == opts.end()) return std::nullopt;
    std::string v = it->second;
    opts.erase(it);
    return v;
  };
  if (auto v = take("retry_timeout")) {
    LSIO_ASSIGN_OR_RETURN(o.retry_timeout, ParseSeconds("retry_timeout", *v, 0));
  }
  if (auto v = take("connect_timeout")) {
    LSIO_ASSIGN_OR_RETURN(o.connect_timeout, ParseSeconds("connect_timeout", *v, 0.001));
  }
  if (auto v = take("stall_timeout")) {
    LSIO_ASSIGN_OR_RETURN(o.stall_timeout, ParseSeconds("stall_timeout", *v, 1));
  }
  if (auto v = take("hedge_factor")) {
    LSIO_ASSIGN_OR_RETURN(o.hedge_factor, ParseSeconds("hedge_factor", *v, 1));
  }
  if (auto v = take("hedge_min_delay")) {
    LSIO_ASSIGN_OR_RETURN(o.hedge_min_delay, ParseSeconds("hedge_min_delay", *v, 0));
  }
  if (auto v = take("hedge")) {
    LSIO_ASSIGN_OR_RETURN(o.hedge, ParseBool("hedge", *v));
  }
  if (auto v = take("adapt_requests")) {
    LSIO_ASSIGN_OR_RETURN(o.adapt_requests, ParseBool("adapt_requests", *v));
  }
  for (auto [name, field] : {std::pair{"requests", &o.requests},
                             std::pair{"min_requests", &o.min_requests},
                             std::pair{"max_requests", &o.max_requests}}) {
    if (auto v = take(name)) {
      LSIO_ASSIGN_OR_RETURN(uint64_t n, ParseBytes(name, *v, 1));
      if (n > 4096) return InvalidArgumentError(std::string("storage option '") + name + "': at most 4096");
      *field = static_cast<int>(n);
    }
  }
  if (auto v = take("coalesce_max_gap")) {
    LSIO_ASSIGN_OR_RETURN(o.coalesce.max_gap, ParseBytes("coalesce_max_gap", *v, 0));
  }
  if (auto v = take("coalesce_max_size")) {
    LSIO_ASSIGN_OR_RETURN(o.coalesce.max_size, ParseBytes("coalesce_max_size", *v, 1));
  }
  if (auto v = take("multipart_threshold")) {
    LSIO_ASSIGN_OR_RETURN(o.multipart_threshold, ParseBytes("multipart_threshold", *v, 1));
  }
  if (auto v = take("part_size")) {
    LSIO_ASSIGN_OR_RETURN(o.part_size, ParseBytes("part_size", *v, uint64_t{5} << 20));
  }
  o.min_requests = std::min(o.min_requests, o.requests);
  o.max_requests = std::max(o.max_requests, o.requests);
  return o;
}

namespace internal {

http::ClientOptions ToClientOptions(const ObjectStoreOptions& o) {
  http::ClientOptions c;
  c.initial_requests = o.requests;
  c.min_requests = o.min_requests;
  c.max_requests = o.max_requests;
  c.adapt = o.adapt_requests;
  c.retry_timeout = o.retry_timeout;
  c.connect_timeout = o.connect_timeout;
  c.stall_timeout = o.stall_timeout;
  c.hedge = o.hedge;
  c.hedge_factor = o.hedge_factor;
  c.hedge_min_delay = o.hedge_min_delay;
  return c;
}

// ---------------------------------------------------------------------------------------------
// Ranges and windows.

std::string FetchRange::RangeHeader() const {
  switch (kind) {
    case Kind::kWhole: return "";
    case Kind::kFrom: return "bytes=" + std::to_string(offset) + "-";
    case Kind::kRange:
      return "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
    case Kind::kSuffix: return "bytes=-" + std::to_string(length);
  }
  return "";
}

std::string FetchRange::ToString() const {
  switch (kind) {
    case Kind::kWhole: return "the whole value";
    case Kind::kFrom: return "bytes " + std::to_string(offset) + "-end";
    case Kind::kRange:
      return "bytes " + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
    case Kind::kSuffix: return "the last " + std::to_string(length) + " bytes";
  }
  return "";
}

namespace {

std::optional<uint64_t> ParseU64(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<uint64_t> HeaderU64(const http::HeaderMap& h, const char* name) {
  auto it = h.find(name);
  if (it == h.end()) return std::nullopt;
  return ParseU64(it->second);
}

}  // namespace

std::optional<ContentRange> ParseContentRange(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (!v.starts_with("bytes")) return std::nullopt;
  v.remove_prefix(5);
  while (!v.empty() && (v.front() == ' ' || v.front() == '=')) v.remove_prefix(1);
  size_t slash = v.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  ContentRange cr;
  std::string_view span = v.substr(0, slash), total = v.substr(slash + 1);
  if (total != "*") {
    cr.total = ParseU64(total);
    if (!cr.total) return std::nullopt;
  }
  if (span != "*") {
    size_t dash = span.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    cr.first = ParseU64(span.substr(0, dash));
    cr.last = ParseU64(span.substr(dash + 1));
    if (!cr.first || !cr.last || *cr.last < *cr.first) return std::nullopt;
    if (cr.total && *cr.last >= *cr.total) return std::nullopt;
  }
  return cr;
}

WindowResult ResolveBodyWindow(const FetchRange& range, int status, const http::HeaderMap& h) {
  using Kind = FetchRange::Kind;
  WindowResult r;
  auto past_end = [&](uint64_t size) {
    r.status = OutOfRangeError(range.ToString() + " is past the end of the value (" +
                               std::to_string(size) + " bytes)");
    return r;
  };
  std::optional<ContentRange> cr;
  if (auto it = h.find("content-range"); it != h.end()) {
    cr = ParseContentRange(it->second);
    if (!cr) {
      r.status = IOError("unreadable Content-Range '" + it->second + "'");
      r.retry = true;
      return r;
    }
  }
  const std::optional<uint64_t> content_length = HeaderU64(h, "content-length");
  if (status == 416) {
    if (cr && cr->total) {
      const uint64_t size = *cr->total;
      if (range.kind == Kind::kFrom && range.offset == size) {
        r.window = {0, 0, size};  // an empty range at the very end
        return r;
      }
      return past_end(size);
    }
    if (range.kind == Kind::kFrom) {
      r.needs_size = true;  // at the very end (empty) or past it: the size decides
      r.window = {0, 0, std::nullopt};
      return r;
    }
    r.status = OutOfRangeError(range.ToString() + " is past the end of the value");
    return r;
  }
  if (status == 206 || (status == 200 && cr && cr->first)) {
    if (!cr || !cr->first) {
      r.status = IOError("a 206 response without a usable Content-Range");
      r.retry = true;
      return r;
    }
    const uint64_t first = *cr->first, last = *cr->last;
    r.window.object_size = cr->total;
    const uint64_t got = last - first + 1;
    switch (range.kind) {
      case Kind::kWhole:
      case Kind::kFrom: {
        const uint64_t want = range.kind == Kind::kFrom ? range.offset : 0;
        if (cr->total && want > *cr->total) return past_end(*cr->total);
        // The body must cover `want` (or end right before it: an empty read at the end).
        if (first > want || want > last + 1) break;
        r.window.skip = want - first;
        if (cr->total) {
          if (last + 1 != *cr->total) break;  // must reach the end
          r.window.length = *cr->total - want;
        } else {
          r.window.length = got - r.window.skip;
        }
        return r;
      }
      case Kind::kRange: {
        // A range reaching past the end comes back cut at the end: the window is cut too (a
        // coalesced fetch's parts inside the value still succeed; the others fail one by one).
        uint64_t end = range.offset + range.length;
        if (cr->total && end > *cr->total) {
          if (range.offset >= *cr->total) return past_end(*cr->total);
          end = *cr->total;
        }
        if (first > range.offset || last + 1 < end) break;
        r.window.skip = range.offset - first;
        r.window.length = end - range.offset;
        return r;
      }
      case Kind::kSuffix: {
        if (cr->total && range.length > *cr->total) return past_end(*cr->total);
        if (!cr->total) {
          if (got < range.length) break;
          r.window.skip = got - range.length;
        } else {
          const uint64_t start = *cr->total - range.length;
          if (first > start || last + 1 != *cr->total) break;
          r.window.skip = start - first;
        }
        r.window.length = range.length;
        return r;
      }
    }
    r.status = IOError("the server answered " + range.ToString() + " with Content-Range " +
                       h.at("content-range"));
    r.retry = true;
    return r;
  }
  if (status >= 200 && status < 300) {
    // The whole value (the server ignored or was not sent a Range).
    r.window.object_size = content_length;
    switch (range.kind) {
      case Kind::kWhole:
        r.window.length = content_length;
        return r;
      case Kind::kFrom:
        if (content_length && range.offset > *content_length) return past_end(*content_length);
        r.window.skip = range.offset;
        if (content_length) r.window.length = *content_length - range.offset;
        return r;
      case Kind::kRange:
        r.window.skip = range.offset;
        r.window.length = range.length;
        if (content_length && range.offset + range.length > *content_length) {
          if (range.offset >= *content_length) return past_end(*content_length);
          r.window.length = *content_length - range.offset;  // cut at the end, as above
        }
        return r;
      case Kind::kSuffix:
        if (!content_length) {
          r.status = IOError("the server ignored a suffix range and sent no Content-Length");
          return r;
        }
        if (range.length > *content_length) return past_end(*content_length);
        r.window.skip = *content_length - range.length;
        r.window.length = range.length;
        return r;
    }
  }
  r.status = InternalError("ResolveBodyWindow called for HTTP " + std::to_string(status));
  return r;
}

// ---------------------------------------------------------------------------------------------
// Attempts.

namespace {

using http::Verdict;

// Collects a whole body (synchronous calls).
class BufferedAttempt final : public http::Attempt {
 public:
  BufferedAttempt(std::shared_ptr<const ObjectEndpoint> endpoint, std::string what)
      : endpoint_(std::move(endpoint)), what_(std::move(what)) {}
  bool OnHeaders(int status, const http::HeaderMap& headers) override {
    response_.status = status;
    response_.headers = headers;
    return status >= 200 && status < 300;
  }
  Verdict OnBody(std::span<const std::byte> bytes) override {
    if (response_.body.size() + bytes.size() > (size_t{256} << 20)) {
      return Verdict::Fail(ResourceExhaustedError(what_ + ": response larger than 256 MiB"));
    }
    response_.body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return Verdict::Ok();
  }
  Verdict Finish(int status, const http::HeaderMap& headers, std::string_view error_body) override {
    if (status >= 200 && status < 300) return Verdict::Ok();
    return endpoint_->ErrorVerdict(status, headers, error_body, what_);
  }
  Response response_;

 private:
  std::shared_ptr<const ObjectEndpoint> endpoint_;
  std::string what_;
};

class CallExchange final : public http::Exchange {
 public:
  CallExchange(std::shared_ptr<const ObjectEndpoint> endpoint, std::string method,
               std::string key, Query query, Headers headers, std::span<const std::byte> body,
               std::string what)
      : endpoint_(std::move(endpoint)),
        method_(std::move(method)),
        key_(std::move(key)),
        query_(std::move(query)),
        headers_(std::move(headers)),
        body_(body),
        what_(std::move(what)) {}
  Status Prepare(http::RequestSpec* spec) override {
    return endpoint_->Build(method_, key_, query_, headers_, body_, spec);
  }
  std::unique_ptr<http::Attempt> NewAttempt() override {
    return std::make_unique<BufferedAttempt>(endpoint_, what_);
  }
  void Done(Status status, std::unique_ptr<http::Attempt> winner) override {
    if (status.ok()) {
      promise_.set_value(std::move(static_cast<BufferedAttempt*>(winner.get())->response_));
    } else {
      promise_.set_value(std::move(status));
    }
  }
  std::string Describe() const override { return what_; }
  bool CanHedge() const override { return method_ == "GET" || method_ == "HEAD"; }
  bool urgent() const override { return true; }
  std::future<Result<Response>> future() { return promise_.get_future(); }

 private:
  std::shared_ptr<const ObjectEndpoint> endpoint_;
  std::string method_, key_;
  Query query_;
  Headers headers_;
  std::span<const std::byte> body_;
  std::string what_;
  std::promise<Result<Response>> promise_;
};

// Receives a range (or whole value) into a pool buffer, cutting the wanted window out of what
// the server sends.
class RangeAttempt final : public http::Attempt {
 public:
  RangeAttempt(FetchRange range, BufferPool* pool, uint64_t max_length, bool limit_exhausts,
               std::shared_ptr<const ObjectEndpoint> endpoint, std::string what)
      : range_(range),
        pool_(pool),
        max_length_(max_length),
        limit_exhausts_(limit_exhausts),
        endpoint_(std::move(endpoint)),
        what_(std::move(what)) {}

  bool OnHeaders(int status, const http::HeaderMap& headers) override {
    if (!(status >= 200 && status < 300) && status != 416) return false;
    WindowResult w = ResolveBodyWindow(range_, status, headers);
    if (!w.status.ok()) {
      error_ = Verdict{w.status.WithContext(what_), w.retry, 0};
      return true;
    }
    window_ = w.window;
    needs_size_ = w.needs_size;
    if (window_.length) {
      if (*window_.length > max_length_) {
        error_ = Verdict::Fail(TooLong(*window_.length));
        return true;
      }
      Result<Buffer> b = pool_->Acquire(*window_.length);
      if (!b.ok()) {
        error_ = Verdict::Fail(b.status().WithContext(what_));
        return true;
      }
      buffer_ = std::move(*b);
    }
    return true;
  }

  Verdict OnBody(std::span<const std::byte> bytes) override {
    if (!error_.status.ok()) return error_;
    const uint64_t start = pos_;
    pos_ += bytes.size();
    if (pos_ <= window_.skip) return Verdict::Ok();
    uint64_t from = start < window_.skip ? window_.skip - start : 0;
    std::span<const std::byte> take = bytes.subspan(from);
    if (window_.length) {
      const uint64_t room = *window_.length - std::min(*window_.length, got_);
      if (take.size() > room) take = take.first(room);
      if (!take.empty()) std::memcpy(buffer_.mutable_data() + got_, take.data(), take.size());
      got_ += take.size();
      return Verdict::Ok();
    }
    // Unknown length: grow by doubling.
    if (got_ + take.size() > max_length_) return Verdict::Fail(TooLong(got_ + take.size()));
    if (got_ + take.size() > buffer_.size()) {
      size_t want = std::max<size_t>({size_t{64} << 10, buffer_.size() * 2, got_ + take.size()});
      Result<Buffer> bigger = pool_->Acquire(want);
      if (!bigger.ok()) return Verdict::Fail(bigger.status().WithContext(what_));
      if (got_ > 0) std::memcpy(bigger->mutable_data(), buffer_.data(), got_);
      buffer_ = std::move(*bigger);
    }
    std::memcpy(buffer_.mutable_data() + got_, take.data(), take.size());
    got_ += take.size();
    return Verdict::Ok();
  }

  Verdict Finish(int status, const http::HeaderMap& headers, std::string_view error_body) override {
    if (!error_.status.ok()) return error_;
    if (status == 416) return Verdict::Ok();  // the empty range at the end (OnHeaders)
    if (status >= 200 && status < 300) {
      if (window_.length) {
        if (got_ < *window_.length) {
          return Verdict::Retry(IOError(what_ + ": the response ended after " +
                                        std::to_string(got_) + " of " +
                                        std::to_string(*window_.length) + " bytes"));
        }
      } else {
        window_.length = got_;
        if (range_.kind == FetchRange::Kind::kWhole) window_.object_size = got_;
        buffer_.Truncate(got_);
      }
      return Verdict::Ok();
    }
    return endpoint_->ErrorVerdict(status, headers, error_body, what_);
  }

  Buffer TakeBuffer() { return std::move(buffer_); }
  const BodyWindow& window() const { return window_; }
  // A 416 to a read from an offset to the end that did not say the value's size: the caller
  // compares the offset with the size (ResolveBodyWindow).
  bool needs_size() const { return needs_size_; }

 private:
  Status TooLong(uint64_t n) const {
    std::string msg = what_ + ": " + std::to_string(n) + " bytes exceed the limit of " +
                      std::to_string(max_length_) + " set for this read";
    return limit_exhausts_ ? ResourceExhaustedError(msg) : OutOfRangeError(msg);
  }

  FetchRange range_;
  BufferPool* pool_;
  uint64_t max_length_;
  bool limit_exhausts_;
  std::shared_ptr<const ObjectEndpoint> endpoint_;
  std::string what_;
  Verdict error_;
  BodyWindow window_;
  Buffer buffer_;
  bool needs_size_ = false;
  uint64_t pos_ = 0;
  uint64_t got_ = 0;
};

// A HEAD: the value's size.
class HeadAttempt final : public http::Attempt {
 public:
  HeadAttempt(std::shared_ptr<const ObjectEndpoint> endpoint, std::string what)
      : endpoint_(std::move(endpoint)), what_(std::move(what)) {}
  bool OnHeaders(int, const http::HeaderMap&) override { return false; }
  Verdict OnBody(std::span<const std::byte>) override { return Verdict::Ok(); }
  Verdict Finish(int status, const http::HeaderMap& headers, std::string_view body) override {
    if (status >= 200 && status < 300) {
      size_ = HeaderU64(headers, "content-length");
      if (!size_) return Verdict::Retry(IOError(what_ + ": HEAD response without Content-Length"));
      return Verdict::Ok();
    }
    return endpoint_->ErrorVerdict(status, headers, body, what_);
  }
  std::optional<uint64_t> size_;

 private:
  std::shared_ptr<const ObjectEndpoint> endpoint_;
  std::string what_;
};

// A one-off fetch for the synchronous calls.
class SyncFetch final : public http::Exchange {
 public:
  SyncFetch(std::shared_ptr<const ObjectEndpoint> endpoint, std::string key, FetchRange range,
            bool head, uint64_t max_length, BufferPool* pool)
      : endpoint_(std::move(endpoint)),
        key_(std::move(key)),
        range_(range),
        head_(head),
        max_length_(max_length),
        pool_(pool),
        what_(endpoint_->Describe(key_) +
              (head_ ? "" : range_.kind == FetchRange::Kind::kWhole ? "" : " (" + range_.ToString() + ")")) {}
  Status Prepare(http::RequestSpec* spec) override {
    Headers h;
    if (!head_ && range_.kind != FetchRange::Kind::kWhole) h.emplace_back("Range", range_.RangeHeader());
    return endpoint_->Build(head_ ? "HEAD" : "GET", key_, {}, std::move(h), {}, spec);
  }
  std::unique_ptr<http::Attempt> NewAttempt() override {
    if (head_) return std::make_unique<HeadAttempt>(endpoint_, what_);
    return std::make_unique<RangeAttempt>(range_, pool_, max_length_, true, endpoint_, what_);
  }
  void Done(Status status, std::unique_ptr<http::Attempt> winner) override {
    status_ = std::move(status);
    winner_ = std::move(winner);
    done_.set_value();
  }
  std::string Describe() const override { return what_; }
  bool CanHedge() const override { return true; }
  bool urgent() const override { return true; }

  Status Wait() {
    done_.get_future().wait();
    return status_;
  }
  http::Attempt* winner() { return winner_.get(); }

 private:
  std::shared_ptr<const ObjectEndpoint> endpoint_;
  std::string key_;
  FetchRange range_;
  bool head_;
  uint64_t max_length_;
  BufferPool* pool_;
  std::string what_;
  std::promise<void> done_;
  Status status_;
  std::unique_ptr<http::Attempt> winner_;
};

// What a request wants: a fetch and the part of it.
struct Plan {
  Status error;              // the request fails at once
  bool probe = false;        // a zero-length range: a HEAD checks the key and the offset
  FetchRange fetch;
  uint64_t part_offset = 0;  // within the fetch's window
  std::optional<uint64_t> part_length;  // nullopt: the whole window
  uint64_t check_offset = 0;  // probe: the value must hold at least this many bytes
};

Plan PlanRequest(const ByteRange& r) {
  using Kind = FetchRange::Kind;
  Plan p;
  if (r.length < ByteRange::kToEnd) {
    p.error = InvalidArgumentError("negative length " + std::to_string(r.length));
    return p;
  }
  if (r.offset >= 0) {
    const uint64_t off = static_cast<uint64_t>(r.offset);
    if (r.length == ByteRange::kToEnd) {
      p.fetch = off == 0 ? FetchRange{Kind::kWhole} : FetchRange{Kind::kFrom, off, 0};
    } else if (r.length == 0) {
      p.probe = true;
      p.check_offset = off;
      p.part_length = 0;
    } else {
      p.fetch = {Kind::kRange, off, static_cast<uint64_t>(r.length)};
    }
    return p;
  }
  const uint64_t back = uint64_t{0} - static_cast<uint64_t>(r.offset);
  if (r.length == ByteRange::kToEnd) {
    p.fetch = {Kind::kSuffix, 0, back};
  } else if (static_cast<uint64_t>(r.length) > back) {
    p.error = OutOfRangeError(r.ToString() + " reaches past the end of the value");
  } else if (r.length == 0) {
    p.probe = true;
    p.check_offset = back;
    p.part_length = 0;
  } else {
    p.fetch = {Kind::kSuffix, 0, back};
    p.part_length = static_cast<uint64_t>(r.length);
  }
  return p;
}

}  // namespace

std::future<Result<Response>> StartCall(http::Client& client,
                                        std::shared_ptr<const ObjectEndpoint> endpoint,
                                        std::string method, std::string key, Query query,
                                        Headers headers, std::span<const std::byte> body,
                                        std::string what) {
  auto ex = std::make_shared<CallExchange>(std::move(endpoint), std::move(method), std::move(key),
                                           std::move(query), std::move(headers), body,
                                           std::move(what));
  auto fut = ex->future();
  client.Start(ex);
  return fut;
}

Result<Response> Call(http::Client& client, std::shared_ptr<const ObjectEndpoint> endpoint,
                      std::string method, std::string key, Query query, Headers headers,
                      std::span<const std::byte> body, std::string what) {
  return StartCall(client, std::move(endpoint), std::move(method), std::move(key),
                   std::move(query), std::move(headers), body, std::move(what))
      .get();
}

namespace {

// A read from `offset` to the end of a value of `size` bytes that the server refused (416):
// empty when `offset` is exactly the end, else past the end (or, when the value is larger, it
// changed between the GET and the HEAD).
Status EndOfValueStatus(const std::string& where, const ByteRange& range, uint64_t offset,
                        uint64_t size) {
  if (offset == size) return Status::OK();
  if (offset > size) {
    return OutOfRangeError(where + ": " + range.ToString() + " is past the end of the value (" +
                           std::to_string(size) + " bytes)");
  }
  return IOError(where + ": the server refused " + range.ToString() + " as past the end, but " +
                 "the value holds " + std::to_string(size) + " bytes (it changed while read?)");
}

Result<std::optional<Buffer>> EndOfValue(const std::string& where, const ByteRange& range,
                                         uint64_t offset, uint64_t size) {
  LSIO_RETURN_IF_ERROR(EndOfValueStatus(where, range, offset, size));
  return std::optional<Buffer>(Buffer());
}

}  // namespace

Result<std::optional<Buffer>> ReadValue(http::Client& client,
                                        std::shared_ptr<const ObjectEndpoint> endpoint,
                                        std::string_view key, ByteRange range,
                                        uint64_t max_length) {
  Plan plan = PlanRequest(range);
  if (!plan.error.ok()) return plan.error.WithContext(endpoint->Describe(key));
  auto ex = std::make_shared<SyncFetch>(endpoint, std::string(key), plan.fetch, plan.probe,
                                        max_length, &DefaultBufferPool());
  client.Start(ex);
  Status st = ex->Wait();
  if (st.code() == StatusCode::kNotFound) return std::optional<Buffer>();
  LSIO_RETURN_IF_ERROR(st);
  if (plan.probe) {
    auto* head = static_cast<HeadAttempt*>(ex->winner());
    if (plan.check_offset > *head->size_) {
      return OutOfRangeError(endpoint->Describe(key) + ": " + range.ToString() +
                             " is past the end of the value (" + std::to_string(*head->size_) +
                             " bytes)");
    }
    return std::optional<Buffer>(Buffer());
  }
  auto* attempt = static_cast<RangeAttempt*>(ex->winner());
  if (attempt->needs_size()) {
    // "From offset to the end" answered 416 without the size: empty exactly at the end.
    LSIO_ASSIGN_OR_RETURN(std::optional<uint64_t> size, HeadSize(client, endpoint, key));
    if (!size) return std::optional<Buffer>();
    return EndOfValue(endpoint->Describe(key), range, plan.fetch.offset, *size);
  }
  Buffer data = attempt->TakeBuffer();
  const uint64_t want = plan.part_length ? plan.part_offset + *plan.part_length
                        : plan.fetch.kind == FetchRange::Kind::kRange ? plan.fetch.length
                                                                      : data.size();
  if (want > data.size()) {
    std::optional<uint64_t> size = attempt->window().object_size;
    return OutOfRangeError(endpoint->Describe(key) + ": " + range.ToString() +
                           " is past the end of the value" +
                           (size ? " (" + std::to_string(*size) + " bytes)" : ""));
  }
  if (plan.part_length) data = data.Slice(plan.part_offset, *plan.part_length);
  return std::optional<Buffer>(std::move(data));
}

Result<std::optional<uint64_t>> HeadSize(http::Client& client,
                                         std::shared_ptr<const ObjectEndpoint> endpoint,
                                         std::string_view key) {
  auto ex = std::make_shared<SyncFetch>(endpoint, std::string(key), FetchRange{}, true, 0,
                                        &DefaultBufferPool());
  client.Start(ex);
  Status st = ex->Wait();
  if (st.code() == StatusCode::kNotFound) return std::optional<uint64_t>();
  LSIO_RETURN_IF_ERROR(st);
  return std::optional<uint64_t>(*static_cast<HeadAttempt*>(ex->winner())->size_);
}

// ---------------------------------------------------------------------------------------------
// The Reader.

namespace {

struct ReaderCore;
struct RGroup;

struct Part {
  size_t request = 0;
  uint64_t offset = 0;                  // within the fetch's window
  std::optional<uint64_t> length;       // nullopt: the whole window
};

struct Fetch {
  RGroup* group = nullptr;
  std::string key;
  FetchRange range;
  bool probe = false;
  uint64_t check_offset = 0;
  // A probe standing in for a read from check_offset to the end that the server refused with
  // a 416 without the value's size: the value must hold exactly check_offset bytes.
  bool exact_end = false;
  std::vector<Part> parts;
  uint64_t max_length = UINT64_MAX;  // of a single-request fetch
  uint64_t reserve = 0;              // budget reserved until its buffer exists
};

struct RGroup {
  uint64_t id = 0;
  std::vector<ReadRequest> requests;
  std::vector<std::unique_ptr<Fetch>> fetches;
  size_t next_fetch = 0;   // fetches [0, next_fetch) have been started
  size_t remaining = 0;    // requests not yet completed
  size_t fetches_running = 0;
  std::deque<Completion> ready;
};

class FetchExchange;

// Shared by the Reader, its exchanges and its pool's release hook.
struct ReaderCore : std::enable_shared_from_this<ReaderCore> {
  std::shared_ptr<http::Client> client;
  std::shared_ptr<const ObjectEndpoint> endpoint;
  CoalesceOptions coalesce;
  ReaderOptions options;
  std::unique_ptr<BufferPool> pool;

  std::mutex mu;
  std::condition_variable cv;
  uint64_t seq = 0;  // bumped on every change a waiter may care about
  bool shutdown = false;
  std::atomic<bool> cancelled{false};
  uint64_t next_group = 0;
  std::deque<std::unique_ptr<RGroup>> groups;
  size_t issue_group = 0;  // index in `groups` of the first group with unstarted fetches
  size_t running = 0;      // fetches in the client
  uint64_t reserved = 0;   // estimates of running fetches whose buffers are not yet charged
  double whole_estimate = 8 << 20;  // bytes expected from a whole-value read of unknown size

  std::atomic<uint64_t> bytes_read{0}, bytes_device{0}, requests_done{0};

  uint64_t charge() const { return pool->stats().bytes_outstanding; }
  void Notify() {
    ++seq;
    cv.notify_all();
  }
  void Pump();
  void OnFetchDone(Fetch* f, Status status, RangeAttempt* range, HeadAttempt* head);
  void Complete(RGroup* g, size_t index, Status status, Buffer data);
};

class FetchExchange final : public http::Exchange {
 public:
  FetchExchange(std::shared_ptr<ReaderCore> core, Fetch* fetch)
      : core_(std::move(core)),
        fetch_(fetch),
        what_(core_->endpoint->Describe(fetch->key) +
              (fetch->probe || fetch->range.kind == FetchRange::Kind::kWhole
                   ? ""
                   : " (" + fetch->range.ToString() + ")")) {}
  Status Prepare(http::RequestSpec* spec) override {
    Headers h;
    if (!fetch_->probe && fetch_->range.kind != FetchRange::Kind::kWhole) {
      h.emplace_back("Range", fetch_->range.RangeHeader());
    }
    return core_->endpoint->Build(fetch_->probe ? "HEAD" : "GET", fetch_->key, {}, std::move(h),
                                  {}, spec);
  }
  std::unique_ptr<http::Attempt> NewAttempt() override {
    if (fetch_->probe) return std::make_unique<HeadAttempt>(core_->endpoint, what_);
    return std::make_unique<RangeAttempt>(fetch_->range, core_->pool.get(), fetch_->max_length,
                                          false, core_->endpoint, what_);
  }
  void Done(Status status, std::unique_ptr<http::Attempt> winner) override {
    core_->OnFetchDone(fetch_, std::move(status),
                       fetch_->probe ? nullptr : static_cast<RangeAttempt*>(winner.get()),
                       fetch_->probe ? static_cast<HeadAttempt*>(winner.get()) : nullptr);
  }
  std::string Describe() const override { return what_; }
  bool CanHedge() const override {
    return core_->charge() + fetch_->reserve < core_->options.max_bytes_in_flight;
  }
  uint64_t ExpectedBytes() const override { return fetch_->reserve; }
  bool Cancelled() const override { return core_->cancelled.load(); }

 private:
  std::shared_ptr<ReaderCore> core_;
  Fetch* fetch_;
  std::string what_;
};

void ReaderCore::Pump() {
  std::vector<std::shared_ptr<FetchExchange>> start;
  {
    std::lock_guard lock(mu);
    const size_t max_running = static_cast<size_t>(client->options().max_requests);
    while (!shutdown && issue_group < groups.size() && running < max_running) {
      RGroup* g = groups[issue_group].get();
      if (g->next_fetch == g->fetches.size()) {
        ++issue_group;
        continue;
      }
      Fetch* f = g->fetches[g->next_fetch].get();
      // Below the budget, or nothing at all in flight (a fetch larger than the budget).
      if (charge() + reserved >= options.max_bytes_in_flight && (running > 0 || charge() > 0)) {
        break;
      }
      ++g->next_fetch;
      ++g->fetches_running;
      ++running;
      f->reserve = f->probe ? 0
                   : f->range.kind == FetchRange::Kind::kRange ||
                           f->range.kind == FetchRange::Kind::kSuffix
                       ? f->range.length
                       : static_cast<uint64_t>(whole_estimate);
      if (f->parts.size() == 1) {
        const ReadRequest& r = g->requests[f->parts[0].request];
        if (r.value_size && f->range.kind == FetchRange::Kind::kWhole) f->reserve = *r.value_size;
      }
      reserved += f->reserve;
      start.push_back(std::make_shared<FetchExchange>(shared_from_this(), f));
    }
  }
  for (auto& ex : start) client->Start(std::move(ex));
}

void ReaderCore::Complete(RGroup* g, size_t index, Status status, Buffer data) {
  Completion c;
  c.kind = Completion::Kind::kRead;
  c.group = g->id;
  c.tag = g->requests[index].tag;
  c.status = std::move(status);
  if (c.status.ok()) {
    bytes_read.fetch_add(data.size(), std::memory_order_relaxed);
    c.data = std::move(data);
  }
  requests_done.fetch_add(1, std::memory_order_relaxed);
  g->ready.push_back(std::move(c));
  --g->remaining;
}

void ReaderCore::OnFetchDone(Fetch* f, Status status, RangeAttempt* range, HeadAttempt* head) {
  // Buffers are released only outside `mu`: a release runs the pool's hook, which takes it.
  Buffer window;
  std::shared_ptr<FetchExchange> again;
  {
    std::lock_guard lock(mu);
    reserved -= f->reserve;
    --running;
    RGroup* g = f->group;
    --g->fetches_running;
    const std::string where = endpoint->Describe(f->key);
    if (status.ok() && range != nullptr && shutdown) window = range->TakeBuffer();
    if (!shutdown && status.ok() && range != nullptr && range->needs_size()) {
      // A read to the end refused (416) without the size: a HEAD decides between an empty
      // result (the offset is the value's end) and a range past the end.
      f->probe = true;
      f->exact_end = true;
      f->check_offset = f->range.offset;
      f->reserve = 0;
      ++g->fetches_running;
      ++running;
      again = std::make_shared<FetchExchange>(shared_from_this(), f);
    } else if (!shutdown) {
      std::optional<uint64_t> object_size;
      if (status.ok() && range != nullptr) {
        window = range->TakeBuffer();
        object_size = range->window().object_size;
        bytes_device.fetch_add(window.size(), std::memory_order_relaxed);
        if (f->range.kind == FetchRange::Kind::kWhole && f->parts.size() == 1) {
          whole_estimate = 0.75 * whole_estimate + 0.25 * static_cast<double>(window.size());
          whole_estimate = std::max(whole_estimate, 64.0 * 1024);
        }
      } else if (status.ok() && head != nullptr) {
        object_size = head->size_;
      }
      for (const Part& part : f->parts) {
        const ReadRequest& req = g->requests[part.request];
        const std::string context = "reading " + where + " " + req.range.ToString();
        if (!status.ok()) {
          Complete(g, part.request, status.WithContext("reading " + req.range.ToString()),
                   Buffer());
          continue;
        }
        if (req.value_size && object_size && *req.value_size != *object_size) {
          Complete(g, part.request,
                   OutOfRangeError(context + ": the value holds " + std::to_string(*object_size) +
                                   " bytes, not the " + std::to_string(*req.value_size) +
                                   " expected"),
                   Buffer());
          continue;
        }
        if (f->exact_end) {
          Complete(g, part.request,
                   EndOfValueStatus("reading " + where, req.range, f->check_offset, *object_size),
                   Buffer());
          continue;
        }
        if (f->probe) {
          if (f->check_offset > *object_size) {
            Complete(g, part.request,
                     OutOfRangeError(context + ": past the end of the value (" +
                                     std::to_string(*object_size) + " bytes)"),
                     Buffer());
          } else {
            Complete(g, part.request, Status::OK(), Buffer());
          }
          continue;
        }
        const uint64_t len = part.length ? *part.length : window.size() - part.offset;
        if (part.offset + len > window.size()) {
          Complete(g, part.request,
                   OutOfRangeError(context + ": past the end of the value"), Buffer());
          continue;
        }
        if (len > req.max_length) {
          Complete(g, part.request,
                   OutOfRangeError(context + ": " + std::to_string(len) +
                                   " bytes exceed the limit of " +
                                   std::to_string(req.max_length) + " set for this read"),
                   Buffer());
          continue;
        }
        Complete(g, part.request, Status::OK(), window.Slice(part.offset, len));
      }
    }
    Notify();
  }
  if (again) client->Start(std::move(again));
  Pump();
}

class ObjectReader final : public Reader {
 public:
  explicit ObjectReader(std::shared_ptr<ReaderCore> core) : core_(std::move(core)) {}
  ~ObjectReader() override {
    Shutdown();
    // In-flight exchanges keep the core alive; wait for them so no callback outlives us.
    std::unique_lock lock(core_->mu);
    core_->cv.wait(lock, [&] { return core_->running == 0; });
  }

  std::string_view backend_name() const override { return "http"; }

  Result<uint64_t> Submit(std::vector<ReadRequest> group) override {
    {
      std::unique_lock lock(core_->mu);
      core_->cv.wait(lock, [&] {
        return core_->shutdown || core_->charge() < core_->options.max_bytes_in_flight;
      });
      if (core_->shutdown) return CancelledError("object store reader is shut down");
    }
    return Enqueue(group);
  }

  Result<uint64_t> TrySubmit(std::vector<ReadRequest>& group) override {
    {
      std::lock_guard lock(core_->mu);
      if (core_->shutdown) return CancelledError("object store reader is shut down");
      if (core_->charge() >= core_->options.max_bytes_in_flight) {
        return ResourceExhaustedError("object store reader: " + std::to_string(core_->charge()) +
                                      " bytes in flight, budget " +
                                      std::to_string(core_->options.max_bytes_in_flight));
      }
    }
    return Enqueue(group);
  }

  bool Next(Completion* out) override { return Drain(out, -1); }
  bool NextFor(Completion* out, int timeout_ms) override {
    return Drain(out, std::max(timeout_ms, 0));
  }

  void Shutdown() override {
    std::deque<std::unique_ptr<RGroup>> dropped;
    {
      std::lock_guard lock(core_->mu);
      if (core_->shutdown) return;
      core_->shutdown = true;
      core_->cancelled = true;
      // Groups with fetches in the client stay until those end (they point into them).
      for (auto& g : core_->groups) {
        if (g->fetches_running == 0) dropped.push_back(std::move(g));
        else parked_.push_back(std::move(g));
      }
      core_->groups.clear();
      core_->issue_group = 0;
      core_->Notify();
    }
  }

  BufferPool& pool() override { return *core_->pool; }
  uint64_t bytes_in_flight() const override { return core_->charge(); }
  ReaderStats stats() const override {
    ReaderStats s;
    s.bytes_read = core_->bytes_read.load();
    s.bytes_device = core_->bytes_device.load();
    s.requests = core_->requests_done.load();
    return s;
  }

 private:
  Result<uint64_t> Enqueue(std::vector<ReadRequest>& requests) {
    auto g = std::make_unique<RGroup>();
    g->requests = std::move(requests);
    g->remaining = g->requests.size();
    // Plan each request; coalesce the plain ranges of one key.
    std::unordered_map<std::string_view, std::vector<size_t>> ranges_by_key;
    std::vector<std::pair<size_t, Status>> immediate;
    for (size_t i = 0; i < g->requests.size(); ++i) {
      const ReadRequest& r = g->requests[i];
      Plan p = PlanRequest(r.range);
      if (p.error.ok()) {
        if (Status s = ValidateKeyForRead(r.key); !s.ok()) p.error = s;
      }
      if (!p.error.ok()) {
        immediate.emplace_back(i, p.error.WithContext("reading " + core_->endpoint->Describe(r.key) +
                                                      " " + r.range.ToString()));
        continue;
      }
      if (!p.probe && p.fetch.kind == FetchRange::Kind::kRange) {
        ranges_by_key[r.key].push_back(i);
        continue;
      }
      auto f = std::make_unique<Fetch>();
      f->group = g.get();
      f->key = r.key;
      f->range = p.fetch;
      f->probe = p.probe;
      f->check_offset = p.check_offset;
      f->max_length = r.max_length;
      f->parts.push_back({i, p.part_offset, p.part_length});
      g->fetches.push_back(std::move(f));
    }
    for (auto& [key, indices] : ranges_by_key) {
      std::vector<io::ByteRange> spans;
      spans.reserve(indices.size());
      for (size_t i : indices) {
        const ByteRange& r = g->requests[i].range;
        spans.push_back({static_cast<uint64_t>(r.offset), static_cast<uint64_t>(r.length)});
      }
      io::CoalesceOptions co;
      co.max_gap = core_->coalesce.max_gap;
      co.max_size = core_->coalesce.max_size;
      for (const io::CoalescedRange& merged : io::CoalesceRanges(spans, co)) {
        auto f = std::make_unique<Fetch>();
        f->group = g.get();
        f->key = std::string(key);
        f->range = {FetchRange::Kind::kRange, merged.range.offset, merged.range.length};
        for (const auto& part : merged.parts) {
          const size_t req = indices[part.index];
          f->parts.push_back({req, part.offset_in_range, spans[part.index].length});
        }
        g->fetches.push_back(std::move(f));
      }
    }
    uint64_t id;
    {
      std::lock_guard lock(core_->mu);
      if (core_->shutdown) {
        requests = std::move(g->requests);
        return CancelledError("object store reader is shut down");
      }
      id = core_->next_group++;
      g->id = id;
      for (auto& [i, status] : immediate) core_->Complete(g.get(), i, std::move(status), Buffer());
      core_->groups.push_back(std::move(g));
      core_->Notify();
    }
    core_->Pump();
    return id;
  }

  static Status ValidateKeyForRead(std::string_view key) {
    if (key.empty()) return InvalidArgumentError("empty key");
    return Status::OK();
  }

  bool Drain(Completion* out, int timeout_ms) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
    // Buffers (a dropped group's, the previous completion in *out) are released only outside
    // the lock: a release runs the pool's hook, which takes it.
    std::unique_ptr<RGroup> finished;
    std::unique_lock lock(core_->mu);
    for (;;) {
      if (core_->shutdown) {
        if (core_->running == 0) {
          std::vector<std::unique_ptr<RGroup>> parked = std::move(parked_);
          parked_.clear();
          lock.unlock();
          return false;
        }
      } else {
        if (core_->groups.empty()) return false;
        RGroup* g = core_->groups.front().get();
        if (!g->ready.empty()) {
          Completion c = std::move(g->ready.front());
          g->ready.pop_front();
          lock.unlock();
          *out = std::move(c);
          return true;
        }
        if (g->remaining == 0 && g->fetches_running == 0) {
          const uint64_t id = g->id;
          finished = std::move(core_->groups.front());
          core_->groups.pop_front();
          if (core_->issue_group > 0) --core_->issue_group;
          lock.unlock();
          finished.reset();
          *out = Completion{};
          out->kind = Completion::Kind::kEndOfGroup;
          out->group = id;
          return true;
        }
      }
      if (timeout_ms < 0) {
        core_->cv.wait(lock);
      } else if (core_->cv.wait_until(lock, deadline) == std::cv_status::timeout) {
        return false;
      }
    }
  }

  std::shared_ptr<ReaderCore> core_;
  std::vector<std::unique_ptr<RGroup>> parked_;
};

}  // namespace

Result<std::unique_ptr<Reader>> MakeObjectReader(std::shared_ptr<http::Client> client,
                                                 std::shared_ptr<const ObjectEndpoint> endpoint,
                                                 const CoalesceOptions& coalesce,
                                                 const ReaderOptions& options) {
  if (options.max_bytes_in_flight == 0) {
    return InvalidArgumentError("object store reader: max_bytes_in_flight must be positive");
  }
  auto core = std::make_shared<ReaderCore>();
  core->client = std::move(client);
  core->endpoint = std::move(endpoint);
  core->coalesce = coalesce;
  core->options = options;
  BufferPoolOptions po;
  po.max_cached_bytes = std::max<uint64_t>(options.max_bytes_in_flight, uint64_t{16} << 20);
  std::weak_ptr<ReaderCore> weak = core;
  po.on_release = [weak] {
    if (auto c = weak.lock()) {
      {
        std::lock_guard lock(c->mu);
        c->Notify();
      }
      c->Pump();
    }
  };
  core->pool = std::make_unique<BufferPool>(std::move(po));
  return std::unique_ptr<Reader>(new ObjectReader(std::move(core)));
}

}  // namespace internal
}  // namespace lsio::kvstore
