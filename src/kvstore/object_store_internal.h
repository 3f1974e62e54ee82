#pragma once

// The parts S3Store and HttpStore share: the Reader over the HTTP engine, the synchronous
// request helper, and the interpretation of a response to a range request. Private to
// src/kvstore.

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../io/http/http_client.h"
#include "lsio/kvstore/object_store.h"
#include "lsio/kvstore/store.h"

namespace lsio::kvstore::internal {

using Query = std::vector<std::pair<std::string, std::string>>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// What differs between S3 and plain HTTP: where a key lives, how a request is signed, what an
// error response means.
class ObjectEndpoint {
 public:
  virtual ~ObjectEndpoint() = default;
  // The URL of `key` for messages (s3://bucket/prefix/key, https://host/path/key).
  virtual std::string Describe(std::string_view key) const = 0;
  // Fills `spec` for `method` on `key` ("" and a query: the bucket itself, e.g. a listing).
  // `headers` are sent (and signed) as given.
  virtual Status Build(std::string_view method, std::string_view key, const Query& query,
                       Headers headers, std::span<const std::byte> body,
                       io::http::RequestSpec* spec) const = 0;
  // A non-2xx response as a verdict: 404 on a key is kNotFound; the rest errors naming `what`
  // and the server's message (S3's <Error><Code>/<Message>), retryable as S3 documents.
  virtual io::http::Verdict ErrorVerdict(int http_status, const io::http::HeaderMap& headers,
                                         std::string_view body, std::string_view what) const = 0;
};

// The bytes a fetch asks for.
struct FetchRange {
  enum class Kind : unsigned char { kWhole, kFrom, kRange, kSuffix };
  Kind kind = Kind::kWhole;
  uint64_t offset = 0;  // kFrom, kRange
  uint64_t length = 0;  // kRange: bytes; kSuffix: the last `length` bytes

  // The Range header's value, "" for kWhole.
  std::string RangeHeader() const;
  std::string ToString() const;  // "bytes 10-19", "the last 16 bytes", "the whole value"
};

// Where the wanted bytes are in a 2xx response's body.
struct BodyWindow {
  uint64_t skip = 0;                   // body bytes before the wanted ones
  std::optional<uint64_t> length;      // wanted bytes (unknown: to the end of the body)
  std::optional<uint64_t> object_size; // the whole value's size, when the response says
};

// Interprets a response to `range`: 206 with Content-Range, 200 with Content-Range, 200 with
// the whole value (Content-Length, or none: to the end), and 416 (kOutOfRange, except an empty
// kFrom range at the very end, which is an empty window). Errors: kOutOfRange for a range past
// the end of the value; kIOError (retryable) for a Content-Range that does not cover what was
// asked.
//
// A 416 to a kFrom range that does not say the value's size (rclone's, and AWS's, which puts it
// only in the XML body) cannot tell "from exactly the end" (an empty result) from "past the
// end" (an error): the result is then OK with `needs_size` set, and the caller settles it with
// the value's size (a HEAD).
struct WindowResult {
  Status status;
  bool retry = false;
  bool needs_size = false;
  BodyWindow window;
};
WindowResult ResolveBodyWindow(const FetchRange& range, int http_status,
                               const io::http::HeaderMap& headers);

// Parses "bytes a-b/total" or "bytes */total" (total may be '*').
struct ContentRange {
  std::optional<uint64_t> first, last, total;
};
std::optional<ContentRange> ParseContentRange(std::string_view value);

// A synchronous request's response.
struct Response {
  int status = 0;
  io::http::HeaderMap headers;
  std::string body;
};

// Starts one request through `client`; the future yields what Call returns.
std::future<Result<Response>> StartCall(io::http::Client& client,
                                        std::shared_ptr<const ObjectEndpoint> endpoint,
                                        std::string method, std::string key, Query query,
                                        Headers headers, std::span<const std::byte> body,
                                        std::string what);

// Runs one request through `client` and waits. 2xx: the response; otherwise the endpoint's
// error (kNotFound for a missing key). `body` must outlive the call. Bodies above 256 MiB are
// refused.
Result<Response> Call(io::http::Client& client, std::shared_ptr<const ObjectEndpoint> endpoint,
                      std::string method, std::string key, Query query, Headers headers,
                      std::span<const std::byte> body, std::string what);

// A Reader over `client` for keys of `endpoint`.
Result<std::unique_ptr<Reader>> MakeObjectReader(std::shared_ptr<io::http::Client> client,
                                                 std::shared_ptr<const ObjectEndpoint> endpoint,
                                                 const CoalesceOptions& coalesce,
                                                 const ReaderOptions& options);

// Store::Read through the engine: nullopt for a missing key, kResourceExhausted above
// `max_length`.
Result<std::optional<Buffer>> ReadValue(io::http::Client& client,
                                        std::shared_ptr<const ObjectEndpoint> endpoint,
                                        std::string_view key, ByteRange range,
                                        uint64_t max_length);

// Store::Size through a HEAD: nullopt for a missing key.
Result<std::optional<uint64_t>> HeadSize(io::http::Client& client,
                                         std::shared_ptr<const ObjectEndpoint> endpoint,
                                         std::string_view key);

io::http::ClientOptions ToClientOptions(const ObjectStoreOptions& options);

}  // namespace lsio::kvstore::internal
