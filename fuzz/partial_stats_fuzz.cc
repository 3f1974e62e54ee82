// Partial statistics (lsio.dask's wire format): the input is given to MergePartialStats (CBOR
// document with serialized accumulators inside, merged with itself) and straight to the
// accumulator and reduction-grid deserializers.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lsio/compute/axis_reduction.h"
#include "lsio/compute/stats.h"
#include "lsio/ops/stats_partial.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)lsio::ops::MergePartialStats({bytes, bytes});

  lsio::Result<lsio::compute::StatsAccumulator> acc =
      lsio::compute::StatsAccumulator::Deserialize(bytes);
  if (acc.ok()) {
    (void)acc->Finalize();
    (void)acc->Serialize();
  }
  lsio::Result<lsio::compute::ReductionGrid> grid =
      lsio::compute::ReductionGrid::Deserialize(bytes);
  if (grid.ok()) {
    (void)grid->Serialize();
    if (grid->cell_count() <= (int64_t{1} << 16)) {
      std::vector<double> out(static_cast<size_t>(grid->cell_count()));
      for (int s = 0; s <= static_cast<int>(lsio::compute::CellStatistic::kStd); ++s) {
        (void)grid->Finalize(static_cast<lsio::compute::CellStatistic>(s), out, 1);
      }
    }
  }
  return 0;
}
