#pragma once

// Test helpers: reading the .npy files and manifest.json that make_reference.py writes into
// $LSIO_BINARY_DIR/compute_reference (a CTest fixture), and comparing against them.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lsio/base/buffer.h"
#include "lsio/base/dtype.h"
#include "lsio/base/result.h"
#include "lsio/compute/chunk_box.h"
#include "lsio/compute/missing_values.h"
#include "src/compute/kernels.h"

namespace lsio::compute::testing {

// A C-order array read from a .npy file, its bytes 4096-aligned.
struct NpyArray {
  DataType dtype = DataType::kFloat64;
  std::vector<int64_t> shape;
  Buffer data;

  ChunkView view() const { return ChunkView{dtype, shape, data.span()}; }
  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(data.data());
  }
  int64_t size() const { return ElementCount(shape); }
};

// Reads a little-endian, C-order .npy file (versions 1-3) of a real dtype.
Result<NpyArray> ReadNpy(const std::string& path);

// The directory make_reference.py wrote into; empty if LSIO_BINARY_DIR is unset.
std::string ReferenceDir();
// The parsed manifest.json, loaded once. Fails the calling test if it cannot be read.
const nlohmann::json& Manifest();
// Reads <reference dir>/<name>; fails the calling test on error.
NpyArray LoadArray(const std::string& name);

// A float written by repr() ("nan", "-inf", "1.5e-07").
double F(const nlohmann::json& j);
// An exact integer written as a decimal string.
__int128 I128(const nlohmann::json& j);
MissingValues ParseMissing(const nlohmann::json& j);

// Expectations with the tolerances of the compute tests (see the .cc for the reasoning).
// NaN matches NaN and infinities match exactly.
void ExpectSame(double actual, double expected, const char* what);
// |actual - expected| <= tol * scale.
void ExpectClose(double actual, double expected, double tol, double scale, const char* what);
// Standard deviations: relative error <= 1e-9, or for constant data (expected == 0) at most
// 1e-14 of the data's magnitude.
void ExpectStd(double actual, double expected, double mean_abs, const char* what);

// A fixture that runs each test once per SIMD target the kernels were compiled for and this CPU
// supports (SCALAR, SSSE3, SSE4, AVX2, AVX3 on a recent x86), so every dispatched variant meets
// the same reference.
class KernelTargetTest : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override;
  void TearDown() override;
};
std::string KernelTargetParamName(const ::testing::TestParamInfo<int64_t>& info);

#define LSIO_INSTANTIATE_FOR_KERNEL_TARGETS(suite)                                   \
  INSTANTIATE_TEST_SUITE_P(                                                          \
      Targets, suite, ::testing::ValuesIn(::lsio::compute::internal::AvailableKernelTargets()), \
      ::lsio::compute::testing::KernelTargetParamName)

}  // namespace lsio::compute::testing
