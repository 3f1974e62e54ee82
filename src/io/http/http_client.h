#pragma once

// The HTTP engine of object storage: one libcurl multi handle driven by one event-loop thread.
//
// * Connections: curl's multi connection cache is the keep-alive pool (at most
//   ClientOptions::max_requests connections, reused across requests); HTTP/2 is negotiated on
//   https where the server offers it, and its streams are multiplexed.
// * Requests in flight: at most limit() exchanges at once. The limit starts at
//   initial_requests and, when `adapt` is set, follows the link (RequestLimit): it grows while
//   more requests raise throughput, goes back when they stop helping, and shrinks on throttling
//   (429, 503).
// * Retries: an attempt that fails in a way worth retrying (a transport error such as a reset
//   or a stall, a 5xx, 429 or 408, or what the exchange itself calls retryable, such as a short
//   body) is retried with exponential backoff and full jitter, honouring Retry-After, until
//   retry_timeout has passed since the exchange started; then the exchange fails with the last
//   cause and the number of attempts.
// * Hedging: an attempt of a hedgeable exchange that has run far longer than its peers
//   (HedgePolicy) gets a twin; the first to finish wins and the other is dropped.
//
// An Exchange says what to send (Prepare, called before every attempt so signatures carry
// the attempt's time) and receives the response through an Attempt (headers, body, end). The
// client calls an exchange's methods only from its loop thread, one at a time; Done is called
// exactly once. Exchanges must not block.
//
// Thread safety: Start and the accessors may be called from any thread.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsio/base/buffer.h"
#include "lsio/base/result.h"

namespace lsio::io::http {

struct ClientOptions {
  int initial_requests = 64;
  int min_requests = 4;
  int max_requests = 256;
  // Let the number of requests in flight follow the link (else: initial_requests).
  bool adapt = true;
  // Total time an exchange may spend on retries before it fails (seconds).
  double retry_timeout = 60;
  // First backoff and its cap (seconds).
  double backoff_base = 0.1;
  double backoff_max = 10;
  double connect_timeout = 10;
  // An attempt that receives nothing for this long is abandoned and retried (seconds).
  double stall_timeout = 20;
  // Re-issue stragglers of hedgeable exchanges.
  bool hedge = true;
  // An attempt becomes a straggler after max(hedge_min_delay, hedge_factor x the time its
  // peers took for its size).
  double hedge_factor = 4;
  double hedge_min_delay = 0.25;
  // Hedges draw on a budget (HedgeBudget) so that duplicate load stays small: at most
  // hedge_burst at once, refilled by hedge_max_fraction per first attempt and by
  // hedge_refill_per_second with time. The time refill matters after a burst of hedges (a
  // slow start on a loaded server) used the budget up: a straggler found later still gets its
  // twin within a second or so instead of being waited for.
  double hedge_max_fraction = 0.05;
  double hedge_burst = 16;
  double hedge_refill_per_second = 1;
  // libcurl's receive buffer per transfer.
  long receive_buffer = 256 << 10;
};

// Header names lower-cased; a repeated header keeps its last value.
using HeaderMap = std::map<std::string, std::string>;

// One request as sent.
struct RequestSpec {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;             // encoded
  std::vector<std::pair<std::string, std::string>> headers;
  // The body (PUT, POST); kept alive by the exchange until Done.
  std::span<const std::byte> body;
};

// Outcome of an attempt.
struct Verdict {
  Status status;       // OK: the exchange succeeded with this attempt
  bool retry = false;  // an error worth another attempt
  double retry_after = 0;  // seconds the server asked us to wait (Retry-After), or 0

  static Verdict Ok() { return {}; }
  static Verdict Fail(Status s) { return {std::move(s), false, 0}; }
  static Verdict Retry(Status s, double after = 0) { return {std::move(s), true, after}; }
};

// Receives one attempt's response.
class Attempt {
 public:
  virtual ~Attempt() = default;
  // The response's status line and headers arrived. Return false to keep the body out of
  // OnBody (the client then keeps up to 64 KiB of it as the error body for Finish).
  virtual bool OnHeaders(int http_status, const HeaderMap& headers) = 0;
  // Body bytes (only after OnHeaders returned true). A non-OK verdict aborts the transfer and
  // becomes the attempt's outcome.
  virtual Verdict OnBody(std::span<const std::byte> bytes) = 0;
  // The response is complete (no transport error). `error_body` holds the start of the body
  // when OnHeaders returned false.
  virtual Verdict Finish(int http_status, const HeaderMap& headers, std::string_view error_body) = 0;
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  // Fills what to send for the next attempt. A non-OK status ends the exchange with it.
  virtual Status Prepare(RequestSpec* spec) = 0;
  virtual std::unique_ptr<Attempt> NewAttempt() = 0;
  // The end: OK and the winning attempt, or the final error (winner null).
  virtual void Done(Status status, std::unique_ptr<Attempt> winner) = 0;
  // "s3://bucket/key (bytes 0-99)": for messages. Never contains credentials.
  virtual std::string Describe() const = 0;
  // Idempotent exchanges (GET, HEAD) may be hedged, when the owner has memory for a twin.
  virtual bool CanHedge() const { return false; }
  // Bytes the response is expected to carry (the hedging model), 0 if unknown.
  virtual uint64_t ExpectedBytes() const { return 0; }
  // Checked by the loop: a cancelled exchange ends with kCancelled at its next step.
  virtual bool Cancelled() const { return false; }
  // Metadata requests go before bulk reads.
  virtual bool urgent() const { return false; }
};

// The adaptive number of requests in flight (a pure state machine; the client feeds it).
class RequestLimit {
 public:
  RequestLimit(int initial, int min, int max, bool adapt);
  // A window of observation: bytes received, its length, and whether requests waited for a
  // slot during it (only then does the limit constrain anything worth probing).
  void OnWindow(uint64_t bytes, double seconds, bool saturated);
  // The server asked us to slow down (429, 503).
  void OnThrottle();
  int limit() const { return limit_; }

 private:
  int limit_, min_, max_;
  bool adapt_;
  double best_rate_ = 0;
  int best_limit_ = 0;
  int throttled_windows_ = 0;
};

// How many hedges may go out: a token bucket of ClientOptions::hedge_burst tokens, refilled by
// hedge_max_fraction per first attempt and hedge_refill_per_second with time. Times are
// seconds on any monotonic clock.
class HedgeBudget {
 public:
  HedgeBudget(const ClientOptions& options, double now);
  void OnFirstAttempt();
  // Takes a token if there is one (after refilling up to `now`).
  bool TryTake(double now);

 private:
  double burst_, per_attempt_, per_second_;
  double tokens_, refilled_;
};

// When an attempt is a straggler: a model of attempt time = first-byte latency + size / rate,
// fitted over the last 64 successful attempts (the 90th percentile of the latency, the median
// of the rate).
class HedgePolicy {
 public:
  explicit HedgePolicy(const ClientOptions& options);
  void Observe(double first_byte_seconds, double total_seconds, uint64_t bytes);
  // Seconds after which an attempt expecting `bytes` is a straggler; < 0: no opinion yet
  // (fewer than 8 observations).
  double HedgeAfter(uint64_t bytes) const;

 private:
  struct Sample {
    double first_byte;
    double per_byte;
  };
  double factor_, min_delay_;
  std::vector<Sample> samples_;
  size_t next_ = 0;
};

struct ClientStats {
  uint64_t attempts = 0;
  uint64_t retries = 0;
  uint64_t hedges = 0;
  uint64_t hedges_won = 0;
  uint64_t bytes_received = 0;
  uint64_t connections_opened = 0;
  int limit = 0;
};

class Client {
 public:
  // Starts the loop thread. Errors: kInternal if libcurl cannot be set up.
  static Result<std::shared_ptr<Client>> Create(const ClientOptions& options);
  // Cancels every exchange (Done with kCancelled) and joins the loop thread.
  virtual ~Client() = default;

  // Runs `exchange`; its Done is called on the loop thread (also when the client is stopping).
  virtual void Start(std::shared_ptr<Exchange> exchange) = 0;
  virtual ClientStats stats() const = 0;
  virtual const ClientOptions& options() const = 0;
  // Exchanges started and not yet done.
  virtual size_t active() const = 0;
};

// Parses Retry-After (seconds, or an HTTP date) into seconds from now; 0 if absent or bad.
double ParseRetryAfter(std::string_view value, long long now_unix);

}  // namespace lsio::io::http
