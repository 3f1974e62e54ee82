#pragma once

// IEEE single-precision numbers in GRIB headers (the reference value R of the packings), read
// the way ecCodes reads them (grib_ieeefloat.cc grib_long_to_ieee), which is not quite IEEE:
// a zero exponent with a non-zero mantissa is taken as exponent 1 with the implicit bit set
// (so "subnormals" are read as 2^-126 * (1 + m/2^23), not as m * 2^-149), and the value is
// built in double as mantissa * 2^(exponent - 150). An exponent of 255 (infinity and NaN in
// IEEE) continues the same formula, where ecCodes reads past its table; no GRIB encoder writes
// one.

#include <cmath>
#include <cstdint>

namespace lsio::grib::internal {

inline double EccodesIeeeToDouble(uint32_t x) {
  const uint32_t sign = x & 0x80000000u;
  uint32_t exponent = (x & 0x7f800000u) >> 23;
  uint32_t mantissa = x & 0x007fffffu;
  if (exponent == 0 && mantissa == 0) return 0.0;
  if (exponent == 0) exponent = 1;
  mantissa |= 0x800000u;
  // 2^(exponent - 150) is exact in double for exponent in [1, 255].
  const double value =
      static_cast<double>(mantissa) * std::ldexp(1.0, static_cast<int>(exponent) - 150);
  return sign ? -value : value;
}

// ecCodes' codes_power<double>(s, n): n^s by repeated multiplication or division, in that
// order, which is what makes 10^-D bit-identical to ecCodes'.
inline double EccodesPower(long s, long n) {
  double divisor = 1.0;
  if (s == 0) return 1.0;
  if (s == 1) return static_cast<double>(n);
  while (s < 0) {
    divisor /= static_cast<double>(n);
    s++;
  }
  while (s > 0) {
    divisor *= static_cast<double>(n);
    s--;
  }
  return divisor;
}

}  // namespace lsio::grib::internal
