#include "lsio/ops/time_groups.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "lsio/array/datetime.h"

namespace lsio::ops {

namespace {

using array::kNanosPerDay;
using array::kNanosPerSecond;
using array::kNaT;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t DayOf(int64_t ns) { return FloorDiv(ns, kNanosPerDay); }

// Months since year 0 (year * 12 + month - 1).
int64_t MonthIndex(int64_t ns) {
  const array::CivilDate d = array::CivilFromDays(DayOf(ns));
  return d.year * 12 + (d.month - 1);
}

int64_t MonthStartNs(int64_t month_index) {
  const int64_t year = FloorDiv(month_index, 12);
  const int month = static_cast<int>(month_index - year * 12) + 1;
  return array::DaysFromCivil(year, month, 1) * kNanosPerDay;
}

int64_t MonthEndNs(int64_t month_index) {
  const int64_t year = FloorDiv(month_index, 12);
  const int month = static_cast<int>(month_index - year * 12) + 1;
  return array::DaysFromCivil(year, month, array::DaysInMonth(year, month)) * kNanosPerDay;
}

// Turns per-time labels into sorted distinct groups.
template <typename Label>
void Assign(const std::vector<int64_t>& times, const std::vector<Label>& labels,
            std::vector<Label>* out_labels, std::vector<int64_t>* group_of) {
  std::map<Label, int64_t> ids;
  for (size_t i = 0; i < times.size(); ++i) {
    if (times[i] != kNaT) ids.emplace(labels[i], 0);
  }
  int64_t next = 0;
  for (auto& [label, id] : ids) {
    id = next++;
    out_labels->push_back(label);
  }
  group_of->assign(times.size(), -1);
  for (size_t i = 0; i < times.size(); ++i) {
    if (times[i] != kNaT) (*group_of)[i] = ids.at(labels[i]);
  }
}

}  // namespace

Result<TimeGrouping> GroupByTime(std::string_view spec, std::string_view dim,
                                 const std::vector<int64_t>& times) {
  const size_t dot = spec.find('.');
  if (dot == std::string_view::npos || spec.substr(0, dot) != dim) {
    return InvalidArgumentError("--groupby '" + std::string(spec) + "': expected " +
                                std::string(dim) + ".month, .season, .dayofyear, .hour or .year");
  }
  const std::string_view what = spec.substr(dot + 1);
  TimeGrouping g;
  g.dim = std::string(what);
  if (what == "season") {
    static const char* kSeason[12] = {"DJF", "DJF", "MAM", "MAM", "MAM", "JJA",
                                      "JJA", "JJA", "SON", "SON", "SON", "DJF"};
    std::vector<std::string> labels(times.size());
    for (size_t i = 0; i < times.size(); ++i) {
      if (times[i] == kNaT) continue;
      labels[i] = kSeason[array::CivilFromDays(DayOf(times[i])).month - 1];
    }
    g.label_kind = TimeGrouping::LabelKind::kString;
    Assign(times, labels, &g.text_labels, &g.group_of);
    return g;
  }
  std::vector<int64_t> labels(times.size(), 0);
  for (size_t i = 0; i < times.size(); ++i) {
    if (times[i] == kNaT) continue;
    const int64_t day = DayOf(times[i]);
    const array::CivilDate d = array::CivilFromDays(day);
    if (what == "month") {
      labels[i] = d.month;
    } else if (what == "year") {
      labels[i] = d.year;
    } else if (what == "dayofyear") {
      labels[i] = day - array::DaysFromCivil(d.year, 1, 1) + 1;
    } else if (what == "hour") {
      labels[i] = (times[i] - day * kNanosPerDay) / (3600 * kNanosPerSecond);
    } else {
      return InvalidArgumentError("--groupby '" + std::string(spec) +
                                  "': unknown component '" + std::string(what) +
                                  "' (month, season, dayofyear, hour, year)");
    }
  }
  Assign(times, labels, &g.int_labels, &g.group_of);
  return g;
}

Result<TimeGrouping> ResampleTime(std::string_view freq, std::string_view dim,
                                  const std::vector<int64_t>& times) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("--resample " + std::string(dim) + "=" + std::string(freq) +
                                ": " + why);
  };
  size_t digits = 0;
  while (digits < freq.size() && std::isdigit(static_cast<unsigned char>(freq[digits]))) {
    ++digits;
  }
  int64_t n = 1;
  if (digits > 0) {
    if (digits > 9) return bad("the multiple is too large");
    n = std::stoll(std::string(freq.substr(0, digits)));
    if (n < 1) return bad("the multiple must be at least 1");
  }
  const std::string unit(freq.substr(digits));
  if (unit == "M" || unit == "Y" || unit == "A" || unit == "H" || unit == "T" || unit == "S" ||
      unit == "L" || unit == "U" || unit == "N" || unit == "Q") {
    return bad("'" + unit + "' is no longer a frequency in pandas (use ME/MS, YE/YS, h, min, s)");
  }
  int64_t tick = 0;
  if (unit == "h") tick = 3600 * kNanosPerSecond;
  if (unit == "min") tick = 60 * kNanosPerSecond;
  if (unit == "s") tick = kNanosPerSecond;
  if (unit == "D") tick = kNanosPerDay;
  const bool known = tick > 0 || unit == "W" || unit == "W-SUN" || unit == "MS" || unit == "ME" ||
                     unit == "YS" || unit == "YE";
  if (!known) return bad("unknown frequency (h, min, s, D, W, MS, ME, YS, YE with a multiple)");
  if ((unit == "W" || unit == "W-SUN") && n != 1) return bad("only 1W is supported");

  TimeGrouping g;
  g.dim = std::string(dim);
  g.label_kind = TimeGrouping::LabelKind::kDatetime;
  g.group_of.assign(times.size(), -1);
  int64_t first = INT64_MAX, last = INT64_MIN;
  for (int64_t t : times) {
    if (t == kNaT) continue;
    first = std::min(first, t);
    last = std::max(last, t);
  }
  if (first > last) return g;  // no times: no bins

  if (tick > 0) {
    if (__builtin_mul_overflow(tick, n, &tick)) return bad("the frequency is too large");
    // origin="start_day": midnight of the first day; bins [start, start + freq).
    const int64_t origin = DayOf(first) * kNanosPerDay;
    auto bin = [&](int64_t t) { return FloorDiv(t - origin, tick); };
    const int64_t bins = bin(last) + 1;
    for (int64_t k = 0; k < bins; ++k) g.int_labels.push_back(origin + k * tick);
    for (size_t i = 0; i < times.size(); ++i) {
      if (times[i] != kNaT) g.group_of[i] = bin(times[i]);
    }
    return g;
  }
  if (unit == "W" || unit == "W-SUN") {
    // Weeks Monday..Sunday, labelled by the Sunday (1970-01-01 was a Thursday).
    auto sunday = [](int64_t t) {
      const int64_t day = DayOf(t);
      const int64_t weekday = ((day + 3) % 7 + 7) % 7;  // Monday 0 .. Sunday 6
      return day + (6 - weekday);
    };
    const int64_t first_sunday = sunday(first);
    const int64_t bins = (sunday(last) - first_sunday) / 7 + 1;
    for (int64_t k = 0; k < bins; ++k) g.int_labels.push_back((first_sunday + 7 * k) * kNanosPerDay);
    for (size_t i = 0; i < times.size(); ++i) {
      if (times[i] != kNaT) g.group_of[i] = (sunday(times[i]) - first_sunday) / 7;
    }
    return g;
  }
  // Calendar months and years: periods of `months` months from the first time's period.
  const bool years = unit == "YS" || unit == "YE";
  const bool at_start = unit == "MS" || unit == "YS";
  int64_t months = n;
  if (years && __builtin_mul_overflow(n, 12, &months)) return bad("the frequency is too large");
  auto period = [&](int64_t t) {
    const int64_t m = MonthIndex(t);
    return years ? FloorDiv(m, 12) * 12 : m;
  };
  const int64_t first_period = period(first);
  // Start-labelled bins group [first, first + months), ...; end-labelled ones are closed on the
  // right: the first bin ends with the first period, the next `months` later.
  auto bin = [&](int64_t t) {
    const int64_t offset = period(t) - first_period;
    return at_start ? offset / months : (offset + months - 1) / months;
  };
  const int64_t bins = bin(last) + 1;
  for (int64_t k = 0; k < bins; ++k) {
    if (at_start) {
      g.int_labels.push_back(MonthStartNs(first_period + k * months));
    } else {
      // The last month of the bin: the first period's last month, then `months` later.
      const int64_t last_month = first_period + k * months + (years ? 11 : 0);
      g.int_labels.push_back(MonthEndNs(last_month));
    }
  }
  for (size_t i = 0; i < times.size(); ++i) {
    if (times[i] != kNaT) g.group_of[i] = bin(times[i]);
  }
  return g;
}

}  // namespace lsio::ops
