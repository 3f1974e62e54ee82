#include "lsio/format/open.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "lsio/format/grib/source.h"
#include "lsio/format/zarr/source.h"
#include "lsio/kvstore/open.h"

namespace lsio::format {

namespace {

// The names lsio takes for GRIB files in a directory.
bool IsGribName(std::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return false;
  std::string ext(name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "grib" || ext == "grib2" || ext == "grb" || ext == "grb2";
}

// "/a/b/f.grib2" -> ("/a/b", "f.grib2"); "f.grib2" -> (".", "f.grib2"); "s3://b/x/f" ->
// ("s3://b/x", "f"). No parent (a bucket, "/"): nullopt.
std::optional<std::pair<std::string, std::string>> SplitParent(std::string_view location) {
  while (location.size() > 1 && location.back() == '/') location.remove_suffix(1);
  const std::string_view scheme = kvstore::LocationScheme(location);
  const size_t body = scheme.empty() ? 0 : scheme.size() + 3;
  const size_t slash = location.rfind('/');
  if (slash == std::string_view::npos || slash < body) {
    if (!scheme.empty()) return std::nullopt;  // "s3://bucket"
    return std::make_pair(std::string("."), std::string(location));
  }
  if (slash + 1 == location.size()) return std::nullopt;
  std::string parent = slash == 0 ? std::string(1, '/') : std::string(location.substr(0, slash));
  if (!scheme.empty() && parent.size() < body + 1) return std::nullopt;
  return std::make_pair(parent, std::string(location.substr(slash + 1)));
}

struct GribFiles {
  std::string root;  // the store's location
  std::vector<grib::FileEntry> files;
};

kvstore::OpenOptions StoreOptions(const DatasetOptions& options) {
  kvstore::OpenOptions so;
  so.io_backend = options.io_backend;
  so.storage_options = options.storage_options;
  return so;
}

// The GRIB files below the root of `store`, at any depth, sorted by key.
Result<std::vector<grib::FileEntry>> ListGribFiles(kvstore::Store& store) {
  LSIO_ASSIGN_OR_RETURN(std::vector<kvstore::ListEntry> entries,
                        store.List("", kvstore::ListMode::kRecursive));
  std::vector<grib::FileEntry> out;
  for (const kvstore::ListEntry& e : entries) {
    if (e.is_prefix || !IsGribName(e.key)) continue;
    out.push_back({e.key, e.size});
  }
  return out;
}

Result<GribFiles> ExpandGlob(runtime::Context& context, std::string_view location,
                             const DatasetOptions& options) {
  const size_t wildcard = location.find_first_of("*?[");
  const std::string_view scheme = kvstore::LocationScheme(location);
  const size_t body = scheme.empty() ? 0 : scheme.size() + 3;
  const size_t slash = location.rfind('/', wildcard);
  GribFiles out;
  std::string pattern;
  if (slash == std::string_view::npos || slash < body) {
    if (!scheme.empty()) {
      return InvalidArgumentError(std::string(location) +
                                  ": a glob needs a fixed bucket or host before the wildcard");
    }
    out.root.assign(1, '.');  // not = ".": g++ 12's -Wrestrict false positive (PR 105651)
    pattern = std::string(location);
  } else {
    out.root = slash == 0 ? "/" : std::string(location.substr(0, slash));
    pattern = std::string(location.substr(slash + 1));
  }
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<kvstore::Store> store,
                        context.OpenStore(out.root, StoreOptions(options)));
  const bool deep = pattern.find('/') != std::string::npos;
  LSIO_ASSIGN_OR_RETURN(
      std::vector<kvstore::ListEntry> entries,
      store->List("", deep ? kvstore::ListMode::kRecursive : kvstore::ListMode::kChildren));
  for (const kvstore::ListEntry& e : entries) {
    if (e.is_prefix) continue;
    if (::fnmatch(pattern.c_str(), e.key.c_str(), FNM_PATHNAME) == 0) {
      out.files.push_back({e.key, e.size});
    }
  }
  if (out.files.empty()) {
    return NotFoundError(std::string(location) + ": no file matches");
  }
  return out;
}

// `location` as a GRIB file, or nullopt when it is not a file.
Result<std::optional<GribFiles>> AsGribFile(runtime::Context& context, std::string_view location,
                                            const DatasetOptions& options) {
  const auto split = SplitParent(location);
  if (!split) return std::optional<GribFiles>();
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<kvstore::Store> parent,
                        context.OpenStore(split->first, StoreOptions(options)));
  LSIO_ASSIGN_OR_RETURN(std::optional<uint64_t> size, parent->Size(split->second));
  if (!size) return std::optional<GribFiles>();
  if (!IsGribName(split->second)) {
    // Content decides: a GRIB file starts with its first message.
    bool grib = false;
    if (*size >= 4) {
      LSIO_ASSIGN_OR_RETURN(std::optional<Buffer> head,
                            parent->Read(split->second, kvstore::ByteRange::Range(0, 4)));
      grib = head && head->size() == 4 && std::memcmp(head->data(), "GRIB", 4) == 0;
    }
    if (!grib) {
      return InvalidArgumentError(
          std::string(location) +
          ": a file that lsio does not read (it does not start with \"GRIB\", and a Zarr store "
          "is a directory)");
    }
  }
  GribFiles out;
  out.root = split->first;
  out.files.push_back({split->second, size});
  return std::optional<GribFiles>(std::move(out));
}

Result<std::shared_ptr<const array::Dataset>> OpenGrib(runtime::Context& context,
                                                       GribFiles files,
                                                       const DatasetOptions& options) {
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<kvstore::Store> store,
                        context.OpenStore(files.root, StoreOptions(options)));
  grib::OpenOptions go;
  go.cancelled = options.cancelled;
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const grib::GribDatasetSource> source,
                        grib::OpenDataset(context, std::move(store), std::move(files.files), go));
  return std::make_shared<const array::Dataset>(std::move(source));
}

// The GRIB files a location names, with their store's location (absolute for local paths, so
// that several locations can share one store).
Result<GribFiles> ResolveGrib(runtime::Context& context, std::string_view location,
                              const DatasetOptions& options) {
  std::string where(location);
  if (kvstore::LocationScheme(location).empty()) {
    std::error_code ec;
    const std::filesystem::path abs = std::filesystem::absolute(where, ec);
    if (!ec) where = abs.lexically_normal().string();
  }
  if (IsGlob(where)) return ExpandGlob(context, where, options);
  LSIO_ASSIGN_OR_RETURN(std::optional<GribFiles> file, AsGribFile(context, where, options));
  if (file) return std::move(*file);
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<kvstore::Store> store,
                        context.OpenStore(where, StoreOptions(options)));
  GribFiles out;
  out.root = where;
  LSIO_ASSIGN_OR_RETURN(out.files, ListGribFiles(*store));
  if (out.files.empty()) {
    return NotFoundError(std::string(location) +
                         ": no GRIB files (*.grib, *.grib2, *.grb, *.grb2)");
  }
  return out;
}

}  // namespace

bool IsGlob(std::string_view location) {
  return location.find_first_of("*?[") != std::string_view::npos;
}

Result<std::shared_ptr<const array::Dataset>> OpenDataset(runtime::Context& context,
                                                          std::string_view location,
                                                          const DatasetOptions& options) {
  if (IsGlob(location)) {
    LSIO_ASSIGN_OR_RETURN(GribFiles files, ExpandGlob(context, location, options));
    return OpenGrib(context, std::move(files), options);
  }
  // Zarr first (its metadata documents decide), then a GRIB file, then a directory of them.
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<kvstore::Store> store,
                        context.OpenStore(location, StoreOptions(options)));
  zarr::OpenOptions zo;
  zo.use_consolidated = options.use_consolidated;
  Result<std::shared_ptr<const zarr::ZarrDatasetSource>> zarr = zarr::OpenDataset(store, zo);
  if (zarr.ok()) return std::make_shared<const array::Dataset>(std::move(*zarr));
  if (zarr.status().code() != StatusCode::kNotFound) return zarr.status();
  LSIO_ASSIGN_OR_RETURN(std::optional<GribFiles> file, AsGribFile(context, location, options));
  if (file) return OpenGrib(context, std::move(*file), options);
  // Not Zarr: a directory of GRIB files?
  LSIO_ASSIGN_OR_RETURN(std::vector<grib::FileEntry> grib_files, ListGribFiles(*store));
  if (grib_files.empty()) {
    return NotFoundError(zarr.status().message() +
                         "; no GRIB files (*.grib, *.grib2, *.grb, *.grb2) either");
  }
  return OpenGrib(context, GribFiles{std::string(location), std::move(grib_files)}, options);
}

Result<std::shared_ptr<const array::Dataset>> OpenDataset(runtime::Context& context,
                                                          std::span<const std::string> locations,
                                                          const DatasetOptions& options) {
  if (locations.empty()) return InvalidArgumentError("no location to open");
  if (locations.size() == 1) return OpenDataset(context, locations.front(), options);
  // Every file of every location, by its full location.
  struct File {
    std::string full;
    std::optional<uint64_t> size;
  };
  std::vector<File> all;
  for (const std::string& location : locations) {
    Result<GribFiles> files = ResolveGrib(context, location, options);
    if (!files.ok()) {
      return files.status().WithContext("opening several locations as one GRIB dataset");
    }
    const std::string prefix = files->root == "/" ? "" : files->root;
    for (grib::FileEntry& f : files->files) all.push_back({prefix + "/" + f.key, f.size});
  }
  // Their common directory is the store.
  std::string root = all.front().full.substr(0, all.front().full.rfind('/'));
  auto under = [&](const std::string& full) {
    return full.size() > root.size() + 1 && full.compare(0, root.size(), root) == 0 &&
           full[root.size()] == '/';
  };
  while (!std::all_of(all.begin(), all.end(), [&](const File& f) { return under(f.full); })) {
    const size_t slash = root.rfind('/');
    const std::string_view scheme = kvstore::LocationScheme(root);
    if (slash == std::string::npos || (!scheme.empty() && slash < scheme.size() + 3)) {
      return InvalidArgumentError("the locations are in different stores (" + locations[0] +
                                  ", ...): several files open as one dataset only from one "
                                  "file system or bucket");
    }
    root = root.substr(0, slash);
  }
  GribFiles files;
  files.root = root.empty() ? "/" : root;
  for (const File& f : all) {
    std::string key = f.full.substr(root.size() + 1);
    if (std::any_of(files.files.begin(), files.files.end(),
                    [&](const grib::FileEntry& e) { return e.key == key; })) {
      continue;  // named twice
    }
    files.files.push_back({std::move(key), f.size});
  }
  return OpenGrib(context, std::move(files), options);
}

}  // namespace lsio::format
