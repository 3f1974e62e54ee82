#include "lsio/array/datetime.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

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

namespace {

// Nanoseconds per unit of a pandas Timedelta unit name, or 0.
int64_t TimedeltaUnit(std::string_view u) {
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"W", 7 * kNanosPerDay},       {"w", 7 * kNanosPerDay},
      {"week", 7 * kNanosPerDay},    {"weeks", 7 * kNanosPerDay},
      {"D", kNanosPerDay},           {"d", kNanosPerDay},
      {"day", kNanosPerDay},         {"days", kNanosPerDay},
      {"h", 3600 * kNanosPerSecond}, {"H", 3600 * kNanosPerSecond},
      {"hr", 3600 * kNanosPerSecond}, {"hour", 3600 * kNanosPerSecond},
      {"hours", 3600 * kNanosPerSecond}, {"m", 60 * kNanosPerSecond},
      {"min", 60 * kNanosPerSecond}, {"minute", 60 * kNanosPerSecond},
      {"minutes", 60 * kNanosPerSecond}, {"T", 60 * kNanosPerSecond},
      {"s", kNanosPerSecond},        {"S", kNanosPerSecond},
      {"sec", kNanosPerSecond},      {"second", kNanosPerSecond},
      {"seconds", kNanosPerSecond},  {"ms", 1'000'000},
      {"milliseconds", 1'000'000},   {"us", 1'000},
      {"microseconds", 1'000},       {"ns", 1},
      {"nanoseconds", 1},
  };
  for (const auto& [name, ns] : kUnits) {
    if (name == u) return ns;
  }
  return 0;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "HH:MM:SS[.f]" -> ns, or nullopt.
std::optional<__int128> ClockNs(std::string_view s) {
  int64_t parts[3] = {0, 0, 0};
  size_t i = 0;
  for (int k = 0; k < 3; ++k) {
    const size_t start = i;
    while (i < s.size() && IsDigit(s[i])) {
      if (i - start == 9) return std::nullopt;  // more digits than any clock has
      parts[k] = parts[k] * 10 + (s[i++] - '0');
    }
    if (i == start) return std::nullopt;
    if (k < 2) {
      if (i >= s.size() || s[i] != ':') return std::nullopt;
      ++i;
    }
  }
  __int128 ns = (__int128{parts[0]} * 3600 + parts[1] * 60 + parts[2]) * kNanosPerSecond;
  if (i < s.size()) {
    if (s[i] != '.') return std::nullopt;
    ++i;
    int64_t frac = 0, scale = kNanosPerSecond;
    const size_t start = i;
    while (i < s.size() && IsDigit(s[i]) && i - start < 9) {
      frac = frac * 10 + (s[i++] - '0');
      scale /= 10;
    }
    if (i == start || i != s.size()) return std::nullopt;
    ns += __int128{frac} * scale;
  }
  return ns;
}

std::optional<__int128> TimedeltaNs(std::string_view text) {
  std::string_view s = text;
  auto skip_spaces = [&] {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  };
  skip_spaces();
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
    skip_spaces();
  }
  if (s.empty()) return std::nullopt;
  __int128 total = 0;
  int terms = 0;
  while (!s.empty()) {
    // A clock "HH:MM:SS" ends the text.
    if (const std::optional<__int128> clock = ClockNs(s)) {
      total += *clock;
      ++terms;
      s = {};
      break;
    }
    // <number><unit>
    size_t i = 0;
    while (i < s.size() && (IsDigit(s[i]) || s[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    const std::string number(s.substr(0, i));
    s.remove_prefix(i);
    skip_spaces();
    size_t j = 0;
    while (j < s.size() && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z'))) ++j;
    const int64_t unit = TimedeltaUnit(s.substr(0, j));
    if (unit == 0) return std::nullopt;
    s.remove_prefix(j);
    skip_spaces();
    if (!s.empty() && s.front() == ',') {
      s.remove_prefix(1);
      skip_spaces();
    }
    if (number.find('.') == std::string::npos) {
      __int128 v = 0;
      for (char c : number) {
        v = v * 10 + (c - '0');
        if (v > (__int128{1} << 64)) return std::nullopt;
      }
      total += v * unit;
    } else {
      char* end = nullptr;
      const double v = std::strtod(number.c_str(), &end);
      if (end != number.c_str() + number.size() || !(v >= 0) || v > 1e20) return std::nullopt;
      total += static_cast<__int128>(std::nearbyint(v * static_cast<double>(unit)));
    }
    // Far outside timedelta64[ns] already: stop before the sum could overflow.
    if (total > (__int128{1} << 100)) return std::nullopt;
    ++terms;
  }
  if (terms == 0) return std::nullopt;
  return negative ? -total : total;
}

}  // namespace

Result<int64_t> ParseTimedelta(std::string_view text) {
  const std::optional<__int128> ns = TimedeltaNs(text);
  std::string quoted(1, '\'');
  quoted.append(text).push_back('\'');
  if (!ns) {
    return InvalidArgumentError(quoted +
                                " is not a duration (give one such as 6h, 90min, 1 day, "
                                "06:00:00)");
  }
  if (*ns <= std::numeric_limits<int64_t>::min() || *ns > std::numeric_limits<int64_t>::max()) {
    return OutOfRangeError("duration " + quoted + " is outside timedelta64[ns]");
  }
  return static_cast<int64_t>(*ns);
}

bool LooksLikeTimedelta(std::string_view text) { return TimedeltaNs(text).has_value(); }

std::string FormatTimedeltaNs(int64_t ns) {
  if (ns == kNaT) return "NaT";
  const int64_t days = FloorDiv(ns, kNanosPerDay);
  const int64_t rest = ns - days * kNanosPerDay;
  const int64_t secs = rest / kNanosPerSecond;
  const int64_t nanos = rest % kNanosPerSecond;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%lld days %s%02lld:%02lld:%02lld",
                static_cast<long long>(days), days < 0 ? "+" : "",
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  std::string s = buf;
  if (nanos != 0) {
    if (nanos % 1000 == 0) {
      std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(nanos / 1000));
    } else {
      std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(nanos));
    }
    s += buf;
  }
  return s;
}

}  // namespace lsio::array
