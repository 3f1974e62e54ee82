// Decoding of the GRIB2 packings. Every formula copies ecCodes' (accessor/DataSimplePacking.cc,
// DataG22OrderPacking.cc, DataRawPacking.cc, DataJpeg2000Packing.cc + grib_openjpeg_encoding.cc,
// DataPngPacking.cc, DataCcsdsPacking.cc, DataRunLengthPacking.cc, DataApplyBitmap.cc) down to
// the order of the floating-point operations, because bit-for-bit equality with its doubles is
// the contract; where ecCodes reads past its buffers on malformed input, this returns an
// error instead.

#include "lsio/format/grib/decode.h"

#include <libaec.h>
#include <openjpeg.h>
#include <spng.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "bits.h"
#include "ieee.h"

namespace lsio::grib {

struct DecodeScratch::Buffers {
  std::vector<int64_t> ints;
  std::vector<uint8_t> bytes;
  std::vector<float> floats;
  std::vector<double> doubles;
  template <typename T>
  std::vector<T>& values() {
    if constexpr (std::is_same_v<T, float>) {
      return floats;
    } else {
      return doubles;
    }
  }
};

DecodeScratch::DecodeScratch() : buffers_(std::make_unique<Buffers>()) {}
DecodeScratch::~DecodeScratch() = default;

namespace {

using internal::BitReader;
using internal::EccodesPower;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Resizes without caring about the old contents (the decoder overwrites everything it reads).
template <typename V>
void Reserve(V& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

std::string Num(uint64_t v) { return std::to_string(v); }

// The data octets of section 7 (after its 5-byte header).
struct DataBytes {
  const uint8_t* p;
  size_t size;
};

template <typename T>
void Fill(std::span<T> out, double value) {
  std::fill(out.begin(), out.end(), static_cast<T>(value));
}

// ---------------------------------------------------------------------------------- 5.0

template <typename T>
Status DecodeSimple(const DataRepresentation& d, DataBytes data, std::span<T> out) {
  const size_t n = out.size();
  if (n == 0) return Status::OK();
  if (d.bits_per_value == 0) {
    Fill(out, d.reference_value);
    return Status::OK();
  }
  if (d.bits_per_value > 64) {
    return NotSupportedError("simple packing with " + Num(d.bits_per_value) + " bits per value");
  }
  const unsigned bpv = d.bits_per_value;
  const uint64_t need = (uint64_t{bpv} * n + 7) / 8;
  if (need > data.size) {
    return CorruptDataError("data section has " + Num(data.size) + " bytes, " + Num(n) +
                            " values of " + Num(bpv) + " bits need " + Num(need));
  }
  const double s = EccodesPower(d.binary_scale_factor, 2);
  const double dd = EccodesPower(-d.decimal_scale_factor, 10);
  const double r = d.reference_value;
  internal::UnpackScaled(data.p, data.size, bpv, n, s, r, dd, out.data());
  return Status::OK();
}

// ------------------------------------------------------------------------------- 5.2, 5.3

template <typename T>
Status DecodeComplex(const DataRepresentation& d, DataBytes data, std::span<T> out,
                     DecodeScratch::Buffers& scratch) {
  const size_t n_vals = out.size();
  if (n_vals == 0) return Status::OK();
  // ECC-2095: a constant field is coded with no groups; every value is R (no 10^-D).
  if (d.number_of_groups == 0) {
    Fill(out, d.reference_value);
    return Status::OK();
  }
  const unsigned order = d.order_of_spatial_differencing;
  if (order != 0 && order != 1 && order != 2) {
    return NotSupportedError("complex packing with spatial differencing of order " + Num(order));
  }
  if (d.bits_per_value > 64 || d.group_width_bits > 64 || d.group_length_bits > 64) {
    return CorruptDataError("complex packing field widths beyond 64 bits");
  }
  const unsigned bpv = d.bits_per_value;
  const uint64_t ng = d.number_of_groups;
  if (ng > n_vals) {
    return CorruptDataError("complex packing: " + Num(ng) + " groups for " + Num(n_vals) +
                            " values");
  }
  const uint64_t extra_bits = order ? uint64_t{order + 1} * d.extra_descriptor_octets * 8 : 0;
  const uint64_t data_bits = uint64_t{data.size} * 8;
  auto bytes_for = [](uint64_t bits) { return (bits + 7) / 8; };
  // Layout: [extras + group references][group widths][group lengths][values], each part
  // starting on a byte boundary.
  const uint64_t ref_bytes = bytes_for(ng * bpv + extra_bits);
  const uint64_t width_bytes = bytes_for(ng * d.group_width_bits);
  const uint64_t length_bytes = bytes_for(ng * d.group_length_bits);
  const uint64_t header_bytes = ref_bytes + width_bytes + length_bytes;
  if (header_bytes > data.size) {
    return CorruptDataError("data section has " + Num(data.size) + " bytes, the descriptors of " +
                            Num(ng) + " groups need " + Num(header_bytes));
  }
  const uint8_t* buf_ref = data.p;
  const uint8_t* buf_width = buf_ref + ref_bytes;
  const uint8_t* buf_length = buf_width + width_bytes;
  const uint8_t* buf_vals = buf_length + length_bytes;
  const uint64_t vals_bits = data_bits - header_bytes * 8;

  Reserve(scratch.ints, n_vals);
  int64_t* sec_val = scratch.ints.data();
  std::fill(sec_val, sec_val + n_vals, 0);  // SUP-718: values past the last group stay 0

  BitReader refs(buf_ref, ref_bytes, extra_bits);
  BitReader widths(buf_width, width_bytes);
  BitReader lengths(buf_length, length_bytes);
  BitReader vals(buf_vals, data.size - header_bytes);
  const unsigned mvm = d.missing_value_management;
  if (mvm > 2) {
    return NotSupportedError("complex packing with missing value management " + Num(mvm));
  }
  const int64_t kMissingMark = LONG_MAX;
  const uint64_t max_ref = bpv >= 64 ? ~uint64_t{0} : (uint64_t{1} << bpv) - 1;
  uint64_t vcount = 0;
  for (uint64_t g = 0; g < ng; ++g) {
    const uint64_t group_ref = refs.Read(bpv);
    uint64_t nvals_in_group = lengths.Read(d.group_length_bits);
    const uint64_t width = widths.Read(d.group_width_bits) + d.group_width_reference;
    nvals_in_group = nvals_in_group * d.group_length_increment + d.group_length_reference;
    if (g == ng - 1) nvals_in_group = d.true_length_of_last_group;
    if (nvals_in_group > n_vals - vcount) {
      return CorruptDataError("complex packing: group " + Num(g) + " of " + Num(ng) + " has " +
                              Num(nvals_in_group) + " values, more than the " +
                              Num(n_vals - vcount) + " left of the " + Num(n_vals) + " declared");
    }
    if (width > 64) {
      return CorruptDataError("complex packing: group " + Num(g) + " has values of " +
                              Num(width) + " bits");
    }
    if (nvals_in_group * width > vals_bits - vals.position()) {
      return CorruptDataError("complex packing: the values of group " + Num(g) + " run past the "
                              "end of the data section");
    }
    int64_t* dst = sec_val + vcount;
    const unsigned w = static_cast<unsigned>(width);
    if (mvm == 0) {
      vals.ReadAdd(w, nvals_in_group, group_ref, dst);
    } else {
      const uint64_t max_width = w >= 64 ? ~uint64_t{0} : (uint64_t{1} << w) - 1;
      for (uint64_t j = 0; j < nvals_in_group; ++j) {
        if (w == 0) {
          if (group_ref == max_ref || (mvm == 2 && group_ref == max_ref - 1)) {
            dst[j] = kMissingMark;
          } else {
            dst[j] = static_cast<int64_t>(group_ref);
          }
        } else {
          const uint64_t temp = vals.Read(w);
          if (temp == max_width || (mvm == 2 && temp == max_width - 1)) {
            dst[j] = kMissingMark;
          } else {
            dst[j] = static_cast<int64_t>(group_ref + temp);
          }
        }
      }
    }
    vcount += nvals_in_group;
  }

  if (order) {
    // Extras (the first 1 or 2 original values) and the overall minimum, at the start of the
    // reference area; the minimum is sign and magnitude.
    BitReader extras_reader(buf_ref, ref_bytes);
    const unsigned bits = d.extra_descriptor_octets * 8u;
    uint64_t extras[2] = {0, 0};
    auto read_wide = [&](unsigned nbits, uint64_t* value) -> Status {
      // ecCodes reads more than 64 bits as leading zero words.
      while (nbits > 64) {
        const unsigned chunk = nbits % 64 ? nbits % 64 : 64;
        if (extras_reader.Read(chunk) != 0) {
          return CorruptDataError("complex packing: extra descriptor wider than 64 bits");
        }
        nbits -= chunk;
      }
      *value = extras_reader.Read(nbits);
      return Status::OK();
    };
    for (unsigned i = 0; i < order; ++i) LSIO_RETURN_IF_ERROR(read_wide(bits, &extras[i]));
    int64_t bias = 0;
    if (bits > 0) {
      const bool negative = extras_reader.Read(1) != 0;
      uint64_t magnitude = 0;
      LSIO_RETURN_IF_ERROR(read_wide(bits - 1, &magnitude));
      bias = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
    }
    // ecCodes' post_process, in unsigned arithmetic (it mixes unsigned long and long; the
    // results are the same bits).
    const uint64_t ubias = static_cast<uint64_t>(bias);
    size_t j = 0;
    if (order == 1) {
      uint64_t last = extras[0];
      while (j < n_vals) {
        if (sec_val[j] == kMissingMark) {
          j++;
        } else {
          sec_val[j++] = static_cast<int64_t>(extras[0]);
          break;
        }
      }
      for (; j < n_vals; ++j) {
        if (sec_val[j] != kMissingMark) {
          const uint64_t v = static_cast<uint64_t>(sec_val[j]) + last + ubias;
          sec_val[j] = static_cast<int64_t>(v);
          last = v;
        }
      }
    } else {
      uint64_t penultimate = extras[0];
      uint64_t last = extras[1];
      while (j < n_vals) {
        if (sec_val[j] == kMissingMark) {
          j++;
        } else {
          sec_val[j++] = static_cast<int64_t>(extras[0]);
          break;
        }
      }
      while (j < n_vals) {
        if (sec_val[j] == kMissingMark) {
          j++;
        } else {
          sec_val[j++] = static_cast<int64_t>(extras[1]);
          break;
        }
      }
      for (; j < n_vals; ++j) {
        if (sec_val[j] != kMissingMark) {
          const uint64_t v = static_cast<uint64_t>(sec_val[j]) + ubias + last + last - penultimate;
          sec_val[j] = static_cast<int64_t>(v);
          penultimate = last;
          last = v;
        }
      }
    }
  }

  const double bs = EccodesPower(d.binary_scale_factor, 2);
  const double ds = EccodesPower(-d.decimal_scale_factor, 10);
  const double r = d.reference_value;
  T* o = out.data();
  if (mvm == 0) {
    for (size_t i = 0; i < n_vals; ++i) {
      o[i] = static_cast<T>((static_cast<double>(sec_val[i]) * bs + r) * ds);
    }
  } else {
    for (size_t i = 0; i < n_vals; ++i) {
      o[i] = sec_val[i] == kMissingMark
                 ? static_cast<T>(kNaN)
                 : static_cast<T>((static_cast<double>(sec_val[i]) * bs + r) * ds);
    }
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------- 5.4

template <typename T>
Status DecodeIeee(const DataRepresentation& d, DataBytes data, std::span<T> out) {
  const size_t n = out.size();
  const size_t width = d.precision == 1 ? 4 : d.precision == 2 ? 8 : 0;
  if (width == 0) {
    return NotSupportedError("IEEE packing with precision " + Num(d.precision) +
                             " (1 = 32 bit and 2 = 64 bit are supported)");
  }
  if (uint64_t{n} * width > data.size) {
    return CorruptDataError("data section has " + Num(data.size) + " bytes, " + Num(n) +
                            " IEEE values need " + Num(uint64_t{n} * width));
  }
  const uint8_t* p = data.p;
  if (width == 4) {
    for (size_t i = 0; i < n; ++i) {
      uint32_t u;
      std::memcpy(&u, p + 4 * i, 4);
      out[i] = static_cast<T>(static_cast<double>(std::bit_cast<float>(__builtin_bswap32(u))));
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      uint64_t u;
      std::memcpy(&u, p + 8 * i, 8);
      out[i] = static_cast<T>(std::bit_cast<double>(__builtin_bswap64(u)));
    }
  }
  return Status::OK();
}

// --------------------------------------------------------------------------------- 5.40

struct J2kMemory {
  const uint8_t* data;
  size_t size;
  size_t pos;
};

OPJ_SIZE_T J2kRead(void* buffer, OPJ_SIZE_T n, void* user) {
  auto* m = static_cast<J2kMemory*>(user);
  if (m->pos >= m->size) return static_cast<OPJ_SIZE_T>(-1);
  const size_t take = std::min<size_t>(n, m->size - m->pos);
  std::memcpy(buffer, m->data + m->pos, take);
  m->pos += take;
  return take;
}
OPJ_OFF_T J2kSkip(OPJ_OFF_T n, void* user) {
  auto* m = static_cast<J2kMemory*>(user);
  if (n < 0) {
    const size_t back = static_cast<size_t>(-n);
    if (back > m->pos) return -1;
    m->pos -= back;
    return n;
  }
  const size_t fwd = std::min<size_t>(static_cast<size_t>(n), m->size - m->pos);
  m->pos += fwd;
  return static_cast<OPJ_OFF_T>(fwd);
}
OPJ_BOOL J2kSeek(OPJ_OFF_T pos, void* user) {
  auto* m = static_cast<J2kMemory*>(user);
  if (pos < 0 || static_cast<uint64_t>(pos) > m->size) return OPJ_FALSE;
  m->pos = static_cast<size_t>(pos);
  return OPJ_TRUE;
}
void J2kMessage(const char* msg, void* user) {
  auto* last = static_cast<std::string*>(user);
  *last = msg;
  while (!last->empty() && (last->back() == '\n' || last->back() == ' ')) last->pop_back();
}

template <typename T>
Status DecodeJpeg2000(const DataRepresentation& d, DataBytes data, std::span<T> out) {
  const size_t n = out.size();
  if (d.bits_per_value == 0) {
    Fill(out, d.reference_value);
    return Status::OK();
  }
  if (n == 0) return Status::OK();
  J2kMemory memory{data.p, data.size, 0};
  std::string last_error;
  opj_stream_t* stream = opj_stream_create(1 << 16, OPJ_TRUE);
  opj_codec_t* codec = opj_create_decompress(OPJ_CODEC_J2K);
  opj_image_t* image = nullptr;
  auto cleanup = [&]() {
    if (image) opj_image_destroy(image);
    if (codec) opj_destroy_codec(codec);
    if (stream) opj_stream_destroy(stream);
  };
  auto fail = [&](const std::string& what) {
    cleanup();
    return CorruptDataError("JPEG 2000: " + what + (last_error.empty() ? "" : ": " + last_error));
  };
  if (!stream || !codec) {
    cleanup();
    return ResourceExhaustedError("JPEG 2000: cannot create the decoder");
  }
  opj_stream_set_user_data(stream, &memory, nullptr);
  opj_stream_set_user_data_length(stream, data.size);
  opj_stream_set_read_function(stream, J2kRead);
  opj_stream_set_skip_function(stream, J2kSkip);
  opj_stream_set_seek_function(stream, J2kSeek);
  opj_set_error_handler(codec, J2kMessage, &last_error);
  opj_set_warning_handler(codec, [](const char*, void*) {}, nullptr);
  opj_set_info_handler(codec, [](const char*, void*) {}, nullptr);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  if (!opj_setup_decoder(codec, &params)) return fail("cannot set up the decoder");
  if (!opj_read_header(stream, codec, &image) || image == nullptr) {
    return fail("cannot read the codestream header");
  }
  // Check the image against the field before decoding, so that a header claiming a huge image
  // allocates nothing.
  const uint64_t w = image->x1 > image->x0 ? image->x1 - image->x0 : 0;
  const uint64_t h = image->y1 > image->y0 ? image->y1 - image->y0 : 0;
  if (image->numcomps != 1 || w * h != n) {
    const std::string what = "the codestream holds " + Num(image->numcomps) + " component(s) of " +
                             Num(w) + "x" + Num(h) + " samples, the field has " + Num(n) +
                             " values";
    return fail(what);
  }
  if (!opj_decode(codec, stream, image)) return fail("cannot decode the codestream");
  if (!opj_end_decompress(codec, stream)) return fail("cannot finish decoding");
  const opj_image_comp_t& comp = image->comps[0];
  if (comp.data == nullptr || uint64_t{comp.w} * comp.h != n || comp.sgnd || comp.prec > 31) {
    return fail("unexpected decoded component (" + Num(comp.w) + "x" + Num(comp.h) + ", " +
                Num(comp.prec) + " bits" + (comp.sgnd ? ", signed" : "") + ")");
  }
  const double bscale = EccodesPower(d.binary_scale_factor, 2);
  const double dscale = EccodesPower(-d.decimal_scale_factor, 10);
  const double r = d.reference_value;
  const uint32_t mask = static_cast<uint32_t>((uint64_t{1} << comp.prec) - 1);
  const OPJ_INT32* v = comp.data;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t x = static_cast<uint32_t>(v[i]) & mask;
    out[i] = static_cast<T>((static_cast<double>(x) * bscale + r) * dscale);
  }
  cleanup();
  return Status::OK();
}

// --------------------------------------------------------------------------------- 5.41

template <typename T>
Status DecodePng(const DataRepresentation& d, DataBytes data, std::span<T> out,
                 DecodeScratch::Buffers& scratch) {
  const size_t n = out.size();
  if (d.bits_per_value == 0) {
    Fill(out, d.reference_value);
    return Status::OK();
  }
  if (n == 0) return Status::OK();
  spng_ctx* ctx = spng_ctx_new(0);
  if (ctx == nullptr) return ResourceExhaustedError("PNG: cannot create the decoder");
  struct Free {
    spng_ctx* c;
    ~Free() { spng_ctx_free(c); }
  } free_ctx{ctx};
  auto fail = [&](const std::string& what, int err) {
    return CorruptDataError("PNG: " + what + (err ? std::string(": ") + spng_strerror(err) : ""));
  };
  int err = spng_set_png_buffer(ctx, data.p, data.size);
  if (err) return fail("cannot read the stream", err);
  spng_ihdr ihdr;
  err = spng_get_ihdr(ctx, &ihdr);
  if (err) return fail("cannot read the header", err);
  if (uint64_t{ihdr.width} * ihdr.height != n) {
    return fail("the image is " + Num(ihdr.width) + "x" + Num(ihdr.height) + ", the field has " +
                    Num(n) + " values",
                0);
  }
  unsigned channels = 0;
  switch (ihdr.color_type) {
    case SPNG_COLOR_TYPE_GRAYSCALE: channels = 1; break;
    case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA: channels = 2; break;
    case SPNG_COLOR_TYPE_TRUECOLOR: channels = 3; break;
    case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA: channels = 4; break;
    default: return fail("indexed-colour images are not GRIB data", 0);
  }
  // Each pixel is one big-endian unsigned number of depth * channels bits. ecCodes reads
  // ((bitsPerValue + 7) / 8) * 8 bits per pixel and only supports multiples of 8, where the two
  // agree.
  const unsigned pixel_bits = ihdr.bit_depth * channels;
  if (pixel_bits > 64) return fail("pixels of " + Num(pixel_bits) + " bits", 0);
  size_t image_size = 0;
  err = spng_decoded_image_size(ctx, SPNG_FMT_RAW, &image_size);
  if (err) return fail("cannot size the image", err);
  Reserve(scratch.bytes, image_size);
  err = spng_decode_image(ctx, scratch.bytes.data(), image_size, SPNG_FMT_RAW, 0);
  if (err) return fail("cannot decode the image", err);
  const double bscale = EccodesPower(d.binary_scale_factor, 2);
  const double dscale = EccodesPower(-d.decimal_scale_factor, 10);
  const double r = d.reference_value;
  const size_t row_bytes = (size_t{ihdr.width} * pixel_bits + 7) / 8;
  if (row_bytes * ihdr.height > image_size) return fail("decoded image smaller than expected", 0);
  T* o = out.data();
  for (uint32_t y = 0; y < ihdr.height; ++y) {
    const uint8_t* row = scratch.bytes.data() + size_t{y} * row_bytes;
    internal::UnpackScaled(row, row_bytes, pixel_bits, ihdr.width, bscale, r, dscale,
                           o + size_t{y} * ihdr.width);
  }
  return Status::OK();
}

// --------------------------------------------------------------------------------- 5.42

template <typename T>
Status DecodeCcsds(const DataRepresentation& d, DataBytes data, std::span<T> out) {
  const size_t n = out.size();
  if (d.bits_per_value == 0) {
    Fill(out, d.reference_value);
    return Status::OK();
  }
  if (n == 0) return Status::OK();
  if (d.bits_per_value > 32) {
    return NotSupportedError("CCSDS packing with " + Num(d.bits_per_value) + " bits per value");
  }
  // libaec 1.0.6 divides by these without checking them (a zero RSI is a SIGFPE).
  const unsigned bs = d.ccsds_block_size;
  if ((bs != 8 && bs != 16 && bs != 32 && bs != 64) || d.ccsds_rsi == 0 ||
      d.ccsds_rsi > 4096) {
    return CorruptDataError("CCSDS packing with block size " + Num(bs) + " and RSI " +
                            Num(d.ccsds_rsi) + " (block size 8, 16, 32 or 64 and RSI 1-4096)");
  }
  size_t nbytes = (d.bits_per_value + 7u) / 8u;
  if (nbytes == 3) nbytes = 4;
  // libaec writes native-endian samples of nbytes; decode them straight into the output
  // array's memory (nbytes <= sizeof(T)) and widen in place from the end.
  static_assert(sizeof(T) >= 4);
  aec_stream strm;
  std::memset(&strm, 0, sizeof(strm));
  unsigned flags = d.ccsds_flags;
  flags &= ~static_cast<unsigned>(AEC_DATA_3BYTE);
  flags &= ~static_cast<unsigned>(AEC_DATA_MSB);
  strm.flags = flags;
  strm.bits_per_sample = d.bits_per_value;
  strm.block_size = d.ccsds_block_size;
  strm.rsi = d.ccsds_rsi;
  strm.next_in = data.p;
  strm.avail_in = data.size;
  auto* raw = reinterpret_cast<unsigned char*>(out.data());
  strm.next_out = raw;
  strm.avail_out = n * nbytes;
  const int rc = aec_buffer_decode(&strm);
  if (rc != AEC_OK) {
    const char* what = rc == AEC_CONF_ERROR    ? "bad configuration"
                       : rc == AEC_DATA_ERROR  ? "corrupt stream"
                       : rc == AEC_MEM_ERROR   ? "out of memory"
                       : rc == AEC_STREAM_ERROR ? "stream error"
                                                : "error";
    return CorruptDataError("CCSDS (libaec): " + std::string(what) + " (flags " + Num(flags) +
                            ", block size " + Num(d.ccsds_block_size) + ", rsi " +
                            Num(d.ccsds_rsi) + ", " + Num(d.bits_per_value) + " bits)");
  }
  if (strm.total_out != n * nbytes) {
    return CorruptDataError("CCSDS (libaec): decoded " + Num(strm.total_out) + " bytes, " +
                            Num(n) + " values need " + Num(n * nbytes));
  }
  const double bscale = EccodesPower(d.binary_scale_factor, 2);
  const double dscale = EccodesPower(-d.decimal_scale_factor, 10);
  const double r = d.reference_value;
  T* o = out.data();
  auto widen = [&](auto sample_type) {
    using S = decltype(sample_type);
    for (size_t i = n; i-- > 0;) {
      S v;
      std::memcpy(&v, raw + i * sizeof(S), sizeof(S));
      o[i] = static_cast<T>((static_cast<double>(v) * bscale + r) * dscale);
    }
  };
  if (nbytes == 1) {
    widen(uint8_t{});
  } else if (nbytes == 2) {
    widen(uint16_t{});
  } else {
    widen(uint32_t{});
  }
  return Status::OK();
}

// -------------------------------------------------------------------------------- 5.200

template <typename T>
Status DecodeRunLength(std::span<const std::byte> message, const DataRepresentation& d,
                       const Section& data_section, DataBytes data, std::span<T> out,
                       DecodeScratch::Buffers& scratch) {
  const size_t n = out.size();
  const unsigned bpv = d.bits_per_value;
  if (bpv == 0 || bpv > 31) {
    return CorruptDataError("run-length packing with " + Num(bpv) + " bits per value");
  }
  const uint64_t number_of_compressed = (uint64_t{data_section.length - 5} * 8) / bpv;
  if (number_of_compressed == 0 || d.max_level_value == 0) {
    Fill(out, kNaN);
    return Status::OK();
  }
  const int64_t mv = d.max_level_value;
  const int64_t range = (int64_t{1} << bpv) - 1 - mv;
  if (d.number_of_level_values == 0 || mv > d.number_of_level_values || range <= 0) {
    return CorruptDataError("run-length packing: max level value " + Num(d.max_level_value) +
                            ", " + Num(d.number_of_level_values) + " level values, " +
                            Num(bpv) + " bits");
  }
  int64_t dsf = d.decimal_scale_factor;
  if (dsf > 127) dsf = -(dsf - 128);
  const double level_scale = EccodesPower(-dsf, 10);
  // levels[0] is the missing value; levels[i] the i-th level value scaled.
  std::vector<double>& levels = scratch.doubles;
  Reserve(levels, size_t{d.number_of_level_values} + 1);
  levels[0] = kNaN;
  for (size_t i = 0; i < d.number_of_level_values; ++i) {
    const std::byte* p = message.data() + d.level_values_offset + 2 * i;
    const int64_t lv = (static_cast<int64_t>(p[0]) << 8) | static_cast<int64_t>(p[1]);
    levels[i + 1] = static_cast<double>(lv) * level_scale;
  }
  BitReader reader(data.p, data.size);
  uint64_t i = 0;
  size_t j = 0;
  while (i < number_of_compressed) {
    const int64_t v = static_cast<int64_t>(reader.Read(bpv));
    i++;
    if (v > mv) {
      return CorruptDataError("run-length packing: a run length (" + Num(v) +
                              ") where a level is expected, at value " + Num(i - 1));
    }
    uint64_t run = 1, factor = 1;
    while (i < number_of_compressed) {
      const uint64_t save = reader.position();
      const int64_t next = static_cast<int64_t>(reader.Read(bpv));
      if (next <= mv) {
        reader.Seek(save);
        break;
      }
      run += factor * static_cast<uint64_t>(next - mv - 1);
      factor *= static_cast<uint64_t>(range);
      i++;
      if (run > n || factor > (uint64_t{1} << 40)) break;
    }
    if (run > n - j) {
      return CorruptDataError("run-length packing: runs add up to more than the " + Num(n) +
                              " values declared");
    }
    const T value = static_cast<T>(levels[v]);
    std::fill(out.data() + j, out.data() + j + run, value);
    j += run;
  }
  if (j != n) {
    return CorruptDataError("run-length packing: runs add up to " + Num(j) + " values, " +
                            Num(n) + " declared");
  }
  return Status::OK();
}

// ------------------------------------------------------------------------------- driver

template <typename T>
Status DecodeCoded(std::span<const std::byte> message, const Field& field, std::span<T> coded,
                   DecodeScratch::Buffers& scratch) {
  const DataRepresentation& d = field.data_representation;
  const Section& ds = field.data_section;
  const DataBytes data{reinterpret_cast<const uint8_t*>(message.data()) + ds.offset + 5,
                       ds.length - 5u};
  switch (d.template_number) {
    case 0: return DecodeSimple(d, data, coded);
    case 2:
    case 3: return DecodeComplex(d, data, coded, scratch);
    case 4: return DecodeIeee(d, data, coded);
    case 40: return DecodeJpeg2000(d, data, coded);
    case 41: return DecodePng(d, data, coded, scratch);
    case 42: return DecodeCcsds(d, data, coded);
    case 200: return DecodeRunLength(message, d, ds, data, coded, scratch);
    default:
      return NotSupportedError("data representation template 5." + Num(d.template_number));
  }
}

template <typename T>
Status DecodeImpl(std::span<const std::byte> bytes, const Message& message, size_t field_index,
                  std::span<T> out, DecodeScratch& scratch) {
  auto where = [&]() {
    return DescribeMessage({message.index, message.offset}) + ", field " + Num(field_index);
  };
  if (field_index >= message.fields.size()) {
    return InvalidArgumentError(where() + ": the message has " + Num(message.fields.size()) +
                                " field(s)");
  }
  if (bytes.size() < message.length) {
    return InvalidArgumentError(where() + ": " + Num(bytes.size()) +
                                " bytes given for a message of " + Num(message.length));
  }
  const std::span<const std::byte> msg = bytes.first(message.length);
  const Field& field = message.fields[field_index];
  const size_t n_points = FieldValueCount(field);
  if (out.size() != n_points) {
    return InvalidArgumentError(where() + ": output has " + Num(out.size()) +
                                " values, the grid has " + Num(n_points) + " points");
  }
  const DataRepresentation& d = field.data_representation;
  if (!d.template_supported) {
    return NotSupportedError(where() + ": data representation template 5." +
                             Num(d.template_number) + " is not supported");
  }
  if (field.applied_bitmap_indicator != 0 && field.applied_bitmap_indicator != 255) {
    return NotSupportedError(where() + ": predefined bitmap " +
                             Num(field.applied_bitmap_indicator) +
                             " (section 6) is not supported");
  }
  const size_t n_coded = d.number_of_values;
  Status st;
  if (!field.has_bitmap) {
    if (n_coded != n_points) {
      return CorruptDataError(where() + ": section 5 declares " + Num(n_coded) +
                              " values, the grid has " + Num(n_points) +
                              " points and there is no bitmap");
    }
    st = DecodeCoded(msg, field, out, scratch.buffers());
    return st.ok() ? st : st.WithContext(where());
  }

  // With a bitmap: the coded values are the points whose bit is set, in order.
  if (uint64_t{field.bitmap_bytes} * 8 < n_points) {
    return CorruptDataError(where() + ": the bitmap has " + Num(uint64_t{field.bitmap_bytes} * 8) +
                            " bits, the grid has " + Num(n_points) + " points");
  }
  if (n_coded > n_points) {
    return CorruptDataError(where() + ": section 5 declares " + Num(n_coded) +
                            " values, more than the " + Num(n_points) + " grid points");
  }
  const auto* bitmap = reinterpret_cast<const uint8_t*>(msg.data()) + field.bitmap_offset;
  const size_t present = internal::CountBits(bitmap, n_points);
  if (present > n_coded) {
    return CorruptDataError(where() + ": the bitmap has " + Num(present) +
                            " points present, section 5 declares only " + Num(n_coded) +
                            " coded values");
  }
  std::span<T> coded;
  if (present == n_coded) {
    // Decode into the tail of `out`, then spread forward: the write position never passes
    // the read position.
    coded = out.subspan(n_points - n_coded);
  } else {
    // More coded values than present points (ecCodes ignores the extra ones).
    auto& tmp = scratch.buffers().values<T>();
    Reserve(tmp, n_coded);
    coded = std::span<T>(tmp.data(), n_coded);
  }
  st = DecodeCoded(msg, field, coded, scratch.buffers());
  if (!st.ok()) return st.WithContext(where());
  internal::ExpandBitmap(bitmap, n_points, coded.data(), out.data(), static_cast<T>(kNaN));
  return Status::OK();
}

}  // namespace

Status DecodeField(std::span<const std::byte> bytes, const Message& message, size_t field_index,
                   std::span<float> out, DecodeScratch& scratch) {
  return DecodeImpl(bytes, message, field_index, out, scratch);
}

Status DecodeField(std::span<const std::byte> bytes, const Message& message, size_t field_index,
                   std::span<double> out, DecodeScratch& scratch) {
  return DecodeImpl(bytes, message, field_index, out, scratch);
}

}  // namespace lsio::grib
