// Opening stores: the node lists zarr-python reports, consolidated or walked, v3 preferred
// over v2, and errors for malformed metadata and consolidated paths that would escape.

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lsio/format/zarr/hierarchy.h"
#include "lsio/kvstore/file_store.h"
#include "test_util.h"

namespace lsio::zarr {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "lsio_zarr_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  void Write(const std::string& rel, const std::string& text) const {
    const fs::path p = fs::path(path_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }

 private:
  std::string path_;
};

TEST(Hierarchy, NodesMatchZarrPython) {
  ASSERT_TRUE(testing::Manifest().contains("hierarchies"));
  int checked = 0;
  for (const json& e : testing::Manifest()["hierarchies"]) {
    SCOPED_TRACE(e["store"].get<std::string>());
    for (bool use_consolidated : {true, false}) {
      auto store_holder = kvstore::MakeFileStore(testing::StorePath(e));
  kvstore::Store& store = *store_holder;
      Result<Hierarchy> h = OpenHierarchy(store, {use_consolidated});
      ASSERT_TRUE(h.ok()) << h.status().ToString();
      EXPECT_EQ(h->consolidated, use_consolidated && e["consolidated"].get<bool>());
      std::vector<std::string> paths;
      for (const Node& n : h->nodes) {
        if (!n.path.empty()) paths.push_back(n.path);
      }
      EXPECT_EQ(paths, e["nodes"].get<std::vector<std::string>>());
      EXPECT_EQ(h->root().path, "");
      EXPECT_EQ(static_cast<int>(h->root().zarr_format), e["zarr_format"].get<int>());
      EXPECT_EQ(h->root().attributes, e["root_attrs"]);
    }
    ++checked;
  }
  EXPECT_GE(checked, 7);
}

TEST(Hierarchy, ChildrenAndChunkKeys) {
  const std::string root = testing::SharedFixturesDir() + "/hierarchy.zarr";
  auto store_holder = kvstore::MakeFileStore(root);
  kvstore::Store& store = *store_holder;
  Result<Hierarchy> h = OpenHierarchy(store);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  std::vector<std::string> paths;
  for (const Node& n : h->nodes) paths.push_back(n.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"", "a", "a/baz", "a/foo", "b"}));
  EXPECT_EQ(h->Children("").size(), 2u);
  EXPECT_EQ(h->Children("a").size(), 2u);
  const Node* foo = h->Find("a/foo");
  ASSERT_NE(foo, nullptr);
  EXPECT_EQ(foo->name(), "foo");
  EXPECT_EQ(foo->array->dimension_names, (std::vector<std::string>{"rows", "columns"}));
  EXPECT_EQ(*h->ChunkKey(*foo, std::vector<int64_t>{9, 3}), "a/foo/c/9/3");
  EXPECT_EQ(h->Find("b")->attributes, json({{"test_key", "test_value"}}));
}

TEST(Hierarchy, PrefersV3OverV2) {
  // zarrs' v3/ fixtures hold both zarr.json and .zarray; zarr-python uses zarr.json.
  auto store_holder = kvstore::MakeFileStore(testing::SharedFixturesDir() + "/v3/array_blosc.zarr");
  kvstore::Store& store = *store_holder;
  Result<Hierarchy> h = OpenHierarchy(store);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->root().zarr_format, ZarrFormat::kV3);
  EXPECT_EQ(h->root().array->chunk_key_encoding.kind, ChunkKeyEncoding::Kind::kV2);
}

TEST(Hierarchy, Errors) {
  TempDir dir;
  // Nothing there.
  Result<Hierarchy> h = OpenHierarchy(*kvstore::MakeFileStore(dir.path()));
  EXPECT_EQ(h.status().code(), StatusCode::kNotFound);
  EXPECT_NE(h.status().message().find(dir.path()), std::string::npos);
  // Malformed JSON in a child array names the file and the position.
  dir.Write(".zgroup", R"({"zarr_format": 2})");
  dir.Write("bad/.zarray", R"({"zarr_format": 2, "shape": [3,)");
  h = OpenHierarchy(*kvstore::MakeFileStore(dir.path()));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(h.status().message().find(dir.path() + "/bad/.zarray: malformed JSON"),
            std::string::npos)
      << h.status().ToString();
  // Consolidated metadata with a path that would escape the store.
  TempDir dir2;
  dir2.Write("zarr.json", R"({"zarr_format": 3, "node_type": "group",
      "consolidated_metadata": {"kind": "inline", "must_understand": false, "metadata": {
        "../../etc": {"zarr_format": 3, "node_type": "group"}}}})");
  h = OpenHierarchy(*kvstore::MakeFileStore(dir2.path()));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(h.status().message().find("would escape the store"), std::string::npos);
  EXPECT_NE(h.status().message().find(dir2.path() + "/zarr.json"), std::string::npos);
  // .zmetadata with an absolute path.
  TempDir dir3;
  dir3.Write(".zgroup", R"({"zarr_format": 2})");
  dir3.Write(".zmetadata", R"({"zarr_consolidated_format": 1, "metadata": {
      ".zgroup": {"zarr_format": 2}, "/abs/.zgroup": {"zarr_format": 2}}})");
  h = OpenHierarchy(*kvstore::MakeFileStore(dir3.path()));
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
  // Deeply nested JSON is refused, not recursed into.
  TempDir dir4;
  dir4.Write("zarr.json", std::string(100000, '[') + std::string(100000, ']'));
  h = OpenHierarchy(*kvstore::MakeFileStore(dir4.path()));
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
  // A wrong node_type.
  TempDir dir5;
  dir5.Write("zarr.json", R"({"zarr_format": 3, "node_type": "folder"})");
  h = OpenHierarchy(*kvstore::MakeFileStore(dir5.path()));
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(h.status().message().find("node_type"), std::string::npos);
}

}  // namespace
}  // namespace lsio::zarr

namespace lsio::zarr {
namespace {

// A chunk file of the wrong size (uncompressed v2) and a truncated shard: clear errors that
// name the file, never a crash.
TEST(Corruption, WrongSizedChunkAndTruncatedShard) {
  TempDir dir;
  const std::string src = testing::FixturesDir() + "/zp/v2/be_f4.zarr";
  std::filesystem::copy(src, dir.path() + "/a.zarr", std::filesystem::copy_options::recursive);
  const std::string chunk = dir.path() + "/a.zarr/1.1";
  std::filesystem::resize_file(chunk, 17);
  auto store_holder = kvstore::MakeFileStore(dir.path() + "/a.zarr");
  kvstore::Store& store = *store_holder;
  Result<Hierarchy> h = OpenHierarchy(store);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  Result<std::vector<std::byte>> v = testing::ReadWholeArray(store.url(), h->root());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kCorruptData) << v.status().ToString();
  EXPECT_NE(v.status().message().find(chunk), std::string::npos) << v.status().ToString();

  const std::string shard_src = testing::FixturesDir() + "/zp/v3/sharded_end.zarr";
  std::filesystem::copy(shard_src, dir.path() + "/s.zarr",
                        std::filesystem::copy_options::recursive);
  const std::string shard = dir.path() + "/s.zarr/c/0/0";
  std::filesystem::resize_file(shard, std::filesystem::file_size(shard) - 3);
  auto sstore_holder = kvstore::MakeFileStore(dir.path() + "/s.zarr");
  kvstore::Store& sstore = *sstore_holder;
  h = OpenHierarchy(sstore);
  ASSERT_TRUE(h.ok());
  for (bool partial : {false, true}) {
    std::vector<DimRange> all;
    for (int64_t n : h->root().array->shape) all.push_back(FullRange(n));
    v = partial ? testing::ReadSelection(sstore.url(), h->root(), all)
                : testing::ReadWholeArray(sstore.url(), h->root());
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), StatusCode::kCorruptData) << v.status().ToString();
    EXPECT_NE(v.status().message().find(shard), std::string::npos) << v.status().ToString();
  }
}

}  // namespace
}  // namespace lsio::zarr
