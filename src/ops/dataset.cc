#include "lsio/ops/dataset.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "lsio/format/zarr/cf.h"

namespace lsio::ops {

Result<std::unique_ptr<Dataset>> Dataset::Open(const std::string& path) {
  std::string root = path;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  std::unique_ptr<Dataset> ds(new Dataset(root, zarr::LocalStore(root)));
  LSIO_ASSIGN_OR_RETURN(ds->hierarchy_, zarr::OpenHierarchy(ds->store_));
  return ds;
}

std::vector<std::string> Dataset::Dims(const zarr::Node& array) const {
  const zarr::ArrayMetadata& meta = *array.array;
  std::vector<std::string> dims(meta.rank());
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i < meta.dimension_names.size() && !meta.dimension_names[i].empty()) {
      dims[i] = meta.dimension_names[i];
    } else {
      dims[i] = "dim_" + std::to_string(i);
    }
  }
  return dims;
}

std::string Dataset::GroupOf(const zarr::Node& node) {
  const size_t slash = node.path.rfind('/');
  return slash == std::string::npos ? std::string() : node.path.substr(0, slash);
}

namespace {

// Names listed in a CF `coordinates` attribute ("lat lon").
void AddListedCoordinates(const nlohmann::json& attrs, std::set<std::string>* out) {
  auto it = attrs.find("coordinates");
  if (it == attrs.end() || !it->is_string()) return;
  std::istringstream words(it->get<std::string>());
  std::string w;
  while (words >> w) out->insert(w);
}

}  // namespace

bool Dataset::IsCoordinate(const zarr::Node& array) const {
  if (!array.is_array()) return false;
  const std::vector<std::string> dims = Dims(array);
  if (dims.size() == 1 && dims[0] == array.name()) return true;
  // Listed as an auxiliary coordinate by a sibling or by the group.
  const std::string group = GroupOf(array);
  std::set<std::string> listed;
  if (const zarr::Node* g = hierarchy_.Find(group)) AddListedCoordinates(g->attributes, &listed);
  for (const zarr::Node& n : hierarchy_.nodes) {
    if (n.is_array() && GroupOf(n) == group) AddListedCoordinates(n.attributes, &listed);
  }
  return listed.count(array.name()) > 0;
}

std::vector<const zarr::Node*> Dataset::DataVariables() const {
  std::vector<const zarr::Node*> out;
  for (const zarr::Node& n : hierarchy_.nodes) {
    if (n.is_array() && !IsCoordinate(n)) out.push_back(&n);
  }
  // A store that is a single array: that array, even if it looks like a coordinate.
  if (out.empty() && hierarchy_.root().is_array()) out.push_back(&hierarchy_.root());
  return out;
}

Result<const zarr::Node*> Dataset::FindArray(std::string_view path) const {
  const zarr::Node* n = hierarchy_.Find(path);
  if (n != nullptr && n->is_array()) return n;
  std::string names;
  for (const zarr::Node& node : hierarchy_.nodes) {
    if (!node.is_array()) continue;
    if (!names.empty()) names += ", ";
    names += node.path.empty() ? "\"\"" : node.path;
  }
  return NotFoundError("variable '" + std::string(path) + "' not found in " + root_ +
                       " (arrays: " + names + ")");
}

const zarr::Node* Dataset::CoordinateNode(std::string_view group, std::string_view dim) const {
  std::string path(group);
  if (!path.empty()) path += '/';
  path += dim;
  const zarr::Node* n = hierarchy_.Find(path);
  if (n == nullptr || !n->is_array() || n->array->rank() != 1) return nullptr;
  return n;
}

Result<std::shared_ptr<const Dataset::CoordinateData>> Dataset::ReadCoordinate(
    std::string_view group, std::string_view dim, const ReadOptions& options) const {
  const std::string cache_key = std::string(group) + "\n" + std::string(dim);
  {
    std::lock_guard lock(mu_);
    auto it = coordinates_.find(cache_key);
    if (it != coordinates_.end()) return it->second;
  }
  const zarr::Node* node = CoordinateNode(group, dim);
  if (node == nullptr) {
    return NotFoundError("dimension '" + std::string(dim) + "' has no coordinate variable");
  }
  const zarr::ArrayMetadata& meta = *node->array;
  LSIO_RETURN_IF_ERROR(meta.data_type.DecodeSupport().WithContext("coordinate '" + node->path +
                                                                  "'"));
  auto data = std::make_shared<CoordinateData>();
  data->node = node;
  data->stored.resize(static_cast<size_t>(meta.shape[0]) * ByteWidth(meta.data_type.storage));
  std::vector<zarr::DimRange> full = {zarr::FullRange(meta.shape[0])};
  LSIO_RETURN_IF_ERROR(ReadSelection(root_, *node, full, data->stored, options));
  LSIO_ASSIGN_OR_RETURN(data->decoded, zarr::DecodeCoordinate(meta, data->stored));
  std::lock_guard lock(mu_);
  coordinates_[cache_key] = data;
  return std::shared_ptr<const CoordinateData>(data);
}

Result<std::vector<zarr::DimRange>> Dataset::ResolveSelection(
    const zarr::Node& array, std::span<const zarr::DimSelector> selectors,
    const ReadOptions& options) const {
  const std::vector<std::string> dims = Dims(array);
  std::vector<zarr::DimSelector> mine;
  for (const zarr::DimSelector& s : selectors) {
    if (std::find(dims.begin(), dims.end(), s.dim) != dims.end()) mine.push_back(s);
  }
  const std::string group = GroupOf(array);
  zarr::CoordinateLookup lookup = [&](std::string_view dim) -> Result<zarr::Coordinate> {
    LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const CoordinateData> c,
                          ReadCoordinate(group, dim, options));
    return c->decoded;
  };
  return zarr::ResolveSelection(dims, array.array->shape, mine, lookup);
}

}  // namespace lsio::ops
