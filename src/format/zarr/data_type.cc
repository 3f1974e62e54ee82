#include "lsio/format/zarr/data_type.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "lsio/base/json_util.h"

namespace lsio::zarr {

using lsio::internal::Abbreviate;
using nlohmann::json;

namespace {

constexpr std::string_view kTimeUnits[] = {"Y", "M",  "W",  "D",  "h",  "m", "s",
                                           "ms", "us", "ns", "ps", "fs", "as", "generic"};

bool IsTimeUnit(std::string_view u) {
  for (std::string_view k : kTimeUnits) {
    if (k == u) return true;
  }
  return false;
}

ZarrDataType Numeric(DataType t, Endian e = Endian::kLittle) {
  ZarrDataType d;
  d.kind = DataTypeKind::kNumeric;
  d.storage = t;
  d.endian = e;
  d.item_size = ByteWidth(t);
  d.name = std::string(DataTypeName(t));
  return d;
}

ZarrDataType Time(DataTypeKind kind, std::string unit, int64_t scale, Endian e) {
  ZarrDataType d;
  d.kind = kind;
  d.storage = DataType::kInt64;
  d.endian = e;
  d.item_size = 8;
  d.time_unit = std::move(unit);
  d.time_scale = scale;
  d.name = kind == DataTypeKind::kDatetime64 ? "datetime64" : "timedelta64";
  if (d.time_unit != "generic") {
    d.name += "[" + (scale != 1 ? std::to_string(scale) : std::string()) + d.time_unit + "]";
  }
  return d;
}

ZarrDataType Opaque(DataTypeKind kind, size_t item_size, std::string name,
                    Endian e = Endian::kLittle) {
  ZarrDataType d;
  d.kind = kind;
  d.item_size = item_size;
  d.name = std::move(name);
  d.endian = e;
  return d;
}

std::optional<int64_t> ParseDecimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// "[10ms]" -> (10, "ms"); "[ns]" -> (1, "ns").
bool ParseTimeUnitSuffix(std::string_view s, int64_t& scale, std::string& unit) {
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  s = s.substr(1, s.size() - 2);
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  scale = 1;
  if (digits > 0) {
    std::optional<int64_t> v = ParseDecimal(s.substr(0, digits));
    if (!v || *v <= 0) return false;
    scale = *v;
  }
  unit = std::string(s.substr(digits));
  return IsTimeUnit(unit) && unit != "generic";
}

Result<ZarrDataType> ParseV2TypeString(std::string_view ts, std::string_view object_codec_id) {
  auto malformed = [&]() {
    return InvalidArgumentError("dtype '" + std::string(ts) + "' is not a numpy typestring");
  };
  if (ts.size() < 2) return malformed();
  const char order = ts[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') return malformed();
  const Endian endian = order == '>' ? Endian::kBig : Endian::kLittle;
  const char kind = ts[1];
  std::string_view rest = ts.substr(2);
  size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
  std::string_view size_str = rest.substr(0, digits);
  std::string_view suffix = rest.substr(digits);
  std::optional<int64_t> size = ParseDecimal(size_str);
  auto unsupported = [&]() {
    return NotSupportedError("data type '" + std::string(ts) + "' is not supported");
  };

  if (kind == 'M' || kind == 'm') {
    const DataTypeKind k = kind == 'M' ? DataTypeKind::kDatetime64 : DataTypeKind::kTimedelta64;
    if (size && *size != 8) return malformed();
    if (suffix.empty()) return Time(k, "generic", 1, endian);
    int64_t scale;
    std::string unit;
    if (!ParseTimeUnitSuffix(suffix, scale, unit)) return malformed();
    return Time(k, unit, scale, endian);
  }
  if (kind == 'O') {
    if (!suffix.empty() || (size && *size != 8)) return malformed();
    if (object_codec_id == "vlen-utf8") {
      return Opaque(DataTypeKind::kVariableString, 0, "string (vlen-utf8)");
    }
    if (object_codec_id == "vlen-bytes") {
      return Opaque(DataTypeKind::kVariableBytes, 0, "bytes (vlen-bytes)");
    }
    return Opaque(DataTypeKind::kObject, 0,
                  object_codec_id.empty() ? std::string("object")
                                          : "object (" + std::string(object_codec_id) + ")");
  }
  if (!suffix.empty() || !size) return malformed();
  const int64_t n = *size;
  auto pick = [&](std::initializer_list<std::pair<int64_t, DataType>> table)
      -> Result<ZarrDataType> {
    for (const auto& [width, type] : table) {
      if (width == n) return Numeric(type, endian);
    }
    return unsupported();
  };
  switch (kind) {
    case 'b':
      if (n != 1) return unsupported();
      return Numeric(DataType::kBool);
    case 'i':
      return pick({{1, DataType::kInt8},
                   {2, DataType::kInt16},
                   {4, DataType::kInt32},
                   {8, DataType::kInt64}});
    case 'u':
      return pick({{1, DataType::kUInt8},
                   {2, DataType::kUInt16},
                   {4, DataType::kUInt32},
                   {8, DataType::kUInt64}});
    case 'f':
      return pick({{2, DataType::kFloat16}, {4, DataType::kFloat32}, {8, DataType::kFloat64}});
    case 'c':
      return pick({{8, DataType::kComplex64}, {16, DataType::kComplex128}});
    case 'U':
      if (n <= 0 || n > (int64_t{1} << 40)) return malformed();
      return Opaque(DataTypeKind::kFixedUtf32, static_cast<size_t>(n) * 4, std::string(ts),
                    endian);
    case 'S':
      if (n <= 0 || n > (int64_t{1} << 40)) return malformed();
      return Opaque(DataTypeKind::kFixedBytes, static_cast<size_t>(n), std::string(ts));
    case 'V':
      if (n <= 0 || n > (int64_t{1} << 40)) return malformed();
      return Opaque(DataTypeKind::kRawBytes, static_cast<size_t>(n), std::string(ts));
    default:
      return malformed();
  }
}

// Structured v2 dtype: [[name, type], [name, type, shape], ...]; nested lists allowed.
Result<ZarrDataType> ParseV2Structured(const json& fields, int depth) {
  if (depth > 16) return InvalidArgumentError("structured dtype nested too deeply");
  if (fields.empty()) return InvalidArgumentError("structured dtype has no fields");
  size_t total = 0;
  for (const json& f : fields) {
    if (!f.is_array() || f.size() < 2 || f.size() > 3 || !f[0].is_string()) {
      return InvalidArgumentError("structured dtype field " + Abbreviate(f) +
                                  " is not [name, type] or [name, type, shape]");
    }
    ZarrDataType field_type;
    if (f[1].is_string()) {
      LSIO_ASSIGN_OR_RETURN(field_type, ParseV2TypeString(f[1].get<std::string>(), {}));
    } else if (f[1].is_array()) {
      LSIO_ASSIGN_OR_RETURN(field_type, ParseV2Structured(f[1], depth + 1));
    } else {
      return InvalidArgumentError("structured dtype field " + Abbreviate(f) + " has no type");
    }
    if (field_type.item_size == 0) {
      return NotSupportedError("structured dtype field " + Abbreviate(f) +
                               " has a variable-length type");
    }
    size_t count = 1;
    if (f.size() == 3) {
      LSIO_ASSIGN_OR_RETURN(std::vector<int64_t> shape,
                            lsio::internal::GetShape(f[2], "dtype", "shape", /*allow_zero=*/true));
      std::optional<int64_t> n = lsio::internal::CheckedProduct(shape);
      if (!n || *n > (int64_t{1} << 40)) {
        return InvalidArgumentError("structured dtype field " + Abbreviate(f) + " is too large");
      }
      count = static_cast<size_t>(*n);
    }
    total += field_type.item_size * count;
    if (total > (size_t{1} << 40)) {
      return InvalidArgumentError("structured dtype is too large");
    }
  }
  return Opaque(DataTypeKind::kStructured, total, "structured" + Abbreviate(fields, 200));
}

Result<ZarrDataType> ParseV3(const json& dt, int depth);

Result<size_t> LengthBytes(const json& dt, size_t multiple_of) {
  const json* config = dt.contains("configuration") ? &dt["configuration"] : nullptr;
  if (config == nullptr || !config->is_object() || !config->contains("length_bytes")) {
    return InvalidArgumentError("data type " + Abbreviate(dt) +
                                " needs configuration.length_bytes");
  }
  std::optional<int64_t> n = lsio::internal::AsInt64((*config)["length_bytes"]);
  if (!n || *n <= 0 || *n > (int64_t{1} << 40) ||
      static_cast<size_t>(*n) % multiple_of != 0) {
    return InvalidArgumentError("data type " + Abbreviate(dt) + ": bad length_bytes");
  }
  return static_cast<size_t>(*n);
}

Result<ZarrDataType> ParseV3Name(std::string_view name) {
  if (std::optional<DataType> t = ParseDataTypeName(name)) return Numeric(*t);
  if (name == "string") return Opaque(DataTypeKind::kVariableString, 0, "string");
  if (name == "bytes" || name == "variable_length_bytes") {
    return Opaque(DataTypeKind::kVariableBytes, 0, std::string(name));
  }
  if (name.size() > 1 && name[0] == 'r') {
    std::optional<int64_t> bits = ParseDecimal(name.substr(1));
    if (bits && *bits > 0 && *bits % 8 == 0 && *bits <= (int64_t{1} << 40)) {
      return Opaque(DataTypeKind::kRawBytes, static_cast<size_t>(*bits / 8), std::string(name));
    }
  }
  return NotSupportedError("data type '" + std::string(name) + "' is not supported");
}

Result<ZarrDataType> ParseV3(const json& dt, int depth) {
  if (depth > 16) return InvalidArgumentError("data type nested too deeply");
  if (dt.is_string()) return ParseV3Name(dt.get<std::string>());
  if (!dt.is_object() || !dt.contains("name") || !dt["name"].is_string()) {
    return InvalidArgumentError("data type " + Abbreviate(dt) +
                                " is neither a name nor an object with a name");
  }
  const std::string name = dt["name"].get<std::string>();
  const json empty = json::object();
  const json& config =
      dt.contains("configuration") && dt["configuration"].is_object() ? dt["configuration"]
                                                                      : empty;
  if (name == "numpy.datetime64" || name == "numpy.timedelta64" || name == "datetime64" ||
      name == "timedelta64") {
    const DataTypeKind kind = name.find("datetime") != std::string::npos
                                  ? DataTypeKind::kDatetime64
                                  : DataTypeKind::kTimedelta64;
    if (!config.contains("unit") || !config["unit"].is_string() ||
        !IsTimeUnit(config["unit"].get<std::string>())) {
      return InvalidArgumentError("data type " + Abbreviate(dt) + ": missing or unknown unit");
    }
    int64_t scale = 1;
    if (config.contains("scale_factor")) {
      std::optional<int64_t> s = lsio::internal::AsInt64(config["scale_factor"]);
      if (!s || *s <= 0) {
        return InvalidArgumentError("data type " + Abbreviate(dt) + ": bad scale_factor");
      }
      scale = *s;
    }
    return Time(kind, config["unit"].get<std::string>(), scale, Endian::kLittle);
  }
  if (name == "fixed_length_utf32") {
    LSIO_ASSIGN_OR_RETURN(size_t n, LengthBytes(dt, 4));
    return Opaque(DataTypeKind::kFixedUtf32, n, "fixed_length_utf32[" + std::to_string(n / 4) +
                                                    "]");
  }
  if (name == "null_terminated_bytes") {
    LSIO_ASSIGN_OR_RETURN(size_t n, LengthBytes(dt, 1));
    return Opaque(DataTypeKind::kFixedBytes, n,
                  "null_terminated_bytes[" + std::to_string(n) + "]");
  }
  if (name == "raw_bytes") {
    LSIO_ASSIGN_OR_RETURN(size_t n, LengthBytes(dt, 1));
    return Opaque(DataTypeKind::kRawBytes, n, "raw_bytes[" + std::to_string(n) + "]");
  }
  if (name == "structured") {
    if (!config.contains("fields") || !config["fields"].is_array() || config["fields"].empty()) {
      return InvalidArgumentError("data type " + Abbreviate(dt) + ": needs a list of fields");
    }
    size_t total = 0;
    for (const json& f : config["fields"]) {
      if (!f.is_array() || f.size() != 2 || !f[0].is_string()) {
        return InvalidArgumentError("structured field " + Abbreviate(f) +
                                    " is not [name, data_type]");
      }
      LSIO_ASSIGN_OR_RETURN(ZarrDataType field, ParseV3(f[1], depth + 1));
      if (field.item_size == 0) {
        return NotSupportedError("structured field " + Abbreviate(f) +
                                 " has a variable-length type");
      }
      total += field.item_size;
    }
    return Opaque(DataTypeKind::kStructured, total, "structured" + Abbreviate(config["fields"],
                                                                              200));
  }
  if (name == "optional") {
    LSIO_ASSIGN_OR_RETURN(ZarrDataType inner, ParseV3(config, depth + 1));
    return Opaque(DataTypeKind::kOptional, 0, "optional<" + inner.name + ">");
  }
  if (!dt.contains("configuration") || dt["configuration"].empty()) return ParseV3Name(name);
  return NotSupportedError("data type '" + name + "' is not supported");
}

// --- fill values -----------------------------------------------------------------------------

template <typename T>
void PutBytes(std::vector<std::byte>& out, T value) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));
}

std::optional<uint64_t> ParseHex(std::string_view s) {
  if (s.size() < 3 || s.size() > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
    return std::nullopt;
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), v, 16);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// One float component of width 2, 4 or 8 bytes, appended to `out`.
Status PutFloat(const json& j, size_t width, std::vector<std::byte>& out, std::string_view file) {
  auto bad = [&](std::string_view why) {
    return lsio::internal::FieldError(file, "fill_value",
                                std::string(why) + " for float" + std::to_string(width * 8) +
                                    ", got " + Abbreviate(j));
  };
  double d;
  if (j.is_number()) {
    d = j.get<double>();
  } else if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "NaN") {
      d = std::numeric_limits<double>::quiet_NaN();
    } else if (s == "Infinity") {
      d = std::numeric_limits<double>::infinity();
    } else if (s == "-Infinity") {
      d = -std::numeric_limits<double>::infinity();
    } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      // A bit pattern, the only way to write a NaN with a payload (Zarr v3).
      if (s.size() != 2 + 2 * width) return bad("hex bit pattern of the wrong length");
      std::optional<uint64_t> bits = ParseHex(s);
      if (!bits) return bad("malformed hex bit pattern");
      if (width == 2) PutBytes(out, static_cast<uint16_t>(*bits));
      if (width == 4) PutBytes(out, static_cast<uint32_t>(*bits));
      if (width == 8) PutBytes(out, *bits);
      return Status::OK();
    } else {
      // zarr-python also accepts numbers written as strings ("3.14").
      double v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || p != s.data() + s.size()) return bad("not a number");
      d = v;
    }
  } else {
    return bad("expected a number, \"NaN\", \"Infinity\", \"-Infinity\" or \"0x...\"");
  }
  if (width == 2) {
    PutBytes(out, FloatToHalf(static_cast<float>(d)));
  } else if (width == 4) {
    PutBytes(out, static_cast<float>(d));
  } else {
    PutBytes(out, d);
  }
  return Status::OK();
}

Status PutInteger(const json& j, DataType t, std::vector<std::byte>& out, std::string_view file) {
  auto bad = [&]() {
    return lsio::internal::FieldError(file, "fill_value",
                                "expected an integer in the range of " +
                                    std::string(DataTypeName(t)) + ", got " + Abbreviate(j));
  };
  if (t == DataType::kUInt64 && j.is_number_unsigned()) {
    PutBytes(out, j.get<uint64_t>());
    return Status::OK();
  }
  std::optional<int64_t> v = lsio::internal::AsInt64(j, /*allow_integral_float=*/true);
  if (!v) return bad();
  auto in = [&](int64_t lo, int64_t hi) { return *v >= lo && *v <= hi; };
  switch (t) {
    case DataType::kInt8:
      if (!in(INT8_MIN, INT8_MAX)) return bad();
      PutBytes(out, static_cast<int8_t>(*v));
      break;
    case DataType::kInt16:
      if (!in(INT16_MIN, INT16_MAX)) return bad();
      PutBytes(out, static_cast<int16_t>(*v));
      break;
    case DataType::kInt32:
      if (!in(INT32_MIN, INT32_MAX)) return bad();
      PutBytes(out, static_cast<int32_t>(*v));
      break;
    case DataType::kInt64:
      PutBytes(out, *v);
      break;
    case DataType::kUInt8:
      if (!in(0, UINT8_MAX)) return bad();
      PutBytes(out, static_cast<uint8_t>(*v));
      break;
    case DataType::kUInt16:
      if (!in(0, UINT16_MAX)) return bad();
      PutBytes(out, static_cast<uint16_t>(*v));
      break;
    case DataType::kUInt32:
      if (!in(0, UINT32_MAX)) return bad();
      PutBytes(out, static_cast<uint32_t>(*v));
      break;
    case DataType::kUInt64:
      if (*v < 0) return bad();
      PutBytes(out, static_cast<uint64_t>(*v));
      break;
    default:
      return bad();
  }
  return Status::OK();
}

// Appends the UTF-32 code points of UTF-8 `s`; false on malformed UTF-8.
bool AppendUtf32(std::string_view s, std::vector<char32_t>& out) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len;
    char32_t cp;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    out.push_back(cp);
    i += len;
  }
  return true;
}

// Bytes from base64 (or, for v3 raw types, a list of byte values), zero-padded to `size`.
Status PutByteString(const json& j, size_t size, bool allow_byte_list,
                     std::vector<std::byte>& out, std::string_view file) {
  std::string raw;
  if (j.is_string()) {
    std::optional<std::string> decoded = lsio::internal::DecodeBase64(j.get<std::string>());
    if (!decoded) {
      return lsio::internal::FieldError(file, "fill_value", "malformed base64 " + Abbreviate(j));
    }
    raw = std::move(*decoded);
  } else if (allow_byte_list && j.is_array()) {
    for (const json& b : j) {
      std::optional<int64_t> v = lsio::internal::AsInt64(b);
      if (!v || *v < 0 || *v > 255) {
        return lsio::internal::FieldError(file, "fill_value", "expected byte values, got " +
                                                            Abbreviate(j));
      }
      raw.push_back(static_cast<char>(*v));
    }
  } else {
    return lsio::internal::FieldError(file, "fill_value",
                                "expected a base64 string, got " + Abbreviate(j));
  }
  if (raw.size() > size) {
    return lsio::internal::FieldError(file, "fill_value",
                                "holds " + std::to_string(raw.size()) + " bytes, more than the " +
                                    std::to_string(size) + " of one element");
  }
  raw.resize(size, '\0');
  const auto* p = reinterpret_cast<const std::byte*>(raw.data());
  out.insert(out.end(), p, p + raw.size());
  return Status::OK();
}

}  // namespace

Result<ZarrDataType> ParseZarrV2DataType(const json& dtype, std::string_view object_codec_id) {
  if (dtype.is_string()) return ParseV2TypeString(dtype.get<std::string>(), object_codec_id);
  if (dtype.is_array()) return ParseV2Structured(dtype, 0);
  return InvalidArgumentError("dtype " + Abbreviate(dtype) +
                              " is neither a typestring nor a structured list");
}

Result<ZarrDataType> ParseZarrV3DataType(const json& data_type) { return ParseV3(data_type, 0); }

Result<FillValue> ResolveFillValue(const json& fill, const ZarrDataType& dtype,
                                   ZarrFormat format, std::string_view file) {
  // Damaged metadata can declare elements of a terabyte ("|S1099511627776"); the fill value
  // below would allocate that much.
  if (dtype.item_size > kMaxElementBytes) {
    return NotSupportedError(std::string(file) + ": elements of " +
                             std::to_string(dtype.item_size) + " bytes (" + dtype.name +
                             ") exceed lsio's limit of " + std::to_string(kMaxElementBytes) +
                             " bytes per element");
  }
  FillValue fv;
  fv.json = fill;
  if (fill.is_null()) {
    if (format == ZarrFormat::kV3 && dtype.kind != DataTypeKind::kOptional) {
      return lsio::internal::FieldError(file, "fill_value", "must not be null in Zarr v3");
    }
    fv.is_null = true;
    fv.bytes.assign(dtype.item_size, std::byte{0});
    return fv;
  }
  std::vector<std::byte>& out = fv.bytes;
  switch (dtype.kind) {
    case DataTypeKind::kNumeric: {
      const DataType t = dtype.storage;
      if (t == DataType::kBool) {
        if (fill.is_boolean()) {
          PutBytes(out, static_cast<uint8_t>(fill.get<bool>() ? 1 : 0));
        } else if (std::optional<int64_t> v = lsio::internal::AsInt64(fill, true);
                   v && (*v == 0 || *v == 1)) {
          PutBytes(out, static_cast<uint8_t>(*v));
        } else {
          return lsio::internal::FieldError(file, "fill_value",
                                      "expected true or false, got " + Abbreviate(fill));
        }
      } else if (IsInteger(t)) {
        LSIO_RETURN_IF_ERROR(PutInteger(fill, t, out, file));
      } else if (IsFloat(t)) {
        LSIO_RETURN_IF_ERROR(PutFloat(fill, ByteWidth(t), out, file));
      } else {  // complex
        const size_t half = ByteWidth(t) / 2;
        if (!fill.is_array() || fill.size() != 2) {
          return lsio::internal::FieldError(file, "fill_value",
                                      "expected [real, imag] for " + dtype.name + ", got " +
                                          Abbreviate(fill));
        }
        LSIO_RETURN_IF_ERROR(PutFloat(fill[0], half, out, file));
        LSIO_RETURN_IF_ERROR(PutFloat(fill[1], half, out, file));
      }
      break;
    }
    case DataTypeKind::kDatetime64:
    case DataTypeKind::kTimedelta64: {
      if (fill.is_string() && fill.get<std::string>() == "NaT") {
        PutBytes(out, std::numeric_limits<int64_t>::min());
      } else if (std::optional<int64_t> v = lsio::internal::AsInt64(fill)) {
        PutBytes(out, *v);
      } else {
        return lsio::internal::FieldError(file, "fill_value",
                                    "expected an integer or \"NaT\" for " + dtype.name +
                                        ", got " + Abbreviate(fill));
      }
      break;
    }
    case DataTypeKind::kFixedUtf32: {
      std::vector<char32_t> cps;
      if (!fill.is_string() || !AppendUtf32(fill.get<std::string>(), cps)) {
        return lsio::internal::FieldError(file, "fill_value",
                                    "expected a UTF-8 string for " + dtype.name + ", got " +
                                        Abbreviate(fill));
      }
      const size_t chars = dtype.item_size / 4;
      if (cps.size() > chars) {
        return lsio::internal::FieldError(file, "fill_value",
                                    "string longer than the " + std::to_string(chars) +
                                        " characters of " + dtype.name);
      }
      cps.resize(chars, U'\0');
      for (char32_t c : cps) PutBytes(out, static_cast<uint32_t>(c));
      break;
    }
    case DataTypeKind::kFixedBytes:
    case DataTypeKind::kRawBytes:
    case DataTypeKind::kStructured:
      LSIO_RETURN_IF_ERROR(PutByteString(fill, dtype.item_size,
                                         /*allow_byte_list=*/format == ZarrFormat::kV3, out,
                                         file));
      break;
    case DataTypeKind::kVariableString:
    case DataTypeKind::kVariableBytes:
    case DataTypeKind::kObject:
    case DataTypeKind::kOptional:
      // Only the JSON is kept: these types have no fixed-size element.
      break;
  }
  return fv;
}

std::string DescribeFillValue(const FillValue& fill, const ZarrDataType& dtype) {
  if (fill.is_null) return "null";
  if (dtype.is_fixed_size_number() && fill.bytes.size() == dtype.item_size &&
      (dtype.kind == DataTypeKind::kDatetime64 || dtype.kind == DataTypeKind::kTimedelta64)) {
    int64_t v;
    std::memcpy(&v, fill.bytes.data(), 8);
    if (v == std::numeric_limits<int64_t>::min()) return "NaT";
  }
  std::string s = Abbreviate(fill.json, 60);
  if (fill.json.is_string()) {
    const std::string& v = fill.json.get_ref<const std::string&>();
    if (v == "NaN" || v == "Infinity" || v == "-Infinity") return v;
  }
  return s;
}

}  // namespace lsio::zarr
