#pragma once

// Proleptic Gregorian calendar arithmetic on datetime64[ns] values (int64 nanoseconds since
// 1970-01-01T00:00:00, NaT = INT64_MIN), and the partial ISO 8601 date strings that pandas
// accepts for label selection ("2020", "2020-01", "2020-01-15", "2020-01-15T06:30").
//
// Thread safety: pure functions.

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "lsio/base/result.h"

namespace lsio::array {

inline constexpr int64_t kNaT = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr int64_t kNanosPerDay = 86'400 * kNanosPerSecond;

// Days since 1970-01-01 of year-month-day (proleptic Gregorian; month 1..12, day 1..31).
int64_t DaysFromCivil(int64_t year, int month, int day);

struct CivilDate {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};
CivilDate CivilFromDays(int64_t days);

bool IsLeapYear(int64_t year);
int DaysInMonth(int64_t year, int month);

// The precision a date string was written with, coarsest first (pandas' Resolution, without
// quarters).
enum class DatetimeResolution : unsigned char {
  kYear,
  kMonth,
  kDay,
  kHour,
  kMinute,
  kSecond,
  kMillisecond,
  kMicrosecond,
  kNanosecond,
};

struct ParsedDatetime {
  int64_t ns = 0;  // the first nanosecond of the period the string names
  DatetimeResolution resolution = DatetimeResolution::kDay;
};

// "YYYY", "YYYY-MM", "YYYY-MM-DD", then optionally 'T' or ' ' and "HH", "HH:MM", "HH:MM:SS",
// "HH:MM:SS.f" (1-9 digits); a trailing "Z" is accepted. Errors: kInvalidArgument for anything
// else, kOutOfRange for dates outside datetime64[ns] (1677-09-21 .. 2262-04-11).
Result<ParsedDatetime> ParseIsoDatetime(std::string_view text);

// True when `text` has the shape ParseIsoDatetime accepts (a cheap syntactic check used to
// split "a:b" selection strings whose labels contain ':').
bool LooksLikeIsoDatetime(std::string_view text);

// The last nanosecond of the period `p` names ("2020-01" -> 2020-01-31T23:59:59.999999999),
// saturated at the end of the datetime64[ns] range.
int64_t PeriodEndNs(const ParsedDatetime& p);

// The finest resolution needed to write `ns` without loss (kDay at the coarsest, as pandas'
// DatetimeIndex resolution).
DatetimeResolution ResolutionOf(int64_t ns);

// "2000-01-01", "2000-01-01T06:00:00", "2000-01-01T06:00:00.5" (trailing zeros trimmed),
// "NaT".
std::string FormatDatetimeNs(int64_t ns);

// A duration as pandas.Timedelta reads it, in nanoseconds: one or more "<number><unit>" terms
// ("6h", "1 day 6 hours", "90min", "1.5h", "-30s"; units W, D/day(s), h/hr/hour(s),
// m/min/minute(s)/T, s/sec/second(s), ms, us, ns), or "[N day(s) ]HH:MM:SS[.f]". Errors:
// kInvalidArgument for anything else (a bare number has no unit), kOutOfRange for durations
// outside timedelta64[ns].
Result<int64_t> ParseTimedelta(std::string_view text);

// True when ParseTimedelta accepts `text`.
bool LooksLikeTimedelta(std::string_view text);

// pandas' str(Timedelta): "0 days 06:00:00", "1 days 00:30:00", "-1 days +23:00:00",
// "0 days 00:00:00.500000"; "NaT" for kNaT.
std::string FormatTimedeltaNs(int64_t ns);

}  // namespace lsio::array
