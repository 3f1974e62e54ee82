// The writer's contracts that need no peer: spec validation and its messages, the compression
// list syntax, fill-value matching, shard assembly rules. What the writer writes is checked
// against zarr-python, TensorStore and xarray in tests/python/test_zarr_writer.py.

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include <gtest/gtest.h>

#include "lsio/format/zarr/metadata_write.h"
#include "lsio/format/zarr/shard_encode.h"
#include "lsio/format/zarr/writer.h"

namespace lsio::zarr {
namespace {

using nlohmann::json;

template <typename T>
std::span<const std::byte> Bytes(const std::vector<T>& v) {
  return std::as_bytes(std::span<const T>(v));
}

ArrayWriteSpec Spec(ZarrFormat format = ZarrFormat::kV3) {
  ArrayWriteSpec s;
  s.format = format;
  s.data_type = NumericZarrDataType(DataType::kFloat32);
  s.shape = {10, 7};
  s.chunk_shape = {4, 3};
  return s;
}

TEST(ParseCodecList, AcceptsTheCliSpellings) {
  ASSERT_TRUE(ParseCodecList("none").ok());
  EXPECT_TRUE(ParseCodecList("none")->empty());
  auto list = ParseCodecList("zstd:7,crc32c");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0], CodecSpec::Zstd(7));
  EXPECT_EQ((*list)[1], CodecSpec::Crc32c());
  EXPECT_EQ(*ParseCodecList("zstd"), std::vector<CodecSpec>{CodecSpec::Zstd(3)});
  EXPECT_EQ(*ParseCodecList("zstd:-5"), std::vector<CodecSpec>{CodecSpec::Zstd(-5)});
  EXPECT_EQ(*ParseCodecList("gzip"), std::vector<CodecSpec>{CodecSpec::Gzip(5)});
  EXPECT_EQ(*ParseCodecList("gzip:9"), std::vector<CodecSpec>{CodecSpec::Gzip(9)});
  EXPECT_EQ(*ParseCodecList("lz4:3"), std::vector<CodecSpec>{CodecSpec::Lz4(3)});
  EXPECT_EQ(*ParseCodecList("blosc"), std::vector<CodecSpec>{CodecSpec::Blosc()});
  EXPECT_EQ(*ParseCodecList("blosc:lz4:9:bitshuffle"),
            std::vector<CodecSpec>{
                CodecSpec::Blosc("lz4", 9, CodecSpec::BloscShuffle::kBitShuffle)});
}

TEST(ParseCodecList, RejectsWithTheStepNamed) {
  for (const char* bad : {"", "zstd:x", "zstd:99", "gzip:10", "blosc:snappy2", "lz4:0",
                          "brotli", "zstd,,gzip", "crc32c:1", "blosc:lz4:5:sideways",
                          "zstd:1:2"}) {
    Result<std::vector<CodecSpec>> r = ParseCodecList(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
  EXPECT_NE(ParseCodecList("gzip:10").status().message().find("gzip:10"), std::string::npos);
  EXPECT_NE(ParseCodecList("brotli").status().message().find("unknown codec 'brotli'"),
            std::string::npos);
}

TEST(AllEqualFill, NanFillMatchesAnyNanButZeroIsBitwise) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float fill[] = {nan};
  const auto fill_bytes = std::as_bytes(std::span(fill));
  // x86's 0.0/0.0 is a NaN with the sign bit set; still "equal to a NaN fill value".
  uint32_t negative_nan_bits = 0xffc00000;
  float negative_nan;
  std::memcpy(&negative_nan, &negative_nan_bits, 4);
  EXPECT_TRUE(AllEqualFill(Bytes(std::vector<float>{nan, negative_nan, nan}), fill_bytes,
                           DataType::kFloat32));
  EXPECT_FALSE(AllEqualFill(Bytes(std::vector<float>{nan, 1.0f}), fill_bytes,
                            DataType::kFloat32));
  const double zero[] = {0.0};
  EXPECT_TRUE(AllEqualFill(Bytes(std::vector<double>{0.0, 0.0}), std::as_bytes(std::span(zero)),
                           DataType::kFloat64));
  EXPECT_FALSE(AllEqualFill(Bytes(std::vector<double>{0.0, -0.0}),
                            std::as_bytes(std::span(zero)), DataType::kFloat64));
  EXPECT_TRUE(AllEqualFill({}, std::as_bytes(std::span(zero)), DataType::kFloat64));
  // float16: 0x7e00 (NaN) fill; 0xfe01 is another NaN, 0x7c00 is +inf.
  const std::vector<uint16_t> half_fill = {0x7e00};
  EXPECT_TRUE(AllEqualFill(Bytes(std::vector<uint16_t>{0xfe01, 0x7e00}), Bytes(half_fill),
                           DataType::kFloat16));
  EXPECT_FALSE(AllEqualFill(Bytes(std::vector<uint16_t>{0x7c00}), Bytes(half_fill),
                            DataType::kFloat16));
  // complex64 fill (1, NaN): the real part bitwise, the imaginary part any NaN.
  const std::vector<float> cfill = {1.0f, nan};
  EXPECT_TRUE(AllEqualFill(Bytes(std::vector<float>{1.0f, negative_nan, 1.0f, nan}),
                           Bytes(cfill), DataType::kComplex64));
  EXPECT_FALSE(AllEqualFill(Bytes(std::vector<float>{1.0f, nan, nan, nan}), Bytes(cfill),
                            DataType::kComplex64));
  // Integers: the period-w comparison must not be fooled by a rotation of the pattern.
  const std::vector<int16_t> ifill = {0x0102};
  EXPECT_TRUE(AllEqualFill(Bytes(std::vector<int16_t>{0x0102, 0x0102, 0x0102}), Bytes(ifill),
                           DataType::kInt16));
  EXPECT_FALSE(AllEqualFill(Bytes(std::vector<int16_t>{0x0102, 0x0102, 0x0201}), Bytes(ifill),
                            DataType::kInt16));
}

TEST(ArrayWriterSpec, InvalidSpecsNameTheArrayAndTheProblem) {
  struct Case {
    std::function<void(ArrayWriteSpec&)> edit;
    StatusCode code;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {[](ArrayWriteSpec& s) { s.chunk_shape = {4}; }, StatusCode::kInvalidArgument, "rank"},
      {[](ArrayWriteSpec& s) { s.chunk_shape = {4, 0}; }, StatusCode::kInvalidArgument,
       "below 1"},
      {[](ArrayWriteSpec& s) { s.shape = {-1, 7}; }, StatusCode::kInvalidArgument, "negative"},
      {[](ArrayWriteSpec& s) { s.sharding = ShardingWriteSpec{{8, 4}}; },
       StatusCode::kInvalidArgument, "not a multiple"},
      {[](ArrayWriteSpec& s) {
         s.format = ZarrFormat::kV2;
         s.sharding = ShardingWriteSpec{{8, 6}};
       },
       StatusCode::kInvalidArgument, "sharding needs Zarr format 3"},
      {[](ArrayWriteSpec& s) { s.dimension_names = {"x"}; }, StatusCode::kInvalidArgument,
       "1 dimension names for an array of rank 2"},
      {[](ArrayWriteSpec& s) { s.attributes = json::array(); }, StatusCode::kInvalidArgument,
       "attributes must be a JSON object"},
      {[](ArrayWriteSpec& s) {
         s.data_type = NumericZarrDataType(DataType::kUInt8);
         s.fill_value = 300;
       },
       StatusCode::kInvalidArgument, "fill_value"},
      {[](ArrayWriteSpec& s) { s.fill_value = "banana"; }, StatusCode::kInvalidArgument,
       "fill_value"},
      {[](ArrayWriteSpec& s) { s.data_type = *ParseZarrV2DataType("|S5"); },
       StatusCode::kNotSupported, "not supported"},
      {[](ArrayWriteSpec& s) { s.chunk_key_separator = '-'; }, StatusCode::kInvalidArgument,
       "separator"},
      {[](ArrayWriteSpec& s) {
         s.format = ZarrFormat::kV2;
         s.dimension_names = {"y", "x"};
         s.attributes = {{"_ARRAY_DIMENSIONS", {"a", "b"}}};
       },
       StatusCode::kInvalidArgument, "disagrees"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    ArrayWriteSpec s = Spec();
    cases[i].edit(s);
    Result<ArrayWriter> w = ArrayWriter::Make(s, "/out/x.zarr/v");
    ASSERT_FALSE(w.ok()) << "case " << i;
    EXPECT_EQ(w.status().code(), cases[i].code) << i << ": " << w.status().ToString();
    EXPECT_NE(w.status().message().find(cases[i].fragment), std::string::npos)
        << i << ": " << w.status().ToString();
    EXPECT_NE(w.status().message().find("/out/x.zarr/v"), std::string::npos)
        << i << ": " << w.status().ToString();
  }
}

TEST(ArrayWriter, UnitsKeysAndExtents) {
  ArrayWriteSpec s = Spec();
  s.sharding = ShardingWriteSpec{{8, 6}};
  Result<ArrayWriter> w = ArrayWriter::Make(s, "a");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->unit_shape(), (std::vector<int64_t>{8, 6}));
  EXPECT_EQ(w->unit_grid_shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(w->chunk_grid_shape(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(w->num_units(), 4);
  const std::vector<int64_t> last = {1, 1};
  EXPECT_EQ(w->UnitKey(last), "c/1/1");
  EXPECT_EQ(w->UnitOrigin(last), (std::vector<int64_t>{8, 6}));
  EXPECT_EQ(w->UnitExtent(last), (std::vector<int64_t>{2, 1}));
  ArrayWriteSpec v2 = Spec(ZarrFormat::kV2);
  Result<ArrayWriter> w2 = ArrayWriter::Make(v2);
  ASSERT_TRUE(w2.ok()) << w2.status().ToString();
  EXPECT_EQ(w2->UnitKey(last), "1.1");
}

TEST(ArrayWriter, EncodeRejectsWrongSizesAndUnitsOutsideTheGrid) {
  Result<ArrayWriter> w = ArrayWriter::Make(Spec(), "arr");
  ASSERT_TRUE(w.ok());
  std::vector<float> full(12, 1.0f);
  const std::vector<int64_t> first = {0, 0};
  EXPECT_TRUE(w->EncodeUnit(first, Bytes(full)).ok());
  // The edge unit (2, 2) holds 2 x 1 elements inside the array.
  const std::vector<int64_t> edge = {2, 2};
  Result<std::optional<Buffer>> r = w->EncodeUnit(edge, Bytes(full));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("[2, 1]"), std::string::npos) << r.status().ToString();
  EXPECT_TRUE(w->EncodeUnit(edge, Bytes(std::vector<float>(2, 1.0f))).ok());
  const std::vector<int64_t> outside = {3, 0};
  EXPECT_FALSE(w->EncodeUnit(outside, Bytes(full)).ok());
  // All fill value (0 in v3 by default): nothing to store.
  Result<std::optional<Buffer>> zero = w->EncodeUnit(first, Bytes(std::vector<float>(12, 0.0f)));
  ASSERT_TRUE(zero.ok());
  EXPECT_FALSE(zero->has_value());
}

TEST(ShardEncoder, RulesOfAdd) {
  ArrayWriteSpec s = Spec();
  s.sharding = ShardingWriteSpec{{8, 6}};
  Result<ArrayWriter> w = ArrayWriter::Make(s, "arr");
  ASSERT_TRUE(w.ok());
  const std::vector<int64_t> shard = {0, 0};
  Result<ShardEncoder> e = w->StartShard(shard);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  // Nothing added: nothing to store.
  Result<std::optional<Buffer>> none = e->Finish();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  const std::vector<int64_t> inner = {1, 0};
  ASSERT_TRUE(e->Add(inner, Buffer::CopyOf(std::string_view("abc"))).ok());
  EXPECT_FALSE(e->Add(inner, Buffer::CopyOf(std::string_view("abc"))).ok());
  const std::vector<int64_t> outside = {2, 0};
  EXPECT_FALSE(e->Add(outside, Buffer::CopyOf(std::string_view("abc"))).ok());
  Result<std::optional<Buffer>> shard_bytes = e->Finish();
  ASSERT_TRUE(shard_bytes.ok());
  ASSERT_TRUE(shard_bytes->has_value());
  // 3 bytes of chunk, then 4 entries x 16 bytes + a crc32c.
  EXPECT_EQ((*shard_bytes)->size(), 3u + 4 * 16 + 4);
  Result<ArrayWriter> plain = ArrayWriter::Make(Spec(), "arr");
  EXPECT_FALSE(plain->StartShard(shard).ok());
}

TEST(SerializeMetadata, NonFiniteNumbersAsPythonWritesThem) {
  json j = {{"a", std::numeric_limits<double>::quiet_NaN()},
            {"b", json::array({std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(), 1.5})},
            {"c", "NaN"}};
  const std::string text = SerializeMetadata(j);
  EXPECT_NE(text.find("\"a\": NaN"), std::string::npos) << text;
  EXPECT_NE(text.find("Infinity,"), std::string::npos) << text;
  EXPECT_NE(text.find("-Infinity,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"c\": \"NaN\""), std::string::npos) << text;
}

}  // namespace
}  // namespace lsio::zarr
