#pragma once

// The codec chains the codec_decode target exercises, one per codec and option family, and
// the layout of its inputs. Shared with the seed writer (seed_tool.cc), which encodes sample
// chunks with each chain.
//
// Input layout: byte 0 picks the chain (modulo the table size), byte 1 the element type
// (modulo kAllDataTypes), bytes 2 and 3 the chunk shape [1 + b2 % 16, 1 + b3 % 64]; the rest
// is the encoded chunk.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "lsio/base/dtype.h"

namespace lsio::fuzz {

inline constexpr size_t kCodecHeaderBytes = 4;

// Zarr v3 "codecs" lists (numcodecs ids through zarr-python's "numcodecs." names).
inline constexpr std::string_view kCodecChains[] = {
    R"([{"name":"bytes","configuration":{"endian":"little"}}])",
    R"([{"name":"bytes","configuration":{"endian":"big"}}])",
    R"([{"name":"transpose","configuration":{"order":[1,0]}},{"name":"bytes","configuration":{"endian":"big"}},{"name":"gzip"}])",
    R"([{"name":"bytes"},{"name":"blosc","configuration":{"cname":"blosclz","clevel":5,"shuffle":"noshuffle"}}])",
    R"([{"name":"bytes"},{"name":"blosc","configuration":{"cname":"lz4","clevel":5,"shuffle":"shuffle"}}])",
    R"([{"name":"bytes"},{"name":"blosc","configuration":{"cname":"lz4hc","clevel":5,"shuffle":"bitshuffle"}}])",
    R"([{"name":"bytes"},{"name":"blosc","configuration":{"cname":"zlib","clevel":5,"shuffle":"shuffle"}}])",
    R"([{"name":"bytes"},{"name":"blosc","configuration":{"cname":"zstd","clevel":1,"shuffle":"bitshuffle","blocksize":256}}])",
    R"([{"name":"bytes"},{"name":"zstd","configuration":{"level":1,"checksum":false}}])",
    R"([{"name":"bytes"},{"name":"zstd","configuration":{"level":3,"checksum":true}}])",
    R"([{"name":"bytes"},{"name":"numcodecs.lz4","configuration":{"acceleration":1}}])",
    R"([{"name":"bytes"},{"name":"gzip","configuration":{"level":6}}])",
    R"([{"name":"bytes"},{"name":"numcodecs.zlib","configuration":{"level":1}}])",
    R"([{"name":"bytes"},{"name":"numcodecs.bz2","configuration":{"level":1}}])",
    R"([{"name":"bytes"},{"name":"numcodecs.lzma","configuration":{"preset":1}}])",
    R"([{"name":"bytes"},{"name":"numcodecs.lzma","configuration":{"format":2,"preset":1}}])",
    R"([{"name":"bytes"},{"name":"numcodecs.lzma","configuration":{"format":3,"filters":[{"id":3,"dist":4},{"id":33,"preset":1}]}}])",
    R"([{"name":"bytes"},{"name":"crc32c"}])",
    R"([{"name":"bytes"},{"name":"numcodecs.crc32","configuration":{"location":"end"}}])",
    R"([{"name":"bytes"},{"name":"numcodecs.adler32"}])",
    R"([{"name":"bytes"},{"name":"numcodecs.fletcher32"}])",
    R"([{"name":"bytes"},{"name":"numcodecs.shuffle"},{"name":"zstd"}])",
    R"([{"name":"bytes","configuration":{"endian":"big"}},{"name":"zstd"},{"name":"crc32c"},{"name":"blosc","configuration":{"cname":"lz4"}}])",
    R"([{"name":"bytes"},{"name":"gzip"},{"name":"numcodecs.bz2"}])",
    R"([{"name":"numcodecs.delta"},{"name":"bytes"},{"name":"zstd"}])",
    R"([{"name":"numcodecs.astype","configuration":{"encode_dtype":"<f8"}},{"name":"bytes"}])",
    R"([{"name":"numcodecs.bitround","configuration":{"keepbits":5}},{"name":"bytes"},{"name":"blosc"}])",
    R"([{"name":"numcodecs.quantize","configuration":{"digits":2}},{"name":"bytes"}])",
    R"([{"name":"numcodecs.fixedscaleoffset","configuration":{"offset":1,"scale":10,"astype":"<i4"}},{"name":"bytes"},{"name":"numcodecs.lz4"}])",
};
inline constexpr size_t kNumCodecChains = std::size(kCodecChains);

struct CodecInputHeader {
  std::string_view codecs;
  DataType dtype;
  std::vector<int64_t> shape;
};

inline CodecInputHeader ParseCodecHeader(std::span<const uint8_t, kCodecHeaderBytes> h) {
  return {kCodecChains[h[0] % kNumCodecChains],
          kAllDataTypes[h[1] % std::size(kAllDataTypes)],
          {1 + h[2] % 16, 1 + h[3] % 64}};
}

}  // namespace lsio::fuzz
