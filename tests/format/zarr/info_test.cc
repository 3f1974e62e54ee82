// `lsio info` as a library function: the JSON document against the fixtures' metadata and an
// independent directory walk, and the text report.

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "lsio/format/zarr/info.h"
#include "test_util.h"

namespace lsio::zarr {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

uint64_t ChunkBytes(const fs::path& dir, uint64_t* files) {
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name == "zarr.json" || name == ".zarray" || name == ".zattrs" || name == ".zgroup" ||
        name == ".zmetadata") {
      continue;
    }
    total += e.file_size();
    ++*files;
  }
  return total;
}

const json* NodeAt(const json& doc, const std::string& path) {
  for (const json& n : doc["nodes"]) {
    if (n["path"] == path) return &n;
  }
  return nullptr;
}

InfoOptions WithCoordinates() {
  InfoOptions o;
  o.context = runtime::Context::Default().get();
  return o;
}

std::shared_ptr<const ZarrDatasetSource> Open(const std::string& path) {
  Result<std::shared_ptr<const ZarrDatasetSource>> source =
      OpenDataset(kvstore::MakeFileStore(path));
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  return source.ok() ? *source : nullptr;
}

// WriteInfo on the store at `path`, or the error of opening it.
Status WriteInfoAt(const std::string& path, const InfoOptions& o, std::ostream& out) {
  Result<std::shared_ptr<const ZarrDatasetSource>> source =
      OpenDataset(kvstore::MakeFileStore(path));
  if (!source.ok()) return source.status();
  return WriteInfo(**source, o, out);
}

TEST(Info, JsonForAnXarrayDataset) {
  for (const char* name : {"xr/daily_v2.zarr", "xr/daily_v3_sharded.zarr"}) {
    SCOPED_TRACE(name);
    const std::string path = testing::FixturesDir() + "/" + name;
    std::shared_ptr<const ZarrDatasetSource> source = Open(path);
    ASSERT_NE(source, nullptr);
    Result<json> doc = InfoJson(*source, WithCoordinates());
    ASSERT_TRUE(doc.ok()) << doc.status().ToString();
    EXPECT_TRUE((*doc)["consolidated"].get<bool>());
    const json* t2m = NodeAt(*doc, "t2m");
    ASSERT_NE(t2m, nullptr);
    EXPECT_EQ((*t2m)["dtype"], "float32");
    EXPECT_EQ((*t2m)["shape"], json({40, 18, 36}));
    EXPECT_EQ((*t2m)["chunks"], json({7, 5, 8}));
    EXPECT_EQ((*t2m)["readable"], true);
    EXPECT_EQ((*t2m)["logical_bytes"], 40 * 18 * 36 * 4);
    const json& dims = (*t2m)["dims"];
    ASSERT_EQ(dims.size(), 3u);
    EXPECT_EQ(dims[0]["name"], "time");
    EXPECT_EQ(dims[0]["coordinate"]["first"], "2000-01-01");
    EXPECT_EQ(dims[0]["coordinate"]["last"], "2000-02-09");
    EXPECT_EQ(dims[1]["coordinate"]["first"], 85.0);
    EXPECT_EQ(dims[1]["coordinate"]["last"], -85.0);
    EXPECT_EQ(dims[2]["coordinate"]["last"], 355.0);
    uint64_t files = 0;
    const uint64_t bytes = ChunkBytes(fs::path(path) / "t2m", &files);
    EXPECT_EQ((*t2m)["stored_bytes"].get<uint64_t>(), bytes);
    EXPECT_EQ((*t2m)["stored_files"].get<uint64_t>(), files);
    EXPECT_DOUBLE_EQ((*t2m)["compression_ratio"].get<double>(),
                     40.0 * 18 * 36 * 4 / static_cast<double>(bytes));
    if (std::string(name).find("sharded") != std::string::npos) {
      EXPECT_EQ((*t2m)["shards"], json({14, 10, 16}));
      EXPECT_NE((*t2m)["codecs"].get<std::string>().find("sharding_indexed"), std::string::npos);
    } else {
      EXPECT_TRUE((*t2m)["shards"].is_null());
    }
    // _ARRAY_DIMENSIONS (v2) is hidden; xarray writes _FillValue as an attribute in v3 only
    // (base64 of the float64 NaN).
    json attrs = {{"units", "K"}};
    if ((*doc)["zarr_format"] == 3) attrs["_FillValue"] = "AAAAAAAA+H8=";
    EXPECT_EQ((*t2m)["attributes"], attrs);
    const json* time = NodeAt(*doc, "time");
    ASSERT_NE(time, nullptr);
    EXPECT_EQ((*time)["cf"]["time"], "datetime");
  }
}

TEST(Info, TextReportAndUnsupportedCodec) {
  const std::string path = testing::FixturesDir() + "/xr/cf_v2.zarr";
  InfoOptions o = WithCoordinates();
  std::ostringstream out;
  Status s = WriteInfoAt(path, o, out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::string text = out.str();
  EXPECT_NE(text.find("wind  (array, Zarr v2)  int16 [50]"), std::string::npos) << text;
  EXPECT_NE(text.find("scale_factor=0.01, add_offset=5"), std::string::npos) << text;
  EXPECT_NE(text.find("decoded as float64"), std::string::npos) << text;
  // An array whose codec lsio lacks still shows up, marked unreadable.
  const std::string pcodec = testing::SharedFixturesDir() + "/v3_zarr_python/array_pcodec.zarr";
  InfoOptions p;
  p.json = true;
  std::ostringstream js;
  ASSERT_TRUE(WriteInfoAt(pcodec, p, js).ok());
  json doc = json::parse(js.str());
  const json& root = doc["nodes"][0];
  ASSERT_TRUE(root["readable"].is_string());
  EXPECT_NE(root["readable"].get<std::string>().find("pcodec"), std::string::npos);
  EXPECT_EQ(root["codecs"], "numcodecs.pcodec(level=8, mode_spec=auto)");
  // A string array opens, with statistics marked unsupported.
  InfoOptions c;
  std::ostringstream ct;
  ASSERT_TRUE(
      WriteInfoAt(testing::SharedFixturesDir() + "/zarr_python_compat/cities_v3.zarr", c, ct)
          .ok());
  EXPECT_NE(ct.str().find("statistics"), std::string::npos) << ct.str();
  // A missing store is a clear error.
  InfoOptions missing;
  std::ostringstream m;
  Status ms = WriteInfoAt(testing::FixturesDir() + "/no/such.zarr", missing, m);
  EXPECT_EQ(ms.code(), StatusCode::kNotFound);
  EXPECT_NE(ms.message().find("no/such.zarr"), std::string::npos);
}

TEST(Info, FormatBytes) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(uint64_t{3} << 30), "3.0 GiB");
}

}  // namespace
}  // namespace lsio::zarr
