// Parameter names, level, step and time keys of every message of every shared fixture against
// the pinned ecCodes' (.ref.json), and coordinates against cfgrib's.

#include "lsio/format/grib/field_keys.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "lsio/format/grib/grid.h"
#include "lsio/format/grib/message.h"
#include "lsio/format/grib/scan.h"
#include "test_util.h"

namespace lsio::grib {
namespace {

using testing::BaseName;
using testing::GribFiles;
using testing::HashValues;
using testing::ReadFile;
using testing::RefFor;
using testing::SharedGribDir;

// ecCodes prints steps in hours without a unit ("6") and others with one ("30m"); the refs keep
// integers for the former.
std::string StepText(const nlohmann::json& j) {
  return j.is_string() ? j.get<std::string>() : std::to_string(j.get<int64_t>());
}
std::string WithUnit(int64_t v, int units) {
  return std::to_string(v) + (units == 0 ? "m" : units == 13 ? "s" : "");
}

TEST(GribFieldKeys, EveryFixtureMatchesEccodes) {
  size_t checked = 0;
  for (const std::string& path : GribFiles(SharedGribDir())) {
    SCOPED_TRACE(BaseName(path));
    const std::vector<std::byte> bytes = ReadFile(path);
    const nlohmann::json ref = RefFor(path);
    Result<std::vector<MessageExtent>> scanned = ScanMessages(bytes);
    ASSERT_TRUE(scanned.ok());
    for (size_t i = 0; i < scanned->size(); ++i) {
      const MessageExtent& e = (*scanned)[i];
      if (e.edition != 2) continue;
      SCOPED_TRACE("message " + std::to_string(i));
      Result<Message> m = ParseMessage(std::span(bytes).subspan(e.offset, e.length),
                                       {static_cast<uint32_t>(i), e.offset});
      ASSERT_TRUE(m.ok());
      const nlohmann::json& want = ref["messages"][i];
      Result<FieldKeys> k = ComputeFieldKeys(*m, 0);
      ASSERT_TRUE(k.ok()) << k.status().ToString();
      EXPECT_EQ(k->parameter.param_id, want["paramId"].get<int64_t>());
      EXPECT_EQ(k->parameter.short_name, want["shortName"]);
      EXPECT_EQ(k->parameter.cf_var_name, want["cfVarName"]);
      EXPECT_EQ(k->parameter.name, want["name"]);
      EXPECT_EQ(k->parameter.units, want["units"]);
      EXPECT_EQ(k->centre, want["centre"]);
      EXPECT_EQ(k->type_of_level, want["typeOfLevel"]);
      EXPECT_EQ(k->level_long, want["level"].get<int64_t>());
      EXPECT_EQ(k->step_type, want["stepType"]);
      EXPECT_EQ(k->step_units, want["stepUnits"].get<int>());
      EXPECT_EQ(k->step_range, want["stepRange"]);
      EXPECT_EQ(WithUnit(k->start_step, k->step_units), StepText(want["startStep"]));
      EXPECT_EQ(WithUnit(k->end_step, k->step_units), StepText(want["endStep"]));
      EXPECT_EQ(k->data_date, want["dataDate"].get<int64_t>());
      EXPECT_EQ(k->data_time, want["dataTime"].get<int64_t>());
      EXPECT_EQ(k->validity_date, want["validityDate"].get<int64_t>());
      EXPECT_EQ(k->validity_time, want["validityTime"].get<int64_t>());
      EXPECT_EQ(k->grid_type, want["gridType"]);
      EXPECT_EQ(k->has_number, want.contains("number"));
      if (want.contains("number")) {
        EXPECT_EQ(k->number, want["number"].get<int64_t>());
      }
      const ParameterNames names = LookupParameter(*m, 0);
      EXPECT_EQ(names, k->parameter);
      ++checked;
    }
  }
  EXPECT_GE(checked, 88u);
  std::cout << "concept tables: " << ConceptTablesSource() << "\n";
}

TEST(GribFieldKeys, JmaMultiFieldMessageHasOneKeySetPerField) {
  const std::vector<std::byte> bytes = ReadFile(SharedGribDir() + "/jma_nowcast_runlength.grib2");
  Result<Message> m = ParseMessage(bytes, {0, 0});
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->fields.size(), 7u);
  // Nowcasts at 0, 10, ..., 60 minutes.
  for (size_t f = 0; f < m->fields.size(); ++f) {
    Result<FieldKeys> k = ComputeFieldKeys(*m, f);
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->end_step_seconds, static_cast<int64_t>(600 * f)) << f;
  }
}

}  // namespace
}  // namespace lsio::grib
