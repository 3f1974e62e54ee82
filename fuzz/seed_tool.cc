// Writes the generated seed inputs of the binary fuzz targets (codec_decode, shard_index,
// partial_stats) into <out>/<target>/, from data encoded by lsio's own encoders (which the codec
// conformance tests check against numcodecs and zarr-python) and the shared fixtures.
//
//   lsio_fuzz_seeds <out-dir> <shared-fixtures-dir>
//
// fuzz/make-seeds runs it and adds the text inputs (metadata documents, selection strings,
// store keys).

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "codec_table.h"
#include "lsio/codec/chain.h"
#include "lsio/compute/axis_reduction.h"
#include "lsio/compute/stats.h"
#include "lsio/format/zarr/metadata.h"
#include "lsio/format/zarr/shard_index.h"
#include "lsio/ops/stats_partial.h"
#include "shard_table.h"

namespace {

namespace fs = std::filesystem;
using lsio::Result;
using lsio::Status;

Status WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) return lsio::IOError("cannot write " + path.string());
  return Status::OK();
}

// Smooth values with a little noise, as real fields look to a compressor; floats get a NaN.
std::vector<std::byte> SampleChunk(lsio::DataType dtype, int64_t n) {
  const size_t w = lsio::ByteWidth(dtype);
  std::vector<std::byte> out(static_cast<size_t>(n) * w);
  uint32_t lcg = 12345;
  for (int64_t i = 0; i < n; ++i) {
    lcg = lcg * 1664525u + 1013904223u;
    const double v = 100.0 * std::sin(0.05 * static_cast<double>(i)) + (lcg >> 28);
    std::byte* p = out.data() + i * w;
    auto put = [&](auto x) { std::memcpy(p, &x, sizeof x); };
    switch (dtype) {
      case lsio::DataType::kBool:
        put(static_cast<uint8_t>(v > 0));
        break;
      case lsio::DataType::kInt8:
        put(static_cast<int8_t>(v));
        break;
      case lsio::DataType::kInt16:
        put(static_cast<int16_t>(v * 10));
        break;
      case lsio::DataType::kInt32:
        put(static_cast<int32_t>(v * 1000));
        break;
      case lsio::DataType::kInt64:
        put(static_cast<int64_t>(v * 1e6));
        break;
      case lsio::DataType::kUInt8:
        put(static_cast<uint8_t>(v + 128));
        break;
      case lsio::DataType::kUInt16:
        put(static_cast<uint16_t>(v * 10 + 2000));
        break;
      case lsio::DataType::kUInt32:
        put(static_cast<uint32_t>(v * 1000 + 200000));
        break;
      case lsio::DataType::kUInt64:
        put(static_cast<uint64_t>(v * 1e6 + 1e9));
        break;
      case lsio::DataType::kFloat16:
        put(lsio::FloatToHalf(static_cast<float>(v)));
        break;
      case lsio::DataType::kFloat32:
        put(i == 3 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(v));
        break;
      case lsio::DataType::kFloat64:
        put(i == 3 ? std::numeric_limits<double>::quiet_NaN() : v);
        break;
      case lsio::DataType::kComplex64:
        put(static_cast<float>(v));
        break;
      case lsio::DataType::kComplex128:
        put(v);
        break;
    }
  }
  return out;
}

Status CodecSeeds(const fs::path& dir) {
  int written = 0;
  for (size_t c = 0; c < lsio::fuzz::kNumCodecChains; ++c) {
    for (size_t t = 0; t < std::size(lsio::kAllDataTypes); ++t) {
      // Shapes [4, 16] and [1, 1] (a single element: headers with tiny payloads).
      for (auto [d0, d1] : {std::pair{3, 15}, std::pair{0, 0}}) {
        const uint8_t header[4] = {static_cast<uint8_t>(c), static_cast<uint8_t>(t),
                                   static_cast<uint8_t>(d0), static_cast<uint8_t>(d1)};
        const lsio::fuzz::CodecInputHeader h = lsio::fuzz::ParseCodecHeader(header);
        const lsio::codec::ArraySpec spec{h.dtype, h.shape};
        Result<lsio::codec::CodecChain> chain =
            lsio::codec::CodecChain::FromZarrV3(nlohmann::json::parse(h.codecs), spec);
        if (!chain.ok()) continue;  // does not apply to this dtype
        Result<lsio::Buffer> encoded = chain->Encode(SampleChunk(h.dtype, spec.num_elements()));
        if (!encoded.ok()) return encoded.status().WithContext(chain->Describe());
        std::string seed(reinterpret_cast<const char*>(header), 4);
        seed.append(encoded->as_string_view());
        LSIO_RETURN_IF_ERROR(WriteFile(
            dir / ("chain" + std::to_string(c) + "_" + std::string(lsio::DataTypeName(h.dtype)) +
                   "_" + std::to_string(spec.num_elements())),
            seed));
        ++written;
      }
    }
  }
  std::printf("codec_decode: %d seeds\n", written);
  return Status::OK();
}

// Encodes one shard of `spec` holding `data` (C order over spec.shard_shape), leaving inner
// chunks whose index is a multiple of `empty_every` empty (0: none), nested levels included.
Result<std::string> EncodeShard(const lsio::zarr::ShardingSpec& spec, lsio::DataType dtype,
                                std::span<const std::byte> data, int empty_every) {
  const size_t w = lsio::ByteWidth(dtype);
  const int64_t cols = spec.shard_shape[1];
  const int64_t ir = spec.inner_chunk_shape[0], ic = spec.inner_chunk_shape[1];
  std::string chunks;
  std::vector<uint64_t> index;
  for (int64_t ci = 0; ci < spec.num_inner_chunks(); ++ci) {
    const int64_t gr = ci / spec.chunks_per_shard[1], gc = ci % spec.chunks_per_shard[1];
    if (empty_every > 0 && ci % empty_every == 0) {
      index.push_back(lsio::zarr::kEmptyInnerChunk);
      index.push_back(lsio::zarr::kEmptyInnerChunk);
      continue;
    }
    std::vector<std::byte> inner(static_cast<size_t>(ir * ic) * w);
    for (int64_t r = 0; r < ir; ++r) {
      std::memcpy(inner.data() + r * ic * w, data.data() + ((gr * ir + r) * cols + gc * ic) * w,
                  ic * w);
    }
    std::string encoded;
    if (spec.nested) {
      LSIO_ASSIGN_OR_RETURN(encoded, EncodeShard(*spec.nested, dtype, inner, 0));
    } else {
      LSIO_ASSIGN_OR_RETURN(lsio::codec::CodecChain chain,
                            lsio::zarr::MakeInnerCodecChain(spec, dtype));
      LSIO_ASSIGN_OR_RETURN(lsio::Buffer b, chain.Encode(inner));
      encoded = std::string(b.as_string_view());
    }
    const uint64_t start =
        (spec.index_location == lsio::zarr::ShardIndexLocation::kStart ? spec.index_encoded_size
                                                                       : 0) +
        chunks.size();
    index.push_back(start);
    index.push_back(encoded.size());
    chunks += encoded;
  }
  LSIO_ASSIGN_OR_RETURN(lsio::codec::CodecChain index_chain,
                        lsio::zarr::MakeShardIndexCodecChain(spec));
  LSIO_ASSIGN_OR_RETURN(lsio::Buffer idx, index_chain.Encode(std::span(
                                              reinterpret_cast<const std::byte*>(index.data()),
                                              index.size() * sizeof(uint64_t))));
  if (spec.index_location == lsio::zarr::ShardIndexLocation::kStart) {
    return std::string(idx.as_string_view()) + chunks;
  }
  return chunks + std::string(idx.as_string_view());
}

Status ShardSeeds(const fs::path& dir, const fs::path& fixtures) {
  int written = 0;
  for (size_t k = 0; k < lsio::fuzz::kNumShardArrays; ++k) {
    LSIO_ASSIGN_OR_RETURN(
        lsio::zarr::ArrayMetadata m,
        lsio::zarr::ParseZarrV3Array(nlohmann::json::parse(lsio::fuzz::kShardArrays[k]), "seed"));
    const lsio::zarr::ShardingSpec& spec = *m.sharding;
    const int64_t n = spec.shard_shape[0] * spec.shard_shape[1];
    const std::vector<std::byte> data = SampleChunk(m.data_type.storage, n);
    for (int empty_every : {0, 2}) {
      LSIO_ASSIGN_OR_RETURN(std::string shard,
                            EncodeShard(spec, m.data_type.storage, data, empty_every));
      // With and without the "recompute the checksum" bit.
      for (uint8_t flag : {uint8_t{0}, uint8_t{0x80}}) {
        const std::string seed = std::string(1, static_cast<char>(k | flag)) + shard;
        LSIO_RETURN_IF_ERROR(
            WriteFile(dir / ("spec" + std::to_string(k) + "_empty" + std::to_string(empty_every) +
                             "_flag" + std::to_string(flag >> 7)),
                      seed));
        ++written;
      }
    }
  }
  // The shards zarrs wrote (configuration 0 is theirs).
  const fs::path zarrs = fixtures / "zarrs" / "sharded_array_write_read.zarr" / "group" / "array";
  for (const char* key : {"c/0/0", "c/1/0"}) {
    std::ifstream f(zarrs / key, std::ios::binary);
    std::string shard((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (shard.empty()) return lsio::NotFoundError((zarrs / key).string() + ": missing");
    LSIO_RETURN_IF_ERROR(WriteFile(dir / ("zarrs_" + std::string(key[2] == '0' ? "0" : "1")),
                                   std::string(1, '\0') + shard));
    ++written;
  }
  std::printf("shard_index: %d seeds\n", written);
  return Status::OK();
}

Status PartialStatsSeeds(const fs::path& dir, const fs::path& fixtures) {
  int written = 0;
  struct Case {
    const char* name;
    fs::path path;
    std::vector<std::string> over;
  };
  const fs::path zarrs = fixtures / "zarrs";
  for (const Case& c :
       {Case{"v2_blosc_all", zarrs / "v2" / "array_blosc_C.zarr", {}},
        Case{"v2_gzip_over0", zarrs / "v2" / "array_gzip_C.zarr", {"dim_0"}},
        Case{"sharded_over_y", zarrs / "sharded_array_write_read.zarr" / "group", {"y"}}}) {
    lsio::ops::StatsRequest request;
    request.path = c.path.string();
    request.over = c.over;
    request.threads = 1;
    Result<std::string> partial = lsio::ops::ComputePartialStats(request);
    if (!partial.ok()) return partial.status().WithContext(c.name);
    LSIO_RETURN_IF_ERROR(WriteFile(dir / c.name, *partial));
    ++written;
  }
  // Bare accumulator and grid states.
  for (lsio::DataType t : {lsio::DataType::kFloat32, lsio::DataType::kInt16}) {
    LSIO_ASSIGN_OR_RETURN(lsio::compute::StatsAccumulator acc,
                          lsio::compute::StatsAccumulator::Make(t));
    const std::vector<std::byte> data = SampleChunk(t, 64);
    LSIO_RETURN_IF_ERROR(acc.Consume(data));
    LSIO_RETURN_IF_ERROR(
        WriteFile(dir / ("accumulator_" + std::string(lsio::DataTypeName(t))), acc.Serialize()));
    const size_t reduced[] = {0};
    const int64_t kept[] = {3};
    LSIO_ASSIGN_OR_RETURN(lsio::compute::ReductionGrid grid,
                          lsio::compute::ReductionGrid::Make(t, 2, reduced, kept));
    LSIO_RETURN_IF_ERROR(
        WriteFile(dir / ("grid_" + std::string(lsio::DataTypeName(t))), grid.Serialize()));
    written += 2;
  }
  std::printf("partial_stats: %d seeds\n", written);
  return Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <out-dir> <shared-fixtures-dir>\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path fixtures = argv[2];
  std::error_code ec;
  for (const char* t : {"codec_decode", "shard_index", "partial_stats"}) {
    fs::create_directories(out / t, ec);
    if (ec) {
      std::fprintf(stderr, "%s: %s\n", (out / t).c_str(), ec.message().c_str());
      return 1;
    }
  }
  for (const Status& st :
       {CodecSeeds(out / "codec_decode"), ShardSeeds(out / "shard_index", fixtures),
        PartialStatsSeeds(out / "partial_stats", fixtures)}) {
    if (!st.ok()) {
      std::fprintf(stderr, "lsio_fuzz_seeds: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  return 0;
}
