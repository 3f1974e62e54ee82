#pragma once

// Object storage behind the Store interface: S3 (s3://BUCKET/PREFIX, s3_store.h) and plain HTTP
// (http(s)://HOST/PATH, http_store.h), both on one HTTP engine (libcurl's multi interface: a
// keep-alive connection pool, HTTP/2 where offered, many requests in flight adapted to the
// link, retries with backoff and jitter, hedged stragglers).
//
// Reads: a Reader merges nearby ranges of one key in one group (ObjectStoreOptions::coalesce:
// ranges whose hole is at most 8 KiB, as Arrow's io/caching.h hole_size_limit; see there) and
// issues one GET per merged range, with at most the engine's limit in flight and
// never more than the reader's byte budget (an estimate is reserved for a whole-value read
// until its Content-Length arrives). Servers may answer a range with 206, with 200 and a
// Content-Range, or with 200 and the whole value (the range is cut out); suffix ranges are
// sent as `bytes=-N`.
//
// Failures: 404 is kNotFound for that key (a missing chunk: its fill value upstream). 400, 403
// and other 4xx are errors naming the URL and the server's code and message, never retried;
// 5xx, 429 (honouring Retry-After), 408, resets, refused connections, short bodies and stalls
// are retried with exponential backoff and full jitter for at most `retry_timeout` seconds,
// then fail naming the key and the last cause. Messages never contain credentials.

#include <cstdint>
#include <map>
#include <string>

#include "lsio/base/result.h"
#include "lsio/kvstore/store.h"

namespace lsio::kvstore {

struct ObjectStoreOptions {
  // Seconds an operation may spend retrying ("retry_timeout").
  double retry_timeout = 60;
  // Requests in flight at the start ("requests"), and the adaptive range ("min_requests",
  // "max_requests"); "adapt_requests"=false keeps `requests` fixed.
  int requests = 64;
  int min_requests = 4;
  int max_requests = 256;
  bool adapt_requests = true;
  // Seconds ("connect_timeout", "stall_timeout": an attempt receiving nothing this long is
  // retried).
  double connect_timeout = 10;
  double stall_timeout = 20;
  // Re-issue stragglers ("hedge"); a straggler has taken hedge_factor x what its peers took
  // ("hedge_factor") and at least hedge_min_delay seconds ("hedge_min_delay").
  bool hedge = true;
  double hedge_factor = 4;
  double hedge_min_delay = 0.25;
  // "coalesce_max_gap", "coalesce_max_size" (bytes): ranges of one key in one group whose hole
  // is at most max_gap are read by one GET, up to max_size. With many requests in flight a
  // round trip is hidden behind the others, so a read-through hole is paid in bandwidth only:
  // 8 KiB (Arrow's hole_size_limit) bounds what sparse ranges fetch to what they ask for plus
  // 8 KiB per range, while touching and nearly touching ranges (shard inner chunks, a file's
  // consecutive records) still become one request. Raise max_gap for latency-bound links with
  // few requests in flight (obstore reads through holes of up to 1 MiB: on 156 random 64 KiB
  // ranges of a 64 MiB object that is most of the object).
  CoalesceOptions coalesce{uint64_t{8} << 10, uint64_t{16} << 20};
  // Writes larger than this go up as multipart uploads of part_size parts (S3;
  // "multipart_threshold", "part_size"; part_size at least 5 MiB).
  uint64_t multipart_threshold = uint64_t{64} << 20;
  uint64_t part_size = uint64_t{16} << 20;
};

// Takes the names above out of `options` (leaving the others) and parses them. Errors:
// kInvalidArgument naming the option for a bad value.
Result<ObjectStoreOptions> TakeObjectStoreOptions(std::map<std::string, std::string>& options);

// Registers s3://, http:// and https:// with RegisterStoreScheme. RegisterBuiltinStores calls
// it.
void RegisterObjectStores();

}  // namespace lsio::kvstore
