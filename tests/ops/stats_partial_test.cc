// MergePartialStats on bytes that are not a partial result (found by fuzz/partial_stats): the
// answer is kCorruptData naming the share, never an exception or a crash.

#include "lsio/ops/stats_partial.h"

#include <gtest/gtest.h>

#include <string>

namespace lsio::ops {
namespace {

std::string Bytes(std::initializer_list<unsigned char> b) {
  return std::string(b.begin(), b.end());
}

void ExpectCorrupt(const std::string& part) {
  Result<StatsReport> r = MergePartialStats({part});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruptData) << r.status().ToString();
  EXPECT_NE(r.status().message().find("partial statistics 0"), std::string::npos)
      << r.status().message();
}

TEST(MergePartialStats, CborArrayDeclaringMoreElementsThanFitInMemoryIsCorruptData) {
  // A CBOR array header with a 64-bit length of 2^63 (nlohmann throws out_of_range.408).
  ExpectCorrupt(Bytes({0x9b, 0x80, 0, 0, 0, 0, 0, 0, 0}));
  // The same inside a map: {"format": [<2^63 elements>]}.
  ExpectCorrupt(Bytes({0xa1, 0x66, 'f', 'o', 'r', 'm', 'a', 't', 0x9b, 0x80, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(MergePartialStats, FormatThatIsNotAStringIsCorruptData) {
  // {"format": 1}: json::value() throws type_error.302 for a member of another type.
  ExpectCorrupt(Bytes({0xa1, 0x66, 'f', 'o', 'r', 'm', 'a', 't', 0x01}));
}

TEST(MergePartialStats, NotCborIsCorruptData) { ExpectCorrupt("not a partial result"); }

}  // namespace
}  // namespace lsio::ops
