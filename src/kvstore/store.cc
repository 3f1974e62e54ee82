#include "lsio/kvstore/store.h"

#include <algorithm>

#include "lsio/kvstore/key.h"

namespace lsio::kvstore {

Status Publication::WriteBatch(std::vector<KeyValue> values) {
  for (KeyValue& kv : values) LSIO_RETURN_IF_ERROR(Write(kv.key, kv.value.span()));
  return Status::OK();
}

Status Store::WriteBatch(std::vector<KeyValue> values) {
  for (KeyValue& kv : values) LSIO_RETURN_IF_ERROR(Write(kv.key, kv.value.span()));
  return Status::OK();
}

Result<Buffer> Store::ReadNow(const ReadRequest& r) {
  const std::string where = Describe(r.key);
  if (r.value_size) {
    LSIO_ASSIGN_OR_RETURN(std::optional<uint64_t> size, Size(r.key));
    if (!size) return NotFoundError(where + ": no such key");
    if (*size != *r.value_size) {
      return OutOfRangeError(where + ": the value has " + std::to_string(*size) +
                             " bytes, expected " + std::to_string(*r.value_size));
    }
  }
  Result<std::optional<Buffer>> value = Read(r.key, r.range, r.max_length);
  if (!value.ok()) {
    if (value.status().code() == StatusCode::kResourceExhausted) {
      return OutOfRangeError(value.status().message());
    }
    return value.status();
  }
  if (!*value) return NotFoundError(where + ": no such key");
  return std::move(**value);
}

Result<std::vector<std::optional<Buffer>>> ReadMany(Store& store,
                                                    std::span<const std::string> keys,
                                                    uint64_t max_length) {
  std::vector<std::optional<Buffer>> out(keys.size());
  if (keys.empty()) return out;
  if (keys.size() == 1) {
    LSIO_ASSIGN_OR_RETURN(out[0], store.Read(keys[0], ByteRange::Whole(), max_length));
    return out;
  }
  ReaderOptions options;
  // Small documents: the budget only has to hold them all.
  options.max_bytes_in_flight = uint64_t{64} << 20;
  LSIO_ASSIGN_OR_RETURN(std::unique_ptr<Reader> reader, store.MakeReader(options));
  // Groups of at most 256 keys, collected as they complete so that the budget drains.
  constexpr size_t kGroup = 256;
  for (size_t first = 0; first < keys.size(); first += kGroup) {
    std::vector<ReadRequest> group;
    for (size_t i = first; i < std::min(keys.size(), first + kGroup); ++i) {
      LSIO_RETURN_IF_ERROR(ValidateKey(keys[i]));
      ReadRequest r;
      r.key = keys[i];
      r.tag = i;
      r.max_length = max_length;
      group.push_back(std::move(r));
    }
    LSIO_RETURN_IF_ERROR(reader->Submit(std::move(group)).status());
    Completion c;
    while (reader->Next(&c)) {
      if (c.kind == Completion::Kind::kEndOfGroup) break;
      if (c.status.ok()) {
        // Copied out of the reader's pool: the values outlive the reader.
        out[c.tag] = Buffer::CopyOf(c.data.span());
      } else if (c.status.code() == StatusCode::kOutOfRange) {
        return ResourceExhaustedError(store.Describe(keys[c.tag]) + ": more than the " +
                                      std::to_string(max_length) +
                                      " bytes lsio reads as metadata");
      } else if (c.status.code() != StatusCode::kNotFound) {
        return c.status;
      }
      c = Completion();
    }
  }
  return out;
}

Result<PrefixUsage> Usage(Store& store, std::string_view prefix,
                          std::span<const std::string> skip_names) {
  LSIO_ASSIGN_OR_RETURN(std::vector<ListEntry> entries, store.List(prefix, ListMode::kRecursive));
  PrefixUsage usage;
  for (const ListEntry& e : entries) {
    const std::string_view base = KeyBaseName(e.key);
    if (std::find(skip_names.begin(), skip_names.end(), base) != skip_names.end()) continue;
    ++usage.keys;
    usage.bytes += e.size;
  }
  return usage;
}

}  // namespace lsio::kvstore
