#include "templates.h"

#include <array>
#include <initializer_list>
#include <string>

#include "bytes.h"
#include "ieee.h"

namespace lsio::grib::internal {

namespace {

// ecCodes' integer keys: unsigned, or sign and magnitude; "can be missing" ones read as
// kMissing when every bit is set.
int64_t Unsigned(std::span<const std::byte> s, size_t at, int nbytes, bool can_be_missing) {
  const uint64_t v = ReadUnsigned(s.data() + at, nbytes);
  if (can_be_missing && v == (nbytes == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * nbytes)) - 1)) {
    return kMissing;
  }
  return static_cast<int64_t>(v);
}
int64_t Signed(std::span<const std::byte> s, size_t at, int nbytes, bool can_be_missing) {
  const uint64_t v = ReadUnsigned(s.data() + at, nbytes);
  if (can_be_missing && v == (uint64_t{1} << (8 * nbytes)) - 1) return kMissing;
  return SignMagnitude(s.data() + at, nbytes);
}

Status TemplateTooShort(const char* what, uint16_t number, size_t need, size_t have) {
  return CorruptDataError(std::string(what) + " template " + std::to_string(number) + " needs " +
                          std::to_string(need) + " bytes, the section has " +
                          std::to_string(have));
}

// Octets 15-30 of the grid templates that start with the shape of the earth.
void ParseEarth(std::span<const std::byte> s, GridDefinition* g) {
  g->shape_of_earth = U8(s, 14);
  g->radius_scale_factor = Unsigned(s, 15, 1, true);
  g->radius_scaled_value = Unsigned(s, 16, 4, true);
  g->major_axis_scale_factor = Unsigned(s, 20, 1, true);
  g->major_axis_scaled_value = Unsigned(s, 21, 4, true);
  g->minor_axis_scale_factor = Unsigned(s, 25, 1, true);
  g->minor_axis_scaled_value = Unsigned(s, 26, 4, true);
}

// Octets 31-55 of 3.0/3.1/3.40/3.41 (template.3.grid.def).
void ParseLatLonGrid(std::span<const std::byte> s, GridDefinition* g) {
  g->ni = Unsigned(s, 30, 4, true);
  g->nj = Unsigned(s, 34, 4, false);
  g->basic_angle = Unsigned(s, 38, 4, false);
  g->subdivisions_of_basic_angle = Unsigned(s, 42, 4, true);
  g->la1 = Signed(s, 46, 4, false);
  g->lo1 = Signed(s, 50, 4, false);
  g->resolution_flags = U8(s, 54);
  g->la2 = Signed(s, 55, 4, false);
  g->lo2 = Signed(s, 59, 4, false);
  g->di = Unsigned(s, 63, 4, true);
}

}  // namespace

Status ParseGridDefinition(std::span<const std::byte> message, Section section,
                           GridDefinition* grid) {
  const std::span<const std::byte> s = message.subspan(section.offset, section.length);
  GridDefinition g;
  g.source = U8(s, 5);
  g.number_of_data_points = U32(s, 6);
  g.octets_for_optional_list = U8(s, 10);
  g.interpretation_of_list = U8(s, 11);
  g.template_number = U16(s, 12);
  size_t template_end = 0;
  switch (g.template_number) {
    case 0:    // regular latitude/longitude
    case 1:    // rotated latitude/longitude
    case 40:   // Gaussian
    case 41: {  // rotated Gaussian
      const bool rotated = g.template_number == 1 || g.template_number == 41;
      template_end = rotated ? 84 : 72;
      if (s.size() < template_end) {
        return TemplateTooShort("grid definition", g.template_number, template_end, s.size());
      }
      ParseEarth(s, &g);
      ParseLatLonGrid(s, &g);
      if (g.template_number < 40) {
        g.dj = Unsigned(s, 67, 4, true);
      } else {
        g.n = Unsigned(s, 67, 4, false);
      }
      g.scanning_mode = U8(s, 71);
      if (rotated) {
        g.south_pole_lat = Signed(s, 72, 4, false);
        g.south_pole_lon = Signed(s, 76, 4, false);
        // octets 81-84: angle of rotation (IEEE), not used for coordinates here.
      }
      g.template_supported = true;
      break;
    }
    case 30: {  // Lambert conformal
      template_end = 81;
      if (s.size() < template_end) {
        return TemplateTooShort("grid definition", g.template_number, template_end, s.size());
      }
      ParseEarth(s, &g);
      g.ni = Unsigned(s, 30, 4, false);
      g.nj = Unsigned(s, 34, 4, false);
      g.la1 = Signed(s, 38, 4, false);
      g.lo1 = Unsigned(s, 42, 4, false);
      g.resolution_flags = U8(s, 46);
      g.lad = Signed(s, 47, 4, false);
      g.lov = Unsigned(s, 51, 4, false);
      g.dx = Unsigned(s, 55, 4, false);
      g.dy = Unsigned(s, 59, 4, false);
      g.projection_centre = U8(s, 63);
      g.scanning_mode = U8(s, 64);
      g.latin1 = Signed(s, 65, 4, false);
      g.latin2 = Signed(s, 69, 4, false);
      g.south_pole_lat = Signed(s, 73, 4, false);
      g.south_pole_lon = Unsigned(s, 77, 4, false);
      g.template_supported = true;
      break;
    }
    default:
      break;
  }
  if (g.template_supported && g.octets_for_optional_list != 0) {
    // ecCodes: pl[Nj] of 1, 2 or 3 bytes after the template.
    if (g.octets_for_optional_list > 3) {
      return CorruptDataError("the list of points per row has " +
                              std::to_string(g.octets_for_optional_list) +
                              "-byte entries (at most 3)");
    }
    const uint64_t count = static_cast<uint64_t>(g.nj);
    const uint64_t need = template_end + count * g.octets_for_optional_list;
    if (need > s.size()) {
      return CorruptDataError("the list of points per row (" + std::to_string(count) +
                              " entries) does not fit in the section (" +
                              std::to_string(s.size()) + " bytes)");
    }
    g.pl_offset = static_cast<uint32_t>(section.offset + template_end);
    g.pl_count = static_cast<uint32_t>(count);
    g.pl_width = g.octets_for_optional_list;
  }
  *grid = std::move(g);
  return Status::OK();
}

namespace {

// The blocks ecCodes composes product templates from (templates/template.4.*.def).
enum class Block : uint8_t {
  kGeneratingProcess,
  kForecastTime,
  kPointInTime,
  kHorizontal,
  kEps,
  kLeps,
  kDerived,
  kProbability,
  kPercentile,
  kStatistical,
  kChemical,  // also the aerosol block: a 2-byte constituentType
  kAerosolSize,
  kOptical,
  kSource,
  kDistribution,
  kWavePeriodRange,
  kReforecast,
  kReferencePeriod,
  kQuantile,
  kPostProc,
  kRandomPatterns,
  kSpatialProcessing,  // 4.15's three octets
};

struct TemplateBlocks {
  uint16_t number;
  std::initializer_list<Block> blocks;  // after the parameter block
};

using B = Block;
// Every product template whose blocks lsio parses, in the order of its definition file.
const TemplateBlocks kProductTemplates[] = {
    {0, {B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kHorizontal}},
    {1, {B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kHorizontal, B::kEps}},
    {2, {B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kHorizontal, B::kDerived}},
    {5, {B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kHorizontal,
         B::kProbability}},
    {6, {B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kHorizontal,
         B::kPercentile}},
    {7, {B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kHorizontal}},
    {8, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kStatistical}},
    {9, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kProbability,
         B::kStatistical}},
    {10, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kPercentile,
          B::kStatistical}},
    {11, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kEps, B::kStatistical}},
    {12, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kDerived,
          B::kStatistical}},
    {15, {B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kHorizontal,
          B::kSpatialProcessing}},
    {40, {B::kChemical, B::kGeneratingProcess, B::kForecastTime, B::kPointInTime,
          B::kHorizontal}},
    {41, {B::kChemical, B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kHorizontal,
          B::kEps}},
    {42, {B::kChemical, B::kGeneratingProcess, B::kForecastTime, B::kHorizontal,
          B::kStatistical}},
    {43, {B::kChemical, B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kEps,
          B::kStatistical}},
    {45, {B::kChemical, B::kAerosolSize, B::kGeneratingProcess, B::kForecastTime,
          B::kPointInTime, B::kHorizontal, B::kEps}},
    {46, {B::kChemical, B::kAerosolSize, B::kGeneratingProcess, B::kForecastTime,
          B::kHorizontal, B::kStatistical}},
    {47, {B::kChemical, B::kAerosolSize, B::kGeneratingProcess, B::kForecastTime,
          B::kHorizontal, B::kEps, B::kStatistical}},
    {48, {B::kChemical, B::kAerosolSize, B::kOptical, B::kGeneratingProcess, B::kForecastTime,
          B::kPointInTime, B::kHorizontal}},
    {49, {B::kChemical, B::kAerosolSize, B::kOptical, B::kGeneratingProcess, B::kForecastTime,
          B::kPointInTime, B::kHorizontal, B::kEps}},
    {50, {B::kChemical, B::kAerosolSize, B::kGeneratingProcess, B::kForecastTime,
          B::kPointInTime, B::kHorizontal}},
    {57, {B::kChemical, B::kDistribution, B::kGeneratingProcess, B::kForecastTime,
          B::kPointInTime, B::kHorizontal}},
    {58, {B::kChemical, B::kDistribution, B::kGeneratingProcess, B::kForecastTime,
          B::kPointInTime, B::kHorizontal, B::kEps}},
    {60, {B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kHorizontal, B::kEps,
          B::kReforecast}},
    {61, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kEps, B::kReforecast,
          B::kStatistical}},
    {67, {B::kChemical, B::kDistribution, B::kGeneratingProcess, B::kForecastTime,
          B::kHorizontal, B::kStatistical}},
    {68, {B::kChemical, B::kDistribution, B::kGeneratingProcess, B::kForecastTime,
          B::kHorizontal, B::kEps, B::kStatistical}},
    {70, {B::kPostProc, B::kGeneratingProcess, B::kForecastTime, B::kPointInTime,
          B::kHorizontal}},
    {71, {B::kPostProc, B::kGeneratingProcess, B::kForecastTime, B::kPointInTime,
          B::kHorizontal, B::kEps}},
    {72, {B::kPostProc, B::kGeneratingProcess, B::kForecastTime, B::kHorizontal,
          B::kStatistical}},
    {73, {B::kPostProc, B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kEps,
          B::kStatistical}},
    {76, {B::kChemical, B::kSource, B::kGeneratingProcess, B::kForecastTime, B::kPointInTime,
          B::kHorizontal}},
    {77, {B::kChemical, B::kSource, B::kGeneratingProcess, B::kForecastTime, B::kPointInTime,
          B::kHorizontal, B::kEps}},
    {78, {B::kChemical, B::kSource, B::kGeneratingProcess, B::kForecastTime, B::kHorizontal,
          B::kStatistical}},
    {79, {B::kChemical, B::kSource, B::kGeneratingProcess, B::kForecastTime, B::kHorizontal,
          B::kEps, B::kStatistical}},
    {80, {B::kChemical, B::kSource, B::kAerosolSize, B::kOptical, B::kGeneratingProcess,
          B::kForecastTime, B::kPointInTime, B::kHorizontal}},
    {81, {B::kChemical, B::kSource, B::kAerosolSize, B::kOptical, B::kGeneratingProcess,
          B::kForecastTime, B::kPointInTime, B::kHorizontal, B::kEps}},
    {82, {B::kChemical, B::kSource, B::kAerosolSize, B::kGeneratingProcess, B::kForecastTime,
          B::kHorizontal, B::kStatistical}},
    {83, {B::kChemical, B::kSource, B::kAerosolSize, B::kGeneratingProcess, B::kForecastTime,
          B::kHorizontal, B::kEps, B::kStatistical}},
    {84, {B::kChemical, B::kSource, B::kAerosolSize, B::kGeneratingProcess, B::kForecastTime,
          B::kHorizontal, B::kEps, B::kStatistical}},
    {85, {B::kChemical, B::kAerosolSize, B::kGeneratingProcess, B::kForecastTime,
          B::kHorizontal, B::kEps, B::kStatistical}},
    {86, {B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kHorizontal,
          B::kQuantile}},
    {87, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kQuantile,
          B::kStatistical}},
    {103, {B::kWavePeriodRange, B::kGeneratingProcess, B::kForecastTime, B::kPointInTime,
           B::kHorizontal}},
    {104, {B::kWavePeriodRange, B::kGeneratingProcess, B::kForecastTime, B::kPointInTime,
           B::kHorizontal, B::kEps}},
    {105, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kStatistical,
           B::kReferencePeriod}},
    {106, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kStatistical, B::kEps,
           B::kReferencePeriod}},
    {108, {B::kOptical, B::kGeneratingProcess, B::kForecastTime, B::kPointInTime,
           B::kHorizontal}},
    {109, {B::kOptical, B::kGeneratingProcess, B::kForecastTime, B::kPointInTime,
           B::kHorizontal, B::kEps}},
    {110, {B::kOptical, B::kGeneratingProcess, B::kForecastTime, B::kHorizontal,
           B::kStatistical}},
    {111, {B::kOptical, B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kEps,
           B::kStatistical}},
    {117, {B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kHorizontal, B::kLeps}},
    {118, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kLeps, B::kStatistical}},
    {128, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kPointInTime,
           B::kReferencePeriod}},
    {129, {B::kGeneratingProcess, B::kForecastTime, B::kHorizontal, B::kPointInTime, B::kEps,
           B::kReferencePeriod}},
    {143, {B::kGeneratingProcess, B::kForecastTime, B::kPointInTime, B::kRandomPatterns,
           B::kHorizontal, B::kLeps}},
};

const TemplateBlocks* FindProductTemplate(uint16_t number) {
  for (const TemplateBlocks& t : kProductTemplates) {
    if (t.number == number) return &t;
  }
  return nullptr;
}

// Reads blocks sequentially from a section, checking each against the section's end.
class BlockReader {
 public:
  explicit BlockReader(std::span<const std::byte> s) : s_(s) {}
  size_t pos() const { return pos_; }
  bool Has(size_t n) const { return pos_ + n <= s_.size(); }
  int64_t U(int n, bool can_be_missing = false) {
    const int64_t v = Unsigned(s_, pos_, n, can_be_missing);
    pos_ += n;
    return v;
  }
  int64_t S(int n, bool can_be_missing = false) {
    const int64_t v = Signed(s_, pos_, n, can_be_missing);
    pos_ += n;
    return v;
  }
  void Skip(size_t n) { pos_ += n; }

 private:
  std::span<const std::byte> s_;
  size_t pos_ = 0;
};

// Bytes a block needs at the reader's position (variable-length blocks peek at their counts).
size_t BlockSize(Block b, std::span<const std::byte> s, size_t pos) {
  auto peek = [&](size_t at) -> size_t { return at < s.size() ? U8(s, at) : 0; };
  switch (b) {
    case Block::kGeneratingProcess: return 3;
    case Block::kForecastTime: return 8;
    case Block::kPointInTime: return 0;
    case Block::kHorizontal: return 12;
    case Block::kEps: return 3;
    case Block::kLeps: return 9;
    case Block::kDerived: return 2;
    case Block::kProbability: return 13;
    case Block::kPercentile: return 1;
    case Block::kStatistical: return 12 + 12 * peek(pos + 7);
    case Block::kChemical: return 2;
    case Block::kAerosolSize: return 11;
    case Block::kOptical: return 11;
    case Block::kSource: return 1;
    case Block::kDistribution: return 7 + 5 * peek(pos + 6);
    case Block::kWavePeriodRange: return 11;
    case Block::kReforecast: return 7;
    case Block::kReferencePeriod: {
      const size_t n_add = peek(pos + 2);
      const size_t after_add = pos + 3 + 5 * n_add;
      return 3 + 5 * n_add + 12 + 6 * peek(after_add + 11);
    }
    case Block::kQuantile: return 4;
    case Block::kPostProc: return 5;
    case Block::kRandomPatterns: return 18;
    case Block::kSpatialProcessing: return 3;
  }
  return 0;
}

void ReadBlock(Block b, BlockReader& r, ProductDefinition* p) {
  switch (b) {
    case Block::kGeneratingProcess:
      p->has_generating_process = true;
      p->type_of_generating_process = static_cast<uint8_t>(r.U(1));
      p->background_process = static_cast<uint8_t>(r.U(1));
      p->generating_process_identifier = static_cast<uint8_t>(r.U(1));
      break;
    case Block::kForecastTime:
      p->has_forecast_time = true;
      p->hours_after_cutoff = r.U(2, true);
      p->minutes_after_cutoff = r.U(1, true);
      p->unit_of_time_range = static_cast<uint8_t>(r.U(1));
      p->forecast_time = r.S(4);
      break;
    case Block::kPointInTime:
      break;
    case Block::kHorizontal:
      p->has_horizontal = true;
      p->first_surface.type = static_cast<uint8_t>(r.U(1));
      p->first_surface.value.scale_factor = r.S(1, true);
      p->first_surface.value.scaled_value = r.U(4, true);
      p->second_surface.type = static_cast<uint8_t>(r.U(1));
      p->second_surface.value.scale_factor = r.S(1, true);
      p->second_surface.value.scaled_value = r.U(4, true);
      break;
    case Block::kEps:
      p->has_ensemble = true;
      p->type_of_ensemble_forecast = static_cast<uint8_t>(r.U(1));
      p->perturbation_number = static_cast<uint32_t>(r.U(1));
      p->number_of_forecasts_in_ensemble = static_cast<uint32_t>(r.U(1));
      break;
    case Block::kLeps:
      p->has_ensemble = true;
      p->type_of_ensemble_forecast = static_cast<uint8_t>(r.U(1));
      p->perturbation_number = static_cast<uint32_t>(r.U(4));
      p->number_of_forecasts_in_ensemble = static_cast<uint32_t>(r.U(4));
      break;
    case Block::kDerived:
      p->has_derived = true;
      p->derived_forecast = static_cast<uint8_t>(r.U(1));
      p->number_of_forecasts_in_ensemble = static_cast<uint32_t>(r.U(1));
      break;
    case Block::kProbability:
      p->has_probability = true;
      p->forecast_probability_number = static_cast<uint8_t>(r.U(1));
      p->total_number_of_forecast_probabilities = static_cast<uint8_t>(r.U(1));
      p->probability_type = static_cast<uint8_t>(r.U(1));
      p->lower_limit.scale_factor = r.S(1, true);
      p->lower_limit.scaled_value = r.S(4, true);
      p->upper_limit.scale_factor = r.S(1, true);
      p->upper_limit.scaled_value = r.S(4, true);
      break;
    case Block::kPercentile:
      p->has_percentile = true;
      p->percentile_value = static_cast<uint8_t>(r.U(1));
      break;
    case Block::kStatistical: {
      p->has_statistics = true;
      p->end_year = static_cast<uint16_t>(r.U(2));
      p->end_month = static_cast<uint8_t>(r.U(1));
      p->end_day = static_cast<uint8_t>(r.U(1));
      p->end_hour = static_cast<uint8_t>(r.U(1));
      p->end_minute = static_cast<uint8_t>(r.U(1));
      p->end_second = static_cast<uint8_t>(r.U(1));
      p->number_of_time_ranges = static_cast<uint8_t>(r.U(1));
      p->number_missing_in_statistical_process = static_cast<uint32_t>(r.U(4));
      p->time_ranges.resize(p->number_of_time_ranges);
      for (TimeRange& t : p->time_ranges) {
        t.type_of_statistical_processing = static_cast<uint8_t>(r.U(1));
        t.type_of_time_increment = static_cast<uint8_t>(r.U(1));
        t.unit_for_time_range = static_cast<uint8_t>(r.U(1));
        t.length = static_cast<uint32_t>(r.U(4));
        t.unit_for_time_increment = static_cast<uint8_t>(r.U(1));
        t.increment = static_cast<uint32_t>(r.U(4));
      }
      break;
    }
    case Block::kChemical:
      p->has_constituent = true;
      p->constituent_type = static_cast<uint16_t>(r.U(2));
      break;
    case Block::kAerosolSize:
      p->has_size_interval = true;
      p->type_of_size_interval = static_cast<uint8_t>(r.U(1));
      p->first_size.scale_factor = r.S(1);
      p->first_size.scaled_value = r.S(4);
      p->second_size.scale_factor = r.S(1, true);
      p->second_size.scaled_value = r.S(4, true);
      break;
    case Block::kOptical:
      p->has_wavelength = true;
      p->type_of_wavelength_interval = static_cast<uint8_t>(r.U(1));
      p->first_wavelength.scale_factor = r.S(1);
      p->first_wavelength.scaled_value = r.S(4);
      p->second_wavelength.scale_factor = r.S(1, true);
      p->second_wavelength.scaled_value = r.S(4, true);
      break;
    case Block::kSource:
      p->has_source_sink = true;
      p->source_sink_process = static_cast<uint8_t>(r.U(1));
      break;
    case Block::kDistribution: {
      p->has_distribution = true;
      p->number_of_mode_of_distribution = static_cast<uint16_t>(r.U(2));
      p->mode_number = static_cast<uint16_t>(r.U(2));
      p->type_of_distribution_function = static_cast<uint16_t>(r.U(2));
      const int64_t n = r.U(1);
      r.Skip(static_cast<size_t>(5 * n));
      break;
    }
    case Block::kWavePeriodRange:
      p->has_wave_period = true;
      p->type_of_wave_period_interval = static_cast<uint8_t>(r.U(1));
      p->lower_wave_period.scale_factor = r.S(1, true);
      p->lower_wave_period.scaled_value = r.U(4, true);
      p->upper_wave_period.scale_factor = r.S(1, true);
      p->upper_wave_period.scaled_value = r.U(4, true);
      break;
    case Block::kReforecast:
      p->has_reforecast = true;
      p->model_version_year = static_cast<uint16_t>(r.U(2));
      p->model_version_month = static_cast<uint8_t>(r.U(1));
      p->model_version_day = static_cast<uint8_t>(r.U(1));
      p->model_version_hour = static_cast<uint8_t>(r.U(1));
      p->model_version_minute = static_cast<uint8_t>(r.U(1));
      p->model_version_second = static_cast<uint8_t>(r.U(1));
      break;
    case Block::kReferencePeriod: {
      p->has_reference_period = true;
      p->type_of_reference_dataset = static_cast<uint8_t>(r.U(1));
      p->type_of_relation_to_reference_dataset = static_cast<uint8_t>(r.U(1));
      p->number_of_additional_parameters_for_reference_period = static_cast<uint8_t>(r.U(1));
      r.Skip(5 * size_t{p->number_of_additional_parameters_for_reference_period});
      r.Skip(7 + 4);  // start of the reference period, sample size
      const int64_t n = r.U(1);
      r.Skip(static_cast<size_t>(6 * n));
      break;
    }
    case Block::kQuantile:
      p->has_quantile = true;
      p->total_number_of_quantiles = static_cast<uint16_t>(r.U(2));
      p->quantile_value = static_cast<uint16_t>(r.U(2));
      break;
    case Block::kPostProc:
      p->has_post_processing = true;
      p->input_process_identifier = static_cast<uint16_t>(r.U(2));
      p->input_originating_centre = static_cast<uint16_t>(r.U(2));
      p->type_of_post_processing = static_cast<uint8_t>(r.U(1));
      break;
    case Block::kRandomPatterns:
      p->has_random_patterns = true;
      p->random_field_number = static_cast<uint16_t>(r.U(2));
      p->total_number_of_random_fields = static_cast<uint16_t>(r.U(2));
      r.Skip(14);
      break;
    case Block::kSpatialProcessing:
      r.Skip(3);
      break;
  }
}

}  // namespace

Status ParseProductDefinition(std::span<const std::byte> message, Section section,
                              ProductDefinition* product) {
  const std::span<const std::byte> s = message.subspan(section.offset, section.length);
  ProductDefinition p;
  p.nv = U16(s, 5);
  p.template_number = U16(s, 7);
  // Every template starts with parameterCategory and parameterNumber.
  if (s.size() < 11) return TemplateTooShort("product definition", p.template_number, 11, s.size());
  p.parameter_category = U8(s, 9);
  p.parameter_number = U8(s, 10);
  const TemplateBlocks* blocks = FindProductTemplate(p.template_number);
  if (blocks != nullptr) {
    BlockReader r(s);
    r.Skip(11);
    for (Block b : blocks->blocks) {
      const size_t need = BlockSize(b, s, r.pos());
      if (!r.Has(need)) {
        return TemplateTooShort("product definition", p.template_number, r.pos() + need,
                                s.size());
      }
      ReadBlock(b, r, &p);
    }
    // The vertical coordinate values (NV IEEE singles) follow the template.
    if (r.pos() + 4 * size_t{p.nv} > s.size()) {
      return CorruptDataError("product definition template " +
                              std::to_string(p.template_number) + " with " +
                              std::to_string(p.nv) + " vertical coordinates needs " +
                              std::to_string(r.pos() + 4 * size_t{p.nv}) +
                              " bytes, the section has " + std::to_string(s.size()));
    }
    p.template_supported = true;
  }
  *product = std::move(p);
  return Status::OK();
}

Status ParseDataRepresentation(std::span<const std::byte> message, Section section,
                               DataRepresentation* drs) {
  const std::span<const std::byte> s = message.subspan(section.offset, section.length);
  DataRepresentation d;
  d.number_of_values = U32(s, 5);
  d.template_number = U16(s, 9);
  auto need = [&](size_t n) -> Status {
    if (s.size() < n) {
      return TemplateTooShort("data representation", d.template_number, n, s.size());
    }
    return Status::OK();
  };
  auto packing = [&]() {
    d.reference_value_bits = U32(s, 11);
    d.reference_value = EccodesIeeeToDouble(d.reference_value_bits);
    d.binary_scale_factor = S16(s, 15);
    d.decimal_scale_factor = S16(s, 17);
    d.bits_per_value = U8(s, 19);
    d.type_of_original_values = U8(s, 20);
  };
  switch (d.template_number) {
    case 0:
    case 41:
      LSIO_RETURN_IF_ERROR(need(21));
      packing();
      d.template_supported = true;
      break;
    case 2:
    case 3:
      LSIO_RETURN_IF_ERROR(need(d.template_number == 2 ? 47 : 49));
      packing();
      d.group_splitting_method = U8(s, 21);
      d.missing_value_management = U8(s, 22);
      d.primary_missing_substitute = U32(s, 23);
      d.secondary_missing_substitute = U32(s, 27);
      d.number_of_groups = U32(s, 31);
      d.group_width_reference = U8(s, 35);
      d.group_width_bits = U8(s, 36);
      d.group_length_reference = U32(s, 37);
      d.group_length_increment = U8(s, 41);
      d.true_length_of_last_group = U32(s, 42);
      d.group_length_bits = U8(s, 46);
      if (d.template_number == 3) {
        d.order_of_spatial_differencing = U8(s, 47);
        d.extra_descriptor_octets = U8(s, 48);
      }
      d.template_supported = true;
      break;
    case 4:
      LSIO_RETURN_IF_ERROR(need(12));
      d.precision = U8(s, 11);
      d.template_supported = true;
      break;
    case 40:
      LSIO_RETURN_IF_ERROR(need(23));
      packing();
      d.type_of_compression = U8(s, 21);
      d.target_compression_ratio = U8(s, 22);
      d.template_supported = true;
      break;
    case 42:
      LSIO_RETURN_IF_ERROR(need(25));
      packing();
      d.ccsds_flags = U8(s, 21);
      d.ccsds_block_size = U8(s, 22);
      d.ccsds_rsi = U16(s, 23);
      d.template_supported = true;
      break;
    case 200: {
      LSIO_RETURN_IF_ERROR(need(17));
      d.bits_per_value = U8(s, 11);
      d.max_level_value = U16(s, 12);
      d.number_of_level_values = U16(s, 14);
      d.decimal_scale_factor = U8(s, 16);  // unsigned here; ecCodes maps >127 to negative
      LSIO_RETURN_IF_ERROR(need(17 + 2 * size_t{d.number_of_level_values}));
      d.level_values_offset = section.offset + 17;
      d.template_supported = true;
      break;
    }
    default:
      break;
  }
  *drs = d;
  return Status::OK();
}

}  // namespace lsio::grib::internal
