// The cfgrib view of every shared fixture against cfgrib's own (the .ref.json's "cfgrib"
// entries, written by cfgrib 0.9.15.1): the hypercubes, variable names, dimensions, shapes,
// coordinates (values, or first/last/min/max/sha256 for long ones) and every variable's float32
// values read through the view (sha256, count, NaN count, min, max, sum).

#include "lsio/format/grib/dataset_view.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "lsio/format/grib/decode.h"
#include "lsio/format/grib/grid.h"
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
  std::vector<Message> messages;  // GRIB2 messages, by message number
  std::vector<FieldRecord> records;
};

Parsed ParseAll(const std::string& path) {
  Parsed p;
  p.bytes = ReadFile(path);
  Result<std::vector<MessageExtent>> scanned = ScanMessages(p.bytes);
  EXPECT_TRUE(scanned.ok());
  p.messages.resize(scanned->size());
  for (size_t i = 0; i < scanned->size(); ++i) {
    const MessageExtent& e = (*scanned)[i];
    if (e.edition != 2) continue;
    const auto bytes = std::span(p.bytes).subspan(e.offset, e.length);
    Result<Message> m = ParseMessage(bytes, {static_cast<uint32_t>(i), e.offset});
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    p.messages[i] = std::move(*m);
    for (size_t f = 0; f < p.messages[i].fields.size(); ++f) {
      const FieldLocation loc{0, static_cast<uint32_t>(i), static_cast<uint32_t>(f)};
      Result<FieldRecord> r = DescribeField(bytes, p.messages[i], f, loc);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      p.records.push_back(std::move(*r));
    }
  }
  return p;
}

std::string Iso(int64_t seconds) {
  const int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
  int64_t rem = seconds - days * 86400;
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp + (mp < 10 ? 3 : -9);
  const int64_t y = yoe + era * 400 + (m <= 2);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60));
  return buf;
}

// The values of a coordinate as the reference stores them (as doubles; times as strings).
struct CoordValues {
  std::vector<double> numbers;
  std::vector<std::string> times;
};

CoordValues Values(const Parsed& p, const DatasetView& view, const Hypercube& h,
                   const Coordinate& c) {
  CoordValues out;
  switch (c.kind) {
    case CoordinateKind::kTime:
      for (int64_t t : c.ints) out.times.push_back(Iso(t));
      break;
    case CoordinateKind::kStep:
      for (int64_t s : c.ints) out.numbers.push_back(static_cast<double>(s));
      break;
    case CoordinateKind::kValue:
      out.numbers = c.values;
      break;
    case CoordinateKind::kGeography: {
      const FieldLocation loc = view.fields[h.geography_field];
      const Message& m = p.messages[loc.message];
      const auto bytes = std::span(p.bytes).subspan(m.offset, m.length);
      Result<GridCoordinates> g = ComputeGridCoordinates(bytes, m.fields[loc.field]);
      EXPECT_TRUE(g.ok()) << g.status().ToString();
      if (g.ok()) out.numbers = c.name == "latitude" ? g->latitudes : g->longitudes;
      break;
    }
  }
  return out;
}

// Reads a variable through the view: every present cell decoded into its slice, NaN elsewhere.
std::vector<float> ReadVariable(const Parsed& p, const DatasetView& view, const Variable& v) {
  size_t total = 1, grid = 1;
  for (size_t k = 0; k < v.shape.size(); ++k) {
    total *= static_cast<size_t>(v.shape[k]);
    if (k >= v.header_rank) grid *= static_cast<size_t>(v.shape[k]);
  }
  std::vector<float> out(total, std::numeric_limits<float>::quiet_NaN());
  DecodeScratch scratch;
  for (size_t cell = 0; cell < v.cells.size(); ++cell) {
    if (v.cells[cell] < 0) continue;
    const FieldLocation loc = view.fields[static_cast<size_t>(v.cells[cell])];
    const Message& m = p.messages[loc.message];
    const Status st = DecodeField(std::span(p.bytes).subspan(m.offset, m.length), m, loc.field,
                                  std::span(out).subspan(cell * grid, grid), scratch);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  return out;
}

struct Group {
  const Hypercube* hypercube;
  std::vector<const Variable*> variables;
};

// make_refs.py's entries: per hypercube, variables grouped by (typeOfLevel, stepType) in order
// of appearance; a group whose (typeOfLevel, stepType) is in several hypercubes is split into
// one entry per variable.
std::vector<Group> Entries(const DatasetView& view) {
  std::map<std::pair<std::string, std::string>, std::set<const Hypercube*>> owners;
  for (const Hypercube& h : view.hypercubes) {
    for (const Variable& v : h.variables) owners[{v.type_of_level, v.step_type}].insert(&h);
  }
  std::vector<Group> out;
  for (const Hypercube& h : view.hypercubes) {
    using Key = std::pair<std::string, std::string>;
    std::vector<std::pair<Key, std::vector<const Variable*>>> groups;
    for (const Variable& v : h.variables) {
      const std::pair<std::string, std::string> key{v.type_of_level, v.step_type};
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const auto& g) { return g.first == key; });
      if (it == groups.end()) {
        groups.push_back({key, {&v}});
      } else {
        it->second.push_back(&v);
      }
    }
    for (const auto& [key, vars] : groups) {
      if (owners[key].size() == 1) {
        out.push_back({&h, vars});
      } else {
        for (const Variable* v : vars) out.push_back({&h, {v}});
      }
    }
  }
  return out;
}

void CheckNumbers(const std::string& what, const std::vector<double>& got,
                  const nlohmann::json& want) {
  SCOPED_TRACE(what);
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

// Compares the view of a parsed file with cfgrib's entries (make_refs.py's format); returns
// the number of variables compared.
size_t CompareWithCfgrib(const Parsed& p, const nlohmann::json& want) {
  size_t variables_checked = 0;
  const DatasetView view = BuildDatasetView(p.records);
  const std::vector<Group> entries = Entries(view);
  EXPECT_EQ(entries.size(), want.size());
  if (entries.size() != want.size()) return 0;
  for (size_t e = 0; e < entries.size(); ++e) {
    SCOPED_TRACE("entry " + std::to_string(e) + " " + want[e]["filter_by_keys"].dump());
    const Group& g = entries[e];
    const nlohmann::json& w = want[e];
    // Variables, their dims and shapes.
    EXPECT_EQ(g.variables.size(), w["data_vars"].size());
    std::set<std::string> used_dims;
    for (const Variable* v : g.variables) {
      SCOPED_TRACE(v->name);
      if (!w["data_vars"].contains(v->name)) {
        ADD_FAILURE() << "cfgrib has no variable " << v->name;
        continue;
      }
      const nlohmann::json& wv = w["data_vars"][v->name];
      EXPECT_EQ(v->dims, wv["dims"].get<std::vector<std::string>>());
      EXPECT_EQ(v->shape, wv["shape"].get<std::vector<int64_t>>());
      EXPECT_EQ(v->parameter.param_id, wv["GRIB_paramId"].get<int64_t>());
      EXPECT_EQ(v->parameter.short_name, wv["GRIB_shortName"]);
      EXPECT_EQ(v->type_of_level, wv["GRIB_typeOfLevel"]);
      EXPECT_EQ(v->step_type, wv["GRIB_stepType"]);
      EXPECT_EQ(v->grid_type, wv["GRIB_gridType"]);
      for (const std::string& d : v->dims) used_dims.insert(d);
      // Values through the view.
      const std::vector<float> values = ReadVariable(p, view, *v);
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
      const nlohmann::json& st = wv["stats"];
      EXPECT_EQ(nan, st["nan_count"].get<size_t>());
      EXPECT_EQ(count, st["count"].get<size_t>());
      if (count) {
        EXPECT_EQ(mn, st["min"].get<double>());
        EXPECT_EQ(mx, st["max"].get<double>());
        EXPECT_NEAR(sum, st["sum"].get<double>(), 1e-9 * std::max(1.0, std::fabs(sum)));
      }
      ++variables_checked;
    }
    // The entry's dimensions.
    std::map<std::string, int64_t> dims;
    for (const Variable* v : g.variables) {
      for (size_t k = 0; k < v->dims.size(); ++k) dims[v->dims[k]] = v->shape[k];
    }
    std::map<std::string, int64_t> want_dims;
    for (const auto& [k, s] : w["dims"].items()) want_dims[k] = s.get<int64_t>();
    EXPECT_EQ(dims, want_dims);
    // Coordinates: those of the hypercube whose dims the entry's variables have.
    std::set<std::string> names;
    for (const Coordinate& c : g.hypercube->coordinates) {
      bool inside = true;
      for (const std::string& d : c.dims) inside &= used_dims.count(d) > 0;
      if (!inside) continue;
      names.insert(c.name);
      SCOPED_TRACE("coordinate " + c.name);
      if (!w["coords"].contains(c.name)) continue;  // reported by the name comparison below
      const nlohmann::json& wc = w["coords"][c.name];
      EXPECT_EQ(c.dims, wc["dims"].get<std::vector<std::string>>());
      const CoordValues got = Values(p, view, *g.hypercube, c);
      if (c.kind == CoordinateKind::kTime) {
        if (wc.contains("values")) {
          EXPECT_EQ(got.times, wc["values"].get<std::vector<std::string>>());
        } else if (!got.times.empty()) {
          EXPECT_EQ(got.times.front(), wc["first"].get<std::string>());
          EXPECT_EQ(got.times.back(), wc["last"].get<std::string>());
        }
      } else {
        CheckNumbers(c.name, got.numbers, wc);
      }
    }
    std::set<std::string> want_names;
    for (const auto& [k, _] : w["coords"].items()) want_names.insert(k);
    EXPECT_EQ(names, want_names);
  }
  return variables_checked;
}

TEST(GribDatasetView, EveryFixtureMatchesCfgrib) {
  size_t variables_checked = 0;
  for (const std::string& path : GribFiles(SharedGribDir())) {
    SCOPED_TRACE(BaseName(path));
    const nlohmann::json ref = RefFor(path);
    if (ref["cfgrib"].is_null() || path.ends_with(".grib")) continue;  // GRIB1: not read
    variables_checked += CompareWithCfgrib(ParseAll(path), ref["cfgrib"]);
  }
  EXPECT_GE(variables_checked, 60u);
}

TEST(GribDatasetView, GeneratedFilesMatchCfgribNow) {
  if (testing::GeneratedDir().empty()) GTEST_SKIP() << "LSIO_GRIB_FIXTURES not set";
  const nlohmann::json manifest = testing::ReadJson(testing::GeneratedDir() + "/manifest.json");
  size_t variables_checked = 0;
  for (const auto& file : manifest["files"]) {
    if (file["cfgrib"].is_null()) continue;
    SCOPED_TRACE(file["file"].get<std::string>());
    variables_checked +=
        CompareWithCfgrib(ParseAll(testing::GeneratedDir() + "/" + file["file"].get<std::string>()),
                          file["cfgrib"]);
  }
  EXPECT_GE(variables_checked, 20u);
}

TEST(GribDatasetView, PathsAreUniqueAndCellsPointAtTheirFields) {
  const Parsed p = ParseAll(SharedGribDir() + "/syn_hypercube.grib2");
  const DatasetView view = BuildDatasetView(p.records);
  std::set<std::string> paths;
  size_t present = 0, absent = 0;
  for (const Hypercube& h : view.hypercubes) {
    for (const Variable& v : h.variables) {
      EXPECT_TRUE(paths.insert(v.path).second) << v.path;
      for (int64_t c : v.cells) {
        if (c < 0) {
          ++absent;
          continue;
        }
        ++present;
        // The field in the cell has the variable's parameter, level type and step type.
        const FieldRecord& r = p.records[static_cast<size_t>(c)];
        EXPECT_EQ(r.keys.parameter.cf_var_name, v.name);
        EXPECT_EQ(r.keys.type_of_level, v.type_of_level);
        EXPECT_EQ(r.keys.step_type, v.step_type);
      }
    }
  }
  EXPECT_TRUE(paths.count("isobaricInhPa/instant/t"));
  EXPECT_TRUE(paths.count("surface/accum/tp"));
  // 137 messages fill 137 cells; the missing t field is the one absent cell.
  EXPECT_EQ(present, 137u);
  EXPECT_EQ(absent, 1u);
}

}  // namespace
}  // namespace lsio::grib
