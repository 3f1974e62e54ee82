// numcodecs' Shuffle: byte k of element i moves to k * count + i. c-blosc 1.x does not export
// its shuffle, so this is the plain transposition.

#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "builtin.h"
#include "config.h"

namespace lsio::codec::internal {

namespace {

// Fixed element sizes let the compiler unroll the inner loop.
template <size_t kSize, bool kShuffle>
void ShuffleFixed(const std::byte* in, std::byte* out, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    for (size_t k = 0; k < kSize; ++k) {
      if constexpr (kShuffle) {
        out[k * count + i] = in[i * kSize + k];
      } else {
        out[i * kSize + k] = in[k * count + i];
      }
    }
  }
}

template <bool kShuffle>
void Shuffle(const std::byte* in, std::byte* out, size_t size, size_t element) {
  const size_t count = size / element;
  switch (element) {
    case 2:
      return ShuffleFixed<2, kShuffle>(in, out, count);
    case 4:
      return ShuffleFixed<4, kShuffle>(in, out, count);
    case 8:
      return ShuffleFixed<8, kShuffle>(in, out, count);
    default:
      for (size_t i = 0; i < count; ++i) {
        for (size_t k = 0; k < element; ++k) {
          if constexpr (kShuffle) {
            out[k * count + i] = in[i * element + k];
          } else {
            out[i * element + k] = in[k * count + i];
          }
        }
      }
  }
}

class ShuffleCodec final : public BytesToBytesCodec {
 public:
  explicit ShuffleCodec(size_t element) : element_(element) {}

  std::string_view name() const override { return "shuffle"; }

  Result<std::optional<size_t>> DecodedSize(std::span<const std::byte> in) const override {
    return std::optional<size_t>(in.size());
  }

  Result<size_t> Decode(std::span<const std::byte> in, std::span<std::byte> out) const override {
    if (in.size() > out.size()) {
      return CorruptDataError(fmt::format("shuffle: {} bytes are more than the {} expected",
                                          in.size(), out.size()));
    }
    if (element_ <= 1) {
      if (!in.empty()) std::memcpy(out.data(), in.data(), in.size());
      return in.size();
    }
    if (in.size() % element_ != 0) {
      return CorruptDataError(fmt::format("shuffle: {} bytes are not a whole number of {}-byte "
                                          "elements",
                                          in.size(), element_));
    }
    Shuffle<false>(in.data(), out.data(), in.size(), element_);
    return in.size();
  }

  Result<Buffer> Encode(std::span<const std::byte> in) const override {
    if (element_ > 1 && in.size() % element_ != 0) {
      return InvalidArgumentError(fmt::format(
          "shuffle: {} bytes are not a whole number of {}-byte elements", in.size(), element_));
    }
    LSIO_ASSIGN_OR_RETURN(Buffer out, DefaultBufferPool().Acquire(in.size()));
    if (element_ <= 1) {
      if (!in.empty()) std::memcpy(out.mutable_data(), in.data(), in.size());
    } else {
      Shuffle<true>(in.data(), out.mutable_data(), in.size(), element_);
    }
    return out;
  }

  std::optional<size_t> EncodedSizeIfFixed(size_t decoded_size) const override {
    return decoded_size;
  }

  std::string Describe() const override { return fmt::format("shuffle(elementsize={})", element_); }

 private:
  size_t element_;
};

}  // namespace

Result<std::unique_ptr<BytesToBytesCodec>> MakeShuffleCodec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("shuffle", config));
  // numcodecs' default elementsize is 4; values <= 1 mean "no shuffling".
  LSIO_ASSIGN_OR_RETURN(int64_t element, reader.Int("elementsize", 4, 0, int64_t{1} << 20));
  return std::unique_ptr<BytesToBytesCodec>(new ShuffleCodec(static_cast<size_t>(element)));
}

}  // namespace lsio::codec::internal
