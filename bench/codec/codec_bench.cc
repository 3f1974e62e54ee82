// Decode throughput of lsio's codec chains, one thread, on chunks prepared by
// run_codec_bench.py (which times numcodecs on the same bytes in the same run and prints the
// comparison). Also times ISA-L's and zlib's inflate on the gzip chunk: the evidence for
// decoding gzip/zlib with libdeflate.
//
//   codec_bench --chunks DIR [Google Benchmark flags]
//
// DIR/manifest.json lists {"name", "compressor" (a numcodecs config), "dtype", "shape",
// "encoded" (file name)}. Throughput is reported in decoded bytes per second.

#include <benchmark/benchmark.h>
#include <isa-l/igzip_lib.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lsio/codec/codec.h"

namespace {

using lsio::codec::ArraySpec;
using lsio::codec::CodecChain;

struct Chunk {
  std::string name;
  std::vector<std::byte> encoded;
  ArraySpec spec;
  nlohmann::json compressor;
};

std::vector<std::byte> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

void DecodeChain(benchmark::State& state, const Chunk* chunk) {
  auto chain = CodecChain::FromZarrV2(nlohmann::json(), chunk->compressor, 'C',
                                      lsio::Endian::kLittle, chunk->spec);
  if (!chain.ok()) {
    state.SkipWithError(chain.status().ToString().c_str());
    return;
  }
  std::vector<std::byte> out(chunk->spec.num_bytes());
  for (auto _ : state) {
    lsio::Status s = chain->Decode(chunk->encoded, out);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(out.size()));
}

// ISA-L igzip inflate of a gzip member into a buffer of the decoded size.
void InflateIsal(benchmark::State& state, const Chunk* chunk) {
  std::vector<std::byte> out(chunk->spec.num_bytes());
  inflate_state s;
  for (auto _ : state) {
    isal_inflate_init(&s);
    s.crc_flag = ISAL_GZIP;
    s.next_in = reinterpret_cast<uint8_t*>(const_cast<std::byte*>(chunk->encoded.data()));
    s.avail_in = static_cast<uint32_t>(chunk->encoded.size());
    s.next_out = reinterpret_cast<uint8_t*>(out.data());
    s.avail_out = static_cast<uint32_t>(out.size());
    if (isal_inflate(&s) != ISAL_DECOMP_OK || s.block_state != ISAL_BLOCK_FINISH) {
      state.SkipWithError("isal_inflate failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(out.size()));
}

// zlib inflate (what Python's gzip/zlib modules, and so numcodecs, use).
void InflateZlib(benchmark::State& state, const Chunk* chunk) {
  std::vector<std::byte> out(chunk->spec.num_bytes());
  for (auto _ : state) {
    z_stream z{};
    inflateInit2(&z, 16 + MAX_WBITS);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(chunk->encoded.data()));
    z.avail_in = static_cast<uInt>(chunk->encoded.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int r = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    if (r != Z_STREAM_END) {
      state.SkipWithError("zlib inflate failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(out.size()));
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--chunks" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a.rfind("--chunks=", 0) == 0) {
      dir = a.substr(9);
    } else {
      args.push_back(argv[i]);
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "usage: %s --chunks DIR [benchmark flags]\n", argv[0]);
    return 2;
  }
  std::vector<std::byte> text = ReadFile(dir + "/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(
      reinterpret_cast<const char*>(text.data()),
      reinterpret_cast<const char*>(text.data() + text.size()));
  static std::vector<Chunk> chunks;
  for (const nlohmann::json& c : manifest.at("chunks")) {
    Chunk chunk;
    chunk.name = c.at("name").get<std::string>();
    chunk.encoded = ReadFile(dir + "/" + c.at("encoded").get<std::string>());
    chunk.spec.dtype = *lsio::ParseDataTypeName(c.at("dtype").get<std::string>());
    chunk.spec.shape = c.at("shape").get<std::vector<int64_t>>();
    chunk.compressor = c.at("compressor");
    chunks.push_back(std::move(chunk));
  }
  for (const Chunk& chunk : chunks) {
    benchmark::RegisterBenchmark(("lsio/" + chunk.name).c_str(), DecodeChain, &chunk);
    if (chunk.compressor.value("id", "") == "gzip") {
      benchmark::RegisterBenchmark(("isal_inflate/" + chunk.name).c_str(), InflateIsal, &chunk);
      benchmark::RegisterBenchmark(("zlib_inflate/" + chunk.name).c_str(), InflateZlib, &chunk);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
