#pragma once

// The three kinds of codec of the Zarr v3 model: array->array, array->bytes, bytes->bytes.
//
// A codec never knows about files; it works on spans and Buffers. All codecs are immutable
// after construction and safe to use from many threads at once. Codec-internal threading
// (blosc) is off: parallelism comes from decoding many chunks at once on the CPU pool.
//
// Errors: bytes that do not decode (bad header, checksum mismatch, a decoded size other than
// the one expected) are kCorruptData; an array the codec cannot apply to is kInvalidArgument or
// kNotSupported. No codec throws, crashes or writes outside `out` on malformed input.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/codec/array_spec.h"

namespace lsio::codec {

// Receives a decoded byte stream in consecutive pieces (DecodeStreaming): each piece continues
// where the last ended and is valid only during the call. A non-OK Status stops the decoding
// and is returned by it.
class DecodedWindowSink {
 public:
  virtual ~DecodedWindowSink() = default;
  virtual Status Consume(std::span<const std::byte> piece) = 0;
  // Optional skipping. A decoder that can pass over part of the stream without decoding it
  // (lsio's blosc decoder: whole blocks) first asks whether the sink needs the next `length`
  // bytes (those after everything consumed or skipped so far); on false it calls Skip(length)
  // instead of Consume, and those bytes are neither decoded nor checked. Default: every byte
  // is needed.
  virtual bool Wants(size_t /*length*/) { return true; }
  virtual Status Skip(size_t /*length*/) {
    return InternalError("DecodedWindowSink: Skip called on a sink that wants every byte");
  }
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
  // Other sizes are kInvalidArgument. `in` and `out` must not overlap.
  virtual Status Decode(std::span<const std::byte> in, const ArraySpec& decoded,
                        std::span<std::byte> out) const = 0;
  // `in` holds decoded.num_bytes(); `out` holds EncodedSpec(decoded).num_bytes().
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
  // Decodes `in` into `sink` in pieces held in a small cache-resident scratch buffer (tens of
  // KiB), so that a caller that only reduces the data never writes the whole decoded chunk to
  // memory. Returns the number of bytes handed to the sink, or nullopt when this codec cannot
  // stream this input (the default; then use Decode), decided before the sink sees anything.
  // Errors are those of Decode (data that would decode to more than `max_size` bytes is
  // kCorruptData), but the sink may have seen a prefix of the data before one is found.
  virtual std::optional<Result<size_t>> DecodeStreaming(std::span<const std::byte> /*in*/,
                                                        size_t /*max_size*/,
                                                        DecodedWindowSink& /*sink*/) const {
    return std::nullopt;
  }
  // True when DecodeStreaming takes (most of) this codec's data: a caller deciding between
  // streaming and decoding the whole chunk should stream only then, since a codec that cannot
  // leaves DecodeStreaming's caller to decode into scratch and hand over one piece.
  virtual bool streams() const { return false; }
  // True when DecodeStreaming honours DecodedWindowSink::Wants (blosc: whole blocks are passed
  // over undecoded), so that a sink taking part of the data pays for about that part.
  virtual bool skips() const { return false; }
  // Checksum codecs verify and return the payload as a sub-span of `in` without copying;
  // every other codec returns nullopt here and is decoded with Decode.
  virtual std::optional<Result<std::span<const std::byte>>> DecodeInPlace(
      std::span<const std::byte> /*in*/) const {
    return std::nullopt;
  }
  // The encoded size of `decoded_size` input bytes when it does not depend on the data (a
  // checksum adds 4 bytes, shuffle keeps the size), or nullopt (compressors). The chain uses
  // it to size scratch space exactly.
  virtual std::optional<size_t> EncodedSizeIfFixed(size_t /*decoded_size*/) const {
    return std::nullopt;
  }
  virtual std::string Describe() const = 0;
};

}  // namespace lsio::codec
