#pragma once

// Blosc1 frames, the format c-blosc 1.x and numcodecs' Blosc write, parsed and decoded by lsio
// itself: block by block, each block's split streams decompressed with libzstd, liblz4 or
// libdeflate into a cache-resident scratch buffer and unshuffled with Highway SIMD.
//
// Frame layout (all integers little-endian):
//   0  version (2)        1  compressor format version (1)
//   2  flags: 0x01 byte shuffle, 0x02 memcpyed (stored), 0x04 bit shuffle, 0x08 reserved
//      (must be 0), 0x10 blocks not split into byte streams, bits 5-7 compressor format
//      (0 blosclz, 1 lz4/lz4hc, 2 snappy, 3 zlib, 4 zstd)
//   3  typesize           4  nbytes (decoded size)   8  blocksize   12  cbytes (frame size)
//   16 memcpyed: the nbytes data bytes; else one int32 offset per block, then per block one or
//      `typesize` streams (split when typesize <= 16, blocksize / typesize >= 128, the block
//      is not the last, partial one, and flag 0x10 is clear), each an int32 compressed size
//      followed by that many bytes; a size equal to the stream's decoded size means stored.
// A block is decoded into blocksize bytes (the last one into nbytes % blocksize when that is
// not 0), then byte-unshuffled when flag 0x01 is set and typesize > 1: the trailing
// blocksize % typesize bytes are not shuffled. Otherwise, with flag 0x04, a block of n >= 1
// elements with n % 8 == 0 is bit-unshuffled (bitshuffle's layout: 8 * typesize rows of n / 8
// bytes, row 8 j + i holding bit i of byte j of every element), its trailing bytes again left
// as they are; c-blosc leaves other blocks as they are.
//
// Every offset and size is checked against the frame and the declared sizes before it is used:
// a corrupt or truncated frame is kCorruptData, never a read or write out of bounds. The codec
// registered as "blosc" uses this decoder for the frames it handles (BloscOwnDecoderHandles) and
// c-blosc for the rest (blosclz, snappy).
//
// Thread safety: the functions keep per-thread scratch and decompression contexts; call them
// from any number of threads.

#include <cstddef>
#include <cstdint>
#include <span>

#include "lsio/base/result.h"
#include "lsio/codec/codec_kinds.h"

namespace lsio::codec {

inline constexpr size_t kBloscHeaderSize = 16;

// Compressor formats of the header's flags >> 5.
enum class BloscFormat : uint8_t { kBloscLz = 0, kLz4 = 1, kSnappy = 2, kZlib = 3, kZstd = 4 };

struct BloscFrameInfo {
  uint8_t version = 0;
  uint8_t format_version = 0;
  uint8_t flags = 0;
  uint32_t typesize = 0;
  uint32_t nbytes = 0;
  uint32_t blocksize = 0;
  uint32_t cbytes = 0;
  uint32_t num_blocks = 0;  // ceil(nbytes / blocksize); 0 when nbytes == 0

  bool memcpyed() const { return (flags & 0x02) != 0; }
  // Byte shuffle as blosc applies it on decode (a typesize of 1 has nothing to unshuffle).
  bool byte_shuffle() const { return (flags & 0x01) != 0 && typesize > 1; }
  bool bit_shuffle() const { return (flags & 0x04) != 0; }
  BloscFormat format() const { return static_cast<BloscFormat>(flags >> 5); }
  // Decoded size of block `j` (< num_blocks).
  uint32_t block_bytes(uint32_t j) const;
  // Number of separately compressed streams in block `j`: typesize or 1.
  uint32_t block_streams(uint32_t j) const;
};

// Reads and validates the header: kCorruptData when `frame` is shorter than the header, the
// header's cbytes is not frame.size(), the version is not 2, or (for nbytes > 0, the checks
// c-blosc makes) the reserved flag is set, typesize is 0, blocksize is 0 or exceeds `max_nbytes`,
// nbytes exceeds `max_nbytes`, a memcpyed frame's size is not nbytes + 16, or the block-offset
// table does not fit in the frame. `max_nbytes` is the room the caller has for the output.
Result<BloscFrameInfo> ParseBloscFrame(std::span<const std::byte> frame,
                                       size_t max_nbytes = SIZE_MAX);

// True when DecodeBloscFrame and DecodeBloscFrameStreaming handle the frame themselves: stored
// (memcpyed) frames, and lz4/lz4hc, zlib and zstd frames (any shuffle).
bool BloscOwnDecoderHandles(const BloscFrameInfo& info);

// Decodes a frame into out[0, nbytes); kInvalidArgument if out is smaller than nbytes or the
// frame is not one BloscOwnDecoderHandles; kCorruptData for a frame that does not decode to its
// declared sizes (every stream must decode to exactly its size). Returns nbytes.
Result<size_t> DecodeBloscFrame(std::span<const std::byte> frame, std::span<std::byte> out);

// Streams the decoded bytes of a frame to `sink` in order, in pieces of at most about
// `window_bytes` (whole elements of typesize, except a block's unshuffled tail bytes), decoding
// one block at a time into per-thread scratch. Errors as DecodeBloscFrame; the sink may have seen
// a prefix when a later block turns out corrupt. Returns nbytes.
Result<size_t> DecodeBloscFrameStreaming(std::span<const std::byte> frame,
                                         DecodedWindowSink& sink,
                                         size_t window_bytes = size_t{32} << 10);

}  // namespace lsio::codec
