// numcodecs' LZ4: a 4-byte little-endian decoded size, then one LZ4 block.

#include <fmt/format.h>
#include <lz4.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "builtin.h"
#include "config.h"

namespace lsio::codec::internal {

namespace {

constexpr size_t kHeaderSize = 4;

class Lz4Codec final : public BytesToBytesCodec {
 public:
  explicit Lz4Codec(int acceleration) : acceleration_(acceleration) {}

  std::string_view name() const override { return "lz4"; }

  Result<std::optional<size_t>> DecodedSize(std::span<const std::byte> in) const override {
    if (in.size() < kHeaderSize) {
      return CorruptDataError(
          fmt::format("lz4: {} bytes are too short for the 4-byte size header", in.size()));
    }
    uint32_t size = 0;
    std::memcpy(&size, in.data(), kHeaderSize);  // little-endian host
    // numcodecs reads the header as a signed int: anything above INT_MAX is invalid.
    if (size > static_cast<uint32_t>(std::numeric_limits<int>::max())) {
      return CorruptDataError(fmt::format("lz4: header declares an invalid size {}", size));
    }
    return std::optional<size_t>(size);
  }

  Result<size_t> Decode(std::span<const std::byte> in, std::span<std::byte> out) const override {
    LSIO_ASSIGN_OR_RETURN(std::optional<size_t> size, DecodedSize(in));
    if (*size > out.size()) {
      return CorruptDataError(fmt::format(
          "lz4: header declares {} decoded bytes, more than the {} expected", *size, out.size()));
    }
    const size_t block = in.size() - kHeaderSize;
    if (block > static_cast<size_t>(std::numeric_limits<int>::max())) {
      return CorruptDataError(fmt::format("lz4: block of {} bytes is too large", block));
    }
    const int r = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data()) + kHeaderSize,
                                      reinterpret_cast<char*>(out.data()), static_cast<int>(block),
                                      static_cast<int>(*size));
    if (r < 0 || static_cast<size_t>(r) != *size) {
      return CorruptDataError(fmt::format(
          "lz4: block of {} bytes does not decode to the {} bytes its header declares", block,
          *size));
    }
    return *size;
  }

  Result<Buffer> Encode(std::span<const std::byte> in) const override {
    if (in.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
      return InvalidArgumentError(fmt::format("lz4: a chunk of {} bytes exceeds LZ4's limit",
                                              in.size()));
    }
    const int n = static_cast<int>(in.size());
    const int bound = LZ4_compressBound(n);
    LSIO_ASSIGN_OR_RETURN(Buffer out, DefaultBufferPool().Acquire(kHeaderSize + bound));
    const uint32_t size = static_cast<uint32_t>(n);
    std::memcpy(out.mutable_data(), &size, kHeaderSize);
    const int c = LZ4_compress_fast(reinterpret_cast<const char*>(in.data()),
                                    reinterpret_cast<char*>(out.mutable_data()) + kHeaderSize, n,
                                    bound, acceleration_);
    if (c <= 0) return InternalError(fmt::format("lz4: compression of {} bytes failed", n));
    out.Truncate(kHeaderSize + static_cast<size_t>(c));
    return out;
  }

  std::string Describe() const override {
    return fmt::format("lz4(acceleration={})", acceleration_);
  }

 private:
  int acceleration_;
};

}  // namespace

Result<std::unique_ptr<BytesToBytesCodec>> MakeLz4Codec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("lz4", config));
  LSIO_ASSIGN_OR_RETURN(int64_t acceleration,
                        reader.Int("acceleration", 1, std::numeric_limits<int>::min(),
                                   std::numeric_limits<int>::max()));
  // numcodecs treats acceleration <= 0 as the default.
  if (acceleration <= 0) acceleration = 1;
  return std::unique_ptr<BytesToBytesCodec>(new Lz4Codec(static_cast<int>(acceleration)));
}

}  // namespace lsio::codec::internal
