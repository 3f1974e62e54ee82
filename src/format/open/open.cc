#include "lsio/format/open.h"

#include "lsio/format/zarr/source.h"

namespace lsio::format {

Result<std::shared_ptr<const array::Dataset>> OpenDataset(runtime::Context& context,
                                                          std::string_view location,
                                                          const DatasetOptions& options) {
  kvstore::OpenOptions so;
  so.io_backend = options.io_backend;
  so.storage_options = options.storage_options;
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<kvstore::Store> store, context.OpenStore(location, so));
  zarr::OpenOptions zo;
  zo.use_consolidated = options.use_consolidated;
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const zarr::ZarrDatasetSource> source,
                        zarr::OpenDataset(std::move(store), zo));
  return std::make_shared<const array::Dataset>(std::move(source));
}

}  // namespace lsio::format
