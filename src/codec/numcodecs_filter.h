#pragma once

// Shared plumbing of the numcodecs array filters that carry `dtype` (decoded) and `astype`
// (encoded) members: delta, fixedscaleoffset, quantize, astype. They are elementwise over the
// flattened chunk, so the shape never changes.

#include <fmt/format.h>

#include <optional>
#include <string>

#include "config.h"
#include "filter_byte_order.h"
#include "lsio/codec/codec_kinds.h"
#include "numeric.h"

namespace lsio::codec::internal {

class NumcodecsFilter : public ArrayToArrayCodec, public FilterByteOrder {
 public:
  // `dtype` nullopt: the array's own type (zarr-python fills it from the array in v3).
  // `astype` nullopt: the same as the decoded type, as numcodecs defaults it.
  NumcodecsFilter(std::string_view name, std::optional<NumpyDtype> dtype,
                  std::optional<NumpyDtype> astype)
      : name_(name), dtype_(dtype), astype_(astype) {}

  std::string_view name() const override { return name_; }

  Result<ArraySpec> EncodedSpec(const ArraySpec& decoded) const override {
    if (dtype_ && dtype_->type != decoded.dtype) {
      return InvalidArgumentError(fmt::format("codec {}: field 'dtype' is {} but the array is {}",
                                              name_, dtype_->ToString(),
                                              DataTypeName(decoded.dtype)));
    }
    ArraySpec encoded = decoded;
    encoded.dtype = EncodedType(decoded.dtype);
    LSIO_RETURN_IF_ERROR(CheckTypes(decoded.dtype, encoded.dtype));
    return encoded;
  }

  std::optional<Endian> decoded_byte_order() const override {
    if (!dtype_ || ByteWidth(dtype_->type) == 1) return std::nullopt;
    return dtype_->endian;
  }
  std::optional<Endian> encoded_byte_order() const override {
    const std::optional<NumpyDtype>& t = astype_ ? astype_ : dtype_;
    if (!t || ByteWidth(t->type) == 1) return std::nullopt;
    return t->endian;
  }

 protected:
  DataType EncodedType(DataType decoded) const { return astype_ ? astype_->type : decoded; }

  // Per-codec restrictions on the decoded/encoded types.
  virtual Status CheckTypes(DataType decoded, DataType encoded) const = 0;

  // Checks the sizes both Decode and Encode are given.
  Status CheckSizes(std::span<const std::byte> in, std::span<std::byte> out,
                    const ArraySpec& decoded, bool decoding) const {
    ArraySpec encoded = decoded;
    encoded.dtype = EncodedType(decoded.dtype);
    const size_t in_expected = decoding ? encoded.num_bytes() : decoded.num_bytes();
    const size_t out_expected = decoding ? decoded.num_bytes() : encoded.num_bytes();
    if (in.size() != in_expected || out.size() != out_expected) {
      return InvalidArgumentError(fmt::format(
          "codec {}: {} bytes in and {} out for a {} chunk (expected {} and {})", name_,
          in.size(), out.size(), decoded.ToString(), in_expected, out_expected));
    }
    return Status();
  }

  std::string DtypeDescription() const {
    std::string s;
    if (dtype_) s += fmt::format("dtype={}", dtype_->ToString());
    if (astype_) s += fmt::format("{}astype={}", s.empty() ? "" : ", ", astype_->ToString());
    return s;
  }

  std::string_view name_;
  std::optional<NumpyDtype> dtype_;
  std::optional<NumpyDtype> astype_;
};

// Calls f(Decoded{}, Encoded{}) with the storage types of a pair of real types; false if
// either is complex.
template <typename F>
bool VisitRealPair(DataType decoded, DataType encoded, F&& f) {
  bool ok = false;
  VisitRealType(decoded, [&](auto d) {
    ok = VisitRealType(encoded, [&](auto e) { f(d, e); });
  });
  return ok;
}

}  // namespace lsio::codec::internal
