#pragma once

// Coalescing: merging nearby byte ranges of one file into fewer, larger reads.
//
// A pure function, like zarrs' coalesce_byte_ranges_with_page_size or Arrow's
// io::internal::CoalesceReadRanges: the IO engine calls it once per file per group, then issues
// one device read per merged range and hands each request a slice of that read.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lsio::io {

// Bytes [offset, offset + length) of a file.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;

  uint64_t end() const { return offset + length; }
  bool operator==(const ByteRange&) const = default;
};

struct CoalesceOptions {
  // Two ranges are merged when the hole between them is at most this many bytes (overlapping
  // and touching ranges have a hole of 0).
  uint64_t max_gap = 0;
  // ... and the merged range would be at most this long. A single range longer than this is
  // never split: it becomes a merged range of its own.
  uint64_t max_size = UINT64_MAX;
  // Every input range is first rounded out to multiples of this (O_DIRECT's offset alignment;
  // 1 = exact), so merged ranges start and end on multiples of it. Must be a power of two.
  uint64_t alignment = 1;
};

struct CoalescedRange {
  // Where one input range lies inside the merged range.
  struct Part {
    size_t index = 0;              // position of the request in the input span
    uint64_t offset_in_range = 0;  // input.offset - range.offset

    bool operator==(const Part&) const = default;
  };

  ByteRange range;          // aligned to CoalesceOptions::alignment
  std::vector<Part> parts;  // the input ranges it serves, by ascending offset (ties: by index)

  bool operator==(const CoalescedRange&) const = default;
};

// Merges `ranges` (any order; overlapping, duplicate and zero-length ranges allowed) into
// merged ranges sorted by offset. Every input index appears in exactly one part; each part's
// bytes [offset_in_range, offset_in_range + length) lie inside its merged range. Ranges whose
// rounded-out end would overflow uint64_t are the caller's bug (the engine validates ranges
// against the file size first).
//
// Thread safety: pure; callable from any thread.
std::vector<CoalescedRange> CoalesceRanges(std::span<const ByteRange> ranges,
                                           const CoalesceOptions& options);

}  // namespace lsio::io
