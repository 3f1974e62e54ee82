// GRIB files opened as datasets (format::OpenDataset -> grib::GribDatasetSource) against
// cfgrib: every shared fixture's and generated file's .ref.json / manifest entries (written by
// cfgrib 0.9.15.1 on ecCodes 2.50), read through the format-neutral array interface: groups,
// variable paths, dims, shapes, attributes, float32 values (sha256 and statistics, absent cells
// NaN) and coordinates (values; times, steps). Each file is opened twice: read whole, and
// walked message by message with tiny head reads (every section a separate read), which must
// give the same dataset. A multi-file archive (make_grib_fixtures.py) against cfgrib on the
// concatenation of its files and xr.open_mfdataset(combine="by_coords"); directory, glob and
// list-of-files openings; errors naming file, message and byte offset.

#include "lsio/format/grib/source.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "lsio/array/datetime.h"
#include "lsio/array/read.h"
#include "lsio/format/open.h"
#include "lsio/kvstore/file_store.h"
#include "test_util.h"

namespace lsio::grib {
namespace {

using nlohmann::json;
using testing::BaseName;
using testing::GribFiles;
using testing::HashValues;
using testing::ReadFile;
using testing::RefFor;
using testing::SharedGribDir;

runtime::Context& Ctx() {
  static std::shared_ptr<runtime::Context> context = [] {
    runtime::ContextOptions o;
    o.threads = 2;
    return *runtime::Context::Make(o);
  }();
  return *context;
}

std::string IsoSeconds(int64_t ns) {
  const int64_t day = ns >= 0 ? ns / array::kNanosPerDay
                              : -((-ns + array::kNanosPerDay - 1) / array::kNanosPerDay);
  const int64_t rest = (ns - day * array::kNanosPerDay) / array::kNanosPerSecond;
  const array::CivilDate c = array::CivilFromDays(day);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02lld:%02lld:%02lld",
                static_cast<long long>(c.year), c.month, c.day,
                static_cast<long long>(rest / 3600), static_cast<long long>(rest / 60 % 60),
                static_cast<long long>(rest % 60));
  return buf;
}

std::vector<std::byte> ReadAll(const array::ArraySource& a) {
  const array::ArrayInfo& info = a.info();
  std::vector<std::byte> out(static_cast<size_t>(info.num_elements()) * info.element_size());
  std::vector<array::DimRange> ranges;
  for (int64_t n : info.shape) ranges.push_back(array::FullRange(n));
  const Status st = array::ReadInto(a, ranges, out, Ctx());
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

// A coordinate's values as the reference writes them: ISO seconds, seconds, or numbers.
struct CoordValues {
  std::vector<double> numbers;
  std::vector<std::string> times;
};

CoordValues Values(const array::ArraySource& a) {
  const std::vector<std::byte> bytes = ReadAll(a);
  const array::ArrayInfo& info = a.info();
  CoordValues out;
  const size_t n = static_cast<size_t>(info.num_elements());
  for (size_t i = 0; i < n; ++i) {
    switch (info.element.kind) {
      case array::DataTypeKind::kDatetime64: {
        int64_t v;
        std::memcpy(&v, bytes.data() + 8 * i, 8);
        out.times.push_back(IsoSeconds(v));
        break;
      }
      case array::DataTypeKind::kTimedelta64: {
        int64_t v;
        std::memcpy(&v, bytes.data() + 8 * i, 8);
        out.numbers.push_back(static_cast<double>(v) / 1e9);
        break;
      }
      default:
        if (info.element.storage == DataType::kInt64) {
          int64_t v;
          std::memcpy(&v, bytes.data() + 8 * i, 8);
          out.numbers.push_back(static_cast<double>(v));
        } else {
          double v;
          std::memcpy(&v, bytes.data() + 8 * i, 8);
          out.numbers.push_back(v);
        }
    }
  }
  return out;
}

void CheckNumbers(const std::vector<double>& got, const json& want) {
  if (want.contains("values")) {
    ASSERT_EQ(got.size(), want["values"].size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i], want["values"][i].get<double>(), 1e-9) << i;
    }
    return;
  }
  ASSERT_FALSE(got.empty());
  EXPECT_NEAR(got.front(), want["first"].get<double>(), 1e-9);
  EXPECT_NEAR(got.back(), want["last"].get<double>(), 1e-9);
  if (want.contains("sha256_f64")) {
    EXPECT_EQ(HashValues(got), want["sha256_f64"].get<std::string>());
  }
}

// The group lsio gives an entry's hypercube: its filter's values, with "#2", "#3" for later
// hypercubes the same filter would match (`seen` counts them, entries in cfgrib's order).
std::string GroupOf(const json& entry, std::map<std::string, int>& seen) {
  const json& f = entry["filter_by_keys"];
  std::vector<std::string> parts = {f["typeOfLevel"].get<std::string>(),
                                    f["stepType"].get<std::string>()};
  if (f.contains("shortName")) parts.push_back(f["shortName"].get<std::string>());
  std::string g;
  for (const std::string& p : parts) {
    if (!g.empty()) g.push_back('/');
    g.append(p);
  }
  const int n = ++seen[g];
  if (n > 1) g.append(1, '#').append(std::to_string(n));
  return g;
}

// Compares a dataset with cfgrib's entries (make_refs.py / make_grib_fixtures.py); returns the
// number of variables compared.
size_t CompareWithCfgrib(const array::Dataset& ds, const json& want) {
  size_t checked = 0;
  size_t want_vars = 0;
  std::map<std::string, int> seen;
  for (const json& e : want) {
    const std::string group = GroupOf(e, seen);
    SCOPED_TRACE("group " + group);
    for (const auto& [name, wv] : e["data_vars"].items()) {
      ++want_vars;
      SCOPED_TRACE(name);
      Result<const array::ArraySource*> found = ds.FindArray(group + "/" + name);
      if (!found.ok()) {
        ADD_FAILURE() << found.status().ToString();
        continue;
      }
      const array::ArrayInfo& info = (*found)->info();
      EXPECT_FALSE(ds.IsCoordinate(**found));
      EXPECT_EQ(info.dims, wv["dims"].get<std::vector<std::string>>());
      EXPECT_EQ(info.shape, wv["shape"].get<std::vector<int64_t>>());
      EXPECT_EQ(info.element.storage, DataType::kFloat32);
      const json& a = info.attributes;
      EXPECT_EQ(a.value("GRIB_paramId", int64_t{-1}), wv["GRIB_paramId"].get<int64_t>());
      for (const char* k :
           {"GRIB_shortName", "GRIB_typeOfLevel", "GRIB_stepType", "GRIB_gridType"}) {
        if (wv[k].is_null()) {
          EXPECT_FALSE(a.contains(k)) << k;
        } else {
          EXPECT_EQ(a.value(k, std::string()), wv[k].get<std::string>()) << k;
        }
      }
      const std::vector<std::byte> bytes = ReadAll(**found);
      std::vector<float> values(bytes.size() / 4);
      std::memcpy(values.data(), bytes.data(), bytes.size());
      EXPECT_EQ(HashValues(values), wv["values_sha256_f32"].get<std::string>());
      size_t nan = 0, count = 0;
      double sum = 0, mn = INFINITY, mx = -INFINITY;
      for (float x : values) {
        if (std::isnan(x)) {
          ++nan;
          continue;
        }
        ++count;
        sum += x;
        mn = std::min(mn, double{x});
        mx = std::max(mx, double{x});
      }
      const json& st = wv["stats"];
      EXPECT_EQ(nan, st["nan_count"].get<size_t>());
      EXPECT_EQ(count, st["count"].get<size_t>());
      if (count) {
        EXPECT_EQ(mn, st["min"].get<double>());
        EXPECT_EQ(mx, st["max"].get<double>());
        EXPECT_NEAR(sum, st["sum"].get<double>(), 1e-9 * std::max(1.0, std::fabs(sum)));
      }
      ++checked;
    }
    // The group's coordinates: cfgrib's, with their values.
    std::set<std::string> names;
    for (const array::ArraySource* arr : ds.Arrays()) {
      const std::string& path = arr->info().path;
      if (array::Dataset::GroupOf(path) != group || !ds.IsCoordinate(*arr)) continue;
      const std::string name = path.substr(group.size() + 1);
      names.insert(name);
      if (!e["coords"].contains(name)) continue;
      SCOPED_TRACE("coordinate " + name);
      const json& wc = e["coords"][name];
      EXPECT_EQ(arr->info().dims, wc["dims"].get<std::vector<std::string>>());
      EXPECT_EQ(arr->info().shape, wc["shape"].get<std::vector<int64_t>>());
      const CoordValues got = Values(*arr);
      if (arr->info().element.kind == array::DataTypeKind::kDatetime64) {
        EXPECT_EQ(wc["dtype"], "datetime64[ns]");
        if (wc.contains("values")) {
          EXPECT_EQ(got.times, wc["values"].get<std::vector<std::string>>());
        } else {
          EXPECT_EQ(got.times.front(), wc["first"].get<std::string>());
          EXPECT_EQ(got.times.back(), wc["last"].get<std::string>());
        }
      } else {
        if (arr->info().element.kind == array::DataTypeKind::kTimedelta64) {
          EXPECT_EQ(wc["dtype"], "timedelta64[ns]");
        } else {
          EXPECT_EQ(wc["dtype"], arr->info().element.name);
        }
        CheckNumbers(got.numbers, wc);
      }
    }
    std::set<std::string> want_names;
    for (const auto& [k, _] : e["coords"].items()) want_names.insert(k);
    EXPECT_EQ(names, want_names);
  }
  // Nothing more than cfgrib's variables.
  EXPECT_EQ(ds.DataVariables().size(), want_vars);
  return checked;
}

std::shared_ptr<const array::Dataset> OpenWalked(const std::string& path) {
  const std::filesystem::path p(path);
  OpenOptions options;
  options.whole_file_bytes = 0;  // never whole
  options.head_bytes = 24;       // every section header its own read, nearly
  Result<std::shared_ptr<const GribDatasetSource>> source =
      OpenDataset(Ctx(), kvstore::MakeFileStore(p.parent_path().string()),
                  {FileEntry{p.filename().string(), std::nullopt}}, options);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  if (!source.ok()) return nullptr;
  return std::make_shared<const array::Dataset>(std::move(*source));
}

std::shared_ptr<const array::Dataset> OpenLocation(const std::string& location) {
  Result<std::shared_ptr<const array::Dataset>> ds = format::OpenDataset(Ctx(), location);
  EXPECT_TRUE(ds.ok()) << ds.status().ToString();
  return ds.ok() ? *ds : nullptr;
}

TEST(GribSource, SharedFixturesMatchCfgrib) {
  size_t checked = 0;
  for (const std::string& path : GribFiles(SharedGribDir())) {
    SCOPED_TRACE(BaseName(path));
    const json ref = RefFor(path);
    if (path.ends_with(".grib")) {
      // GRIB1: refused, naming the file and message.
      Result<std::shared_ptr<const array::Dataset>> ds = format::OpenDataset(Ctx(), path);
      ASSERT_FALSE(ds.ok());
      EXPECT_EQ(ds.status().code(), StatusCode::kNotSupported);
      EXPECT_NE(ds.status().message().find(BaseName(path) + ": message 0 (byte 0)"),
                std::string::npos)
          << ds.status().ToString();
      continue;
    }
    for (bool walked : {false, true}) {
      SCOPED_TRACE(walked ? "walked" : "whole");
      std::shared_ptr<const array::Dataset> ds = walked ? OpenWalked(path) : OpenLocation(path);
      ASSERT_NE(ds, nullptr);
      EXPECT_EQ(ds->source().format_name(), "GRIB2");
      EXPECT_EQ(ds->source().summary()["messages"].get<size_t>(), ref["messages"].size());
      checked += CompareWithCfgrib(*ds, ref["cfgrib"]);
    }
  }
  EXPECT_GE(checked, 120u);
}

TEST(GribSource, GeneratedFilesMatchCfgrib) {
  if (testing::GeneratedDir().empty()) GTEST_SKIP() << "LSIO_GRIB_FIXTURES not set";
  const json manifest = testing::ReadJson(testing::GeneratedDir() + "/manifest.json");
  size_t checked = 0;
  for (const auto& file : manifest["files"]) {
    if (file["cfgrib"].is_null()) continue;
    const std::string path = testing::GeneratedDir() + "/" + file["file"].get<std::string>();
    SCOPED_TRACE(path);
    for (bool walked : {false, true}) {
      SCOPED_TRACE(walked ? "walked" : "whole");
      std::shared_ptr<const array::Dataset> ds = walked ? OpenWalked(path) : OpenLocation(path);
      ASSERT_NE(ds, nullptr);
      checked += CompareWithCfgrib(*ds, file["cfgrib"]);
    }
  }
  EXPECT_GE(checked, 20u);
}

// The archive make_grib_fixtures.py writes: several files, one dataset.
TEST(GribSource, ArchiveMatchesCfgribAndOpenMfdataset) {
  if (testing::GeneratedDir().empty()) GTEST_SKIP() << "LSIO_GRIB_FIXTURES not set";
  const json manifest = testing::ReadJson(testing::GeneratedDir() + "/manifest.json");
  ASSERT_TRUE(manifest.contains("archive"));
  const json& archive = manifest["archive"];
  const std::string dir = testing::GeneratedDir() + "/" + archive["dir"].get<std::string>();
  std::vector<std::string> files;
  for (const auto& f : archive["files"]) files.push_back(dir + "/" + f.get<std::string>());
  ASSERT_GE(files.size(), 3u);

  // A directory, a glob, and the files named one by one (reversed: the dataset sorts each
  // location's files, not the locations).
  std::vector<std::shared_ptr<const array::Dataset>> opened;
  opened.push_back(OpenLocation(dir));
  opened.push_back(OpenLocation(dir + "/*.grib2"));
  Result<std::shared_ptr<const array::Dataset>> listed = format::OpenDataset(Ctx(), files);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  opened.push_back(*listed);
  for (size_t i = 0; i < opened.size(); ++i) {
    SCOPED_TRACE("opening " + std::to_string(i));
    ASSERT_NE(opened[i], nullptr);
    EXPECT_EQ(opened[i]->source().summary()["files"].get<size_t>(), files.size());
    // cfgrib.open_datasets of the files' concatenation.
    EXPECT_GE(CompareWithCfgrib(*opened[i], archive["cfgrib_concatenated"]), 3u);
    // xr.open_mfdataset(files, engine="cfgrib", combine="by_coords"), per hypercube.
    EXPECT_GE(CompareWithCfgrib(*opened[i], archive["cfgrib_mfdataset"]), 3u);
  }
}

// Bytes of a fixture changed in place, written to a temporary file.
class FaultFile {
 public:
  FaultFile(const std::string& name, std::vector<std::byte> bytes) {
    dir_ = std::filesystem::temp_directory_path() /
           ("lsio_grib_fault_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / name).string();
    std::ofstream f(path_, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  }
  ~FaultFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::filesystem::path dir_;
  std::string path_;
};

Status OpenError(const std::string& path) {
  Result<std::shared_ptr<const array::Dataset>> ds = format::OpenDataset(Ctx(), path);
  if (ds.ok()) return Status::OK();
  return ds.status();
}

TEST(GribSource, FaultsNameFileMessageAndOffset) {
  const std::string src = SharedGribDir() + "/syn_simple.grib2";
  const std::vector<std::byte> bytes = ReadFile(src);
  const json ref = RefFor(src);
  const json& last = ref["messages"].back();
  const uint64_t off = last["offset"].get<uint64_t>();
  const uint64_t len = last["length"].get<uint64_t>();
  const std::string n = std::to_string(ref["messages"].size() - 1);
  {
    std::vector<std::byte> b(bytes.begin(), bytes.begin() + static_cast<long>(off + len / 2));
    FaultFile f("truncated.grib2", b);
    const Status st = OpenError(f.path());
    EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.ToString();
    EXPECT_NE(st.message().find(f.path() + ": message " + n + " (byte " + std::to_string(off) +
                                "): truncated"),
              std::string::npos)
        << st.ToString();
  }
  {
    std::vector<std::byte> b = bytes;
    b[off + len - 1] = std::byte{'8'};
    FaultFile f("end_marker.grib2", b);
    const Status st = OpenError(f.path());
    EXPECT_EQ(st.code(), StatusCode::kCorruptData) << st.ToString();
    EXPECT_NE(st.message().find("message " + n + " (byte " + std::to_string(off) + ")"),
              std::string::npos)
        << st.ToString();
    EXPECT_NE(st.message().find("7777"), std::string::npos) << st.ToString();
  }
  {
    // Section 1's length made to run past the message.
    std::vector<std::byte> b = bytes;
    b[off + 16] = std::byte{0x7f};
    FaultFile f("section_length.grib2", b);
    const Status st = OpenError(f.path());
    EXPECT_EQ(st.code(), StatusCode::kCorruptData) << st.ToString();
    EXPECT_NE(st.message().find("message " + n + " (byte " + std::to_string(off) +
                                "): section 1 at byte " + std::to_string(off + 16)),
              std::string::npos)
        << st.ToString();
  }
}

// A section-6 bitmap shorter than the grid: the index does not read bitmaps, so the file opens;
// reading the variable fails naming the variable, the file and the message.
TEST(GribSource, ShortBitmapFailsTheRead) {
  // syn_simple: find a message with a bitmap.
  const std::string src = SharedGribDir() + "/syn_simple.grib2";
  std::vector<std::byte> bytes = ReadFile(src);
  const json ref = RefFor(src);
  for (size_t m = 0; m < ref["messages"].size(); ++m) {
    const json& msg = ref["messages"][m];
    if (msg["bitmapPresent"].get<int>() != 1) continue;
    const uint64_t off = msg["offset"].get<uint64_t>();
    Result<Message> parsed =
        ParseMessage(std::span(bytes).subspan(off), {static_cast<uint32_t>(m), off});
    ASSERT_TRUE(parsed.ok());
    const Field& field = parsed->fields[0];
    // Shorten the bitmap by moving section 7 earlier: cut bytes from the bitmap's end and fix
    // section 6's length and the total length.
    const uint32_t cut = field.bitmap_bytes / 2;
    const uint64_t s6 = off + field.bitmap_section.offset;
    const uint64_t s6_end = s6 + field.bitmap_section.length;
    std::vector<std::byte> b(bytes.begin(), bytes.begin() + static_cast<long>(s6_end - cut));
    b.insert(b.end(), bytes.begin() + static_cast<long>(s6_end), bytes.end());
    auto put32 = [&](uint64_t at, uint32_t v) {
      for (int i = 0; i < 4; ++i) b[at + i] = std::byte(static_cast<uint8_t>(v >> (24 - 8 * i)));
    };
    put32(s6, field.bitmap_section.length - cut);
    const uint64_t length = msg["length"].get<uint64_t>() - cut;
    for (int i = 0; i < 8; ++i) {
      b[off + 8 + i] = std::byte(static_cast<uint8_t>(length >> (56 - 8 * i)));
    }
    FaultFile f("short_bitmap.grib2", b);
    Result<std::shared_ptr<const array::Dataset>> ds = format::OpenDataset(Ctx(), f.path());
    ASSERT_TRUE(ds.ok()) << ds.status().ToString();
    Status failed = Status::OK();
    for (const array::ArraySource* v : (*ds)->DataVariables()) {
      const array::ArrayInfo& info = v->info();
      std::vector<std::byte> out(static_cast<size_t>(info.num_elements()) * 4);
      std::vector<array::DimRange> ranges;
      for (int64_t s : info.shape) ranges.push_back(array::FullRange(s));
      Status st = array::ReadInto(*v, ranges, out, Ctx());
      if (!st.ok()) failed = st;
    }
    EXPECT_EQ(failed.code(), StatusCode::kCorruptData) << failed.ToString();
    EXPECT_NE(failed.message().find(f.path() + ": message " + std::to_string(m) + " (byte " +
                                    std::to_string(off) + ")"),
              std::string::npos)
        << failed.ToString();
    EXPECT_NE(failed.message().find("bitmap"), std::string::npos) << failed.ToString();
    return;
  }
  FAIL() << "no message with a bitmap in " << src;
}

TEST(GribSource, NotGribNotZarr) {
  const std::vector<std::byte> junk(100, std::byte{'x'});
  FaultFile f("junk.dat", junk);
  const Status st = OpenError(f.path());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  FaultFile g("junk.grib2", junk);
  const Status st2 = OpenError(g.path());
  EXPECT_EQ(st2.code(), StatusCode::kNotFound) << st2.ToString();
  EXPECT_NE(st2.message().find("no GRIB message"), std::string::npos) << st2.ToString();
}

}  // namespace
}  // namespace lsio::grib
