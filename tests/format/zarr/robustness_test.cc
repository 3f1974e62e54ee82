// Bad input never crashes: mutated metadata documents, shard bytes and selection strings go
// through the parsers (run under -DLSIO_SANITIZE=address,undefined too). A cheap stand-in for
// a fuzzer with a fixed seed, so failures reproduce.

#include <gtest/gtest.h>

#include <random>

#include "lsio/array/cf.h"
#include "lsio/format/zarr/metadata.h"
#include "lsio/array/selection.h"
#include "lsio/format/zarr/shard_index.h"
#include "test_util.h"

namespace lsio::zarr {
namespace {

using nlohmann::json;

std::string Mutate(std::string s, std::mt19937& rng) {
  static const char* kTokens[] = {"-1", "0", "1e400", "18446744073709551616", "null", "[]",
                                  "{}", "\"x\"", "9223372036854775807", "\"NaN\"", "true",
                                  "\"0x7fc00000\"", "[[[[", "\"sharding_indexed\""};
  const int edits = 1 + rng() % 4;
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const size_t at = rng() % s.size();
    switch (rng() % 5) {
      case 0:
        s.resize(at);
        break;
      case 1:
        s[at] = static_cast<char>(rng() % 256);
        break;
      case 2:
        s.insert(at, kTokens[rng() % std::size(kTokens)]);
        break;
      case 3: {
        // Replace a number with a token.
        size_t b = s.find_first_of("0123456789", at);
        if (b == std::string::npos) break;
        size_t end = s.find_first_not_of("0123456789", b);
        s.replace(b, end == std::string::npos ? s.size() - b : end - b,
                  kTokens[rng() % std::size(kTokens)]);
        break;
      }
      default:
        s.erase(at, rng() % 8);
        break;
    }
  }
  return s;
}

TEST(Robustness, MutatedMetadataNeverCrashes) {
  std::vector<std::pair<std::string, bool>> seeds;  // text, is_v3
  for (const json& e : testing::Manifest()["arrays"]) {
    const std::string dir = testing::StorePath(e) + "/" + e["node"].get<std::string>();
    if (auto t = testing::ReadWholeFile(dir + "/zarr.json")) {
      seeds.push_back({*t, true});
    } else if (auto z = testing::ReadWholeFile(dir + "/.zarray")) {
      seeds.push_back({*z, false});
    }
    if (seeds.size() >= 60) break;
  }
  ASSERT_GE(seeds.size(), 30u);
  std::mt19937 rng(1234);
  int parsed = 0, rejected = 0;
  for (int i = 0; i < 6000; ++i) {
    const auto& [seed, v3] = seeds[rng() % seeds.size()];
    const std::string text = Mutate(seed, rng);
    Result<json> j = ParseMetadataJson(text, "m.json");
    if (!j.ok()) {
      ASSERT_NE(j.status().message().find("m.json"), std::string::npos);
      ++rejected;
      continue;
    }
    Result<ArrayMetadata> m = v3 ? ParseZarrV3Array(*j, "m.json")
                                 : ParseZarrV2Array(*j, nullptr, "m.json");
    if (!m.ok()) {
      ASSERT_FALSE(m.status().message().empty());
      ++rejected;
      continue;
    }
    ++parsed;
    // Whatever parsed must be usable without crashing.
    (void)m->grid_shape();
    (void)m->logical_bytes();
    (void)DescribeCodecsJson(*m);
    Result<CfMaskAndScale> cf = ResolveCfMaskAndScale(testing::InfoOf(*m));
    (void)cf;
    if (m->rank() <= 3 && m->num_chunks() < 1000) (void)MakeChunkCodecChain(*m);
  }
  EXPECT_GT(parsed, 100);
  EXPECT_GT(rejected, 100);
}

TEST(Robustness, MutatedShardsNeverCrash) {
  const std::string root = testing::FixturesDir() + "/zp/v3/sharded_start.zarr";
  std::optional<std::string> meta = testing::ReadWholeFile(root + "/zarr.json");
  std::optional<std::string> shard = testing::ReadWholeFile(root + "/c/0/0");
  ASSERT_TRUE(meta && shard);
  ArrayMetadata m = *ParseZarrV3Array(*ParseMetadataJson(*meta, "z"), "z");
  const std::vector<int64_t>& shape = m.sharding->shard_shape;
  std::vector<std::byte> out(static_cast<size_t>(shape[0] * shape[1]) * 4);
  std::mt19937 rng(99);
  int failures = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = *shard;
    const int edits = 1 + rng() % 3;
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % bytes.size();
      if (rng() % 4 == 0) {
        bytes.resize(at);
        if (bytes.empty()) bytes.assign(1, 'x');
      } else {
        bytes[at] = static_cast<char>(rng() % 256);
      }
    }
    Status s = DecodeShard(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())),
                           *m.sharding, DataType::kInt32, m.fill_value.bytes, out, "shard");
    if (!s.ok()) {
      ++failures;
      ASSERT_NE(s.message().find("shard"), std::string::npos) << s.ToString();
    }
  }
  EXPECT_GT(failures, 1000);  // the index is checksummed: most mutations must be caught
}

TEST(Robustness, RandomSelectionStrings) {
  std::mt19937 rng(7);
  const char alphabet[] = "0123456789:-.,=Tx ";
  const Coordinate numeric = Coordinate::Numeric({0, 1, 2, 3, 4});
  std::vector<int64_t> days;
  for (int i = 0; i < 5; ++i) days.push_back(i * 86'400'000'000'000);
  const Coordinate dates = Coordinate::Datetime(days);
  for (int i = 0; i < 20000; ++i) {
    std::string s = "x=";
    const int n = rng() % 24;
    for (int k = 0; k < n; ++k) s += alphabet[rng() % (sizeof alphabet - 1)];
    if (Result<DimSelector> sel = ParseIselArgument(s); sel.ok()) {
      (void)ResolveIndexSelector(*sel, 5);
    }
    if (Result<DimSelector> sel = ParseSelArgument(s); sel.ok()) {
      (void)ResolveLabelSelector(*sel, numeric);
      (void)ResolveLabelSelector(*sel, dates);
    }
  }
}

}  // namespace
}  // namespace lsio::zarr
