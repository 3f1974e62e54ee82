#include "lsio/compute/chunk_box.h"

#include <cstdint>
#include <string>

namespace lsio::compute {

namespace {

std::string ShapeText(std::span<const int64_t> v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(v[i]);
  }
  return out + "]";
}

}  // namespace

int64_t ElementCount(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t e : shape) {
    if (e < 0 || __builtin_mul_overflow(n, e, &n)) return -1;
  }
  return n;
}

Status ValidateShapeBox(DataType dtype, std::span<const int64_t> shape, const Box& box) {
  const size_t rank = shape.size();
  if (rank > kMaxRank) {
    return InvalidArgumentError("chunk of rank " + std::to_string(rank) +
                                " exceeds the supported rank " + std::to_string(kMaxRank));
  }
  if (IsComplex(dtype)) {
    return InvalidArgumentError(std::string("chunk dtype ") + std::string(DataTypeName(dtype)) +
                                " has no summary statistics");
  }
  const int64_t count = ElementCount(shape);
  if (count < 0 || static_cast<uint64_t>(count) > SIZE_MAX / ByteWidth(dtype)) {
    return InvalidArgumentError("chunk shape " + ShapeText(shape) + " is negative or overflows");
  }
  if (box.start.size() != rank || box.stop.size() != rank) {
    return InvalidArgumentError("box of rank " + std::to_string(box.start.size()) + "/" +
                                std::to_string(box.stop.size()) + " for a chunk of rank " +
                                std::to_string(rank));
  }
  for (size_t i = 0; i < rank; ++i) {
    if (box.start[i] < 0 || box.start[i] > box.stop[i] || box.stop[i] > shape[i]) {
      return InvalidArgumentError("box [" + std::to_string(box.start[i]) + ", " +
                                  std::to_string(box.stop[i]) + ") on axis " + std::to_string(i) +
                                  " is outside the chunk extent " + std::to_string(shape[i]));
    }
  }
  return Status::OK();
}

Status ValidateChunkBox(const ChunkView& chunk, const Box& box) {
  LSIO_RETURN_IF_ERROR(ValidateShapeBox(chunk.dtype, chunk.shape, box));
  const uint64_t count = static_cast<uint64_t>(ElementCount(chunk.shape));
  const size_t width = ByteWidth(chunk.dtype);
  if (count * width != chunk.bytes.size()) {
    return InvalidArgumentError("chunk of shape " + ShapeText(chunk.shape) + " and dtype " +
                                std::string(DataTypeName(chunk.dtype)) + " needs " +
                                std::to_string(count) + " elements, got " +
                                std::to_string(chunk.bytes.size()) + " bytes");
  }
  if (reinterpret_cast<uintptr_t>(chunk.bytes.data()) % width != 0) {
    return InvalidArgumentError("chunk bytes are not aligned to the " + std::to_string(width) +
                                "-byte element width");
  }
  return Status::OK();
}

}  // namespace lsio::compute
