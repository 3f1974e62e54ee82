#pragma once

// A dataset the way xarray sees it, whatever the format: variables with named dimensions,
// coordinate variables and data variables, in groups. The rules live here once:
//
//   dimensions   ArrayInfo::dims (the format names them; "dim_<i>" where it gives none).
//   coordinates  in each group, 1-D arrays named after their own dimension, plus the names
//                listed in a `coordinates` attribute of an array in that group (CF's auxiliary
//                coordinates). A dimension's coordinate is looked up in the array's group, then
//                in its ancestors.
//   data         every other array.
//
// A format provides a DatasetSource (its arrays and groups); Dataset adds the rules, reads
// coordinates once (cached), and resolves isel/sel selections on them.
//
// Thread safety: a Dataset is safe to share; its coordinate cache is guarded.

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/selection.h"
#include "lsio/array/source.h"
#include "lsio/base/result.h"
#include "lsio/kvstore/store.h"
#include "lsio/runtime/context.h"

namespace lsio::array {

// What a format opens: the arrays and groups of one store.
class DatasetSource {
 public:
  virtual ~DatasetSource() = default;
  virtual const std::shared_ptr<kvstore::Store>& store() const = 0;
  // Every array, sorted by path.
  virtual const std::vector<std::shared_ptr<const ArraySource>>& arrays() const = 0;
  // Attributes of group `path` ("" = the root); null when there is no such group.
  virtual nlohmann::json group_attributes(std::string_view path) const = 0;
  // Every group's path, sorted ("" first when the root is a group). The default: the groups
  // that hold arrays, and their ancestors (a format with empty groups lists them itself).
  virtual std::vector<std::string> groups() const;
  // "Zarr v3", "Zarr v2", "GRIB2", for messages and `lsio info`.
  virtual std::string format_name() const = 0;
  // Format-specific facts about what was opened, for `lsio info` (GRIB: files, messages); a
  // "description" string, when present, is what the text report prints.
  virtual nlohmann::json summary() const { return nlohmann::json::object(); }
};

class Dataset {
 public:
  explicit Dataset(std::shared_ptr<const DatasetSource> source);

  const DatasetSource& source() const { return *source_; }
  const std::shared_ptr<kvstore::Store>& store() const { return source_->store(); }
  std::string location() const { return source_->store()->url(); }

  // The path of the group holding the array at `path` ("" for the root).
  static std::string GroupOf(std::string_view path);
  bool IsCoordinate(const ArraySource& array) const;
  // Data variables of every group, sorted by path.
  std::vector<const ArraySource*> DataVariables() const;
  // Every array, sorted by path.
  std::vector<const ArraySource*> Arrays() const;
  // The array at `path`; kNotFound listing the arrays there are.
  Result<const ArraySource*> FindArray(std::string_view path) const;
  // The coordinate variable of dimension `dim` as seen from `group` (its own group, then its
  // ancestors); nullptr when there is none.
  const ArraySource* CoordinateOf(std::string_view group, std::string_view dim) const;

  // A coordinate variable read entirely (once; cached): its stored bytes (native byte order,
  // its storage type) and its decoded values for label selection.
  struct CoordinateData {
    const ArraySource* array = nullptr;
    std::vector<std::byte> stored;
    Coordinate decoded;
  };
  Result<std::shared_ptr<const CoordinateData>> ReadCoordinate(const ArraySource& coordinate,
                                                               runtime::Context& context) const;
  // Reads every coordinate of `coordinates` not yet cached, all in one scheduler run, into the
  // cache (duplicates are read once).
  Status ReadCoordinates(std::span<const ArraySource* const> coordinates,
                         runtime::Context& context) const;

  // One DimRange per dimension of `array` from isel and sel selectors; selectors on dimensions
  // the array lacks are ignored (callers check that each selector matched some variable).
  Result<std::vector<DimRange>> ResolveSelection(const ArraySource& array,
                                                 std::span<const DimSelector> selectors,
                                                 runtime::Context& context) const;

 private:
  std::shared_ptr<const DatasetSource> source_;
  std::map<std::string, const ArraySource*, std::less<>> by_path_;
  mutable std::mutex mu_;
  mutable std::map<const ArraySource*, std::shared_ptr<const CoordinateData>> coordinates_;
};

}  // namespace lsio::array
