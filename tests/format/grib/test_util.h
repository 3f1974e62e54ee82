#pragma once

// Test-only helpers for the GRIB tests: the shared fixtures and their .ref.json (written by
// ecCodes and cfgrib, see ../shared/fixtures/grib/README.md), the files make_grib_fixtures.py
// writes with ecCodes at test time, and SHA-256 of decoded values hashed the way the
// reference files hash them.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lsio::grib::testing {

// ../shared/fixtures/grib (LSIO_SHARED_FIXTURES + "/grib").
std::string SharedGribDir();
// The directory make_grib_fixtures.py wrote (LSIO_GRIB_FIXTURES), or "" when unset.
std::string GeneratedDir();

// Every GRIB file (.grib2, .grib) in a directory, sorted by name.
std::vector<std::string> GribFiles(const std::string& dir);

std::vector<std::byte> ReadFile(const std::string& path);
nlohmann::json ReadJson(const std::string& path);
// NAME.ref.json beside NAME.grib2.
nlohmann::json RefFor(const std::string& grib_path);

std::string Sha256Hex(std::span<const std::byte> bytes);

// sha256 of values as little-endian float64 / float32, every NaN written as numpy's np.nan
// (the hashes in the .ref.json files).
std::string HashValues(std::span<const double> values);
std::string HashValues(std::span<const float> values);

std::string BaseName(const std::string& path);

}  // namespace lsio::grib::testing
