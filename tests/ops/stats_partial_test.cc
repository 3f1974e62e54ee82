// MergePartialStats on bytes that are not a partial result (found by fuzz/partial_stats): the
// answer is kCorruptData naming the share, never an exception or a crash.

#include "lsio/ops/stats_partial.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
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

// A well-formed partial result whose coordinate claims a storage type that does not exist
// (a value past the DataType enum) is corrupt, not cast into an out-of-range enum.
TEST(MergePartialStats, CoordinateWithUnknownStorageTypeIsCorruptData) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "lsio_partial_XXXXXX").string();
  const std::filesystem::path root = ::mkdtemp(tmpl.data());
  auto write = [&](const std::string& key, const std::string& bytes) {
    std::filesystem::create_directories((root / key).parent_path());
    std::ofstream(root / key, std::ios::binary) << bytes;
  };
  write(".zgroup", R"({"zarr_format": 2})");
  write("v/.zarray", R"({"zarr_format": 2, "shape": [2, 3], "chunks": [2, 3], "dtype": "<f8",
      "compressor": null, "filters": null, "order": "C", "fill_value": 0})");
  write("v/.zattrs", R"({"_ARRAY_DIMENSIONS": ["t", "x"]})");
  write("x/.zarray", R"({"zarr_format": 2, "shape": [3], "chunks": [3], "dtype": "<f8",
      "compressor": null, "filters": null, "order": "C", "fill_value": 0})");
  write("x/.zattrs", R"({"_ARRAY_DIMENSIONS": ["x"]})");
  const double values[6] = {1, 2, 3, 4, 5, 6}, xs[3] = {10, 20, 30};
  write("v/0.0", std::string(reinterpret_cast<const char*>(values), sizeof(values)));
  write("x/0", std::string(reinterpret_cast<const char*>(xs), sizeof(xs)));

  StatsRequest request;
  request.path = root.string();
  request.variables = {"v"};
  request.over = {"t"};
  Result<std::string> part = ComputePartialStats(request);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  ASSERT_TRUE(MergePartialStats({*part}).ok());  // the undamaged share merges

  nlohmann::json doc = nlohmann::json::from_cbor(*part);
  bool damaged = false;
  for (nlohmann::json& v : doc.at("variables")) {
    for (nlohmann::json& c : v.at("coordinates")) {
      c["storage"] = 200;
      damaged = true;
    }
  }
  ASSERT_TRUE(damaged) << "the partial result holds no coordinate to damage";
  std::vector<std::uint8_t> bytes = nlohmann::json::to_cbor(doc);
  ExpectCorrupt(std::string(bytes.begin(), bytes.end()));
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace lsio::ops
