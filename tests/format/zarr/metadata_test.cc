// Metadata parsing: data types, fill values in every form, and the errors for malformed input.
// Expected byte patterns are IEEE / two's complement facts, written out by hand.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "lsio/format/zarr/data_type.h"
#include "lsio/format/zarr/metadata.h"
#include "test_util.h"

namespace lsio::zarr {
namespace {

using nlohmann::json;

json V3Array(json overrides = json::object()) {
  json j = {{"zarr_format", 3},
            {"node_type", "array"},
            {"shape", {10, 7}},
            {"data_type", "float32"},
            {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", {4, 4}}}}}},
            {"chunk_key_encoding", {{"name", "default"}, {"configuration", {{"separator", "/"}}}}},
            {"fill_value", 0},
            {"codecs", {{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}}}};
  for (auto it = overrides.begin(); it != overrides.end(); ++it) {
    if (it.value().is_null()) {
      j.erase(it.key());
    } else {
      j[it.key()] = it.value();
    }
  }
  return j;
}

json V2Array(json overrides = json::object()) {
  json j = {{"zarr_format", 2},    {"shape", {10, 7}}, {"chunks", {4, 4}},
            {"dtype", "<f4"},      {"fill_value", 0},  {"order", "C"},
            {"filters", nullptr},  {"compressor", nullptr}};
  for (auto it = overrides.begin(); it != overrides.end(); ++it) j[it.key()] = it.value();
  return j;
}

std::string FillHex(const json& fill, const json& dtype, ZarrFormat format) {
  Result<ZarrDataType> t =
      format == ZarrFormat::kV3 ? ParseZarrV3DataType(dtype) : ParseZarrV2DataType(dtype);
  if (!t.ok()) return "dtype error: " + t.status().ToString();
  Result<FillValue> f = ResolveFillValue(fill, *t, format, "x/zarr.json");
  if (!f.ok()) return "error: " + f.status().ToString();
  return testing::Hex(f->bytes);
}

TEST(DataType, V2TypeStrings) {
  struct Case {
    const char* ts;
    DataTypeKind kind;
    DataType storage;
    Endian endian;
    size_t size;
  };
  const Case cases[] = {
      {"|b1", DataTypeKind::kNumeric, DataType::kBool, Endian::kLittle, 1},
      {"|i1", DataTypeKind::kNumeric, DataType::kInt8, Endian::kLittle, 1},
      {">i2", DataTypeKind::kNumeric, DataType::kInt16, Endian::kBig, 2},
      {"<i4", DataTypeKind::kNumeric, DataType::kInt32, Endian::kLittle, 4},
      {"<i8", DataTypeKind::kNumeric, DataType::kInt64, Endian::kLittle, 8},
      {"|u1", DataTypeKind::kNumeric, DataType::kUInt8, Endian::kLittle, 1},
      {">u8", DataTypeKind::kNumeric, DataType::kUInt64, Endian::kBig, 8},
      {"<f2", DataTypeKind::kNumeric, DataType::kFloat16, Endian::kLittle, 2},
      {">f4", DataTypeKind::kNumeric, DataType::kFloat32, Endian::kBig, 4},
      {"<f8", DataTypeKind::kNumeric, DataType::kFloat64, Endian::kLittle, 8},
      {"<c8", DataTypeKind::kNumeric, DataType::kComplex64, Endian::kLittle, 8},
      {">c16", DataTypeKind::kNumeric, DataType::kComplex128, Endian::kBig, 16},
      {"<M8[ns]", DataTypeKind::kDatetime64, DataType::kInt64, Endian::kLittle, 8},
      {">m8[s]", DataTypeKind::kTimedelta64, DataType::kInt64, Endian::kBig, 8},
      {"<U10", DataTypeKind::kFixedUtf32, DataType::kUInt8, Endian::kLittle, 40},
      {"|S5", DataTypeKind::kFixedBytes, DataType::kUInt8, Endian::kLittle, 5},
      {"|V4", DataTypeKind::kRawBytes, DataType::kUInt8, Endian::kLittle, 4},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ts);
    Result<ZarrDataType> t = ParseZarrV2DataType(c.ts);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->kind, c.kind);
    if (c.kind != DataTypeKind::kFixedUtf32 && c.kind != DataTypeKind::kFixedBytes &&
        c.kind != DataTypeKind::kRawBytes) {
      EXPECT_EQ(t->storage, c.storage);
    }
    EXPECT_EQ(t->endian, c.endian);
    EXPECT_EQ(t->item_size, c.size);
  }
  Result<ZarrDataType> t = ParseZarrV2DataType("<M8[10ms]");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->time_unit, "ms");
  EXPECT_EQ(t->time_scale, 10);
  EXPECT_EQ(t->name, "datetime64[10ms]");
  t = ParseZarrV2DataType("|O", "vlen-utf8");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kind, DataTypeKind::kVariableString);
  EXPECT_EQ(t->StatisticsSupport().ToString(),
            "NotSupported: statistics not supported: dtype string (vlen-utf8)");
  t = ParseZarrV2DataType(json::parse(R"([["a", "<i4"], ["b", "<f8", [2, 3]]])"));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->kind, DataTypeKind::kStructured);
  EXPECT_EQ(t->item_size, 4u + 8u * 6u);
  // Malformed and unknown.
  for (const char* bad : {"f4", "<x4", "<i3", "<M8[parsec]", "<f16", "<U", "", "<i4[ns]"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseZarrV2DataType(bad).ok());
  }
  EXPECT_EQ(ParseZarrV2DataType("<f16").status().code(), StatusCode::kNotSupported);
  EXPECT_EQ(ParseZarrV2DataType(5).status().code(), StatusCode::kInvalidArgument);
}

TEST(DataType, V3Names) {
  for (DataType d : kAllDataTypes) {
    Result<ZarrDataType> t = ParseZarrV3DataType(std::string(DataTypeName(d)));
    ASSERT_TRUE(t.ok()) << DataTypeName(d);
    EXPECT_EQ(t->storage, d);
    EXPECT_EQ(t->item_size, ByteWidth(d));
    EXPECT_EQ(t->StatisticsSupport().ok(), !IsComplex(d));
  }
  Result<ZarrDataType> t = ParseZarrV3DataType(
      json::parse(R"({"name": "numpy.datetime64", "configuration": {"unit": "us",
                      "scale_factor": 10}})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kind, DataTypeKind::kDatetime64);
  EXPECT_EQ(t->storage, DataType::kInt64);
  EXPECT_EQ(t->name, "datetime64[10us]");
  EXPECT_TRUE(t->StatisticsSupport().ok());
  t = ParseZarrV3DataType(json::parse(R"({"name": "fixed_length_utf32",
                                          "configuration": {"length_bytes": 16}})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->item_size, 16u);
  t = ParseZarrV3DataType("r24");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->item_size, 3u);
  t = ParseZarrV3DataType(json::parse(R"({"name": "optional", "configuration":
                                          {"name": "uint8", "configuration": {}}})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kind, DataTypeKind::kOptional);
  EXPECT_EQ(t->StatisticsSupport().message(), "statistics not supported: dtype optional<uint8>");
  EXPECT_EQ(ParseZarrV3DataType("bfloat16").status().ToString(),
            "NotSupported: data type 'bfloat16' is not supported");
  EXPECT_EQ(ParseZarrV3DataType(json::parse(R"({"name": "quaternion"})")).status().code(),
            StatusCode::kNotSupported);
}

TEST(FillValue, EveryForm) {
  const auto v3 = ZarrFormat::kV3;
  const auto v2 = ZarrFormat::kV2;
  EXPECT_EQ(FillHex("NaN", "float32", v3), "0000c07f");
  EXPECT_EQ(FillHex("NaN", "float64", v3), "000000000000f87f");
  EXPECT_EQ(FillHex("NaN", "float16", v3), "007e");
  EXPECT_EQ(FillHex("Infinity", "float32", v3), "0000807f");
  EXPECT_EQ(FillHex("-Infinity", "float64", v3), "000000000000f0ff");
  EXPECT_EQ(FillHex("0x7fc00001", "float32", v3), "0100c07f");  // NaN with a payload
  EXPECT_EQ(FillHex("0x3c00", "float16", v3), "003c");
  EXPECT_EQ(FillHex(1.5, "float32", v3), "0000c03f");
  EXPECT_EQ(FillHex(-2, "float64", v3), "00000000000000c0");
  EXPECT_EQ(FillHex("3.5", "float32", v3), "00006040");
  EXPECT_EQ(FillHex(json::array({1.0, "NaN"}), "complex64", v3), "0000803f0000c07f");
  EXPECT_EQ(FillHex(-1, "int16", v3), "ffff");
  EXPECT_EQ(FillHex(255, "uint8", v3), "ff");
  EXPECT_EQ(FillHex(json::parse("18446744073709551615"), "uint64", v3), "ffffffffffffffff");
  EXPECT_EQ(FillHex(json::parse("-9223372036854775808"), "int64", v3), "0000000000000080");
  EXPECT_EQ(FillHex(0.0, "int32", v3), "00000000");  // integral float
  EXPECT_EQ(FillHex(true, "bool", v3), "01");
  EXPECT_EQ(FillHex(false, "bool", v3), "00");
  EXPECT_EQ(FillHex(json::parse("-9223372036854775808"),
                    json::parse(R"({"name":"numpy.datetime64","configuration":{"unit":"ns"}})"),
                    v3),
            "0000000000000080");
  EXPECT_EQ(FillHex("NaT", "<M8[s]", v2), "0000000000000080");
  EXPECT_EQ(FillHex(nullptr, "<f8", v2), "0000000000000000");
  EXPECT_EQ(FillHex("AAAAAA==", "|V4", v2), "00000000");
  EXPECT_EQ(FillHex("YWI=", "|S3", v2), "616200");  // base64 "ab", zero padded
  EXPECT_EQ(FillHex("ab", "<U3", v2), "610000006200000000000000");
  EXPECT_EQ(FillHex(json::array({1, 2}), "r16", v3), "0102");
  // Errors name the file and the field.
  for (auto [fill, dtype] : std::vector<std::pair<json, json>>{
           {256, "uint8"}, {-1, "uint32"}, {1.5, "int8"}, {"0x7fc0", "float32"},
           {"zz", "float32"}, {"bogus", "int16"}, {nullptr, "float32"}, {2, "bool"},
           {json::array({1.0}), "complex128"}, {"abcd", "fixed_length_utf32"}}) {
    SCOPED_TRACE(fill.dump() + " " + dtype.dump());
    json dt = dtype == "fixed_length_utf32"
                  ? json::parse(R"({"name":"fixed_length_utf32","configuration":{"length_bytes":4}})")
                  : dtype;
    const std::string got = FillHex(fill, dt, v3);
    EXPECT_EQ(got.rfind("error: InvalidArgument: x/zarr.json: field 'fill_value'", 0), 0u) << got;
  }
}

TEST(ArrayMetadata, V3Basics) {
  Result<ArrayMetadata> m = ParseZarrV3Array(
      V3Array({{"dimension_names", {"y", nullptr}}, {"attributes", {{"a", 1}}}}), "a/zarr.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->grid_shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(m->num_chunks(), 6);
  EXPECT_EQ(m->logical_bytes(), 280);
  EXPECT_EQ(m->dimension_names, (std::vector<std::string>{"y", ""}));
  EXPECT_EQ(m->attributes, json({{"a", 1}}));
  EXPECT_EQ(m->ChunkKey(std::vector<int64_t>{2, 1}), "c/2/1");
  // Defaults: no separator -> "/" for default, "." for v2.
  m = ParseZarrV3Array(V3Array({{"chunk_key_encoding", {{"name", "default"}}}}), "f");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->ChunkKey(std::vector<int64_t>{0, 1}), "c/0/1");
  m = ParseZarrV3Array(V3Array({{"chunk_key_encoding", {{"name", "v2"}}}}), "f");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->ChunkKey(std::vector<int64_t>{0, 1}), "0.1");
  // Extensions that declare must_understand: false are skipped.
  m = ParseZarrV3Array(V3Array({{"my_ext", {{"must_understand", false}}}}), "f");
  EXPECT_TRUE(m.ok()) << m.status().ToString();
}

TEST(ArrayMetadata, V3Sharding) {
  json codecs = json::parse(R"([{"name": "sharding_indexed", "configuration": {
      "chunk_shape": [2, 2],
      "codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": [1, 2],
                  "codecs": [{"name": "bytes"}], "index_location": "start"}}],
      "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                       {"name": "crc32c"}]}}])");
  Result<ArrayMetadata> m = ParseZarrV3Array(V3Array({{"codecs", codecs}}), "s/zarr.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(m->sharding);
  EXPECT_EQ(m->sharding->chunks_per_shard, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(m->sharding->index_location, ShardIndexLocation::kEnd);
  EXPECT_EQ(m->sharding->index_encoded_size, 4u * 16u + 4u);
  ASSERT_TRUE(m->sharding->nested);
  EXPECT_EQ(m->sharding->nested->shard_shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(m->sharding->nested->chunks_per_shard, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(m->sharding->nested->index_location, ShardIndexLocation::kStart);
  // Default index codecs are zarr-python's: bytes + crc32c.
  EXPECT_EQ(m->sharding->nested->index_encoded_size, 2u * 16u + 4u);
  EXPECT_EQ(m->read_chunk_shape(), (std::vector<int64_t>{1, 2}));
  // Inner chunks must divide the shard.
  codecs[0]["configuration"]["chunk_shape"] = {3, 2};
  Result<ArrayMetadata> bad = ParseZarrV3Array(V3Array({{"codecs", codecs}}), "s/zarr.json");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("s/zarr.json"), std::string::npos);
  // An index codec of unknown size.
  codecs = json::parse(R"([{"name": "sharding_indexed", "configuration": {
      "chunk_shape": [2, 2], "codecs": [{"name": "bytes"}],
      "index_codecs": [{"name": "bytes"}, {"name": "gzip"}]}}])");
  bad = ParseZarrV3Array(V3Array({{"codecs", codecs}}), "s/zarr.json");
  EXPECT_EQ(bad.status().code(), StatusCode::kNotSupported);
}

TEST(ArrayMetadata, Errors) {
  struct Case {
    json overrides;
    StatusCode code;
    const char* contains;
  };
  const Case v3_cases[] = {
      {{{"chunk_grid", {{"name", "rectilinear"}, {"configuration", json::object()}}}},
       StatusCode::kNotSupported, "chunk grid rectilinear is not supported"},
      {{{"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", {0, 4}}}}}}},
       StatusCode::kInvalidArgument, "positive"},
      {{{"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", {-1, 4}}}}}}},
       StatusCode::kInvalidArgument, "positive"},
      {{{"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", {4}}}}}}},
       StatusCode::kInvalidArgument, "rank"},
      {{{"shape", {-3, 4}}}, StatusCode::kInvalidArgument, "non-negative"},
      {{{"shape", {int64_t{1} << 40, int64_t{1} << 40}}}, StatusCode::kInvalidArgument,
       "overflows"},
      {{{"unknown_field", 1}}, StatusCode::kNotSupported, "unknown_field"},
      {{{"my_ext", {{"must_understand", true}}}}, StatusCode::kNotSupported, "my_ext"},
      {{{"storage_transformers", {{{"name", "chunk-manifest"}}}}}, StatusCode::kNotSupported,
       "chunk-manifest"},
      {{{"chunk_key_encoding", {{"name", "fancy"}}}}, StatusCode::kNotSupported, "fancy"},
      {{{"dimension_names", {"y"}}}, StatusCode::kInvalidArgument, "dimension_names"},
      {{{"fill_value", nullptr}}, StatusCode::kInvalidArgument, "fill_value"},
      {{{"codecs", json::array()}}, StatusCode::kInvalidArgument, "codecs"},
      {{{"zarr_format", 2}}, StatusCode::kInvalidArgument, "zarr_format"},
      {{{"data_type", "float128"}}, StatusCode::kNotSupported, "float128"},
      {{{"codecs", {{{"name", "transpose"}},
                    {{"name", "sharding_indexed"},
                     {"configuration", {{"chunk_shape", {2, 2}}, {"codecs", {"bytes"}}}}}}}},
       StatusCode::kNotSupported, "sharding_indexed"},
  };
  for (const Case& c : v3_cases) {
    SCOPED_TRACE(c.overrides.dump());
    json j = V3Array(c.overrides);
    if (c.overrides.contains("fill_value")) j["fill_value"] = nullptr;
    Result<ArrayMetadata> m = ParseZarrV3Array(j, "/data/x.zarr/zarr.json");
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), c.code) << m.status().ToString();
    EXPECT_NE(m.status().message().find("/data/x.zarr/zarr.json"), std::string::npos)
        << m.status().ToString();
    EXPECT_NE(m.status().message().find(c.contains), std::string::npos) << m.status().ToString();
  }
  const Case v2_cases[] = {
      {{{"chunks", {4, 0}}}, StatusCode::kInvalidArgument, "positive"},
      {{{"chunks", {4}}}, StatusCode::kInvalidArgument, "rank"},
      {{{"shape", {int64_t{1} << 62, 4}}, {"chunks", {1, 1}}}, StatusCode::kInvalidArgument,
       "overflows"},
      {{{"order", "K"}}, StatusCode::kInvalidArgument, "order"},
      {{{"dimension_separator", "-"}}, StatusCode::kInvalidArgument, "dimension_separator"},
      {{{"dtype", "<q9"}}, StatusCode::kInvalidArgument, "dtype"},
      {{{"compressor", "zstd"}}, StatusCode::kInvalidArgument, "compressor"},
      {{{"filters", {{{"level", 1}}}}}, StatusCode::kInvalidArgument, "filters"},
      {{{"chunks", {int64_t{1} << 33, 4}}, {"shape", {int64_t{1} << 33, 4}}},
       StatusCode::kNotSupported, "limit"},
  };
  for (const Case& c : v2_cases) {
    SCOPED_TRACE(c.overrides.dump());
    Result<ArrayMetadata> m =
        ParseZarrV2Array(V2Array(c.overrides), nullptr, "/data/y.zarr/.zarray");
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), c.code) << m.status().ToString();
    EXPECT_NE(m.status().message().find("/data/y.zarr/.zarray"), std::string::npos)
        << m.status().ToString();
    EXPECT_NE(m.status().message().find(c.contains), std::string::npos) << m.status().ToString();
  }
  // _ARRAY_DIMENSIONS of the wrong length names the .zattrs.
  Result<ArrayMetadata> m = ParseZarrV2Array(V2Array(), {{"_ARRAY_DIMENSIONS", {"x"}}},
                                             "d/.zarray", "d/.zattrs");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("d/.zattrs"), std::string::npos);
}

TEST(ArrayMetadata, V2Basics) {
  Result<ArrayMetadata> m = ParseZarrV2Array(
      V2Array({{"dtype", ">i2"}, {"order", "F"}, {"dimension_separator", "/"},
               {"fill_value", -5}, {"compressor", {{"id", "zlib"}, {"level", 1}}}}),
      {{"_ARRAY_DIMENSIONS", {"y", "x"}}, {"units", "m"}}, "v/.zarray", "v/.zattrs");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->data_type.endian, Endian::kBig);
  EXPECT_EQ(m->order, 'F');
  EXPECT_EQ(m->ChunkKey(std::vector<int64_t>{1, 0}), "1/0");
  EXPECT_EQ(m->dimension_names, (std::vector<std::string>{"y", "x"}));
  EXPECT_EQ(testing::Hex(m->fill_value.bytes), "fbff");  // native (little) order in memory
  EXPECT_EQ(DescribeCodecsJson(*m), "order=F -> zlib(level=1)");
  Result<codec::CodecChain> chain = MakeChunkCodecChain(*m);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_EQ(chain->decoded_spec().shape, (std::vector<int64_t>{4, 4}));
}

TEST(ArrayMetadata, UnsupportedCodecNamesFile) {
  Result<ArrayMetadata> m = ParseZarrV3Array(
      V3Array({{"codecs", {{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}},
                           {{"name", "numcodecs.pcodec"}}}}}),
      "/p/zarr.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Result<codec::CodecChain> chain = MakeChunkCodecChain(*m);
  ASSERT_FALSE(chain.ok());
  EXPECT_EQ(chain.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(chain.status().message().find("/p/zarr.json"), std::string::npos);
  EXPECT_NE(chain.status().message().find("pcodec"), std::string::npos);
}

// Python's json writes NaN and infinities as bare tokens (zarr-python 3 and xarray do, for
// non-finite attributes) and reads them back; so must ParseMetadataJson, outside strings only.
TEST(MetadataJson, ReadsNonFiniteTokensAsPythonDoes) {
  Result<json> j = ParseMetadataJson(
      R"({"a": NaN, "b": [0, Infinity, -Infinity], "s": "NaN", "t": "x NaN \" Infinity",
          "NaN": -Infinity, "n": {"m": [NaN]}})",
      "zarr.json");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_TRUE((*j)["a"].is_number_float() && std::isnan((*j)["a"].get<double>()));
  EXPECT_EQ((*j)["b"][0], 0);
  EXPECT_EQ((*j)["b"][1].get<double>(), INFINITY);
  EXPECT_EQ((*j)["b"][2].get<double>(), -INFINITY);
  EXPECT_EQ((*j)["s"], "NaN");
  EXPECT_EQ((*j)["t"], "x NaN \" Infinity");
  EXPECT_EQ((*j)["NaN"].get<double>(), -INFINITY);
  EXPECT_TRUE(std::isnan((*j)["n"]["m"][0].get<double>()));
}

TEST(MetadataJson, StillRefusesWhatPythonRefuses) {
  for (const char* text : {"{NaN: 1}", "[NaNa]", "[+Infinity]", "[nan]", "[-NaN]", "[Inf]",
                           "[NaN", "{\"a\": NaN,}"}) {
    Result<json> j = ParseMetadataJson(text, "/p/zarr.json");
    ASSERT_FALSE(j.ok()) << text;
    EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(j.status().message().find("/p/zarr.json: malformed JSON"), std::string::npos)
        << j.status().message();
  }
}

TEST(MetadataJson, DumpWritesNonFiniteTokensThatReadBack) {
  json j = {{"a", std::nan("")},
            {"b", {0, INFINITY, -INFINITY, 1.5}},
            // Strings that look like tokens, or like the marker the dump uses, stay strings.
            {"s", "NaN"},
            {"u", "\x01lsio-nonfinite:NaN"},
            {"v", "\x01~lsio-nonfinite:Infinity"}};
  const std::string text = DumpMetadataJson(j);
  EXPECT_EQ(text,
            R"({"a":NaN,"b":[0,Infinity,-Infinity,1.5],"s":"NaN",)"
            R"("u":"\u0001lsio-nonfinite:NaN","v":"\u0001~lsio-nonfinite:Infinity"})");
  Result<json> back = ParseMetadataJson(text, "x");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(DumpMetadataJson(*back), text);
  EXPECT_EQ((*back)["u"], j["u"]);
  // Without non-finite numbers it is nlohmann's own text.
  const json plain = {{"x", {1, 2.5, "y"}}};
  EXPECT_EQ(DumpMetadataJson(plain, 2), plain.dump(2));
}

TEST(ArrayMetadata, NonFiniteAttributes) {
  Result<json> doc = ParseMetadataJson(
      V3Array().dump().insert(1, R"("attributes": {"valid_max": NaN, "range": [0, Infinity]},)"),
      "/p/zarr.json");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  Result<ArrayMetadata> m = ParseZarrV3Array(*doc, "/p/zarr.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(std::isnan(m->attributes["valid_max"].get<double>()));
  EXPECT_EQ(m->attributes["range"][1].get<double>(), INFINITY);
}

}  // namespace
}  // namespace lsio::zarr
