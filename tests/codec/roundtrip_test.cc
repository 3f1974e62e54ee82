// The round-trip suite every codec passes: for each codec configuration, every element type
// and a range of chunk shapes (empty, one element, odd sizes, several blocks), decoding what
// the chain encoded gives back the input. Lossy filters (bitround, quantize,
// fixedscaleoffset) are projections instead: decoding, re-encoding and decoding again is
// stable.

#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "codec_configs.h"
#include "lsio/codec/chain.h"

namespace lsio::codec::testing {
namespace {

const std::vector<std::vector<int64_t>> kShapes = {{0},    {1},    {1, 1},   {7},
                                                   {3, 0, 2}, {5, 7, 3}, {64, 64}, {3001}};

// Arbitrary bytes (valid bools only), or smooth finite values for the lossy configurations,
// whose numpy arithmetic on NaN or overflow is platform-defined, and for casts, which quiet
// signalling NaNs.
std::vector<std::byte> MakeData(const ArraySpec& spec, bool finite, uint32_t seed) {
  std::vector<std::byte> data(spec.num_bytes());
  std::mt19937 rng(seed);
  const size_t n = static_cast<size_t>(spec.num_elements());
  if (spec.dtype == DataType::kBool) {
    for (auto& b : data) b = std::byte(rng() & 1);
  } else if (!finite) {
    for (size_t i = 0; i < data.size(); ++i) {
      // Half the chunk compressible, half noise.
      data[i] = i < data.size() / 2 ? std::byte(i / 64) : std::byte(rng());
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      const double v = 50.0 * std::sin(static_cast<double>(i) * 0.01) + 3.0;
      std::byte* p = data.data() + i * ByteWidth(spec.dtype);
      switch (spec.dtype) {
        case DataType::kFloat16: {
          const uint16_t h = FloatToHalf(static_cast<float>(v));
          std::memcpy(p, &h, 2);
          break;
        }
        case DataType::kFloat32: {
          const float f = static_cast<float>(v);
          std::memcpy(p, &f, 4);
          break;
        }
        case DataType::kFloat64:
          std::memcpy(p, &v, 8);
          break;
        default: {
          // Integers: small values that fit every width.
          const int8_t x = static_cast<int8_t>(static_cast<int>(v) % 100);
          std::memset(p, 0, ByteWidth(spec.dtype));
          std::memcpy(p, &x, 1);
          break;
        }
      }
    }
  }
  return data;
}

class RoundTrip : public ::testing::TestWithParam<CodecConfig> {};

TEST_P(RoundTrip, EveryTypeAndShape) {
  const CodecConfig& config = GetParam();
  const nlohmann::json codecs = nlohmann::json::parse(config.codecs);
  int exercised = 0;
  for (DataType dtype : kAllDataTypes) {
    for (const std::vector<int64_t>& shape : kShapes) {
      const ArraySpec spec{dtype, shape};
      SCOPED_TRACE(config.label + " " + spec.ToString());
      auto chain = CodecChain::FromZarrV3(codecs, spec);
      if (!AppliesTo(config.applies, dtype)) {
        // Not applicable: a clear error when the chain is built, or (for filters that accept
        // any type, like astype) an honest lossy result we do not check here.
        if (!chain.ok()) {
          EXPECT_TRUE(chain.status().code() == StatusCode::kInvalidArgument ||
                      chain.status().code() == StatusCode::kNotSupported)
              << chain.status().ToString();
        }
        continue;
      }
      ASSERT_TRUE(chain.ok()) << chain.status().ToString();
      const std::vector<std::byte> data =
          MakeData(spec, config.lossy || config.finite, 17u + exercised);
      auto encoded = chain->Encode(data);
      ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
      BufferPool pool;
      std::vector<std::byte> out(data.size(), std::byte{0x5A});
      Status s = chain->Decode(encoded->span(), out, pool);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(pool.stats().bytes_outstanding, 0u) << "scratch not returned";
      if (!config.lossy) {
        EXPECT_TRUE(out == data) << chain->Describe();
      } else {
        auto again = chain->Encode(out);
        ASSERT_TRUE(again.ok());
        std::vector<std::byte> out2(data.size());
        ASSERT_TRUE(chain->Decode(again->span(), out2, pool).ok());
        EXPECT_TRUE(out == out2) << chain->Describe();
      }
      ++exercised;
    }
  }
  EXPECT_GT(exercised, 0);
}

INSTANTIATE_TEST_SUITE_P(Codecs, RoundTrip, ::testing::ValuesIn(AllConfigs()),
                         [](const ::testing::TestParamInfo<CodecConfig>& info) {
                           return info.param.label;
                         });

}  // namespace
}  // namespace lsio::codec::testing
