#pragma once

// The keys ecCodes gives a field that name it and place it in a dataset: parameter names,
// level, reference time, step, ensemble member, grid type. These are what cfgrib reads to
// build its dataset view, computed without ecCodes: names and typeOfLevel by evaluating
// ecCodes' concept tables (generated at build time from its definition files, see
// src/format/grib/tables/), the rest by copying the arithmetic of ecCodes' accessors
// (G2Level, OptimalStepUnits, StepInUnits, G2EndStep, G2StepRange, ValidityDate/Time).
//
// Thread safety: pure functions (the concept tables are built once, thread-safely).

#include <cstdint>
#include <string>
#include <string_view>

#include "lsio/base/result.h"
#include "lsio/format/grib/message.h"

namespace lsio::grib {

// ecCodes' parameter concepts for a field.
struct ParameterNames {
  int64_t param_id = 0;            // 0 when no table entry matches
  std::string short_name;          // "unknown" when none
  std::string name;                // "unknown" when none
  std::string units;               // "unknown" when none
  std::string cf_name;             // "unknown" when none
  std::string cf_var_name;         // cfgrib's variable name ("t2m" for 2t, "p<id>" when the
                                   // short name starts with a digit and has no cf entry)
  bool operator==(const ParameterNames&) const = default;
};

struct FieldKeys {
  ParameterNames parameter;
  std::string centre;  // the centre's abbreviation ("ecmf", "kwbc"), or its number

  // Level: typeOfLevel ("isobaricInhPa", "surface", ...; "unknown" when no concept entry
  // matches), and ecCodes' `level` as a double (cfgrib's "level:float") and as its long
  // (rounded as ecCodes rounds it). has_level is false when the product has no fixed surfaces.
  std::string type_of_level;
  bool has_level = false;
  double level = 0;
  int64_t level_long = 0;

  // Reference time (section 1): dataDate (YYYYMMDD), dataTime (HHMM), and seconds.
  int64_t data_date = 0;
  int64_t data_time = 0;
  int64_t reference_second = 0;

  // Step: stepType ("instant", "accum", "max", ...), stepUnits (code table 4.4: 0 minute,
  // 1 hour, 13 second), startStep and endStep in those units, and the end step in seconds
  // (cfgrib's "step"). step_range is ecCodes' stepRange string ("6", "0-6", "30m").
  std::string step_type;
  int step_units = 1;
  int64_t start_step = 0;
  int64_t end_step = 0;
  int64_t end_step_seconds = 0;
  std::string step_range;
  int64_t validity_date = 0;
  int64_t validity_time = 0;

  // Ensemble member (perturbationNumber) when the product has one.
  bool has_number = false;
  int64_t number = 0;

  // gridType ("regular_ll", "regular_gg", "reduced_gg", "lambert", ...).
  std::string grid_type;
  // ecCodes' MTG2Switch (which generation of parameter tables applies).
  int64_t mtg2_switch = 1;
};

// The keys of field `field_index` of `message`.
// Errors: InvalidArgument (no such field), NotSupported (a time unit ecCodes cannot convert,
// e.g. 255 "missing", where ecCodes fails too).
Result<FieldKeys> ComputeFieldKeys(const Message& message, size_t field_index);

// Only the parameter names (cheaper than ComputeFieldKeys when that is all one needs).
ParameterNames LookupParameter(const Message& message, size_t field_index);

// Where the concept tables came from, e.g. "ecCodes 2.50.0.33 (eccodeslib wheel)".
std::string_view ConceptTablesSource();

}  // namespace lsio::grib
