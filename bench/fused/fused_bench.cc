// Thread CPU time of lsio's decode paths on chunks prepared by run_fused_bench.py, which times
// numcodecs on the same bytes in the same run and prints the comparison:
//   decode        CodecChain::Decode into a buffer (lsio's own blosc decoder where it applies)
//   decode_stats  Decode, then StatsAccumulator::Consume of the whole chunk (the unfused path)
//   fused         compute::DecodeAndConsume (fused where the chain streams)
//   cblosc        c-blosc's blosc_decompress_ctx (Debian's libblosc), blosc chunks only: the
//                 library path lsio used before its own decoder
// The sides run interleaved, round by round, so that a busy machine disturbs all of them alike.
//
//   fused_bench --chunks DIR [--rounds N] [--min-seconds S] [--side SIDE] [--chunk NAME]
//
// DIR/manifest.json lists {"name", "compressor" (a numcodecs config), "dtype", "shape",
// "encoded" (file name)}. Prints JSON: {chunk: {side: [CPU seconds per decode, per round]}}.

#include <blosc.h>
#include <time.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/codec/codec.h"
#include "lsio/compute/fused_decode.h"
#include "lsio/compute/stats.h"

namespace {

using lsio::codec::ArraySpec;
using lsio::codec::CodecChain;

double ThreadCpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::vector<std::byte> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

// CPU seconds per call of fn, over as many calls as fill min_seconds of thread CPU time.
template <typename Fn>
double Time(Fn&& fn, double min_seconds) {
  fn();  // warm caches and scratch
  int n = 0;
  const double t0 = ThreadCpu();
  double t = t0;
  do {
    if (!fn()) return -1;
    ++n;
    t = ThreadCpu();
  } while (t - t0 < min_seconds);
  return (t - t0) / n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  int rounds = 3;
  double min_seconds = 0.3;
  std::string only;  // one side, for profiling
  std::string only_chunk;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--chunks" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::stoi(argv[++i]);
    } else if (a == "--side" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--chunk" && i + 1 < argc) {
      only_chunk = argv[++i];
    } else if (a == "--min-seconds" && i + 1 < argc) {
      min_seconds = std::stod(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s --chunks DIR [--rounds N] [--min-seconds S] [--side S] [--chunk NAME]\n", argv[0]);
      return 2;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "--chunks DIR is required\n");
    return 2;
  }
  const std::vector<std::byte> text = ReadFile(dir + "/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(
      reinterpret_cast<const char*>(text.data()),
      reinterpret_cast<const char*>(text.data() + text.size()));

  nlohmann::json result = nlohmann::json::object();
  struct Case {
    std::string name;
    std::vector<std::byte> encoded;
    CodecChain chain;
    bool blosc;
  };
  std::vector<Case> cases;
  for (const nlohmann::json& c : manifest.at("chunks")) {
    ArraySpec spec;
    spec.dtype = *lsio::ParseDataTypeName(c.at("dtype").get<std::string>());
    spec.shape = c.at("shape").get<std::vector<int64_t>>();
    auto chain = CodecChain::FromZarrV2(nlohmann::json(), c.at("compressor"), 'C',
                                        lsio::Endian::kLittle, spec);
    if (!chain.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.at("name").get<std::string>().c_str(),
                   chain.status().ToString().c_str());
      return 1;
    }
    cases.push_back({c.at("name").get<std::string>(), ReadFile(dir + "/" + c.at("encoded").get<std::string>()),
                     std::move(*chain), c.at("compressor").at("id") == "blosc"});
  }
  for (int round = 0; round < rounds; ++round) {
    for (Case& c : cases) {
      if (!only_chunk.empty() && c.name != only_chunk) continue;
      const ArraySpec& spec = c.chain.decoded_spec();
      std::vector<std::byte> out(spec.num_bytes());
      const std::vector<int64_t> start(spec.shape.size(), 0);
      const lsio::compute::Box box{start, spec.shape};
      auto acc = lsio::compute::StatsAccumulator::Make(spec.dtype).value();
      std::map<std::string, double> t;
      auto decode = [&] { return c.chain.Decode(c.encoded, out).ok(); };
      auto decode_stats = [&] {
        if (!c.chain.Decode(c.encoded, out).ok()) return false;
        auto a = acc;
        return a.Consume(lsio::compute::ChunkView{spec.dtype, spec.shape, out}, box).ok();
      };
      auto fused = [&] {
        auto a = acc;
        return lsio::compute::DecodeAndConsume(c.chain, c.encoded, box, a).ok();
      };
      auto cblosc = [&] {
        return blosc_decompress_ctx(c.encoded.data(), out.data(), out.size(), 1) ==
               static_cast<int>(out.size());
      };
      // Rotate the order from round to round.
      static const char* kSides[] = {"decode", "decode_stats", "fused", "cblosc"};
      for (int k = 0; k < 4; ++k) {
        if (!only.empty() && only != kSides[(k + round) % 4]) continue;
        switch ((k + round) % 4) {
          case 0: t["decode"] = Time(decode, min_seconds); break;
          case 1: t["decode_stats"] = Time(decode_stats, min_seconds); break;
          case 2: t["fused"] = Time(fused, min_seconds); break;
          case 3:
            if (c.blosc) t["cblosc"] = Time(cblosc, min_seconds);
            break;
        }
      }
      for (const auto& [side, seconds] : t) result[c.name][side].push_back(seconds);
    }
  }
  std::printf("%s\n", result.dump().c_str());
  return 0;
}
