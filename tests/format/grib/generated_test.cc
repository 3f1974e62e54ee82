// Files make_grib_fixtures.py writes with ecCodes at test time, in every packing and grid: the
// decoded values (bit for bit against ecCodes' float64, and float32 of them), the keys
// (names, level, step, time) and the coordinates, field by field as ecCodes' multi-field
// reader returns them.

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "lsio/format/grib/decode.h"
#include "lsio/format/grib/field_keys.h"
#include "lsio/format/grib/grid.h"
#include "lsio/format/grib/message.h"
#include "lsio/format/grib/scan.h"
#include "test_util.h"

namespace lsio::grib {
namespace {

using testing::GeneratedDir;
using testing::ReadFile;
using testing::ReadJson;

std::vector<double> ReadF64(const std::string& path) {
  const std::vector<std::byte> b = ReadFile(path);
  std::vector<double> v(b.size() / 8);
  std::memcpy(v.data(), b.data(), v.size() * 8);
  return v;
}

bool SameBits(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

struct FieldRef {
  const Message* message;
  size_t field;
};

class GeneratedFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    if (GeneratedDir().empty()) GTEST_SKIP() << "LSIO_GRIB_FIXTURES not set";
    manifest_ = ReadJson(GeneratedDir() + "/manifest.json");
  }
  nlohmann::json manifest_;
};

// Every field of every generated file, parsed; `bytes` keeps the file.
struct ParsedFile {
  std::vector<std::byte> bytes;
  std::vector<Message> messages;
  std::vector<FieldRef> fields;
};

ParsedFile Parse(const std::string& path) {
  ParsedFile p;
  p.bytes = ReadFile(path);
  Result<std::vector<MessageExtent>> scanned = ScanMessages(p.bytes);
  EXPECT_TRUE(scanned.ok()) << scanned.status().ToString();
  for (size_t i = 0; i < scanned->size(); ++i) {
    const MessageExtent& e = (*scanned)[i];
    Result<Message> m = ParseMessage(std::span(p.bytes).subspan(e.offset, e.length),
                                     {static_cast<uint32_t>(i), e.offset});
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    p.messages.push_back(std::move(*m));
  }
  for (const Message& m : p.messages) {
    for (size_t f = 0; f < m.fields.size(); ++f) p.fields.push_back({&m, f});
  }
  return p;
}

TEST_F(GeneratedFiles, ValuesMatchEccodesBitForBit) {
  DecodeScratch scratch;
  size_t fields = 0;
  for (const auto& file : manifest_["files"]) {
    const std::string name = file["file"];
    SCOPED_TRACE(name);
    const ParsedFile p = Parse(GeneratedDir() + "/" + name);
    ASSERT_EQ(p.fields.size(), file["fields"].size());
    for (size_t k = 0; k < p.fields.size(); ++k) {
      SCOPED_TRACE("field " + std::to_string(k));
      const auto& ref = file["fields"][k];
      const Message& m = *p.fields[k].message;
      EXPECT_EQ(m.offset, ref["offset"].get<uint64_t>());
      const std::vector<double> want =
          ReadF64(GeneratedDir() + "/" + ref["values"].get<std::string>());
      const size_t n = FieldValueCount(m.fields[p.fields[k].field]);
      ASSERT_EQ(n, want.size());
      std::vector<double> f64(n);
      std::vector<float> f32(n);
      const auto bytes = std::span(p.bytes).subspan(m.offset, m.length);
      Status st = DecodeField(bytes, m, p.fields[k].field, f64, scratch);
      ASSERT_TRUE(st.ok()) << st.ToString();
      st = DecodeField(bytes, m, p.fields[k].field, f32, scratch);
      ASSERT_TRUE(st.ok()) << st.ToString();
      size_t bad64 = 0, bad32 = 0, first_bad = n;
      for (size_t i = 0; i < n; ++i) {
        if (!SameBits(f64[i], want[i])) {
          ++bad64;
          if (first_bad == n) first_bad = i;
        }
        const float w32 = static_cast<float>(want[i]);
        if (!(std::isnan(w32) ? std::isnan(f32[i])
                              : std::bit_cast<uint32_t>(w32) == std::bit_cast<uint32_t>(f32[i]))) {
          ++bad32;
        }
      }
      EXPECT_EQ(bad64, 0u) << "first at " << first_bad << ": " << f64[first_bad % n] << " vs "
                           << want[first_bad % n];
      EXPECT_EQ(bad32, 0u);
      ++fields;
    }
  }
  EXPECT_GE(fields, 70u);
}

TEST_F(GeneratedFiles, KeysMatchEccodes) {
  for (const auto& file : manifest_["files"]) {
    const std::string name = file["file"];
    SCOPED_TRACE(name);
    const ParsedFile p = Parse(GeneratedDir() + "/" + name);
    ASSERT_EQ(p.fields.size(), file["fields"].size());
    for (size_t k = 0; k < p.fields.size(); ++k) {
      SCOPED_TRACE("field " + std::to_string(k));
      const nlohmann::json& want = file["fields"][k]["keys"];
      Result<FieldKeys> keys = ComputeFieldKeys(*p.fields[k].message, p.fields[k].field);
      ASSERT_TRUE(keys.ok()) << keys.status().ToString();
      const FieldKeys& got = *keys;
      EXPECT_EQ(got.parameter.param_id, want["paramId"].get<int64_t>());
      EXPECT_EQ(got.parameter.short_name, want["shortName"]);
      EXPECT_EQ(got.parameter.cf_var_name, want["cfVarName"]);
      EXPECT_EQ(got.parameter.name, want["name"]);
      EXPECT_EQ(got.parameter.units, want["units"]);
      EXPECT_EQ(got.parameter.cf_name, want["cfName"]);
      EXPECT_EQ(got.type_of_level, want["typeOfLevel"]);
      EXPECT_EQ(got.level_long, want["level"].get<int64_t>());
      EXPECT_EQ(got.step_type, want["stepType"]);
      EXPECT_EQ(got.step_units, want["stepUnits"].get<int>());
      EXPECT_EQ(got.step_range, want["stepRange"]);
      EXPECT_EQ(got.data_date, want["dataDate"].get<int64_t>());
      EXPECT_EQ(got.data_time, want["dataTime"].get<int64_t>());
      EXPECT_EQ(got.validity_date, want["validityDate"].get<int64_t>());
      EXPECT_EQ(got.validity_time, want["validityTime"].get<int64_t>());
      EXPECT_EQ(got.grid_type, want["gridType"]);
      if (want["number"].is_number()) {
        EXPECT_TRUE(got.has_number);
        EXPECT_EQ(got.number, want["number"].get<int64_t>());
      }
    }
  }
}

TEST_F(GeneratedFiles, CoordinatesMatchEccodes) {
  size_t checked = 0;
  for (const auto& file : manifest_["files"]) {
    const std::string name = file["file"];
    SCOPED_TRACE(name);
    const ParsedFile p = Parse(GeneratedDir() + "/" + name);
    for (size_t k = 0; k < p.fields.size(); ++k) {
      SCOPED_TRACE("field " + std::to_string(k));
      const auto& ref = file["fields"][k];
      const Message& m = *p.fields[k].message;
      Result<GridCoordinates> c = ComputeGridCoordinates(
          std::span(p.bytes).subspan(m.offset, m.length), m.fields[p.fields[k].field]);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      const std::vector<double> lat = ReadF64(GeneratedDir() + "/" + ref["lat"].get<std::string>());
      const std::vector<double> lon = ReadF64(GeneratedDir() + "/" + ref["lon"].get<std::string>());
      ASSERT_EQ(c->latitudes.size(), lat.size());
      ASSERT_EQ(c->longitudes.size(), lon.size());
      double worst = 0;
      for (size_t i = 0; i < lat.size(); ++i) {
        worst = std::max(worst, std::fabs(lat[i] - c->latitudes[i]));
      }
      for (size_t i = 0; i < lon.size(); ++i) {
        worst = std::max(worst, std::fabs(lon[i] - c->longitudes[i]));
      }
      EXPECT_LE(worst, 1e-9);
      ++checked;
    }
  }
  EXPECT_GE(checked, 70u);
}

TEST_F(GeneratedFiles, GaussianLatitudesMatchEccodesBitForBit) {
  ASSERT_TRUE(manifest_.contains("gaussian"));
  for (const auto& [order, file] : manifest_["gaussian"].items()) {
    SCOPED_TRACE("N" + order);
    const std::vector<double> want = ReadF64(GeneratedDir() + "/" + file.get<std::string>());
    Result<std::vector<double>> got = GaussianLatitudes(std::stoll(order));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), want.size());
    size_t bad = 0;
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      bad += !SameBits((*got)[i], want[i]);
      worst = std::max(worst, std::fabs((*got)[i] - want[i]));
    }
    EXPECT_EQ(bad, 0u) << "largest difference " << worst;
  }
}

}  // namespace
}  // namespace lsio::grib
