// Message scanning against ecCodes' offsets and lengths (the .ref.json of every shared
// fixture), and its errors on damaged files.

#include "lsio/format/grib/scan.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"

namespace lsio::grib {
namespace {

using testing::BaseName;
using testing::GribFiles;
using testing::ReadFile;
using testing::RefFor;
using testing::SharedGribDir;

TEST(GribScan, EveryFixtureMatchesEccodesOffsetsAndLengths) {
  const std::vector<std::string> files = GribFiles(SharedGribDir());
  ASSERT_GE(files.size(), 29u) << SharedGribDir();
  for (const std::string& path : files) {
    SCOPED_TRACE(BaseName(path));
    const std::vector<std::byte> bytes = ReadFile(path);
    const nlohmann::json ref = RefFor(path);
    Result<std::vector<MessageExtent>> scanned = ScanMessages(bytes);
    ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
    const auto& msgs = ref["messages"];
    ASSERT_EQ(scanned->size(), msgs.size());
    for (size_t i = 0; i < msgs.size(); ++i) {
      EXPECT_EQ((*scanned)[i].offset, msgs[i]["offset"].get<uint64_t>()) << i;
      EXPECT_EQ((*scanned)[i].length, msgs[i]["length"].get<uint64_t>()) << i;
      EXPECT_EQ((*scanned)[i].edition, msgs[i]["editionNumber"].get<int>()) << i;
    }
  }
}

std::vector<std::byte> Fixture(const char* name) {
  return ReadFile(SharedGribDir() + "/" + name);
}

TEST(GribScan, SkipsGarbageBetweenMessages) {
  const std::vector<std::byte> one = Fixture("hrrr_sfc_cfrzr_constant.grib2");
  std::vector<std::byte> bytes;
  const char junk[] = "header GRI junk";
  auto add_junk = [&] {
    for (char c : junk) bytes.push_back(static_cast<std::byte>(c));
  };
  add_junk();
  bytes.insert(bytes.end(), one.begin(), one.end());
  add_junk();
  bytes.insert(bytes.end(), one.begin(), one.end());
  add_junk();
  Result<std::vector<MessageExtent>> scanned = ScanMessages(bytes, 1000);
  ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
  ASSERT_EQ(scanned->size(), 2u);
  EXPECT_EQ((*scanned)[0].offset, 1000 + sizeof(junk));
  EXPECT_EQ((*scanned)[1].offset, 1000 + 2 * sizeof(junk) + one.size());
  EXPECT_EQ((*scanned)[1].length, one.size());
}

TEST(GribScan, TruncatedFileNamesTheMessageAndOffset) {
  std::vector<std::byte> bytes = Fixture("syn_simple.grib2");
  Result<std::vector<MessageExtent>> full = ScanMessages(bytes);
  ASSERT_TRUE(full.ok());
  const MessageExtent third = (*full)[2];
  bytes.resize(third.offset + third.length - 10);
  Result<std::vector<MessageExtent>> scanned = ScanMessages(bytes);
  ASSERT_FALSE(scanned.ok());
  EXPECT_EQ(scanned.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(scanned.status().message().find("message 2"), std::string::npos)
      << scanned.status().ToString();
  EXPECT_NE(scanned.status().message().find(std::to_string(third.offset)), std::string::npos);
  EXPECT_NE(scanned.status().message().find("truncated"), std::string::npos);

  // Cut inside the indicator of the third message.
  bytes.resize(third.offset + 10);
  scanned = ScanMessages(bytes);
  ASSERT_FALSE(scanned.ok());
  EXPECT_EQ(scanned.status().code(), StatusCode::kOutOfRange);
}

TEST(GribScan, WrongEndMarkerOrLengthIsCorrupt) {
  std::vector<std::byte> bytes = Fixture("syn_simple.grib2");
  Result<std::vector<MessageExtent>> full = ScanMessages(bytes);
  ASSERT_TRUE(full.ok());
  const MessageExtent second = (*full)[1];
  std::vector<std::byte> bad = bytes;
  bad[second.offset + second.length - 1] = std::byte{'8'};
  Result<std::vector<MessageExtent>> scanned = ScanMessages(bad);
  ASSERT_FALSE(scanned.ok());
  EXPECT_EQ(scanned.status().code(), StatusCode::kCorruptData);
  EXPECT_NE(scanned.status().message().find("message 1"), std::string::npos);
  EXPECT_NE(scanned.status().message().find("7777"), std::string::npos);

  // A total length one byte short: "7777" is not where the length says.
  bad = bytes;
  const uint8_t last_length_byte = static_cast<uint8_t>(bad[second.offset + 15]);
  bad[second.offset + 15] = static_cast<std::byte>(last_length_byte - 1);
  scanned = ScanMessages(bad);
  ASSERT_FALSE(scanned.ok());
  EXPECT_EQ(scanned.status().code(), StatusCode::kCorruptData);
  EXPECT_NE(scanned.status().message().find(std::to_string(second.offset)), std::string::npos);
}

TEST(GribScan, ReadIndicatorNeedsSixteenBytesAndGrib) {
  const std::vector<std::byte> bytes = Fixture("syn_simple.grib2");
  Result<MessageExtent> ok = ReadIndicator(std::span(bytes).first(16), 0);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->edition, 2);
  Result<MessageExtent> short_head = ReadIndicator(std::span(bytes).first(12), 0);
  EXPECT_EQ(short_head.status().code(), StatusCode::kOutOfRange);
  Result<MessageExtent> not_grib = ReadIndicator(std::span(bytes).subspan(1, 16), 7);
  EXPECT_EQ(not_grib.status().code(), StatusCode::kCorruptData);
  EXPECT_NE(not_grib.status().message().find("byte 7"), std::string::npos);
  std::vector<std::byte> edition9(bytes.begin(), bytes.begin() + 16);
  edition9[7] = std::byte{9};
  EXPECT_EQ(ReadIndicator(edition9, 0).status().code(), StatusCode::kCorruptData);
}

TEST(GribScan, MaxMessagesStopsEarly) {
  const std::vector<std::byte> bytes = Fixture("syn_hypercube.grib2");
  Result<std::vector<MessageExtent>> scanned = ScanMessages(bytes, 0, {.max_messages = 3});
  ASSERT_TRUE(scanned.ok());
  EXPECT_EQ(scanned->size(), 3u);
}

}  // namespace
}  // namespace lsio::grib
