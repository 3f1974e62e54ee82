// numcodecs' Delta: the first element, then differences of neighbours in the flattened chunk.
// Decoding is np.cumsum(enc, out=dec): each encoded value is cast to the decoded type, then
// summed in that type (wrapping for integers, rounding every step for floats).

#include <nlohmann/json.hpp>

#include "builtin.h"
#include "numcodecs_filter.h"

namespace lsio::codec::internal {

namespace {

class DeltaCodec final : public NumcodecsFilter {
 public:
  using NumcodecsFilter::NumcodecsFilter;

  Status Decode(std::span<const std::byte> in, const ArraySpec& decoded,
                std::span<std::byte> out) const override {
    LSIO_RETURN_IF_ERROR(CheckSizes(in, out, decoded, true));
    const size_t n = static_cast<size_t>(decoded.num_elements());
    const DataType encoded = EncodedType(decoded.dtype);
    // np.cumsum(enc, out=dec) sums in the promoted type of the two (float64 for int32 stored
    // as float64, say) and casts every partial sum to the decoded type.
    const DataType sum = PromoteTypes(encoded, decoded.dtype);
    VisitRealPair(decoded.dtype, sum, [&](auto d, auto l) {
      using D = decltype(d);
      using L = decltype(l);
      VisitRealType(encoded, [&](auto e) {
        using E = decltype(e);
        if constexpr (!kIsBool<L>) {
          L acc{};
          for (size_t i = 0; i < n; ++i) {
            const L v = NumpyCast<L>(LoadElem<E>(in.data() + i * sizeof(E)));
            acc = i == 0 ? v : Arith<L>::Add(acc, v);
            StoreElem<D>(out.data() + i * sizeof(D), NumpyCast<D>(acc));
          }
        }
      });
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
      if constexpr (!kIsBool<D>) {
        D prev{};
        for (size_t i = 0; i < n; ++i) {
          const D x = LoadElem<D>(in.data() + i * sizeof(D));
          const D diff = i == 0 ? x : Arith<D>::Sub(x, prev);
          StoreElem<E>(out.data() + i * sizeof(E), NumpyCast<E>(diff));
          prev = x;
        }
      }
    });
    return Status();
  }

  std::string Describe() const override { return fmt::format("delta({})", DtypeDescription()); }

 private:
  Status CheckTypes(DataType decoded, DataType encoded) const override {
    for (DataType t : {decoded, encoded}) {
      if (IsComplex(t) || t == DataType::kBool) {
        return NotSupportedError(
            fmt::format("codec delta: {} elements are not supported", DataTypeName(t)));
      }
    }
    return Status();
  }
};

}  // namespace

Result<std::unique_ptr<ArrayToArrayCodec>> MakeDeltaCodec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("delta", config));
  LSIO_ASSIGN_OR_RETURN(std::optional<NumpyDtype> dtype, OptionalDtype(reader, "dtype"));
  LSIO_ASSIGN_OR_RETURN(std::optional<NumpyDtype> astype, OptionalDtype(reader, "astype"));
  return std::unique_ptr<ArrayToArrayCodec>(new DeltaCodec("delta", dtype, astype));
}

}  // namespace lsio::codec::internal
