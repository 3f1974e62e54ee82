#include "lsio/array/strided_copy.h"

#include <cstring>
#include <string>
#include <vector>

namespace lsio::array {

namespace {

// Element strides of a C-order array, or false if its size overflows or disagrees with
// `bytes`.
bool Strides(std::span<const int64_t> shape, size_t bytes, size_t element_size,
             std::vector<int64_t>& strides) {
  strides.assign(shape.size(), 1);
  __int128 total = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = static_cast<int64_t>(total);
    if (shape[d] < 0) return false;
    total *= shape[d];
    if (total > (static_cast<__int128>(1) << 62)) return false;
  }
  return total * static_cast<__int128>(element_size) == static_cast<__int128>(bytes);
}

Status CheckBox(std::span<const int64_t> src_shape, std::span<const int64_t> dst_shape,
                std::span<const CopyBoxDim> dims, bool check_src) {
  if (dims.size() != dst_shape.size() || (check_src && dims.size() != src_shape.size())) {
    return InvalidArgumentError("CopyBox: ranks of the box and the arrays differ");
  }
  for (size_t d = 0; d < dims.size(); ++d) {
    const CopyBoxDim& b = dims[d];
    if (b.count < 0) return InvalidArgumentError("CopyBox: negative count");
    if (b.count == 0) continue;
    if (b.dst_start < 0 || b.dst_start + b.count > dst_shape[d]) {
      return InvalidArgumentError("CopyBox: box leaves the destination in dimension " +
                                  std::to_string(d));
    }
    if (check_src) {
      const __int128 last = static_cast<__int128>(b.src_start) +
                            static_cast<__int128>(b.count - 1) * b.src_step;
      if (b.src_start < 0 || b.src_start >= src_shape[d] || last < 0 || last >= src_shape[d]) {
        return InvalidArgumentError("CopyBox: box leaves the source in dimension " +
                                    std::to_string(d));
      }
    }
  }
  return Status::OK();
}

}  // namespace

Status CopyBox(std::span<const std::byte> src, std::span<const int64_t> src_shape,
               std::span<std::byte> dst, std::span<const int64_t> dst_shape,
               std::span<const CopyBoxDim> dims, size_t element_size) {
  std::vector<int64_t> ss, ds;
  if (!Strides(src_shape, src.size(), element_size, ss) ||
      !Strides(dst_shape, dst.size(), element_size, ds)) {
    return InvalidArgumentError("CopyBox: buffer sizes do not match the array shapes");
  }
  LSIO_RETURN_IF_ERROR(CheckBox(src_shape, dst_shape, dims, true));
  const size_t rank = dims.size();
  for (const CopyBoxDim& b : dims) {
    if (b.count == 0) return Status::OK();
  }
  if (rank == 0) {
    std::memcpy(dst.data(), src.data(), element_size);
    return Status::OK();
  }
  const CopyBoxDim& inner = dims[rank - 1];
  const bool contiguous = inner.src_step == 1;
  std::vector<int64_t> at(rank - 1, 0);
  while (true) {
    int64_t s = 0, t = 0;
    for (size_t d = 0; d + 1 < rank; ++d) {
      s += (dims[d].src_start + at[d] * dims[d].src_step) * ss[d];
      t += (dims[d].dst_start + at[d]) * ds[d];
    }
    s += inner.src_start * ss[rank - 1];
    t += inner.dst_start * ds[rank - 1];
    const std::byte* sp = src.data() + s * static_cast<int64_t>(element_size);
    std::byte* tp = dst.data() + t * static_cast<int64_t>(element_size);
    if (contiguous) {
      std::memcpy(tp, sp, static_cast<size_t>(inner.count) * element_size);
    } else {
      const int64_t stride = inner.src_step * static_cast<int64_t>(element_size);
      for (int64_t i = 0; i < inner.count; ++i) {
        std::memcpy(tp + i * static_cast<int64_t>(element_size), sp + i * stride, element_size);
      }
    }
    size_t d = rank - 1;
    while (d > 0) {
      --d;
      if (++at[d] < dims[d].count) break;
      at[d] = 0;
      if (d == 0) return Status::OK();
    }
    if (rank == 1) return Status::OK();
  }
}

std::optional<uint64_t> ContiguousBoxOffset(std::span<const CopyBoxDim> dims,
                                            std::span<const int64_t> src_shape,
                                            std::span<const int64_t> dst_shape) {
  const size_t rank = dst_shape.size();
  if (dims.size() != rank || src_shape.size() != rank) return std::nullopt;
  uint64_t elements = 1, offset = 0;
  bool inner_full = true;  // every dimension after this one spans the destination in full
  for (size_t i = rank; i-- > 0;) {
    const CopyBoxDim& d = dims[i];
    const bool whole =
        d.src_start == 0 && d.count == src_shape[i] && (d.src_step == 1 || d.count == 1);
    if (!whole || d.dst_start < 0 || d.dst_start + d.count > dst_shape[i]) return std::nullopt;
    if (d.count != 1 && !inner_full) return std::nullopt;
    if (d.count != dst_shape[i]) inner_full = false;
    offset += static_cast<uint64_t>(d.dst_start) * elements;
    elements *= static_cast<uint64_t>(dst_shape[i]);
  }
  return offset;
}

Status FillBox(std::span<std::byte> dst, std::span<const int64_t> dst_shape,
               std::span<const CopyBoxDim> dims, std::span<const std::byte> element) {
  std::vector<int64_t> ds;
  const size_t es = element.size();
  if (es == 0 || !Strides(dst_shape, dst.size(), es, ds)) {
    return InvalidArgumentError("FillBox: buffer size does not match the array shape");
  }
  LSIO_RETURN_IF_ERROR(CheckBox({}, dst_shape, dims, false));
  const size_t rank = dims.size();
  for (const CopyBoxDim& b : dims) {
    if (b.count == 0) return Status::OK();
  }
  if (rank == 0) {
    std::memcpy(dst.data(), element.data(), es);
    return Status::OK();
  }
  std::vector<int64_t> at(rank - 1, 0);
  const CopyBoxDim& inner = dims[rank - 1];
  while (true) {
    int64_t t = inner.dst_start;
    for (size_t d = 0; d + 1 < rank; ++d) t += (dims[d].dst_start + at[d]) * ds[d];
    std::byte* tp = dst.data() + t * static_cast<int64_t>(es);
    for (int64_t i = 0; i < inner.count; ++i) {
      std::memcpy(tp + i * static_cast<int64_t>(es), element.data(), es);
    }
    size_t d = rank - 1;
    while (d > 0) {
      --d;
      if (++at[d] < dims[d].count) break;
      at[d] = 0;
      if (d == 0) return Status::OK();
    }
    if (rank == 1) return Status::OK();
  }
}

Status CopyChunkSelection(const ChunkSelection& sel, std::span<const std::byte> chunk,
                          std::span<const int64_t> chunk_shape, std::span<std::byte> out,
                          std::span<const int64_t> out_shape, size_t element_size) {
  std::vector<CopyBoxDim> dims(sel.dims.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    const ChunkDimSlice& s = sel.dims[d];
    dims[d] = CopyBoxDim{s.start, s.step, s.out_start, s.count};
  }
  return CopyBox(chunk, chunk_shape, out, out_shape, dims, element_size);
}

}  // namespace lsio::array
