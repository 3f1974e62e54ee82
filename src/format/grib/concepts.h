#pragma once

// ecCodes' "concepts" (a value chosen by matching key conditions, e.g. paramId, shortName,
// typeOfLevel) evaluated over the tables generated from its definition files.
//
// A concept file is a list of entries `value = {key=v; key=v; ...}`. ecCodes evaluates a
// concept over the entries of two files (a "local" one, then a "master" one) and picks, among
// the entries whose every condition holds, the one with the most conditions; on a tie the later
// entry wins (accessor/Concept.cc concept_evaluate). The conditions test keys of the message;
// FieldConceptKeys computes those keys for one field the way ecCodes' accessors do. A key lsio
// does not compute (say, a satellite template's keys) is "not defined", and a condition on it
// fails, as it does in ecCodes for a message without that key.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/format/grib/message.h"

namespace lsio::grib::internal {

// The keys conditions test, by name.
enum class ConceptKey : uint8_t {
  kUnknown,
  kTrue,
  kDummy,
  kDummyc,
  kDiscipline,
  kCentre,
  kSubCentre,
  kTablesVersion,
  kLocalTablesVersion,
  kProductionStatusOfProcessedData,
  kMarsClass,
  kGridDefinitionTemplateNumber,
  kProductDefinitionTemplateNumber,
  kParameterCategory,
  kParameterNumber,
  kTypeOfGeneratingProcess,
  kBackgroundProcess,
  kGeneratingProcessIdentifier,
  kTypeOfFirstFixedSurface,
  kScaleFactorOfFirstFixedSurface,
  kScaledValueOfFirstFixedSurface,
  kTypeOfSecondFixedSurface,
  kScaleFactorOfSecondFixedSurface,
  kScaledValueOfSecondFixedSurface,
  kTypeOfStatisticalProcessing,
  kTypeOfTimeIncrement,
  kIndicatorOfUnitForTimeRange,
  kLengthOfTimeRange,
  kNumberOfTimeRanges,
  kConstituentType,
  kAerosolType,
  kIsChemical,
  kIsChemicalDistFn,
  kIsChemicalSrcSink,
  kIsAerosol,
  kIsAerosolOptical,
  kSourceSinkChemicalPhysicalProcess,
  kTypeOfDistributionFunction,
  kModeNumber,
  kNumberOfModeOfDistribution,
  kProbabilityType,
  kScaleFactorOfLowerLimit,
  kScaledValueOfLowerLimit,
  kScaleFactorOfUpperLimit,
  kScaledValueOfUpperLimit,
  kTypeOfSizeInterval,
  kScaleFactorOfFirstSize,
  kScaledValueOfFirstSize,
  kScaleFactorOfSecondSize,
  kScaledValueOfSecondSize,
  kTypeOfWavelengthInterval,
  kScaleFactorOfFirstWavelength,
  kScaledValueOfFirstWavelength,
  kScaleFactorOfSecondWavelength,
  kScaledValueOfSecondWavelength,
  kTypeOfWavePeriodInterval,
  kScaleFactorOfLowerWavePeriodLimit,
  kScaledValueOfLowerWavePeriodLimit,
  kScaleFactorOfUpperWavePeriodLimit,
  kScaledValueOfUpperWavePeriodLimit,
  kTypeOfRelationToReferenceDataset,
  kNumberOfAdditionalParametersForReferencePeriod,
  kRandomFieldNumber,
  kTypeOfPostProcessing,
  kInputProcessIdentifier,
  kInputOriginatingCentre,
  kTypeOfEnsembleForecast,
  kPerturbationNumber,
  kNv,
  kGenVertHeightCoords,
  kPressureUnits,
  kStepType,
  kMtg2Switch,
  kCount,
};

ConceptKey ConceptKeyByName(std::string_view name);

struct ConceptValue {
  bool defined = false;
  bool has_number = false;
  bool has_text = false;
  int64_t number = 0;
  std::string_view text;
};

// The keys of one field, computed once. A few keys depend on other concepts (stepType on
// MTG2Switch, typeOfLevel on pressureUnits): the caller sets them as it evaluates.
class FieldConceptKeys {
 public:
  FieldConceptKeys(const Message& message, const Field& field);

  ConceptValue Get(ConceptKey key) const;
  // typeOfStatisticalProcessing of every time range (ecCodes' array value of the key).
  const std::vector<int64_t>& statistical_processing() const { return statistical_processing_; }

  void set_mtg2_switch(int64_t v) { mtg2_switch_ = v; }
  void set_step_type(std::string_view v) { step_type_ = v; }
  void set_pressure_units(std::string_view v) { pressure_units_ = v; }

  const Message& message() const { return message_; }
  const Field& field() const { return field_; }

 private:
  const Message& message_;
  const Field& field_;
  std::vector<int64_t> statistical_processing_;
  std::optional<int64_t> mtg2_switch_;
  std::string step_type_;
  std::string pressure_units_ = "hPa";
  std::string mars_class_text_;
};

class ConceptTables {
 public:
  // The tables, parsed on first use (thread-safe).
  static const ConceptTables& Get();

  // A concept file by its path in the definitions ("grib2/localConcepts/ecmf/paramId.def"),
  // or -1 when the definitions have no such file.
  int FindFile(std::string_view path) const;

  // ecCodes' concept_evaluate over the entries of `first` then `second` (either may be -1).
  std::optional<std::string_view> Evaluate(int first, int second,
                                           const FieldConceptKeys& keys) const;

  // The abbreviation of a centre (common/c-11.table: 98 -> "ecmf"), or its number as text.
  std::string CentreName(int64_t code) const;
  // A MARS class abbreviation ("od"), or "" when unknown.
  std::string_view MarsClassName(int64_t code) const;
  // A MARS type abbreviation ("fc", "cf"), or "" when unknown.
  std::string_view MarsTypeName(int64_t code) const;

  std::string_view source() const;

 private:
  ConceptTables();
  struct Impl;
  Impl* impl_;
};

}  // namespace lsio::grib::internal
