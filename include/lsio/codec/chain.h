#pragma once

// CodecChain: a full chain prepared for one chunk shape: array->array codecs, one
// array->bytes codec, bytes->bytes codecs (TensorStore's driver/zarr3/codec/codec.h, zarrs'
// CodecChain). Zarr v2's order + filters + compressor map onto the same chain.
//
// Thread safety: immutable after construction; Decode and Encode may run on many threads at
// once.

#include <memory>
#include <span>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "lsio/base/buffer.h"
#include "lsio/base/dtype.h"
#include "lsio/base/result.h"
#include "lsio/codec/array_spec.h"
#include "lsio/codec/codec_kinds.h"
#include "lsio/codec/registry.h"

namespace lsio::codec {

class CodecChain {
 public:
  // From a Zarr v3 "codecs" list (each entry a name string or {"name", "configuration"}).
  // `decoded` is the chunk as the array declares it. A "sharding_indexed" entry is not handled
  // here (format/zarr owns sharding) and gives kNotSupported, as does any unknown codec.
  // A list that is not a2a* a2b b2b* is kInvalidArgument. When "blosc" has no typesize (or
  // "numcodecs.shuffle" no elementsize), it is taken from the array, as zarr-python does.
  static Result<CodecChain> FromZarrV3(const nlohmann::json& codecs, const ArraySpec& decoded,
                                       const CodecRegistry& registry = CodecRegistry::Builtin());
  // From Zarr v2 metadata: `filters` (null or a list of numcodecs configs), `compressor` (null
  // or a numcodecs config), `order` 'C' or 'F', the stored byte order of the dtype.
  // The chain is [transpose if 'F'] + array->array filters (applied, as numcodecs does, to
  // the flattened chunk) + bytes(stored byte order) + bytes->bytes filters + compressor.
  // A filter whose dtype has a byte order other than the data it receives would reinterpret
  // bytes; that, and an array->array filter after a bytes->bytes one, are kNotSupported.
  static Result<CodecChain> FromZarrV2(const nlohmann::json& filters,
                                       const nlohmann::json& compressor, char order,
                                       Endian stored_endian, const ArraySpec& decoded,
                                       const CodecRegistry& registry = CodecRegistry::Builtin());

  CodecChain(CodecChain&&) noexcept;
  CodecChain& operator=(CodecChain&&) noexcept;
  ~CodecChain();

  // Decodes one stored chunk into `out`, which must hold exactly decoded_spec().num_bytes()
  // (C order, native byte order; else kInvalidArgument). Encoded data that decodes to any
  // other size is kCorruptData. Scratch memory comes from `pool` and is bounded by a small
  // multiple of the chunk size: a header that declares more than the chunk holds fails before
  // anything is allocated. Zero-copy where possible: checksums verify in place, and the last
  // bytes->bytes codec decodes straight into `out` when nothing follows it but a native-endian
  // `bytes` codec.
  Status Decode(std::span<const std::byte> encoded, std::span<std::byte> out,
                BufferPool& pool = DefaultBufferPool()) const;
  // Decodes one stored chunk as Decode does, but hands the decoded bytes (C order, native byte
  // order) to `sink` in order instead of writing them to an output buffer. When can_stream(),
  // and the innermost compressor streams this data (blosc frames that lsio's own decoder
  // handles), they arrive in cache-sized pieces and the decoded chunk is never materialised;
  // otherwise the chunk is decoded into scratch from `pool` and handed over in one piece.
  // Errors are Decode's; data that decodes to a size other than decoded_spec().num_bytes() is
  // kCorruptData, possibly after the sink has seen part of it.
  Status DecodeStreaming(std::span<const std::byte> encoded, DecodedWindowSink& sink,
                         BufferPool& pool = DefaultBufferPool()) const;
  // True when the chain has no array->array work and a native-endian serializer, and its
  // innermost bytes->bytes codec streams its output (blosc): then DecodeStreaming hands the
  // chunk over in cache-sized pieces. (DecodeStreaming works on any chain, but on others it
  // decodes into scratch and hands over one piece, which gains nothing over Decode: a consumer
  // with a faster way for whole chunks, such as rechunk's box copy, should take that.)
  bool can_stream() const;
  // can_stream(), and the innermost codec passes over what the sink does not want (blosc):
  // a consumer taking some rows of a chunk decodes about those rows.
  bool can_skip() const;
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
