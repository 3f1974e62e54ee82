#include "test_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lsio/array/chunk_selection.h"
#include "lsio/format/zarr/shard_index.h"
#include "lsio/array/strided_copy.h"

namespace lsio::zarr::testing {

using nlohmann::json;

std::string FixturesDir() {
  const char* d = std::getenv("LSIO_ZARR_FIXTURES");
  return d == nullptr ? std::string() : std::string(d);
}

std::string SharedFixturesDir() {
  const char* d = std::getenv("LSIO_SHARED_FIXTURES");
  return d == nullptr ? std::string() : std::string(d);
}

const json& Manifest() {
  static const json manifest = [] {
    std::optional<std::string> text = ReadWholeFile(FixturesDir() + "/manifest.json");
    if (!text) return json::object();
    json j = json::parse(*text, nullptr, false);
    return j.is_discarded() ? json::object() : j;
  }();
  return manifest;
}

std::string StorePath(const json& entry) {
  const std::string s = entry["store"].get<std::string>();
  return !s.empty() && s[0] == '/' ? s : FixturesDir() + "/" + s;
}

std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<Npy> ReadNpy(const std::string& path) {
  std::optional<std::string> text = ReadWholeFile(path);
  if (!text) return NotFoundError(path);
  const std::string& s = *text;
  if (s.size() < 10 || s.compare(0, 6, "\x93NUMPY") != 0) return CorruptDataError(path);
  size_t header_len, offset;
  if (s[6] == 1) {
    header_len = static_cast<unsigned char>(s[8]) | static_cast<unsigned char>(s[9]) << 8;
    offset = 10;
  } else {
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(s[8 + i])) << (8 * i);
    offset = 12;
  }
  const std::string header = s.substr(offset, header_len);
  Npy npy;
  const size_t d = header.find("'descr': '");
  if (d == std::string::npos) return CorruptDataError(path + ": no descr");
  npy.descr = header.substr(d + 10, header.find('\'', d + 10) - d - 10);
  if (header.find("'fortran_order': False") == std::string::npos) {
    return CorruptDataError(path + ": Fortran order");
  }
  const size_t sh = header.find("'shape': (");
  const size_t end = header.find(')', sh);
  std::string dims = header.substr(sh + 10, end - sh - 10);
  std::stringstream ds(dims);
  std::string item;
  while (std::getline(ds, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    npy.shape.push_back(std::stoll(item));
  }
  const auto* p = reinterpret_cast<const std::byte*>(s.data() + offset + header_len);
  npy.data.assign(p, p + (s.size() - offset - header_len));
  return npy;
}

std::string Hex(const std::vector<std::byte>& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    out += kDigits[static_cast<unsigned>(b) >> 4];
    out += kDigits[static_cast<unsigned>(b) & 15];
  }
  return out;
}

namespace {

struct ArrayReader {
  const ArrayMetadata& m;
  std::string dir;  // the array's directory
  size_t elem;
  std::optional<codec::CodecChain> chain;  // non-sharded

  std::string ChunkPath(std::span<const int64_t> grid) const {
    return dir + "/" + m.ChunkKey(grid);
  }
};

Result<ArrayReader> MakeReader(const std::string& root, const Node& node) {
  if (!node.array) return InvalidArgumentError(node.path + " is not an array");
  const ArrayMetadata& m = *node.array;
  LSIO_RETURN_IF_ERROR(m.data_type.DecodeSupport());
  ArrayReader r{m, node.path.empty() ? root : root + "/" + node.path, m.data_type.item_size, {}};
  if (!m.sharding) {
    LSIO_ASSIGN_OR_RETURN(codec::CodecChain chain, MakeChunkCodecChain(m));
    r.chain.emplace(std::move(chain));
  } else {
    // Check the inner chain can be built (unsupported codecs fail here, not mid-read).
    LSIO_RETURN_IF_ERROR(MakeChunkCodecChain(m));
  }
  return r;
}

// Decodes the stored object at grid `g` (a chunk, or a whole shard) into `out` (chunk_shape).
// Returns false when the object is missing.
Result<bool> DecodeStored(const ArrayReader& r, std::span<const int64_t> g,
                          std::vector<std::byte>& out) {
  const std::string path = r.ChunkPath(g);
  std::optional<std::string> bytes = ReadWholeFile(path);
  if (!bytes) return false;
  const auto data = std::as_bytes(std::span<const char>(bytes->data(), bytes->size()));
  if (r.m.sharding) {
    LSIO_RETURN_IF_ERROR(DecodeShard(data, *r.m.sharding, r.m.data_type.storage,
                                     r.m.fill_value.bytes, out, path));
  } else {
    Status s = r.chain->Decode(data, out);
    if (!s.ok()) return s.WithContext(path);
  }
  return true;
}

Result<std::vector<std::byte>> Read(const std::string& root, const Node& node,
                                    const std::vector<DimRange>& ranges, bool partial_shards) {
  LSIO_ASSIGN_OR_RETURN(ArrayReader r, MakeReader(root, node));
  const ArrayMetadata& m = r.m;
  std::vector<int64_t> out_shape;
  int64_t n = 1;
  for (const DimRange& d : ranges) {
    out_shape.push_back(d.count);
    n *= d.count;
  }
  std::vector<std::byte> out(static_cast<size_t>(n) * r.elem);
  const int64_t chunk_elems = [&] {
    int64_t e = 1;
    for (int64_t c : m.chunk_shape) e *= c;
    return e;
  }();
  std::vector<std::byte> chunk;
  std::optional<codec::CodecChain> index_chain, inner_chain;
  if (m.sharding && partial_shards) {
    LSIO_ASSIGN_OR_RETURN(codec::CodecChain ic, MakeShardIndexCodecChain(*m.sharding));
    index_chain.emplace(std::move(ic));
    if (!m.sharding->nested) {
      LSIO_ASSIGN_OR_RETURN(codec::CodecChain c,
                            MakeInnerCodecChain(*m.sharding, m.data_type.storage));
      inner_chain.emplace(std::move(c));
    }
  }
  Status s = ForEachChunk(ranges, m.shape, m.chunk_shape, [&](const ChunkSelection& sel) -> Status {
    if (m.sharding && partial_shards) {
      // Read the index, then only the inner chunks the selection needs.
      const std::string path = r.ChunkPath(sel.grid);
      std::optional<std::string> file = ReadWholeFile(path);
      std::vector<ChunkSelection> inner =
          InnerChunksForShard(sel, m.sharding->inner_chunk_shape);
      std::vector<int64_t> inner_shape = m.sharding->inner_chunk_shape;
      std::vector<std::byte> inner_buf(
          static_cast<size_t>([&] {
            int64_t e = 1;
            for (int64_t c : inner_shape) e *= c;
            return e;
          }()) * r.elem);
      if (!file) {
        for (const ChunkSelection& ic : inner) {
          std::vector<CopyBoxDim> box;
          for (const ChunkDimSlice& d : ic.dims) box.push_back({0, 1, d.out_start, d.count});
          LSIO_RETURN_IF_ERROR(FillBox(out, out_shape, box, m.fill_value.bytes));
        }
        return Status::OK();
      }
      const auto data = std::as_bytes(std::span<const char>(file->data(), file->size()));
      LSIO_ASSIGN_OR_RETURN(ByteRange range, ShardIndexByteRange(*m.sharding, data.size(), path));
      LSIO_ASSIGN_OR_RETURN(ShardIndex index,
                            ShardIndex::Decode(data.subspan(range.offset, range.length),
                                               *index_chain, *m.sharding, data.size(), path));
      for (const ChunkSelection& ic : inner) {
        const ShardIndexEntry& e = index.entry(ic.grid);
        if (e.empty()) {
          std::vector<CopyBoxDim> box;
          for (const ChunkDimSlice& d : ic.dims) box.push_back({0, 1, d.out_start, d.count});
          LSIO_RETURN_IF_ERROR(FillBox(out, out_shape, box, m.fill_value.bytes));
          continue;
        }
        const auto bytes = data.subspan(e.offset, e.nbytes);
        if (m.sharding->nested) {
          LSIO_RETURN_IF_ERROR(DecodeShard(bytes, *m.sharding->nested, m.data_type.storage,
                                           m.fill_value.bytes, inner_buf, path));
        } else {
          Status st = inner_chain->Decode(bytes, inner_buf);
          if (!st.ok()) return st.WithContext(path);
        }
        LSIO_RETURN_IF_ERROR(
            CopyChunkSelection(ic, inner_buf, inner_shape, out, out_shape, r.elem));
      }
      return Status::OK();
    }
    chunk.resize(static_cast<size_t>(chunk_elems) * r.elem);
    LSIO_ASSIGN_OR_RETURN(bool present, DecodeStored(r, sel.grid, chunk));
    if (!present) {
      std::vector<CopyBoxDim> box;
      for (const ChunkDimSlice& d : sel.dims) box.push_back({0, 1, d.out_start, d.count});
      return FillBox(out, out_shape, box, m.fill_value.bytes);
    }
    return CopyChunkSelection(sel, chunk, m.chunk_shape, out, out_shape, r.elem);
  });
  LSIO_RETURN_IF_ERROR(s);
  return out;
}

}  // namespace

Result<std::vector<std::byte>> ReadWholeArray(const std::string& root, const Node& node) {
  if (!node.array) return InvalidArgumentError(node.path + " is not an array");
  std::vector<DimRange> ranges;
  for (int64_t n : node.array->shape) ranges.push_back(FullRange(n));
  return Read(root, node, ranges, /*partial_shards=*/false);
}

Result<std::vector<std::byte>> ReadSelection(const std::string& root, const Node& node,
                                             const std::vector<DimRange>& ranges) {
  return Read(root, node, ranges, /*partial_shards=*/true);
}

}  // namespace lsio::zarr::testing
