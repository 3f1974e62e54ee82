#include "lsio/base/json_util.h"

#include <cmath>
#include <limits>

namespace lsio::internal {

namespace {

// A SAX handler that accepts everything and keeps the first parse error; used only to produce
// a readable message after the exception-free parse has already failed.
struct ErrorRecorder {
  size_t position = 0;
  std::string message;

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(nlohmann::json::number_integer_t) { return true; }
  bool number_unsigned(nlohmann::json::number_unsigned_t) { return true; }
  bool number_float(nlohmann::json::number_float_t, const std::string&) { return true; }
  bool string(std::string&) { return true; }
  bool binary(nlohmann::json::binary_t&) { return true; }
  bool start_object(size_t) { return true; }
  bool key(std::string&) { return true; }
  bool end_object() { return true; }
  bool start_array(size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(size_t pos, const std::string&, const nlohmann::detail::exception& ex) {
    position = pos;
    message = ex.what();
    return false;
  }
};

// Nesting deeper than this is not metadata; refusing it keeps every later recursive walk
// (dump(), our own visitors) well inside the stack.
constexpr int kMaxDepth = 200;

bool TooDeep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// The bare tokens Python's json module writes for non-finite floats (and reads back), which
// zarr-python 3 and xarray write into attributes. nlohmann::json refuses them.
constexpr std::string_view kNonFiniteTokens[] = {"-Infinity", "Infinity", "NaN"};

// `text` twice over with every non-finite token outside strings replaced: in `as_strings` by
// the token as a JSON string ("NaN"), in `as_nulls` by null. False when there is none.
bool ReplaceNonFiniteTokens(std::string_view text, std::string* as_strings,
                            std::string* as_nulls) {
  bool found = false;
  bool in_string = false;
  bool escaped = false;
  size_t copied = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    for (std::string_view token : kNonFiniteTokens) {
      if (text.substr(i, token.size()) != token) continue;
      const std::string_view before = text.substr(copied, i - copied);
      as_strings->append(before).append("\"").append(token).append("\"");
      as_nulls->append(before).append("null");
      i += token.size() - 1;
      copied = i + 1;
      found = true;
      break;
    }
  }
  as_strings->append(text.substr(copied));
  as_nulls->append(text.substr(copied));
  return found;
}

// Where `as_nulls` has a null and `as_strings` a string, the source had a bare token: put the
// number it stands for into `as_strings`. (A string in the source is a string in both
// documents, so no string the writer meant can be taken for a token.)
void RestoreNonFinite(nlohmann::json& as_strings, const nlohmann::json& as_nulls) {
  if (as_nulls.is_null() && as_strings.is_string()) {
    const std::string& token = as_strings.get_ref<const std::string&>();
    const double inf = std::numeric_limits<double>::infinity();
    as_strings = token == "NaN" ? std::numeric_limits<double>::quiet_NaN()
                                : (token == "Infinity" ? inf : -inf);
  } else if (as_strings.is_object() && as_nulls.is_object()) {
    for (auto it = as_strings.begin(); it != as_strings.end(); ++it) {
      auto other = as_nulls.find(it.key());
      if (other != as_nulls.end()) RestoreNonFinite(it.value(), *other);
    }
  } else if (as_strings.is_array() && as_nulls.is_array() &&
             as_strings.size() == as_nulls.size()) {
    for (size_t i = 0; i < as_strings.size(); ++i) RestoreNonFinite(as_strings[i], as_nulls[i]);
  }
}

bool HasNonFinite(const nlohmann::json& j) {
  if (j.is_number_float()) return !std::isfinite(j.get<double>());
  if (j.is_structured()) {
    for (const nlohmann::json& v : j) {
      if (HasNonFinite(v)) return true;
    }
  }
  return false;
}

// A copy of `j` with each non-finite number replaced by the string `tag` + its token.
nlohmann::json TagNonFinite(const nlohmann::json& j, const std::string& tag) {
  if (j.is_number_float()) {
    const double v = j.get<double>();
    if (std::isnan(v)) return tag + "NaN";
    if (std::isinf(v)) return tag + (v > 0 ? "Infinity" : "-Infinity");
    return j;
  }
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = TagNonFinite(it.value(), tag);
    return out;
  }
  if (j.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const nlohmann::json& v : j) out.push_back(TagNonFinite(v, tag));
    return out;
  }
  return j;
}

std::string Dump(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Result<nlohmann::json> ParseJson(std::string_view text, std::string_view file) {
  if (TooDeep(text)) {
    return InvalidArgumentError(std::string(file) + ": JSON nested more than " +
                                std::to_string(kMaxDepth) + " levels deep");
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) return j;
  std::string as_strings;
  std::string as_nulls;
  if (ReplaceNonFiniteTokens(text, &as_strings, &as_nulls)) {
    nlohmann::json a = nlohmann::json::parse(as_strings, nullptr, /*allow_exceptions=*/false);
    nlohmann::json b = nlohmann::json::parse(as_nulls, nullptr, /*allow_exceptions=*/false);
    if (!a.is_discarded() && !b.is_discarded()) {
      RestoreNonFinite(a, b);
      return a;
    }
  }
  ErrorRecorder recorder;
  nlohmann::json::sax_parse(text, &recorder, nlohmann::json::input_format_t::json,
                            /*strict=*/true);
  std::string msg = std::string(file) + ": malformed JSON";
  if (!recorder.message.empty()) {
    msg += " at byte " + std::to_string(recorder.position) + ": " + recorder.message;
  }
  return InvalidArgumentError(std::move(msg));
}

bool SameJson(const nlohmann::json& a, const nlohmann::json& b) {
  return a == b || DumpJson(a, -1) == DumpJson(b, -1);
}

std::string DumpJson(const nlohmann::json& j, int indent) {
  if (!HasNonFinite(j)) return Dump(j, indent);
  // Non-finite numbers go out as tagged strings whose quotes are then dropped. The tag is one
  // that no string of the document contains (dump() writes the control character as \u0001),
  // so only the tagged strings lose their quotes.
  const std::string plain = Dump(j, indent);
  std::string tag = "lsio-nonfinite:";
  while (plain.find("\\u0001" + tag) != std::string::npos) tag = "~" + tag;
  const std::string text = Dump(TagNonFinite(j, "\x01" + tag), indent);
  const std::string open = "\"\\u0001" + tag;
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t a = text.find(open, pos);
    if (a == std::string::npos) break;
    const size_t b = text.find('"', a + open.size());
    out.append(text, pos, a - pos);
    out.append(text, a + open.size(), b - a - open.size());
    pos = b + 1;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

std::string Abbreviate(const nlohmann::json& j, size_t max_chars) {
  std::string s = DumpJson(j, -1);
  if (s.size() > max_chars) {
    s.resize(max_chars);
    s += "...";
  }
  return s;
}

std::optional<int64_t> AsInt64(const nlohmann::json& j, bool allow_integral_float) {
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (j.is_number_integer()) return j.get<int64_t>();
  if (allow_integral_float && j.is_number_float()) {
    const double d = j.get<double>();
    // 2^63 is exactly representable; anything at or above it does not fit.
    if (std::isfinite(d) && std::trunc(d) == d && d >= -9223372036854775808.0 &&
        d < 9223372036854775808.0) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

Status FieldError(std::string_view file, std::string_view field, std::string_view what) {
  return InvalidArgumentError(std::string(file) + ": field '" + std::string(field) + "': " +
                              std::string(what));
}

Result<std::vector<int64_t>> GetShape(const nlohmann::json& j, std::string_view file,
                                      std::string_view field, bool allow_zero) {
  if (!j.is_array()) {
    return FieldError(file, field, "expected a list of integers, got " + Abbreviate(j));
  }
  std::vector<int64_t> dims;
  dims.reserve(j.size());
  for (const nlohmann::json& v : j) {
    std::optional<int64_t> n = AsInt64(v);
    if (!n || *n < 0 || (*n == 0 && !allow_zero)) {
      return FieldError(file, field,
                        std::string(allow_zero ? "sizes must be non-negative integers"
                                               : "sizes must be positive integers") +
                            ", got " + Abbreviate(j));
    }
    dims.push_back(*n);
  }
  return dims;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=') {
        // Padding only in the last group's last two places.
        if (i + 4 != text.size() || k < 2) return std::nullopt;
        v[k] = 0;
        ++pad;
      } else {
        if (pad > 0) return std::nullopt;
        v[k] = value(c);
        if (v[k] < 0) return std::nullopt;
      }
    }
    const uint32_t triple = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>((triple >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((triple >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(triple & 0xff));
  }
  return out;
}

std::optional<int64_t> CheckedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::optional<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::optional<int64_t> CheckedProduct(const std::vector<int64_t>& dims) {
  int64_t p = 1;
  for (int64_t d : dims) {
    std::optional<int64_t> next = CheckedMul(p, d);
    if (!next) return std::nullopt;
    p = *next;
  }
  return p;
}

std::string FormatShape(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

}  // namespace lsio::internal
