// Malformed input for every codec: truncations, bit flips and garbage give an error Status,
// never a crash, hang or overrun (this suite also runs under ASan/UBSan); decompression bombs
// (headers or streams that decode to more than the chunk holds) are kCorruptData and allocate
// nothing beyond the chunk.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "codec_configs.h"
#include "lsio/codec/codec.h"

namespace lsio::codec::testing {
namespace {

using nlohmann::json;

std::vector<std::byte> SmoothFloats(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(0.01 * i) * 100.0);
  std::vector<std::byte> b(n * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

class Corrupt : public ::testing::TestWithParam<CodecConfig> {
 protected:
  void SetUp() override {
    auto chain = CodecChain::FromZarrV3(json::parse(GetParam().codecs), spec_);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    chain_.emplace(std::move(chain).value());
    data_ = SmoothFloats(static_cast<size_t>(spec_.num_elements()));
    auto encoded = chain_->Encode(data_);
    ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
    encoded_.assign(encoded->data(), encoded->data() + encoded->size());
  }

  Status Decode(std::span<const std::byte> in) {
    // A fresh copy of exactly the input size, so that ASan sees any read past its end.
    std::vector<std::byte> copy(in.begin(), in.end());
    std::vector<std::byte> out(data_.size());
    return chain_->Decode(copy, out, pool_);
  }

  const ArraySpec spec_{DataType::kFloat32, {40, 50}};
  std::optional<CodecChain> chain_;
  std::vector<std::byte> data_;
  std::vector<std::byte> encoded_;
  BufferPool pool_;
};

TEST_P(Corrupt, TruncatedInputIsAnError) {
  ASSERT_TRUE(Decode(encoded_).ok());
  std::vector<size_t> lengths;
  for (size_t n = 0; n < std::min<size_t>(encoded_.size(), 64); ++n) lengths.push_back(n);
  for (size_t cut : {1, 2, 3, 4, 5, 16}) {
    if (cut < encoded_.size()) lengths.push_back(encoded_.size() - cut);
  }
  lengths.push_back(encoded_.size() / 2);
  for (size_t n : lengths) {
    Status s = Decode(std::span(encoded_).first(n));
    EXPECT_FALSE(s.ok()) << "length " << n << " of " << encoded_.size();
    if (!s.ok()) {
      EXPECT_EQ(s.code(), StatusCode::kCorruptData) << s.ToString();
    }
  }
}

TEST_P(Corrupt, BitFlipsNeverCrash) {
  std::mt19937 rng(1234);
  int errors = 0;
  const int kFlips = 300;
  for (int i = 0; i < kFlips; ++i) {
    std::vector<std::byte> bad = encoded_;
    const size_t pos = rng() % bad.size();
    bad[pos] ^= std::byte(1u << (rng() % 8));
    Status s = Decode(bad);
    if (!s.ok()) {
      ++errors;
      EXPECT_EQ(s.code(), StatusCode::kCorruptData) << s.ToString();
    }
  }
  // A checksum over every byte catches every single-bit flip.
  if (GetParam().checksummed) {
    EXPECT_EQ(errors, kFlips);
  }
  EXPECT_EQ(pool_.stats().bytes_outstanding, 0u);
}

TEST_P(Corrupt, GarbageNeverCrashes) {
  std::mt19937 rng(99);
  for (size_t n : {0, 1, 3, 4, 8, 15, 16, 17, 32, 100, 1000, 9000}) {
    std::vector<std::byte> junk(n);
    for (auto& b : junk) b = std::byte(rng());
    EXPECT_FALSE(Decode(junk).ok()) << n << " random bytes";
    // Garbage behind a valid prefix (the first 16 bytes: blosc's header, a zstd/xz/gzip
    // frame header).
    std::vector<std::byte> mixed(encoded_.begin(),
                                 encoded_.begin() + std::min<size_t>(16, encoded_.size()));
    mixed.insert(mixed.end(), junk.begin(), junk.end());
    (void)Decode(mixed);
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, Corrupt, ::testing::ValuesIn(BytesToBytesConfigs()),
                         [](const ::testing::TestParamInfo<CodecConfig>& info) {
                           return info.param.label;
                         });

// What the chain may allocate for a chunk: its size, plus compressor slack.
size_t CompressedBoundForTest(const ArraySpec& spec) {
  return spec.num_bytes() + spec.num_bytes() / 16 + (size_t{64} << 10);
}

// Valid streams of 1 MiB of zeros decoded into a 4 KiB chunk: kCorruptData, and the pool
// gives out nothing beyond the chunk's size.
class Bomb : public ::testing::TestWithParam<CodecConfig> {};

TEST_P(Bomb, StreamLargerThanTheChunkIsCorruptData) {
  const json codecs = json::parse(GetParam().codecs);
  const ArraySpec big{DataType::kFloat32, {256 * 1024}};
  const ArraySpec small{DataType::kFloat32, {1024}};
  auto big_chain = CodecChain::FromZarrV3(codecs, big);
  auto small_chain = CodecChain::FromZarrV3(codecs, small);
  ASSERT_TRUE(big_chain.ok() && small_chain.ok());
  std::vector<std::byte> zeros(big.num_bytes());
  auto bomb = big_chain->Encode(zeros);
  ASSERT_TRUE(bomb.ok());
  BufferPool pool;
  std::vector<std::byte> out(small.num_bytes());
  Status s = small_chain->Decode(bomb->span(), out, pool);
  ASSERT_FALSE(s.ok()) << GetParam().label;
  EXPECT_EQ(s.code(), StatusCode::kCorruptData) << s.ToString();
  const BufferPool::Stats stats = pool.stats();
  EXPECT_LE(stats.bytes_cached + stats.bytes_outstanding, 2 * CompressedBoundForTest(small))
      << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Codecs, Bomb, ::testing::ValuesIn(BytesToBytesConfigs()),
                         [](const ::testing::TestParamInfo<CodecConfig>& info) {
                           return info.param.label;
                         });

// Headers that claim a huge decoded size in a few bytes fail before anything is allocated.
TEST(Bomb, HeadersClaimingHugeSizesFailFast) {
  const ArraySpec spec{DataType::kUInt8, {4096}};
  std::vector<std::byte> out(spec.num_bytes());

  // numcodecs lz4: a 4-byte size header of 2 GiB - 1, then a few bytes.
  std::vector<std::byte> lz4(100, std::byte{0});
  const uint32_t huge = 0x7fffffff;
  std::memcpy(lz4.data(), &huge, 4);

  // zstd: a single-segment frame header declaring 1 TiB (8-byte content size), 100 bytes.
  std::vector<std::byte> zstd = {std::byte{0x28}, std::byte{0xb5}, std::byte{0x2f},
                                 std::byte{0xfd}, std::byte{0xe0}};
  const uint64_t tib = uint64_t{1} << 40;
  for (int i = 0; i < 8; ++i) zstd.push_back(std::byte((tib >> (8 * i)) & 0xff));
  zstd.resize(100, std::byte{0});

  // blosc: a real header edited to declare 2 GiB - 32 decoded bytes.
  auto blosc_chain = CodecChain::FromZarrV3(
      json::parse(R"([{"name":"bytes"},{"name":"blosc","configuration":{"cname":"lz4"}}])"), spec);
  ASSERT_TRUE(blosc_chain.ok());
  std::vector<std::byte> data(4096, std::byte{7});
  auto blosc_enc = blosc_chain->Encode(data);
  std::vector<std::byte> blosc(blosc_enc->data(), blosc_enc->data() + blosc_enc->size());
  const uint32_t nbytes = 0x7fffffe0;
  std::memcpy(blosc.data() + 4, &nbytes, 4);

  struct Case {
    const char* codecs;
    std::vector<std::byte> bytes;
  };
  const Case kCases[] = {
      {R"([{"name":"bytes"},{"name":"numcodecs.lz4"}])", lz4},
      {R"([{"name":"bytes"},{"name":"zstd"}])", zstd},
      {R"([{"name":"bytes"},{"name":"blosc"}])", blosc},
      // The same bombs as the outer codec of a stack, where the inner size is only bounded.
      {R"([{"name":"bytes"},{"name":"gzip"},{"name":"numcodecs.lz4"}])", lz4},
      {R"([{"name":"bytes"},{"name":"gzip"},{"name":"zstd"}])", zstd},
      {R"([{"name":"bytes"},{"name":"numcodecs.bz2"},{"name":"blosc"}])", blosc},
  };
  for (const Case& c : kCases) {
    auto chain = CodecChain::FromZarrV3(json::parse(c.codecs), spec);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    BufferPool pool;
    Status s = chain->Decode(c.bytes, out, pool);
    EXPECT_EQ(s.code(), StatusCode::kCorruptData) << c.codecs << ": " << s.ToString();
    EXPECT_EQ(pool.stats().allocations, 0u) << c.codecs;
  }
}

}  // namespace
}  // namespace lsio::codec::testing
