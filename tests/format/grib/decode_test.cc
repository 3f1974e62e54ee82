// Decoded values against ecCodes, bit for bit: the sha256 of ecCodes' float64 values and of
// their float32 conversion (cfgrib's values) stored in every shared fixture's .ref.json, and
// the errors for damaged data.

#include "lsio/format/grib/decode.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "lsio/format/grib/message.h"
#include "lsio/format/grib/scan.h"
#include "test_util.h"

namespace lsio::grib {
namespace {

using testing::BaseName;
using testing::GribFiles;
using testing::HashValues;
using testing::ReadFile;
using testing::RefFor;
using testing::SharedGribDir;

struct Parsed {
  std::vector<std::byte> bytes;
  std::vector<MessageExtent> extents;
  std::vector<Message> messages;
};

Parsed ParseFile(const std::string& path) {
  Parsed p;
  p.bytes = ReadFile(path);
  Result<std::vector<MessageExtent>> scanned = ScanMessages(p.bytes);
  EXPECT_TRUE(scanned.ok()) << scanned.status().ToString();
  p.extents = *scanned;
  for (size_t i = 0; i < p.extents.size(); ++i) {
    const MessageExtent& e = p.extents[i];
    if (e.edition != 2) continue;
    Result<Message> m =
        ParseMessage(std::span(p.bytes).subspan(e.offset, e.length), {uint32_t(i), e.offset});
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    p.messages.push_back(std::move(*m));
  }
  return p;
}

std::span<const std::byte> Bytes(const Parsed& p, const Message& m) {
  return std::span(p.bytes).subspan(m.offset, m.length);
}

TEST(GribDecode, EveryFixtureMatchesEccodesBitForBit) {
  DecodeScratch scratch;
  size_t checked = 0;
  for (const std::string& path : GribFiles(SharedGribDir())) {
    SCOPED_TRACE(BaseName(path));
    const nlohmann::json ref = RefFor(path);
    const Parsed p = ParseFile(path);
    for (const Message& m : p.messages) {
      SCOPED_TRACE("message " + std::to_string(m.index));
      const nlohmann::json& r = ref["messages"][m.index];
      const size_t n = FieldValueCount(m.fields[0]);
      std::vector<double> f64(n);
      Status st = DecodeField(Bytes(p, m), m, 0, f64, scratch);
      ASSERT_TRUE(st.ok()) << st.ToString();
      std::vector<float> f32(n);
      st = DecodeField(Bytes(p, m), m, 0, f32, scratch);
      ASSERT_TRUE(st.ok()) << st.ToString();
      EXPECT_EQ(HashValues(f64), r["values_sha256_f64"].get<std::string>());
      EXPECT_EQ(HashValues(f32), r["values_sha256_f32"].get<std::string>());
      size_t nan = 0;
      for (double v : f64) nan += std::isnan(v);
      EXPECT_EQ(nan, r["stats"]["nan_count"].get<size_t>());
      for (size_t i = 0; i < r["first_values"].size() && i < n; ++i) {
        const nlohmann::json& want = r["first_values"][i];
        if (want.is_null()) {
          EXPECT_TRUE(std::isnan(f64[i])) << i;
        } else {
          EXPECT_EQ(f64[i], want.get<double>()) << i;
        }
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 248u);
}

std::vector<std::byte> MessageBytes(const Parsed& p, size_t i) {
  const MessageExtent& e = p.extents[i];
  return std::vector<std::byte>(p.bytes.begin() + e.offset,
                                p.bytes.begin() + e.offset + e.length);
}

TEST(GribDecode, OutputSizeMustMatchTheGrid) {
  const Parsed p = ParseFile(SharedGribDir() + "/syn_simple.grib2");
  const Message& m = p.messages[0];
  DecodeScratch scratch;
  std::vector<float> out(FieldValueCount(m.fields[0]) - 1);
  Status st = DecodeField(Bytes(p, m), m, 0, out, scratch);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("message 0 (byte 0), field 0"), std::string::npos)
      << st.ToString();
  out.resize(FieldValueCount(m.fields[0]));
  EXPECT_EQ(DecodeField(Bytes(p, m), m, 1, out, scratch).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeField(Bytes(p, m).first(100), m, 0, out, scratch).code(),
            StatusCode::kInvalidArgument);
}

// Shrinks section 6 of a message with a bitmap so that the bitmap covers fewer points than
// the grid, moving the rest of the message up.
std::vector<std::byte> ShortenBitmap(std::vector<std::byte> m, const Field& f, uint32_t by) {
  const size_t sec6 = f.bitmap_section.offset;
  const uint32_t len6 = f.bitmap_section.length;
  m.erase(m.begin() + sec6 + len6 - by, m.begin() + sec6 + len6);
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) m[at + i] = static_cast<std::byte>(v >> (24 - 8 * i));
  };
  put32(sec6, len6 - by);
  const uint64_t total = m.size();
  for (int i = 0; i < 8; ++i) m[8 + i] = static_cast<std::byte>(total >> (56 - 8 * i));
  return m;
}

TEST(GribDecode, BitmapShorterThanTheGridIsCorrupt) {
  const Parsed p = ParseFile(SharedGribDir() + "/syn_complex.grib2");
  // Message 4 has a bitmap.
  const Message& m = p.messages[4];
  ASSERT_TRUE(m.fields[0].has_bitmap);
  const std::vector<std::byte> bad = ShortenBitmap(MessageBytes(p, 4), m.fields[0], 20);
  Result<Message> parsed = ParseMessage(bad, {4, m.offset});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  DecodeScratch scratch;
  std::vector<float> out(FieldValueCount(parsed->fields[0]));
  Status st = DecodeField(bad, *parsed, 0, out, scratch);
  EXPECT_EQ(st.code(), StatusCode::kCorruptData);
  EXPECT_NE(st.message().find("bitmap has"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("message 4 (byte " + std::to_string(m.offset) + ")"),
            std::string::npos);
}

TEST(GribDecode, DataSectionShorterThanItsValuesIsCorrupt) {
  for (const char* name : {"syn_simple.grib2", "syn_complex.grib2", "syn_complex_sd.grib2",
                           "syn_ieee.grib2", "syn_ccsds.grib2", "syn_jpeg.grib2",
                           "syn_png.grib2"}) {
    SCOPED_TRACE(name);
    const Parsed p = ParseFile(SharedGribDir() + "/" + name);
    const Message& m = p.messages[0];
    const Field& f = m.fields[0];
    // Cut the data section to a third, keeping the message well formed.
    std::vector<std::byte> bytes = MessageBytes(p, 0);
    const uint32_t len7 = f.data_section.length;
    const uint32_t cut = (len7 - 5) * 2 / 3;
    bytes.erase(bytes.begin() + f.data_section.offset + len7 - cut,
                bytes.begin() + f.data_section.offset + len7);
    for (int i = 0; i < 4; ++i) {
      bytes[f.data_section.offset + i] = static_cast<std::byte>((len7 - cut) >> (24 - 8 * i));
    }
    const uint64_t total = bytes.size();
    for (int i = 0; i < 8; ++i) bytes[8 + i] = static_cast<std::byte>(total >> (56 - 8 * i));
    Result<Message> parsed = ParseMessage(bytes, {0, 0});
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    DecodeScratch scratch;
    std::vector<float> out(FieldValueCount(parsed->fields[0]));
    Status st = DecodeField(bytes, *parsed, 0, out, scratch);
    EXPECT_EQ(st.code(), StatusCode::kCorruptData) << st.ToString();
  }
}

TEST(GribDecode, ScratchIsReusedAcrossFieldsAndTypes) {
  // Decoding the same field with a fresh scratch and a well-used one gives the same values.
  const Parsed p = ParseFile(SharedGribDir() + "/syn_complex_sd.grib2");
  DecodeScratch used;
  for (const Message& m : p.messages) {
    std::vector<double> tmp(FieldValueCount(m.fields[0]));
    ASSERT_TRUE(DecodeField(Bytes(p, m), m, 0, tmp, used).ok());
  }
  for (const Message& m : p.messages) {
    const size_t n = FieldValueCount(m.fields[0]);
    std::vector<float> a(n), b(n);
    DecodeScratch fresh;
    ASSERT_TRUE(DecodeField(Bytes(p, m), m, 0, a, fresh).ok());
    ASSERT_TRUE(DecodeField(Bytes(p, m), m, 0, b, used).ok());
    EXPECT_EQ(HashValues(a), HashValues(b));
  }
}

}  // namespace
}  // namespace lsio::grib
