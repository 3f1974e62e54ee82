// ArrayWriter: documents, keys and the encode side of the codec chain for one array.

#include "lsio/format/zarr/writer.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "grid_text.h"
#include "lsio/base/json_util.h"
#include "lsio/array/strided_copy.h"

namespace lsio::zarr {

using array::CopyBox;
using array::CopyBoxDim;

using internal::GridText;

namespace {

template <typename T>
T Load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Is the float component of `width` bytes at `p` a NaN?
bool IsNanAt(const std::byte* p, size_t width) {
  switch (width) {
    case 2: {
      const uint16_t h = Load<uint16_t>(p);
      return (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0;
    }
    case 4:
      return std::isnan(Load<float>(p));
    case 8:
      return std::isnan(Load<double>(p));
    default:
      return false;
  }
}

// `data` holds copies of one `w`-byte element equal to `element`: the first element matches,
// and the bytes repeat with period w (data[i] == data[i + w] for every i).
bool AllBitwiseEqual(std::span<const std::byte> data, std::span<const std::byte> element) {
  const size_t w = element.size();
  if (data.empty()) return true;
  if (std::memcmp(data.data(), element.data(), w) != 0) return false;
  return std::memcmp(data.data(), data.data() + w, data.size() - w) == 0;
}

int64_t Product(std::span<const int64_t> v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Every element of `out` set to `element`.
void FillWith(std::span<std::byte> out, std::span<const std::byte> element) {
  const size_t w = element.size();
  if (out.empty() || w == 0) return;
  std::memcpy(out.data(), element.data(), w);
  // Doubling copies: O(log n) memcpy calls.
  size_t done = w;
  while (done < out.size()) {
    const size_t n = std::min(done, out.size() - done);
    std::memcpy(out.data() + done, out.data(), n);
    done += n;
  }
}

// The array a codec chain sees for chunks of `shape`: the elements themselves for numbers;
// for fixed-length UTF-32 strings their code units (uint32, one more dimension), so that byte
// order applies per code unit as numpy's "<U"/">U" and zarr-python's bytes codec do.
codec::ArraySpec ChainSpec(const ZarrDataType& type, std::span<const int64_t> shape) {
  codec::ArraySpec spec{type.storage, {shape.begin(), shape.end()}};
  if (type.kind == DataTypeKind::kFixedUtf32) {
    spec.dtype = DataType::kUInt32;
    spec.shape.push_back(static_cast<int64_t>(type.item_size / 4));
  }
  return spec;
}

// MakeChunkCodecChain's chain, for every type the writer writes (lsio's reader decodes numbers
// only, and MakeChunkCodecChain refuses the rest).
Result<codec::CodecChain> EncodeChain(const ArrayMetadata& m) {
  const codec::ArraySpec spec = ChainSpec(m.data_type, m.read_chunk_shape());
  Result<codec::CodecChain> chain = [&]() -> Result<codec::CodecChain> {
    if (m.zarr_format == ZarrFormat::kV2) {
      return codec::CodecChain::FromZarrV2(m.filters, m.compressor, m.order, m.data_type.endian,
                                           spec);
    }
    if (m.sharding) return codec::CodecChain::FromZarrV3(m.sharding->codecs, spec);
    return codec::CodecChain::FromZarrV3(m.codecs, spec);
  }();
  if (!chain.ok()) return chain.status().WithContext(m.metadata_file);
  return chain;
}

}  // namespace

bool AllEqualFill(std::span<const std::byte> data, std::span<const std::byte> fill,
                  DataType type) {
  const size_t w = fill.size();
  if (w == 0 || data.size() % w != 0) return false;
  // Elements that are not one number (strings) compare bitwise.
  if (w != ByteWidth(type)) return AllBitwiseEqual(data, fill);
  size_t component = 0;
  if (IsFloat(type)) component = w;
  if (IsComplex(type)) component = w / 2;
  const bool nan_re = component != 0 && IsNanAt(fill.data(), component);
  const bool nan_im = IsComplex(type) && IsNanAt(fill.data() + component, component);
  if (!nan_re && !nan_im) return AllBitwiseEqual(data, fill);
  const size_t n = data.size() / w;
  for (size_t i = 0; i < n; ++i) {
    const std::byte* e = data.data() + i * w;
    if (nan_re ? !IsNanAt(e, component) : std::memcmp(e, fill.data(), component) != 0) {
      return false;
    }
    if (IsComplex(type)) {
      const std::byte* im = e + component;
      if (nan_im ? !IsNanAt(im, component)
                 : std::memcmp(im, fill.data() + component, component) != 0) {
        return false;
      }
    }
  }
  return true;
}

struct ArrayWriter::Impl {
  ArrayWriteSpec spec;
  std::string where;
  std::vector<MetadataDocument> documents;
  ArrayMetadata metadata;
  std::optional<codec::CodecChain> chunk_chain;
  std::optional<codec::CodecChain> index_chain;
  std::vector<std::byte> fill;
  size_t element_size = 0;
  std::vector<int64_t> unit_shape;
  std::vector<int64_t> chunk_shape;

  std::string KeyText(std::span<const int64_t> unit) const {
    return (where.empty() ? std::string() : where + "/") + metadata.ChunkKey(unit);
  }

  // Checks `grid` against a grid of `block` over the array; the origin and in-array extent.
  Status Locate(std::span<const int64_t> grid, const std::vector<int64_t>& block,
                std::string_view what, std::vector<int64_t>* origin,
                std::vector<int64_t>* extent) const {
    const std::vector<int64_t>& shape = spec.shape;
    if (grid.size() != shape.size()) {
      return InvalidArgumentError(fmt::format("{}: {} {} has rank {}, the array {}", where, what,
                                              GridText(grid), grid.size(), shape.size()));
    }
    origin->resize(shape.size());
    extent->resize(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) {
      const int64_t o = grid[d] * block[d];
      if (grid[d] < 0 || o >= shape[d]) {
        return InvalidArgumentError(fmt::format("{}: {} {} is outside the array of shape {}",
                                                where, what, GridText(grid),
                                                lsio::internal::FormatShape(shape)));
      }
      (*origin)[d] = o;
      (*extent)[d] = std::min(block[d], shape[d] - o);
    }
    return Status::OK();
  }

  Result<std::optional<Buffer>> EncodeChunk(std::span<const int64_t> chunk,
                                            std::span<const std::byte> decoded,
                                            const std::vector<int64_t>& extent) const {
    if (AllEqualFill(decoded, fill, spec.data_type.storage)) return std::optional<Buffer>();
    Result<Buffer> encoded = [&]() -> Result<Buffer> {
      if (extent == chunk_shape) return chunk_chain->Encode(decoded);
      // An edge chunk: stored at full size, padded with the fill value.
      LSIO_ASSIGN_OR_RETURN(Buffer full, DefaultBufferPool().Acquire(
                                             static_cast<size_t>(Product(chunk_shape)) *
                                             element_size));
      FillWith(full.mutable_span(), fill);
      std::vector<CopyBoxDim> box(extent.size());
      for (size_t d = 0; d < extent.size(); ++d) box[d] = CopyBoxDim{0, 1, 0, extent[d]};
      LSIO_RETURN_IF_ERROR(
          CopyBox(decoded, extent, full.mutable_span(), chunk_shape, box, element_size));
      return chunk_chain->Encode(full.span());
    }();
    if (!encoded.ok()) {
      return encoded.status().WithContext(fmt::format("{}: chunk {}", where, GridText(chunk)));
    }
    return std::optional<Buffer>(std::move(encoded).value());
  }

  Status CheckSize(std::span<const std::byte> decoded, const std::vector<int64_t>& extent,
                   std::string_view what, std::span<const int64_t> grid) const {
    const size_t expected = static_cast<size_t>(Product(extent)) * element_size;
    if (decoded.size() != expected) {
      return InvalidArgumentError(fmt::format(
          "{}: {} {}: {} bytes given for its {} elements of {} ({} bytes)", where, what,
          GridText(grid), decoded.size(), lsio::internal::FormatShape(extent),
          spec.data_type.name, expected));
    }
    return Status::OK();
  }
};

ArrayWriter::ArrayWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArrayWriter::ArrayWriter(ArrayWriter&&) noexcept = default;
ArrayWriter& ArrayWriter::operator=(ArrayWriter&&) noexcept = default;
ArrayWriter::~ArrayWriter() = default;

Result<ArrayWriter> ArrayWriter::Make(const ArrayWriteSpec& spec, std::string where) {
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  impl->where = std::move(where);
  LSIO_ASSIGN_OR_RETURN(impl->documents, ArrayMetadataDocuments(spec, impl->where));
  const std::string base = impl->where.empty() ? std::string() : impl->where + "/";
  Result<ArrayMetadata> parsed =
      spec.format == ZarrFormat::kV3
          ? ParseZarrV3Array(impl->documents[0].json, base + "zarr.json")
          : ParseZarrV2Array(impl->documents[0].json, impl->documents[1].json, base + ".zarray",
                             base + ".zattrs");
  if (!parsed.ok()) {
    // The documents were built from a validated spec; lsio's reader refusing them is a bug
    // or a limit of the reader (chunk size), reported as such.
    return parsed.status().WithContext("the metadata written would not be readable");
  }
  impl->metadata = std::move(parsed).value();
  LSIO_ASSIGN_OR_RETURN(codec::CodecChain chain, EncodeChain(impl->metadata));
  impl->chunk_chain.emplace(std::move(chain));
  if (impl->metadata.sharding) {
    LSIO_ASSIGN_OR_RETURN(codec::CodecChain index,
                          MakeShardIndexCodecChain(*impl->metadata.sharding));
    impl->index_chain.emplace(std::move(index));
  }
  impl->fill = impl->metadata.fill_value.bytes;
  impl->element_size = spec.data_type.item_size;
  impl->unit_shape = impl->metadata.chunk_shape;
  impl->chunk_shape = impl->metadata.read_chunk_shape();
  if (impl->fill.size() != impl->element_size) {
    return InternalError(impl->where + ": fill value of " + std::to_string(impl->fill.size()) +
                         " bytes for " + spec.data_type.name);
  }
  return ArrayWriter(std::move(impl));
}

const ArrayWriteSpec& ArrayWriter::spec() const { return impl_->spec; }
const ArrayMetadata& ArrayWriter::metadata() const { return impl_->metadata; }
const std::vector<MetadataDocument>& ArrayWriter::documents() const { return impl_->documents; }
const std::string& ArrayWriter::where() const { return impl_->where; }
const std::vector<int64_t>& ArrayWriter::unit_shape() const { return impl_->unit_shape; }

std::vector<int64_t> ArrayWriter::unit_grid_shape() const { return impl_->metadata.grid_shape(); }

int64_t ArrayWriter::num_units() const { return impl_->metadata.num_chunks(); }

std::string ArrayWriter::UnitKey(std::span<const int64_t> unit) const {
  return impl_->metadata.ChunkKey(unit);
}

std::vector<int64_t> ArrayWriter::UnitOrigin(std::span<const int64_t> unit) const {
  std::vector<int64_t> o(unit.size());
  for (size_t d = 0; d < unit.size(); ++d) o[d] = unit[d] * impl_->unit_shape[d];
  return o;
}

std::vector<int64_t> ArrayWriter::UnitExtent(std::span<const int64_t> unit) const {
  std::vector<int64_t> e(unit.size());
  for (size_t d = 0; d < unit.size(); ++d) {
    const int64_t o = unit[d] * impl_->unit_shape[d];
    e[d] = std::max<int64_t>(0, std::min(impl_->unit_shape[d], impl_->spec.shape[d] - o));
  }
  return e;
}

std::vector<int64_t> ArrayWriter::chunk_grid_shape() const {
  const std::vector<int64_t>& shape = impl_->spec.shape;
  std::vector<int64_t> g(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    g[d] = shape[d] == 0 ? 0 : (shape[d] - 1) / impl_->chunk_shape[d] + 1;
  }
  return g;
}

Result<std::optional<Buffer>> ArrayWriter::EncodeChunk(std::span<const int64_t> chunk,
                                                       std::span<const std::byte> decoded) const {
  std::vector<int64_t> origin, extent;
  LSIO_RETURN_IF_ERROR(impl_->Locate(chunk, impl_->chunk_shape, "chunk", &origin, &extent));
  LSIO_RETURN_IF_ERROR(impl_->CheckSize(decoded, extent, "chunk", chunk));
  return impl_->EncodeChunk(chunk, decoded, extent);
}

Result<ShardEncoder> ArrayWriter::StartShard(std::span<const int64_t> shard) const {
  if (!impl_->metadata.sharding) {
    return InvalidArgumentError(impl_->where + ": the array is not sharded");
  }
  std::vector<int64_t> origin, extent;
  LSIO_RETURN_IF_ERROR(impl_->Locate(shard, impl_->unit_shape, "shard", &origin, &extent));
  return ShardEncoder::Make(*impl_->metadata.sharding, *impl_->index_chain, impl_->KeyText(shard));
}

Result<std::optional<Buffer>> ArrayWriter::EncodeUnit(std::span<const int64_t> unit,
                                                      std::span<const std::byte> decoded) const {
  const Impl& m = *impl_;
  if (!m.metadata.sharding) return EncodeChunk(unit, decoded);
  std::vector<int64_t> origin, extent;
  LSIO_RETURN_IF_ERROR(m.Locate(unit, m.unit_shape, "shard", &origin, &extent));
  LSIO_RETURN_IF_ERROR(m.CheckSize(decoded, extent, "shard", unit));
  LSIO_ASSIGN_OR_RETURN(ShardEncoder encoder, StartShard(unit));
  const ShardingSpec& sharding = *m.metadata.sharding;
  const std::vector<int64_t>& cps = sharding.chunks_per_shard;
  const size_t rank = cps.size();
  const int64_t n = sharding.num_inner_chunks();
  // Inner chunks that split only the first dimension are contiguous runs of `decoded`.
  const bool runs = rank > 0 && cps[0] == n;
  std::vector<int64_t> chunk(rank), inner_extent(rank);
  std::vector<CopyBoxDim> box(rank);
  Buffer scratch;
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int64_t> g = internal::Unravel(i, cps);
    bool inside = true;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t offset = g[d] * m.chunk_shape[d];  // inside the shard
      if (offset >= extent[d]) {
        inside = false;
        break;
      }
      chunk[d] = unit[d] * cps[d] + g[d];
      inner_extent[d] = std::min(m.chunk_shape[d], extent[d] - offset);
      box[d] = CopyBoxDim{offset, 1, 0, inner_extent[d]};
    }
    // An inner chunk wholly past the array's edge holds nothing: it stays empty.
    if (!inside) continue;
    const size_t bytes = static_cast<size_t>(Product(inner_extent)) * m.element_size;
    std::span<const std::byte> part;
    if (runs) {
      part = decoded.subspan(static_cast<size_t>(box[0].src_start) * bytes /
                                 static_cast<size_t>(inner_extent[0]),
                             bytes);
    } else {
      if (scratch.size() < bytes) {
        LSIO_ASSIGN_OR_RETURN(scratch, DefaultBufferPool().Acquire(
                                           static_cast<size_t>(Product(m.chunk_shape)) *
                                           m.element_size));
      }
      std::span<std::byte> dst = scratch.mutable_span().subspan(0, bytes);
      LSIO_RETURN_IF_ERROR(CopyBox(decoded, extent, dst, inner_extent, box, m.element_size));
      part = dst;
    }
    LSIO_ASSIGN_OR_RETURN(std::optional<Buffer> encoded, m.EncodeChunk(chunk, part, inner_extent));
    if (encoded) LSIO_RETURN_IF_ERROR(encoder.Add(g, std::move(*encoded)));
  }
  return encoder.Finish();
}

}  // namespace lsio::zarr
