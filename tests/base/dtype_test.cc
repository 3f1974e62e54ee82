#include "lsio/base/dtype.h"

#include <bit>
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace lsio {
namespace {

TEST(DataTypeTest, NamesRoundTrip) {
  for (DataType t : kAllDataTypes) {
    EXPECT_EQ(ParseDataTypeName(DataTypeName(t)), t);
  }
  EXPECT_EQ(ByteWidth(DataType::kFloat16), 2u);
  EXPECT_EQ(ByteWidth(DataType::kComplex128), 16u);
  EXPECT_FALSE(ParseDataTypeName("float128").has_value());
  EXPECT_TRUE(IsSignedInteger(DataType::kInt8));
  EXPECT_TRUE(IsUnsignedInteger(DataType::kUInt64));
  EXPECT_TRUE(IsFloat(DataType::kFloat16));
  EXPECT_FALSE(IsRealNumeric(DataType::kComplex64));
}

TEST(Float16Test, EveryHalfRoundTripsThroughFloat) {
  // Reference values: numpy.float16 bit patterns (1.0 = 0x3c00, 65504 = 0x7bff, smallest
  // subnormal 2**-24 = 0x0001).
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7c00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f))));
    } else {
      EXPECT_EQ(FloatToHalf(f), h) << std::hex << h;
    }
  }
}

TEST(Float16Test, RoundsToNearestEven) {
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // rounds to inf, as numpy
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);
}

}  // namespace
}  // namespace lsio
