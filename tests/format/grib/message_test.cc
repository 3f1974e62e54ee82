// Section and template parsing against ecCodes' keys for every message of every shared
// fixture (.ref.json), repeated sections, and the errors for damaged messages.

#include "lsio/format/grib/message.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lsio/format/grib/scan.h"
#include "test_util.h"

namespace lsio::grib {
namespace {

using testing::BaseName;
using testing::GribFiles;
using testing::ReadFile;
using testing::RefFor;
using testing::SharedGribDir;

Result<Message> ParseAt(const std::vector<std::byte>& bytes, const MessageExtent& e, uint32_t i) {
  return ParseMessage(std::span(bytes).subspan(e.offset, e.length), {i, e.offset});
}

TEST(GribMessage, EveryFixtureMatchesEccodesKeys) {
  size_t checked = 0;
  for (const std::string& path : GribFiles(SharedGribDir())) {
    SCOPED_TRACE(BaseName(path));
    const std::vector<std::byte> bytes = ReadFile(path);
    const nlohmann::json ref = RefFor(path);
    Result<std::vector<MessageExtent>> scanned = ScanMessages(bytes);
    ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
    for (size_t i = 0; i < scanned->size(); ++i) {
      SCOPED_TRACE("message " + std::to_string(i));
      const nlohmann::json& m = ref["messages"][i];
      Result<Message> msg = ParseAt(bytes, (*scanned)[i], static_cast<uint32_t>(i));
      if (m["editionNumber"] == 1) {
        ASSERT_FALSE(msg.ok());
        EXPECT_EQ(msg.status().code(), StatusCode::kNotSupported);
        EXPECT_NE(msg.status().message().find("edition 1"), std::string::npos);
        continue;
      }
      ASSERT_TRUE(msg.ok()) << msg.status().ToString();
      // ecCodes without multi-field support describes a message by its first field (the JMA
      // file's message holds 7).
      ASSERT_GE(msg->fields.size(), 1u);
      const Field& f = msg->fields[0];
      EXPECT_EQ(msg->discipline, m["discipline"].get<int>());
      EXPECT_EQ(f.product.parameter_category, m["parameterCategory"].get<int>());
      EXPECT_EQ(f.product.parameter_number, m["parameterNumber"].get<int>());
      EXPECT_EQ(f.product.template_number, m["productDefinitionTemplateNumber"].get<int>());
      EXPECT_TRUE(f.product.template_supported);
      EXPECT_EQ(f.grid.template_number, m["gridDefinitionTemplateNumber"].get<int>());
      EXPECT_TRUE(f.grid.template_supported);
      EXPECT_EQ(f.grid.number_of_data_points, m["numberOfDataPoints"].get<uint32_t>());
      EXPECT_EQ(f.grid.scanning_mode, m["scanningMode"].get<int>());
      if (m["Ni"].is_string()) {
        EXPECT_EQ(f.grid.ni, kMissing);
      } else {
        EXPECT_EQ(f.grid.ni, m["Ni"].get<int64_t>());
      }
      EXPECT_EQ(f.grid.nj, m["Nj"].get<int64_t>());
      if (m.contains("N")) {
        EXPECT_EQ(f.grid.n, m["N"].get<int64_t>());
      }
      const DataRepresentation& d = f.data_representation;
      EXPECT_EQ(d.template_number, m["dataRepresentationTemplateNumber"].get<int>());
      EXPECT_TRUE(d.template_supported);
      EXPECT_EQ(d.number_of_values, m["numberOfValues"].get<uint32_t>());
      EXPECT_EQ(f.has_bitmap, m["bitmapPresent"].get<int>() == 1);
      if (d.template_number != 4 && d.template_number != 200) {
        EXPECT_EQ(d.bits_per_value, m["bitsPerValue"].get<int>());
        EXPECT_EQ(d.binary_scale_factor, m["binaryScaleFactor"].get<int64_t>());
        EXPECT_EQ(d.decimal_scale_factor, m["decimalScaleFactor"].get<int64_t>());
        // ecCodes' referenceValue is a double read from the IEEE single.
        EXPECT_EQ(d.reference_value, m["referenceValue"].get<double>());
      }
      if (m.contains("missingValueManagementUsed")) {
        EXPECT_EQ(d.missing_value_management, m["missingValueManagementUsed"].get<int>());
      }
      if (m.contains("orderOfSpatialDifferencing")) {
        EXPECT_EQ(d.order_of_spatial_differencing, m["orderOfSpatialDifferencing"].get<int>());
      }
      if (m.contains("numberOfGroupsOfDataValues")) {
        EXPECT_EQ(d.number_of_groups, m["numberOfGroupsOfDataValues"].get<uint32_t>());
      }
      if (m.contains("precision")) {
        EXPECT_EQ(d.precision, m["precision"].get<int>());
      }
      if (m.contains("ccsdsFlags")) {
        EXPECT_EQ(d.ccsds_flags, m["ccsdsFlags"].get<int>());
        EXPECT_EQ(d.ccsds_block_size, m["ccsdsBlockSize"].get<int>());
        EXPECT_EQ(d.ccsds_rsi, m["ccsdsRsi"].get<int>());
      }
      if (m.contains("number")) {
        EXPECT_TRUE(f.product.has_ensemble);
        EXPECT_EQ(f.product.perturbation_number, m["number"].get<uint32_t>());
      }
      EXPECT_EQ(f.product.has_statistics, m["stepType"] != "instant");
      ++checked;
    }
  }
  EXPECT_GE(checked, 248u);
}

std::vector<std::byte> Fixture(const char* name) {
  return ReadFile(SharedGribDir() + "/" + name);
}

// The first message of a fixture, as a byte vector.
std::vector<std::byte> FirstMessage(const char* name) {
  const std::vector<std::byte> bytes = Fixture(name);
  Result<std::vector<MessageExtent>> scanned = ScanMessages(bytes);
  const MessageExtent e = (*scanned)[0];
  return std::vector<std::byte>(bytes.begin() + e.offset, bytes.begin() + e.offset + e.length);
}

uint32_t Be32(const std::vector<std::byte>& b, size_t at) {
  return (uint32_t{static_cast<uint8_t>(b[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(b[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(b[at + 2])} << 8) | static_cast<uint8_t>(b[at + 3]);
}
void PutBe32(std::vector<std::byte>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::byte>(v >> (24 - 8 * i));
}
void PutBe64(std::vector<std::byte>& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = static_cast<std::byte>(v >> (56 - 8 * i));
}

// Offsets of the sections of a single-field message, by number.
std::vector<size_t> SectionOffsets(const std::vector<std::byte>& m) {
  std::vector<size_t> at(9, 0);
  size_t pos = 16;
  while (pos + 4 < m.size()) {
    const int num = static_cast<uint8_t>(m[pos + 4]);
    at[num] = pos;
    pos += Be32(m, pos);
  }
  at[8] = m.size() - 4;
  return at;
}

// A message with the fields of `a` and `b` (same grid): sections 0-7 of a, then 4-7 of b,
// with b's section 6 replaced by "254" (previous bitmap) when `reuse_bitmap`.
std::vector<std::byte> TwoFieldMessage(const std::vector<std::byte>& a,
                                       const std::vector<std::byte>& b, bool reuse_bitmap) {
  const std::vector<size_t> sa = SectionOffsets(a);
  const std::vector<size_t> sb = SectionOffsets(b);
  std::vector<std::byte> out(a.begin(), a.begin() + sa[8]);
  out.insert(out.end(), b.begin() + sb[4], b.begin() + sb[6]);
  if (reuse_bitmap) {
    const std::byte six[6] = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{6},
                              std::byte{6}, std::byte{254}};
    out.insert(out.end(), six, six + 6);
  } else {
    out.insert(out.end(), b.begin() + sb[6], b.begin() + sb[7]);
  }
  out.insert(out.end(), b.begin() + sb[7], b.begin() + sb[8]);
  for (char c : {'7', '7', '7', '7'}) out.push_back(static_cast<std::byte>(c));
  PutBe64(out, 8, out.size());
  return out;
}

TEST(GribMessage, RepeatedSectionsMakeOneFieldPerDataSection) {
  const std::vector<std::byte> bytes = Fixture("syn_complex.grib2");
  Result<std::vector<MessageExtent>> scanned = ScanMessages(bytes);
  ASSERT_TRUE(scanned.ok());
  auto message = [&](size_t i) {
    const MessageExtent e = (*scanned)[i];
    return std::vector<std::byte>(bytes.begin() + e.offset, bytes.begin() + e.offset + e.length);
  };
  // Messages 4 and 5 of syn_complex have bitmaps (t and q at 500 hPa), 0 has none.
  const std::vector<std::byte> two = TwoFieldMessage(message(0), message(4), false);
  Result<Message> m = ParseMessage(two, {7, 100});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->fields.size(), 2u);
  EXPECT_FALSE(m->fields[0].has_bitmap);
  EXPECT_TRUE(m->fields[1].has_bitmap);
  EXPECT_EQ(m->fields[1].bitmap_indicator, 0);
  EXPECT_EQ(m->fields[0].grid_section, m->fields[1].grid_section);
  EXPECT_NE(m->fields[0].product_section, m->fields[1].product_section);
  EXPECT_EQ(m->fields[1].index, 1u);

  // A third field reusing the second's bitmap.
  std::vector<std::byte> three = TwoFieldMessage(two, message(5), true);
  m = ParseMessage(three, {0, 0});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->fields.size(), 3u);
  EXPECT_EQ(m->fields[2].bitmap_indicator, 254);
  EXPECT_TRUE(m->fields[2].has_bitmap);
  EXPECT_EQ(m->fields[2].bitmap_offset, m->fields[1].bitmap_offset);
  EXPECT_EQ(m->fields[2].bitmap_bytes, m->fields[1].bitmap_bytes);
}

TEST(GribMessage, PreviousBitmapWithoutAnEarlierBitmapIsCorrupt) {
  const std::vector<std::byte> good = FirstMessage("syn_simple.grib2");
  const std::vector<size_t> at = SectionOffsets(good);
  // Replace the first field's section 6 by a 6-byte "254".
  std::vector<std::byte> bad(good.begin(), good.begin() + at[6]);
  const std::byte six[6] = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{6},
                            std::byte{6}, std::byte{254}};
  bad.insert(bad.end(), six, six + 6);
  bad.insert(bad.end(), good.begin() + at[7], good.end());
  PutBe64(bad, 8, bad.size());
  Result<Message> m = ParseMessage(bad, {3, 4096});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kCorruptData);
  EXPECT_NE(m.status().message().find("message 3 (byte 4096)"), std::string::npos)
      << m.status().ToString();
  EXPECT_NE(m.status().message().find("254"), std::string::npos);
}

TEST(GribMessage, PreviousBitmapAfterNoBitmapMeansNoBitmapAsInEccodes) {
  // ecCodes' multi-field reader copies the last section 6 that was not 254; when that one said
  // 255 (no bitmap), so does the 254 field.
  const std::vector<std::byte> bytes = Fixture("syn_complex.grib2");
  Result<std::vector<MessageExtent>> scanned = ScanMessages(bytes);
  const MessageExtent e0 = (*scanned)[0], e1 = (*scanned)[1];
  const std::vector<std::byte> a(bytes.begin() + e0.offset, bytes.begin() + e0.offset + e0.length);
  const std::vector<std::byte> b(bytes.begin() + e1.offset, bytes.begin() + e1.offset + e1.length);
  Result<Message> m = ParseMessage(TwoFieldMessage(a, b, true), {0, 0});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->fields.size(), 2u);
  EXPECT_EQ(m->fields[1].bitmap_indicator, 254);
  EXPECT_EQ(m->fields[1].applied_bitmap_indicator, 255);
  EXPECT_FALSE(m->fields[1].has_bitmap);
}

TEST(GribMessage, TruncatedMessageIsOutOfRange) {
  const std::vector<std::byte> m = FirstMessage("syn_ccsds.grib2");
  for (size_t keep : {size_t{4}, size_t{12}, m.size() / 2, m.size() - 1}) {
    Result<Message> r = ParseMessage(std::span(m).first(keep), {2, 500});
    ASSERT_FALSE(r.ok()) << keep;
    EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange) << r.status().ToString();
    EXPECT_NE(r.status().message().find("message 2 (byte 500)"), std::string::npos);
  }
}

TEST(GribMessage, BadSectionLengthsAreCorrupt) {
  const std::vector<std::byte> good = FirstMessage("syn_lambert.grib2");
  const std::vector<size_t> at = SectionOffsets(good);
  ASSERT_TRUE(ParseMessage(good, {0, 0}).ok());
  struct Case {
    int section;
    uint32_t length;
    const char* expect;
  };
  for (const Case& c : {Case{3, 2, "shorter than its 5-byte header"},
                        Case{4, 1u << 30, "runs past the end"},
                        Case{5, 9, "shorter than the 11"},
                        Case{3, 40, "grid definition template 30 needs 81"},
                        Case{7, Be32(good, at[7]) + 1, "runs past the end"}}) {
    std::vector<std::byte> bad = good;
    PutBe32(bad, at[c.section], c.length);
    Result<Message> r = ParseMessage(bad, {5, 1234});
    ASSERT_FALSE(r.ok()) << c.section;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruptData) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find("message 5 (byte 1234)"), std::string::npos);
  }
}

TEST(GribMessage, WrongEndMarkerAndSectionOrderAreCorrupt) {
  const std::vector<std::byte> good = FirstMessage("syn_simple.grib2");
  std::vector<std::byte> bad = good;
  bad[bad.size() - 2] = std::byte{'X'};
  Result<Message> r = ParseMessage(bad, {0, 0});
  EXPECT_EQ(r.status().code(), StatusCode::kCorruptData);
  EXPECT_NE(r.status().message().find("7777"), std::string::npos);

  // Section 4 renumbered 5: out of order.
  const std::vector<size_t> at = SectionOffsets(good);
  bad = good;
  bad[at[4] + 4] = std::byte{5};
  r = ParseMessage(bad, {0, 0});
  EXPECT_EQ(r.status().code(), StatusCode::kCorruptData);
  EXPECT_NE(r.status().message().find("follows section 3"), std::string::npos)
      << r.status().ToString();
}

TEST(GribMessage, Grib1IsNotSupported) {
  const std::vector<std::byte> m = FirstMessage("era5_levels_members_grib1.grib");
  Result<Message> r = ParseMessage(m, {0, 0});
  EXPECT_EQ(r.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(r.status().message().find("GRIB edition 1"), std::string::npos);
}

TEST(GribMessage, ReducedGaussianPointsPerRow) {
  const std::vector<std::byte> m = FirstMessage("syn_reduced_gg.grib2");
  Result<Message> r = ParseMessage(m, {0, 0});
  ASSERT_TRUE(r.ok());
  Result<std::vector<uint32_t>> pl = ReadPointsPerRow(m, r->fields[0].grid);
  ASSERT_TRUE(pl.ok());
  ASSERT_EQ(pl->size(), 64u);
  uint64_t total = 0;
  for (uint32_t n : *pl) total += n;
  EXPECT_EQ(total, 6114u);
  EXPECT_EQ(pl->front(), pl->back());  // symmetric about the equator
  EXPECT_EQ((*pl)[0], 20u);            // ecCodes' reduced_gg_pl_32 sample
}

}  // namespace
}  // namespace lsio::grib
