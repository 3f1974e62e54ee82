#pragma once

// The Zarr v3 `bytes` codec: the array's elements in C order with a fixed byte order.

#include <optional>

#include "lsio/base/dtype.h"
#include "lsio/codec/codec_kinds.h"

namespace lsio::codec::internal {

class BytesCodec final : public ArrayToBytesCodec {
 public:
  // `endian` may be absent only for 1-byte element types (CheckSpec enforces it).
  explicit BytesCodec(std::optional<Endian> endian) : endian_(endian) {}

  std::string_view name() const override { return "bytes"; }
  Status Decode(std::span<const std::byte> in, const ArraySpec& spec,
                std::span<std::byte> out) const override;
  Result<Buffer> Encode(std::span<const std::byte> in, const ArraySpec& spec) const override;
  std::string Describe() const override;

  // kInvalidArgument when `spec` has multi-byte elements and no endian was configured.
  Status CheckSpec(const ArraySpec& spec) const;
  // True when the serialised bytes of `spec` are its in-memory bytes (native byte order or
  // 1-byte elements): decoding is one memcpy, or none.
  bool IsIdentityFor(const ArraySpec& spec) const;
  std::optional<Endian> endian() const { return endian_; }

 private:
  // The width of the words to swap for `spec`, 0 for none.
  size_t SwapWidth(const ArraySpec& spec) const;
  std::optional<Endian> endian_;
};

}  // namespace lsio::codec::internal
