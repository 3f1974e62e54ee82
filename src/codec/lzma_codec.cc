// LZMA through liblzma, with the configuration Python's lzma module (and so numcodecs' LZMA)
// takes: format (0 auto, 1 xz, 2 alone, 3 raw), check, preset, filters.

#include <fmt/format.h>
#include <lzma.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "builtin.h"
#include "config.h"

namespace lsio::codec::internal {

namespace {

constexpr int kFormatAuto = 0;
constexpr int kFormatXz = 1;
constexpr int kFormatAlone = 2;
constexpr int kFormatRaw = 3;

// liblzma allocates the dictionary the header asks for, whatever the output size. This caps
// it: enough for preset 9 (64 MiB dictionary), more only for chunks large enough to need it.
uint64_t DecoderMemLimit(size_t out_size) {
  return std::max<uint64_t>(uint64_t{96} << 20, 2 * static_cast<uint64_t>(out_size));
}

// One filter of a chain, with its options kept alive.
struct FilterSpec {
  lzma_vli id = LZMA_VLI_UNKNOWN;
  lzma_options_lzma lzma{};
  lzma_options_delta delta{};
  lzma_options_bcj bcj{};
};

struct LzmaStream {
  lzma_stream s = LZMA_STREAM_INIT;
  ~LzmaStream() { lzma_end(&s); }
};

class LzmaCodec final : public BytesToBytesCodec {
 public:
  LzmaCodec(int format, int check, std::optional<uint32_t> preset,
            std::vector<FilterSpec> filters, std::string describe)
      : format_(format),
        check_(check),
        preset_(preset),
        filters_(std::move(filters)),
        describe_(std::move(describe)) {}

  std::string_view name() const override { return "lzma"; }

  Result<std::optional<size_t>> DecodedSize(std::span<const std::byte>) const override {
    return std::optional<size_t>();
  }

  Result<size_t> Decode(std::span<const std::byte> in, std::span<std::byte> out) const override {
    // Like lzma.decompress: one stream after another until the input is used up; bytes after
    // a complete stream that are not a stream are ignored.
    size_t in_pos = 0;
    size_t out_pos = 0;
    bool first = true;
    while (first || in_pos < in.size()) {
      const size_t stream_out_start = out_pos;
      bool ignorable = false;
      Status s = DecodeStream(in, &in_pos, out, &out_pos, &ignorable);
      if (!s.ok()) {
        if (!first && ignorable) {
          out_pos = stream_out_start;
          break;
        }
        return s;
      }
      first = false;
    }
    return out_pos;
  }

  Result<Buffer> Encode(std::span<const std::byte> in) const override {
    LzmaStream stream;
    lzma_ret r = LZMA_OK;
    std::vector<lzma_filter> chain = FilterChain();
    const uint32_t preset = preset_.value_or(LZMA_PRESET_DEFAULT);
    const lzma_check check =
        check_ < 0 ? (format_ == kFormatXz ? LZMA_CHECK_CRC64 : LZMA_CHECK_NONE)
                   : static_cast<lzma_check>(check_);
    if (format_ == kFormatXz) {
      r = filters_.empty() ? lzma_easy_encoder(&stream.s, preset, check)
                           : lzma_stream_encoder(&stream.s, chain.data(), check);
    } else if (format_ == kFormatAlone) {
      lzma_options_lzma options{};
      if (filters_.empty()) {
        if (lzma_lzma_preset(&options, preset)) {
          return InvalidArgumentError(fmt::format("codec lzma: invalid preset {}", preset));
        }
      } else {
        options = filters_[0].lzma;
      }
      r = lzma_alone_encoder(&stream.s, &options);
    } else if (format_ == kFormatRaw) {
      r = lzma_raw_encoder(&stream.s, chain.data());
    } else {
      return InvalidArgumentError("codec lzma: format 0 (auto) can decode but not encode");
    }
    if (r != LZMA_OK) {
      return InvalidArgumentError(
          fmt::format("codec lzma: liblzma rejects the encoder options (error {})", int{r}));
    }
    // Incompressible data grows by a few bytes per 64 KiB block plus the headers.
    const size_t capacity = in.size() + in.size() / 64 + (size_t{64} << 10);
    LSIO_ASSIGN_OR_RETURN(Buffer out, DefaultBufferPool().Acquire(capacity));
    stream.s.next_in = reinterpret_cast<const uint8_t*>(in.data());
    stream.s.avail_in = in.size();
    stream.s.next_out = reinterpret_cast<uint8_t*>(out.mutable_data());
    stream.s.avail_out = capacity;
    r = lzma_code(&stream.s, LZMA_FINISH);
    if (r != LZMA_STREAM_END) {
      return InternalError(
          fmt::format("lzma: compression of {} bytes failed (error {})", in.size(), int{r}));
    }
    out.Truncate(capacity - stream.s.avail_out);
    return out;
  }

  std::string Describe() const override { return describe_; }

 private:
  std::vector<lzma_filter> FilterChain() const {
    std::vector<lzma_filter> chain;
    for (const FilterSpec& f : filters_) {
      void* options = nullptr;
      if (f.id == LZMA_FILTER_LZMA1 || f.id == LZMA_FILTER_LZMA2) {
        options = const_cast<lzma_options_lzma*>(&f.lzma);
      } else if (f.id == LZMA_FILTER_DELTA) {
        options = const_cast<lzma_options_delta*>(&f.delta);
      } else {
        options = const_cast<lzma_options_bcj*>(&f.bcj);
      }
      chain.push_back(lzma_filter{f.id, options});
    }
    chain.push_back(lzma_filter{LZMA_VLI_UNKNOWN, nullptr});
    return chain;
  }

  // `*not_a_stream` is set when the bytes are not a valid stream (as opposed to a stream that
  // decodes to too much or cannot be set up).
  Status DecodeStream(std::span<const std::byte> in, size_t* in_pos, std::span<std::byte> out,
                      size_t* out_pos, bool* not_a_stream) const {
    LzmaStream stream;
    const uint64_t memlimit = DecoderMemLimit(out.size());
    lzma_ret r = LZMA_OK;
    std::vector<lzma_filter> chain;
    switch (format_) {
      case kFormatAuto:
        r = lzma_auto_decoder(&stream.s, memlimit, 0);
        break;
      case kFormatXz:
        r = lzma_stream_decoder(&stream.s, memlimit, 0);
        break;
      case kFormatAlone:
        r = lzma_alone_decoder(&stream.s, memlimit);
        break;
      default:
        chain = FilterChain();
        if (lzma_raw_decoder_memusage(chain.data()) > memlimit) {
          return CorruptDataError("lzma: raw filter chain needs more memory than allowed");
        }
        r = lzma_raw_decoder(&stream.s, chain.data());
        break;
    }
    if (r != LZMA_OK) {
      return ResourceExhaustedError(
          fmt::format("lzma: cannot create a decoder (error {})", int{r}));
    }
    stream.s.next_in = reinterpret_cast<const uint8_t*>(in.data() + *in_pos);
    stream.s.avail_in = in.size() - *in_pos;
    stream.s.next_out = reinterpret_cast<uint8_t*>(out.data() + *out_pos);
    stream.s.avail_out = out.size() - *out_pos;
    uint8_t probe = 0;
    bool probing = false;
    while (true) {
      r = lzma_code(&stream.s, LZMA_FINISH);
      if (r == LZMA_STREAM_END && (!probing || stream.s.avail_out == 1)) break;
      if (probing && stream.s.avail_out == 0) {
        return CorruptDataError(
            fmt::format("lzma: data decodes to more than the {} bytes expected", out.size()));
      }
      if (r == LZMA_OK) continue;  // progress was made; go on
      if (r == LZMA_BUF_ERROR && stream.s.avail_out == 0 && !probing) {
        // liblzma may want output space before it reads the end of the stream: offer one
        // spare byte, which must stay unused.
        probing = true;
        stream.s.next_out = &probe;
        stream.s.avail_out = 1;
        continue;
      }
      if (r == LZMA_MEMLIMIT_ERROR) {
        return CorruptDataError(fmt::format(
            "lzma: stream needs more than {} MiB to decode a chunk of {} bytes", memlimit >> 20,
            out.size()));
      }
      *not_a_stream = true;
      return CorruptDataError(fmt::format("lzma: {} stream (liblzma error {}) of {} bytes",
                                          r == LZMA_BUF_ERROR ? "truncated" : "invalid", int{r},
                                          in.size()));
    }
    *in_pos = in.size() - stream.s.avail_in;
    *out_pos = probing ? out.size() : out.size() - stream.s.avail_out;
    return Status();
  }

  int format_;
  int check_;
  std::optional<uint32_t> preset_;
  std::vector<FilterSpec> filters_;
  std::string describe_;
};

Result<FilterSpec> ParseFilter(const ConfigReader& outer, const nlohmann::json& spec,
                               size_t index) {
  const std::string field = fmt::format("filters[{}]", index);
  if (!spec.is_object()) return outer.FieldError(field, "must be an object with an \"id\"");
  LSIO_ASSIGN_OR_RETURN(ConfigReader r, ConfigReader::Make("lzma", spec));
  const nlohmann::json* id = r.Get("id");
  if (id == nullptr || !id->is_number_integer()) {
    return outer.FieldError(field, "must have an integer \"id\" (an lzma.FILTER_* value)");
  }
  FilterSpec f;
  f.id = id->get<uint64_t>();
  auto sub = [&](std::string_view name) { return fmt::format("{}.{}", field, name); };
  auto read_int = [&](std::string_view name, int64_t fallback, int64_t min,
                      int64_t max) -> Result<int64_t> {
    Result<int64_t> v = r.Int(name, fallback, min, max);
    if (!v.ok()) return outer.FieldError(sub(name), v.status().message());
    return v;
  };
  if (f.id == LZMA_FILTER_LZMA1 || f.id == LZMA_FILTER_LZMA2) {
    LSIO_ASSIGN_OR_RETURN(int64_t preset, read_int("preset", LZMA_PRESET_DEFAULT, 0, UINT32_MAX));
    if (lzma_lzma_preset(&f.lzma, static_cast<uint32_t>(preset))) {
      return outer.FieldError(sub("preset"), fmt::format("is not a valid preset: {}", preset));
    }
    struct Option {
      std::string_view name;
      uint32_t* target;
    };
    uint32_t mode = f.lzma.mode, mf = f.lzma.mf;
    const Option options[] = {{"dict_size", &f.lzma.dict_size}, {"lc", &f.lzma.lc},
                              {"lp", &f.lzma.lp},               {"pb", &f.lzma.pb},
                              {"mode", &mode},                  {"nice_len", &f.lzma.nice_len},
                              {"mf", &mf},                      {"depth", &f.lzma.depth}};
    for (const Option& o : options) {
      LSIO_ASSIGN_OR_RETURN(int64_t v, read_int(o.name, *o.target, 0, UINT32_MAX));
      *o.target = static_cast<uint32_t>(v);
    }
    f.lzma.mode = static_cast<lzma_mode>(mode);
    f.lzma.mf = static_cast<lzma_match_finder>(mf);
  } else if (f.id == LZMA_FILTER_DELTA) {
    LSIO_ASSIGN_OR_RETURN(int64_t dist, read_int("dist", 1, LZMA_DELTA_DIST_MIN,
                                                 LZMA_DELTA_DIST_MAX));
    f.delta.type = LZMA_DELTA_TYPE_BYTE;
    f.delta.dist = static_cast<uint32_t>(dist);
  } else if (f.id == LZMA_FILTER_X86 || f.id == LZMA_FILTER_POWERPC || f.id == LZMA_FILTER_IA64 ||
             f.id == LZMA_FILTER_ARM || f.id == LZMA_FILTER_ARMTHUMB ||
             f.id == LZMA_FILTER_SPARC) {
    LSIO_ASSIGN_OR_RETURN(int64_t start, read_int("start_offset", 0, 0, UINT32_MAX));
    f.bcj.start_offset = static_cast<uint32_t>(start);
  } else {
    return outer.FieldError(sub("id"), fmt::format("is not an lzma filter lsio knows: {}",
                                                   id->dump()));
  }
  return f;
}

}  // namespace

Result<std::unique_ptr<BytesToBytesCodec>> MakeLzmaCodec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("lzma", config));
  LSIO_ASSIGN_OR_RETURN(int64_t format, reader.Int("format", kFormatXz, 0, 3));
  LSIO_ASSIGN_OR_RETURN(int64_t check, reader.Int("check", -1, -1, LZMA_CHECK_ID_MAX));
  LSIO_ASSIGN_OR_RETURN(std::optional<int64_t> preset,
                        reader.OptionalInt("preset", 0, int64_t{UINT32_MAX}));
  if (preset && (*preset & ~int64_t{LZMA_PRESET_EXTREME}) > 9) {
    return reader.FieldError(
        "preset", fmt::format("must be 0-9, optionally | PRESET_EXTREME, got {}", *preset));
  }
  std::vector<FilterSpec> filters;
  if (const nlohmann::json* list = reader.Get("filters")) {
    if (!list->is_array() || list->empty() || list->size() > LZMA_FILTERS_MAX) {
      return reader.FieldError("filters", "must be a list of 1 to 4 filter specifications");
    }
    for (size_t i = 0; i < list->size(); ++i) {
      LSIO_ASSIGN_OR_RETURN(FilterSpec f, ParseFilter(reader, (*list)[i], i));
      filters.push_back(f);
    }
    if (preset) return reader.FieldError("preset", "cannot be given together with filters");
  }
  if (format == kFormatRaw && filters.empty()) {
    return reader.FieldError("filters", "is required for format 3 (raw)");
  }
  if (format == kFormatAlone && !filters.empty() &&
      (filters.size() != 1 || filters[0].id != LZMA_FILTER_LZMA1)) {
    return reader.FieldError("filters", "must be a single LZMA1 filter for format 2 (alone)");
  }
  if (format != kFormatXz && format != kFormatAuto && check > 0) {
    return reader.FieldError("check", "must be -1 or 0 for the alone and raw formats");
  }
  std::string describe = fmt::format("lzma(format={}, check={}", format, check);
  if (preset) describe += fmt::format(", preset={}", *preset);
  if (!filters.empty()) describe += fmt::format(", filters={}", reader.Get("filters")->dump());
  describe += ")";
  std::optional<uint32_t> p;
  if (preset) p = static_cast<uint32_t>(*preset);
  return std::unique_ptr<BytesToBytesCodec>(new LzmaCodec(static_cast<int>(format),
                                                          static_cast<int>(check), p,
                                                          std::move(filters), std::move(describe)));
}

}  // namespace lsio::codec::internal
