#include "lsio/array/selection.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "lsio/array/datetime.h"

namespace lsio::array {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> ParseNumber(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool IsLabelText(std::string_view s) {
  return ParseNumber(s) || LooksLikeIsoDatetime(s) || LooksLikeTimedelta(s);
}

Result<std::pair<std::string, std::string_view>> SplitArgument(std::string_view arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string_view::npos) {
    return InvalidArgumentError("selection '" + std::string(arg) +
                                "' is not of the form dim=value");
  }
  const std::string_view dim = Trim(arg.substr(0, eq));
  if (dim.empty()) {
    return InvalidArgumentError("selection '" + std::string(arg) + "' names no dimension");
  }
  return std::make_pair(std::string(dim), Trim(arg.substr(eq + 1)));
}

std::string LabelText(const Label& label) {
  if (const auto* s = std::get_if<std::string>(&label)) return *s;
  if (const auto* d = std::get_if<double>(&label)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", *d);
    return buf;
  }
  return FormatDatetimeNs(std::get<DatetimeLabel>(label).ns);
}

// --- index selection helpers on sorted / unsorted value arrays ------------------------------

enum class Order : unsigned char { kIncreasing, kDecreasing, kUnsorted };

template <typename T>
Order OrderOf(const std::vector<T>& v) {
  bool inc = true;
  bool dec = true;
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    if (!(v[i] <= v[i + 1])) inc = false;
    if (!(v[i] >= v[i + 1])) dec = false;
  }
  // NaN anywhere makes both comparisons false somewhere; a lone NaN in a 1-element index is
  // still "sorted", as in pandas.
  if (inc) return Order::kIncreasing;
  if (dec) return Order::kDecreasing;
  return Order::kUnsorted;
}

template <typename T>
bool StrictlyDecreasing(const std::vector<T>& v) {
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    if (!(v[i] > v[i + 1])) return false;
  }
  return true;
}

// numpy searchsorted on an ascending array.
template <typename T>
int64_t SearchSorted(const std::vector<T>& v, T x, bool right) {
  auto it = right ? std::upper_bound(v.begin(), v.end(), x) : std::lower_bound(v.begin(), v.end(), x);
  return it - v.begin();
}

// numpy searchsorted on v[::-1] of a descending array: the number of elements < x (left) or
// <= x (right), which form a suffix of v.
template <typename T>
int64_t SearchSortedReversed(const std::vector<T>& v, T x, bool right) {
  int64_t lo = 0, hi = static_cast<int64_t>(v.size());
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    const bool in_suffix = right ? v[mid] <= x : v[mid] < x;
    if (in_suffix) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return static_cast<int64_t>(v.size()) - lo;
}

// Positions equal to x: pandas get_loc. nullopt = not found; a (first, last+1) pair when the
// matches are contiguous; an error when they are not (a boolean mask pandas cannot slice).
struct Loc {
  int64_t begin = 0, end = 0;  // matches at [begin, end)
};

template <typename T>
Result<std::optional<Loc>> GetLoc(const std::vector<T>& v, T x, std::string_view what) {
  int64_t first = -1, last = -1, count = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(v.size()); ++i) {
    if (v[i] == x) {
      if (first < 0) first = i;
      last = i;
      ++count;
    }
  }
  if (count == 0) return std::optional<Loc>();
  if (last - first + 1 != count) {
    return NotSupportedError("label " + std::string(what) +
                             " occurs at non-contiguous positions of the coordinate");
  }
  return std::optional<Loc>(Loc{first, last + 1});
}

// pandas Index.get_slice_bound for an already cast bound value.
template <typename T>
Result<int64_t> SliceBound(const std::vector<T>& v, Order order, T x, bool right,
                           std::string_view what) {
  // Non-unique labels: pandas slices only when the matches are contiguous (GetLoc checks).
  LSIO_ASSIGN_OR_RETURN(std::optional<Loc> loc, GetLoc(v, x, what));
  if (loc) return right ? loc->end : loc->begin;
  switch (order) {
    case Order::kIncreasing:
      return SearchSorted(v, x, right);
    case Order::kDecreasing:
      return static_cast<int64_t>(v.size()) - SearchSortedReversed(v, x, !right);
    default:
      return NotFoundError("label " + std::string(what) +
                           " is not in the coordinate, which is not sorted");
  }
}

DimRange Slice(int64_t begin, int64_t end) {
  DimRange r;
  r.start = begin;
  r.step = 1;
  r.count = std::max<int64_t>(0, end - begin);
  return r;
}

DimRange Scalar(int64_t i) { return DimRange{i, 1, 1, true}; }

// --- numeric coordinates ----------------------------------------------------------------------

Result<double> NumericLabel(const Label& label, const Coordinate& c) {
  double x;
  if (const auto* s = std::get_if<std::string>(&label)) {
    std::optional<double> v = ParseNumber(Trim(*s));
    if (!v) return InvalidArgumentError("label '" + *s + "' is not a number");
    x = *v;
  } else if (const auto* d = std::get_if<double>(&label)) {
    x = *d;
  } else {
    return InvalidArgumentError("a date label (" + LabelText(label) +
                                ") for a numeric coordinate");
  }
  if (c.single_precision) x = static_cast<double>(static_cast<float>(x));
  return x;
}

Result<DimRange> SelNumeric(const DimSelector& sel, const Coordinate& c) {
  const std::vector<double>& v = c.numeric;
  const Order order = OrderOf(v);
  if (const auto* label = std::get_if<Label>(&sel.value)) {
    LSIO_ASSIGN_OR_RETURN(double x, NumericLabel(*label, c));
    LSIO_ASSIGN_OR_RETURN(std::optional<Loc> loc, GetLoc(v, x, LabelText(*label)));
    if (!loc) return NotFoundError("label " + LabelText(*label) + " is not in the coordinate");
    if (loc->end - loc->begin == 1) return Scalar(loc->begin);
    return Slice(loc->begin, loc->end);
  }
  const LabelSlice& s = std::get<LabelSlice>(sel.value);
  int64_t begin = 0, end = static_cast<int64_t>(v.size());
  if (s.start) {
    LSIO_ASSIGN_OR_RETURN(double x, NumericLabel(*s.start, c));
    LSIO_ASSIGN_OR_RETURN(begin, SliceBound(v, order, x, false, LabelText(*s.start)));
  }
  if (s.stop) {
    LSIO_ASSIGN_OR_RETURN(double x, NumericLabel(*s.stop, c));
    LSIO_ASSIGN_OR_RETURN(end, SliceBound(v, order, x, true, LabelText(*s.stop)));
  }
  return Slice(begin, end);
}

// --- datetime coordinates ---------------------------------------------------------------------

struct TimeBound {
  int64_t lower = 0;  // first ns of the period
  int64_t upper = 0;  // last ns of the period
  bool is_string = false;
  DatetimeResolution resolution = DatetimeResolution::kNanosecond;
};

Result<TimeBound> TimeLabel(const Label& label) {
  if (const auto* s = std::get_if<std::string>(&label)) {
    LSIO_ASSIGN_OR_RETURN(ParsedDatetime p, ParseIsoDatetime(Trim(*s)));
    return TimeBound{p.ns, PeriodEndNs(p), true, p.resolution};
  }
  if (const auto* d = std::get_if<DatetimeLabel>(&label)) {
    return TimeBound{d->ns, d->ns, false, DatetimeResolution::kNanosecond};
  }
  return InvalidArgumentError("a number label (" + LabelText(label) +
                              ") for a datetime coordinate: give a date");
}

// pandas' DatetimeIndex resolution: the finest unit any (non-NaT) value needs, at least a day.
DatetimeResolution IndexResolution(const std::vector<int64_t>& v) {
  DatetimeResolution r = DatetimeResolution::kDay;
  for (int64_t x : v) {
    if (x == kNaT) continue;
    r = std::max(r, ResolutionOf(x));
    if (r == DatetimeResolution::kNanosecond) break;
  }
  return r;
}

Result<DimRange> SelDatetime(const DimSelector& sel, const Coordinate& c) {
  const std::vector<int64_t>& v = c.datetime_ns;
  const int64_t n = static_cast<int64_t>(v.size());
  const Order order = OrderOf(v);
  if (const auto* label = std::get_if<Label>(&sel.value)) {
    LSIO_ASSIGN_OR_RETURN(TimeBound b, TimeLabel(*label));
    // DatetimeIndex.get_loc: a string coarser than the index's resolution is a partial slice.
    if (b.is_string && b.resolution < IndexResolution(v)) {
      const std::string what = LabelText(*label);
      if (order == Order::kIncreasing) {
        if (n > 0 && ((b.lower < v[0] && b.upper < v[0]) ||
                      (b.lower > v[n - 1] && b.upper > v[n - 1]))) {
          return NotFoundError("date " + what + " is outside the coordinate's range");
        }
        return Slice(SearchSorted(v, b.lower, false), SearchSorted(v, b.upper, true));
      }
      if (order == Order::kDecreasing) {
        if (n > 0 && ((b.lower > v[0] && b.upper > v[0]) ||
                      (b.lower < v[n - 1] && b.upper < v[n - 1]))) {
          return NotFoundError("date " + what + " is outside the coordinate's range");
        }
        const int64_t rev_left = SearchSortedReversed(v, b.lower, false);
        const int64_t rev_right = SearchSortedReversed(v, b.upper, true);
        return Slice(n - rev_right, n - rev_left);
      }
      // Unsorted: pandas returns the positions inside the period; xarray uses them as an
      // array indexer. Representable only when contiguous.
      int64_t first = -1, last = -1, count = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (v[i] >= b.lower && v[i] <= b.upper) {
          if (first < 0) first = i;
          last = i;
          ++count;
        }
      }
      if (count == 0) return Slice(0, 0);
      if (last - first + 1 != count) {
        return NotSupportedError("date " + what +
                                 " selects non-contiguous positions of the unsorted coordinate");
      }
      return Slice(first, last + 1);
    }
    LSIO_ASSIGN_OR_RETURN(std::optional<Loc> loc, GetLoc(v, b.lower, LabelText(*label)));
    if (!loc) return NotFoundError("date " + LabelText(*label) + " is not in the coordinate");
    if (loc->end - loc->begin == 1) return Scalar(loc->begin);
    return Slice(loc->begin, loc->end);
  }

  const LabelSlice& s = std::get<LabelSlice>(sel.value);
  std::optional<TimeBound> start, stop;
  if (s.start) {
    LSIO_ASSIGN_OR_RETURN(TimeBound b, TimeLabel(*s.start));
    start = b;
  }
  if (s.stop) {
    LSIO_ASSIGN_OR_RETURN(TimeBound b, TimeLabel(*s.stop));
    stop = b;
  }
  const bool strings_only = (!start || start->is_string) && (!stop || stop->is_string);
  if (order != Order::kIncreasing && strings_only) {
    // DatetimeIndex.slice_indexer's mask path for indexes that are not increasing; xarray
    // accepts its result only when it is every position.
    std::vector<bool> mask(n, true);
    bool in_index = true;
    if (start) {
      in_index &= std::find(v.begin(), v.end(), start->lower) != v.end();
      for (int64_t i = 0; i < n; ++i) mask[i] = mask[i] && start->lower <= v[i];
    }
    if (stop) {
      in_index &= std::find(v.begin(), v.end(), stop->upper) != v.end();
      for (int64_t i = 0; i < n; ++i) mask[i] = mask[i] && v[i] <= stop->upper;
    }
    if (!in_index) {
      return NotFoundError(
          "value based partial slicing on a datetime coordinate that is not increasing, with "
          "bounds that are not in it, is not allowed (pandas)");
    }
    if (std::count(mask.begin(), mask.end(), true) != n) {
      return NotSupportedError(
          "cannot represent this label-based slice of a datetime coordinate that is not "
          "increasing as a slice over positions (xarray refuses it too)");
    }
    return Slice(0, n);
  }
  int64_t begin = 0, end = n;
  if (start) {
    LSIO_ASSIGN_OR_RETURN(begin,
                          SliceBound(v, order, start->lower, false, LabelText(*s.start)));
  }
  if (stop) {
    LSIO_ASSIGN_OR_RETURN(end, SliceBound(v, order, stop->upper, true, LabelText(*s.stop)));
  }
  return Slice(begin, end);
}

// --- timedelta coordinates --------------------------------------------------------------------

Result<int64_t> TimedeltaLabel(const Label& label) {
  if (const auto* s = std::get_if<std::string>(&label)) return ParseTimedelta(Trim(*s));
  return InvalidArgumentError("label " + LabelText(label) +
                              " for a timedelta coordinate: give a duration such as 6h");
}

Result<DimRange> SelTimedelta(const DimSelector& sel, const Coordinate& c) {
  const std::vector<int64_t>& v = c.datetime_ns;
  const Order order = OrderOf(v);
  if (const auto* label = std::get_if<Label>(&sel.value)) {
    LSIO_ASSIGN_OR_RETURN(int64_t x, TimedeltaLabel(*label));
    LSIO_ASSIGN_OR_RETURN(std::optional<Loc> loc, GetLoc(v, x, LabelText(*label)));
    if (!loc) {
      return NotFoundError("duration " + LabelText(*label) + " (" + FormatTimedeltaNs(x) +
                           ") is not in the coordinate");
    }
    if (loc->end - loc->begin == 1) return Scalar(loc->begin);
    return Slice(loc->begin, loc->end);
  }
  const LabelSlice& s = std::get<LabelSlice>(sel.value);
  int64_t begin = 0, end = static_cast<int64_t>(v.size());
  if (s.start) {
    LSIO_ASSIGN_OR_RETURN(int64_t x, TimedeltaLabel(*s.start));
    LSIO_ASSIGN_OR_RETURN(begin, SliceBound(v, order, x, false, LabelText(*s.start)));
  }
  if (s.stop) {
    LSIO_ASSIGN_OR_RETURN(int64_t x, TimedeltaLabel(*s.stop));
    LSIO_ASSIGN_OR_RETURN(end, SliceBound(v, order, x, true, LabelText(*s.stop)));
  }
  return Slice(begin, end);
}

}  // namespace

Coordinate Coordinate::Timedelta(std::vector<int64_t> ns) {
  Coordinate c;
  c.kind = Kind::kTimedelta;
  c.datetime_ns = std::move(ns);
  return c;
}

Coordinate Coordinate::Numeric(std::vector<double> values, bool single_precision) {
  Coordinate c;
  c.kind = Kind::kNumeric;
  c.numeric = std::move(values);
  c.single_precision = single_precision;
  return c;
}

Coordinate Coordinate::Datetime(std::vector<int64_t> ns) {
  Coordinate c;
  c.kind = Kind::kDatetime;
  c.datetime_ns = std::move(ns);
  return c;
}

Result<DimSelector> ParseIselArgument(std::string_view arg) {
  LSIO_ASSIGN_OR_RETURN(auto parts, SplitArgument(arg));
  auto& [dim, text] = parts;
  auto bad = [&]() {
    return InvalidArgumentError("isel '" + std::string(arg) +
                                "': expected an integer or start:stop[:step]");
  };
  DimSelector sel;
  sel.dim = dim;
  if (text.find(':') == std::string_view::npos) {
    std::optional<int64_t> i = ParseInt(text);
    if (!i) return bad();
    sel.value = *i;
    return sel;
  }
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (true) {
    const size_t colon = text.find(':', pos);
    fields.push_back(Trim(text.substr(pos, colon == std::string_view::npos ? text.npos
                                                                           : colon - pos)));
    if (colon == std::string_view::npos) break;
    pos = colon + 1;
  }
  if (fields.size() > 3) return bad();
  IndexSlice s;
  std::optional<int64_t>* targets[] = {&s.start, &s.stop, &s.step};
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].empty()) continue;
    std::optional<int64_t> v = ParseInt(fields[i]);
    if (!v) return bad();
    *targets[i] = *v;
  }
  if (s.step && *s.step == 0) {
    return InvalidArgumentError("isel '" + std::string(arg) + "': slice step cannot be zero");
  }
  sel.value = s;
  return sel;
}

Result<DimSelector> ParseSelArgument(std::string_view arg) {
  LSIO_ASSIGN_OR_RETURN(auto parts, SplitArgument(arg));
  auto& [dim, text] = parts;
  DimSelector sel;
  sel.dim = dim;
  if (text.empty()) {
    return InvalidArgumentError("sel '" + std::string(arg) + "': no label");
  }
  // A single date with a time of day ("2020-01-01T06:00:30") or a duration ("06:00:00") is one
  // label, not a range.
  if (text.find(':') == std::string_view::npos || LooksLikeIsoDatetime(text) ||
      LooksLikeTimedelta(text)) {
    sel.value = Label(std::string(text));
    return sel;
  }
  // Find the one ':' whose two sides are both empty or valid labels ("2020-01-01T06:00:
  // 2020-01-02" has colons inside its labels).
  std::optional<size_t> split;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != ':') continue;
    const std::string_view a = Trim(text.substr(0, i));
    const std::string_view b = Trim(text.substr(i + 1));
    if ((a.empty() || IsLabelText(a)) && (b.empty() || IsLabelText(b))) {
      if (split) {
        return InvalidArgumentError("sel '" + std::string(arg) +
                                    "': ambiguous label range (more than one ':' could split "
                                    "it)");
      }
      split = i;
    }
  }
  if (!split) {
    return InvalidArgumentError("sel '" + std::string(arg) +
                                "': expected a label or start:stop of numbers, dates or "
                                "durations");
  }
  LabelSlice s;
  const std::string_view a = Trim(text.substr(0, *split));
  const std::string_view b = Trim(text.substr(*split + 1));
  if (!a.empty()) s.start = Label(std::string(a));
  if (!b.empty()) s.stop = Label(std::string(b));
  sel.value = s;
  return sel;
}

Result<std::vector<DimSelector>> ParseSelectorList(std::string_view text, bool label_based) {
  std::vector<DimSelector> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view arg = Trim(text.substr(pos, comma - pos));
    if (!arg.empty()) {
      LSIO_ASSIGN_OR_RETURN(DimSelector s,
                            label_based ? ParseSelArgument(arg) : ParseIselArgument(arg));
      out.push_back(std::move(s));
    }
    pos = comma + 1;
  }
  return out;
}

DimRange FullRange(int64_t size) { return DimRange{0, 1, size, false}; }

Result<DimRange> ResolveIndexSelector(const DimSelector& sel, int64_t n) {
  if (const auto* i = std::get_if<int64_t>(&sel.value)) {
    int64_t k = *i;
    if (k < 0) k += n;
    if (k < 0 || k >= n) {
      return OutOfRangeError("index " + std::to_string(*i) +
                             " is out of bounds for dimension '" + sel.dim + "' of size " +
                             std::to_string(n));
    }
    return Scalar(k);
  }
  const auto* s = std::get_if<IndexSlice>(&sel.value);
  if (s == nullptr) {
    return InvalidArgumentError("selector on '" + sel.dim + "' is label-based, not positional");
  }
  const int64_t step = s->step.value_or(1);
  if (step == 0) return InvalidArgumentError("slice step cannot be zero");
  // CPython's PySlice_AdjustIndices.
  int64_t start, stop;
  if (step > 0) {
    start = s->start.value_or(0);
    stop = s->stop.value_or(n);
    if (start < 0) start = std::max<int64_t>(start + n, 0);
    if (start > n) start = n;
    if (stop < 0) stop = std::max<int64_t>(stop + n, 0);
    if (stop > n) stop = n;
    const int64_t count = stop > start ? (stop - start - 1) / step + 1 : 0;
    return DimRange{start, step, count, false};
  }
  start = s->start.value_or(n - 1);
  if (s->start) {
    if (start < 0) start = std::max<int64_t>(start + n, -1);
    if (start >= n) start = n - 1;
  }
  if (s->stop) {
    stop = *s->stop;
    if (stop < 0) stop = std::max<int64_t>(stop + n, -1);
    if (stop >= n) stop = n - 1;
  } else {
    stop = -1;
  }
  const int64_t count = stop < start ? (start - stop - 1) / (-step) + 1 : 0;
  return DimRange{count > 0 ? start : 0, step, count, false};
}

Result<DimRange> ResolveLabelSelector(const DimSelector& sel, const Coordinate& c) {
  if (!sel.is_label()) {
    return InvalidArgumentError("selector on '" + sel.dim + "' is positional, not label-based");
  }
  Result<DimRange> r = c.kind == Coordinate::Kind::kNumeric    ? SelNumeric(sel, c)
                       : c.kind == Coordinate::Kind::kTimedelta ? SelTimedelta(sel, c)
                                                                : SelDatetime(sel, c);
  if (!r.ok()) return r.status().WithContext("sel " + DescribeSelector(sel));
  return r;
}

Result<std::vector<DimRange>> ResolveSelection(std::span<const std::string> dims,
                                               std::span<const int64_t> shape,
                                               std::span<const DimSelector> selectors,
                                               const CoordinateLookup& coordinates) {
  if (dims.size() != shape.size()) {
    return InvalidArgumentError("ResolveSelection: " + std::to_string(dims.size()) +
                                " dimension names for a rank-" + std::to_string(shape.size()) +
                                " array");
  }
  std::vector<DimRange> ranges;
  ranges.reserve(shape.size());
  for (int64_t n : shape) ranges.push_back(FullRange(n));
  std::vector<bool> used(shape.size(), false);
  for (const DimSelector& sel : selectors) {
    auto it = std::find(dims.begin(), dims.end(), sel.dim);
    if (it == dims.end()) {
      std::string names;
      for (const std::string& d : dims) names += (names.empty() ? "" : ", ") + d;
      return NotFoundError("dimension '" + sel.dim + "' not found (dimensions: " + names + ")");
    }
    const size_t d = static_cast<size_t>(it - dims.begin());
    if (used[d]) {
      return InvalidArgumentError("dimension '" + sel.dim + "' is selected more than once");
    }
    used[d] = true;
    if (!sel.is_label()) {
      LSIO_ASSIGN_OR_RETURN(ranges[d], ResolveIndexSelector(sel, shape[d]));
      continue;
    }
    if (!coordinates) {
      return NotFoundError("dimension '" + sel.dim + "' has no coordinate to select labels on");
    }
    Result<Coordinate> coord = coordinates(sel.dim);
    if (!coord.ok()) return coord.status().WithContext("coordinate '" + sel.dim + "'");
    if (static_cast<int64_t>(coord->size()) != shape[d]) {
      return InvalidArgumentError("coordinate '" + sel.dim + "' has " +
                                  std::to_string(coord->size()) + " values for a dimension of " +
                                  std::to_string(shape[d]));
    }
    LSIO_ASSIGN_OR_RETURN(ranges[d], ResolveLabelSelector(sel, *coord));
  }
  return ranges;
}

std::string DescribeSelector(const DimSelector& sel) {
  std::string s = sel.dim + "=";
  auto opt = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : ""; };
  if (const auto* i = std::get_if<int64_t>(&sel.value)) return s + std::to_string(*i);
  if (const auto* sl = std::get_if<IndexSlice>(&sel.value)) {
    s += opt(sl->start) + ":" + opt(sl->stop);
    if (sl->step) s += ":" + std::to_string(*sl->step);
    return s;
  }
  if (const auto* l = std::get_if<Label>(&sel.value)) return s + LabelText(*l);
  const LabelSlice& ls = std::get<LabelSlice>(sel.value);
  return s + (ls.start ? LabelText(*ls.start) : "") + ":" + (ls.stop ? LabelText(*ls.stop) : "");
}

}  // namespace lsio::array
