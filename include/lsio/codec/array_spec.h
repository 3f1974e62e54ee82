#pragma once

// ArraySpec: an array chunk as one stage of a codec chain sees it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lsio/base/dtype.h"

namespace lsio::codec {

// Element type and shape of a chunk, C order, native byte order in memory. A shape with a zero
// extent is an empty chunk (0 elements); a shape of rank 0 is a scalar (1 element).
struct ArraySpec {
  DataType dtype = DataType::kUInt8;
  std::vector<int64_t> shape;

  // Product of the extents. Precondition: every extent is >= 0.
  int64_t num_elements() const;
  size_t num_bytes() const;  // num_elements() * ByteWidth(dtype)
  bool operator==(const ArraySpec&) const = default;

  // "float32[8,512,512]", for messages.
  std::string ToString() const;
};

}  // namespace lsio::codec
