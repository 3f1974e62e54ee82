#include "bytes_codec.h"

#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "builtin.h"
#include "byteswap.h"
#include "config.h"

namespace lsio::codec::internal {

size_t BytesCodec::SwapWidth(const ArraySpec& spec) const {
  size_t width = ByteWidth(spec.dtype);
  if (IsComplex(spec.dtype)) width /= 2;
  if (width == 1 || endian_.value_or(kNativeEndian) == kNativeEndian) return 0;
  return width;
}

bool BytesCodec::IsIdentityFor(const ArraySpec& spec) const { return SwapWidth(spec) == 0; }

Status BytesCodec::CheckSpec(const ArraySpec& spec) const {
  if (!endian_ && ByteWidth(spec.dtype) > 1) {
    return InvalidArgumentError(fmt::format(
        "codec bytes: field 'endian' is required for {} elements", DataTypeName(spec.dtype)));
  }
  return Status();
}

Status BytesCodec::Decode(std::span<const std::byte> in, const ArraySpec& spec,
                          std::span<std::byte> out) const {
  const size_t n = spec.num_bytes();
  if (in.size() != n) {
    return CorruptDataError(fmt::format("codec bytes: {} bytes do not hold a {} chunk ({} bytes)",
                                        in.size(), spec.ToString(), n));
  }
  if (out.size() != n) {
    return InvalidArgumentError(fmt::format(
        "codec bytes: output of {} bytes for a {} chunk of {} bytes", out.size(),
        spec.ToString(), n));
  }
  LSIO_RETURN_IF_ERROR(CheckSpec(spec));
  const size_t width = SwapWidth(spec);
  if (width == 0) {
    if (n > 0 && in.data() != out.data()) std::memcpy(out.data(), in.data(), n);
  } else {
    ByteSwapCopy(in, out, width);
  }
  return Status();
}

Result<Buffer> BytesCodec::Encode(std::span<const std::byte> in, const ArraySpec& spec) const {
  if (in.size() != spec.num_bytes()) {
    return InvalidArgumentError(fmt::format("codec bytes: {} bytes given for a {} chunk",
                                            in.size(), spec.ToString()));
  }
  LSIO_RETURN_IF_ERROR(CheckSpec(spec));
  LSIO_ASSIGN_OR_RETURN(Buffer out, DefaultBufferPool().Acquire(in.size()));
  const size_t width = SwapWidth(spec);
  if (width == 0) {
    if (!in.empty()) std::memcpy(out.mutable_data(), in.data(), in.size());
  } else {
    ByteSwapCopy(in, out.mutable_span(), width);
  }
  return out;
}

std::string BytesCodec::Describe() const {
  if (!endian_) return "bytes";
  return fmt::format("bytes(endian={})", EndianName(*endian_));
}

Result<std::unique_ptr<ArrayToBytesCodec>> MakeBytesCodec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("bytes", config));
  LSIO_ASSIGN_OR_RETURN(std::optional<std::string> endian, reader.OptionalString("endian"));
  std::optional<Endian> e;
  if (endian) {
    if (*endian == "little") {
      e = Endian::kLittle;
    } else if (*endian == "big") {
      e = Endian::kBig;
    } else {
      return reader.FieldError("endian", fmt::format("must be \"little\" or \"big\", got \"{}\"",
                                                     *endian));
    }
  }
  return std::unique_ptr<ArrayToBytesCodec>(new BytesCodec(e));
}

}  // namespace lsio::codec::internal
