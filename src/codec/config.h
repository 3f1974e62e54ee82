#pragma once

// Reading codec configurations (JSON) with errors that name the codec and the field.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lsio/base/dtype.h"
#include "lsio/base/result.h"

namespace lsio::codec::internal {

// A view of one codec's configuration object. A null configuration reads as an empty object;
// anything else that is not an object is rejected by Make().
class ConfigReader {
 public:
  // kInvalidArgument "codec X: configuration must be a JSON object" for non-objects.
  static Result<ConfigReader> Make(std::string_view codec, const nlohmann::json& config);

  bool Has(std::string_view field) const;
  // The member, or nullptr when absent or JSON null.
  const nlohmann::json* Get(std::string_view field) const;

  // An integer member in [min, max]; `fallback` when absent or null.
  Result<int64_t> Int(std::string_view field, int64_t fallback, int64_t min, int64_t max) const;
  Result<std::optional<int64_t>> OptionalInt(std::string_view field, int64_t min,
                                             int64_t max) const;
  Result<bool> Bool(std::string_view field, bool fallback) const;
  Result<std::optional<std::string>> OptionalString(std::string_view field) const;
  // Any JSON number, keeping whether it was written as an integer (numpy promotes Python
  // ints and floats differently).
  struct Number {
    double value = 0;
    bool is_integer = false;
    int64_t integer = 0;  // valid when is_integer
  };
  Result<Number> RequiredNumber(std::string_view field) const;

  // "codec <codec>: field '<field>' <what>" as kInvalidArgument.
  Status FieldError(std::string_view field, std::string_view what) const;

  std::string_view codec() const { return codec_; }

 private:
  ConfigReader(std::string_view codec, const nlohmann::json* config)
      : codec_(codec), config_(config) {}
  std::string codec_;
  const nlohmann::json* config_;  // null for an empty configuration
};

// A numpy dtype as numcodecs configurations spell it: "<f8", ">i2", "|u1", "int16", "float32",
// "f4", "bool". `endian` is nullopt for 1-byte types and '|', native for '=' and no prefix.
struct NumpyDtype {
  DataType type = DataType::kUInt8;
  std::optional<Endian> endian;
  std::string ToString() const;  // "<f8"
};
std::optional<NumpyDtype> ParseNumpyDtype(std::string_view text);

// Reads a dtype member; nullopt when absent or null.
Result<std::optional<NumpyDtype>> OptionalDtype(const ConfigReader& reader,
                                                std::string_view field);

// "little" / "big".
std::string_view EndianName(Endian e);

}  // namespace lsio::codec::internal
