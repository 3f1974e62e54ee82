#pragma once

// A GRIB2 message parsed into its sections and templates: what lsio knows about each field
// without decoding a value.
//
// A message is section 0 (indicator), 1 (identification), then one or more fields: each field
// is the data section 7 with the most recent sections 2 (local use), 3 (grid), 4 (product),
// 5 (data representation) and 6 (bitmap) before it. After a section 7 the message may go on
// with section 2, 3 or 4 (WMO's "repeated sections"), and a field whose section 6 says 254
// ("a bitmap defined earlier in this message applies") uses the last bitmap defined in the
// message. Section 8 is "7777".
//
// Numbers are kept as the message codes them (integers in their units, scale factors and
// scaled values), with two rules taken from ecCodes so that every comparison against it holds:
// signed integers are sign and magnitude, and an integer key that ecCodes declares "can be
// missing" reads as kMissing when all its bits are set. Derived quantities (degrees,
// coordinates, step, level, names) live in other headers (grid.h, field_keys.h, parameter.h).
//
// ParseMessage is a pure function over the message's bytes: it never touches a file and holds
// no pointer into the bytes (sections are offsets into the message), so a Message can outlive
// the buffer it was parsed from and be applied to a fresh read of the same bytes later.
//
// Thread safety: the types are plain values; ParseMessage is pure.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lsio/base/result.h"

namespace lsio::grib {

// ecCodes' GRIB_MISSING_LONG: the value of an all-ones integer that may be missing.
inline constexpr int64_t kMissing = 2147483647;

// A section's place inside its message. length == 0: absent.
struct Section {
  uint32_t offset = 0;  // from the start of the message ("G" of "GRIB")
  uint32_t length = 0;  // the section's own length field, header included
  bool present() const { return length != 0; }
  bool operator==(const Section&) const = default;
};

// Section 1.
struct Identification {
  uint16_t centre = 0;
  uint16_t sub_centre = 0;
  uint8_t tables_version = 0;
  uint8_t local_tables_version = 0;
  uint8_t significance_of_reference_time = 0;
  uint16_t year = 0;
  uint8_t month = 0, day = 0, hour = 0, minute = 0, second = 0;
  uint8_t production_status = 0;  // productionStatusOfProcessedData
  uint8_t type_of_data = 0;       // typeOfProcessedData
};

// A number coded as (scale factor, scaled value): value = scaled_value * 10^-scale_factor.
// Either part may be kMissing.
struct ScaledValue {
  int64_t scale_factor = kMissing;
  int64_t scaled_value = kMissing;
  bool operator==(const ScaledValue&) const = default;
};

// Section 3 and its template. Angles are in the template's units (micro-degrees unless a basic
// angle is given; see grid.h for degrees).
struct GridDefinition {
  uint8_t source = 0;  // sourceOfGridDefinition: 0 = a template follows
  uint32_t number_of_data_points = 0;
  uint8_t octets_for_optional_list = 0;  // numberOfOctectsForNumberOfPoints
  uint8_t interpretation_of_list = 0;    // interpretationOfNumberOfPoints
  uint16_t template_number = 0;
  // False for a template lsio does not parse (its fields below are then zero).
  bool template_supported = false;

  // Shape of the earth (every supported template starts with it).
  uint8_t shape_of_earth = 0;
  int64_t radius_scale_factor = kMissing, radius_scaled_value = kMissing;
  int64_t major_axis_scale_factor = kMissing, major_axis_scaled_value = kMissing;
  int64_t minor_axis_scale_factor = kMissing, minor_axis_scaled_value = kMissing;

  // 3.0 regular latitude/longitude and 3.40 Gaussian (Nx/Ny of 3.30 go to ni/nj too).
  int64_t ni = 0;  // kMissing for a reduced grid
  int64_t nj = 0;
  int64_t basic_angle = 0;
  int64_t subdivisions_of_basic_angle = kMissing;
  int64_t la1 = 0, lo1 = 0, la2 = 0, lo2 = 0;  // sign and magnitude, decoded
  uint8_t resolution_flags = 0;
  int64_t di = kMissing;  // iDirectionIncrement (3.0, 3.40)
  int64_t dj = kMissing;  // jDirectionIncrement (3.0)
  int64_t n = 0;          // 3.40: parallels between a pole and the equator
  uint8_t scanning_mode = 0;

  // 3.30 Lambert conformal.
  int64_t lad = 0, lov = 0;  // LaD, LoV
  int64_t dx = 0, dy = 0;    // DxInMetres * 1000, DyInMetres * 1000
  uint8_t projection_centre = 0;
  int64_t latin1 = 0, latin2 = 0;
  int64_t south_pole_lat = 0, south_pole_lon = 0;

  // The optional list of numbers of points per row (reduced grids): where it is in the
  // message, how many entries, bytes per entry. See ReadPointsPerRow.
  uint32_t pl_offset = 0;
  uint32_t pl_count = 0;
  uint8_t pl_width = 0;

  bool iscans_negatively() const { return scanning_mode & 0x80; }
  bool jscans_positively() const { return scanning_mode & 0x40; }
  bool jpoints_consecutive() const { return scanning_mode & 0x20; }
  bool alternative_row_scanning() const { return scanning_mode & 0x10; }
};

struct FixedSurface {
  uint8_t type = 255;
  ScaledValue value;  // scale factor signed, scaled value unsigned (ecCodes' declarations)
};

// One entry of the statistical-processing loop (templates 4.8, 4.11, ...).
struct TimeRange {
  uint8_t type_of_statistical_processing = 255;
  uint8_t type_of_time_increment = 2;
  uint8_t unit_for_time_range = 1;
  uint32_t length = 0;
  uint8_t unit_for_time_increment = 255;
  uint32_t increment = 0;
};

// Section 4 and its template, as the blocks ecCodes composes product templates from
// (parameter, generating process, forecast time, horizontal, ensemble, statistics, chemical,
// aerosol, ...). `has_*` say which blocks the template has.
struct ProductDefinition {
  uint16_t template_number = 0;
  uint16_t nv = 0;  // number of vertical coordinate values after the template
  // False for a template lsio does not parse; then only the parameter block is known
  // (octets 10-11 are category and number in every product template).
  bool template_supported = false;

  uint8_t parameter_category = 255;
  uint8_t parameter_number = 255;

  bool has_generating_process = false;
  uint8_t type_of_generating_process = 255;
  uint8_t background_process = 255;
  uint8_t generating_process_identifier = 255;

  bool has_forecast_time = false;
  int64_t hours_after_cutoff = kMissing;
  int64_t minutes_after_cutoff = kMissing;
  uint8_t unit_of_time_range = 1;  // indicatorOfUnitForForecastTime
  int64_t forecast_time = 0;

  bool has_horizontal = false;
  FixedSurface first_surface, second_surface;

  bool has_ensemble = false;  // eps (and leps: 4-byte members)
  uint8_t type_of_ensemble_forecast = 255;
  uint32_t perturbation_number = 0;
  uint32_t number_of_forecasts_in_ensemble = 0;

  bool has_derived = false;
  uint8_t derived_forecast = 255;

  bool has_probability = false;
  uint8_t forecast_probability_number = 0;
  uint8_t total_number_of_forecast_probabilities = 0;
  uint8_t probability_type = 255;
  ScaledValue lower_limit, upper_limit;  // both parts signed

  bool has_percentile = false;
  uint8_t percentile_value = 0;

  bool has_quantile = false;
  uint16_t total_number_of_quantiles = 0, quantile_value = 0;

  bool has_statistics = false;
  uint16_t end_year = 0;
  uint8_t end_month = 0, end_day = 0, end_hour = 0, end_minute = 0, end_second = 0;
  uint8_t number_of_time_ranges = 0;
  uint32_t number_missing_in_statistical_process = 0;
  std::vector<TimeRange> time_ranges;

  bool has_constituent = false;  // chemical and aerosol blocks
  uint16_t constituent_type = 0;
  bool has_source_sink = false;
  uint8_t source_sink_process = 255;
  bool has_distribution = false;
  uint16_t number_of_mode_of_distribution = 0, mode_number = 0, type_of_distribution_function = 0;
  bool has_size_interval = false;
  uint8_t type_of_size_interval = 255;
  ScaledValue first_size, second_size;  // signed
  bool has_wavelength = false;
  uint8_t type_of_wavelength_interval = 255;
  ScaledValue first_wavelength, second_wavelength;  // signed
  bool has_wave_period = false;
  uint8_t type_of_wave_period_interval = 255;
  ScaledValue lower_wave_period, upper_wave_period;  // scale factor signed, value unsigned
  bool has_reference_period = false;
  uint8_t type_of_reference_dataset = 255, type_of_relation_to_reference_dataset = 255;
  uint8_t number_of_additional_parameters_for_reference_period = 0;
  bool has_random_patterns = false;
  uint16_t random_field_number = 0, total_number_of_random_fields = 0;
  bool has_post_processing = false;
  uint16_t input_process_identifier = 0, input_originating_centre = 0;
  uint8_t type_of_post_processing = 0;
  bool has_reforecast = false;
  uint16_t model_version_year = 0;
  uint8_t model_version_month = 0, model_version_day = 0, model_version_hour = 0,
          model_version_minute = 0, model_version_second = 0;
};

// Section 5 and its template.
struct DataRepresentation {
  uint32_t number_of_values = 0;  // coded values (points present in the bitmap)
  uint16_t template_number = 0;
  bool template_supported = false;

  // 5.0, 5.2, 5.3, 5.40, 5.41, 5.42 (and 5.200's bits per value and decimal scale factor).
  uint32_t reference_value_bits = 0;  // the IEEE single as coded
  double reference_value = 0;         // as ecCodes reads it (grib_long_to_ieee)
  int64_t binary_scale_factor = 0;
  int64_t decimal_scale_factor = 0;
  uint8_t bits_per_value = 0;
  uint8_t type_of_original_values = 0;

  // 5.2, 5.3
  uint8_t group_splitting_method = 0;
  uint8_t missing_value_management = 0;
  uint32_t primary_missing_substitute = 0;
  uint32_t secondary_missing_substitute = 0;
  uint32_t number_of_groups = 0;
  uint8_t group_width_reference = 0;
  uint8_t group_width_bits = 0;
  uint32_t group_length_reference = 0;
  uint8_t group_length_increment = 0;
  uint32_t true_length_of_last_group = 0;
  uint8_t group_length_bits = 0;
  uint8_t order_of_spatial_differencing = 0;  // 0 for 5.2
  uint8_t extra_descriptor_octets = 0;        // 0 for 5.2

  uint8_t precision = 0;  // 5.4: 1 = IEEE single, 2 = double, 3 = quadruple

  uint8_t type_of_compression = 0;  // 5.40
  uint8_t target_compression_ratio = 255;

  uint8_t ccsds_flags = 0;  // 5.42
  uint8_t ccsds_block_size = 0;
  uint16_t ccsds_rsi = 0;

  uint16_t max_level_value = 0;        // 5.200
  uint16_t number_of_level_values = 0;
  uint32_t level_values_offset = 0;    // in the message; number_of_level_values 2-byte entries
};

// One field: a data section with the sections that describe it.
struct Field {
  uint32_t index = 0;  // within its message
  Section local_use;   // section 2 in force (may be absent)
  Section grid_section;
  Section product_section;
  Section data_representation_section;
  Section bitmap_section;  // this field's own section 6
  Section data_section;
  // The bitmap that applies: bitmap_section's when its indicator is 0; for 254 ("a bitmap
  // defined earlier applies") that of the last section 6 before it that was not 254 (as
  // ecCodes' multi-field reader does: if that one said 255, there is no bitmap); none for 255.
  // `bitmap_offset` is the first bitmap octet in the message and `bitmap_bytes` the octets
  // after the section header. A predefined bitmap (1-253) leaves has_bitmap false; decoding
  // refuses it.
  uint8_t bitmap_indicator = 255;          // as coded in this field's section 6
  uint8_t applied_bitmap_indicator = 255;  // the same, with 254 resolved
  bool has_bitmap = false;
  uint32_t bitmap_offset = 0;
  uint32_t bitmap_bytes = 0;
  // ECMWF's MARS class (mars/class.table code) from an ECMWF local section 2 (centre or
  // sub-centre 98), or -1. ecCodes' parameter and dataset concepts depend on it.
  int32_t mars_class = -1;
  int32_t mars_type = -1;  // likewise ECMWF's MARS type (mars/type.table code), or -1

  GridDefinition grid;
  ProductDefinition product;
  DataRepresentation data_representation;
};

// One message.
struct Message {
  uint32_t index = 0;   // message number in its file (0-based)
  uint64_t offset = 0;  // in its file
  uint64_t length = 0;
  uint8_t edition = 2;
  uint8_t discipline = 0;
  Identification identification;
  Section identification_section;
  std::vector<Field> fields;
};

// Where a message came from, for error messages and for the Message it returns.
struct MessageContext {
  uint32_t index = 0;   // message number in the file
  uint64_t offset = 0;  // byte offset of the message in the file
};

// Parses one GRIB2 message: `bytes` starts at "GRIB" and holds at least the whole message
// (more is ignored). Every section length is checked against the message and every template
// against its section; a template lsio does not know is recorded (template_supported =
// false), not an error.
// Errors (messages name the message number and the byte offset in the file):
//   NotSupported: edition 1 (lsio reads GRIB2 only), or another edition.
//   OutOfRange: the bytes end before the message does (truncated file).
//   CorruptData: no "GRIB", no "7777" where the length says, a section length that runs past
//     the message or is shorter than its header, sections out of order, a section shorter
//     than its template, a 254 bitmap with no earlier bitmap, no field.
Result<Message> ParseMessage(std::span<const std::byte> bytes, const MessageContext& context);

// The number of points in each row of a reduced grid (the optional list of section 3), read
// from the message's bytes. Empty when the grid has no list.
// Errors: CorruptData if the list does not fit the message.
Result<std::vector<uint32_t>> ReadPointsPerRow(std::span<const std::byte> message,
                                               const GridDefinition& grid);

// "message 3 (byte 123456)": the prefix every error about a message starts with.
std::string DescribeMessage(const MessageContext& context);

}  // namespace lsio::grib
