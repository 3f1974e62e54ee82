// numcodecs' FixedScaleOffset: encode round((x - offset) * scale) into `astype`, decode
// (enc / scale) + offset cast to `dtype`. Decoding reproduces numpy's evaluation of that
// expression: integer arrays are divided in float64; float arrays stay in their own precision
// with the Python scalars cast to it (NEP 50), float16 rounding after every operation.

#include <cmath>
#include <nlohmann/json.hpp>

#include "builtin.h"
#include "numcodecs_filter.h"

namespace lsio::codec::internal {

namespace {

using Number = ConfigReader::Number;

// A Python scalar as numpy sees it next to an array of type T.
template <typename T>
T ScalarAs(const Number& n) {
  if constexpr (kIsHalf<T>) {
    return Float16{DoubleToHalf(n.value)};
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(n.value);
  } else {
    return n.is_integer ? static_cast<T>(static_cast<uint64_t>(n.integer))
                        : static_cast<T>(n.value);
  }
}

float HalfValue(Float16 h) { return HalfToFloat(h.bits); }
Float16 ToHalf(float f) { return Float16{FloatToHalf(f)}; }

class FixedScaleOffsetCodec final : public NumcodecsFilter {
 public:
  FixedScaleOffsetCodec(Number offset, Number scale, std::optional<NumpyDtype> dtype,
                        std::optional<NumpyDtype> astype)
      : NumcodecsFilter("fixedscaleoffset", dtype, astype), offset_(offset), scale_(scale) {}

  Status Decode(std::span<const std::byte> in, const ArraySpec& decoded,
                std::span<std::byte> out) const override {
    LSIO_RETURN_IF_ERROR(CheckSizes(in, out, decoded, true));
    const size_t n = static_cast<size_t>(decoded.num_elements());
    VisitRealPair(decoded.dtype, EncodedType(decoded.dtype), [&](auto d, auto e) {
      using D = decltype(d);
      using E = decltype(e);
      if constexpr (!kIsBool<D> && !kIsBool<E>) {
        for (size_t i = 0; i < n; ++i) {
          const E x = LoadElem<E>(in.data() + i * sizeof(E));
          StoreElem<D>(out.data() + i * sizeof(D), DecodeOne<D>(x));
        }
      }
    });
    return Status();
  }

  Status Encode(std::span<const std::byte> in, const ArraySpec& decoded,
                std::span<std::byte> out) const override {
    LSIO_RETURN_IF_ERROR(CheckSizes(in, out, decoded, false));
    const size_t n = static_cast<size_t>(decoded.num_elements());
    VisitRealPair(decoded.dtype, EncodedType(decoded.dtype), [&](auto d, auto e) {
      using D = decltype(d);
      using E = decltype(e);
      if constexpr (!kIsBool<D> && !kIsBool<E>) {
        for (size_t i = 0; i < n; ++i) {
          const D x = LoadElem<D>(in.data() + i * sizeof(D));
          StoreElem<E>(out.data() + i * sizeof(E), EncodeOne<E>(x));
        }
      }
    });
    return Status();
  }

  std::string Describe() const override {
    return fmt::format("fixedscaleoffset(offset={}, scale={}, {})", offset_.value, scale_.value,
                       DtypeDescription());
  }

 private:
  Status CheckTypes(DataType decoded, DataType encoded) const override {
    for (DataType t : {decoded, encoded}) {
      if (IsComplex(t) || t == DataType::kBool) {
        return NotSupportedError(
            fmt::format("codec fixedscaleoffset: {} elements are not supported", DataTypeName(t)));
      }
    }
    return Status();
  }

  template <typename D, typename E>
  D DecodeOne(E x) const {
    if constexpr (kIsHalf<E>) {
      const Float16 q = ToHalf(HalfValue(x) / HalfValue(ScalarAs<Float16>(scale_)));
      return NumpyCast<D>(ToHalf(HalfValue(q) + HalfValue(ScalarAs<Float16>(offset_))));
    } else if constexpr (std::is_same_v<E, float>) {
      const float q = x / ScalarAs<float>(scale_);
      return NumpyCast<D>(q + ScalarAs<float>(offset_));
    } else {
      // float64 arrays, and integer arrays, which true division promotes to float64.
      const double q = static_cast<double>(x) / scale_.value;
      return NumpyCast<D>(q + offset_.value);
    }
  }

  template <typename E, typename D>
  E EncodeOne(D x) const {
    if constexpr (kIsHalf<D>) {
      const Float16 t = ToHalf(HalfValue(x) - HalfValue(ScalarAs<Float16>(offset_)));
      const Float16 s = ToHalf(HalfValue(t) * HalfValue(ScalarAs<Float16>(scale_)));
      return NumpyCast<E>(ToHalf(std::nearbyint(HalfValue(s))));
    } else if constexpr (std::is_same_v<D, float>) {
      const float t = (x - ScalarAs<float>(offset_)) * ScalarAs<float>(scale_);
      return NumpyCast<E>(std::nearbyint(t));
    } else if constexpr (std::is_same_v<D, double>) {
      return NumpyCast<E>(std::nearbyint((x - offset_.value) * scale_.value));
    } else {
      // Integer arrays stay integer (wrapping) while the scalars are Python ints.
      using U = std::make_unsigned_t<D>;
      if (offset_.is_integer) {
        const D t = static_cast<D>(static_cast<U>(static_cast<U>(x) - ScalarAs<U>(offset_)));
        if (scale_.is_integer) {
          const U product = static_cast<U>(static_cast<U>(t) * ScalarAs<U>(scale_));
          return NumpyCast<E>(static_cast<D>(product));
        }
        return NumpyCast<E>(std::nearbyint(static_cast<double>(t) * scale_.value));
      }
      return NumpyCast<E>(
          std::nearbyint((static_cast<double>(x) - offset_.value) * scale_.value));
    }
  }

  Number offset_;
  Number scale_;
};

}  // namespace

Result<std::unique_ptr<ArrayToArrayCodec>> MakeFixedScaleOffsetCodec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("fixedscaleoffset", config));
  LSIO_ASSIGN_OR_RETURN(Number offset, reader.RequiredNumber("offset"));
  LSIO_ASSIGN_OR_RETURN(Number scale, reader.RequiredNumber("scale"));
  LSIO_ASSIGN_OR_RETURN(std::optional<NumpyDtype> dtype, OptionalDtype(reader, "dtype"));
  LSIO_ASSIGN_OR_RETURN(std::optional<NumpyDtype> astype, OptionalDtype(reader, "astype"));
  return std::unique_ptr<ArrayToArrayCodec>(
      new FixedScaleOffsetCodec(offset, scale, dtype, astype));
}

}  // namespace lsio::codec::internal
