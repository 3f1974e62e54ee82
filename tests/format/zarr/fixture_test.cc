// Every fixture array (make_fixtures.py's and the shared zarrs fixtures): metadata matches what
// zarr-python reports, and every chunk decodes to the values zarr-python reads.

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "lsio/format/zarr/hierarchy.h"
#include "lsio/kvstore/file_store.h"
#include "test_util.h"

namespace lsio::zarr {
namespace {

using nlohmann::json;
using testing::Manifest;
using testing::StorePath;

std::string StatusCodeOf(const std::string& name) { return name; }

class FixtureArrays : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::FixturesDir().empty()) GTEST_FAIL() << "LSIO_ZARR_FIXTURES is not set";
    ASSERT_TRUE(Manifest().contains("arrays")) << "no manifest in " << testing::FixturesDir();
  }
};

// Opens the store holding `entry` and returns the node; records failures.
struct Opened {
  Hierarchy h;
  const Node* node = nullptr;
};

Result<Opened> Open(const json& entry) {
  auto store_holder = kvstore::MakeFileStore(StorePath(entry));
  kvstore::Store& store = *store_holder;
  LSIO_ASSIGN_OR_RETURN(Hierarchy h, OpenHierarchy(store));
  Opened o{std::move(h), nullptr};
  o.node = o.h.Find(entry["node"].get<std::string>());
  if (o.node == nullptr) return NotFoundError("node " + entry["node"].get<std::string>());
  return o;
}

TEST_F(FixtureArrays, MetadataMatchesZarrPython) {
  int checked = 0;
  for (const json& e : Manifest()["arrays"]) {
    if (e.contains("zarr_python_error")) continue;  // checked in ErrorsAreClear
    SCOPED_TRACE(StorePath(e) + " node '" + e["node"].get<std::string>() + "' (" +
                 e["writer"].get<std::string>() + ")");
    Result<Opened> o = Open(e);
    ASSERT_TRUE(o.ok()) << o.status().ToString();
    ASSERT_TRUE(o->node->is_array());
    const ArrayMetadata& m = *o->node->array;
    EXPECT_EQ(static_cast<int>(m.zarr_format), e["zarr_format"].get<int>());
    EXPECT_EQ(m.shape, e["shape"].get<std::vector<int64_t>>());
    if (e["shards"].is_null()) {
      EXPECT_FALSE(m.sharding.has_value());
      EXPECT_EQ(m.chunk_shape, e["chunks"].get<std::vector<int64_t>>());
    } else {
      ASSERT_TRUE(m.sharding.has_value());
      EXPECT_EQ(m.chunk_shape, e["shards"].get<std::vector<int64_t>>());
      EXPECT_EQ(m.sharding->inner_chunk_shape, e["chunks"].get<std::vector<int64_t>>());
    }
    if (e["dtype"].is_null()) {
      EXPECT_FALSE(m.data_type.StatisticsSupport().ok()) << m.data_type.name;
      EXPECT_NE(m.data_type.StatisticsSupport().message().find("statistics not supported: dtype"),
                std::string::npos);
    } else {
      EXPECT_TRUE(m.data_type.is_fixed_size_number()) << m.data_type.name;
      EXPECT_EQ(DataTypeName(m.data_type.storage), e["dtype"].get<std::string>());
      if (e.contains("time_unit")) {
        EXPECT_EQ(m.data_type.time_unit, e["time_unit"].get<std::string>());
        EXPECT_EQ(m.data_type.time_scale, e["time_scale"].get<int64_t>());
        EXPECT_EQ(m.data_type.kind, e["time_kind"] == "datetime64" ? DataTypeKind::kDatetime64
                                                                     : DataTypeKind::kTimedelta64);
      }
      if (e["fill_hex"].is_null()) {
        EXPECT_TRUE(m.fill_value.is_null);
      } else {
        EXPECT_FALSE(m.fill_value.is_null);
        EXPECT_EQ(testing::Hex(m.fill_value.bytes), e["fill_hex"].get<std::string>());
      }
    }
    std::vector<std::string> dims = e["dims"].get<std::vector<std::string>>();
    if (dims.empty()) {
      EXPECT_TRUE(m.dimension_names.empty() ||
                  std::all_of(m.dimension_names.begin(), m.dimension_names.end(),
                              [](const std::string& s) { return s.empty(); }));
    } else {
      EXPECT_EQ(m.dimension_names, dims);
    }
    EXPECT_EQ(m.attributes, e["attrs"]);
    EXPECT_EQ(m.order, e["order"].get<std::string>()[0]);
    EXPECT_EQ(m.chunk_key_encoding.kind, e["chunk_key_encoding"] == "default"
                                             ? ChunkKeyEncoding::Kind::kDefault
                                             : ChunkKeyEncoding::Kind::kV2);
    EXPECT_EQ(m.chunk_key_encoding.separator, e["separator"].get<std::string>()[0]);
    std::vector<std::string> codec_names;
    if (m.zarr_format == ZarrFormat::kV3) {
      for (const json& c : m.codecs) {
        codec_names.push_back(c.is_string() ? c.get<std::string>() : c["name"].get<std::string>());
      }
    } else {
      if (m.filters.is_array()) {
        for (const json& f : m.filters) codec_names.push_back(f["id"].get<std::string>());
      }
      if (m.compressor.is_object()) codec_names.push_back(m.compressor["id"].get<std::string>());
    }
    EXPECT_EQ(codec_names, e["codec_names"].get<std::vector<std::string>>());
    ++checked;
  }
  EXPECT_GT(checked, 150);
}

TEST_F(FixtureArrays, ValuesMatchZarrPython) {
  int checked = 0;
  for (const json& e : Manifest()["arrays"]) {
    if (!e.contains("expected")) continue;
    SCOPED_TRACE(StorePath(e) + " node '" + e["node"].get<std::string>() + "' (" +
                 e["writer"].get<std::string>() + ")");
    Result<Opened> o = Open(e);
    ASSERT_TRUE(o.ok()) << o.status().ToString();
    Result<std::vector<std::byte>> values = testing::ReadWholeArray(StorePath(e), *o->node);
    ASSERT_TRUE(values.ok()) << values.status().ToString();
    Result<testing::Npy> expected =
        testing::ReadNpy(testing::FixturesDir() + "/" + e["expected"].get<std::string>());
    ASSERT_TRUE(expected.ok()) << expected.status().ToString();
    ASSERT_EQ(values->size(), expected->data.size());
    if (*values != expected->data) {
      // Point at the first differing element.
      const size_t w = o->node->array->data_type.item_size;
      for (size_t i = 0; i < values->size(); ++i) {
        if ((*values)[i] != expected->data[i]) {
          ADD_FAILURE() << "element " << i / w << " differs";
          break;
        }
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

TEST_F(FixtureArrays, ErrorsAreClear) {
  int checked = 0;
  for (const json& e : Manifest()["arrays"]) {
    if (e["error"].is_null()) continue;
    SCOPED_TRACE(StorePath(e) + " node '" + e["node"].get<std::string>() + "'");
    const std::string code = e["error"]["code"].get<std::string>();
    const std::string contains = e["error"]["contains"].get<std::string>();
    Result<Opened> o = Open(e);
    Status status;
    if (!o.ok()) {
      status = o.status();
    } else {
      Result<std::vector<std::byte>> values = testing::ReadWholeArray(StorePath(e), *o->node);
      ASSERT_FALSE(values.ok()) << "read succeeded but should not";
      status = values.status();
    }
    if (code != "any") {
      EXPECT_EQ(StatusCodeName(status.code()), StatusCodeOf(code)) << status.ToString();
    }
    EXPECT_NE(status.message().find(contains), std::string::npos) << status.ToString();
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

// The README's statements about the zarrs fixtures, checked directly.
TEST_F(FixtureArrays, SharedFixturesReadmeValues) {
  const std::string shared = testing::SharedFixturesDir();
  ASSERT_FALSE(shared.empty());
  std::vector<float> expected(100);
  for (int i = 0; i < 100; ++i) expected[i] = static_cast<float>(i);
  const char* arrays[] = {"v2/array_none_C.zarr",       "v2/array_blosc_C.zarr",
                          "v2/array_blosc_F.zarr",      "v2/array_none_F.zarr",
                          "v2/array_gzip_C.zarr",       "v2/array_bz2_C.zarr",
                          "v2/array_zstd_C.zarr",       "v3/array_none.zarr",
                          "v3/array_blosc.zarr",        "v3/array_blosc_transpose.zarr",
                          "v3/array_none_transpose.zarr", "v3/array_gzip.zarr",
                          "v3/array_bz2.zarr",          "v3/array_zstd.zarr",
                          "v3_zarr_python/array_none.zarr", "v3_zarr_python/array_blosc.zarr",
                          "v3_zarr_python/array_gzip.zarr", "v3_zarr_python/array_bz2.zarr",
                          "v3_zarr_python/array_zstd.zarr", "v3_zarr_python/array_zlib.zarr",
                          "v3_zarr_python/array_adler32.zarr",
                          "v3_zarr_python/array_fletcher32.zarr"};
  for (const char* a : arrays) {
    SCOPED_TRACE(a);
    auto store_holder = kvstore::MakeFileStore(shared + "/" + a);
  kvstore::Store& store = *store_holder;
    Result<Hierarchy> h = OpenHierarchy(store);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    const ArrayMetadata& m = *h->root().array;
    EXPECT_EQ(m.shape, (std::vector<int64_t>{10, 10}));
    EXPECT_EQ(m.chunk_shape, (std::vector<int64_t>{5, 5}));
    EXPECT_EQ(m.data_type.storage, DataType::kFloat32);
    EXPECT_EQ(m.attributes, json({{"key", "value"}}));
    Result<std::vector<std::byte>> v = testing::ReadWholeArray(store.url(), h->root());
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    ASSERT_EQ(v->size(), 400u);
    EXPECT_EQ(std::memcmp(v->data(), expected.data(), 400), 0);
  }
  // Sharded uint16 8x8 with 4x4 inner chunks, dims y, x.
  // (The store's root has no zarr.json: Zarr v3 has no implicit groups, so open the group.)
  auto store_holder = kvstore::MakeFileStore(shared + "/sharded_array_write_read.zarr/group");
  kvstore::Store& store = *store_holder;
  Result<Hierarchy> h = OpenHierarchy(store);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  const Node* node = h->Find("array");
  ASSERT_NE(node, nullptr);
  const ArrayMetadata& m = *node->array;
  EXPECT_EQ(m.data_type.storage, DataType::kUInt16);
  EXPECT_EQ(m.dimension_names, (std::vector<std::string>{"y", "x"}));
  ASSERT_TRUE(m.sharding);
  EXPECT_EQ(m.sharding->inner_chunk_shape, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(m.sharding->index_location, ShardIndexLocation::kEnd);
  EXPECT_EQ(m.sharding->index_encoded_size, 2u * 16u + 4u);
  EXPECT_EQ(h->root().attributes, json({{"foo", "bar"}}));
}

}  // namespace
}  // namespace lsio::zarr
