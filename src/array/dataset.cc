#include "lsio/array/dataset.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "lsio/array/cf.h"
#include "lsio/array/read.h"

namespace lsio::array {

namespace {

std::string_view BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Names listed in a CF `coordinates` attribute ("lat lon").
void AddListedCoordinates(const nlohmann::json& attrs, std::set<std::string>* out) {
  if (!attrs.is_object()) return;
  auto it = attrs.find("coordinates");
  if (it == attrs.end() || !it->is_string()) return;
  std::istringstream words(it->get<std::string>());
  std::string w;
  while (words >> w) out->insert(w);
}

}  // namespace

std::vector<std::string> DatasetSource::groups() const {
  std::set<std::string> out;
  for (const auto& a : arrays()) {
    const std::string& path = a->info().path;
    if (path.empty()) continue;  // a store that is a single array has no group
    std::string g = Dataset::GroupOf(path);
    while (true) {
      out.insert(g);
      if (g.empty()) break;
      g = Dataset::GroupOf(g);
    }
  }
  return {out.begin(), out.end()};
}

Dataset::Dataset(std::shared_ptr<const DatasetSource> source) : source_(std::move(source)) {
  for (const auto& a : source_->arrays()) by_path_.emplace(a->info().path, a.get());
}

std::string Dataset::GroupOf(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

bool Dataset::IsCoordinate(const ArraySource& array) const {
  const ArrayInfo& info = array.info();
  const std::string_view name = BaseName(info.path);
  if (info.dims.size() == 1 && info.dims[0] == name) return true;
  // Listed as an auxiliary coordinate by a sibling or by the group.
  const std::string group = GroupOf(info.path);
  std::set<std::string> listed;
  AddListedCoordinates(source_->group_attributes(group), &listed);
  for (const auto& a : source_->arrays()) {
    if (GroupOf(a->info().path) == group) AddListedCoordinates(a->info().attributes, &listed);
  }
  return listed.count(std::string(name)) > 0;
}

std::vector<const ArraySource*> Dataset::Arrays() const {
  std::vector<const ArraySource*> out;
  for (const auto& a : source_->arrays()) out.push_back(a.get());
  return out;
}

std::vector<const ArraySource*> Dataset::DataVariables() const {
  std::vector<const ArraySource*> out;
  for (const auto& a : source_->arrays()) {
    if (!IsCoordinate(*a)) out.push_back(a.get());
  }
  // A store that is a single array: that array, even if it looks like a coordinate.
  if (out.empty() && source_->arrays().size() == 1 && source_->arrays()[0]->info().path.empty()) {
    out.push_back(source_->arrays()[0].get());
  }
  return out;
}

Result<const ArraySource*> Dataset::FindArray(std::string_view path) const {
  auto it = by_path_.find(path);
  if (it != by_path_.end()) return it->second;
  std::string names;
  for (const auto& a : source_->arrays()) {
    if (!names.empty()) names += ", ";
    names += a->info().path.empty() ? "\"\"" : a->info().path;
  }
  return NotFoundError("variable '" + std::string(path) + "' not found in " + location() +
                       " (arrays: " + names + ")");
}

const ArraySource* Dataset::CoordinateOf(std::string_view group, std::string_view dim) const {
  std::string g(group);
  while (true) {
    auto it = by_path_.find(g.empty() ? std::string(dim) : g + "/" + std::string(dim));
    if (it != by_path_.end() && it->second->info().rank() == 1) return it->second;
    if (g.empty()) return nullptr;
    g = GroupOf(g);
  }
}

Status Dataset::ReadCoordinates(std::span<const ArraySource* const> coordinates,
                                runtime::Context& context) const {
  std::vector<std::shared_ptr<CoordinateData>> pending;
  std::vector<ReadTarget> targets;
  {
    std::lock_guard lock(mu_);
    for (const ArraySource* c : coordinates) {
      if (coordinates_.count(c) > 0) continue;
      bool seen = false;
      for (const auto& p : pending) seen = seen || p->array == c;
      if (seen) continue;
      const ArrayInfo& info = c->info();
      const std::string label = "coordinate '" + info.path + "'";
      if (info.rank() != 1) return InvalidArgumentError(label + " is not 1-D");
      LSIO_RETURN_IF_ERROR(info.element.DecodeSupport().WithContext(label));
      auto data = std::make_shared<CoordinateData>();
      data->array = c;
      data->stored.resize(static_cast<size_t>(info.shape[0]) * info.element_size());
      pending.push_back(data);
    }
  }
  for (const auto& p : pending) {
    targets.push_back(ReadTarget{p->array, {FullRange(p->array->info().shape[0])}, p->stored});
  }
  ReadIntoOptions options;
  options.threads = 1;
  LSIO_RETURN_IF_ERROR(ReadManyInto(targets, context, options));
  for (const auto& p : pending) {
    LSIO_ASSIGN_OR_RETURN(p->decoded, DecodeCoordinate(p->array->info(), p->stored));
  }
  std::lock_guard lock(mu_);
  for (auto& p : pending) coordinates_.emplace(p->array, std::move(p));
  return Status::OK();
}

Result<std::shared_ptr<const Dataset::CoordinateData>> Dataset::ReadCoordinate(
    const ArraySource& coordinate, runtime::Context& context) const {
  const ArraySource* one = &coordinate;
  LSIO_RETURN_IF_ERROR(ReadCoordinates(std::span(&one, 1), context));
  std::lock_guard lock(mu_);
  return std::shared_ptr<const CoordinateData>(coordinates_.at(&coordinate));
}

Result<std::vector<DimRange>> Dataset::ResolveSelection(const ArraySource& array,
                                                        std::span<const DimSelector> selectors,
                                                        runtime::Context& context) const {
  const ArrayInfo& info = array.info();
  std::vector<DimSelector> mine;
  for (const DimSelector& s : selectors) {
    if (std::find(info.dims.begin(), info.dims.end(), s.dim) != info.dims.end()) {
      mine.push_back(s);
    }
  }
  const std::string group = GroupOf(info.path);
  CoordinateLookup lookup = [&](std::string_view dim) -> Result<Coordinate> {
    const ArraySource* c = CoordinateOf(group, dim);
    if (c == nullptr) {
      return NotFoundError("dimension '" + std::string(dim) + "' has no coordinate variable");
    }
    LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const CoordinateData> data, ReadCoordinate(*c, context));
    return data->decoded;
  };
  return array::ResolveSelection(info.dims, info.shape, mine, lookup);
}

}  // namespace lsio::array
