#pragma once

// numpy.nanquantile(values, q, method="linear") for float64 values, written out plainly (sort,
// then numpy's _lerp): the reference the quantile tests compare lsio's selections against.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace lsio::compute::reference {

inline double NumpyQuantile(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double n = static_cast<double>(v.size());
  const double vi = (n - 1) * q;
  if (vi >= n - 1) return v.back();
  const size_t lo = static_cast<size_t>(std::floor(vi));
  const double g = vi - std::floor(vi);
  const double d = v[lo + 1] - v[lo];
  return g >= 0.5 ? v[lo + 1] - d * (1 - g) : v[lo] + d * g;
}

}  // namespace lsio::compute::reference
