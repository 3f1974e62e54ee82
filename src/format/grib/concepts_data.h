#pragma once

// The tables gen_concepts.py writes (concepts_generated.cc in the build tree). Layout:
// kConceptHeader holds (count, start) pairs into kConceptTables for, in order: conditions
// (key, kind, a, b), condition sets (begin, count), entries (value string, set), files (path
// string, entry begin, entry count), integer lists, key names (string), centres (code, string),
// MARS classes (code, string), MARS types (code, string). Strings are offsets into
// kConceptStrings (NUL-terminated).

#include <cstdint>

namespace lsio::grib::internal {

extern const char kConceptStrings[];
extern const uint32_t kConceptHeader[18];
extern const uint32_t kConceptTables[];
extern const char kConceptSource[];

// Condition kinds.
inline constexpr uint32_t kConditionInt = 0;
inline constexpr uint32_t kConditionMissing = 1;
inline constexpr uint32_t kConditionString = 2;
inline constexpr uint32_t kConditionIntList = 3;
inline constexpr uint32_t kConditionIsOneOf = 4;

}  // namespace lsio::grib::internal
