#include "lsio/array/cf.h"

#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "lsio/base/json_util.h"
#include "lsio/array/datetime.h"

namespace lsio::array {

using nlohmann::json;

namespace {

// --- attribute values -------------------------------------------------------------------------

// The numpy kind of a JSON attribute scalar as Python sees it: float, int or other.
enum class JsonKind : unsigned char { kFloat, kInt, kBool, kOther };

JsonKind KindOf(const json& v) {
  if (v.is_array() && v.size() == 1) return KindOf(v[0]);
  if (v.is_number_float()) return JsonKind::kFloat;
  if (v.is_number_integer()) return JsonKind::kInt;
  if (v.is_boolean()) return JsonKind::kBool;
  return JsonKind::kOther;
}

// A numeric attribute (scalar or one-element list, as xarray's .item()).
Result<double> NumberAttr(const json& v, std::string_view name, std::string_view file) {
  const json& x = v.is_array() && v.size() == 1 ? v[0] : v;
  if (x.is_number()) return x.get<double>();
  if (x.is_boolean()) return x.get<bool>() ? 1.0 : 0.0;
  return InvalidArgumentError(std::string(file) + ": attribute '" + std::string(name) +
                              "' is not a number: " + lsio::internal::Abbreviate(v));
}

// All values of _FillValue / missing_value (np.ravel), as doubles; strings "NaN" etc. are
// numpy-parseable and kept as NaN/inf.
Result<std::vector<double>> FillAttr(const json& v, std::string_view name,
                                     std::string_view file) {
  std::vector<double> out;
  auto one = [&](const json& x) -> Status {
    if (x.is_number()) {
      out.push_back(x.get<double>());
    } else if (x.is_boolean()) {
      out.push_back(x.get<bool>() ? 1.0 : 0.0);
    } else if (x.is_null()) {
      out.push_back(std::numeric_limits<double>::quiet_NaN());
    } else if (x.is_string() && (x == "NaN" || x == "nan")) {
      out.push_back(std::numeric_limits<double>::quiet_NaN());
    } else {
      return InvalidArgumentError(std::string(file) + ": attribute '" + std::string(name) +
                                  "' is not a number: " + lsio::internal::Abbreviate(v));
    }
    return Status::OK();
  };
  if (v.is_array()) {
    for (const json& x : v) LSIO_RETURN_IF_ERROR(one(x));
  } else {
    LSIO_RETURN_IF_ERROR(one(v));
  }
  return out;
}

// xarray's FillValueCoder.decode for a Zarr v3 `_FillValue` attribute.
Result<std::vector<double>> V3FillAttr(const json& v, DataType t, std::string_view file) {
  if (IsFloat(t) && v.is_string()) {
    std::optional<std::string> raw = lsio::internal::DecodeBase64(v.get<std::string>());
    if (!raw || raw->size() != 8) {
      return InvalidArgumentError(std::string(file) + ": attribute '_FillValue' is not the "
                                  "base64 of a float64: " + lsio::internal::Abbreviate(v));
    }
    double d;
    std::memcpy(&d, raw->data(), 8);
    return std::vector<double>{d};
  }
  return FillAttr(v, "_FillValue", file);
}

double ElementAsDouble(const std::vector<std::byte>& bytes, DataType t) {
  auto load = [&](auto tag) {
    decltype(tag) v;
    std::memcpy(&v, bytes.data(), sizeof v);
    return static_cast<double>(v);
  };
  switch (t) {
    case DataType::kBool:
    case DataType::kUInt8:
      return load(uint8_t{});
    case DataType::kInt8:
      return load(int8_t{});
    case DataType::kInt16:
      return load(int16_t{});
    case DataType::kUInt16:
      return load(uint16_t{});
    case DataType::kInt32:
      return load(int32_t{});
    case DataType::kUInt32:
      return load(uint32_t{});
    case DataType::kInt64:
      return load(int64_t{});
    case DataType::kUInt64:
      return load(uint64_t{});
    case DataType::kFloat16: {
      uint16_t h;
      std::memcpy(&h, bytes.data(), 2);
      return HalfToFloat(h);
    }
    case DataType::kFloat32:
      return load(float{});
    case DataType::kFloat64:
      return load(double{});
    default:
      return load(float{});  // complex: the real part
  }
}

DataType SignedOf(DataType t) {
  switch (t) {
    case DataType::kUInt8:
      return DataType::kInt8;
    case DataType::kUInt16:
      return DataType::kInt16;
    case DataType::kUInt32:
      return DataType::kInt32;
    case DataType::kUInt64:
      return DataType::kInt64;
    default:
      return t;
  }
}

DataType UnsignedOf(DataType t) {
  switch (t) {
    case DataType::kInt8:
      return DataType::kUInt8;
    case DataType::kInt16:
      return DataType::kUInt16;
    case DataType::kInt32:
      return DataType::kUInt32;
    case DataType::kInt64:
      return DataType::kUInt64;
    default:
      return t;
  }
}

// The bits of `v` as a value of signed type `from`, read as unsigned type `to` (numpy .view).
double ReinterpretSignedToUnsigned(double v, DataType from) {
  const int64_t i = static_cast<int64_t>(v);
  switch (from) {
    case DataType::kInt8:
      return static_cast<uint8_t>(static_cast<int8_t>(i));
    case DataType::kInt16:
      return static_cast<uint16_t>(static_cast<int16_t>(i));
    case DataType::kInt32:
      return static_cast<uint32_t>(static_cast<int32_t>(i));
    default:
      return static_cast<double>(static_cast<uint64_t>(i));
  }
}

// xarray's _choose_float_dtype.
DataType ChooseFloat(DataType t, const json& attrs) {
  const bool has_scale = attrs.contains("scale_factor");
  const bool has_offset = attrs.contains("add_offset");
  if (has_scale || has_offset) {
    const JsonKind scale = has_scale ? KindOf(attrs["scale_factor"]) : JsonKind::kOther;
    const JsonKind offset = has_offset ? KindOf(attrs["add_offset"]) : JsonKind::kOther;
    // JSON numbers are Python floats (float64) or ints (int64).
    if (has_scale && has_offset && scale == offset && scale == JsonKind::kFloat) {
      return DataType::kFloat64;
    }
    if (has_offset) return DataType::kFloat64;
    // Only scale_factor: its own type. An integer scale gives int64 in xarray; that integer
    // result cannot hold NaN, and a scale_factor of integer type is not CF: use float64.
    return DataType::kFloat64;
  }
  if (IsFloat(t) && ByteWidth(t) <= 4) return DataType::kFloat32;
  if (IsInteger(t) && ByteWidth(t) <= 2) return DataType::kFloat32;
  return DataType::kFloat64;
}

// xarray's dtypes.maybe_promote (bool -> float64 here, see the header).
DataType MaybePromote(DataType t) {
  if (IsFloat(t) || IsComplex(t)) return t;
  if (IsInteger(t)) return ByteWidth(t) <= 2 ? DataType::kFloat32 : DataType::kFloat64;
  return DataType::kFloat64;
}

// --- applying ---------------------------------------------------------------------------------

// Calls fn(E{}) with a value of the C type of `t`, for the real numeric types except float16.
template <typename Fn>
Status Dispatch(DataType t, Fn&& fn) {
  switch (t) {
    case DataType::kBool:
      return fn(uint8_t{});
    case DataType::kInt8:
      return fn(int8_t{});
    case DataType::kInt16:
      return fn(int16_t{});
    case DataType::kInt32:
      return fn(int32_t{});
    case DataType::kInt64:
      return fn(int64_t{});
    case DataType::kUInt8:
      return fn(uint8_t{});
    case DataType::kUInt16:
      return fn(uint16_t{});
    case DataType::kUInt32:
      return fn(uint32_t{});
    case DataType::kUInt64:
      return fn(uint64_t{});
    case DataType::kFloat32:
      return fn(float{});
    case DataType::kFloat64:
      return fn(double{});
    default:
      return NotSupportedError("CF decoding of " + std::string(DataTypeName(t)) +
                               " values is not supported");
  }
}

template <typename E, typename D>
void ApplyTyped(const CfMaskAndScale& cf, const std::byte* in, std::byte* out, size_t n) {
  std::vector<D> fills;
  for (double f : cf.fill_values) fills.push_back(static_cast<D>(f));
  const bool scale = cf.scale_factor.has_value();
  const bool offset = cf.add_offset.has_value();
  const D sf = scale ? static_cast<D>(*cf.scale_factor) : D{};
  const D ao = offset ? static_cast<D>(*cf.add_offset) : D{};
  D missing;
  if constexpr (std::is_floating_point_v<D>) {
    missing = std::numeric_limits<D>::quiet_NaN();
  } else {
    missing = std::numeric_limits<D>::min();  // NaT for int64
  }
  for (size_t i = 0; i < n; ++i) {
    E e;
    std::memcpy(&e, in + i * sizeof(E), sizeof(E));
    D x = static_cast<D>(e);
    for (D f : fills) {
      if (x == f) {
        x = missing;
        break;
      }
    }
    if (scale) x *= sf;
    if (offset) x += ao;
    std::memcpy(out + i * sizeof(D), &x, sizeof(D));
  }
}

// --- times ------------------------------------------------------------------------------------

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Strip(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// xarray's _netcdf_to_numpy_timeunit, as nanoseconds per unit.
std::optional<int64_t> NanosPerUnit(std::string_view unit, std::string* name) {
  std::string u = Lower(unit);
  if (u.empty() || u.back() != 's') u += 's';
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"nanoseconds", 1},
      {"microseconds", 1'000},
      {"milliseconds", 1'000'000},
      {"seconds", kNanosPerSecond},
      {"minutes", 60 * kNanosPerSecond},
      {"hours", 3600 * kNanosPerSecond},
      {"days", kNanosPerDay},
  };
  for (const auto& [n, ns] : kUnits) {
    if (u == n) {
      if (name != nullptr) *name = std::string(n);
      return ns;
    }
  }
  return std::nullopt;
}

bool ReadDigits(std::string_view& s, size_t min, size_t max, int64_t& v) {
  size_t n = 0;
  v = 0;
  while (n < s.size() && n < max && s[n] >= '0' && s[n] <= '9') v = v * 10 + (s[n++] - '0');
  if (n < min) return false;
  s.remove_prefix(n);
  return true;
}

// pandas.Timestamp's reading of the reference dates CF files use: Y[-M[-D]] then optionally
// [T| ]H[:M[:S[.f]]] then optionally a zone (Z, UTC, GMT, +HH[:MM], -HHMM). Returns UTC ns.
Result<int64_t> ParseReferenceDate(std::string_view text) {
  const std::string original(text);
  auto bad = [&]() {
    return NotSupportedError("reference date '" + original + "' is not understood");
  };
  std::string_view s = Strip(text);
  int64_t year, month = 1, day = 1, hour = 0, minute = 0, second = 0, nanos = 0;
  if (!ReadDigits(s, 1, 9, year)) return bad();
  if (!s.empty() && s[0] == '-') {
    s.remove_prefix(1);
    if (!ReadDigits(s, 1, 2, month)) return bad();
    if (!s.empty() && s[0] == '-') {
      s.remove_prefix(1);
      if (!ReadDigits(s, 1, 2, day)) return bad();
    }
  }
  size_t spaces = 0;
  while (spaces < s.size() && s[spaces] == ' ') ++spaces;
  std::string_view rest = s.substr(spaces);
  if (!rest.empty() && (rest[0] == 'T' || (spaces > 0 && rest[0] >= '0' && rest[0] <= '9'))) {
    if (rest[0] == 'T') rest.remove_prefix(1);
    if (!ReadDigits(rest, 1, 2, hour)) return bad();
    if (!rest.empty() && rest[0] == ':') {
      rest.remove_prefix(1);
      if (!ReadDigits(rest, 1, 2, minute)) return bad();
      if (!rest.empty() && rest[0] == ':') {
        rest.remove_prefix(1);
        if (!ReadDigits(rest, 1, 2, second)) return bad();
        if (!rest.empty() && rest[0] == '.') {
          rest.remove_prefix(1);
          const size_t before = rest.size();
          int64_t frac;
          if (!ReadDigits(rest, 1, 18, frac)) return bad();
          int64_t digits = static_cast<int64_t>(before - rest.size());
          while (digits > 9) {
            frac /= 10;
            --digits;
          }
          while (digits < 9) {
            frac *= 10;
            ++digits;
          }
          nanos = frac;
        }
      }
    }
    s = rest;
  }
  s = Strip(s);
  int64_t offset_seconds = 0;
  if (!s.empty()) {
    std::string zone = Lower(s);
    if (zone == "z" || zone == "utc" || zone == "gmt") {
      // UTC.
    } else if (zone[0] == '+' || zone[0] == '-') {
      const int sign = zone[0] == '-' ? -1 : 1;
      std::string_view z(zone);
      z.remove_prefix(1);
      int64_t hh, mm = 0;
      if (!ReadDigits(z, 1, 2, hh)) return bad();
      if (!z.empty() && z[0] == ':') z.remove_prefix(1);
      if (!z.empty() && !ReadDigits(z, 2, 2, mm)) return bad();
      if (!z.empty() || hh > 23 || mm > 59) return bad();
      offset_seconds = sign * (hh * 3600 + mm * 60);
    } else {
      return bad();
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, static_cast<int>(month)) ||
      hour > 23 || minute > 59 || second > 59) {
    return bad();
  }
  const __int128 ns =
      static_cast<__int128>(DaysFromCivil(year, static_cast<int>(month), static_cast<int>(day))) *
          kNanosPerDay +
      static_cast<__int128>(hour * 3600 + minute * 60 + second - offset_seconds) *
          kNanosPerSecond +
      nanos;
  if (ns <= std::numeric_limits<int64_t>::min() || ns > std::numeric_limits<int64_t>::max()) {
    return NotSupportedError("reference date '" + original +
                             "' is outside datetime64[ns] (xarray would need cftime)");
  }
  return static_cast<int64_t>(ns);
}

// xarray's _ensure_padded_year: without a 4-digit run, the leading digits are the year.
std::string PadYear(std::string_view ref) {
  int run = 0;
  for (char c : ref) {
    run = (c >= '0' && c <= '9') ? run + 1 : 0;
    if (run >= 4) return std::string(ref);
  }
  size_t n = 0;
  while (n < ref.size() && ref[n] >= '0' && ref[n] <= '9') ++n;
  if (n == 0) return std::string(ref);
  std::string year(ref.substr(0, n));
  while (year.size() < 4) year = "0" + year;
  return year + std::string(ref.substr(n));
}

Result<std::pair<std::string, std::string>> SplitSince(std::string_view units) {
  const size_t at = units.rfind(" since ");
  if (at == std::string_view::npos || at == 0 || at + 7 >= units.size()) {
    return InvalidArgumentError("time units '" + std::string(units) +
                                "' are not '<unit> since <date>'");
  }
  return std::make_pair(std::string(Strip(units.substr(0, at))),
                        PadYear(Strip(units.substr(at + 7))));
}

}  // namespace

bool CfMaskAndScale::active() const {
  return !fill_values.empty() || scale_factor || add_offset || encoded != stored ||
         decoded != stored || to_bool;
}

CfTimeKind ClassifyCfTime(const json& attrs) {
  if (!attrs.is_object() || !attrs.contains("units") || !attrs["units"].is_string()) {
    return CfTimeKind::kNone;
  }
  const std::string units = attrs["units"].get<std::string>();
  if (units.find("since") != std::string::npos) {
    // xarray's _is_time_like only checks the "X since Y" shape and the padded year.
    return SplitSince(units).ok() ? CfTimeKind::kDatetime : CfTimeKind::kNone;
  }
  static constexpr std::string_view kUnits[] = {"days",         "hours",        "minutes",
                                                "seconds",      "milliseconds", "microseconds",
                                                "nanoseconds"};
  for (std::string_view u : kUnits) {
    if (units == u) return CfTimeKind::kTimedelta;
  }
  return CfTimeKind::kNone;
}

Result<CfMaskAndScale> ResolveCfMaskAndScale(const ArrayInfo& array) {
  const std::string& file = array.where;
  CfMaskAndScale cf;
  const ElementType& dt = array.element;
  const json& attrs = array.attributes;
  if (!dt.is_fixed_size_number()) {
    return NotSupportedError(file + ": CF decoding of dtype " + dt.name + " is not supported");
  }
  cf.stored = dt.storage;
  cf.encoded = dt.storage;
  cf.decoded = dt.storage;
  cf.time_kind = ClassifyCfTime(attrs);
  if (IsComplex(dt.storage)) return cf;

  // _check_fill_values: missing_value, then _FillValue.
  bool raw_fill_present = false;
  std::vector<double> fills;
  std::optional<double> fill_value_attr;  // the _FillValue entry, for _Unsigned
  auto add = [&](const std::vector<double>& values, bool is_fill_value) {
    std::vector<double> kept;
    for (double v : values) {
      if (!std::isnan(v)) kept.push_back(v);
    }
    if (kept.empty() && IsInteger(dt.storage)) return;  // xarray drops it with a warning
    raw_fill_present = true;
    for (double v : kept) {
      if (std::find(fills.begin(), fills.end(), v) == fills.end()) fills.push_back(v);
    }
    if (is_fill_value && kept.size() == 1) fill_value_attr = kept[0];
  };
  if (attrs.contains("missing_value")) {
    LSIO_ASSIGN_OR_RETURN(std::vector<double> mv,
                          FillAttr(attrs["missing_value"], "missing_value", file));
    add(mv, false);
  }
  std::optional<std::vector<double>> fv;
  if (array.mask_value) {
    // use_zarr_fill_value_as_mask: the format's fill value is the _FillValue.
    fv = std::vector<double>{ElementAsDouble(*array.mask_value, dt.storage)};
    if (dt.kind != DataTypeKind::kNumeric) {
      int64_t raw;
      std::memcpy(&raw, array.mask_value->data(), 8);
      if (raw == std::numeric_limits<int64_t>::min()) fv->clear();  // NaT masks nothing new
    }
  } else if (attrs.contains("_FillValue")) {
    if (array.fill_value_attr == FillValueAttrEncoding::kBase64Double) {
      LSIO_ASSIGN_OR_RETURN(fv, V3FillAttr(attrs["_FillValue"], dt.storage, file));
    } else {
      LSIO_ASSIGN_OR_RETURN(fv, FillAttr(attrs["_FillValue"], "_FillValue", file));
    }
  }
  if (fv) add(*fv, true);

  const bool time_like = cf.time_kind != CfTimeKind::kNone;
  if (attrs.contains("_Unsigned")) {
    const json& u = attrs["_Unsigned"];
    const bool want_unsigned = u == "true" || u == true;
    const bool want_signed = u == "false" || u == false;
    if (IsSignedInteger(dt.storage) && want_unsigned) {
      cf.encoded = UnsignedOf(dt.storage);
      if (fill_value_attr) {
        auto it = std::find(fills.begin(), fills.end(), *fill_value_attr);
        if (it != fills.end()) *it = ReinterpretSignedToUnsigned(*it, dt.storage);
      }
    } else if (IsUnsignedInteger(dt.storage) && want_signed) {
      cf.encoded = SignedOf(dt.storage);
    }
  }

  const bool has_scale = attrs.contains("scale_factor");
  const bool has_offset = attrs.contains("add_offset");
  DataType dtype = cf.encoded;
  if (!fills.empty()) {
    if (has_scale || has_offset) {
      dtype = ChooseFloat(cf.encoded, attrs);
    } else if (time_like && IsInteger(cf.encoded)) {
      dtype = DataType::kInt64;
      cf.mask_to_nat = true;
    } else {
      dtype = MaybePromote(cf.encoded);
    }
    cf.fill_values = fills;
  }
  if (has_scale || has_offset) {
    if (!raw_fill_present || time_like) dtype = ChooseFloat(dtype, attrs);
    if (has_scale) {
      LSIO_ASSIGN_OR_RETURN(double s, NumberAttr(attrs["scale_factor"], "scale_factor", file));
      cf.scale_factor = s;
    }
    if (has_offset) {
      LSIO_ASSIGN_OR_RETURN(double o, NumberAttr(attrs["add_offset"], "add_offset", file));
      cf.add_offset = o;
    }
  }
  cf.decoded = dtype;
  if (!cf.active() && attrs.contains("dtype") && attrs["dtype"] == "bool") {
    cf.to_bool = true;
    cf.decoded = DataType::kBool;
  }
  return cf;
}

Status ApplyCfMaskAndScale(const CfMaskAndScale& cf, std::span<const std::byte> stored,
                           std::span<std::byte> decoded) {
  const size_t in_w = ByteWidth(cf.stored);
  const size_t out_w = ByteWidth(cf.decoded);
  if (stored.size() % in_w != 0 || decoded.size() != stored.size() / in_w * out_w) {
    return InvalidArgumentError("ApplyCfMaskAndScale: " + std::to_string(stored.size()) +
                                " bytes of " + std::string(DataTypeName(cf.stored)) + " into " +
                                std::to_string(decoded.size()) + " bytes of " +
                                std::string(DataTypeName(cf.decoded)));
  }
  const size_t n = stored.size() / in_w;
  if (!cf.active()) {
    if (!stored.empty()) std::memcpy(decoded.data(), stored.data(), stored.size());
    return Status::OK();
  }
  if (cf.to_bool) {
    for (size_t i = 0; i < n; ++i) {
      bool nonzero = false;
      for (size_t b = 0; b < in_w; ++b) nonzero |= stored[i * in_w + b] != std::byte{0};
      decoded[i] = std::byte{static_cast<unsigned char>(nonzero ? 1 : 0)};
    }
    return Status::OK();
  }
  if (cf.stored == DataType::kFloat16 || cf.decoded == DataType::kFloat16) {
    // float16 data is only ever masked (maybe_promote keeps float16), never scaled.
    if (cf.stored != DataType::kFloat16 || cf.decoded != DataType::kFloat16) {
      return NotSupportedError("CF decoding between float16 and another type");
    }
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, stored.data() + 2 * i, 2);
      const float x = HalfToFloat(h);
      for (double f : cf.fill_values) {
        if (x == HalfToFloat(FloatToHalf(static_cast<float>(f)))) {
          h = 0x7e00;  // numpy's float16 NaN
          break;
        }
      }
      std::memcpy(decoded.data() + 2 * i, &h, 2);
    }
    return Status::OK();
  }
  // `encoded` only renames the signedness of the stored bits.
  return Dispatch(cf.encoded, [&](auto e) -> Status {
    using E = decltype(e);
    switch (cf.decoded) {
      case DataType::kFloat32:
        ApplyTyped<E, float>(cf, stored.data(), decoded.data(), n);
        return Status::OK();
      case DataType::kFloat64:
        ApplyTyped<E, double>(cf, stored.data(), decoded.data(), n);
        return Status::OK();
      case DataType::kInt64:
        ApplyTyped<E, int64_t>(cf, stored.data(), decoded.data(), n);
        return Status::OK();
      default:
        if (cf.decoded == cf.encoded) {
          ApplyTyped<E, E>(cf, stored.data(), decoded.data(), n);
          return Status::OK();
        }
        return NotSupportedError("CF decoding to " + std::string(DataTypeName(cf.decoded)));
    }
  });
}

Result<CfTimeUnits> ParseCfTimeUnits(std::string_view units, std::string_view calendar) {
  LSIO_ASSIGN_OR_RETURN(auto parts, SplitSince(units));
  CfTimeUnits u;
  std::optional<int64_t> ns = NanosPerUnit(parts.first, &u.unit);
  if (!ns) {
    return NotSupportedError("time unit '" + parts.first + "' in '" + std::string(units) +
                             "' is not supported (xarray would need cftime)");
  }
  u.ns_per_unit = *ns;
  u.calendar = calendar.empty() ? "standard" : Lower(calendar);
  if (u.calendar != "standard" && u.calendar != "gregorian" &&
      u.calendar != "proleptic_gregorian") {
    return NotSupportedError("calendar '" + std::string(calendar) +
                             "' is not supported (only standard, gregorian and "
                             "proleptic_gregorian)");
  }
  Result<int64_t> ref = ParseReferenceDate(parts.second);
  if (!ref.ok()) return ref.status().WithContext("time units '" + std::string(units) + "'");
  // Every reference date inside datetime64[ns] (1677..2262) is after the Gregorian reform of
  // 1582-10-15, so standard/gregorian and proleptic_gregorian agree here; earlier dates were
  // refused above, as xarray hands them to cftime.
  u.reference_ns = *ref;
  return u;
}

Result<CfTimeUnits> ParseCfTimedeltaUnits(std::string_view units) {
  CfTimeUnits u;
  std::optional<int64_t> ns = NanosPerUnit(Strip(units), &u.unit);
  if (!ns) {
    return NotSupportedError("time unit '" + std::string(units) + "' is not supported");
  }
  u.ns_per_unit = *ns;
  return u;
}

Result<std::vector<int64_t>> DecodeCfTimes(std::span<const double> values,
                                           const CfTimeUnits& units) {
  std::vector<int64_t> out(values.size());
  const double factor = static_cast<double>(units.ns_per_unit);
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (std::isnan(v)) {
      out[i] = kNaT;
      continue;
    }
    // numpy: float64 * int64 in float64, then astype(int64) truncates.
    const double ns = v * factor;
    int64_t sum;
    if (!(ns > -9223372036854775808.0 && ns < 9223372036854775808.0) ||
        __builtin_add_overflow(static_cast<int64_t>(ns), units.reference_ns, &sum) ||
        sum == kNaT) {
      return OutOfRangeError("time value " + std::to_string(v) + " " + units.unit +
                             " is outside the datetime64[ns] range");
    }
    out[i] = sum;
  }
  return out;
}

Result<std::vector<int64_t>> DecodeCfTimes(std::span<const int64_t> values,
                                           const CfTimeUnits& units) {
  std::vector<int64_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t v = values[i];
    if (v == kNaT) {
      out[i] = kNaT;
      continue;
    }
    int64_t ns, sum;
    if (__builtin_mul_overflow(v, units.ns_per_unit, &ns) ||
        __builtin_add_overflow(ns, units.reference_ns, &sum) || sum == kNaT) {
      return OutOfRangeError("time value " + std::to_string(v) + " " + units.unit +
                             " is outside the datetime64[ns] range");
    }
    out[i] = sum;
  }
  return out;
}

Result<Coordinate> DecodeCoordinate(const ArrayInfo& array, std::span<const std::byte> stored) {
  const std::string& file = array.where;
  const ElementType& dt = array.element;
  if (array.rank() != 1 || !dt.is_fixed_size_number() || IsComplex(dt.storage)) {
    return InvalidArgumentError(file + ": a coordinate must be a 1-D real numeric or time array");
  }
  const size_t n = static_cast<size_t>(array.shape[0]);
  if (stored.size() != n * dt.item_size) {
    return InvalidArgumentError(file + ": " + std::to_string(stored.size()) +
                                " bytes of coordinate values for " + std::to_string(n) +
                                " elements of " + dt.name);
  }
  // Native datetime64 / timedelta64 arrays (zarr-python's numpy.datetime64, GRIB's time and
  // step): values in their own unit.
  if (dt.kind == DataTypeKind::kDatetime64 || dt.kind == DataTypeKind::kTimedelta64) {
    static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
        {"D", kNanosPerDay}, {"h", 3600 * kNanosPerSecond}, {"m", 60 * kNanosPerSecond},
        {"s", kNanosPerSecond}, {"ms", 1'000'000}, {"us", 1'000}, {"ns", 1}};
    int64_t per = 0;
    for (const auto& [u, ns] : kUnits) {
      if (u == dt.time_unit) per = ns;
    }
    if (per == 0) {
      return NotSupportedError(file + ": datetime64 unit '" + dt.time_unit +
                               "' as a coordinate is not supported");
    }
    std::vector<int64_t> raw(n);
    if (n > 0) std::memcpy(raw.data(), stored.data(), n * 8);
    CfTimeUnits u;
    u.unit = dt.time_unit;
    LSIO_ASSIGN_OR_RETURN(u.ns_per_unit, [&]() -> Result<int64_t> {
      int64_t v;
      if (__builtin_mul_overflow(per, dt.time_scale, &v)) {
        return OutOfRangeError(file + ": datetime64 unit overflows");
      }
      return v;
    }());
    LSIO_ASSIGN_OR_RETURN(std::vector<int64_t> ns, DecodeCfTimes(raw, u));
    if (dt.kind == DataTypeKind::kTimedelta64) return Coordinate::Timedelta(std::move(ns));
    return Coordinate::Datetime(std::move(ns));
  }
  LSIO_ASSIGN_OR_RETURN(CfMaskAndScale cf, ResolveCfMaskAndScale(array));
  std::vector<std::byte> decoded(n * ByteWidth(cf.decoded));
  LSIO_RETURN_IF_ERROR(ApplyCfMaskAndScale(cf, stored, decoded));
  const DataType d = cf.decoded;

  if (cf.time_kind == CfTimeKind::kDatetime && dt.kind == DataTypeKind::kNumeric) {
    const json& attrs = array.attributes;
    const std::string calendar =
        attrs.contains("calendar") && attrs["calendar"].is_string()
            ? attrs["calendar"].get<std::string>()
            : std::string();
    Result<CfTimeUnits> units = ParseCfTimeUnits(attrs["units"].get<std::string>(), calendar);
    if (!units.ok()) return units.status().WithContext(file);
    if (IsInteger(d) || d == DataType::kBool) {
      // Exact integer path (xarray casts integers to int64, not float).
      std::vector<int64_t> raw(n);
      Status s = Dispatch(d, [&](auto e) -> Status {
        using E = decltype(e);
        for (size_t i = 0; i < n; ++i) {
          E v;
          std::memcpy(&v, decoded.data() + i * sizeof(E), sizeof(E));
          raw[i] = static_cast<int64_t>(v);
        }
        return Status::OK();
      });
      LSIO_RETURN_IF_ERROR(s);
      if (d == DataType::kUInt64) {
        for (size_t i = 0; i < n; ++i) {
          if (raw[i] < 0) return OutOfRangeError(file + ": uint64 time value too large");
        }
      }
      Result<std::vector<int64_t>> ns = DecodeCfTimes(raw, *units);
      if (!ns.ok()) return ns.status().WithContext(file);
      return Coordinate::Datetime(std::move(ns).value());
    }
    std::vector<double> values(n);
    for (size_t i = 0; i < n; ++i) {
      if (d == DataType::kFloat32) {
        float f;
        std::memcpy(&f, decoded.data() + 4 * i, 4);
        values[i] = f;
      } else if (d == DataType::kFloat16) {
        uint16_t h;
        std::memcpy(&h, decoded.data() + 2 * i, 2);
        values[i] = HalfToFloat(h);
      } else {
        std::memcpy(&values[i], decoded.data() + 8 * i, 8);
      }
    }
    Result<std::vector<int64_t>> ns = DecodeCfTimes(values, *units);
    if (!ns.ok()) return ns.status().WithContext(file);
    return Coordinate::Datetime(std::move(ns).value());
  }

  std::vector<double> values(n);
  if (d == DataType::kFloat16) {
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, decoded.data() + 2 * i, 2);
      values[i] = HalfToFloat(h);
    }
  } else {
    LSIO_RETURN_IF_ERROR(Dispatch(d, [&](auto e) -> Status {
      using E = decltype(e);
      for (size_t i = 0; i < n; ++i) {
        E v;
        std::memcpy(&v, decoded.data() + i * sizeof(E), sizeof(E));
        values[i] = static_cast<double>(v);
      }
      return Status::OK();
    }));
  }
  return Coordinate::Numeric(std::move(values), d == DataType::kFloat32);
}

}  // namespace lsio::array
