#include "concepts.h"

#include <algorithm>
#include <array>
#include <unordered_map>

#include "concepts_data.h"

namespace lsio::grib::internal {

namespace {

struct KeyName {
  std::string_view name;
  ConceptKey key;
};

constexpr KeyName kKeyNames[] = {
    {"true", ConceptKey::kTrue},
    {"dummy", ConceptKey::kDummy},
    {"dummyc", ConceptKey::kDummyc},
    {"discipline", ConceptKey::kDiscipline},
    {"centre", ConceptKey::kCentre},
    {"subCentre", ConceptKey::kSubCentre},
    {"tablesVersion", ConceptKey::kTablesVersion},
    {"localTablesVersion", ConceptKey::kLocalTablesVersion},
    {"productionStatusOfProcessedData", ConceptKey::kProductionStatusOfProcessedData},
    {"marsClass", ConceptKey::kMarsClass},
    {"gridDefinitionTemplateNumber", ConceptKey::kGridDefinitionTemplateNumber},
    {"productDefinitionTemplateNumber", ConceptKey::kProductDefinitionTemplateNumber},
    {"parameterCategory", ConceptKey::kParameterCategory},
    {"parameterNumber", ConceptKey::kParameterNumber},
    {"typeOfGeneratingProcess", ConceptKey::kTypeOfGeneratingProcess},
    {"backgroundProcess", ConceptKey::kBackgroundProcess},
    {"generatingProcessIdentifier", ConceptKey::kGeneratingProcessIdentifier},
    {"typeOfFirstFixedSurface", ConceptKey::kTypeOfFirstFixedSurface},
    {"scaleFactorOfFirstFixedSurface", ConceptKey::kScaleFactorOfFirstFixedSurface},
    {"scaledValueOfFirstFixedSurface", ConceptKey::kScaledValueOfFirstFixedSurface},
    {"typeOfSecondFixedSurface", ConceptKey::kTypeOfSecondFixedSurface},
    {"scaleFactorOfSecondFixedSurface", ConceptKey::kScaleFactorOfSecondFixedSurface},
    {"scaledValueOfSecondFixedSurface", ConceptKey::kScaledValueOfSecondFixedSurface},
    {"typeOfStatisticalProcessing", ConceptKey::kTypeOfStatisticalProcessing},
    {"typeOfTimeIncrement", ConceptKey::kTypeOfTimeIncrement},
    {"indicatorOfUnitForTimeRange", ConceptKey::kIndicatorOfUnitForTimeRange},
    {"lengthOfTimeRange", ConceptKey::kLengthOfTimeRange},
    {"numberOfTimeRanges", ConceptKey::kNumberOfTimeRanges},
    {"constituentType", ConceptKey::kConstituentType},
    {"aerosolType", ConceptKey::kAerosolType},
    {"is_chemical", ConceptKey::kIsChemical},
    {"is_chemical_distfn", ConceptKey::kIsChemicalDistFn},
    {"is_chemical_srcsink", ConceptKey::kIsChemicalSrcSink},
    {"is_aerosol", ConceptKey::kIsAerosol},
    {"is_aerosol_optical", ConceptKey::kIsAerosolOptical},
    {"sourceSinkChemicalPhysicalProcess", ConceptKey::kSourceSinkChemicalPhysicalProcess},
    {"typeOfDistributionFunction", ConceptKey::kTypeOfDistributionFunction},
    {"modeNumber", ConceptKey::kModeNumber},
    {"numberOfModeOfDistribution", ConceptKey::kNumberOfModeOfDistribution},
    {"probabilityType", ConceptKey::kProbabilityType},
    {"scaleFactorOfLowerLimit", ConceptKey::kScaleFactorOfLowerLimit},
    {"scaledValueOfLowerLimit", ConceptKey::kScaledValueOfLowerLimit},
    {"scaleFactorOfUpperLimit", ConceptKey::kScaleFactorOfUpperLimit},
    {"scaledValueOfUpperLimit", ConceptKey::kScaledValueOfUpperLimit},
    {"typeOfSizeInterval", ConceptKey::kTypeOfSizeInterval},
    {"scaleFactorOfFirstSize", ConceptKey::kScaleFactorOfFirstSize},
    {"scaledValueOfFirstSize", ConceptKey::kScaledValueOfFirstSize},
    {"scaleFactorOfSecondSize", ConceptKey::kScaleFactorOfSecondSize},
    {"scaledValueOfSecondSize", ConceptKey::kScaledValueOfSecondSize},
    {"typeOfWavelengthInterval", ConceptKey::kTypeOfWavelengthInterval},
    {"scaleFactorOfFirstWavelength", ConceptKey::kScaleFactorOfFirstWavelength},
    {"scaledValueOfFirstWavelength", ConceptKey::kScaledValueOfFirstWavelength},
    {"scaleFactorOfSecondWavelength", ConceptKey::kScaleFactorOfSecondWavelength},
    {"scaledValueOfSecondWavelength", ConceptKey::kScaledValueOfSecondWavelength},
    {"typeOfWavePeriodInterval", ConceptKey::kTypeOfWavePeriodInterval},
    {"scaleFactorOfLowerWavePeriodLimit", ConceptKey::kScaleFactorOfLowerWavePeriodLimit},
    {"scaledValueOfLowerWavePeriodLimit", ConceptKey::kScaledValueOfLowerWavePeriodLimit},
    {"scaleFactorOfUpperWavePeriodLimit", ConceptKey::kScaleFactorOfUpperWavePeriodLimit},
    {"scaledValueOfUpperWavePeriodLimit", ConceptKey::kScaledValueOfUpperWavePeriodLimit},
    {"typeOfRelationToReferenceDataset", ConceptKey::kTypeOfRelationToReferenceDataset},
    {"numberOfAdditionalParametersForReferencePeriod",
     ConceptKey::kNumberOfAdditionalParametersForReferencePeriod},
    {"randomFieldNumber", ConceptKey::kRandomFieldNumber},
    {"typeOfPostProcessing", ConceptKey::kTypeOfPostProcessing},
    {"inputProcessIdentifier", ConceptKey::kInputProcessIdentifier},
    {"inputOriginatingCentre", ConceptKey::kInputOriginatingCentre},
    {"typeOfEnsembleForecast", ConceptKey::kTypeOfEnsembleForecast},
    {"perturbationNumber", ConceptKey::kPerturbationNumber},
    {"NV", ConceptKey::kNv},
    {"genVertHeightCoords", ConceptKey::kGenVertHeightCoords},
    {"pressureUnits", ConceptKey::kPressureUnits},
    {"stepType", ConceptKey::kStepType},
    {"MTG2Switch", ConceptKey::kMtg2Switch},
};

// ecCodes grib_util.cc grib2_is_PDTN_*.
bool IsChemical(int64_t t) { return t >= 40 && t <= 43; }
bool IsChemicalSourceSink(int64_t t) { return t >= 76 && t <= 79; }
bool IsChemicalDistFunc(int64_t t) { return t == 57 || t == 58 || t == 67 || t == 68; }
bool IsAerosol(int64_t t) { return (t >= 44 && t <= 50) || t == 85; }
bool IsAerosolOptical(int64_t t) { return t == 48 || t == 49; }
// Templates whose constituent comes from the aerosol block (which aliases aerosolType).
bool HasAerosolBlock(int64_t t) { return (t >= 44 && t <= 50) || (t >= 80 && t <= 85); }

ConceptValue Long(int64_t v) {
  ConceptValue c;
  c.defined = true;
  c.has_number = true;
  c.number = v;
  return c;
}
ConceptValue Text(std::string_view v) {
  ConceptValue c;
  c.defined = true;
  c.has_text = true;
  c.text = v;
  return c;
}
ConceptValue Absent() { return ConceptValue{}; }

}  // namespace

ConceptKey ConceptKeyByName(std::string_view name) {
  for (const KeyName& k : kKeyNames) {
    if (k.name == name) return k.key;
  }
  return ConceptKey::kUnknown;
}

FieldConceptKeys::FieldConceptKeys(const Message& message, const Field& field)
    : message_(message), field_(field) {
  for (const TimeRange& t : field.product.time_ranges) {
    statistical_processing_.push_back(t.type_of_statistical_processing);
  }
  if (field.mars_class >= 0) {
    mars_class_text_ = std::string(ConceptTables::Get().MarsClassName(field.mars_class));
  }
}

ConceptValue FieldConceptKeys::Get(ConceptKey key) const {
  const Identification& id = message_.identification;
  const ProductDefinition& p = field_.product;
  const int64_t pdtn = p.template_number;
  // The statistical loop's keys read the last time range (ecCodes finds the last accessor of
  // a repeated name).
  const TimeRange* last = p.time_ranges.empty() ? nullptr : &p.time_ranges.back();
  switch (key) {
    case ConceptKey::kUnknown: return Absent();
    case ConceptKey::kTrue: return Long(1);
    case ConceptKey::kDummy: return Long(1);
    case ConceptKey::kDummyc: return Long(0);
    case ConceptKey::kDiscipline: return Long(message_.discipline);
    case ConceptKey::kCentre: {
      ConceptValue v = Long(id.centre);
      return v;
    }
    case ConceptKey::kSubCentre: return Long(id.sub_centre);
    case ConceptKey::kTablesVersion: return Long(id.tables_version);
    case ConceptKey::kLocalTablesVersion: return Long(id.local_tables_version);
    case ConceptKey::kProductionStatusOfProcessedData: return Long(id.production_status);
    case ConceptKey::kMarsClass: {
      if (field_.mars_class < 0) return Absent();
      ConceptValue v = Long(field_.mars_class);
      v.has_text = true;
      v.text = mars_class_text_;
      return v;
    }
    case ConceptKey::kGridDefinitionTemplateNumber:
      return field_.grid_section.present() ? Long(field_.grid.template_number) : Absent();
    case ConceptKey::kProductDefinitionTemplateNumber: return Long(pdtn);
    case ConceptKey::kParameterCategory: return Long(p.parameter_category);
    case ConceptKey::kParameterNumber: return Long(p.parameter_number);
    case ConceptKey::kTypeOfGeneratingProcess:
      return p.has_generating_process ? Long(p.type_of_generating_process) : Absent();
    case ConceptKey::kBackgroundProcess:
      return p.has_generating_process ? Long(p.background_process) : Absent();
    case ConceptKey::kGeneratingProcessIdentifier:
      return p.has_generating_process ? Long(p.generating_process_identifier) : Absent();
    case ConceptKey::kTypeOfFirstFixedSurface:
      return p.has_horizontal ? Long(p.first_surface.type) : Absent();
    case ConceptKey::kScaleFactorOfFirstFixedSurface:
      return p.has_horizontal ? Long(p.first_surface.value.scale_factor) : Absent();
    case ConceptKey::kScaledValueOfFirstFixedSurface:
      return p.has_horizontal ? Long(p.first_surface.value.scaled_value) : Absent();
    case ConceptKey::kTypeOfSecondFixedSurface:
      return p.has_horizontal ? Long(p.second_surface.type) : Absent();
    case ConceptKey::kScaleFactorOfSecondFixedSurface:
      return p.has_horizontal ? Long(p.second_surface.value.scale_factor) : Absent();
    case ConceptKey::kScaledValueOfSecondFixedSurface:
      return p.has_horizontal ? Long(p.second_surface.value.scaled_value) : Absent();
    case ConceptKey::kTypeOfStatisticalProcessing:
      return last ? Long(last->type_of_statistical_processing) : Absent();
    case ConceptKey::kTypeOfTimeIncrement:
      return last ? Long(last->type_of_time_increment) : Absent();
    case ConceptKey::kIndicatorOfUnitForTimeRange:
      return last ? Long(last->unit_for_time_range) : Absent();
    case ConceptKey::kLengthOfTimeRange: return last ? Long(last->length) : Absent();
    case ConceptKey::kNumberOfTimeRanges:
      return p.has_statistics ? Long(p.number_of_time_ranges) : Absent();
    case ConceptKey::kConstituentType:
      return p.has_constituent ? Long(p.constituent_type) : Absent();
    case ConceptKey::kAerosolType:
      return p.has_constituent && HasAerosolBlock(pdtn) ? Long(p.constituent_type) : Absent();
    case ConceptKey::kIsChemical: return Long(IsChemical(pdtn));
    case ConceptKey::kIsChemicalDistFn: return Long(IsChemicalDistFunc(pdtn));
    case ConceptKey::kIsChemicalSrcSink: return Long(IsChemicalSourceSink(pdtn));
    case ConceptKey::kIsAerosol: return Long(IsAerosol(pdtn));
    case ConceptKey::kIsAerosolOptical: return Long(IsAerosolOptical(pdtn));
    case ConceptKey::kSourceSinkChemicalPhysicalProcess:
      return p.has_source_sink ? Long(p.source_sink_process) : Absent();
    case ConceptKey::kTypeOfDistributionFunction:
      return p.has_distribution ? Long(p.type_of_distribution_function) : Absent();
    case ConceptKey::kModeNumber: return p.has_distribution ? Long(p.mode_number) : Absent();
    case ConceptKey::kNumberOfModeOfDistribution:
      return p.has_distribution ? Long(p.number_of_mode_of_distribution) : Absent();
    case ConceptKey::kProbabilityType:
      return p.has_probability ? Long(p.probability_type) : Absent();
    case ConceptKey::kScaleFactorOfLowerLimit:
      return p.has_probability ? Long(p.lower_limit.scale_factor) : Absent();
    case ConceptKey::kScaledValueOfLowerLimit:
      return p.has_probability ? Long(p.lower_limit.scaled_value) : Absent();
    case ConceptKey::kScaleFactorOfUpperLimit:
      return p.has_probability ? Long(p.upper_limit.scale_factor) : Absent();
    case ConceptKey::kScaledValueOfUpperLimit:
      return p.has_probability ? Long(p.upper_limit.scaled_value) : Absent();
    case ConceptKey::kTypeOfSizeInterval:
      return p.has_size_interval ? Long(p.type_of_size_interval) : Absent();
    case ConceptKey::kScaleFactorOfFirstSize:
      return p.has_size_interval ? Long(p.first_size.scale_factor) : Absent();
    case ConceptKey::kScaledValueOfFirstSize:
      return p.has_size_interval ? Long(p.first_size.scaled_value) : Absent();
    case ConceptKey::kScaleFactorOfSecondSize:
      return p.has_size_interval ? Long(p.second_size.scale_factor) : Absent();
    case ConceptKey::kScaledValueOfSecondSize:
      return p.has_size_interval ? Long(p.second_size.scaled_value) : Absent();
    case ConceptKey::kTypeOfWavelengthInterval:
      return p.has_wavelength ? Long(p.type_of_wavelength_interval) : Absent();
    case ConceptKey::kScaleFactorOfFirstWavelength:
      return p.has_wavelength ? Long(p.first_wavelength.scale_factor) : Absent();
    case ConceptKey::kScaledValueOfFirstWavelength:
      return p.has_wavelength ? Long(p.first_wavelength.scaled_value) : Absent();
    case ConceptKey::kScaleFactorOfSecondWavelength:
      return p.has_wavelength ? Long(p.second_wavelength.scale_factor) : Absent();
    case ConceptKey::kScaledValueOfSecondWavelength:
      return p.has_wavelength ? Long(p.second_wavelength.scaled_value) : Absent();
    case ConceptKey::kTypeOfWavePeriodInterval:
      return p.has_wave_period ? Long(p.type_of_wave_period_interval) : Absent();
    case ConceptKey::kScaleFactorOfLowerWavePeriodLimit:
      return p.has_wave_period ? Long(p.lower_wave_period.scale_factor) : Absent();
    case ConceptKey::kScaledValueOfLowerWavePeriodLimit:
      return p.has_wave_period ? Long(p.lower_wave_period.scaled_value) : Absent();
    case ConceptKey::kScaleFactorOfUpperWavePeriodLimit:
      return p.has_wave_period ? Long(p.upper_wave_period.scale_factor) : Absent();
    case ConceptKey::kScaledValueOfUpperWavePeriodLimit:
      return p.has_wave_period ? Long(p.upper_wave_period.scaled_value) : Absent();
    case ConceptKey::kTypeOfRelationToReferenceDataset:
      return p.has_reference_period ? Long(p.type_of_relation_to_reference_dataset) : Absent();
    case ConceptKey::kNumberOfAdditionalParametersForReferencePeriod:
      return p.has_reference_period
                 ? Long(p.number_of_additional_parameters_for_reference_period)
                 : Absent();
    case ConceptKey::kRandomFieldNumber:
      return p.has_random_patterns ? Long(p.random_field_number) : Absent();
    case ConceptKey::kTypeOfPostProcessing:
      return p.has_post_processing ? Long(p.type_of_post_processing) : Absent();
    case ConceptKey::kInputProcessIdentifier:
      return p.has_post_processing ? Long(p.input_process_identifier) : Absent();
    case ConceptKey::kInputOriginatingCentre:
      return p.has_post_processing ? Long(p.input_originating_centre) : Absent();
    case ConceptKey::kTypeOfEnsembleForecast:
      return p.has_ensemble ? Long(p.type_of_ensemble_forecast) : Absent();
    case ConceptKey::kPerturbationNumber:
      return p.has_ensemble ? Long(p.perturbation_number) : Absent();
    case ConceptKey::kNv: return Long(p.nv);
    case ConceptKey::kGenVertHeightCoords:
      return Long(p.has_horizontal && p.first_surface.type == 150 ? 1 : 0);
    case ConceptKey::kPressureUnits: return Text(pressure_units_);
    case ConceptKey::kStepType: return step_type_.empty() ? Absent() : Text(step_type_);
    case ConceptKey::kMtg2Switch: return mtg2_switch_ ? Long(*mtg2_switch_) : Absent();
    case ConceptKey::kCount: return Absent();
  }
  return Absent();
}

// -------------------------------------------------------------------------------- tables

struct ConceptTables::Impl {
  struct Condition {
    ConceptKey key;
    uint32_t kind;
    uint32_t a;
    uint32_t b;
  };
  struct File {
    std::string_view path;
    uint32_t begin;
    uint32_t count;
    // Entries by (discipline, category, number) when the entry fixes all three, and the
    // others; both in file order.
    std::unordered_map<uint32_t, std::vector<uint32_t>> by_parameter;
    std::vector<uint32_t> other;
  };

  std::vector<Condition> conditions;
  std::vector<std::pair<uint32_t, uint32_t>> sets;      // begin, count
  std::vector<std::pair<uint32_t, uint32_t>> entries;   // value string, set
  std::vector<File> files;
  std::unordered_map<std::string_view, int> file_index;
  const uint32_t* ints = nullptr;
  std::unordered_map<int64_t, std::string_view> centres;
  std::unordered_map<int64_t, std::string_view> classes;
  std::unordered_map<int64_t, std::string_view> types;

  static std::string_view Str(uint32_t offset) {
    return std::string_view(kConceptStrings + offset);
  }

  bool Matches(uint32_t entry, const FieldConceptKeys& keys, int* count) const;
};

ConceptTables::ConceptTables() : impl_(new Impl) {
  Impl& t = *impl_;
  const uint32_t* h = kConceptHeader;
  const uint32_t* d = kConceptTables;
  const uint32_t n_keys = h[10];
  std::vector<ConceptKey> key_of(n_keys);
  for (uint32_t i = 0; i < n_keys; ++i) key_of[i] = ConceptKeyByName(Impl::Str(d[h[11] + i]));
  t.conditions.resize(h[0]);
  for (uint32_t i = 0; i < h[0]; ++i) {
    const uint32_t* c = d + h[1] + 4 * i;
    t.conditions[i] = {key_of[c[0]], c[1], c[2], c[3]};
  }
  t.sets.resize(h[2]);
  for (uint32_t i = 0; i < h[2]; ++i) t.sets[i] = {d[h[3] + 2 * i], d[h[3] + 2 * i + 1]};
  t.entries.resize(h[4]);
  for (uint32_t i = 0; i < h[4]; ++i) t.entries[i] = {d[h[5] + 2 * i], d[h[5] + 2 * i + 1]};
  t.ints = d + h[9];
  t.files.resize(h[6]);
  for (uint32_t i = 0; i < h[6]; ++i) {
    const uint32_t* f = d + h[7] + 3 * i;
    Impl::File& file = t.files[i];
    file.path = Impl::Str(f[0]);
    file.begin = f[1];
    file.count = f[2];
    t.file_index[file.path] = static_cast<int>(i);
    for (uint32_t e = file.begin; e < file.begin + file.count; ++e) {
      const auto [cond_begin, cond_count] = t.sets[t.entries[e].second];
      int64_t dcn[3] = {-1, -1, -1};
      for (uint32_t c = cond_begin; c < cond_begin + cond_count; ++c) {
        const Impl::Condition& cond = t.conditions[c];
        if (cond.kind != kConditionInt) continue;
        if (cond.key == ConceptKey::kDiscipline) dcn[0] = cond.a;
        if (cond.key == ConceptKey::kParameterCategory) dcn[1] = cond.a;
        if (cond.key == ConceptKey::kParameterNumber) dcn[2] = cond.a;
      }
      if (dcn[0] >= 0 && dcn[0] < 256 && dcn[1] >= 0 && dcn[1] < 256 && dcn[2] >= 0 &&
          dcn[2] < 256) {
        file.by_parameter[static_cast<uint32_t>((dcn[0] << 16) | (dcn[1] << 8) | dcn[2])]
            .push_back(e);
      } else {
        file.other.push_back(e);
      }
    }
  }
  for (uint32_t i = 0; i < h[12]; ++i) {
    t.centres[d[h[13] + 2 * i]] = Impl::Str(d[h[13] + 2 * i + 1]);
  }
  for (uint32_t i = 0; i < h[14]; ++i) {
    t.classes[d[h[15] + 2 * i]] = Impl::Str(d[h[15] + 2 * i + 1]);
  }
  for (uint32_t i = 0; i < h[16]; ++i) {
    t.types[d[h[17] + 2 * i]] = Impl::Str(d[h[17] + 2 * i + 1]);
  }
}

const ConceptTables& ConceptTables::Get() {
  static const ConceptTables* tables = new ConceptTables();
  return *tables;
}

int ConceptTables::FindFile(std::string_view path) const {
  auto it = impl_->file_index.find(path);
  return it == impl_->file_index.end() ? -1 : it->second;
}

std::string ConceptTables::CentreName(int64_t code) const {
  auto it = impl_->centres.find(code);
  return it == impl_->centres.end() ? std::to_string(code) : std::string(it->second);
}

std::string_view ConceptTables::MarsClassName(int64_t code) const {
  auto it = impl_->classes.find(code);
  return it == impl_->classes.end() ? std::string_view() : it->second;
}

std::string_view ConceptTables::MarsTypeName(int64_t code) const {
  auto it = impl_->types.find(code);
  return it == impl_->types.end() ? std::string_view() : it->second;
}

std::string_view ConceptTables::source() const { return kConceptSource; }

bool ConceptTables::Impl::Matches(uint32_t entry, const FieldConceptKeys& keys,
                                  int* count) const {
  const auto [begin, n] = sets[entries[entry].second];
  int cnt = 0;
  for (uint32_t c = begin; c < begin + n; ++c) {
    const Condition& cond = conditions[c];
    switch (cond.kind) {
      case kConditionInt:
      case kConditionMissing: {
        const ConceptValue v = keys.Get(cond.key);
        if (!v.defined || !v.has_number) return false;
        if (v.number != static_cast<int64_t>(static_cast<int32_t>(cond.a))) return false;
        cnt += 1;
        break;
      }
      case kConditionString: {
        const ConceptValue v = keys.Get(cond.key);
        if (!v.defined) return false;
        std::string text;
        std::string_view have = v.text;
        if (!v.has_text) {
          text = std::to_string(v.number);
          have = text;
        }
        if (have != Str(cond.a)) return false;
        cnt += 1;
        break;
      }
      case kConditionIntList: {
        // ecCodes compares the key's whole array; only typeOfStatisticalProcessing is an
        // array here, every other key has one value.
        std::vector<int64_t> have;
        if (cond.key == ConceptKey::kTypeOfStatisticalProcessing) {
          have = keys.statistical_processing();
        } else {
          const ConceptValue v = keys.Get(cond.key);
          if (!v.defined || !v.has_number) return false;
          have = {v.number};
        }
        if (have.size() != cond.b || have.empty()) return false;
        for (uint32_t i = 0; i < cond.b; ++i) {
          if (have[i] != static_cast<int64_t>(static_cast<int32_t>(ints[cond.a + i]))) {
            return false;
          }
        }
        cnt += static_cast<int>(cond.b);
        break;
      }
      case kConditionIsOneOf: {
        // `true = is_one_of(key, v...)`: holds when the key has one of the values.
        const ConceptValue v = keys.Get(cond.key);
        bool hit = false;
        if (v.defined && v.has_number) {
          for (uint32_t i = 0; i < cond.b; ++i) {
            hit |= v.number == static_cast<int64_t>(static_cast<int32_t>(ints[cond.a + i]));
          }
        }
        if (!hit) return false;
        cnt += 1;
        break;
      }
      default:
        return false;
    }
  }
  *count = cnt;
  return true;
}

std::optional<std::string_view> ConceptTables::Evaluate(int first, int second,
                                                        const FieldConceptKeys& keys) const {
  const Impl& t = *impl_;
  const Field& f = keys.field();
  const uint32_t dcn = (uint32_t{keys.message().discipline} << 16) |
                       (uint32_t{f.product.parameter_category} << 8) |
                       f.product.parameter_number;
  int best_count = 0;
  std::optional<std::string_view> best;
  for (int file : {first, second}) {
    if (file < 0) continue;
    const Impl::File& fl = t.files[file];
    static const std::vector<uint32_t> kNone;
    auto it = fl.by_parameter.find(dcn);
    const std::vector<uint32_t>& a = it == fl.by_parameter.end() ? kNone : it->second;
    const std::vector<uint32_t>& b = fl.other;
    // Both lists are in file order; visit their union in file order.
    size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
      uint32_t e;
      if (j >= b.size() || (i < a.size() && a[i] < b[j])) {
        e = a[i++];
      } else {
        e = b[j++];
      }
      int count = 0;
      if (t.Matches(e, keys, &count) && count >= best_count) {
        best_count = count;
        best = Impl::Str(t.entries[e].first);
      }
    }
  }
  return best;
}

}  // namespace lsio::grib::internal
