// DecodeAndConsume (fused decode-and-reduce) against the unfused path, chain.Decode then
// StatsAccumulator::Consume: the accumulator's complete state (Serialize()) must be the same
// bytes after both, for every codec configuration of the codec suite, every dtype, boxes that
// make long, split and short (packed) runs, blosc frames written by numcodecs, and corrupt or
// truncated data (same error code, and the accumulator untouched on error).

#include "lsio/compute/fused_decode.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/compute/stats_stream.h"
#include "tests/codec/codec_configs.h"
#include "tests/codec/test_util.h"

namespace lsio::compute {
namespace {

using codec::ArraySpec;
using codec::CodecChain;
using codec::testing::AllConfigs;
using codec::testing::AppliesTo;
using codec::testing::CodecConfig;

struct Shape {
  std::vector<int64_t> extents;
  std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> boxes;
};

const std::vector<Shape>& Shapes() {
  static const std::vector<Shape> shapes = {
      {{6, 50, 130},
       {{{0, 0, 0}, {6, 50, 130}},
        {{1, 3, 0}, {5, 47, 130}},   // long runs across blocks
        {{0, 0, 5}, {6, 50, 12}},    // 7-element runs: packed
        {{0, 2, 3}, {6, 49, 120}},   // runs of 117
        {{2, 10, 0}, {3, 11, 130}},  // one run
        {{0, 0, 0}, {0, 50, 130}}}},
      {{3001}, {{{0}, {3001}}, {{5}, {2999}}, {{0}, {10}}}},
      {{5, 7, 3}, {{{0, 0, 0}, {5, 7, 3}}, {{1, 2, 1}, {4, 6, 2}}}},
      {{1}, {{{0}, {1}}}},
      {{0}, {{{0}, {0}}}},
  };
  return shapes;
}

// Values with NaN (floats) and extremes, or smooth finite ones for lossy chains.
std::vector<std::byte> MakeData(const ArraySpec& spec, bool finite, uint32_t seed) {
  std::vector<std::byte> data(spec.num_bytes());
  std::mt19937 rng(seed);
  const size_t n = static_cast<size_t>(spec.num_elements());
  const size_t w = ByteWidth(spec.dtype);
  for (size_t i = 0; i < n; ++i) {
    std::byte* p = data.data() + i * w;
    const double v = 40.0 * std::sin(static_cast<double>(i) * 0.003) + 0.01 * (rng() % 1000);
    switch (spec.dtype) {
      case DataType::kFloat16: {
        const uint16_t h = (!finite && i % 101 == 7) ? uint16_t{0x7E00}
                                                     : FloatToHalf(static_cast<float>(v));
        std::memcpy(p, &h, 2);
        break;
      }
      case DataType::kFloat32: {
        const float f = (!finite && i % 101 == 7) ? NAN : static_cast<float>(v + 1e4);
        std::memcpy(p, &f, 4);
        break;
      }
      case DataType::kFloat64: {
        const double d = (!finite && i % 97 == 3) ? NAN : v * 1e6 + 1e9;
        std::memcpy(p, &d, 8);
        break;
      }
      case DataType::kBool:
        p[0] = std::byte(rng() & 1);
        break;
      default: {
        const uint64_t x = finite ? static_cast<uint64_t>(static_cast<int64_t>(v) % 100)
                                  : (static_cast<uint64_t>(rng()) << 32) ^ rng();
        std::memcpy(p, &x, w);
        break;
      }
    }
  }
  return data;
}

// The unfused path: decode, then Consume. Returns the decode status.
Status Unfused(const CodecChain& chain, std::span<const std::byte> encoded, const Box& box,
               StatsAccumulator& acc) {
  std::vector<std::byte> out(chain.decoded_spec().num_bytes() + 8);
  // Aligned like a pool buffer would be, at the element width.
  std::byte* base = out.data() + (8 - reinterpret_cast<uintptr_t>(out.data()) % 8) % 8;
  std::span<std::byte> decoded(base, chain.decoded_spec().num_bytes());
  LSIO_RETURN_IF_ERROR(chain.Decode(encoded, decoded));
  const ChunkView view{chain.decoded_spec().dtype, chain.decoded_spec().shape, decoded};
  return acc.Consume(view, box);
}

// Accumulators that already hold something, so that the merge of the first block is tested too.
StatsAccumulator Seeded(DataType dtype) {
  auto acc = StatsAccumulator::Make(dtype);
  EXPECT_TRUE(acc.ok());
  const ArraySpec spec{dtype, {77}};
  const std::vector<std::byte> seed = MakeData(spec, true, 99);
  EXPECT_TRUE(acc->Consume(seed).ok());
  return *std::move(acc);
}

class FusedVsUnfused : public ::testing::TestWithParam<CodecConfig> {};

TEST_P(FusedVsUnfused, SameBitsForEveryTypeShapeAndBox) {
  const CodecConfig& config = GetParam();
  const nlohmann::json codecs = nlohmann::json::parse(config.codecs);
  int exercised = 0;
  for (DataType dtype : kAllDataTypes) {
    if (IsComplex(dtype) || !AppliesTo(config.applies, dtype)) continue;
    for (const Shape& shape : Shapes()) {
      const ArraySpec spec{dtype, shape.extents};
      SCOPED_TRACE(config.label + " " + spec.ToString());
      auto chain = CodecChain::FromZarrV3(codecs, spec);
      ASSERT_TRUE(chain.ok()) << chain.status().ToString();
      const std::vector<std::byte> data =
          MakeData(spec, config.lossy || config.finite, 5u + exercised);
      auto encoded = chain->Encode(data);
      ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
      for (const auto& [start, stop] : shape.boxes) {
        const Box box{start, stop};
        StatsAccumulator unfused = Seeded(dtype);
        StatsAccumulator fused = Seeded(dtype);
        ASSERT_TRUE(Unfused(*chain, encoded->span(), box, unfused).ok());
        const Status s = DecodeAndConsume(*chain, encoded->span(), box, fused);
        ASSERT_TRUE(s.ok()) << s.ToString();
        EXPECT_EQ(fused.Serialize(), unfused.Serialize())
            << "box starting " << start[0] << " on " << chain->Describe();
        ++exercised;
      }
    }
  }
  EXPECT_GT(exercised, 0);
}

TEST_P(FusedVsUnfused, CorruptAndTruncatedDataGiveTheSameErrors) {
  const CodecConfig& config = GetParam();
  const nlohmann::json codecs = nlohmann::json::parse(config.codecs);
  const DataType dtype =
      AppliesTo(config.applies, DataType::kFloat32) ? DataType::kFloat32 : DataType::kInt32;
  const ArraySpec spec{dtype, {6, 50, 130}};
  auto chain = CodecChain::FromZarrV3(codecs, spec);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  auto encoded = chain->Encode(MakeData(spec, true, 3));
  ASSERT_TRUE(encoded.ok());
  const std::vector<std::byte> good(encoded->span().begin(), encoded->span().end());
  std::vector<std::vector<std::byte>> bad;
  for (size_t keep : {size_t{0}, size_t{3}, good.size() / 2, good.size() - 1}) {
    bad.emplace_back(good.begin(), good.begin() + static_cast<ptrdiff_t>(keep));
  }
  std::mt19937 rng(11);
  for (int k = 0; k < 24; ++k) {
    std::vector<std::byte> f = good;
    const size_t pos = k < 16 ? static_cast<size_t>(k) * 3 % good.size() : rng() % good.size();
    f[pos] ^= std::byte{static_cast<uint8_t>(1u << (k % 8))};
    bad.push_back(std::move(f));
  }
  const std::vector<int64_t> start = {0, 0, 0}, stop = {6, 50, 130};
  const Box box{start, stop};
  for (size_t i = 0; i < bad.size(); ++i) {
    StatsAccumulator unfused = Seeded(dtype);
    StatsAccumulator fused = Seeded(dtype);
    const std::string before = fused.Serialize();
    const Status u = Unfused(*chain, bad[i], box, unfused);
    const Status f = DecodeAndConsume(*chain, bad[i], box, fused);
    ASSERT_EQ(u.code(), f.code()) << "mutation " << i << ": unfused " << u.ToString()
                                  << ", fused " << f.ToString();
    if (f.ok()) {
      EXPECT_EQ(fused.Serialize(), unfused.Serialize()) << "mutation " << i;
    } else {
      EXPECT_EQ(fused.Serialize(), before) << "mutation " << i << " left data behind";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, FusedVsUnfused, ::testing::ValuesIn(AllConfigs()),
                         [](const ::testing::TestParamInfo<CodecConfig>& info) {
                           return info.param.label;
                         });

// Pieces of every size, cut anywhere (mid-element too), give the same bits as Consume.
TEST(StatsStreamTest, AnyPieceSizesGiveConsumeBits) {
  for (DataType dtype : {DataType::kFloat32, DataType::kFloat64, DataType::kInt16,
                         DataType::kUInt8, DataType::kInt64, DataType::kFloat16}) {
    const ArraySpec spec{dtype, {6, 50, 130}};
    const std::vector<std::byte> data = MakeData(spec, false, 21);
    for (const auto& [start, stop] : Shapes()[0].boxes) {
      const Box box{start, stop};
      auto reference = StatsAccumulator::Make(dtype);
      ASSERT_TRUE(reference.ok());
      ASSERT_TRUE(reference->Consume(ChunkView{dtype, spec.shape, data}, box).ok());
      for (size_t piece : {size_t{1}, size_t{3}, size_t{4096}, size_t{16384}, size_t{16385},
                           size_t{40000}, data.size()}) {
        auto acc = StatsAccumulator::Make(dtype);
        ASSERT_TRUE(acc.ok());
        auto stream = StatsStream::Make(*acc, spec.shape, box);
        ASSERT_TRUE(stream.ok());
        for (size_t off = 0; off < data.size(); off += piece) {
          // Copied out so that nothing can read the piece after the call.
          std::vector<std::byte> copy(data.begin() + static_cast<ptrdiff_t>(off),
                                      data.begin() + static_cast<ptrdiff_t>(
                                                         std::min(data.size(), off + piece)));
          ASSERT_TRUE(stream->Feed(copy).ok());
          std::fill(copy.begin(), copy.end(), std::byte{0xEE});
        }
        ASSERT_TRUE(stream->Finish().ok());
        EXPECT_EQ(acc->Serialize(), reference->Serialize())
            << DataTypeName(dtype) << " piece " << piece << " box from " << start[2];
      }
    }
  }
}

TEST(StatsStreamTest, TooManyOrTooFewBytesAreCorruptData) {
  auto acc = StatsAccumulator::Make(DataType::kFloat32);
  ASSERT_TRUE(acc.ok());
  const std::vector<int64_t> shape = {10}, start = {0}, stop = {10};
  auto stream = StatsStream::Make(*acc, shape, Box{start, stop});
  ASSERT_TRUE(stream.ok());
  std::vector<std::byte> bytes(36);
  ASSERT_TRUE(stream->Feed(bytes).ok());
  EXPECT_EQ(stream->Finish().code(), StatusCode::kCorruptData);
  EXPECT_EQ(stream->Feed(std::vector<std::byte>(8)).code(), StatusCode::kCorruptData);
}

// Frames numcodecs wrote (tests/codec/make_blosc_frames.py): every compressor, shuffle,
// typesize and block size, stored frames included, reduced fused and unfused.
TEST(FusedNumcodecsBlosc, SameBitsAsDecodeThenConsume) {
  const char* bin = std::getenv("LSIO_BINARY_DIR");
  const std::string dir = std::string(bin != nullptr ? bin : ".") + "/blosc_frames";
  auto manifest = codec::testing::ReadFileBytes(dir + "/manifest.json");
  ASSERT_TRUE(manifest) << "no frames in " << dir << ": run through ctest";
  const nlohmann::json m = nlohmann::json::parse(
      std::string(reinterpret_cast<const char*>(manifest->data()), manifest->size()));
  int exercised = 0;
  for (const nlohmann::json& c : m) {
    const std::string dtype_name = c.at("dtype").get<std::string>();
    if (dtype_name.empty()) continue;
    const DataType dtype = *ParseDataTypeName(dtype_name);
    const std::string name = c.at("name").get<std::string>();
    auto frame = codec::testing::ReadFileBytes(dir + "/" + name + ".frame");
    ASSERT_TRUE(frame);
    const int64_t n = c.at("nbytes").get<int64_t>() / static_cast<int64_t>(ByteWidth(dtype));
    const ArraySpec spec{dtype, {n}};
    auto chain = CodecChain::FromZarrV3(
        nlohmann::json::parse(R"([{"name":"bytes","configuration":{"endian":"little"}},)"
                              R"({"name":"blosc"}])"),
        spec);
    ASSERT_TRUE(chain.ok());
    const std::vector<std::pair<int64_t, int64_t>> boxes = {
        {0, n}, {std::min<int64_t>(3, n), std::max<int64_t>(n - 5, std::min<int64_t>(3, n))},
        {n / 3, std::min(n, n / 3 + 10)}};
    for (const auto& [lo, hi] : boxes) {
      const std::vector<int64_t> start = {lo}, stop = {hi};
      StatsAccumulator unfused = Seeded(dtype);
      StatsAccumulator fused = Seeded(dtype);
      ASSERT_TRUE(Unfused(*chain, *frame, Box{start, stop}, unfused).ok()) << name;
      ASSERT_TRUE(DecodeAndConsume(*chain, *frame, Box{start, stop}, fused).ok()) << name;
      EXPECT_EQ(fused.Serialize(), unfused.Serialize()) << name << " [" << lo << ", " << hi
                                                        << ")";
      ++exercised;
    }
  }
  EXPECT_GT(exercised, 1000);
}

}  // namespace
}  // namespace lsio::compute
