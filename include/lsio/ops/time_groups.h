#pragma once

// Climate groupings of a time coordinate, as xarray (with pandas) forms them:
//
//   groupby  "time.month" | "time.season" | "time.dayofyear" | "time.hour" | "time.year":
//            one group per distinct value present, sorted (seasons as strings: "DJF", "JJA",
//            "MAM", "SON", the order xarray gives them).
//   resample "<n><unit>" with unit h, min, s, D (origin: midnight of the first day; bins
//            closed left, labelled by their start), W (W-SUN: weeks ending on Sunday,
//            labelled by the Sunday), MS / YS (labelled by the period's start), ME / YE (by
//            its last day): every bin from the one holding the first time to the one holding
//            the last, empty ones included. "M", "Y", "A", "H" and "T" are refused as pandas 3
//            refuses or renames them.
//
// The grouping is a pure function of the decoded times (datetime64[ns], NaT allowed: a NaT
// time belongs to no group, as in xarray).
//
// Thread safety: pure functions.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/result.h"

namespace lsio::ops {

struct TimeGrouping {
  // The output dimension: "month", "season", "dayofyear", "hour", "year", or the time
  // dimension's own name for resample.
  std::string dim;
  // Group of each input time (-1: none, for NaT).
  std::vector<int64_t> group_of;
  // One label per group, in group order: integers (groupby except season), strings (season),
  // or datetime64[ns] (resample).
  enum class LabelKind : unsigned char { kInt64, kString, kDatetime };
  LabelKind label_kind = LabelKind::kInt64;
  std::vector<int64_t> int_labels;       // kInt64 and kDatetime
  std::vector<std::string> text_labels;  // kString
  int64_t groups() const {
    return static_cast<int64_t>(label_kind == LabelKind::kString ? text_labels.size()
                                                                 : int_labels.size());
  }
};

// `spec` is "time.month" etc.; `dim` must be the part before the dot. Errors:
// kInvalidArgument naming the unknown component.
Result<TimeGrouping> GroupByTime(std::string_view spec, std::string_view dim,
                                 const std::vector<int64_t>& times_ns);

// `freq` is a pandas frequency string ("1D", "6h", "W", "MS", "3ME", "YS"). Errors:
// kInvalidArgument naming the frequency (and what pandas 3 wants instead for "M", "Y", ...).
Result<TimeGrouping> ResampleTime(std::string_view freq, std::string_view dim,
                                  const std::vector<int64_t>& times_ns);

}  // namespace lsio::ops
