#pragma once

// The sharding configurations the shard_index target exercises (index at start and end, with
// and without crc32c, compressed and raw inner chunks, nested sharding), as zarr.json
// documents; shared with the seed writer. Input layout: byte 0 picks the configuration (low 7
// bits, modulo the table size); its top bit set means "recompute the index checksum" so that
// mutated entries get past crc32c; the rest is the shard.

#include <cstddef>
#include <string_view>

namespace lsio::fuzz {

inline constexpr std::string_view kShardArrays[] = {
    // As zarrs writes it (../shared/fixtures/zarrs/sharded_array_write_read.zarr).
    R"({"zarr_format":3,"node_type":"array","shape":[8,8],"data_type":"uint16",
        "chunk_grid":{"name":"regular","configuration":{"chunk_shape":[4,8]}},
        "chunk_key_encoding":{"name":"default"},"fill_value":0,
        "codecs":[{"name":"sharding_indexed","configuration":{"chunk_shape":[4,4],
          "codecs":[{"name":"bytes","configuration":{"endian":"little"}},{"name":"gzip"}],
          "index_codecs":[{"name":"bytes","configuration":{"endian":"little"}},{"name":"crc32c"}],
          "index_location":"end"}}]})",
    R"({"zarr_format":3,"node_type":"array","shape":[4,4],"data_type":"uint16",
        "chunk_grid":{"name":"regular","configuration":{"chunk_shape":[4,4]}},
        "chunk_key_encoding":{"name":"default"},"fill_value":7,
        "codecs":[{"name":"sharding_indexed","configuration":{"chunk_shape":[2,2],
          "codecs":[{"name":"bytes","configuration":{"endian":"little"}}],
          "index_codecs":[{"name":"bytes","configuration":{"endian":"little"}}],
          "index_location":"end"}}]})",
    R"({"zarr_format":3,"node_type":"array","shape":[4,4],"data_type":"int32",
        "chunk_grid":{"name":"regular","configuration":{"chunk_shape":[4,4]}},
        "chunk_key_encoding":{"name":"default"},"fill_value":-1,
        "codecs":[{"name":"sharding_indexed","configuration":{"chunk_shape":[2,2],
          "codecs":[{"name":"bytes","configuration":{"endian":"big"}}],
          "index_codecs":[{"name":"bytes","configuration":{"endian":"little"}}],
          "index_location":"start"}}]})",
    R"({"zarr_format":3,"node_type":"array","shape":[8,8],"data_type":"float32",
        "chunk_grid":{"name":"regular","configuration":{"chunk_shape":[8,8]}},
        "chunk_key_encoding":{"name":"default"},"fill_value":"NaN",
        "codecs":[{"name":"sharding_indexed","configuration":{"chunk_shape":[4,4],
          "codecs":[{"name":"bytes","configuration":{"endian":"little"}},{"name":"zstd"}],
          "index_codecs":[{"name":"bytes","configuration":{"endian":"little"}},{"name":"crc32c"}],
          "index_location":"start"}}]})",
    R"({"zarr_format":3,"node_type":"array","shape":[8,8],"data_type":"uint8",
        "chunk_grid":{"name":"regular","configuration":{"chunk_shape":[8,8]}},
        "chunk_key_encoding":{"name":"default"},"fill_value":3,
        "codecs":[{"name":"sharding_indexed","configuration":{"chunk_shape":[4,4],
          "codecs":[{"name":"sharding_indexed","configuration":{"chunk_shape":[2,2],
            "codecs":[{"name":"bytes"}],
            "index_codecs":[{"name":"bytes","configuration":{"endian":"little"}}],
            "index_location":"end"}}],
          "index_codecs":[{"name":"bytes","configuration":{"endian":"little"}}],
          "index_location":"end"}}]})",
};
inline constexpr size_t kNumShardArrays = std::size(kShardArrays);

}  // namespace lsio::fuzz
