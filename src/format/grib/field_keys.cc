#include "lsio/format/grib/field_keys.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "concepts.h"

namespace lsio::grib {

namespace {

using internal::ConceptKey;
using internal::ConceptTables;
using internal::FieldConceptKeys;

// ------------------------------------------------------------------------- concept chains

// Which files a concept reads (ecCodes g2_concept_dir / parameters.def): conceptsDir1 is the
// centre's local directory and conceptsDir2 the master one; the local entries come first, so
// the master's win ties. For a dataset with its own concepts (TIGGE, ERA, ...) the dataset
// directory becomes the second, winning ties.
struct ConceptDirs {
  std::string dir1;  // evaluated first
  std::string dir2;  // evaluated second
};

ConceptDirs Dirs(const ConceptTables& tables, const Message& m, const FieldConceptKeys& keys) {
  const int dataset_file = tables.FindFile("grib2/section.4.def#datasetForLocal");
  std::optional<std::string_view> dataset = tables.Evaluate(-1, dataset_file, keys);
  if (dataset && *dataset != "unknown") {
    return {"grib2", "grib2/localConcepts/" + std::string(*dataset)};
  }
  return {"grib2/localConcepts/" + tables.CentreName(m.identification.centre), "grib2"};
}

std::optional<std::string_view> EvalPair(const ConceptTables& t, const std::string& first_dir,
                                         const std::string& second_dir, const std::string& file,
                                         const FieldConceptKeys& keys) {
  return t.Evaluate(t.FindFile(first_dir + "/" + file), t.FindFile(second_dir + "/" + file),
                    keys);
}

// ecCodes' mtg2_switch_default and the MTG2Switch concept (section.4.def): which generation of
// the parameter tables applies (0: *.lte33.def, 1: *.def, 2: *.chemsplit.def).
int64_t Mtg2Switch(const ConceptTables& t, const Message& m, const Field& f,
                   const ConceptDirs& dirs, const FieldConceptKeys& keys) {
  if (auto v = EvalPair(t, dirs.dir1, dirs.dir2, "MTG2SwitchConcept.def", keys)) {
    return std::strtoll(std::string(*v).c_str(), nullptr, 10);
  }
  const auto via = EvalPair(t, dirs.dir1, dirs.dir2, "MTG2SwitchViaTablesVersionConcept.def", keys);
  const bool via_tables_version = via && *via != "0" && *via != "false";
  if (!via_tables_version) return 1;
  if (m.identification.tables_version <= 33) return 0;
  if (f.mars_class >= 0) {
    const std::string_view cls = t.MarsClassName(f.mars_class);
    if (cls == "a5" || cls == "cr" || cls == "mc" || cls == "gg") return 2;
  }
  return 1;
}

std::string ParamFile(std::string_view concept_name, int64_t mtg2_switch) {
  std::string f(concept_name);
  if (mtg2_switch == 0) return f + ".lte33.def";
  if (mtg2_switch == 2) return f + ".chemsplit.def";
  return f + ".def";
}

// paramId, shortName, name, units: the concept over the field's directories, else the same
// over ECMWF's, else the legacy ECMWF tables, else the default.
std::string ParameterConcept(const ConceptTables& t, const ConceptDirs& dirs,
                             std::string_view concept_name, int64_t mtg2_switch,
                             const FieldConceptKeys& keys, std::string_view fallback) {
  const std::string file = ParamFile(concept_name, mtg2_switch);
  if (auto v = EvalPair(t, dirs.dir1, dirs.dir2, file, keys)) return std::string(*v);
  const std::string ecmf = "grib2/localConcepts/ecmf";
  if (auto v = EvalPair(t, ecmf, "grib2", file, keys)) return std::string(*v);
  const std::string legacy = std::string(concept_name) + ".legacy.def";
  if (auto v = EvalPair(t, ecmf, "grib2", legacy, keys)) return std::string(*v);
  return std::string(fallback);
}

// stepType (section.1.def) from stepTypeInternal (the point-in-time or statistical block).
std::string StepType(const ProductDefinition& p, int64_t mtg2_switch) {
  if (!p.has_statistics) return "instant";
  if (p.number_of_time_ranges != 1 && p.number_of_time_ranges != 2) return "multiple steps";
  const TimeRange& last = p.time_ranges.back();
  switch (last.type_of_statistical_processing) {
    case 255: return "instant";
    case 0:
      return mtg2_switch == 0 && last.type_of_time_increment == 1 ? "avgd" : "avg";
    case 1: return "accum";
    case 2: return "max";
    case 3: return "min";
    case 4: return "diff";
    case 5: return "rms";
    case 6: return "sd";
    case 7: return "cov";
    case 8: return "sdiff";
    case 9: return "ratio";
    case 10: return "stdanom";
    case 11: return "sum";
    case 100: return "severity";
    case 101: return "mode";
    case 102: return "index";
    default: return "unknown";
  }
}

// -------------------------------------------------------------------------------- level

struct Level {
  double value = 0;
  bool pa_units = false;  // ecCodes switched pressureUnits to "Pa"
};

// C's (long)x as x86-64 computes it (cvttsd2si): truncation, and INT64_MIN for NaN and values
// out of range, where C leaves the conversion undefined. ecCodes converts levels this way.
int64_t TruncateToLong(double x) {
  if (!(x > -9223372036854775808.0 && x < 9223372036854775808.0)) return INT64_MIN;
  return static_cast<int64_t>(x);
}

// ecCodes G2Level::unpack_double for one fixed surface.
Level G2Level(const FixedSurface& s, bool tigge) {
  Level out;
  const int64_t value_first = s.value.scaled_value;
  int64_t scale_first = s.value.scale_factor;
  if (value_first == kMissing) return out;
  double v = static_cast<double>(value_first);
  if (scale_first != kMissing) {
    if (s.type == 109) scale_first -= tigge ? 6 : 9;
    while (scale_first < 0 && v != 0) {
      v *= 10.0;
      scale_first++;
    }
    while (scale_first > 0 && v != 0) {
      v /= 10.0;
      scale_first--;
    }
  }
  if (s.type == 100) {
    const int64_t x = TruncateToLong(v / 100.0);
    if (scale_first == 0 && x == 0) {
      out.pa_units = true;
    } else {
      v = static_cast<double>(x);
    }
  }
  out.value = v;
  return out;
}

// -------------------------------------------------------------------------------- step

int64_t UnitSeconds(int64_t code) {
  switch (code) {
    case 0: return 60;
    case 1: return 3600;
    case 2: return 86400;
    case 3: return 2592000;
    case 4: return 31536000;
    case 5: return 315360000;
    case 6: return 946080000;
    case 7: return 3153600000;
    case 10: return 10800;
    case 11: return 21600;
    case 12: return 43200;
    case 13: return 1;
    case 14: return 900;
    case 15: return 1800;
    default: return 0;
  }
}

// ecCodes' Step after optimize_unit: the value in the largest of hour, minute, second that
// holds it exactly (a zero keeps its unit unless that is longer than an hour).
struct Step {
  int64_t value;
  int64_t unit;  // code table 4.4
};

Step Optimize(Step s) {
  if (s.value == 0) {
    if (UnitSeconds(s.unit) > 3600) s.unit = 1;
    return s;
  }
  const int64_t seconds = s.value * UnitSeconds(s.unit);
  const int64_t abs_seconds = seconds < 0 ? -seconds : seconds;
  for (const int64_t u : {int64_t{1}, int64_t{0}, int64_t{13}}) {
    if (abs_seconds % UnitSeconds(u) == 0) return {seconds / UnitSeconds(u), u};
  }
  return s;
}

int64_t Seconds(const Step& s) { return s.value * UnitSeconds(s.unit); }

// ecCodes find_common_units: the unit both steps are expressed in.
int64_t CommonUnit(const Step& a, const Step& b) {
  if (a.value == 0 && b.value == 0) {
    return UnitSeconds(a.unit) > UnitSeconds(b.unit) ? a.unit : b.unit;
  }
  if (b.value == 0) return a.unit;
  if (a.value == 0) return b.unit;
  for (const int64_t u : {int64_t{13}, int64_t{0}, int64_t{1}}) {
    if (UnitSeconds(u) == UnitSeconds(a.unit) || UnitSeconds(u) == UnitSeconds(b.unit)) return u;
  }
  return a.unit;
}

Step Sum(const Step& a, const Step& b) {
  const Step x = Optimize(a), y = Optimize(b);
  const int64_t unit = CommonUnit(x, y);
  return {(Seconds(x) + Seconds(y)) / UnitSeconds(unit), unit};
}

std::string FormatStep(int64_t value, int64_t unit) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%g", static_cast<double>(value));
  std::string s = buf;
  if (unit == 0) s += "m";
  if (unit == 13) s += "s";
  if (unit != 0 && unit != 1 && unit != 13) s += "?";
  return s;
}

// Days since an epoch for a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp + (mp < 10 ? 3 : -9);
  *y = yoe + era * 400 + (*m <= 2);
}

std::string GridType(const GridDefinition& g) {
  const bool pl_present = g.octets_for_optional_list != 0;
  const bool reduced = pl_present && g.octets_for_optional_list == 2 &&
                       !(g.resolution_flags & 0x20) && g.ni == kMissing;
  switch (g.template_number) {
    case 0: return pl_present ? (reduced ? "reduced_ll" : "unknown") : "regular_ll";
    case 1: return pl_present ? "unknown" : "rotated_ll";
    case 10: return "mercator";
    case 20: return "polar_stereographic";
    case 30: return "lambert";
    case 40: return pl_present ? (reduced ? "reduced_gg" : "unknown") : "regular_gg";
    case 41: return pl_present ? (reduced ? "reduced_rotated_gg" : "unknown") : "rotated_gg";
    case 50: return "sh";
    case 90: return "space_view";
    case 101: return "unstructured_grid";
    case 140: return "lambert_azimuthal_equal_area";
    default: return "unknown";
  }
}

struct Context {
  const ConceptTables& tables;
  FieldConceptKeys keys;
  ConceptDirs dirs;
  int64_t mtg2_switch;
};

ParameterNames Names(Context& c, const std::string& step_type) {
  c.keys.set_step_type(step_type);
  ParameterNames p;
  const std::string id =
      ParameterConcept(c.tables, c.dirs, "paramId", c.mtg2_switch, c.keys, "0");
  p.param_id = std::strtoll(id.c_str(), nullptr, 10);
  p.short_name =
      ParameterConcept(c.tables, c.dirs, "shortName", c.mtg2_switch, c.keys, "unknown");
  p.name = ParameterConcept(c.tables, c.dirs, "name", c.mtg2_switch, c.keys, "unknown");
  p.units = ParameterConcept(c.tables, c.dirs, "units", c.mtg2_switch, c.keys, "unknown");
  // cfName: cfName.def over the field's directories, then ECMWF's, then its legacy file.
  if (auto v = EvalPair(c.tables, c.dirs.dir1, c.dirs.dir2, "cfName.def", c.keys)) {
    p.cf_name = std::string(*v);
  } else if (auto w = EvalPair(c.tables, "grib2/localConcepts/ecmf", "grib2", "cfName.def",
                               c.keys)) {
    p.cf_name = std::string(*w);
  } else if (auto x = EvalPair(c.tables, "grib2/localConcepts/ecmf", "grib2", "cfName.legacy.def",
                               c.keys)) {
    p.cf_name = std::string(*x);
  } else {
    p.cf_name = "unknown";
  }
  // cfVarName (ECC-1886): cfVarName.def, else the short name, made a valid NetCDF name.
  if (auto v = EvalPair(c.tables, c.dirs.dir1, c.dirs.dir2, "cfVarName.def", c.keys)) {
    p.cf_var_name = std::string(*v);
  } else if (p.short_name == "~" ||
             (!p.short_name.empty() && std::isdigit(static_cast<unsigned char>(p.short_name[0])))) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "p%lld", static_cast<long long>(p.param_id));
    p.cf_var_name = buf;
  } else {
    p.cf_var_name = p.short_name;
  }
  return p;
}

Context MakeContext(const Message& message, const Field& field) {
  const ConceptTables& tables = ConceptTables::Get();
  Context c{tables, FieldConceptKeys(message, field), {}, 1};
  c.dirs = Dirs(tables, message, c.keys);
  c.mtg2_switch = Mtg2Switch(tables, message, field, c.dirs, c.keys);
  c.keys.set_mtg2_switch(c.mtg2_switch);
  return c;
}

}  // namespace

std::string_view ConceptTablesSource() { return ConceptTables::Get().source(); }

ParameterNames LookupParameter(const Message& message, size_t field_index) {
  if (field_index >= message.fields.size()) return ParameterNames{};
  const Field& field = message.fields[field_index];
  Context c = MakeContext(message, field);
  return Names(c, StepType(field.product, c.mtg2_switch));
}

Result<FieldKeys> ComputeFieldKeys(const Message& message, size_t field_index) {
  if (field_index >= message.fields.size()) {
    return InvalidArgumentError(DescribeMessage({message.index, message.offset}) + ": no field " +
                                std::to_string(field_index));
  }
  const Field& field = message.fields[field_index];
  const ProductDefinition& p = field.product;
  const Identification& id = message.identification;
  FieldKeys k;
  Context c = MakeContext(message, field);
  k.mtg2_switch = c.mtg2_switch;
  k.step_type = StepType(p, c.mtg2_switch);
  k.parameter = Names(c, k.step_type);
  k.centre = c.tables.CentreName(id.centre);
  k.grid_type = GridType(field.grid);

  // Level first: it may switch pressureUnits to Pa, which typeOfLevel then sees.
  if (p.has_horizontal) {
    const bool tigge = id.production_status == 4 || id.production_status == 5;
    const FixedSurface& s1 = p.first_surface;
    const FixedSurface& s2 = p.second_surface;
    const bool bottom = s1.type == s2.type &&
                        (s1.type == 151 || s1.type == 152 || s1.type == 168 || s1.type == 114);
    const Level first = G2Level(s1, tigge);
    const Level level = bottom ? G2Level(s2, tigge) : first;
    k.has_level = true;
    k.level = level.value;
    k.level_long = TruncateToLong(level.value + 0.5);
    if (first.pa_units) c.keys.set_pressure_units("Pa");
  }
  const int tol_file = c.tables.FindFile(c.dirs.dir1 + "/typeOfLevelConcept.def");
  const int tol_master = c.tables.FindFile(c.dirs.dir2 + "/typeOfLevelConcept.def");
  const auto tol = c.tables.Evaluate(tol_file, tol_master, c.keys);
  k.type_of_level = tol ? std::string(*tol) : "unknown";

  k.data_date = int64_t{id.year} * 10000 + id.month * 100 + id.day;
  k.data_time = int64_t{id.hour} * 100 + id.minute;
  k.reference_second = id.second;

  // Steps (stepUnits.def optimal_step_units, step_in_units, g2end_step).
  std::optional<Step> forecast, range;
  if (p.has_forecast_time) forecast = Step{p.forecast_time, p.unit_of_time_range};
  const TimeRange* last = p.time_ranges.empty() ? nullptr : &p.time_ranges.back();
  if (last) range = Step{last->length, last->unit_for_time_range};
  auto check_unit = [&](int64_t unit) -> Status {
    if (UnitSeconds(unit) == 0) {
      return NotSupportedError(DescribeMessage({message.index, message.offset}) + ", field " +
                               std::to_string(field_index) + ": time unit " +
                               std::to_string(unit) + " (code table 4.4)");
    }
    return Status::OK();
  };
  if (forecast) LSIO_RETURN_IF_ERROR(check_unit(forecast->unit));
  if (range) LSIO_RETURN_IF_ERROR(check_unit(range->unit));
  // Steps in seconds must fit in 64 bits (a 4-byte length in centuries does not).
  auto fits = [](const Step& s) {
    const __int128 v = static_cast<__int128>(s.value) * UnitSeconds(s.unit);
    return v > -(__int128{1} << 62) && v < (__int128{1} << 62);
  };
  if ((forecast && !fits(*forecast)) || (range && !fits(*range))) {
    return NotSupportedError(DescribeMessage({message.index, message.offset}) + ", field " +
                             std::to_string(field_index) + ": a step beyond 2^62 seconds");
  }
  int64_t step_units = 1;
  if (forecast && range) {
    const Step a = Optimize(*forecast);
    const Step b = Optimize(Sum(*forecast, *range));
    step_units = CommonUnit(a, b);
  } else if (forecast) {
    step_units = Optimize(*forecast).unit;
  } else if (range) {
    step_units = Optimize(*range).unit;
  }
  k.step_units = static_cast<int>(step_units);
  const int64_t unit_s = UnitSeconds(step_units);
  const int64_t start_seconds = forecast ? Seconds(*forecast) : 0;
  int64_t end_seconds = start_seconds;
  if (p.has_statistics && (p.number_of_time_ranges == 1 || p.number_of_time_ranges == 2)) {
    if (p.number_of_time_ranges == 1) {
      const bool add = !(last->type_of_time_increment == 1 && c.mtg2_switch == 0);
      if (add) end_seconds += Seconds(*range);
    } else {
      for (const TimeRange& t : p.time_ranges) {
        if (t.type_of_time_increment == 2) {
          LSIO_RETURN_IF_ERROR(check_unit(t.unit_for_time_range));
          const Step length{t.length, t.unit_for_time_range};
          if (!fits(length)) {
            return NotSupportedError(DescribeMessage({message.index, message.offset}) +
                                     ", field " + std::to_string(field_index) +
                                     ": a step beyond 2^62 seconds");
          }
          end_seconds += Seconds(length);
          break;
        }
      }
    }
  }
  k.start_step = start_seconds / unit_s;
  k.end_step = end_seconds / unit_s;
  k.end_step_seconds = end_seconds;
  k.step_range = FormatStep(k.end_step, step_units);
  if (k.start_step != k.end_step) {
    k.step_range = FormatStep(k.start_step, step_units) + "-" + k.step_range;
  }

  // validityDate/Time: the end of the overall interval for statistical products, else the
  // reference time plus the step (ecCodes converts the step to minutes).
  if (p.has_statistics) {
    k.validity_date = int64_t{p.end_year} * 10000 + p.end_month * 100 + p.end_day;
    k.validity_time = int64_t{p.end_hour} * 100 + p.end_minute;
  } else {
    const int64_t step_minutes = (p.has_forecast_time ? Seconds(*forecast) : 0) / 60;
    const int64_t minutes = id.minute + step_minutes;
    int64_t hours = id.hour + minutes / 60;
    int64_t day = DaysFromCivil(id.year, id.month, id.day);
    // ecCodes steps a day at a time; the same result by floor division.
    int64_t days = hours / 24;
    if (hours % 24 < 0) days -= 1;
    day += days;
    hours -= days * 24;
    int64_t y, mo, d;
    CivilFromDays(day, &y, &mo, &d);
    k.validity_date = y * 10000 + mo * 100 + d;
    k.validity_time = hours * 100 + minutes % 60;
  }

  if (p.has_ensemble) {
    k.has_number = true;
    k.number = p.perturbation_number;
  }
  return k;
}

}  // namespace lsio::grib
