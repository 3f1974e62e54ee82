#include "http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

namespace lsio::io::http {

// ---------------------------------------------------------------------------------------------
// RequestLimit and HedgePolicy: pure policies.

RequestLimit::RequestLimit(int initial, int min, int max, bool adapt)
    : limit_(std::clamp(initial, std::max(min, 1), std::max(max, 1))),
      min_(std::max(min, 1)),
      max_(std::max({max, min, 1})),
      adapt_(adapt),
      best_limit_(limit_) {}

void RequestLimit::OnWindow(uint64_t bytes, double seconds, bool saturated) {
  if (!adapt_ || seconds <= 0) return;
  if (throttled_windows_ > 0) {
    // Hold after a throttle: the server's signal beats our throughput model.
    --throttled_windows_;
    return;
  }
  if (!saturated) return;  // nobody waited for a slot: the limit constrained nothing
  const double rate = static_cast<double>(bytes) / seconds;
  if (rate > best_rate_ * 1.05) {
    // More requests helped (or this is the first look): remember and probe further.
    best_rate_ = rate;
    best_limit_ = limit_;
    limit_ = std::min(max_, limit_ + std::max(1, limit_ / 4));
  } else if (rate < best_rate_ * 0.9 && limit_ > best_limit_) {
    // The last increase did not pay: go back to what worked, and forget the old best slowly
    // (the link changes).
    limit_ = best_limit_;
    best_rate_ *= 0.9;
  } else {
    best_rate_ = std::max(best_rate_ * 0.98, rate);
  }
}

void RequestLimit::OnThrottle() {
  if (!adapt_) return;
  if (throttled_windows_ > 0) return;  // one decrease per episode
  limit_ = std::max(min_, limit_ * 3 / 4);
  best_limit_ = limit_;
  best_rate_ = 0;
  throttled_windows_ = 2;
}

HedgeBudget::HedgeBudget(const ClientOptions& options, double now)
    : burst_(options.hedge_burst),
      per_attempt_(options.hedge_max_fraction),
      per_second_(options.hedge_refill_per_second),
      tokens_(options.hedge_burst),
      refilled_(now) {}

void HedgeBudget::OnFirstAttempt() { tokens_ = std::min(burst_, tokens_ + per_attempt_); }

bool HedgeBudget::TryTake(double now) {
  if (now > refilled_) {
    tokens_ = std::min(burst_, tokens_ + (now - refilled_) * per_second_);
    refilled_ = now;
  }
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

HedgePolicy::HedgePolicy(const ClientOptions& options)
    : factor_(options.hedge_factor), min_delay_(options.hedge_min_delay) {}

void HedgePolicy::Observe(double first_byte_seconds, double total_seconds, uint64_t bytes) {
  Sample s{std::max(first_byte_seconds, 0.0),
           bytes > 0 ? std::max(total_seconds - first_byte_seconds, 0.0) / bytes : 0.0};
  if (samples_.size() < 64) {
    samples_.push_back(s);
  } else {
    samples_[next_] = s;
    next_ = (next_ + 1) % samples_.size();
  }
}

double HedgePolicy::HedgeAfter(uint64_t bytes) const {
  if (samples_.size() < 8) return -1;
  auto quantile = [&](auto field, double q) {
    std::vector<double> v;
    v.reserve(samples_.size());
    for (const Sample& s : samples_) v.push_back(field(s));
    const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + k, v.end());
    return v[k];
  };
  // The 90th percentile of the time to first byte (a loaded server is slow often, and those
  // are not stragglers), the median transfer rate.
  const double first = quantile([](const Sample& s) { return s.first_byte; }, 0.9);
  const double per_byte = quantile([](const Sample& s) { return s.per_byte; }, 0.5);
  return std::max(min_delay_, factor_ * (first + per_byte * static_cast<double>(bytes)));
}

double ParseRetryAfter(std::string_view value, long long now_unix) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
  if (value.empty()) return 0;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return value.size() > 6 ? 1e6 : std::stod(std::string(value));
  }
  const time_t when = curl_getdate(std::string(value).c_str(), nullptr);
  if (when < 0) return 0;
  return std::max(0.0, static_cast<double>(when - now_unix));
}

// ---------------------------------------------------------------------------------------------
// The client.

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

constexpr size_t kMaxErrorBody = 64 << 10;

struct ExchangeState;

struct Transfer {
  CURL* easy = nullptr;
  ExchangeState* state = nullptr;
  std::unique_ptr<Attempt> attempt;
  RequestSpec spec;
  curl_slist* header_list = nullptr;
  HeaderMap headers;
  int http_status = 0;
  bool headers_done = false;
  bool accept_body = false;
  std::string error_body;
  bool aborted = false;
  Verdict abort_verdict;
  Clock::time_point start;
  Clock::time_point last_activity;  // the last byte of headers or body
  Clock::time_point first_byte;
  bool got_first_byte = false;
  uint64_t bytes = 0;
  bool is_hedge = false;
  char errbuf[CURL_ERROR_SIZE] = {};
};

struct ExchangeState {
  std::shared_ptr<Exchange> exchange;
  Clock::time_point started;
  Clock::time_point retry_at;
  int attempts = 0;
  Status last_error;
  std::vector<Transfer*> transfers;
  bool hedged = false;
};

// The loop and its state. The loop thread holds a reference to it, so it is destroyed by
// whichever of the handle and the loop lets go last: never while the loop runs, and a handle
// released on the loop thread itself (the last owner of a store dropped inside a callback)
// does not join itself.
class ClientImpl final : public std::enable_shared_from_this<ClientImpl> {
 public:
  explicit ClientImpl(const ClientOptions& options)
      : options_(options),
        limit_(options.initial_requests, options.min_requests, options.max_requests,
               options.adapt),
        hedge_(options),
        rng_(std::random_device{}()) {
    limit_value_.store(limit_.limit());
  }

  Status Init() {
    static std::once_flag once;
    static CURLcode global = CURLE_OK;
    std::call_once(once, [] { global = curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (global != CURLE_OK) return InternalError("libcurl initialisation failed");
    multi_ = curl_multi_init();
    if (multi_ == nullptr) return InternalError("curl_multi_init failed");
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_requests));
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(multi_, CURLMOPT_MAX_CONCURRENT_STREAMS, 100L);
    thread_ = std::thread([self = shared_from_this()] { self->Loop(); });
    return Status::OK();
  }

  ~ClientImpl() {
    for (CURL* easy : idle_handles_) curl_easy_cleanup(easy);
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
  }

  // Ends the loop (every exchange is cancelled); joins it unless called on it.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    curl_multi_wakeup(multi_);
    if (std::this_thread::get_id() == thread_.get_id()) {
      thread_.detach();
    } else if (thread_.joinable()) {
      thread_.join();
    }
  }

  void Start(std::shared_ptr<Exchange> exchange) {
    {
      std::lock_guard lock(mu_);
      incoming_.push_back(std::move(exchange));
      active_count_.fetch_add(1);
    }
    curl_multi_wakeup(multi_);
  }

  ClientStats stats() const {
    std::lock_guard lock(stats_mu_);
    ClientStats s = stats_;
    s.limit = limit_value_.load();
    return s;
  }
  const ClientOptions& options() const { return options_; }
  size_t active() const { return active_count_.load(); }

 private:
  // --- curl callbacks (loop thread) ---
  static size_t HeaderCallback(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    t->last_activity = Clock::now();
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {
      t->headers.clear();  // a new block: after 100 Continue, or an intermediate response
      return size * n;
    }
    if (line == "\r\n" || line == "\n") {
      long code = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
      if (code >= 100 && code < 200) return size * n;
      t->http_status = static_cast<int>(code);
      t->headers_done = true;
      t->accept_body = t->attempt->OnHeaders(t->http_status, t->headers);
      return size * n;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return size * n;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' ||
                              value.back() == ' ')) {
      value.remove_suffix(1);
    }
    t->headers[name] = std::string(value);
    return size * n;
  }

  static size_t WriteCallback(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t len = size * n;
    t->last_activity = Clock::now();
    if (!t->got_first_byte) {
      t->got_first_byte = true;
      t->first_byte = t->last_activity;
    }
    t->bytes += len;
    if (!t->headers_done) return len;  // cannot happen with HTTP; be lenient
    if (!t->accept_body) {
      if (t->error_body.size() < kMaxErrorBody) {
        t->error_body.append(data, std::min(len, kMaxErrorBody - t->error_body.size()));
      }
      return len;
    }
    Verdict v = t->attempt->OnBody(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), len));
    if (!v.status.ok()) {
      t->aborted = true;
      t->abort_verdict = std::move(v);
      return 0;  // CURLE_WRITE_ERROR ends the transfer
    }
    return len;
  }

  // --- the loop ---
  void Loop() {
    auto window_start = Clock::now();
    uint64_t window_bytes = 0;
    bool window_saturated = false;
    for (;;) {
      {
        std::lock_guard lock(mu_);
        for (auto& ex : incoming_) {
          auto state = std::make_unique<ExchangeState>();
          state->exchange = std::move(ex);
          state->started = Clock::now();
          (state->exchange->urgent() ? pending_urgent_ : pending_).push_back(state.get());
          states_.emplace(state.get(), std::move(state));
        }
        incoming_.clear();
        if (stopping_) break;
      }
      const auto now = Clock::now();
      CheckCancelled();
      // Retries whose backoff has passed go to the front of their queue.
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if ((*it)->retry_at <= now) {
          ((*it)->exchange->urgent() ? pending_urgent_ : pending_).push_front(*it);
          it = waiting_.erase(it);
        } else {
          ++it;
        }
      }
      while (running_ < limit_.limit() && (!pending_urgent_.empty() || !pending_.empty())) {
        auto& queue = pending_urgent_.empty() ? pending_ : pending_urgent_;
        ExchangeState* s = queue.front();
        queue.pop_front();
        Launch(s, /*hedge=*/false);
      }
      if (!pending_.empty() || !pending_urgent_.empty()) window_saturated = true;
      CheckStalls(now);
      MaybeHedge(now);

      int still = 0;
      curl_multi_perform(multi_, &still);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
        window_bytes += t->bytes;
        OnTransferDone(t, msg->data.result);
      }

      const double elapsed = Seconds(Clock::now() - window_start);
      if (elapsed >= 1.0) {
        limit_.OnWindow(window_bytes, elapsed, window_saturated);
        limit_value_.store(limit_.limit());
        window_start = Clock::now();
        window_bytes = 0;
        window_saturated = false;
      }

      int timeout_ms = 1000;
      if (!waiting_.empty()) {
        auto next = std::min_element(waiting_.begin(), waiting_.end(), [](auto* a, auto* b) {
                      return a->retry_at < b->retry_at;
                    });
        timeout_ms = std::clamp(
            static_cast<int>(Seconds((*next)->retry_at - Clock::now()) * 1000) + 1, 0, 1000);
      }
      if (running_ > 0) timeout_ms = std::min(timeout_ms, 50);  // hedging and cancellation
      curl_multi_poll(multi_, nullptr, 0, timeout_ms, nullptr);
    }
    // Stopping: everything ends with kCancelled.
    std::vector<ExchangeState*> all;
    for (auto& [ptr, state] : states_) all.push_back(ptr);
    for (ExchangeState* s : all) Finish(s, CancelledError(s->exchange->Describe() +
                                                          ": the HTTP client is shutting down"),
                                        nullptr);
  }

  void CheckCancelled() {
    std::vector<ExchangeState*> cancelled;
    for (auto& [ptr, state] : states_) {
      if (state->exchange->Cancelled()) cancelled.push_back(ptr);
    }
    for (ExchangeState* s : cancelled) {
      Finish(s, CancelledError(s->exchange->Describe() + ": cancelled"), nullptr);
    }
  }

  CURL* TakeHandle() {
    if (!idle_handles_.empty()) {
      CURL* easy = idle_handles_.back();
      idle_handles_.pop_back();
      curl_easy_reset(easy);
      return easy;
    }
    return curl_easy_init();
  }

  void Launch(ExchangeState* s, bool hedge) {
    auto t = std::make_unique<Transfer>();
    t->state = s;
    t->is_hedge = hedge;
    Status prepared = s->exchange->Prepare(&t->spec);
    if (!prepared.ok()) {
      if (s->transfers.empty()) Finish(s, prepared, nullptr);
      return;
    }
    t->attempt = s->exchange->NewAttempt();
    CURL* easy = TakeHandle();
    if (easy == nullptr || t->attempt == nullptr) {
      if (easy) idle_handles_.push_back(easy);
      if (s->transfers.empty()) {
        Finish(s, InternalError(s->exchange->Describe() + ": cannot start a request"), nullptr);
      }
      return;
    }
    t->easy = easy;
    const RequestSpec& spec = t->spec;
    curl_easy_setopt(easy, CURLOPT_URL, spec.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, options_.receive_buffer);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout * 1000));
    // Stalls are found by CheckStalls to the second; curl's own check (which averages over
    // five seconds) is a backstop.
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME,
                     std::max(1L, static_cast<long>(std::ceil(2 * options_.stall_timeout))));
    if (spec.url.starts_with("https:")) {
      curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
      curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    } else {
      curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    }
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &HeaderCallback);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &WriteCallback);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
    bool has_content_type = false;
    for (const auto& [name, value] : spec.headers) {
      std::string line = name + ": " + value;
      if (value.empty()) line = name + ";";  // curl's spelling of an empty header
      t->header_list = curl_slist_append(t->header_list, line.c_str());
      if (strcasecmp(name.c_str(), "content-type") == 0) has_content_type = true;
    }
    t->header_list = curl_slist_append(t->header_list, "Expect:");
    if (spec.method == "HEAD") {
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (spec.method == "GET") {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else if (spec.method == "PUT" || spec.method == "POST") {
      if (!has_content_type) t->header_list = curl_slist_append(t->header_list, "Content-Type:");
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(spec.body.size()));
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
                       spec.body.empty() ? "" : reinterpret_cast<const char*>(spec.body.data()));
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, spec.method.c_str());
    } else {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, spec.method.c_str());
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->header_list);
    t->start = Clock::now();
    t->last_activity = t->start;
    ++s->attempts;
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.attempts;
      if (hedge) ++stats_.hedges;
      if (s->attempts > 1 && !hedge) ++stats_.retries;
    }
    if (hedge) {
      s->hedged = true;
    } else if (s->attempts == 1) {
      hedge_budget_.OnFirstAttempt();
    }
    s->transfers.push_back(t.get());
    ++running_;
    curl_multi_add_handle(multi_, easy);
    t.release();
  }

  void MaybeHedge(Clock::time_point now) {
    if (!options_.hedge) return;
    // "Far slower than its peers": besides the model's time for its size, an attempt must have
    // run three times longer than the median of its peers (the attempts running now and the
    // last ones to finish), so a server that is slow for everyone (warming up, overloaded)
    // gets no duplicate load, and a few stragglers left alone are still compared with the
    // attempts that finished around them.
    std::vector<double> ages(recent_.begin(), recent_.end());
    for (auto& [ptr, s] : states_) {
      for (Transfer* t : s->transfers) ages.push_back(Seconds(now - t->start));
    }
    double peer_age = 0;
    if (ages.size() >= 4) {
      std::nth_element(ages.begin(), ages.begin() + ages.size() / 2, ages.end());
      peer_age = 3 * ages[ages.size() / 2];
    }
    std::vector<ExchangeState*> stragglers;
    for (auto& [ptr, s] : states_) {
      if (s->hedged || s->transfers.size() != 1 || !s->exchange->CanHedge()) continue;
      const double after = hedge_.HedgeAfter(s->exchange->ExpectedBytes());
      if (after < 0) continue;
      const double age = Seconds(now - s->transfers.front()->start);
      if (age < after || age < peer_age) continue;
      stragglers.push_back(ptr);
    }
    for (ExchangeState* s : stragglers) {
      if (!hedge_budget_.TryTake(Seconds(now - epoch_))) return;
      Launch(s, /*hedge=*/true);
    }
  }

  void Remove(Transfer* t) {
    curl_multi_remove_handle(multi_, t->easy);
    long connects = 0;
    curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &connects);
    {
      std::lock_guard lock(stats_mu_);
      stats_.bytes_received += t->bytes;
      stats_.connections_opened += static_cast<uint64_t>(connects);
    }
    idle_handles_.push_back(t->easy);
    curl_slist_free_all(t->header_list);
    auto& v = t->state->transfers;
    v.erase(std::remove(v.begin(), v.end(), t), v.end());
    --running_;
  }

  Verdict Judge(Transfer* t, CURLcode code) {
    const std::string where = t->state->exchange->Describe();
    if (t->aborted) return std::move(t->abort_verdict);
    if (code != CURLE_OK) {
      std::string detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(code);
      Status s = IOError(where + ": " + detail);
      switch (code) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_NOT_BUILT_IN:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
          return Verdict::Fail(s);
        default:
          // Resets, refused or timed-out connections, stalls, short bodies (PARTIAL_FILE),
          // HTTP/2 stream errors, name resolution hiccups.
          return Verdict::Retry(s);
      }
    }
    Verdict v = t->attempt->Finish(t->http_status, t->headers, t->error_body);
    const int st = t->http_status;
    if (st == 429 || st == 503) limit_.OnThrottle();
    if (!v.status.ok() && (st == 408 || st == 429 || st >= 500)) {
      v.retry = true;
      auto it = t->headers.find("retry-after");
      if (it != t->headers.end()) {
        v.retry_after = std::max(
            v.retry_after,
            ParseRetryAfter(it->second, static_cast<long long>(std::time(nullptr))));
      }
    }
    return v;
  }

  void CheckStalls(Clock::time_point now) {
    std::vector<Transfer*> stalled;
    for (auto& [ptr, s] : states_) {
      for (Transfer* t : s->transfers) {
        if (Seconds(now - t->last_activity) > options_.stall_timeout) stalled.push_back(t);
      }
    }
    for (Transfer* t : stalled) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.1f", Seconds(now - t->last_activity));
      Conclude(t, Verdict::Retry(IOError(t->state->exchange->Describe() +
                                         ": the server sent nothing for " + secs +
                                         " s (stall_timeout)")));
    }
  }

  void OnTransferDone(Transfer* t, CURLcode code) { Conclude(t, Judge(t, code)); }

  // An attempt is over (finished, failed or abandoned): the exchange succeeds, fails, waits
  // for its twin, or is retried after a backoff.
  void Conclude(Transfer* raw, Verdict v) {
    std::unique_ptr<Transfer> t(raw);
    ExchangeState* s = t->state;
    Remove(t.get());
    if (v.status.ok()) {
      if (recent_.size() < 64) {
        recent_.push_back(Seconds(Clock::now() - t->start));
      } else {
        recent_[recent_next_] = Seconds(Clock::now() - t->start);
        recent_next_ = (recent_next_ + 1) % recent_.size();
      }
      if (t->got_first_byte || t->bytes == 0) {
        hedge_.Observe(Seconds((t->got_first_byte ? t->first_byte : Clock::now()) - t->start),
                       Seconds(Clock::now() - t->start), t->bytes);
      }
      if (t->is_hedge) {
        std::lock_guard lock(stats_mu_);
        ++stats_.hedges_won;
      }
      Finish(s, Status::OK(), std::move(t->attempt));
      return;
    }
    s->last_error = v.status;
    if (!v.retry) {
      Finish(s, v.status, nullptr);
      return;
    }
    if (!s->transfers.empty()) return;  // its twin is still running
    // Exponential backoff with full jitter, at least what the server asked for.
    const double cap = std::min(options_.backoff_max,
                                options_.backoff_base * std::ldexp(1.0, std::min(s->attempts, 30)));
    double delay = std::uniform_real_distribution<double>(0, cap)(rng_);
    delay = std::max(delay, v.retry_after);
    const double spent = Seconds(Clock::now() - s->started);
    const double remaining = options_.retry_timeout - spent;
    // The last attempt goes at the deadline rather than not at all (unless the server asked
    // for a longer wait).
    if (delay > remaining && v.retry_after <= remaining && remaining > 0.05) delay = remaining;
    if (delay > remaining) {
      char when[32];
      std::snprintf(when, sizeof when, "%.1f", spent);
      Finish(s,
             v.status.WithContext("gave up after " + std::to_string(s->attempts) +
                                  " attempts in " + when + " s (retry_timeout " +
                                  std::to_string(static_cast<int>(options_.retry_timeout)) +
                                  " s); last error"),
             nullptr);
      return;
    }
    s->retry_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(delay));
    waiting_.push_back(s);
  }

  // Ends an exchange: drops its transfers, takes it out of every queue, calls Done.
  void Finish(ExchangeState* s, Status status, std::unique_ptr<Attempt> winner) {
    while (!s->transfers.empty()) {
      std::unique_ptr<Transfer> t(s->transfers.back());
      Remove(t.get());
    }
    auto drop = [s](auto& q) { q.erase(std::remove(q.begin(), q.end(), s), q.end()); };
    drop(pending_);
    drop(pending_urgent_);
    drop(waiting_);
    auto node = states_.extract(s);
    std::shared_ptr<Exchange> ex = std::move(node.mapped()->exchange);
    active_count_.fetch_sub(1);
    ex->Done(std::move(status), std::move(winner));
  }

  const ClientOptions options_;
  CURLM* multi_ = nullptr;
  std::thread thread_;

  std::mutex mu_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<Exchange>> incoming_;
  std::atomic<size_t> active_count_{0};

  // Loop thread only.
  std::unordered_map<ExchangeState*, std::unique_ptr<ExchangeState>> states_;
  std::deque<ExchangeState*> pending_, pending_urgent_;
  std::vector<ExchangeState*> waiting_;
  std::vector<CURL*> idle_handles_;
  int running_ = 0;
  RequestLimit limit_;
  HedgePolicy hedge_;
  const Clock::time_point epoch_ = Clock::now();
  HedgeBudget hedge_budget_{options_, 0};
  std::vector<double> recent_;  // durations of the last 64 successful attempts
  size_t recent_next_ = 0;
  std::mt19937_64 rng_;

  std::atomic<int> limit_value_{0};
  mutable std::mutex stats_mu_;
  ClientStats stats_;
};

class ClientHandle final : public Client {
 public:
  explicit ClientHandle(std::shared_ptr<ClientImpl> impl) : impl_(std::move(impl)) {}
  ~ClientHandle() override { impl_->Stop(); }
  void Start(std::shared_ptr<Exchange> exchange) override { impl_->Start(std::move(exchange)); }
  ClientStats stats() const override { return impl_->stats(); }
  const ClientOptions& options() const override { return impl_->options(); }
  size_t active() const override { return impl_->active(); }

 private:
  std::shared_ptr<ClientImpl> impl_;
};

}  // namespace

Result<std::shared_ptr<Client>> Client::Create(const ClientOptions& options) {
  if (options.initial_requests < 1 || options.max_requests < 1 || options.min_requests < 1) {
    return InvalidArgumentError("HTTP client: requests in flight must be at least 1");
  }
  if (!(options.retry_timeout >= 0) || !(options.stall_timeout > 0) ||
      !(options.connect_timeout > 0)) {
    return InvalidArgumentError("HTTP client: timeouts must be positive");
  }
  auto impl = std::make_shared<ClientImpl>(options);
  LSIO_RETURN_IF_ERROR(impl->Init());
  return std::shared_ptr<Client>(std::make_shared<ClientHandle>(std::move(impl)));
}

}  // namespace lsio::io::http
