// CodecRegistry: names (Zarr v3, numcodecs ids, "numcodecs." prefixes), kinds, and the errors
// for unknown codecs and bad configurations.

#include "lsio/codec/registry.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace lsio::codec {
namespace {

using Kind = CodecRegistry::Kind;
using nlohmann::json;

TEST(CodecRegistry, KnowsEveryBuiltinCodecByEverySpelling) {
  const CodecRegistry& r = CodecRegistry::Builtin();
  const std::pair<const char*, Kind> kNames[] = {
      {"bytes", Kind::kArrayToBytes},        {"transpose", Kind::kArrayToArray},
      {"delta", Kind::kArrayToArray},        {"fixedscaleoffset", Kind::kArrayToArray},
      {"bitround", Kind::kArrayToArray},     {"quantize", Kind::kArrayToArray},
      {"astype", Kind::kArrayToArray},       {"blosc", Kind::kBytesToBytes},
      {"zstd", Kind::kBytesToBytes},         {"lz4", Kind::kBytesToBytes},
      {"gzip", Kind::kBytesToBytes},         {"zlib", Kind::kBytesToBytes},
      {"bz2", Kind::kBytesToBytes},          {"lzma", Kind::kBytesToBytes},
      {"crc32c", Kind::kBytesToBytes},       {"crc32", Kind::kBytesToBytes},
      {"adler32", Kind::kBytesToBytes},      {"fletcher32", Kind::kBytesToBytes},
      {"shuffle", Kind::kBytesToBytes},
  };
  for (const auto& [name, kind] : kNames) {
    EXPECT_EQ(r.KindOf(name), kind) << name;
    EXPECT_EQ(r.KindOf(std::string("numcodecs.") + name), kind) << name;
  }
  EXPECT_EQ(r.KindOf("pcodec"), std::nullopt);
  EXPECT_EQ(r.KindOf("numcodecs.zfpy"), std::nullopt);
  EXPECT_EQ(r.KindOf("numcodecs."), std::nullopt);
  EXPECT_EQ(r.KindOf("sharding_indexed"), std::nullopt);
}

TEST(CodecRegistry, UnknownCodecIsNotSupportedByName) {
  const CodecRegistry& r = CodecRegistry::Builtin();
  auto a = r.MakeBytesToBytes("numcodecs.pcodec", json::object());
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kNotSupported);
  EXPECT_EQ(a.status().message(), "codec numcodecs.pcodec is not supported");
  auto b = r.MakeArrayToArray("zfpy", json());
  EXPECT_EQ(b.status().code(), StatusCode::kNotSupported);
  EXPECT_EQ(b.status().message(), "codec zfpy is not supported");
}

TEST(CodecRegistry, WrongKindIsInvalidArgument) {
  const CodecRegistry& r = CodecRegistry::Builtin();
  auto a = r.MakeBytesToBytes("delta", json{{"dtype", "<i4"}});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(a.status().message().find("delta"), std::string::npos);
}

TEST(CodecRegistry, CustomRegistrationReplacesAndAdds) {
  CodecRegistry r;
  EXPECT_EQ(r.KindOf("bytes"), std::nullopt);
  RegisterBuiltinCodecs(r);
  EXPECT_EQ(r.KindOf("bytes"), Kind::kArrayToBytes);
  r.Register("bytes", [](const json&) -> Result<std::unique_ptr<BytesToBytesCodec>> {
    return NotSupportedError("replaced");
  });
  EXPECT_EQ(r.KindOf("bytes"), Kind::kBytesToBytes);
  EXPECT_EQ(r.MakeBytesToBytes("bytes", json()).status().message(), "replaced");
}

// A configuration the codec rejects: kInvalidArgument naming the codec and the field.
struct BadConfig {
  const char* name;
  const char* config;
  const char* field;
};

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, IsInvalidArgumentNamingCodecAndField) {
  const BadConfig& p = GetParam();
  const CodecRegistry& r = CodecRegistry::Builtin();
  const json config = json::parse(p.config);
  Status s;
  switch (*r.KindOf(p.name)) {
    case Kind::kArrayToArray:
      s = r.MakeArrayToArray(p.name, config).status();
      break;
    case Kind::kArrayToBytes:
      s = r.MakeArrayToBytes(p.name, config).status();
      break;
    case Kind::kBytesToBytes:
      s = r.MakeBytesToBytes(p.name, config).status();
      break;
  }
  ASSERT_FALSE(s.ok()) << p.name << " " << p.config;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  const std::string codec = std::string(p.name).starts_with("numcodecs.")
                                ? std::string(p.name).substr(10)
                                : std::string(p.name);
  EXPECT_NE(s.message().find("codec " + codec), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(std::string("'") + p.field + "'"), std::string::npos)
      << s.message();
}

INSTANTIATE_TEST_SUITE_P(
    Codecs, BadConfigTest,
    ::testing::Values(
        BadConfig{"blosc", R"({"cname": "snappy2"})", "cname"},
        BadConfig{"blosc", R"({"clevel": 10})", "clevel"},
        BadConfig{"blosc", R"({"clevel": "5"})", "clevel"},
        BadConfig{"blosc", R"({"shuffle": "byteshuffle"})", "shuffle"},
        BadConfig{"blosc", R"({"shuffle": 3})", "shuffle"},
        BadConfig{"blosc", R"({"typesize": 0})", "typesize"},
        BadConfig{"blosc", R"({"blocksize": -1})", "blocksize"},
        BadConfig{"zstd", R"({"level": "high"})", "level"},
        BadConfig{"zstd", R"({"checksum": "yes"})", "checksum"},
        BadConfig{"numcodecs.lz4", R"({"acceleration": 1.5})", "acceleration"},
        BadConfig{"gzip", R"({"level": 10})", "level"},
        BadConfig{"zlib", R"({"level": -2})", "level"},
        BadConfig{"bz2", R"({"level": 0})", "level"},
        BadConfig{"lzma", R"({"format": 4})", "format"},
        BadConfig{"lzma", R"({"format": 3})", "filters"},
        BadConfig{"lzma", R"({"preset": 10})", "preset"},
        BadConfig{"lzma", R"({"check": 99})", "check"},
        BadConfig{"lzma", R"({"format": 3, "filters": [{"id": 999}]})", "filters[0].id"},
        BadConfig{"lzma", R"({"format": 3, "filters": [{"id": 33, "preset": 42}]})",
                  "filters[0].preset"},
        BadConfig{"lzma", R"({"format": 2, "filters": [{"id": 33}]})", "filters"},
        BadConfig{"crc32", R"({"location": "middle"})", "location"},
        BadConfig{"numcodecs.adler32", R"({"location": 1})", "location"},
        BadConfig{"shuffle", R"({"elementsize": -4})", "elementsize"},
        BadConfig{"bytes", R"({"endian": "middle"})", "endian"},
        BadConfig{"transpose", R"({})", "order"},
        BadConfig{"transpose", R"({"order": [0, 0]})", "order"},
        BadConfig{"transpose", R"({"order": [1, 2]})", "order"},
        BadConfig{"transpose", R"({"order": "X"})", "order"},
        BadConfig{"delta", R"({"dtype": "<q9"})", "dtype"},
        BadConfig{"delta", R"({"dtype": 4})", "dtype"},
        BadConfig{"fixedscaleoffset", R"({"offset": 0, "dtype": "<f8"})", "scale"},
        BadConfig{"fixedscaleoffset", R"({"offset": "0", "scale": 1})", "offset"},
        BadConfig{"bitround", R"({})", "keepbits"},
        BadConfig{"bitround", R"({"keepbits": -1})", "keepbits"},
        BadConfig{"quantize", R"({"dtype": "<f4"})", "digits"},
        BadConfig{"quantize", R"({"digits": 2, "dtype": "<i4"})", "dtype"},
        BadConfig{"numcodecs.astype", R"({"decode_dtype": "<f8"})", "encode_dtype"}));

TEST(CodecRegistry, ConfigurationMustBeAnObject) {
  auto c = CodecRegistry::Builtin().MakeBytesToBytes("zstd", json::array({1, 2}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("codec zstd"), std::string::npos);
}

TEST(CodecRegistry, NumcodecsIdMemberAndUnknownMembersAreIgnored) {
  auto c = CodecRegistry::Builtin().MakeBytesToBytes(
      "blosc", json{{"id", "blosc"}, {"cname", "zstd"}, {"clevel", 1}, {"shuffle", 2},
                    {"blocksize", 0}, {"future_option", true}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ((*c)->Describe(), "blosc(cname=zstd, clevel=1, shuffle=bitshuffle, blocksize=0)");
}

}  // namespace
}  // namespace lsio::codec
