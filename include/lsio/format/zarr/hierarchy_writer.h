#pragma once

// HierarchyWriter: a Zarr hierarchy (groups, arrays, their chunks and consolidated metadata)
// written into any Store through one Publication, so that the result appears at its prefix
// complete at Commit, or not at all (a failed or killed writer leaves nothing there).
//
//   auto w = HierarchyWriter::Begin(*store, "out.zarr", {.format = ZarrFormat::kV3});
//   (*w)->CreateGroup("", {{"title", "x"}});
//   (*w)->CreateArray("t2m_mean", spec);
//   (*w)->WriteArray("t2m_mean", bytes);          // or WriteUnit(...) unit by unit
//   (*w)->Commit();
//
// Encoded units are collected and written in batches (Publication::WriteBatch) of at most
// about `batch_bytes`; the metadata documents (and consolidated metadata) are written at
// Commit, just before the publication commits. Parent groups of every node are created (with
// no attributes) when not created explicitly.
//
// Errors name the store location (Store::Describe) of the node or unit.
//
// Thread safety: WriteUnit, WriteEncoded and WriteArray may be called from several threads at
// once (each encodes on its caller's thread; writes to the publication are serialised).
// CreateGroup, CreateArray and Commit must not run concurrently with other calls.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/format/zarr/writer.h"
#include "lsio/kvstore/store.h"

namespace lsio::zarr {

struct HierarchyWriteOptions {
  // Format of the groups; every array must be of the same format.
  ZarrFormat format = ZarrFormat::kV3;
  // Write consolidated metadata at the root (v2 .zmetadata; v3 inline in the root zarr.json).
  bool consolidated = true;
  // Replace what is at the prefix at Commit; otherwise Commit fails when something is there.
  bool replace = false;
  // Encoded bytes held before they are written as one batch.
  uint64_t batch_bytes = uint64_t{32} << 20;
};

class HierarchyWriter {
 public:
  // Begins a publication at `prefix` of `store` (Store::BeginPublish); nothing is visible at
  // the prefix until Commit. The root group exists from the start (no attributes). Errors:
  // BeginPublish's (FileStore and MemoryStore refuse an existing prefix here unless
  // options.replace: kInvalidArgument "... already exists").
  // `store` must outlive the writer.
  static Result<std::unique_ptr<HierarchyWriter>> Begin(kvstore::Store& store, std::string prefix,
                                                        const HierarchyWriteOptions& options);
  // Without Commit, the publication is dropped and what it wrote is removed.
  ~HierarchyWriter();

  // A group at `path` relative to the root ("" is the root: sets its attributes). Errors:
  // kInvalidArgument for a malformed path, a path that is already an array, attributes that
  // are not an object.
  Status CreateGroup(std::string_view path, const nlohmann::json& attributes);

  // An array at `path` (not ""). The writer is owned by this HierarchyWriter and valid until
  // it is destroyed. Errors: ArrayWriter::Make's, kInvalidArgument for a path already used or
  // a format other than options.format.
  Result<const ArrayWriter*> CreateArray(std::string_view path, const ArrayWriteSpec& spec);

  // The whole array at `path` from `data`: C order over spec.shape, native byte order,
  // spec.data_type.item_size bytes per element. Units equal to the fill value are not written.
  Status WriteArray(std::string_view path, std::span<const std::byte> data);
  // One unit (ArrayWriter::EncodeUnit's contract), written unless all fill value.
  Status WriteUnit(std::string_view path, std::span<const int64_t> unit,
                   std::span<const std::byte> decoded);
  // One unit encoded elsewhere (ArrayWriter::EncodeUnit on another thread).
  Status WriteEncoded(std::string_view path, std::span<const int64_t> unit, Buffer encoded);

  // Writes what is pending and the metadata of every node (and the consolidated metadata),
  // then commits the publication. Nothing may be called afterwards. Errors: those of
  // Publication::Commit (kInvalidArgument "already exists" when something appeared at the
  // prefix meanwhile and options.replace is false: what was there stays).
  Status Commit();

  const std::string& prefix() const { return prefix_; }
  kvstore::Store& store() const { return *store_; }

 private:
  HierarchyWriter(kvstore::Store& store, std::string prefix,
                  const HierarchyWriteOptions& options,
                  std::unique_ptr<kvstore::Publication> publication);
  struct Node {
    nlohmann::json attributes = nlohmann::json::object();  // groups
    std::unique_ptr<ArrayWriter> array;                    // arrays
  };
  Result<const ArrayWriter*> FindArray(std::string_view path) const;
  std::string Describe(std::string_view path) const;
  // Adds `key`'s value to the pending batch (and flushes it when large). Requires mu_.
  Status AddLocked(std::string key, Buffer value);
  Status FlushLocked();

  kvstore::Store* store_;
  std::string prefix_;
  HierarchyWriteOptions options_;
  std::unique_ptr<kvstore::Publication> publication_;
  std::map<std::string, Node> nodes_;  // by path; "" is the root group
  std::mutex mu_;
  std::vector<kvstore::KeyValue> pending_;
  uint64_t pending_bytes_ = 0;
  bool committed_ = false;
};

}  // namespace lsio::zarr
