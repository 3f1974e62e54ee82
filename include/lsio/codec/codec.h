#pragma once

// Codecs: the three kinds of the Zarr v3 model (array->array, array->bytes, bytes->bytes),
// composed into a CodecChain that is prepared once per chunk shape (as TensorStore's
// driver/zarr3/codec/codec.h does). Zarr v2's filters + compressor + order map onto the same
// chain.
//
// A codec never knows about files; it works on spans and Buffers. All codecs are immutable
// after construction and safe to use from many threads at once. Codec-internal threading
// (blosc) is off: parallelism comes from decoding many chunks at once on the CPU pool.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lsio/base/buffer.h"
#include "lsio/base/dtype.h"
#include "lsio/base/result.h"

namespace lsio::codec {

// An array chunk as one stage of a chain sees it: element type and shape, C order, native
// byte order in memory.
struct ArraySpec {
  DataType dtype = DataType::kUInt8;
  std::vector<int64_t> shape;

  int64_t num_elements() const;
  size_t num_bytes() const;  // num_elements() * ByteWidth(dtype)
  bool operator==(const ArraySpec&) const = default;
};

class ArrayToArrayCodec {
 public:
  virtual ~ArrayToArrayCodec() = default;
  // Zarr v3 name or numcodecs id, e.g. "transpose", "delta".
  virtual std::string_view name() const = 0;
  // The spec of the encoded array, given the decoded one (transpose permutes the shape, astype
  // and fixedscaleoffset change the dtype). Errors if the codec cannot apply to `decoded`.
  virtual Result<ArraySpec> EncodedSpec(const ArraySpec& decoded) const = 0;
  // `in` holds EncodedSpec(decoded).num_bytes() bytes; `out` holds decoded.num_bytes().
  virtual Status Decode(std::span<const std::byte> in, const ArraySpec& decoded,
                        std::span<std::byte> out) const = 0;
  virtual Status Encode(std::span<const std::byte> in, const ArraySpec& decoded,
                        std::span<std::byte> out) const = 0;
  // True when Decode copies its input unchanged (bitround, quantize): the chain skips it.
  virtual bool decode_is_identity() const { return false; }
  // For `lsio info`: "transpose(order=[1,0])".
  virtual std::string Describe() const = 0;
};

class ArrayToBytesCodec {
 public:
  virtual ~ArrayToBytesCodec() = default;
  virtual std::string_view name() const = 0;
  // `in` holds the serialised array; it must be exactly spec.num_bytes() or the result is
  // kCorruptData. `out` holds spec.num_bytes().
  virtual Status Decode(std::span<const std::byte> in, const ArraySpec& spec,
                        std::span<std::byte> out) const = 0;
  virtual Result<Buffer> Encode(std::span<const std::byte> in, const ArraySpec& spec) const = 0;
  virtual std::string Describe() const = 0;
};

class BytesToBytesCodec {
 public:
  virtual ~BytesToBytesCodec() = default;
  virtual std::string_view name() const = 0;
  // The decoded size when the encoded bytes record it (blosc, numcodecs lz4, zstd frames with
  // a content size, checksums), or nullopt. Malformed headers are kCorruptData.
  virtual Result<std::optional<size_t>> DecodedSize(std::span<const std::byte> in) const = 0;
  // Decodes into `out` and returns the number of bytes written. Data that would decode to more
  // than out.size() is kCorruptData: never an overrun, never an allocation beyond `out`.
  virtual Result<size_t> Decode(std::span<const std::byte> in, std::span<std::byte> out) const = 0;
  virtual Result<Buffer> Encode(std::span<const std::byte> in) const = 0;
  // Checksum codecs verify and return the payload as a sub-span of `in` without copying;
  // every other codec returns nullopt here and is decoded with Decode.
  virtual std::optional<Result<std::span<const std::byte>>> DecodeInPlace(
      std::span<const std::byte> /*in*/) const {
    return std::nullopt;
  }
  virtual std::string Describe() const = 0;
};

// Builds codecs by name from their JSON configuration. Names are Zarr v3 names ("blosc",
// "zstd", "gzip", "crc32c", "bytes", "transpose", ...), numcodecs ids used by Zarr v2 and by
// zarr-python's v3 "numcodecs.*" names ("lz4", "bz2", "lzma", "delta", "fixedscaleoffset",
// "numcodecs.adler32", ...).
class CodecRegistry {
 public:
  using ArrayToArrayFactory =
      Result<std::unique_ptr<ArrayToArrayCodec>> (*)(const nlohmann::json& config);
  using ArrayToBytesFactory =
      Result<std::unique_ptr<ArrayToBytesCodec>> (*)(const nlohmann::json& config);
  using BytesToBytesFactory =
      Result<std::unique_ptr<BytesToBytesCodec>> (*)(const nlohmann::json& config);

  // The registry with every built-in codec registered (RegisterBuiltinCodecs).
  static const CodecRegistry& Builtin();

  void Register(std::string name, ArrayToArrayFactory f);
  void Register(std::string name, ArrayToBytesFactory f);
  void Register(std::string name, BytesToBytesFactory f);

  enum class Kind : unsigned char { kArrayToArray, kArrayToBytes, kBytesToBytes };
  // nullopt if `name` is not registered.
  std::optional<Kind> KindOf(std::string_view name) const;

  // "codec X is not supported" (kNotSupported) for unknown names; kInvalidArgument for a
  // configuration the codec rejects.
  Result<std::unique_ptr<ArrayToArrayCodec>> MakeArrayToArray(std::string_view name,
                                                              const nlohmann::json& config) const;
  Result<std::unique_ptr<ArrayToBytesCodec>> MakeArrayToBytes(std::string_view name,
                                                              const nlohmann::json& config) const;
  Result<std::unique_ptr<BytesToBytesCodec>> MakeBytesToBytes(std::string_view name,
                                                              const nlohmann::json& config) const;

 private:
  struct Entry;
  std::vector<std::pair<std::string, std::shared_ptr<Entry>>> entries_;
};

void RegisterBuiltinCodecs(CodecRegistry& registry);

// A full chain prepared for one chunk shape: array->array codecs, one array->bytes codec,
// bytes->bytes codecs.
class CodecChain {
 public:
  // From a Zarr v3 "codecs" list. `decoded` is the chunk as the array declares it. A
  // "sharding_indexed" entry is not handled here (format/zarr owns sharding) and gives
  // kNotSupported.
  static Result<CodecChain> FromZarrV3(const nlohmann::json& codecs, const ArraySpec& decoded,
                                       const CodecRegistry& registry = CodecRegistry::Builtin());
  // From Zarr v2 metadata: `filters` (null or a list of numcodecs configs), `compressor` (null
  // or a numcodecs config), `order` 'C' or 'F', the stored byte order of the dtype.
  static Result<CodecChain> FromZarrV2(const nlohmann::json& filters,
                                       const nlohmann::json& compressor, char order,
                                       Endian stored_endian, const ArraySpec& decoded,
                                       const CodecRegistry& registry = CodecRegistry::Builtin());

  CodecChain(CodecChain&&) noexcept;
  CodecChain& operator=(CodecChain&&) noexcept;
  ~CodecChain();

  // Decodes one stored chunk into `out`, which must hold exactly decoded_spec().num_bytes()
  // (C order, native byte order). Encoded data that decodes to any other size is kCorruptData.
  // Scratch memory comes from `pool` and is bounded by a small multiple of the chunk size.
  Status Decode(std::span<const std::byte> encoded, std::span<std::byte> out,
                BufferPool& pool = DefaultBufferPool()) const;
  // Encodes a C-order, native-endian chunk of decoded_spec().num_bytes() bytes.
  Result<Buffer> Encode(std::span<const std::byte> decoded) const;

  const ArraySpec& decoded_spec() const;
  // E.g. "bytes(endian=little) -> blosc(cname=zstd, clevel=1, shuffle=bitshuffle)".
  std::string Describe() const;
  // True when the chain is only a native-endian `bytes` codec: the stored bytes are the array.
  bool is_identity() const;

 private:
  struct Impl;
  explicit CodecChain(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lsio::codec
