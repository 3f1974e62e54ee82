#pragma once

// A Zarr store seen the way xarray sees it: variables with named dimensions, coordinate
// variables, and data variables.
//
//   dimensions   v3 `dimension_names`, v2 `_ARRAY_DIMENSIONS`; unnamed ones are "dim_<i>" as
//                in xarray.
//   coordinates  in each group, 1-D arrays named after their own dimension, plus the names
//                listed in a `coordinates` attribute (CF's auxiliary coordinates).
//   data         every other array.
//
// Thread safety: immutable after Open, except the coordinate cache, which is guarded.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/result.h"
#include "lsio/format/zarr/hierarchy.h"
#include "lsio/format/zarr/selection.h"
#include "lsio/format/zarr/store.h"
#include "lsio/ops/chunk_reader.h"

namespace lsio::ops {

class Dataset {
 public:
  // Opens the Zarr group or array at `path` (a local directory).
  static Result<std::unique_ptr<Dataset>> Open(const std::string& path);

  const std::string& root() const { return root_; }
  const zarr::Hierarchy& hierarchy() const { return hierarchy_; }
  const zarr::MetadataStore& store() const { return store_; }

  // Dimension names of an array node (see the file comment).
  std::vector<std::string> Dims(const zarr::Node& array) const;
  // The path of the group holding `node` ("" for the root).
  static std::string GroupOf(const zarr::Node& node);
  // True for coordinate variables (see the file comment).
  bool IsCoordinate(const zarr::Node& array) const;
  // Data variables of every group, sorted by path.
  std::vector<const zarr::Node*> DataVariables() const;
  // The array at `path`; kNotFound listing the arrays there are.
  Result<const zarr::Node*> FindArray(std::string_view path) const;
  // The coordinate variable of dimension `dim` in `group` (nullptr when there is none).
  const zarr::Node* CoordinateNode(std::string_view group, std::string_view dim) const;

  // Reads coordinate variable `dim` of `group` entirely (cached): its stored bytes (native byte
  // order, its storage dtype) and its decoded values for label selection.
  struct CoordinateData {
    const zarr::Node* node = nullptr;
    std::vector<std::byte> stored;
    zarr::Coordinate decoded;
  };
  Result<std::shared_ptr<const CoordinateData>> ReadCoordinate(std::string_view group,
                                                               std::string_view dim,
                                                               const ReadOptions& options) const;

  // One DimRange per dimension of `array` from selectors (isel and sel) on its dimensions;
  // selectors on dimensions the array lacks are ignored (callers check that each selector
  // matched some variable).
  Result<std::vector<zarr::DimRange>> ResolveSelection(
      const zarr::Node& array, std::span<const zarr::DimSelector> selectors,
      const ReadOptions& options) const;

 private:
  Dataset(std::string root, zarr::LocalStore store)
      : root_(std::move(root)), store_(std::move(store)) {}

  std::string root_;
  zarr::LocalStore store_;
  zarr::Hierarchy hierarchy_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<const CoordinateData>> coordinates_;
};

}  // namespace lsio::ops
