#include "lsio/io/coalesce.h"

#include <algorithm>
#include <numeric>

namespace lsio::io {

std::vector<CoalescedRange> CoalesceRanges(std::span<const ByteRange> ranges,
                                           const CoalesceOptions& options) {
  const uint64_t align = options.alignment == 0 ? 1 : options.alignment;
  const uint64_t mask = ~(align - 1);

  std::vector<size_t> order(ranges.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Stable, so that duplicates keep their input order inside a merged range.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ranges[a].offset < ranges[b].offset; });

  std::vector<CoalescedRange> merged;
  uint64_t cur_begin = 0;
  uint64_t cur_end = 0;
  std::vector<size_t> cur_members;

  auto flush = [&] {
    if (cur_members.empty()) return;
    CoalescedRange out;
    out.range = ByteRange{cur_begin, cur_end - cur_begin};
    out.parts.reserve(cur_members.size());
    for (size_t i : cur_members) {
      out.parts.push_back(CoalescedRange::Part{i, ranges[i].offset - cur_begin});
    }
    merged.push_back(std::move(out));
    cur_members.clear();
  };

  for (size_t i : order) {
    const uint64_t begin = ranges[i].offset & mask;
    const uint64_t end = (ranges[i].end() + align - 1) & mask;
    if (!cur_members.empty()) {
      // Sorted by offset, so begin >= cur_begin; the hole is 0 when the ranges touch or overlap.
      const uint64_t gap = begin > cur_end ? begin - cur_end : 0;
      const uint64_t new_end = std::max(cur_end, end);
      if (gap <= options.max_gap && new_end - cur_begin <= options.max_size) {
        cur_end = new_end;
        cur_members.push_back(i);
        continue;
      }
      flush();
    }
    cur_begin = begin;
    cur_end = end;
    cur_members.push_back(i);
  }
  flush();
  return merged;
}

}  // namespace lsio::io
