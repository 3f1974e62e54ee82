#include "lsio/codec/chain.h"

#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "bytes_codec.h"
#include "config.h"
#include "filter_byte_order.h"

namespace lsio::codec {

namespace {

// Slack allowed for a compressor whose input size is not known exactly (a compressor stacked
// on a compressor): every codec lsio knows expands incompressible data by well under 1/16
// plus a small constant.
size_t CompressedBound(size_t n) { return n + n / 16 + (size_t{64} << 10); }

struct ArrayStage {
  std::unique_ptr<ArrayToArrayCodec> codec;
  ArraySpec decoded;
  ArraySpec encoded;
  bool skip_on_decode = false;  // decode_is_identity() and the spec does not change
};

struct BytesStage {
  std::unique_ptr<BytesToBytesCodec> codec;
  // Size of the bytes this codec decodes to: exact when every codec before it has a fixed
  // encoded size, else an upper bound.
  size_t decoded_size = 0;
  bool decoded_size_exact = true;
};

Status CheckShape(const ArraySpec& spec) {
  for (int64_t extent : spec.shape) {
    if (extent < 0) {
      return InvalidArgumentError(
          fmt::format("chunk shape [{}] has a negative extent", fmt::join(spec.shape, ",")));
    }
  }
  return Status();
}

}  // namespace

struct CodecChain::Impl {
  ArraySpec decoded;
  std::vector<ArrayStage> arrays;  // in encode order
  std::unique_ptr<ArrayToBytesCodec> serializer;
  ArraySpec serialized_spec;  // the array the serializer sees
  bool serializer_is_identity = false;
  std::vector<BytesStage> bytes;  // in encode order
  bool decode_arrays_is_identity = true;

  // Builder state.
  bool has_serializer() const { return serializer != nullptr; }

  Status AddArrayCodec(std::unique_ptr<ArrayToArrayCodec> codec, std::string_view where) {
    const ArraySpec& in = arrays.empty() ? decoded : arrays.back().encoded;
    Result<ArraySpec> encoded = codec->EncodedSpec(in);
    if (!encoded.ok()) return encoded.status().WithContext(where);
    ArrayStage stage;
    stage.skip_on_decode = codec->decode_is_identity() && *encoded == in;
    stage.decoded = in;
    stage.encoded = std::move(encoded).value();
    stage.codec = std::move(codec);
    if (!stage.skip_on_decode) decode_arrays_is_identity = false;
    arrays.push_back(std::move(stage));
    return Status();
  }

  const ArraySpec& current_array() const {
    return arrays.empty() ? decoded : arrays.back().encoded;
  }

  Status SetSerializer(std::unique_ptr<ArrayToBytesCodec> codec, std::string_view where) {
    serialized_spec = current_array();
    if (auto* b = dynamic_cast<const internal::BytesCodec*>(codec.get())) {
      Status s = b->CheckSpec(serialized_spec);
      if (!s.ok()) return s.WithContext(where);
      serializer_is_identity = b->IsIdentityFor(serialized_spec);
    }
    serializer = std::move(codec);
    return Status();
  }

  void AddBytesCodec(std::unique_ptr<BytesToBytesCodec> codec) {
    BytesStage stage;
    if (bytes.empty()) {
      stage.decoded_size = serialized_spec.num_bytes();
      stage.decoded_size_exact = true;
    } else {
      const BytesStage& prev = bytes.back();
      std::optional<size_t> fixed = prev.codec->EncodedSizeIfFixed(prev.decoded_size);
      if (fixed) {
        stage.decoded_size = *fixed;
        stage.decoded_size_exact = prev.decoded_size_exact;
      } else {
        stage.decoded_size = CompressedBound(prev.decoded_size);
        stage.decoded_size_exact = false;
      }
    }
    stage.codec = std::move(codec);
    bytes.push_back(std::move(stage));
  }

  Status Decode(std::span<const std::byte> encoded, std::span<std::byte> out,
                BufferPool& pool) const;
  Status DecodeStreaming(std::span<const std::byte> encoded, DecodedWindowSink& sink,
                         BufferPool& pool) const;
  // Decodes bytes stage `i` of `cur`: in place (checksums), into `dest` when it is given, else
  // into `holder` from `pool`. Returns the decoded bytes.
  Result<std::span<const std::byte>> DecodeStage(size_t i, std::span<const std::byte> cur,
                                                 std::span<std::byte> dest, Buffer& holder,
                                                 BufferPool& pool) const;
  // The decoded size a bytes stage may declare for `cur`, within its bound.
  Result<size_t> StageCapacity(size_t i, std::span<const std::byte> cur) const;
  bool streamable() const {
    return serializer_is_identity && decode_arrays_is_identity && !bytes.empty();
  }
};

CodecChain::CodecChain(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CodecChain::CodecChain(CodecChain&&) noexcept = default;
CodecChain& CodecChain::operator=(CodecChain&&) noexcept = default;
CodecChain::~CodecChain() = default;

const ArraySpec& CodecChain::decoded_spec() const { return impl_->decoded; }

bool CodecChain::is_identity() const {
  return impl_->arrays.empty() && impl_->serializer_is_identity && impl_->bytes.empty();
}

std::string CodecChain::Describe() const {
  std::vector<std::string> parts;
  for (const ArrayStage& a : impl_->arrays) parts.push_back(a.codec->Describe());
  parts.push_back(impl_->serializer->Describe());
  for (const BytesStage& b : impl_->bytes) parts.push_back(b.codec->Describe());
  return fmt::format("{}", fmt::join(parts, " -> "));
}

namespace {

// Name and configuration of one Zarr v3 "codecs" entry.
Status ParseV3Entry(const nlohmann::json& entry, size_t index, std::string* name,
                    const nlohmann::json** config) {
  static const nlohmann::json kNull;
  *config = &kNull;
  if (entry.is_string()) {
    *name = entry.get<std::string>();
    return Status();
  }
  if (entry.is_object()) {
    auto it = entry.find("name");
    if (it != entry.end() && it->is_string()) {
      *name = it->get<std::string>();
      auto c = entry.find("configuration");
      if (c != entry.end()) *config = &*c;
      return Status();
    }
  }
  return InvalidArgumentError(fmt::format(
      "codecs[{}] must be a codec name or an object with a \"name\", got {}", index,
      entry.dump()));
}

}  // namespace

Result<CodecChain> CodecChain::FromZarrV3(const nlohmann::json& codecs, const ArraySpec& decoded,
                                          const CodecRegistry& registry) {
  LSIO_RETURN_IF_ERROR(CheckShape(decoded));
  if (!codecs.is_array()) {
    return InvalidArgumentError(
        fmt::format("\"codecs\" must be a JSON array, got {}", codecs.dump()));
  }
  auto impl = std::make_unique<Impl>();
  impl->decoded = decoded;
  for (size_t i = 0; i < codecs.size(); ++i) {
    std::string name;
    const nlohmann::json* config = nullptr;
    LSIO_RETURN_IF_ERROR(ParseV3Entry(codecs[i], i, &name, &config));
    const std::string where = fmt::format("codecs[{}] ({})", i, name);
    if (name == "sharding_indexed") {
      return NotSupportedError(fmt::format(
          "{}: sharding is decoded by the Zarr format layer, not by a codec chain", where));
    }
    std::optional<CodecRegistry::Kind> kind = registry.KindOf(name);
    if (!kind) return NotSupportedError(fmt::format("codec {} is not supported", name));
    switch (*kind) {
      case CodecRegistry::Kind::kArrayToArray: {
        if (impl->has_serializer()) {
          return InvalidArgumentError(fmt::format(
              "{}: an array->array codec cannot follow the array->bytes codec", where));
        }
        LSIO_ASSIGN_OR_RETURN(auto codec, registry.MakeArrayToArray(name, *config));
        // zarr-python hands numcodecs filters native-endian arrays.
        if (auto* f = dynamic_cast<const internal::FilterByteOrder*>(codec.get())) {
          for (std::optional<Endian> e : {f->decoded_byte_order(), f->encoded_byte_order()}) {
            if (e && *e != kNativeEndian) {
              return NotSupportedError(fmt::format(
                  "{}: a big-endian dtype in a Zarr v3 filter would reinterpret the array's "
                  "native-endian bytes",
                  where));
            }
          }
        }
        LSIO_RETURN_IF_ERROR(impl->AddArrayCodec(std::move(codec), where));
        break;
      }
      case CodecRegistry::Kind::kArrayToBytes: {
        if (impl->has_serializer()) {
          return InvalidArgumentError(
              fmt::format("{}: a chain has exactly one array->bytes codec", where));
        }
        LSIO_ASSIGN_OR_RETURN(auto codec, registry.MakeArrayToBytes(name, *config));
        LSIO_RETURN_IF_ERROR(impl->SetSerializer(std::move(codec), where));
        break;
      }
      case CodecRegistry::Kind::kBytesToBytes: {
        if (!impl->has_serializer()) {
          return InvalidArgumentError(fmt::format(
              "{}: a bytes->bytes codec must follow the array->bytes codec", where));
        }
        // zarr-python fills these from the array when the metadata leaves them out; they
        // matter for encoding only.
        nlohmann::json filled = config->is_object() ? *config : nlohmann::json::object();
        const size_t width = ByteWidth(impl->serialized_spec.dtype);
        if (name == "blosc") {
          if (!filled.contains("typesize")) filled["typesize"] = width;
          if (!filled.contains("shuffle")) {
            filled["shuffle"] = width == 1 ? "bitshuffle" : "shuffle";
          }
        } else if (name == "numcodecs.shuffle" && !filled.contains("elementsize")) {
          filled["elementsize"] = width;
        }
        Result<std::unique_ptr<BytesToBytesCodec>> codec = registry.MakeBytesToBytes(name, filled);
        if (!codec.ok()) return codec.status();
        impl->AddBytesCodec(std::move(codec).value());
        break;
      }
    }
  }
  if (!impl->has_serializer()) {
    return InvalidArgumentError("\"codecs\" has no array->bytes codec (such as \"bytes\")");
  }
  return CodecChain(std::move(impl));
}

Result<CodecChain> CodecChain::FromZarrV2(const nlohmann::json& filters,
                                          const nlohmann::json& compressor, char order,
                                          Endian stored_endian, const ArraySpec& decoded,
                                          const CodecRegistry& registry) {
  LSIO_RETURN_IF_ERROR(CheckShape(decoded));
  if (order != 'C' && order != 'F') {
    return InvalidArgumentError(fmt::format("order must be 'C' or 'F', got '{}'", order));
  }
  if (!filters.is_null() && !filters.is_array()) {
    return InvalidArgumentError(
        fmt::format("\"filters\" must be null or a list, got {}", filters.dump()));
  }
  auto impl = std::make_unique<Impl>();
  impl->decoded = decoded;
  // An 'F' chunk is the C-order chunk of the reversed shape: a transpose, after which the
  // filters see the flattened F-order data, as numcodecs does.
  if (order == 'F' && decoded.shape.size() > 1) {
    nlohmann::json perm = nlohmann::json::array();
    for (size_t d = decoded.shape.size(); d-- > 0;) perm.push_back(d);
    LSIO_ASSIGN_OR_RETURN(auto transpose,
                          registry.MakeArrayToArray("transpose", {{"order", perm}}));
    LSIO_RETURN_IF_ERROR(impl->AddArrayCodec(std::move(transpose), "order 'F'"));
  }
  Endian byte_order = stored_endian;  // of the bytes the next filter receives
  auto add_serializer = [&]() -> Status {
    if (impl->has_serializer()) return Status();
    LSIO_ASSIGN_OR_RETURN(
        auto bytes, registry.MakeArrayToBytes(
                        "bytes", {{"endian", std::string(internal::EndianName(byte_order))}}));
    return impl->SetSerializer(std::move(bytes), "bytes");
  };
  auto id_of = [](const nlohmann::json& config, std::string_view where) -> Result<std::string> {
    if (config.is_object()) {
      auto it = config.find("id");
      if (it != config.end() && it->is_string()) return it->get<std::string>();
    }
    return InvalidArgumentError(fmt::format(
        "{} must be a numcodecs configuration with an \"id\", got {}", where, config.dump()));
  };
  // numcodecs compressors see the filters' output: an array of the last array filter's dtype,
  // or bytes once a bytes->bytes filter has run. Blosc takes its typesize from that.
  size_t numcodecs_itemsize = 0;
  auto make_bytes_codec = [&](const std::string& id, const nlohmann::json& config)
      -> Result<std::unique_ptr<BytesToBytesCodec>> {
    if (id == "blosc" && !config.contains("typesize")) {
      nlohmann::json filled = config;
      filled["typesize"] = numcodecs_itemsize;
      return registry.MakeBytesToBytes(id, filled);
    }
    return registry.MakeBytesToBytes(id, config);
  };
  if (filters.is_array()) {
    for (size_t i = 0; i < filters.size(); ++i) {
      const std::string where = fmt::format("filters[{}]", i);
      LSIO_ASSIGN_OR_RETURN(std::string id, id_of(filters[i], where));
      const std::string named = fmt::format("{} ({})", where, id);
      std::optional<CodecRegistry::Kind> kind = registry.KindOf(id);
      if (!kind) return NotSupportedError(fmt::format("codec {} is not supported", id));
      if (*kind == CodecRegistry::Kind::kArrayToArray) {
        if (impl->has_serializer()) {
          return NotSupportedError(fmt::format(
              "{}: an array filter after a bytes filter would reinterpret raw bytes", named));
        }
        LSIO_ASSIGN_OR_RETURN(auto codec, registry.MakeArrayToArray(id, filters[i]));
        if (auto* f = dynamic_cast<const internal::FilterByteOrder*>(codec.get())) {
          if (f->decoded_byte_order() && *f->decoded_byte_order() != byte_order &&
              ByteWidth(impl->current_array().dtype) > 1) {
            return NotSupportedError(fmt::format(
                "{}: its dtype is {}-endian but the data it receives is {}-endian; numcodecs "
                "would reinterpret the bytes",
                named, internal::EndianName(*f->decoded_byte_order()),
                internal::EndianName(byte_order)));
          }
          if (f->encoded_byte_order()) byte_order = *f->encoded_byte_order();
        }
        LSIO_RETURN_IF_ERROR(impl->AddArrayCodec(std::move(codec), named));
      } else if (*kind == CodecRegistry::Kind::kBytesToBytes) {
        numcodecs_itemsize = impl->has_serializer() ? 1 : ByteWidth(impl->current_array().dtype);
        LSIO_RETURN_IF_ERROR(add_serializer());
        LSIO_ASSIGN_OR_RETURN(auto codec, make_bytes_codec(id, filters[i]));
        impl->AddBytesCodec(std::move(codec));
      } else {
        return NotSupportedError(
            fmt::format("{}: an array->bytes codec cannot be a Zarr v2 filter", named));
      }
    }
  }
  numcodecs_itemsize = impl->has_serializer() ? 1 : ByteWidth(impl->current_array().dtype);
  LSIO_RETURN_IF_ERROR(add_serializer());
  if (!compressor.is_null()) {
    LSIO_ASSIGN_OR_RETURN(std::string id, id_of(compressor, "compressor"));
    std::optional<CodecRegistry::Kind> kind = registry.KindOf(id);
    if (!kind) return NotSupportedError(fmt::format("codec {} is not supported", id));
    if (*kind != CodecRegistry::Kind::kBytesToBytes) {
      return InvalidArgumentError(
          fmt::format("compressor ({}) must be a bytes->bytes codec", id));
    }
    LSIO_ASSIGN_OR_RETURN(auto codec, make_bytes_codec(id, compressor));
    impl->AddBytesCodec(std::move(codec));
  }
  return CodecChain(std::move(impl));
}

Result<size_t> CodecChain::Impl::StageCapacity(size_t i, std::span<const std::byte> cur) const {
  const BytesStage& stage = bytes[i];
  if (stage.decoded_size_exact) return stage.decoded_size;
  // Size the scratch by what the data declares when it declares it, within the bound.
  LSIO_ASSIGN_OR_RETURN(std::optional<size_t> declared, stage.codec->DecodedSize(cur));
  if (!declared) return stage.decoded_size;
  if (*declared > stage.decoded_size) {
    return CorruptDataError(
        fmt::format("{}: header declares {} decoded bytes, more than a {} chunk can need",
                    stage.codec->name(), *declared, serialized_spec.ToString()));
  }
  return *declared;
}

Result<std::span<const std::byte>> CodecChain::Impl::DecodeStage(size_t i,
                                                                 std::span<const std::byte> cur,
                                                                 std::span<std::byte> dest,
                                                                 Buffer& holder,
                                                                 BufferPool& pool) const {
  const BytesStage& stage = bytes[i];
  const BytesToBytesCodec& codec = *stage.codec;
  if (auto in_place = codec.DecodeInPlace(cur)) {
    if (!in_place->ok()) return in_place->status();
    return **in_place;
  }
  if (dest.data() == nullptr) {
    LSIO_ASSIGN_OR_RETURN(size_t capacity, StageCapacity(i, cur));
    LSIO_ASSIGN_OR_RETURN(holder, pool.Acquire(capacity));
    dest = holder.mutable_span();
  }
  LSIO_ASSIGN_OR_RETURN(size_t written, codec.Decode(cur, dest));
  if (stage.decoded_size_exact && written != stage.decoded_size) {
    return CorruptDataError(fmt::format("{}: decoded {} bytes where the {} chunk needs {}",
                                        codec.name(), written, serialized_spec.ToString(),
                                        stage.decoded_size));
  }
  return std::span<const std::byte>(dest.first(written));
}

namespace {

// Counts what passes through to the caller's sink and stops a stream that runs past the chunk.
class CountingSink final : public DecodedWindowSink {
 public:
  CountingSink(DecodedWindowSink& sink, size_t limit) : sink_(sink), limit_(limit) {}
  Status Consume(std::span<const std::byte> piece) override {
    if (piece.size() > limit_ - total_) {
      return CorruptDataError(
          fmt::format("data decodes to more than the {} bytes expected", limit_));
    }
    total_ += piece.size();
    return sink_.Consume(piece);
  }
  bool Wants(size_t length) override { return length > limit_ - total_ || sink_.Wants(length); }
  Status Skip(size_t length) override {
    total_ += length;  // within the limit: Wants said true otherwise
    return sink_.Skip(length);
  }
  size_t total() const { return total_; }

 private:
  DecodedWindowSink& sink_;
  size_t limit_;
  size_t total_ = 0;
};

}  // namespace

Status CodecChain::Impl::DecodeStreaming(std::span<const std::byte> encoded,
                                         DecodedWindowSink& sink, BufferPool& pool) const {
  const size_t serialized_size = serialized_spec.num_bytes();
  if (bytes.empty() && serializer_is_identity && decode_arrays_is_identity) {
    if (encoded.size() != serialized_size) {
      return CorruptDataError(fmt::format("stored chunk holds {} bytes where the {} chunk needs {}",
                                          encoded.size(), serialized_spec.ToString(),
                                          serialized_size));
    }
    return sink.Consume(encoded);
  }
  if (!streamable()) {
    // Array codecs (or a serializer that swaps bytes) need the whole chunk: decode it, then
    // hand it over in one piece.
    LSIO_ASSIGN_OR_RETURN(Buffer whole, pool.Acquire(decoded.num_bytes()));
    LSIO_RETURN_IF_ERROR(Decode(encoded, whole.mutable_span(), pool));
    return sink.Consume(whole.span());
  }
  std::span<const std::byte> cur = encoded;
  Buffer scratch[2];
  int next = 0;
  for (size_t i = bytes.size(); i-- > 1;) {
    LSIO_ASSIGN_OR_RETURN(cur, DecodeStage(i, cur, {}, scratch[next], pool));
    next ^= 1;
  }
  // The innermost stage streams when its codec can; else it decodes into scratch.
  const BytesStage& inner = bytes[0];
  CountingSink counted(sink, serialized_size);
  size_t got = 0;
  if (auto streamed = inner.codec->DecodeStreaming(cur, serialized_size, counted)) {
    if (!streamed->ok()) return streamed->status();
    got = counted.total();
  } else {
    LSIO_ASSIGN_OR_RETURN(cur, DecodeStage(0, cur, {}, scratch[next], pool));
    got = cur.size();
    if (got == serialized_size) LSIO_RETURN_IF_ERROR(counted.Consume(cur));
  }
  if (got != serialized_size) {
    return CorruptDataError(fmt::format("stored chunk holds {} bytes where the {} chunk needs {}",
                                        got, serialized_spec.ToString(), serialized_size));
  }
  return Status();
}

Status CodecChain::Impl::Decode(std::span<const std::byte> encoded, std::span<std::byte> out,
                                BufferPool& pool) const {
  const size_t serialized_size = serialized_spec.num_bytes();
  // Nothing after the bytes->bytes codecs but a copy: the last of them decodes into `out`.
  const bool direct = serializer_is_identity && decode_arrays_is_identity;

  std::span<const std::byte> cur = encoded;
  Buffer scratch[2];
  int next = 0;
  for (size_t i = bytes.size(); i-- > 0;) {
    LSIO_ASSIGN_OR_RETURN(
        cur, DecodeStage(i, cur, i == 0 && direct ? out : std::span<std::byte>(), scratch[next],
                         pool));
    next ^= 1;
  }
  if (cur.size() != serialized_size) {
    return CorruptDataError(fmt::format("stored chunk holds {} bytes where the {} chunk needs {}",
                                        cur.size(), serialized_spec.ToString(), serialized_size));
  }
  if (direct) {
    if (cur.data() != out.data() && !cur.empty()) std::memcpy(out.data(), cur.data(), cur.size());
    return Status();
  }

  // Array stages that do work, last first.
  std::vector<const ArrayStage*> work;
  for (size_t i = arrays.size(); i-- > 0;) {
    if (!arrays[i].skip_on_decode) work.push_back(&arrays[i]);
  }
  Buffer array_scratch[2];
  int array_next = 0;
  std::span<const std::byte> array = cur;
  if (work.empty()) {
    return serializer->Decode(cur, serialized_spec, out);
  }
  if (!serializer_is_identity) {
    LSIO_ASSIGN_OR_RETURN(array_scratch[array_next], pool.Acquire(serialized_size));
    std::span<std::byte> dest = array_scratch[array_next].mutable_span();
    array_next ^= 1;
    LSIO_RETURN_IF_ERROR(serializer->Decode(cur, serialized_spec, dest));
    array = dest;
  }
  for (size_t k = 0; k < work.size(); ++k) {
    const ArrayStage& stage = *work[k];
    std::span<std::byte> dest;
    if (k + 1 == work.size()) {
      dest = out;
    } else {
      LSIO_ASSIGN_OR_RETURN(array_scratch[array_next], pool.Acquire(stage.decoded.num_bytes()));
      dest = array_scratch[array_next].mutable_span();
      array_next ^= 1;
    }
    LSIO_RETURN_IF_ERROR(stage.codec->Decode(array, stage.decoded, dest));
    array = dest;
  }
  return Status();
}

Status CodecChain::Decode(std::span<const std::byte> encoded, std::span<std::byte> out,
                          BufferPool& pool) const {
  if (out.size() != impl_->decoded.num_bytes()) {
    return InvalidArgumentError(fmt::format("output of {} bytes for a {} chunk of {} bytes",
                                            out.size(), impl_->decoded.ToString(),
                                            impl_->decoded.num_bytes()));
  }
  return impl_->Decode(encoded, out, pool);
}

Status CodecChain::DecodeStreaming(std::span<const std::byte> encoded, DecodedWindowSink& sink,
                                   BufferPool& pool) const {
  return impl_->DecodeStreaming(encoded, sink, pool);
}

bool CodecChain::can_stream() const {
  return impl_->streamable() && impl_->bytes.front().codec->streams();
}

bool CodecChain::can_skip() const { return can_stream() && impl_->bytes.front().codec->skips(); }

Result<Buffer> CodecChain::Encode(std::span<const std::byte> decoded) const {
  if (decoded.size() != impl_->decoded.num_bytes()) {
    return InvalidArgumentError(fmt::format("{} bytes given to encode a {} chunk of {} bytes",
                                            decoded.size(), impl_->decoded.ToString(),
                                            impl_->decoded.num_bytes()));
  }
  std::span<const std::byte> cur = decoded;
  Buffer holder;
  for (const ArrayStage& stage : impl_->arrays) {
    LSIO_ASSIGN_OR_RETURN(Buffer next, DefaultBufferPool().Acquire(stage.encoded.num_bytes()));
    LSIO_RETURN_IF_ERROR(stage.codec->Encode(cur, stage.decoded, next.mutable_span()));
    holder = std::move(next);
    cur = holder.span();
  }
  LSIO_ASSIGN_OR_RETURN(Buffer bytes, impl_->serializer->Encode(cur, impl_->serialized_spec));
  for (const BytesStage& stage : impl_->bytes) {
    LSIO_ASSIGN_OR_RETURN(bytes, stage.codec->Encode(bytes.span()));
  }
  // Compressors write into a block sized for the worst case; a caller that keeps many
  // encoded chunks should not keep that slack too.
  if (bytes.capacity() > 2 * BufferPool::SizeClass(bytes.size())) {
    LSIO_ASSIGN_OR_RETURN(Buffer fitted, DefaultBufferPool().Acquire(bytes.size()));
    if (!bytes.empty()) std::memcpy(fitted.mutable_data(), bytes.data(), bytes.size());
    return fitted;
  }
  return bytes;
}

}  // namespace lsio::codec
