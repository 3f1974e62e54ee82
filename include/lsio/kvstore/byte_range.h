#pragma once

// Which bytes of a value a read wants: all of it, [offset, offset + length), or the last N
// bytes (a suffix, as HTTP's `Range: bytes=-N`; what a shard index at the end of a shard needs).
// TensorStore's OptionalByteRangeRequest, with lsio's one-struct encoding: a negative offset
// counts from the end of the value and `length == kToEnd` means "to the end".

#include <cstdint>
#include <string>

namespace lsio::kvstore {

struct ByteRange {
  static constexpr int64_t kToEnd = -1;

  // Start of the range; negative: that many bytes before the end of the value.
  int64_t offset = 0;
  // Bytes wanted, or kToEnd.
  int64_t length = kToEnd;

  static constexpr ByteRange Whole() { return {0, kToEnd}; }
  static constexpr ByteRange Range(uint64_t offset, uint64_t length) {
    return {static_cast<int64_t>(offset), static_cast<int64_t>(length)};
  }
  static constexpr ByteRange Suffix(uint64_t n) { return {-static_cast<int64_t>(n), kToEnd}; }

  bool whole() const { return offset == 0 && length == kToEnd; }
  bool suffix() const { return offset < 0; }

  // "bytes 10-19", "the last 16 bytes", "the whole value": for messages.
  std::string ToString() const;

  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

}  // namespace lsio::kvstore
