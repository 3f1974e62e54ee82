#include "config.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace lsio::codec::internal {

Result<ConfigReader> ConfigReader::Make(std::string_view codec, const nlohmann::json& config) {
  if (config.is_null()) return ConfigReader(codec, nullptr);
  if (!config.is_object()) {
    return InvalidArgumentError(
        fmt::format("codec {}: configuration must be a JSON object, got {}", codec,
                    config.dump()));
  }
  return ConfigReader(codec, &config);
}

bool ConfigReader::Has(std::string_view field) const { return Get(field) != nullptr; }

const nlohmann::json* ConfigReader::Get(std::string_view field) const {
  if (config_ == nullptr) return nullptr;
  auto it = config_->find(field);
  if (it == config_->end() || it->is_null()) return nullptr;
  return &*it;
}

Status ConfigReader::FieldError(std::string_view field, std::string_view what) const {
  return InvalidArgumentError(fmt::format("codec {}: field '{}' {}", codec_, field, what));
}

Result<std::optional<int64_t>> ConfigReader::OptionalInt(std::string_view field, int64_t min,
                                                         int64_t max) const {
  const nlohmann::json* v = Get(field);
  if (v == nullptr) return std::optional<int64_t>();
  int64_t value = 0;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t{INT64_MAX}) {
      return FieldError(field, fmt::format("must be an integer in [{}, {}], got {}", min, max,
                                           v->dump()));
    }
    value = v->get<int64_t>();
  } else if (v->is_number_float() && std::abs(v->get<double>()) < 9.0e18 &&
             v->get<double>() == std::trunc(v->get<double>())) {
    // 5.0 written by a JSON encoder that does not keep integers apart.
    value = static_cast<int64_t>(v->get<double>());
  } else {
    return FieldError(field,
                      fmt::format("must be an integer in [{}, {}], got {}", min, max, v->dump()));
  }
  if (value < min || value > max) {
    return FieldError(field,
                      fmt::format("must be an integer in [{}, {}], got {}", min, max, value));
  }
  return std::optional<int64_t>(value);
}

Result<int64_t> ConfigReader::Int(std::string_view field, int64_t fallback, int64_t min,
                                  int64_t max) const {
  LSIO_ASSIGN_OR_RETURN(std::optional<int64_t> v, OptionalInt(field, min, max));
  return v.value_or(fallback);
}

Result<bool> ConfigReader::Bool(std::string_view field, bool fallback) const {
  const nlohmann::json* v = Get(field);
  if (v == nullptr) return fallback;
  if (v->is_boolean()) return v->get<bool>();
  // numcodecs configs written from Python sometimes carry 0/1.
  if (v->is_number_integer() && (v->get<int64_t>() == 0 || v->get<int64_t>() == 1)) {
    return v->get<int64_t>() == 1;
  }
  return FieldError(field, fmt::format("must be true or false, got {}", v->dump()));
}

Result<std::optional<std::string>> ConfigReader::OptionalString(std::string_view field) const {
  const nlohmann::json* v = Get(field);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return FieldError(field, fmt::format("must be a string, got {}", v->dump()));
  return std::optional<std::string>(v->get<std::string>());
}

Result<ConfigReader::Number> ConfigReader::RequiredNumber(std::string_view field) const {
  const nlohmann::json* v = Get(field);
  if (v == nullptr) return FieldError(field, "is required");
  Number n;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t{INT64_MAX}) {
      return FieldError(field, "is an integer too large for lsio");
    }
    n.is_integer = true;
    n.integer = v->get<int64_t>();
    n.value = static_cast<double>(n.integer);
  } else if (v->is_number_float()) {
    n.value = v->get<double>();
  } else {
    return FieldError(field, fmt::format("must be a number, got {}", v->dump()));
  }
  return n;
}

std::string_view EndianName(Endian e) { return e == Endian::kLittle ? "little" : "big"; }

std::string NumpyDtype::ToString() const {
  char order = '|';
  if (ByteWidth(type) > 1) order = endian.value_or(kNativeEndian) == Endian::kLittle ? '<' : '>';
  char kind = 'u';
  if (type == DataType::kBool) kind = 'b';
  if (IsSignedInteger(type)) kind = 'i';
  if (IsFloat(type)) kind = 'f';
  if (IsComplex(type)) kind = 'c';
  return fmt::format("{}{}{}", order, kind, ByteWidth(type));
}

std::optional<NumpyDtype> ParseNumpyDtype(std::string_view text) {
  if (text.empty()) return std::nullopt;
  NumpyDtype result;
  std::optional<Endian> order;
  bool explicit_order = false;
  switch (text.front()) {
    case '<':
      order = Endian::kLittle;
      explicit_order = true;
      break;
    case '>':
      order = Endian::kBig;
      explicit_order = true;
      break;
    case '=':
      order = kNativeEndian;
      explicit_order = true;
      break;
    case '|':
      explicit_order = true;
      break;
    default:
      break;
  }
  std::string_view body = explicit_order ? text.substr(1) : text;
  if (std::optional<DataType> named = ParseDataTypeName(body)) {
    result.type = *named;
  } else {
    if (body.size() < 2) {
      if (body == "?") {
        result.type = DataType::kBool;
      } else {
        return std::nullopt;
      }
    } else {
      const char kind = body.front();
      int width = 0;
      const char* first = body.data() + 1;
      const char* last = body.data() + body.size();
      auto [ptr, ec] = std::from_chars(first, last, width);
      if (ec != std::errc() || ptr != last) return std::nullopt;
      struct Code {
        char kind;
        int width;
        DataType type;
      };
      static constexpr Code kCodes[] = {
          {'b', 1, DataType::kBool},      {'i', 1, DataType::kInt8},
          {'i', 2, DataType::kInt16},     {'i', 4, DataType::kInt32},
          {'i', 8, DataType::kInt64},     {'u', 1, DataType::kUInt8},
          {'u', 2, DataType::kUInt16},    {'u', 4, DataType::kUInt32},
          {'u', 8, DataType::kUInt64},    {'f', 2, DataType::kFloat16},
          {'f', 4, DataType::kFloat32},   {'f', 8, DataType::kFloat64},
          {'c', 8, DataType::kComplex64}, {'c', 16, DataType::kComplex128},
      };
      bool found = false;
      for (const Code& c : kCodes) {
        if (c.kind == kind && c.width == width) {
          result.type = c.type;
          found = true;
          break;
        }
      }
      if (!found) return std::nullopt;
    }
  }
  if (ByteWidth(result.type) > 1) {
    result.endian = explicit_order ? order : std::optional<Endian>(kNativeEndian);
    if (!result.endian) return std::nullopt;  // "|i2" is not a valid numpy dtype
  }
  return result;
}

Result<std::optional<NumpyDtype>> OptionalDtype(const ConfigReader& reader,
                                                std::string_view field) {
  LSIO_ASSIGN_OR_RETURN(std::optional<std::string> text, reader.OptionalString(field));
  if (!text) return std::optional<NumpyDtype>();
  std::optional<NumpyDtype> dtype = ParseNumpyDtype(*text);
  if (!dtype) {
    return reader.FieldError(field, fmt::format("is not a numpy dtype lsio supports: '{}'", *text));
  }
  return dtype;
}

}  // namespace lsio::codec::internal
