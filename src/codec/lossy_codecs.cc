// The lossy numcodecs filters, bitround and quantize, whose decoding is the identity (unless
// quantize stores another float type), and astype.

#include <cmath>
#include <nlohmann/json.hpp>

#include "builtin.h"
#include "numcodecs_filter.h"

namespace lsio::codec::internal {

namespace {

int MantissaBits(DataType t) {
  switch (t) {
    case DataType::kFloat16:
      return 10;
    case DataType::kFloat32:
      return 23;
    case DataType::kFloat64:
      return 52;
    default:
      return -1;
  }
}

// numcodecs' BitRound (Klöwer et al. 2021): round the mantissa to `keepbits` bits, to
// nearest with ties to even, on the float's bits as an integer of the same width.
class BitRoundCodec final : public ArrayToArrayCodec {
 public:
  explicit BitRoundCodec(int keepbits) : keepbits_(keepbits) {}

  std::string_view name() const override { return "bitround"; }

  Result<ArraySpec> EncodedSpec(const ArraySpec& decoded) const override {
    const int bits = MantissaBits(decoded.dtype);
    if (bits < 0) {
      return InvalidArgumentError(fmt::format(
          "codec bitround: only float16/32/64 arrays can be bit-rounded, not {}",
          DataTypeName(decoded.dtype)));
    }
    if (keepbits_ > bits) {
      return InvalidArgumentError(fmt::format(
          "codec bitround: field 'keepbits' is {} but {} has {} mantissa bits", keepbits_,
          DataTypeName(decoded.dtype), bits));
    }
    return decoded;
  }

  Status Decode(std::span<const std::byte> in, const ArraySpec& decoded,
                std::span<std::byte> out) const override {
    LSIO_RETURN_IF_ERROR(CheckSizes(in, out, decoded));
    if (!in.empty() && in.data() != out.data()) std::memcpy(out.data(), in.data(), in.size());
    return Status();
  }

  Status Encode(std::span<const std::byte> in, const ArraySpec& decoded,
                std::span<std::byte> out) const override {
    LSIO_RETURN_IF_ERROR(CheckSizes(in, out, decoded));
    LSIO_RETURN_IF_ERROR(EncodedSpec(decoded).status());
    const int maskbits = MantissaBits(decoded.dtype) - keepbits_;
    const size_t n = static_cast<size_t>(decoded.num_elements());
    auto round = [&]<typename U>(U) {
      for (size_t i = 0; i < n; ++i) {
        U b = LoadElem<U>(in.data() + i * sizeof(U));
        if (maskbits > 0) {
          const U mask = static_cast<U>(~((U{1} << maskbits) - 1));
          const U half_quantum1 = static_cast<U>((U{1} << (maskbits - 1)) - 1);
          b = static_cast<U>(b + ((b >> maskbits) & U{1}) + half_quantum1);
          b = static_cast<U>(b & mask);
        }
        StoreElem<U>(out.data() + i * sizeof(U), b);
      }
    };
    switch (ByteWidth(decoded.dtype)) {
      case 2:
        round(uint16_t{});
        break;
      case 4:
        round(uint32_t{});
        break;
      default:
        round(uint64_t{});
        break;
    }
    return Status();
  }

  bool decode_is_identity() const override { return true; }
  std::string Describe() const override { return fmt::format("bitround(keepbits={})", keepbits_); }

 private:
  static Status CheckSizes(std::span<const std::byte> in, std::span<std::byte> out,
                           const ArraySpec& decoded) {
    if (in.size() != decoded.num_bytes() || out.size() != decoded.num_bytes()) {
      return InvalidArgumentError(fmt::format("codec bitround: {} bytes in, {} out for a {} chunk",
                                              in.size(), out.size(), decoded.ToString()));
    }
    return Status();
  }
  int keepbits_;
};

// Elementwise numpy casts between two real types (astype, and quantize's decode).
Status CastArray(std::span<const std::byte> in, DataType from, std::span<std::byte> out,
                 DataType to, size_t n) {
  VisitRealPair(to, from, [&](auto d, auto e) {
    using D = decltype(d);
    using E = decltype(e);
    for (size_t i = 0; i < n; ++i) {
      const E x = LoadElem<E>(in.data() + i * sizeof(E));
      StoreElem<D>(out.data() + i * sizeof(D), NumpyCast<D>(x));
    }
  });
  return Status();
}

// numcodecs' Quantize: keep `digits` decimal digits by rounding to a power-of-two grid.
class QuantizeCodec final : public NumcodecsFilter {
 public:
  QuantizeCodec(int digits, std::optional<NumpyDtype> dtype, std::optional<NumpyDtype> astype)
      : NumcodecsFilter("quantize", dtype, astype), digits_(digits) {}

  Status Decode(std::span<const std::byte> in, const ArraySpec& decoded,
                std::span<std::byte> out) const override {
    LSIO_RETURN_IF_ERROR(CheckSizes(in, out, decoded, true));
    return CastArray(in, EncodedType(decoded.dtype), out, decoded.dtype,
                     static_cast<size_t>(decoded.num_elements()));
  }

  Status Encode(std::span<const std::byte> in, const ArraySpec& decoded,
                std::span<std::byte> out) const override {
    LSIO_RETURN_IF_ERROR(CheckSizes(in, out, decoded, false));
    // The grid, computed as numcodecs computes it with Python floats.
    const double precision = std::pow(10.0, -digits_);
    double exp = std::log10(precision);
    exp = exp < 0 ? std::floor(exp) : std::ceil(exp);
    const double bits = std::ceil(std::log2(std::pow(10.0, -exp)));
    const double scale = std::pow(2.0, bits);
    const size_t n = static_cast<size_t>(decoded.num_elements());
    VisitRealPair(decoded.dtype, EncodedType(decoded.dtype), [&](auto d, auto e) {
      using D = decltype(d);
      using E = decltype(e);
      if constexpr (kIsFloating<D>) {
        for (size_t i = 0; i < n; ++i) {
          const D x = LoadElem<D>(in.data() + i * sizeof(D));
          D q;
          if constexpr (kIsHalf<D>) {
            const float s = HalfToFloat(DoubleToHalf(scale));
            const uint16_t scaled = FloatToHalf(s * HalfToFloat(x.bits));
            const uint16_t rounded = FloatToHalf(std::nearbyint(HalfToFloat(scaled)));
            q = Float16{FloatToHalf(HalfToFloat(rounded) / s)};
          } else {
            const D s = static_cast<D>(scale);
            q = static_cast<D>(std::nearbyint(s * x) / s);
          }
          StoreElem<E>(out.data() + i * sizeof(E), NumpyCast<E>(q));
        }
      }
    });
    return Status();
  }

  bool decode_is_identity() const override {
    return !astype_ || (dtype_ && astype_->type == dtype_->type);
  }
  std::string Describe() const override {
    return fmt::format("quantize(digits={}, {})", digits_, DtypeDescription());
  }

 private:
  Status CheckTypes(DataType decoded, DataType encoded) const override {
    if (!IsFloat(decoded) || !IsFloat(encoded)) {
      return InvalidArgumentError(fmt::format(
          "codec quantize: only float types are supported, got {} stored as {}",
          DataTypeName(decoded), DataTypeName(encoded)));
    }
    return Status();
  }
  int digits_;
};

// numcodecs' AsType: store `encode_dtype`, decode to `decode_dtype` with numpy's astype.
class AsTypeCodec final : public NumcodecsFilter {
 public:
  AsTypeCodec(NumpyDtype encode, std::optional<NumpyDtype> decode)
      : NumcodecsFilter("astype", decode, encode) {}

  Status Decode(std::span<const std::byte> in, const ArraySpec& decoded,
                std::span<std::byte> out) const override {
    LSIO_RETURN_IF_ERROR(CheckSizes(in, out, decoded, true));
    return CastArray(in, EncodedType(decoded.dtype), out, decoded.dtype,
                     static_cast<size_t>(decoded.num_elements()));
  }
  Status Encode(std::span<const std::byte> in, const ArraySpec& decoded,
                std::span<std::byte> out) const override {
    LSIO_RETURN_IF_ERROR(CheckSizes(in, out, decoded, false));
    return CastArray(in, decoded.dtype, out, EncodedType(decoded.dtype),
                     static_cast<size_t>(decoded.num_elements()));
  }
  std::string Describe() const override {
    std::string s = fmt::format("astype(encode_dtype={}", astype_->ToString());
    if (dtype_) s += fmt::format(", decode_dtype={}", dtype_->ToString());
    return s + ")";
  }

 private:
  Status CheckTypes(DataType decoded, DataType encoded) const override {
    for (DataType t : {decoded, encoded}) {
      if (IsComplex(t)) {
        return NotSupportedError(
            fmt::format("codec astype: {} elements are not supported", DataTypeName(t)));
      }
    }
    return Status();
  }
};

}  // namespace

Result<std::unique_ptr<ArrayToArrayCodec>> MakeBitRoundCodec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("bitround", config));
  LSIO_ASSIGN_OR_RETURN(std::optional<int64_t> keepbits, reader.OptionalInt("keepbits", 0, 52));
  if (!keepbits) return reader.FieldError("keepbits", "is required");
  return std::unique_ptr<ArrayToArrayCodec>(new BitRoundCodec(static_cast<int>(*keepbits)));
}

Result<std::unique_ptr<ArrayToArrayCodec>> MakeQuantizeCodec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("quantize", config));
  LSIO_ASSIGN_OR_RETURN(std::optional<int64_t> digits, reader.OptionalInt("digits", -300, 300));
  if (!digits) return reader.FieldError("digits", "is required");
  LSIO_ASSIGN_OR_RETURN(std::optional<NumpyDtype> dtype, OptionalDtype(reader, "dtype"));
  LSIO_ASSIGN_OR_RETURN(std::optional<NumpyDtype> astype, OptionalDtype(reader, "astype"));
  for (const auto& [field, t] : {std::pair{"dtype", dtype}, std::pair{"astype", astype}}) {
    if (t && !IsFloat(t->type)) {
      return reader.FieldError(field, fmt::format("must be a float type, got {}", t->ToString()));
    }
  }
  return std::unique_ptr<ArrayToArrayCodec>(
      new QuantizeCodec(static_cast<int>(*digits), dtype, astype));
}

Result<std::unique_ptr<ArrayToArrayCodec>> MakeAsTypeCodec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("astype", config));
  LSIO_ASSIGN_OR_RETURN(std::optional<NumpyDtype> encode, OptionalDtype(reader, "encode_dtype"));
  if (!encode) return reader.FieldError("encode_dtype", "is required");
  LSIO_ASSIGN_OR_RETURN(std::optional<NumpyDtype> decode, OptionalDtype(reader, "decode_dtype"));
  return std::unique_ptr<ArrayToArrayCodec>(new AsTypeCodec(*encode, decode));
}

}  // namespace lsio::codec::internal
