// CF rules against xarray: decoded values and dtypes of packed/masked variables, time units
// decoded by xarray's decode_cf_datetime, and coordinates decoded from their raw values.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "lsio/array/cf.h"
#include "lsio/array/datetime.h"
#include "lsio/format/zarr/hierarchy.h"
#include "lsio/kvstore/file_store.h"
#include "test_util.h"

namespace lsio::zarr {
namespace {

using nlohmann::json;

TEST(Datetime, CivilConversions) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 1, 1), 10957);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(1600, 3, 1), -135080);
  for (int64_t d = -800000; d < 800000; d += 997) {
    const CivilDate c = CivilFromDays(d);
    ASSERT_EQ(DaysFromCivil(c.year, c.month, c.day), d);
  }
  EXPECT_EQ(FormatDatetimeNs(0), "1970-01-01");
  EXPECT_EQ(FormatDatetimeNs(kNaT), "NaT");
  EXPECT_EQ(FormatDatetimeNs(-1), "1969-12-31T23:59:59.999999999");
  EXPECT_EQ(FormatDatetimeNs(ParseIsoDatetime("2000-02-29T06:30").value().ns),
            "2000-02-29T06:30:00");
  EXPECT_EQ(ParseIsoDatetime("2001-02-29").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIsoDatetime("2300-01-01").status().code(), StatusCode::kOutOfRange);
  const ParsedDatetime p = *ParseIsoDatetime("2020-02");
  EXPECT_EQ(p.resolution, DatetimeResolution::kMonth);
  EXPECT_EQ(FormatDatetimeNs(PeriodEndNs(p)), "2020-02-29T23:59:59.999999999");
  EXPECT_EQ(ParseIsoDatetime("2020-01-01T00:00:00.5").value().resolution,
            DatetimeResolution::kMillisecond);
}

TEST(CfTime, UnitsAgainstXarray) {
  ASSERT_TRUE(testing::Manifest().contains("times"));
  int checked = 0;
  for (const json& t : testing::Manifest()["times"]) {
    SCOPED_TRACE(t["units"].get<std::string>() + " calendar '" + t["calendar"].get<std::string>() +
                 "'");
    Result<CfTimeUnits> units =
        ParseCfTimeUnits(t["units"].get<std::string>(), t["calendar"].get<std::string>());
    Result<std::vector<int64_t>> ns = units.status();
    if (units.ok()) {
      if (t["integer"].get<bool>()) {
        ns = DecodeCfTimes(t["values"].get<std::vector<int64_t>>(), *units);
      } else {
        std::vector<double> v;
        for (const json& x : t["values"]) {
          v.push_back(x.is_null() ? std::nan("") : x.get<double>());
        }
        ns = DecodeCfTimes(v, *units);
      }
    }
    if (t["error"].get<bool>()) {
      EXPECT_FALSE(ns.ok()) << "xarray failed, lsio decoded";
    } else {
      ASSERT_TRUE(ns.ok()) << ns.status().ToString();
      EXPECT_EQ(*ns, t["expected_ns"].get<std::vector<int64_t>>());
    }
    ++checked;
  }
  EXPECT_GE(checked, 16);
  EXPECT_EQ(ParseCfTimeUnits("days since 2000-01-01", "noleap").status().code(),
            StatusCode::kNotSupported);
  EXPECT_EQ(ParseCfTimeUnits("days after 2000").status().code(), StatusCode::kInvalidArgument);
}

template <typename T>
std::vector<T> As(const std::vector<std::byte>& b) {
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

TEST(CfMaskAndScale, DecodedLikeXarray) {
  ASSERT_TRUE(testing::Manifest().contains("cf"));
  int checked = 0;
  for (const json& e : testing::Manifest()["cf"]) {
    SCOPED_TRACE(e["store"].get<std::string>() + " " + e["node"].get<std::string>());
    auto store_holder = kvstore::MakeFileStore(testing::StorePath(e));
  kvstore::Store& store = *store_holder;
    Result<Hierarchy> h = OpenHierarchy(store);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    const Node* node = h->Find(e["node"].get<std::string>());
    ASSERT_NE(node, nullptr);
    const ArrayMetadata& m = *node->array;
    EXPECT_EQ(DataTypeName(m.data_type.storage), e["raw_dtype"].get<std::string>());
    Result<testing::Npy> raw = testing::ReadNpy(testing::FixturesDir() + "/" +
                                                e["raw"].get<std::string>());
    Result<testing::Npy> expected = testing::ReadNpy(testing::FixturesDir() + "/" +
                                                     e["decoded"].get<std::string>());
    ASSERT_TRUE(raw.ok() && expected.ok());
    // The raw values lsio reads equal zarr-python's (the test-only read).
    Result<std::vector<std::byte>> stored = testing::ReadWholeArray(store.url(), *node);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    EXPECT_TRUE(*stored == raw->data);
    if (e["decoded_dtype"] == "datetime64[ns]") {
      Result<Coordinate> c = DecodeCoordinate(testing::InfoOf(m), *stored);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      ASSERT_EQ(c->kind, Coordinate::Kind::kDatetime);
      EXPECT_EQ(c->datetime_ns, As<int64_t>(expected->data));
      ++checked;
      continue;
    }
    Result<CfMaskAndScale> cf = ResolveCfMaskAndScale(testing::InfoOf(m));
    ASSERT_TRUE(cf.ok()) << cf.status().ToString();
    EXPECT_EQ(DataTypeName(cf->decoded), e["decoded_dtype"].get<std::string>());
    std::vector<std::byte> decoded(stored->size() / ByteWidth(cf->stored) * ByteWidth(cf->decoded));
    Status s = ApplyCfMaskAndScale(*cf, *stored, decoded);
    ASSERT_TRUE(s.ok()) << s.ToString();
    if (cf->decoded == DataType::kFloat64 || cf->decoded == DataType::kFloat32) {
      // NaN payloads may differ; compare values with NaN == NaN.
      auto check = [&](auto tag) {
        using T = decltype(tag);
        std::vector<T> got = As<T>(decoded), want = As<T>(expected->data);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) {
          if (std::isnan(want[i])) {
            EXPECT_TRUE(std::isnan(got[i])) << "element " << i;
          } else {
            EXPECT_EQ(got[i], want[i]) << "element " << i;
          }
        }
      };
      if (cf->decoded == DataType::kFloat64) check(double{});
      if (cf->decoded == DataType::kFloat32) check(float{});
    } else {
      EXPECT_TRUE(decoded == expected->data);
    }
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

TEST(CfMaskAndScale, Rules) {
  // int16 packed with float scale and offset: float64, fill masked.
  ArrayMetadata m = *ParseZarrV3Array(
      json::parse(R"({"zarr_format": 3, "node_type": "array", "shape": [3],
        "data_type": "int16", "chunk_grid": {"name": "regular", "configuration":
        {"chunk_shape": [3]}}, "chunk_key_encoding": {"name": "default"}, "fill_value": 0,
        "codecs": [{"name": "bytes"}], "attributes": {"scale_factor": 0.5,
        "add_offset": 10.0, "_FillValue": -1}})"),
      "w/zarr.json");
  CfMaskAndScale cf = *ResolveCfMaskAndScale(testing::InfoOf(m));
  EXPECT_EQ(cf.decoded, DataType::kFloat64);
  std::vector<int16_t> raw = {4, -1, -6};
  std::vector<double> out(3);
  ASSERT_TRUE(ApplyCfMaskAndScale(cf, std::as_bytes(std::span(raw)),
                                  std::as_writable_bytes(std::span(out)))
                  .ok());
  EXPECT_EQ(out[0], 12.0);
  EXPECT_TRUE(std::isnan(out[1]));
  EXPECT_EQ(out[2], 7.0);
  // A v3 float array: _FillValue is the base64 of a float64 (xarray's encoding).
  m.data_type = *ParseZarrV3DataType("float32");
  m.attributes = {{"_FillValue", "AAAAAICHw8A="}};  // -9999.0
  cf = *ResolveCfMaskAndScale(testing::InfoOf(m));
  EXPECT_EQ(cf.decoded, DataType::kFloat32);
  ASSERT_EQ(cf.fill_values.size(), 1u);
  EXPECT_EQ(cf.fill_values[0], -9999.0);
  // A string scale_factor is an error naming the file.
  m.attributes = {{"scale_factor", "big"}};
  Result<CfMaskAndScale> bad = ResolveCfMaskAndScale(testing::InfoOf(m));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("w/zarr.json"), std::string::npos);
}

}  // namespace
}  // namespace lsio::zarr
