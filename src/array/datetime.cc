#include "lsio/array/datetime.h"

#include <cstdio>
#include <optional>

namespace lsio::array {

namespace {

bool Digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int64_t ToInt(std::string_view s) {
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

struct Fields {
  int64_t year = 1970;
  int month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int64_t nanos = 0;
  DatetimeResolution resolution = DatetimeResolution::kYear;
};

// Splits the accepted grammar into fields; false on a syntax error.
bool Split(std::string_view s, Fields& f) {
  if (!s.empty() && s.back() == 'Z') s.remove_suffix(1);
  if (s.size() < 4 || !Digits(s.substr(0, 4))) return false;
  f.year = ToInt(s.substr(0, 4));
  s.remove_prefix(4);
  f.resolution = DatetimeResolution::kYear;
  if (s.empty()) return true;
  if (s.size() < 3 || s[0] != '-' || !Digits(s.substr(1, 2))) return false;
  f.month = static_cast<int>(ToInt(s.substr(1, 2)));
  s.remove_prefix(3);
  f.resolution = DatetimeResolution::kMonth;
  if (s.empty()) return true;
  if (s.size() < 3 || s[0] != '-' || !Digits(s.substr(1, 2))) return false;
  f.day = static_cast<int>(ToInt(s.substr(1, 2)));
  s.remove_prefix(3);
  f.resolution = DatetimeResolution::kDay;
  if (s.empty()) return true;
  if (s.size() < 3 || (s[0] != 'T' && s[0] != ' ') || !Digits(s.substr(1, 2))) return false;
  f.hour = static_cast<int>(ToInt(s.substr(1, 2)));
  s.remove_prefix(3);
  f.resolution = DatetimeResolution::kHour;
  if (s.empty()) return true;
  if (s.size() < 3 || s[0] != ':' || !Digits(s.substr(1, 2))) return false;
  f.minute = static_cast<int>(ToInt(s.substr(1, 2)));
  s.remove_prefix(3);
  f.resolution = DatetimeResolution::kMinute;
  if (s.empty()) return true;
  if (s.size() < 3 || s[0] != ':' || !Digits(s.substr(1, 2))) return false;
  f.second = static_cast<int>(ToInt(s.substr(1, 2)));
  s.remove_prefix(3);
  f.resolution = DatetimeResolution::kSecond;
  if (s.empty()) return true;
  if (s.size() < 2 || s.size() > 10 || s[0] != '.' || !Digits(s.substr(1))) return false;
  const std::string_view frac = s.substr(1);
  int64_t nanos = ToInt(frac);
  for (size_t i = frac.size(); i < 9; ++i) nanos *= 10;
  f.nanos = nanos;
  f.resolution = frac.size() <= 3   ? DatetimeResolution::kMillisecond
                 : frac.size() <= 6 ? DatetimeResolution::kMicrosecond
                                    : DatetimeResolution::kNanosecond;
  return true;
}

// Nanoseconds since the epoch, or nullopt outside int64.
std::optional<int64_t> ToNs(int64_t days, int64_t seconds_of_day, int64_t nanos) {
  const __int128 ns = static_cast<__int128>(days) * kNanosPerDay +
                      static_cast<__int128>(seconds_of_day) * kNanosPerSecond + nanos;
  if (ns <= static_cast<__int128>(kNaT) || ns > std::numeric_limits<int64_t>::max()) {
    return std::nullopt;
  }
  return static_cast<int64_t>(ns);
}

}  // namespace

bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeapYear(year)) return 29;
  return kDays[month - 1];
}

// Howard Hinnant's days_from_civil / civil_from_days.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = FloorDiv(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = FloorDiv(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {y + (m <= 2), m, d};
}

bool LooksLikeIsoDatetime(std::string_view text) {
  Fields f;
  return Split(text, f);
}

Result<ParsedDatetime> ParseIsoDatetime(std::string_view text) {
  // Messages are appended piecewise: "'" + std::string(...) trips GCC 12's false -Wrestrict
  // (libstdc++ PR 105329) in optimised builds.
  auto quoted = [&](std::string_view what) {
    std::string msg(1, '\'');
    msg.append(text);
    msg.append(what);
    return msg;
  };
  Fields f;
  if (!Split(text, f)) {
    return InvalidArgumentError(
        quoted("' is not a date (expected YYYY[-MM[-DD[THH[:MM[:SS[.f]]]]]])"));
  }
  if (f.month < 1 || f.month > 12 || f.day < 1 || f.day > DaysInMonth(f.year, f.month) ||
      f.hour > 23 || f.minute > 59 || f.second > 59) {
    return InvalidArgumentError(quoted("' is not a valid date"));
  }
  std::optional<int64_t> ns = ToNs(DaysFromCivil(f.year, f.month, f.day),
                                   f.hour * 3600 + f.minute * 60 + f.second, f.nanos);
  if (!ns) {
    return OutOfRangeError(
        quoted("' is outside the datetime64[ns] range (1677-09-21 .. 2262-04-11)"));
  }
  return ParsedDatetime{*ns, f.resolution};
}

int64_t PeriodEndNs(const ParsedDatetime& p) {
  const int64_t start_day = FloorDiv(p.ns, kNanosPerDay);
  const CivilDate c = CivilFromDays(start_day);
  __int128 next;  // the first nanosecond after the period
  switch (p.resolution) {
    case DatetimeResolution::kYear:
      next = static_cast<__int128>(DaysFromCivil(c.year + 1, 1, 1)) * kNanosPerDay;
      break;
    case DatetimeResolution::kMonth:
      next = static_cast<__int128>(c.month == 12 ? DaysFromCivil(c.year + 1, 1, 1)
                                                 : DaysFromCivil(c.year, c.month + 1, 1)) *
             kNanosPerDay;
      break;
    case DatetimeResolution::kDay:
      next = static_cast<__int128>(p.ns) + kNanosPerDay;
      break;
    case DatetimeResolution::kHour:
      next = static_cast<__int128>(p.ns) + 3600 * kNanosPerSecond;
      break;
    case DatetimeResolution::kMinute:
      next = static_cast<__int128>(p.ns) + 60 * kNanosPerSecond;
      break;
    case DatetimeResolution::kSecond:
      next = static_cast<__int128>(p.ns) + kNanosPerSecond;
      break;
    case DatetimeResolution::kMillisecond:
      next = static_cast<__int128>(p.ns) + 1'000'000;
      break;
    case DatetimeResolution::kMicrosecond:
      next = static_cast<__int128>(p.ns) + 1'000;
      break;
    default:
      next = static_cast<__int128>(p.ns) + 1;
      break;
  }
  const __int128 last = next - 1;
  if (last > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(last);
}

DatetimeResolution ResolutionOf(int64_t ns) {
  const int64_t in_day = ns - FloorDiv(ns, kNanosPerDay) * kNanosPerDay;
  if (in_day % 1000 != 0) return DatetimeResolution::kNanosecond;
  if (in_day % 1'000'000 != 0) return DatetimeResolution::kMicrosecond;
  if (in_day % kNanosPerSecond != 0) return DatetimeResolution::kMillisecond;
  if (in_day % (60 * kNanosPerSecond) != 0) return DatetimeResolution::kSecond;
  if (in_day % (3600 * kNanosPerSecond) != 0) return DatetimeResolution::kMinute;
  if (in_day != 0) return DatetimeResolution::kHour;
  return DatetimeResolution::kDay;
}

std::string FormatDatetimeNs(int64_t ns) {
  if (ns == kNaT) return "NaT";
  const int64_t days = FloorDiv(ns, kNanosPerDay);
  int64_t rest = ns - days * kNanosPerDay;
  const CivilDate c = CivilFromDays(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d", static_cast<long long>(c.year), c.month,
                c.day);
  std::string s = buf;
  if (rest == 0) return s;
  const int64_t secs = rest / kNanosPerSecond;
  const int64_t nanos = rest % kNanosPerSecond;
  std::snprintf(buf, sizeof buf, "T%02lld:%02lld:%02lld", static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  s += buf;
  if (nanos != 0) {
    std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(nanos));
    std::string frac = buf;
    while (frac.back() == '0') frac.pop_back();
    s += frac;
  }
  return s;
}

}  // namespace lsio::array
