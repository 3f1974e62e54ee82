// CellValues against sorting each cell's values (numpy's nanquantile "linear" written out
// plainly), with NaNs, ties, empty cells and the quantiles 0 and 1.

#include "lsio/compute/cell_quantiles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "numpy_quantile_reference.h"

namespace lsio::compute {
namespace {

using reference::NumpyQuantile;

TEST(CellValues, EqualsSortingEachCell) {
  const int64_t cells = 50, per = 37;
  Result<CellValues> values = CellValues::Make(cells, per, 1 << 20);
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0, 4);
  std::vector<std::vector<double>> want_cells(cells);
  for (int64_t c = 0; c < cells; ++c) {
    for (int64_t i = 0; i < per; ++i) {
      double x = normal(rng);
      if (c % 7 == 1) x = std::round(x);  // ties
      if (rng() % 5 == 0 || c == 4) x = NAN;  // cell 4: no valid value
      // Cell 9 keeps a slot never written (NaN as made).
      if (c == 9 && i == 0) continue;
      values->slots()[static_cast<size_t>(c * per + i)] = x;
      want_cells[c].push_back(x);
    }
  }
  const std::vector<double> qs = {0.0, 0.013, 0.25, 0.5, 0.5001, 0.99, 1.0};
  std::vector<double> out(qs.size() * cells);
  ASSERT_TRUE(values->Finalize(DataType::kFloat64, qs, out).ok());
  for (int64_t c = 0; c < cells; ++c) {
    for (size_t i = 0; i < qs.size(); ++i) {
      const double want = NumpyQuantile(want_cells[c], qs[i]);
      const double got = out[i * cells + c];
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << c;
      } else {
        EXPECT_EQ(got, want) << "cell " << c << " q " << qs[i];
      }
    }
  }
}

TEST(CellValues, RefusesMoreThanTheBudget) {
  Result<CellValues> values = CellValues::Make(1000, 1000, 1 << 20);
  EXPECT_EQ(values.status().code(), StatusCode::kResourceExhausted);
  Result<CellValues> ok = CellValues::Make(0, 1000, 0);
  ASSERT_TRUE(ok.ok());
  std::vector<double> out;
  EXPECT_TRUE(ok->Finalize(DataType::kFloat64, std::vector<double>{0.5}, out).ok());
  std::vector<double> wrong(3);
  EXPECT_FALSE(ok->Finalize(DataType::kFloat64, std::vector<double>{0.5}, wrong).ok());
}

}  // namespace
}  // namespace lsio::compute
