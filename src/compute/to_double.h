#pragma once

// Elements of any real dtype to float64, with missing values turned into NaN. Used where the
// kernels work in float64 throughout (reduction grids, histograms). Private to the layer.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "lsio/base/dtype.h"
#include "lsio/compute/missing_values.h"

namespace lsio::compute::internal {

template <typename T>
void ToDoubleAs(const std::byte* src, size_t n, const ResolvedMissing& missing, double* dst) {
  const T* p = reinterpret_cast<const T*>(src);
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t bits = static_cast<U>(p[i]);
      const bool miss = (missing.count > 0 && bits == missing.bits[0]) ||
                        (missing.count > 1 && bits == missing.bits[1]);
      dst[i] = miss ? kNaN : static_cast<double>(p[i]);
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      const double x = static_cast<double>(p[i]);
      const bool miss = (missing.count > 0 && x == missing.value[0]) ||
                        (missing.count > 1 && x == missing.value[1]);
      dst[i] = miss ? kNaN : x;
    }
  }
}

inline void ToDouble(DataType dtype, const std::byte* src, size_t n,
                     const ResolvedMissing& missing, double* dst) {
  switch (dtype) {
    case DataType::kBool:
    case DataType::kUInt8: ToDoubleAs<uint8_t>(src, n, missing, dst); return;
    case DataType::kInt8: ToDoubleAs<int8_t>(src, n, missing, dst); return;
    case DataType::kInt16: ToDoubleAs<int16_t>(src, n, missing, dst); return;
    case DataType::kUInt16: ToDoubleAs<uint16_t>(src, n, missing, dst); return;
    case DataType::kInt32: ToDoubleAs<int32_t>(src, n, missing, dst); return;
    case DataType::kUInt32: ToDoubleAs<uint32_t>(src, n, missing, dst); return;
    case DataType::kInt64: ToDoubleAs<int64_t>(src, n, missing, dst); return;
    case DataType::kUInt64: ToDoubleAs<uint64_t>(src, n, missing, dst); return;
    case DataType::kFloat16: {
      const uint16_t* p = reinterpret_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) {
        const double x = static_cast<double>(HalfToFloat(p[i]));
        const bool miss = (missing.count > 0 && x == missing.value[0]) ||
                          (missing.count > 1 && x == missing.value[1]);
        dst[i] = miss ? std::numeric_limits<double>::quiet_NaN() : x;
      }
      return;
    }
    case DataType::kFloat32: ToDoubleAs<float>(src, n, missing, dst); return;
    default: ToDoubleAs<double>(src, n, missing, dst); return;
  }
}

}  // namespace lsio::compute::internal
