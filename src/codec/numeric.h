#pragma once

// Element types and numpy-compatible scalar conversions for the array->array codecs.
//
// numcodecs filters are numpy expressions; to decode byte-identically we reproduce numpy's
// casts: int->int wraps, float->int truncates toward zero, double->float16 rounds once (not
// via float32), and float16 arithmetic is done in float32 and rounded back after every
// operation (numpy's half loops). Out-of-range float->int casts are undefined in C; numpy
// returns what the x86 conversion instruction returns, which we emulate without UB.

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "lsio/base/dtype.h"

namespace lsio::codec::internal {

// A bool element as stored: one byte, any non-zero value reads as true.
struct BoolElem {
  uint8_t v;
};

uint16_t DoubleToHalf(double value);

// numpy's type promotion (np.result_type) for two real types, e.g. (uint8, int8) -> int16,
// (int64, uint64) -> float64, (int16, float16) -> float32. Precondition: neither is complex.
DataType PromoteTypes(DataType a, DataType b);

template <typename T>
inline constexpr bool kIsHalf = std::is_same_v<T, Float16>;
template <typename T>
inline constexpr bool kIsBool = std::is_same_v<T, BoolElem>;
template <typename T>
inline constexpr bool kIsFloating = std::is_floating_point_v<T> || kIsHalf<T>;

// Calls f(T{}) with T the storage type of `t`; returns false (without calling) for complex.
template <typename F>
bool VisitRealType(DataType t, F&& f) {
  switch (t) {
    case DataType::kBool:
      f(BoolElem{});
      return true;
    case DataType::kInt8:
      f(int8_t{});
      return true;
    case DataType::kInt16:
      f(int16_t{});
      return true;
    case DataType::kInt32:
      f(int32_t{});
      return true;
    case DataType::kInt64:
      f(int64_t{});
      return true;
    case DataType::kUInt8:
      f(uint8_t{});
      return true;
    case DataType::kUInt16:
      f(uint16_t{});
      return true;
    case DataType::kUInt32:
      f(uint32_t{});
      return true;
    case DataType::kUInt64:
      f(uint64_t{});
      return true;
    case DataType::kFloat16:
      f(Float16{});
      return true;
    case DataType::kFloat32:
      f(float{});
      return true;
    case DataType::kFloat64:
      f(double{});
      return true;
    case DataType::kComplex64:
    case DataType::kComplex128:
      return false;
  }
  return false;
}

template <typename T>
inline T LoadElem(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
inline void StoreElem(std::byte* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

// C's float->integer conversion as x86 performs it, for any double (no UB): narrow signed
// and 8/16-bit targets go through a 32-bit conversion, uint32 through a 64-bit one; NaN and
// out-of-range give the "integer indefinite" value.
template <typename To>
To TruncateToInt(double v) {
  static_assert(std::is_integral_v<To>);
  if constexpr (std::is_same_v<To, uint64_t>) {
    if (v >= 0 && v < 18446744073709551616.0) return static_cast<uint64_t>(v);
    if (v > -9223372036854775809.0 && v < 0) {
      return static_cast<uint64_t>(static_cast<int64_t>(v));
    }
    return uint64_t{1} << 63;
  } else if constexpr (std::is_same_v<To, int64_t>) {
    if (v >= -9223372036854775808.0 && v < 9223372036854775808.0) return static_cast<int64_t>(v);
    return std::numeric_limits<int64_t>::min();
  } else if constexpr (std::is_same_v<To, uint32_t>) {
    if (v > -9223372036854775809.0 && v < 9223372036854775808.0) {
      return static_cast<uint32_t>(static_cast<int64_t>(v));
    }
    return 0;
  } else {
    if (v > -2147483649.0 && v < 2147483648.0) return static_cast<To>(static_cast<int32_t>(v));
    return static_cast<To>(std::numeric_limits<int32_t>::min());
  }
}

// numpy's astype for one element.
template <typename To, typename From>
To NumpyCast(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (kIsBool<From>) {
    return NumpyCast<To>(static_cast<uint8_t>(v.v != 0));
  } else if constexpr (kIsHalf<From>) {
    if constexpr (kIsBool<To>) {
      return BoolElem{static_cast<uint8_t>((v.bits & 0x7fffu) != 0)};
    } else {
      return NumpyCast<To>(HalfToFloat(v.bits));
    }
  } else if constexpr (kIsBool<To>) {
    return BoolElem{static_cast<uint8_t>(v != 0)};
  } else if constexpr (kIsHalf<To>) {
    if constexpr (std::is_same_v<From, float>) {
      return Float16{FloatToHalf(v)};
    } else {
      return Float16{DoubleToHalf(static_cast<double>(v))};
    }
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return TruncateToInt<To>(static_cast<double>(v));
  } else {
    return static_cast<To>(v);
  }
}

// Arithmetic in the numpy type T: float16 goes through float32 and rounds after each op.
template <typename T>
struct Arith {
  using Compute = T;
  static T Add(T a, T b) { return static_cast<T>(a + b); }
  static T Sub(T a, T b) { return static_cast<T>(a - b); }
};
template <>
struct Arith<Float16> {
  static Float16 Add(Float16 a, Float16 b) {
    return Float16{FloatToHalf(HalfToFloat(a.bits) + HalfToFloat(b.bits))};
  }
  static Float16 Sub(Float16 a, Float16 b) {
    return Float16{FloatToHalf(HalfToFloat(a.bits) - HalfToFloat(b.bits))};
  }
};

// Integer add/sub wrap modulo 2^bits, as numpy's do (and without signed-overflow UB).
template <typename T>
  requires std::is_integral_v<T>
struct WrapArith {
  using U = std::make_unsigned_t<T>;
  static T Add(T a, T b) { return static_cast<T>(static_cast<U>(U(a) + U(b))); }
  static T Sub(T a, T b) { return static_cast<T>(static_cast<U>(U(a) - U(b))); }
};
template <> struct Arith<int8_t> : WrapArith<int8_t> {};
template <> struct Arith<int16_t> : WrapArith<int16_t> {};
template <> struct Arith<int32_t> : WrapArith<int32_t> {};
template <> struct Arith<int64_t> : WrapArith<int64_t> {};
template <> struct Arith<uint8_t> : WrapArith<uint8_t> {};
template <> struct Arith<uint16_t> : WrapArith<uint16_t> {};
template <> struct Arith<uint32_t> : WrapArith<uint32_t> {};
template <> struct Arith<uint64_t> : WrapArith<uint64_t> {};

}  // namespace lsio::codec::internal
