#include "lsio/array/chunk_selection.h"

#include <algorithm>
#include <string>

namespace lsio::array {

namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Visits the cartesian product of per-dimension piece lists in C order.
Status Product(const std::vector<std::vector<std::pair<int64_t, ChunkDimSlice>>>& pieces,
               const std::function<Status(const ChunkSelection&)>& fn) {
  const size_t rank = pieces.size();
  for (const auto& p : pieces) {
    if (p.empty()) return Status::OK();
  }
  std::vector<size_t> at(rank, 0);
  ChunkSelection sel;
  sel.grid.resize(rank);
  sel.dims.resize(rank);
  while (true) {
    for (size_t d = 0; d < rank; ++d) {
      sel.grid[d] = pieces[d][at[d]].first;
      sel.dims[d] = pieces[d][at[d]].second;
    }
    LSIO_RETURN_IF_ERROR(fn(sel));
    size_t d = rank;
    while (d > 0) {
      --d;
      if (++at[d] < pieces[d].size()) break;
      at[d] = 0;
      if (d == 0) return Status::OK();
    }
    if (rank == 0) return Status::OK();
  }
}

}  // namespace

int64_t ChunkSelection::num_elements() const {
  int64_t n = 1;
  for (const ChunkDimSlice& d : dims) n *= d.count;
  return n;
}

std::vector<std::pair<int64_t, ChunkDimSlice>> SplitDimension(const DimRange& r,
                                                              int64_t chunk_size) {
  std::vector<std::pair<int64_t, ChunkDimSlice>> out;
  int64_t i = 0;
  // Walk the output positions; each iteration consumes the run of positions that fall into
  // one chunk, so the cost is the number of chunks touched, not the number of indices.
  while (i < r.count) {
    const int64_t a = r.index(i);
    const int64_t chunk = FloorDiv(a, chunk_size);
    const int64_t lo = chunk * chunk_size;
    const int64_t hi = lo + chunk_size;  // exclusive
    int64_t end;                         // first output position past this chunk
    if (r.step > 0) {
      end = i + (hi - 1 - a) / r.step + 1;
    } else {
      end = i + (a - lo) / (-r.step) + 1;
    }
    if (end > r.count) end = r.count;
    out.push_back({chunk, ChunkDimSlice{a - lo, r.step, end - i, i}});
    i = end;
  }
  return out;
}

Status ForEachChunk(std::span<const DimRange> ranges, std::span<const int64_t> shape,
                    std::span<const int64_t> chunk_shape,
                    const std::function<Status(const ChunkSelection&)>& fn) {
  if (ranges.size() != shape.size() || chunk_shape.size() != shape.size()) {
    return InvalidArgumentError("ForEachChunk: ranges, shape and chunk shape differ in rank");
  }
  std::vector<std::vector<std::pair<int64_t, ChunkDimSlice>>> pieces(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    const DimRange& r = ranges[d];
    if (r.step == 0 || r.count < 0 || chunk_shape[d] <= 0) {
      return InvalidArgumentError("ForEachChunk: malformed range or chunk shape in dimension " +
                                  std::to_string(d));
    }
    if (r.count > 0) {
      const int64_t first = r.start;
      const int64_t last = r.index(r.count - 1);
      if (std::min(first, last) < 0 || std::max(first, last) >= shape[d]) {
        return InvalidArgumentError("ForEachChunk: range in dimension " + std::to_string(d) +
                                    " leaves [0, " + std::to_string(shape[d]) + ")");
      }
    }
    pieces[d] = SplitDimension(r, chunk_shape[d]);
  }
  return Product(pieces, fn);
}

Result<std::vector<ChunkSelection>> ChunksForSelection(std::span<const DimRange> ranges,
                                                       std::span<const int64_t> shape,
                                                       std::span<const int64_t> chunk_shape,
                                                       size_t max_chunks) {
  std::vector<ChunkSelection> out;
  LSIO_RETURN_IF_ERROR(ForEachChunk(ranges, shape, chunk_shape, [&](const ChunkSelection& c) {
    if (out.size() >= max_chunks) {
      return ResourceExhaustedError("selection touches more than " + std::to_string(max_chunks) +
                                    " chunks");
    }
    out.push_back(c);
    return Status::OK();
  }));
  return out;
}

std::vector<ChunkSelection> InnerChunksForShard(const ChunkSelection& shard,
                                                std::span<const int64_t> inner_chunk_shape) {
  std::vector<std::vector<std::pair<int64_t, ChunkDimSlice>>> pieces(shard.dims.size());
  for (size_t d = 0; d < shard.dims.size(); ++d) {
    const ChunkDimSlice& s = shard.dims[d];
    pieces[d] = SplitDimension(DimRange{s.start, s.step, s.count, false}, inner_chunk_shape[d]);
    for (auto& [chunk, slice] : pieces[d]) slice.out_start += s.out_start;
  }
  std::vector<ChunkSelection> out;
  // Product never fails here: the callback only appends.
  Status ignored = Product(pieces, [&](const ChunkSelection& c) {
    out.push_back(c);
    return Status::OK();
  });
  (void)ignored;
  return out;
}

std::vector<int64_t> SelectionShape(std::span<const DimRange> ranges) {
  std::vector<int64_t> shape;
  for (const DimRange& r : ranges) {
    if (!r.drop) shape.push_back(r.count);
  }
  return shape;
}

}  // namespace lsio::array
