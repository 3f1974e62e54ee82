// cfgrib's dataset view (cfgrib/dataset.py build_dataset_components, xarray_store.py
// open_datasets/merge_datasets, messages.py FieldsetIndex), over FieldRecords.

#include "lsio/format/grib/dataset_view.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

#include "concepts.h"

namespace lsio::grib {

namespace {

// ecCodes' code table 1.4 abbreviations (grib2/tables/*/1.4.table; codes 9 and up vary by
// table version and print as their number).
std::string TypeOfDataAbbreviation(uint8_t code) {
  static const char* const kNames[] = {"an", "fc", "af", "cf", "pf", "cp", "sa", "ra", "ep"};
  if (code < 9) return kNames[code];
  return std::to_string(code);
}

uint64_t Fnv1a(std::span<const std::byte> bytes, size_t skip_index, uint8_t skip_mask) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < bytes.size(); ++i) {
    uint8_t b = static_cast<uint8_t>(bytes[i]);
    if (i == skip_index) b &= static_cast<uint8_t>(~skip_mask);
    h ^= b;
    h *= 1099511628211ull;
  }
  return h;
}

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// cfgrib's from_grib_date_time: seconds since 1970 of dataDate + dataTime (HHMM).
int64_t TimeSeconds(const FieldKeys& k) {
  const int64_t date = k.data_date, time = k.data_time;
  return DaysFromCivil(date / 10000, date / 100 % 100, date % 100) * 86400 + (time / 100) * 3600 +
         (time % 100) * 60;
}

// A header value: a number or "undef".
struct HeaderValue {
  bool defined = false;
  double v = 0;
  auto operator<=>(const HeaderValue&) const = default;
};

// cfgrib's index-key combination of a field (what FieldsetIndex groups fields by).
struct Combination {
  int edition;
  std::string centre;
  int64_t sub_centre;
  int64_t param_id;
  std::string data_type;
  uint64_t number_of_points;
  std::string type_of_level;
  std::string step_type;
  std::string grid_type;
  int uv;
  int64_t data_date, data_time, step;
  HeaderValue number, level;
  uint64_t grid_digest;
  auto operator<=>(const Combination&) const = default;
};

Combination CombinationOf(const FieldRecord& r) {
  const FieldKeys& k = r.keys;
  Combination c{r.edition,
                k.centre,
                r.sub_centre,
                k.parameter.param_id,
                r.data_type,
                r.number_of_points,
                k.type_of_level,
                k.step_type,
                k.grid_type,
                r.uv_relative_to_grid,
                k.data_date,
                k.data_time,
                k.end_step_seconds,
                {k.has_number, static_cast<double>(k.number)},
                {k.has_level, k.level},
                r.grid_digest};
  return c;
}

// The keys whose values must be unique within a variable, in cfgrib's order
// (DATA_ATTRIBUTES_KEYS, then GLOBAL_ATTRIBUTES_KEYS); stepUnits is always 1 in cfgrib and
// centreDescription follows centre.
using KeyOf = std::function<std::string(const FieldRecord&)>;
const std::vector<KeyOf>& UniqueKeys() {
  static const std::vector<KeyOf> keys = {
      [](const FieldRecord& r) { return r.data_type; },
      [](const FieldRecord& r) { return std::to_string(r.number_of_points); },
      [](const FieldRecord& r) { return r.keys.type_of_level; },
      [](const FieldRecord& r) { return r.keys.step_type; },
      [](const FieldRecord& r) { return r.keys.grid_type; },
      [](const FieldRecord& r) { return std::to_string(r.uv_relative_to_grid); },
      [](const FieldRecord& r) { return std::to_string(r.edition); },
      [](const FieldRecord& r) { return r.keys.centre; },
      [](const FieldRecord& r) { return std::to_string(r.sub_centre); },
  };
  return keys;
}

// raw_open_datasets: split a paramId's fields on the first key with several values, in the
// order the values first appear, recursively.
void Split(std::span<const FieldRecord> all, const std::vector<size_t>& set,
           std::vector<std::vector<size_t>>* out) {
  for (const KeyOf& key : UniqueKeys()) {
    std::vector<std::string> values;
    std::map<std::string, std::vector<size_t>> groups;
    for (size_t i : set) {
      std::string v = key(all[i]);
      auto [it, inserted] = groups.try_emplace(v);
      if (inserted) values.push_back(v);
      it->second.push_back(i);
    }
    if (values.size() > 1) {
      for (const std::string& v : values) Split(all, groups[v], out);
      return;
    }
  }
  out->push_back(set);
}

// One dataset before merging and squeezing (all header dimensions kept).
struct Dataset {
  std::vector<Variable> variables;
  std::vector<Coordinate> coordinates;
  std::vector<std::string> dim_names;
  std::vector<int64_t> dim_sizes;
  GridLayout layout;
  size_t geography_field;
  uint64_t grid_digest;
  int edition;
  std::string centre;
  int64_t sub_centre;
  std::string type_of_level;  // for grouping ("undef" when unknown)
};

const Coordinate* FindCoordinate(const Dataset& d, const std::string& name) {
  for (const Coordinate& c : d.coordinates) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

void AddDim(Dataset* d, const std::string& name, int64_t size) {
  if (std::find(d->dim_names.begin(), d->dim_names.end(), name) != d->dim_names.end()) return;
  d->dim_names.push_back(name);
  d->dim_sizes.push_back(size);
}

Dataset BuildVariable(std::span<const FieldRecord> all, const std::vector<size_t>& set) {
  const FieldRecord& first = all[set.front()];
  const FieldKeys& fk = first.keys;
  Dataset d;
  d.layout = first.layout;
  d.geography_field = set.front();
  d.grid_digest = first.grid_digest;
  d.edition = first.edition;
  d.centre = fk.centre;
  d.sub_centre = first.sub_centre;
  const bool tol_known = fk.type_of_level != "unknown" && fk.type_of_level != "undef";
  d.type_of_level = tol_known ? fk.type_of_level : "undef";

  Variable v;
  v.parameter = fk.parameter;
  v.type_of_level = fk.type_of_level;
  v.step_type = fk.step_type;
  v.grid_type = fk.grid_type;
  v.data_type = first.data_type;
  const std::string& cf = fk.parameter.cf_var_name;
  v.name = (cf != "unknown" && cf != "undef") ? cf : fk.parameter.short_name;

  // Header coordinates: number, time, step, level (cfgrib's coords_map order).
  struct Header {
    std::string name;
    CoordinateKind kind;
    bool descending;
    std::function<HeaderValue(const FieldRecord&)> value;
  };
  const std::string level_name = tol_known ? fk.type_of_level : "level";
  const bool level_descending = level_name == "isobaricInhPa" || level_name == "isobaricInPa";
  const std::vector<Header> headers = {
      {"number", CoordinateKind::kValue, false,
       [](const FieldRecord& r) {
         return HeaderValue{r.keys.has_number, static_cast<double>(r.keys.number)};
       }},
      {"time", CoordinateKind::kTime, false,
       [](const FieldRecord& r) {
         return HeaderValue{true, static_cast<double>(TimeSeconds(r.keys))};
       }},
      {"step", CoordinateKind::kStep, false,
       [](const FieldRecord& r) {
         return HeaderValue{true, static_cast<double>(r.keys.end_step_seconds)};
       }},
      {level_name, CoordinateKind::kValue, level_descending,
       [](const FieldRecord& r) { return HeaderValue{r.keys.has_level, r.keys.level}; }},
  };
  std::vector<std::vector<double>> dim_values;
  std::vector<const Header*> used;
  for (const Header& h : headers) {
    std::set<double> values;
    bool any = false;
    for (size_t i : set) {
      const HeaderValue hv = h.value(all[i]);
      if (hv.defined) {
        values.insert(hv.v);
        any = true;
      }
    }
    if (!any) continue;  // "undef" for every field: no such coordinate
    std::vector<double> sorted(values.begin(), values.end());
    if (h.descending) std::reverse(sorted.begin(), sorted.end());
    Coordinate c;
    c.name = h.name;
    c.dims = {h.name};
    c.kind = h.kind;
    for (double x : sorted) {
      if (h.kind == CoordinateKind::kValue) {
        c.values.push_back(x);
      } else {
        c.ints.push_back(static_cast<int64_t>(x));
      }
    }
    d.coordinates.push_back(c);
    v.dims.push_back(h.name);
    v.shape.push_back(static_cast<int64_t>(sorted.size()));
    dim_values.push_back(std::move(sorted));
    used.push_back(&h);
  }
  v.header_rank = v.dims.size();

  // Cells: cfgrib keeps, per combination of index keys (in order of first appearance), the
  // first field; a later combination landing on the same cell replaces an earlier one.
  size_t n_cells = 1;
  for (int64_t s : v.shape) n_cells *= static_cast<size_t>(s);
  v.cells.assign(n_cells, -1);
  std::map<Combination, size_t> first_of;
  std::vector<Combination> order;
  for (size_t i : set) {
    Combination c = CombinationOf(all[i]);
    if (first_of.emplace(c, i).second) order.push_back(c);
  }
  for (const Combination& c : order) {
    const FieldRecord& r = all[first_of[c]];
    size_t cell = 0;
    bool ok = true;
    for (size_t k = 0; k < used.size(); ++k) {
      const HeaderValue hv = used[k]->value(r);
      const std::vector<double>& vals = dim_values[k];
      auto it = std::find(vals.begin(), vals.end(), hv.v);
      if (!hv.defined || it == vals.end()) {
        ok = false;
        break;
      }
      cell = cell * vals.size() + static_cast<size_t>(it - vals.begin());
    }
    if (ok) v.cells[cell] = static_cast<int64_t>(first_of[c]);
  }

  for (size_t k = 0; k < v.dims.size(); ++k) AddDim(&d, v.dims[k], v.shape[k]);

  // Geography.
  std::vector<std::pair<std::string, int64_t>> geo;
  if (first.layout == GridLayout::kRegular) {
    geo = {{"latitude", first.ny}, {"longitude", first.nx}};
    d.coordinates.push_back({"latitude", {"latitude"}, CoordinateKind::kGeography, {}, {}});
    d.coordinates.push_back({"longitude", {"longitude"}, CoordinateKind::kGeography, {}, {}});
  } else if (first.layout == GridLayout::kProjected) {
    geo = {{"y", first.ny}, {"x", first.nx}};
    d.coordinates.push_back({"latitude", {"y", "x"}, CoordinateKind::kGeography, {}, {}});
    d.coordinates.push_back({"longitude", {"y", "x"}, CoordinateKind::kGeography, {}, {}});
  } else {
    geo = {{"values", static_cast<int64_t>(first.number_of_points)}};
    d.coordinates.push_back({"latitude", {"values"}, CoordinateKind::kGeography, {}, {}});
    d.coordinates.push_back({"longitude", {"values"}, CoordinateKind::kGeography, {}, {}});
  }
  for (const auto& [name, size] : geo) {
    v.dims.push_back(name);
    v.shape.push_back(size);
    AddDim(&d, name, size);
  }

  // valid_time = time + step, on (time, step).
  const Coordinate* time = FindCoordinate(d, "time");
  const Coordinate* step = FindCoordinate(d, "step");
  if (time && step) {
    Coordinate vt;
    vt.name = "valid_time";
    vt.dims = {"time", "step"};
    vt.kind = CoordinateKind::kTime;
    for (int64_t t : time->ints) {
      for (int64_t s : step->ints) vt.ints.push_back(t + s);
    }
    d.coordinates.push_back(vt);
  }
  d.variables.push_back(std::move(v));
  return d;
}

bool SameCoordinate(const Coordinate& a, const Coordinate& b) {
  return a.dims == b.dims && a.kind == b.kind && a.ints == b.ints && a.values == b.values;
}

// xr.merge([o, ds], join="exact", combine_attrs="identical") succeeds (see the header for the
// two places this is stricter than xarray).
bool CanMerge(const Dataset& o, const Dataset& ds) {
  if (o.edition != ds.edition || o.centre != ds.centre || o.sub_centre != ds.sub_centre) {
    return false;
  }
  for (const Variable& a : o.variables) {
    for (const Variable& b : ds.variables) {
      if (a.name == b.name) return false;
    }
  }
  for (const Coordinate& c : ds.coordinates) {
    const Coordinate* oc = FindCoordinate(o, c.name);
    if (!oc) continue;
    if (c.kind == CoordinateKind::kGeography) {
      if (oc->kind != CoordinateKind::kGeography || oc->dims != c.dims ||
          o.grid_digest != ds.grid_digest || o.layout != ds.layout) {
        return false;
      }
      continue;
    }
    if (!SameCoordinate(*oc, c)) return false;
  }
  // Dimensions without a coordinate (y, x, values) must agree in size.
  for (size_t i = 0; i < ds.dim_names.size(); ++i) {
    for (size_t j = 0; j < o.dim_names.size(); ++j) {
      if (o.dim_names[j] == ds.dim_names[i] && o.dim_sizes[j] != ds.dim_sizes[i]) return false;
    }
  }
  return true;
}

void Merge(Dataset* o, Dataset&& ds) {
  for (Variable& v : ds.variables) o->variables.push_back(std::move(v));
  for (Coordinate& c : ds.coordinates) {
    if (!FindCoordinate(*o, c.name)) o->coordinates.push_back(std::move(c));
  }
  for (size_t i = 0; i < ds.dim_names.size(); ++i) AddDim(o, ds.dim_names[i], ds.dim_sizes[i]);
}

// Dataset.squeeze(): every dimension of size 1 goes; its coordinate becomes a scalar.
Hypercube Squeeze(Dataset&& d) {
  std::set<std::string> gone;
  Hypercube h;
  for (size_t i = 0; i < d.dim_names.size(); ++i) {
    if (d.dim_sizes[i] == 1) {
      gone.insert(d.dim_names[i]);
    } else {
      h.dim_names.push_back(d.dim_names[i]);
      h.dim_sizes.push_back(d.dim_sizes[i]);
    }
  }
  for (Variable& v : d.variables) {
    Variable out = v;
    out.dims.clear();
    out.shape.clear();
    out.header_rank = 0;
    for (size_t k = 0; k < v.dims.size(); ++k) {
      if (gone.count(v.dims[k])) continue;
      out.dims.push_back(v.dims[k]);
      out.shape.push_back(v.shape[k]);
      if (k < v.header_rank) out.header_rank++;
    }
    h.variables.push_back(std::move(out));
  }
  for (Coordinate& c : d.coordinates) {
    std::vector<std::string> dims;
    for (const std::string& n : c.dims) {
      if (!gone.count(n)) dims.push_back(n);
    }
    c.dims = std::move(dims);
    h.coordinates.push_back(std::move(c));
  }
  h.layout = d.layout;
  h.geography_field = d.geography_field;
  h.edition = d.edition;
  h.centre = d.centre;
  h.sub_centre = d.sub_centre;
  return h;
}

}  // namespace

Result<FieldRecord> DescribeField(std::span<const std::byte> message_bytes, const Message& message,
                                  size_t field_index, FieldLocation location) {
  LSIO_ASSIGN_OR_RETURN(FieldKeys keys, ComputeFieldKeys(message, field_index));
  const Field& f = message.fields[field_index];
  FieldRecord r;
  r.location = location;
  r.edition = message.edition;
  r.sub_centre = message.identification.sub_centre;
  if (f.mars_type >= 0) {
    r.data_type = std::string(internal::ConceptTables::Get().MarsTypeName(f.mars_type));
    if (r.data_type.empty()) r.data_type = std::to_string(f.mars_type);
  } else {
    r.data_type = TypeOfDataAbbreviation(message.identification.type_of_data);
  }
  const GridDefinition& g = f.grid;
  r.number_of_points = g.number_of_data_points;
  r.uv_relative_to_grid = g.template_supported ? ((g.resolution_flags & 0x08) ? 1 : 0) : -1;
  const std::string& type = keys.grid_type;
  if (type == "regular_ll" || type == "regular_gg") {
    r.layout = GridLayout::kRegular;
  } else if (type == "rotated_ll" || type == "rotated_gg" || type == "lambert" ||
             type == "lambert_azimuthal_equal_area" || type == "albers" ||
             type == "polar_stereographic") {
    r.layout = GridLayout::kProjected;
  } else {
    r.layout = GridLayout::kUnstructured;
  }
  r.nx = g.ni == kMissing ? 0 : g.ni;
  r.ny = g.nj;
  // The grid section without its length and with the u/v-relative flag masked (it does not
  // change the coordinates).
  if (f.grid_section.present() &&
      f.grid_section.offset + f.grid_section.length <= message_bytes.size()) {
    const auto sec = message_bytes.subspan(f.grid_section.offset + 4, f.grid_section.length - 4);
    const bool flags_at_55 = g.template_number == 0 || g.template_number == 1 ||
                             g.template_number == 40 || g.template_number == 41;
    const size_t flag_index = flags_at_55 ? 50 : g.template_number == 30 ? 42 : SIZE_MAX;
    r.grid_digest = Fnv1a(sec, flag_index, 0x08);
  }
  r.keys = std::move(keys);
  return r;
}

DatasetView BuildDatasetView(std::span<const FieldRecord> fields) {
  DatasetView view;
  for (const FieldRecord& r : fields) view.fields.push_back(r.location);

  // open_variable_datasets: one group per paramId, ascending.
  std::map<int64_t, std::vector<size_t>> by_param;
  for (size_t i = 0; i < fields.size(); ++i) {
    by_param[fields[i].keys.parameter.param_id].push_back(i);
  }
  std::vector<Dataset> datasets;
  for (const auto& [param, set] : by_param) {
    std::vector<std::vector<size_t>> leaves;
    Split(fields, set, &leaves);
    for (const std::vector<size_t>& leaf : leaves) datasets.push_back(BuildVariable(fields, leaf));
  }

  // open_datasets: by typeOfLevel (sorted), merged in order.
  std::map<std::string, std::vector<size_t>> by_level;
  for (size_t i = 0; i < datasets.size(); ++i) by_level[datasets[i].type_of_level].push_back(i);
  std::set<std::string> paths;
  for (const auto& [level, indices] : by_level) {
    std::vector<Dataset> merged;
    for (size_t i : indices) {
      bool done = false;
      for (Dataset& o : merged) {
        if (CanMerge(o, datasets[i])) {
          Merge(&o, std::move(datasets[i]));
          done = true;
          break;
        }
      }
      if (!done) merged.push_back(std::move(datasets[i]));
    }
    for (Dataset& d : merged) {
      Hypercube h = Squeeze(std::move(d));
      for (Variable& v : h.variables) {
        const std::string base = v.type_of_level + "/" + v.step_type + "/" + v.name;
        std::string path = base;
        for (int k = 2; paths.count(path); ++k) path = base + "#" + std::to_string(k);
        paths.insert(path);
        v.path = path;
      }
      view.hypercubes.push_back(std::move(h));
    }
  }
  return view;
}

}  // namespace lsio::grib
