// 32-bit checksum codecs: the payload plus 4 little-endian checksum bytes, at the end (Zarr v3
// crc32c, numcodecs crc32c and fletcher32) or at the start (numcodecs crc32 and adler32 by
// default; their "location" option moves it). Decoding verifies in place and hands back the
// payload without copying.

#include <fmt/format.h>
#include <isa-l/crc.h>
#include <libdeflate.h>

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

#include "builtin.h"
#include "config.h"

namespace lsio::codec::internal {

namespace {

constexpr size_t kChecksumSize = 4;

enum class Algorithm { kCrc32c, kCrc32, kAdler32, kFletcher32 };

// numcodecs' Fletcher32 (the HDF5/netCDF variant): 16-bit big-endian words, sums folded every
// 360 words, an odd trailing byte taken as the high byte of a last word. No library we link
// implements this variant.
uint32_t Fletcher32(const uint8_t* data, size_t size) {
  size_t words = size / 2;
  uint32_t sum1 = 0, sum2 = 0;
  while (words > 0) {
    size_t block = words > 360 ? 360 : words;
    words -= block;
    do {
      sum1 += (static_cast<uint32_t>(data[0]) << 8) | data[1];
      data += 2;
      sum2 += sum1;
    } while (--block > 0);
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  if (size % 2 != 0) {
    sum1 += static_cast<uint32_t>(data[0]) << 8;
    sum2 += sum1;
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  sum1 = (sum1 & 0xffff) + (sum1 >> 16);
  sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  return (sum2 << 16) | sum1;
}

uint32_t Checksum(Algorithm a, std::span<const std::byte> data) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  switch (a) {
    case Algorithm::kCrc32c:
      // ISA-L's crc32_iscsi leaves the standard pre- and post-inversion to the caller.
      return crc32_iscsi(const_cast<uint8_t*>(p), static_cast<int>(data.size()), 0xFFFFFFFFu) ^
             0xFFFFFFFFu;
    case Algorithm::kCrc32:
      return crc32_gzip_refl(0, p, data.size());  // zlib's crc32
    case Algorithm::kAdler32:
      return libdeflate_adler32(1, p, data.size());
    case Algorithm::kFletcher32:
      return Fletcher32(p, data.size());
  }
  return 0;
}

class ChecksumCodec final : public BytesToBytesCodec {
 public:
  ChecksumCodec(Algorithm algorithm, std::string_view name, bool at_end)
      : algorithm_(algorithm), name_(name), at_end_(at_end) {}

  std::string_view name() const override { return name_; }

  Result<std::optional<size_t>> DecodedSize(std::span<const std::byte> in) const override {
    LSIO_RETURN_IF_ERROR(CheckLength(in));
    return std::optional<size_t>(in.size() - kChecksumSize);
  }

  std::optional<Result<std::span<const std::byte>>> DecodeInPlace(
      std::span<const std::byte> in) const override {
    return Verify(in);
  }

  Result<size_t> Decode(std::span<const std::byte> in, std::span<std::byte> out) const override {
    LSIO_ASSIGN_OR_RETURN(std::span<const std::byte> payload, Verify(in));
    if (payload.size() > out.size()) {
      return CorruptDataError(fmt::format("{}: payload of {} bytes is more than the {} expected",
                                          name_, payload.size(), out.size()));
    }
    if (!payload.empty()) std::memcpy(out.data(), payload.data(), payload.size());
    return payload.size();
  }

  Result<Buffer> Encode(std::span<const std::byte> in) const override {
    if (algorithm_ == Algorithm::kCrc32c && in.size() > size_t{INT32_MAX}) {
      return InvalidArgumentError(
          fmt::format("{}: {} bytes exceed ISA-L's limit", name_, in.size()));
    }
    LSIO_ASSIGN_OR_RETURN(Buffer out, DefaultBufferPool().Acquire(in.size() + kChecksumSize));
    const uint32_t sum = Checksum(algorithm_, in);
    std::byte* payload = out.mutable_data() + (at_end_ ? 0 : kChecksumSize);
    std::byte* checksum = out.mutable_data() + (at_end_ ? in.size() : 0);
    if (!in.empty()) std::memcpy(payload, in.data(), in.size());
    std::memcpy(checksum, &sum, kChecksumSize);  // little-endian host
    return out;
  }

  std::optional<size_t> EncodedSizeIfFixed(size_t decoded_size) const override {
    return decoded_size + kChecksumSize;
  }

  std::string Describe() const override {
    if (algorithm_ == Algorithm::kFletcher32) return std::string(name_);
    return fmt::format("{}(location={})", name_, at_end_ ? "end" : "start");
  }

 private:
  Status CheckLength(std::span<const std::byte> in) const {
    if (in.size() < kChecksumSize) {
      return CorruptDataError(fmt::format("{}: {} bytes are too short to hold a 4-byte checksum",
                                          name_, in.size()));
    }
    if (algorithm_ == Algorithm::kCrc32c && in.size() > size_t{INT32_MAX}) {
      return CorruptDataError(fmt::format("{}: {} bytes exceed ISA-L's limit", name_, in.size()));
    }
    return Status();
  }

  Result<std::span<const std::byte>> Verify(std::span<const std::byte> in) const {
    LSIO_RETURN_IF_ERROR(CheckLength(in));
    const size_t n = in.size() - kChecksumSize;
    std::span<const std::byte> payload = at_end_ ? in.first(n) : in.subspan(kChecksumSize);
    std::span<const std::byte> stored = at_end_ ? in.subspan(n) : in.first(kChecksumSize);
    uint32_t expected = 0;
    std::memcpy(&expected, stored.data(), kChecksumSize);
    const uint32_t actual = Checksum(algorithm_, payload);
    if (actual != expected) {
      return CorruptDataError(fmt::format(
          "{}: stored checksum {:#010x} does not match {:#010x} computed over {} bytes", name_,
          expected, actual, n));
    }
    return payload;
  }

  Algorithm algorithm_;
  std::string_view name_;
  bool at_end_;
};

Result<std::unique_ptr<BytesToBytesCodec>> MakeChecksum(Algorithm a, std::string_view name,
                                                        bool default_at_end, bool has_location,
                                                        const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make(name, config));
  bool at_end = default_at_end;
  if (has_location) {
    LSIO_ASSIGN_OR_RETURN(std::optional<std::string> location, reader.OptionalString("location"));
    if (location) {
      if (*location == "start") {
        at_end = false;
      } else if (*location == "end") {
        at_end = true;
      } else {
        return reader.FieldError(
            "location", fmt::format("must be \"start\" or \"end\", got \"{}\"", *location));
      }
    }
  }
  return std::unique_ptr<BytesToBytesCodec>(new ChecksumCodec(a, name, at_end));
}

}  // namespace

Result<std::unique_ptr<BytesToBytesCodec>> MakeCrc32cCodec(const nlohmann::json& config) {
  return MakeChecksum(Algorithm::kCrc32c, "crc32c", /*default_at_end=*/true, true, config);
}
Result<std::unique_ptr<BytesToBytesCodec>> MakeCrc32Codec(const nlohmann::json& config) {
  return MakeChecksum(Algorithm::kCrc32, "crc32", /*default_at_end=*/false, true, config);
}
Result<std::unique_ptr<BytesToBytesCodec>> MakeAdler32Codec(const nlohmann::json& config) {
  return MakeChecksum(Algorithm::kAdler32, "adler32", /*default_at_end=*/false, true, config);
}
Result<std::unique_ptr<BytesToBytesCodec>> MakeFletcher32Codec(const nlohmann::json& config) {
  return MakeChecksum(Algorithm::kFletcher32, "fletcher32", /*default_at_end=*/true, false,
                      config);
}

}  // namespace lsio::codec::internal
