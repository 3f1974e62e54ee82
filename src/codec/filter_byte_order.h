#pragma once

// numcodecs filters name their dtypes with a byte order ("<i2", ">f8"). numcodecs applies them
// to whatever bytes it is handed, reinterpreted in that order; lsio's array->array codecs work
// on native-endian values. The two agree exactly when a filter's declared order is the order
// the bytes it receives are in, which the chain checks through this interface.

#include <optional>

#include "lsio/base/dtype.h"

namespace lsio::codec::internal {

class FilterByteOrder {
 public:
  virtual ~FilterByteOrder() = default;
  // Byte order of the dtype the filter decodes to (its `dtype`); nullopt when the filter
  // declares none or the type has 1-byte elements.
  virtual std::optional<Endian> decoded_byte_order() const = 0;
  // Byte order of the dtype the filter encodes to (its `astype`); nullopt likewise.
  virtual std::optional<Endian> encoded_byte_order() const = 0;
};

}  // namespace lsio::codec::internal
