// numpy-compatible scalar rules used by the array filters, against values numpy and IEEE 754
// define (the numpy promotion table below is np.result_type's output, numpy 2.4).

#include "numeric.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace lsio::codec::internal {
namespace {

TEST(PromoteTypes, MatchesNumpyResultType) {
  using T = DataType;
  const T kTypes[] = {T::kInt8,   T::kInt16,   T::kInt32,   T::kInt64,   T::kUInt8,  T::kUInt16,
                      T::kUInt32, T::kUInt64,  T::kFloat16, T::kFloat32, T::kFloat64, T::kBool};
  // Row a, column b: np.result_type(a, b).
  const T kTable[12][12] = {
      {T::kInt8, T::kInt16, T::kInt32, T::kInt64, T::kInt16, T::kInt32, T::kInt64, T::kFloat64,
       T::kFloat16, T::kFloat32, T::kFloat64, T::kInt8},
      {T::kInt16, T::kInt16, T::kInt32, T::kInt64, T::kInt16, T::kInt32, T::kInt64, T::kFloat64,
       T::kFloat32, T::kFloat32, T::kFloat64, T::kInt16},
      {T::kInt32, T::kInt32, T::kInt32, T::kInt64, T::kInt32, T::kInt32, T::kInt64, T::kFloat64,
       T::kFloat64, T::kFloat64, T::kFloat64, T::kInt32},
      {T::kInt64, T::kInt64, T::kInt64, T::kInt64, T::kInt64, T::kInt64, T::kInt64, T::kFloat64,
       T::kFloat64, T::kFloat64, T::kFloat64, T::kInt64},
      {T::kInt16, T::kInt16, T::kInt32, T::kInt64, T::kUInt8, T::kUInt16, T::kUInt32, T::kUInt64,
       T::kFloat16, T::kFloat32, T::kFloat64, T::kUInt8},
      {T::kInt32, T::kInt32, T::kInt32, T::kInt64, T::kUInt16, T::kUInt16, T::kUInt32,
       T::kUInt64, T::kFloat32, T::kFloat32, T::kFloat64, T::kUInt16},
      {T::kInt64, T::kInt64, T::kInt64, T::kInt64, T::kUInt32, T::kUInt32, T::kUInt32,
       T::kUInt64, T::kFloat64, T::kFloat64, T::kFloat64, T::kUInt32},
      {T::kFloat64, T::kFloat64, T::kFloat64, T::kFloat64, T::kUInt64, T::kUInt64, T::kUInt64,
       T::kUInt64, T::kFloat64, T::kFloat64, T::kFloat64, T::kUInt64},
      {T::kFloat16, T::kFloat32, T::kFloat64, T::kFloat64, T::kFloat16, T::kFloat32,
       T::kFloat64, T::kFloat64, T::kFloat16, T::kFloat32, T::kFloat64, T::kFloat16},
      {T::kFloat32, T::kFloat32, T::kFloat64, T::kFloat64, T::kFloat32, T::kFloat32,
       T::kFloat64, T::kFloat64, T::kFloat32, T::kFloat32, T::kFloat64, T::kFloat32},
      {T::kFloat64, T::kFloat64, T::kFloat64, T::kFloat64, T::kFloat64, T::kFloat64,
       T::kFloat64, T::kFloat64, T::kFloat64, T::kFloat64, T::kFloat64, T::kFloat64},
      {T::kInt8, T::kInt16, T::kInt32, T::kInt64, T::kUInt8, T::kUInt16, T::kUInt32, T::kUInt64,
       T::kFloat16, T::kFloat32, T::kFloat64, T::kBool},
  };
  for (int a = 0; a < 12; ++a) {
    for (int b = 0; b < 12; ++b) {
      EXPECT_EQ(PromoteTypes(kTypes[a], kTypes[b]), kTable[a][b])
          << DataTypeName(kTypes[a]) << " + " << DataTypeName(kTypes[b]);
    }
  }
}

TEST(DoubleToHalf, RoundsOnceToNearestEven) {
  EXPECT_EQ(DoubleToHalf(0.0), 0x0000);
  EXPECT_EQ(DoubleToHalf(-0.0), 0x8000);
  EXPECT_EQ(DoubleToHalf(1.0), 0x3c00);
  EXPECT_EQ(DoubleToHalf(-2.0), 0xc000);
  EXPECT_EQ(DoubleToHalf(65504.0), 0x7bff);               // largest half
  EXPECT_EQ(DoubleToHalf(65519.99), 0x7bff);              // below the rounding midpoint
  EXPECT_EQ(DoubleToHalf(65520.0), 0x7c00);               // the midpoint rounds to infinity
  EXPECT_EQ(DoubleToHalf(1e300), 0x7c00);
  EXPECT_EQ(DoubleToHalf(-1e300), 0xfc00);
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -25)), 0x0000);  // tie to even: zero
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -25) * 1.0000001), 0x0001);
  EXPECT_EQ(DoubleToHalf(std::ldexp(3.0, -25)), 0x0002);  // tie between 1 and 2: even
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(DoubleToHalf(1.0 + std::ldexp(1.0, -11)), 0x3c00);  // tie: even (1.0)
  // Double rounding trap: through float, 1 + 2^-11 + 2^-30 becomes the tie 1 + 2^-11 and
  // rounds to 1.0; rounded once, it is above the tie and rounds up.
  EXPECT_EQ(DoubleToHalf(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -30)), 0x3c01);
  EXPECT_EQ(DoubleToHalf(std::numeric_limits<double>::infinity()), 0x7c00);
  const uint16_t nan = DoubleToHalf(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
}

TEST(NumpyCast, FollowsCConversions) {
  EXPECT_EQ(NumpyCast<int32_t>(-3.9), -3);   // truncation toward zero
  EXPECT_EQ(NumpyCast<uint8_t>(255.9), 255);
  EXPECT_EQ(NumpyCast<int8_t>(int32_t{300}), 44);  // integer casts wrap
  EXPECT_EQ(NumpyCast<uint16_t>(int32_t{-1}), 65535);
  EXPECT_EQ(NumpyCast<float>(Float16{0x3c00}), 1.0f);
  EXPECT_EQ(NumpyCast<Float16>(0.5).bits, 0x3800);
  EXPECT_EQ(NumpyCast<BoolElem>(0.0).v, 0);
  EXPECT_EQ(NumpyCast<BoolElem>(-0.5).v, 1);
  EXPECT_EQ(NumpyCast<int32_t>(BoolElem{7}), 1);
  // Out of range and NaN have no C meaning; they must still give a value, not UB.
  (void)NumpyCast<int32_t>(std::numeric_limits<double>::quiet_NaN());
  (void)NumpyCast<uint64_t>(-1e300);
  (void)NumpyCast<int16_t>(1e10f);
}

}  // namespace
}  // namespace lsio::codec::internal
