#include "lsio/codec/array_spec.h"

#include <fmt/format.h>

namespace lsio::codec {

int64_t ArraySpec::num_elements() const {
  int64_t n = 1;
  for (int64_t extent : shape) n *= extent;
  return n;
}

size_t ArraySpec::num_bytes() const {
  return static_cast<size_t>(num_elements()) * ByteWidth(dtype);
}

std::string ArraySpec::ToString() const {
  return fmt::format("{}[{}]", DataTypeName(dtype), fmt::join(shape, ","));
}

}  // namespace lsio::codec
