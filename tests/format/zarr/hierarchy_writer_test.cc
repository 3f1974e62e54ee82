// HierarchyWriter on a MemoryStore: the publication contract (nothing visible before Commit,
// nothing left by an abandoned writer, an existing prefix kept unless replace), the keys it
// writes, and its errors. The values themselves are checked by zarr-python, TensorStore and
// xarray in tests/python/test_zarr_writer.py (on files).

#include <cstring>
#include <numeric>

#include <gtest/gtest.h>

#include "lsio/format/zarr/hierarchy_writer.h"
#include "lsio/format/zarr/metadata.h"
#include "lsio/kvstore/memory_store.h"

namespace lsio::zarr {
namespace {

using nlohmann::json;

std::vector<std::string> Keys(kvstore::Store& store, std::string_view prefix = "") {
  Result<std::vector<kvstore::ListEntry>> entries =
      store.List(prefix, kvstore::ListMode::kRecursive);
  EXPECT_TRUE(entries.ok()) << entries.status().ToString();
  std::vector<std::string> keys;
  if (entries.ok()) {
    for (const kvstore::ListEntry& e : *entries) keys.push_back(e.key);
  }
  return keys;
}

ArrayWriteSpec Spec(ZarrFormat format) {
  ArrayWriteSpec s;
  s.format = format;
  s.data_type = NumericZarrDataType(DataType::kInt32);
  s.shape = {5, 4};
  s.chunk_shape = {2, 4};
  s.codecs = {CodecSpec::Zstd(3)};
  s.dimension_names = {"y", "x"};
  return s;
}

std::vector<int32_t> Values() {
  std::vector<int32_t> v(20);
  std::iota(v.begin(), v.end(), 1);
  v[0] = v[1] = v[2] = v[3] = v[4] = v[5] = v[6] = v[7] = 0;  // chunk 0 all fill value
  return v;
}

TEST(HierarchyWriter, NothingVisibleUntilCommitThenEverything) {
  std::shared_ptr<kvstore::Store> store = kvstore::MakeMemoryStore();
  HierarchyWriteOptions options;
  Result<std::unique_ptr<HierarchyWriter>> w =
      HierarchyWriter::Begin(*store, "out.zarr", options);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->CreateGroup("", {{"title", "t"}}).ok());
  ASSERT_TRUE((*w)->CreateArray("g/v", Spec(ZarrFormat::kV3)).ok());
  const std::vector<int32_t> values = Values();
  ASSERT_TRUE((*w)->WriteArray("g/v", std::as_bytes(std::span(values))).ok());
  EXPECT_TRUE(Keys(*store).empty());
  ASSERT_TRUE((*w)->Commit().ok());
  // The implicit parent group "g"; chunk c/0/0 is all fill value and not written.
  EXPECT_EQ(Keys(*store, "out.zarr"),
            (std::vector<std::string>{"g/v/c/1/0", "g/v/c/2/0", "g/v/zarr.json", "g/zarr.json",
                                      "zarr.json"}));
  Result<std::optional<Buffer>> root = store->Read("out.zarr/zarr.json");
  ASSERT_TRUE(root.ok() && root->has_value());
  Result<json> doc = ParseMetadataJson((*root)->as_string_view(), "zarr.json");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)["attributes"], (json{{"title", "t"}}));
  EXPECT_TRUE((*doc)["consolidated_metadata"]["metadata"].contains("g/v"));
  EXPECT_TRUE((*doc)["consolidated_metadata"]["metadata"].contains("g"));
}

TEST(HierarchyWriter, AbandonedWriterLeavesNothing) {
  std::shared_ptr<kvstore::Store> store = kvstore::MakeMemoryStore();
  {
    HierarchyWriteOptions options;
    options.format = ZarrFormat::kV2;
    options.batch_bytes = 1;  // every unit written at once
    auto w = HierarchyWriter::Begin(*store, "out.zarr", options);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->CreateArray("v", Spec(ZarrFormat::kV2)).ok());
    const std::vector<int32_t> values = Values();
    ASSERT_TRUE((*w)->WriteArray("v", std::as_bytes(std::span(values))).ok());
  }
  EXPECT_TRUE(Keys(*store).empty());
}

TEST(HierarchyWriter, ExistingPrefixKeptUnlessReplace) {
  std::shared_ptr<kvstore::Store> store = kvstore::MakeMemoryStore();
  const std::string old = "old";
  ASSERT_TRUE(store->Write("out.zarr/keep", std::as_bytes(std::span(old))).ok());
  for (bool replace : {false, true}) {
    HierarchyWriteOptions options;
    options.replace = replace;
    auto w = HierarchyWriter::Begin(*store, "out.zarr", options);
    if (!replace) {
      // Refused up front (a store may also refuse only at Commit: both leave the old value).
      ASSERT_FALSE(w.ok());
      EXPECT_NE(w.status().message().find("already exists"), std::string::npos)
          << w.status().ToString();
      EXPECT_EQ(Keys(*store, "out.zarr"), std::vector<std::string>{"keep"});
    } else {
      ASSERT_TRUE(w.ok());
      ASSERT_TRUE((*w)->CreateArray("v", Spec(ZarrFormat::kV3)).ok());
      const std::vector<int32_t> values = Values();
      ASSERT_TRUE((*w)->WriteArray("v", std::as_bytes(std::span(values))).ok());
      Status s = (*w)->Commit();
      EXPECT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(Keys(*store, "out.zarr"),
                (std::vector<std::string>{"v/c/1/0", "v/c/2/0", "v/zarr.json", "zarr.json"}));
    }
  }
}

TEST(HierarchyWriter, ErrorsNameTheNode) {
  std::shared_ptr<kvstore::Store> store = kvstore::MakeMemoryStore();
  auto w = HierarchyWriter::Begin(*store, "out.zarr", HierarchyWriteOptions{});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->CreateArray("v", Spec(ZarrFormat::kV3)).ok());
  Status twice = (*w)->CreateArray("v", Spec(ZarrFormat::kV3)).status();
  EXPECT_EQ(twice.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(twice.message().find("out.zarr/v"), std::string::npos) << twice.ToString();
  EXPECT_FALSE((*w)->CreateArray("v/below", Spec(ZarrFormat::kV3)).ok());
  EXPECT_FALSE((*w)->CreateGroup("v", json::object()).ok());
  EXPECT_FALSE((*w)->CreateArray("w", Spec(ZarrFormat::kV2)).ok());  // a v2 array in v3
  EXPECT_FALSE((*w)->CreateArray("../escape", Spec(ZarrFormat::kV3)).ok());
  EXPECT_FALSE((*w)->CreateArray("", Spec(ZarrFormat::kV3)).ok());
  const std::vector<int32_t> short_values(3);
  Status size = (*w)->WriteArray("v", std::as_bytes(std::span(short_values)));
  EXPECT_EQ(size.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(size.message().find("12 bytes given for an array of [5, 4]"), std::string::npos)
      << size.ToString();
  EXPECT_FALSE((*w)->WriteArray("nothing", std::as_bytes(std::span(short_values))).ok());
  const std::vector<int64_t> outside = {3, 0};
  EXPECT_FALSE((*w)->WriteUnit("v", outside, std::as_bytes(std::span(short_values))).ok());
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_FALSE((*w)->Commit().ok());
}

}  // namespace
}  // namespace lsio::zarr
