// Decodes everything make_numcodecs_fixtures.py wrote (numcodecs encodings of every codec
// configuration, zarr-python v2/v3 chunks, the shared zarrs fixtures) and requires lsio's
// output to be byte-identical to numcodecs' / zarr-python's decode of the same bytes.

#include <gtest/gtest.h>

#include <algorithm>

#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace lsio::codec::testing {
namespace {

std::string FixtureDir() {
  const char* dir = std::getenv("LSIO_CODEC_FIXTURES");
  if (dir != nullptr) return dir;
  const char* bin = std::getenv("LSIO_BINARY_DIR");
  return std::string(bin != nullptr ? bin : ".") + "/codec_fixtures";
}

class NumcodecsConformance : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::optional<std::vector<std::byte>> text = ReadFileBytes(FixtureDir() + "/manifest.json");
    ASSERT_TRUE(text.has_value())
        << "no fixtures in " << FixtureDir()
        << ": run through ctest, whose codec_numcodecs_fixtures step writes them";
    manifest_ = new nlohmann::json(nlohmann::json::parse(
        reinterpret_cast<const char*>(text->data()),
        reinterpret_cast<const char*>(text->data() + text->size())));
  }
  static void TearDownTestSuite() {
    delete manifest_;
    manifest_ = nullptr;
  }

  // Calls f(case, spec, encoded, expected) for every case of `kind` with data.
  template <typename F>
  static int ForEachCase(std::string_view kind, F&& f) {
    int n = 0;
    for (const nlohmann::json& c : manifest_->at("cases")) {
      if (c.at("kind") != kind || c.contains("expect_error")) continue;
      SCOPED_TRACE(c.at("name").get<std::string>());
      std::optional<ArraySpec> spec = SpecOf(c);
      std::optional<std::vector<std::byte>> encoded =
          ReadFileBytes(FixtureDir() + "/" + c.at("encoded").get<std::string>());
      std::optional<std::vector<std::byte>> expected =
          ReadFileBytes(FixtureDir() + "/" + c.at("decoded").get<std::string>());
      EXPECT_TRUE(spec && encoded && expected);
      if (!spec || !encoded || !expected) continue;
      EXPECT_EQ(spec->num_bytes(), expected->size());
      f(c, *spec, *encoded, *expected);
      ++n;
    }
    return n;
  }

  static inline nlohmann::json* manifest_ = nullptr;
};

// First differing byte, for messages.
std::string FirstDifference(std::span<const std::byte> a, std::span<const std::byte> b) {
  if (a.size() != b.size()) return "sizes differ";
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) {
      return "byte " + std::to_string(i) + ": " + std::to_string(int(a[i])) + " vs " +
             std::to_string(int(b[i]));
    }
  }
  return "identical";
}

void ExpectChainDecodes(const CodecChain& chain, std::span<const std::byte> encoded,
                        std::span<const std::byte> expected) {
  std::vector<std::byte> out(expected.size(), std::byte{0xAB});
  Status s = chain.Decode(encoded, out);
  ASSERT_TRUE(s.ok()) << s.ToString() << " [" << chain.Describe() << "]";
  EXPECT_TRUE(std::ranges::equal(out, expected))
      << chain.Describe() << ": " << FirstDifference(out, expected);
}

TEST_F(NumcodecsConformance, EveryNumcodecsCodecConfiguration) {
  const CodecRegistry& registry = CodecRegistry::Builtin();
  const int n = ForEachCase("codec", [&](const nlohmann::json& c, const ArraySpec& spec,
                                         const std::vector<std::byte>& encoded,
                                         const std::vector<std::byte>& expected) {
    const nlohmann::json& config = c.at("config");
    const std::string id = config.at("id").get<std::string>();
    std::optional<CodecRegistry::Kind> kind = registry.KindOf(id);
    ASSERT_TRUE(kind.has_value()) << id;
    std::vector<std::byte> out(expected.size(), std::byte{0xCD});
    if (*kind == CodecRegistry::Kind::kBytesToBytes) {
      auto codec = registry.MakeBytesToBytes(id, config);
      ASSERT_TRUE(codec.ok()) << codec.status().ToString();
      auto declared = (*codec)->DecodedSize(encoded);
      ASSERT_TRUE(declared.ok()) << declared.status().ToString();
      if (declared->has_value()) {
        EXPECT_EQ(**declared, expected.size());
      }
      auto written = (*codec)->Decode(encoded, out);
      ASSERT_TRUE(written.ok()) << written.status().ToString();
      EXPECT_EQ(*written, expected.size());
      EXPECT_TRUE(std::ranges::equal(out, expected))
          << (*codec)->Describe() << ": " << FirstDifference(out, expected);
      if (auto in_place = (*codec)->DecodeInPlace(encoded)) {
        ASSERT_TRUE(in_place->ok()) << in_place->status().ToString();
        EXPECT_EQ(FirstDifference(**in_place, expected), "identical");
        // Zero-copy: the payload lies inside the encoded bytes.
        EXPECT_GE((*in_place)->data(), encoded.data());
        EXPECT_LE((*in_place)->data() + (*in_place)->size(), encoded.data() + encoded.size());
      }
    } else {
      ASSERT_EQ(*kind, CodecRegistry::Kind::kArrayToArray) << id;
      auto codec = registry.MakeArrayToArray(id, config);
      ASSERT_TRUE(codec.ok()) << codec.status().ToString();
      auto encoded_spec = (*codec)->EncodedSpec(spec);
      ASSERT_TRUE(encoded_spec.ok()) << encoded_spec.status().ToString();
      ASSERT_EQ(encoded_spec->num_bytes(), encoded.size());
      Status s = (*codec)->Decode(encoded, spec, out);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_TRUE(std::ranges::equal(out, expected))
          << (*codec)->Describe() << ": " << FirstDifference(out, expected);
    }
    // The same configuration as a Zarr v2 filter or compressor, through a whole chain.
    const bool is_filter = *kind == CodecRegistry::Kind::kArrayToArray;
    auto chain = CodecChain::FromZarrV2(
        is_filter ? nlohmann::json::array({config}) : nlohmann::json(),
        is_filter ? nlohmann::json() : config, 'C', Endian::kLittle, spec);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    ExpectChainDecodes(*chain, encoded, expected);
  });
  EXPECT_GE(n, 380) << "fewer numcodecs cases than the fixture script writes";
}

TEST_F(NumcodecsConformance, ZarrV2Chunks) {
  const int n = ForEachCase("v2", [&](const nlohmann::json& c, const ArraySpec& spec,
                                      const std::vector<std::byte>& encoded,
                                      const std::vector<std::byte>& expected) {
    auto chain = ChainOf(c, spec);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    ExpectChainDecodes(*chain, encoded, expected);
  });
  EXPECT_GE(n, 25);
}

TEST_F(NumcodecsConformance, ZarrV3Chunks) {
  const int n = ForEachCase("v3", [&](const nlohmann::json& c, const ArraySpec& spec,
                                      const std::vector<std::byte>& encoded,
                                      const std::vector<std::byte>& expected) {
    auto chain = ChainOf(c, spec);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    ExpectChainDecodes(*chain, encoded, expected);
  });
  EXPECT_GE(n, 28);
}

// zarr-python's pcodec and zfpy arrays (in ../shared/fixtures) name codecs lsio does not
// implement: building their chains must say so, as kNotSupported "codec X is not supported".
TEST_F(NumcodecsConformance, UnsupportedCodecsAreReportedByName) {
  int n = 0;
  for (const nlohmann::json& c : manifest_->at("cases")) {
    if (!c.contains("expect_error")) continue;
    SCOPED_TRACE(c.at("name").get<std::string>());
    std::optional<ArraySpec> spec = SpecOf(c);
    ASSERT_TRUE(spec.has_value());
    auto chain = ChainOf(c, *spec);
    ASSERT_FALSE(chain.ok());
    EXPECT_EQ(chain.status().code(), StatusCode::kNotSupported);
    EXPECT_EQ(chain.status().message(), c.at("expect_message").get<std::string>());
    ++n;
  }
  EXPECT_EQ(n, 6);
}

}  // namespace
}  // namespace lsio::codec::testing
