#pragma once

// `lsio read`: reads files and directories through the IO engine and reports throughput; the
// command-line tool only parses flags and calls ReadFiles.

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/status.h"
#include "lsio/io/engine.h"

namespace lsio::io {

struct ReadFilesOptions {
  // Files, and directories walked recursively (their regular files, sorted by path).
  std::vector<std::string> paths;
  // Read only bytes [range_offset, range_offset + range_length) of each file
  // (range_length = ReadRequest::kToEnd: to the end; a negative offset counts from the end).
  bool has_range = false;
  int64_t range_offset = 0;
  int64_t range_length = ReadRequest::kToEnd;
  // Size of each read; 0 reads each file (or range) with one request. Reads are not merged
  // beyond this size, so the engine issues reads of exactly this size (as fio's --bs).
  uint64_t block_size = 0;
  // > 0: instead of reading the files through, issue this many reads of block_size (default
  // 4096) at block-aligned offsets drawn uniformly (by a fixed-seed generator) over all bytes
  // of all files, like fio --rw=randread.
  uint64_t random_reads = 0;
  uint64_t seed = 42;
  // Backend, threads, queue depth, O_DIRECT (direct = false for --buffered).
  EngineOptions engine;
  // Print the xxHash64 (seed 0) of each file's bytes read, as `xxhsum -H64` does:
  // "<16 hex digits>  <path>". Not with random_reads.
  bool checksum = false;
  // One JSON object instead of text.
  bool json = false;
};

// Reads what `options` asks, then writes the checksums (if asked) and a summary to `out`:
// backend, files, bytes, reads, seconds, GB/s, IOPS, CPU seconds (user + sys of the whole
// process from getrusage).
// Errors: kInvalidArgument for contradictory options or no files; engine creation errors;
// if some reads fail, the summary is still written and the status names how many failed and
// the first failure (path, range, cause).
Status ReadFiles(const ReadFilesOptions& options, std::ostream& out);

// Parses a byte count: "4096", "4k", "4K", "4KiB", "1M", "1MiB", "2g" (binary multiples: k =
// 1024). Errors: kInvalidArgument naming the text.
Result<uint64_t> ParseByteSize(std::string_view text);

// Parses "OFF:LEN" (sizes as ParseByteSize; OFF may be negative, LEN may be empty for "to the
// end").
Status ParseRange(std::string_view text, int64_t* offset, int64_t* length);

}  // namespace lsio::io
