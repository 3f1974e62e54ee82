#pragma once

// GRIB2 as an array source (array/source.h): GRIB files, keys of one Store, open as one
// DatasetSource with cfgrib's view of their fields (dataset_view.h), so that statistics, reads
// into memory and the xarray engine work on them as on Zarr.
//
// Opening indexes the files through the store's Reader, every file at once (one read in flight
// per file, each handler on the CPU pool): a file no larger than `whole_file_bytes` is read
// whole; a larger one is walked message by message, reading `head_bytes` at each message's
// start (section 0 gives the length, so the next message is a jump away; sections 1-5 are in
// the same read for nearly every message) and, where a bitmap lies between section 5 and the
// data, the few bytes of section 7's header. Values and bitmaps are not read. Each message is
// parsed once (ParseMessageParts) and described (DescribeFieldWithGridSection); the grid
// definition of each distinct grid is kept for its coordinates.
//
// The dataset (cfgrib.open_datasets of all fields of all files, in the order given):
//   groups       one per hypercube and (typeOfLevel, stepType): Variable::group, the values of
//                the filter_by_keys that open that hypercube with cfgrib ("isobaricInhPa/
//                instant"; "isobaricInhPa/instant/gh" where that pair spans hypercubes); its
//                attributes are cfgrib's dataset attributes (GRIB_edition, GRIB_centre,
//                GRIB_subCentre, Conventions).
//   variables    "<group>/<name>", float32, cfgrib's dims (number, time, step, level, then
//                latitude/longitude, y/x or values; size-1 header dims squeezed), its attributes
//                (GRIB_paramId, GRIB_shortName, ..., long_name, units, standard_name and a
//                `coordinates` list), fill value NaN (absent hypercube cells and bitmap holes);
//                storage chunk = one field: 1 along each header dim, the whole grid.
//   coordinates  "<group>/<name>", in memory (array/memory_source.h): time and valid_time as
//                datetime64[ns], step as timedelta64[ns], number int64, levels float64,
//                latitude/longitude float64 (1-D for regular grids, 2-D on y/x for projected
//                ones, on `values` otherwise); size-1 ones as 0-d arrays.
//
// Reading a variable plans one read task per message its selection needs (the whole message,
// a range of its file), in the C order of the selection's header cells; the handler, on the CPU
// pool as the bytes arrive, re-parses the message (ParseMessage checks everything decoding
// relies on) and decodes each needed field into a pooled buffer (DecodeField with a scratch per
// running handler), handed to the consumer as the cell's chunk. Absent cells are ConsumeFill.
//
// Errors name the file, the message number and its byte offset: "/data/a.grib2: message 12
// (byte 10485760): CorruptData: no "7777" at the end of the message ..."; reads add the
// variable ("variable 'isobaricInhPa/instant/t': /data/a.grib2: message 12 (byte ...): ...").
// A file that changes size after it was opened fails its reads (kOutOfRange).
//
// Thread safety: a source is immutable once opened.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/dataset.h"
#include "lsio/array/source.h"
#include "lsio/base/result.h"
#include "lsio/format/grib/dataset_view.h"
#include "lsio/kvstore/store.h"
#include "lsio/runtime/context.h"

namespace lsio::grib {

struct OpenOptions {
  // Bytes read at the start of each message of a large file (sections 0-5, and the next
  // message's start when messages are small).
  uint64_t head_bytes = uint64_t{16} << 10;
  // Files no larger than this are read whole.
  uint64_t whole_file_bytes = uint64_t{1} << 20;
  // Read buffer budget of the indexing run.
  uint64_t max_bytes_in_flight = uint64_t{64} << 20;
  // Index handlers at once (0: the context's pool).
  int threads = 0;
  // Polled while indexing; true cancels (kCancelled).
  std::function<bool()> cancelled;
};

// One file of a dataset: a key of the store, and its size when a listing gave it.
struct FileEntry {
  std::string key;
  std::optional<uint64_t> size;
};

// Where a message is.
struct MessageRef {
  uint32_t file = 0;    // index into the dataset's files
  uint32_t index = 0;   // message number in its file (0-based)
  uint64_t offset = 0;  // byte offset in its file
  uint64_t length = 0;
};

class GribDatasetSource final : public array::DatasetSource {
 public:
  struct Index;  // the files, messages and fields (source.cc)

  GribDatasetSource(std::shared_ptr<kvstore::Store> store, std::shared_ptr<const Index> index,
                    std::vector<std::shared_ptr<const array::ArraySource>> arrays,
                    std::map<std::string, nlohmann::json, std::less<>> groups);

  const std::shared_ptr<kvstore::Store>& store() const override { return store_; }
  const std::vector<std::shared_ptr<const array::ArraySource>>& arrays() const override {
    return arrays_;
  }
  nlohmann::json group_attributes(std::string_view path) const override;
  std::string format_name() const override { return "GRIB2"; }
  // {"files", "messages", "fields", "hypercubes", "description": "3 files (a.grib2 ...
  // c.grib2), 60 messages, 60 fields, 4 hypercubes"}.
  nlohmann::json summary() const override;

  // The files (keys of store()), in dataset order.
  const std::vector<std::string>& files() const;
  // Every message of every file, files in order.
  const std::vector<MessageRef>& messages() const;

 private:
  std::shared_ptr<kvstore::Store> store_;
  std::shared_ptr<const Index> index_;
  std::vector<std::shared_ptr<const array::ArraySource>> arrays_;
  std::map<std::string, nlohmann::json, std::less<>> groups_;
};

// Indexes `files` of `store` (their order is the dataset's: fields of earlier files first) and
// builds the dataset. Errors: the first file that cannot be indexed, naming it, the message
// number and byte offset (kCorruptData: no "7777", impossible lengths, sections that do not
// fit; kOutOfRange: a message that runs past the end of its file; kNotSupported: GRIB edition 1;
// kNotFound: a file with no GRIB message, or that does not exist), kInvalidArgument for no
// files, kCancelled.
Result<std::shared_ptr<const GribDatasetSource>> OpenDataset(runtime::Context& context,
                                                             std::shared_ptr<kvstore::Store> store,
                                                             std::vector<FileEntry> files,
                                                             const OpenOptions& options = {});

}  // namespace lsio::grib
