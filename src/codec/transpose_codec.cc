// The Zarr v3 transpose codec: the encoded array is the decoded one with its axes permuted,
// encoded.shape[i] = decoded.shape[order[i]].

#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "builtin.h"
#include "config.h"

namespace lsio::codec::internal {

namespace {

template <size_t N>
struct Elem {
  std::byte b[N];
};

// Walks the encoded array in C order. `strides` (in elements) are the decoded array's strides
// for each encoded axis. Encoding gathers (decoded -> encoded sequential), decoding scatters.
template <size_t N, bool kEncode>
void Permute(const std::byte* src, std::byte* dst, const std::vector<int64_t>& shape,
             const std::vector<int64_t>& strides) {
  const size_t rank = shape.size();
  for (int64_t extent : shape) {
    if (extent == 0) return;
  }
  const Elem<N>* in = reinterpret_cast<const Elem<N>*>(src);
  Elem<N>* out = reinterpret_cast<Elem<N>*>(dst);
  if (rank == 0) {
    out[0] = in[0];
    return;
  }
  std::vector<int64_t> index(rank, 0);
  const int64_t inner = shape[rank - 1];
  const int64_t inner_stride = strides[rank - 1];
  int64_t sequential = 0;
  int64_t strided = 0;  // decoded offset of the start of the current inner row
  while (true) {
    if constexpr (kEncode) {
      for (int64_t k = 0; k < inner; ++k) out[sequential + k] = in[strided + k * inner_stride];
    } else {
      for (int64_t k = 0; k < inner; ++k) out[strided + k * inner_stride] = in[sequential + k];
    }
    sequential += inner;
    // Advance the outer index (odometer over axes rank-2 .. 0).
    size_t d = rank - 1;
    while (d-- > 0) {
      strided += strides[d];
      if (++index[d] < shape[d]) break;
      strided -= strides[d] * shape[d];
      index[d] = 0;
    }
    if (d == static_cast<size_t>(-1)) return;
  }
}

class TransposeCodec final : public ArrayToArrayCodec {
 public:
  // `order` empty with `legacy` set means "C" (identity) or "F" (reversed) for any rank.
  TransposeCodec(std::vector<int64_t> order, char legacy)
      : order_(std::move(order)), legacy_(legacy) {}

  std::string_view name() const override { return "transpose"; }

  Result<ArraySpec> EncodedSpec(const ArraySpec& decoded) const override {
    LSIO_ASSIGN_OR_RETURN(std::vector<int64_t> perm, PermFor(decoded.shape.size()));
    ArraySpec encoded = decoded;
    for (size_t i = 0; i < perm.size(); ++i) encoded.shape[i] = decoded.shape[perm[i]];
    return encoded;
  }

  Status Decode(std::span<const std::byte> in, const ArraySpec& decoded,
                std::span<std::byte> out) const override {
    return Run<false>(in, decoded, out);
  }
  Status Encode(std::span<const std::byte> in, const ArraySpec& decoded,
                std::span<std::byte> out) const override {
    return Run<true>(in, decoded, out);
  }

  std::string Describe() const override {
    if (legacy_ != 0) return fmt::format("transpose(order={})", legacy_);
    return fmt::format("transpose(order=[{}])", fmt::join(order_, ","));
  }

 private:
  Result<std::vector<int64_t>> PermFor(size_t rank) const {
    if (legacy_ != 0) {
      std::vector<int64_t> perm(rank);
      for (size_t i = 0; i < rank; ++i) {
        perm[i] = static_cast<int64_t>(legacy_ == 'C' ? i : rank - 1 - i);
      }
      return perm;
    }
    if (order_.size() != rank) {
      return InvalidArgumentError(fmt::format(
          "codec transpose: field 'order' has {} entries but the chunk has rank {}",
          order_.size(), rank));
    }
    return order_;
  }

  template <bool kEncode>
  Status Run(std::span<const std::byte> in, const ArraySpec& decoded,
             std::span<std::byte> out) const {
    const size_t n = decoded.num_bytes();
    if (in.size() != n || out.size() != n) {
      return InvalidArgumentError(fmt::format(
          "codec transpose: {} bytes in, {} bytes out for a {} chunk of {} bytes", in.size(),
          out.size(), decoded.ToString(), n));
    }
    LSIO_ASSIGN_OR_RETURN(std::vector<int64_t> perm, PermFor(decoded.shape.size()));
    const size_t rank = perm.size();
    std::vector<int64_t> decoded_strides(rank, 1);
    for (size_t d = rank; d-- > 1;) decoded_strides[d - 1] = decoded_strides[d] * decoded.shape[d];
    std::vector<int64_t> shape(rank), strides(rank);
    for (size_t i = 0; i < rank; ++i) {
      shape[i] = decoded.shape[perm[i]];
      strides[i] = decoded_strides[perm[i]];
    }
    const std::byte* src = in.data();
    std::byte* dst = out.data();
    switch (ByteWidth(decoded.dtype)) {
      case 1:
        Permute<1, kEncode>(src, dst, shape, strides);
        break;
      case 2:
        Permute<2, kEncode>(src, dst, shape, strides);
        break;
      case 4:
        Permute<4, kEncode>(src, dst, shape, strides);
        break;
      case 8:
        Permute<8, kEncode>(src, dst, shape, strides);
        break;
      case 16:
        Permute<16, kEncode>(src, dst, shape, strides);
        break;
      default:
        return InternalError("codec transpose: unexpected element width");
    }
    return Status();
  }

  std::vector<int64_t> order_;
  char legacy_;  // 0, 'C' or 'F'
};

}  // namespace

Result<std::unique_ptr<ArrayToArrayCodec>> MakeTransposeCodec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("transpose", config));
  const nlohmann::json* order = reader.Get("order");
  if (order == nullptr) return reader.FieldError("order", "is required");
  // Early Zarr v3 drafts wrote "C" or "F".
  if (order->is_string()) {
    const std::string text = order->get<std::string>();
    if (text == "C" || text == "F") {
      return std::unique_ptr<ArrayToArrayCodec>(new TransposeCodec({}, text[0]));
    }
  }
  if (!order->is_array()) {
    return reader.FieldError("order", fmt::format("must be a permutation list, got {}",
                                                  order->dump()));
  }
  std::vector<int64_t> perm;
  std::vector<bool> seen(order->size(), false);
  for (const nlohmann::json& v : *order) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() >= static_cast<int64_t>(order->size()) || seen[v.get<int64_t>()]) {
      return reader.FieldError(
          "order", fmt::format("must be a permutation of 0..{}, got {}",
                               static_cast<int64_t>(order->size()) - 1, order->dump()));
    }
    seen[v.get<int64_t>()] = true;
    perm.push_back(v.get<int64_t>());
  }
  return std::unique_ptr<ArrayToArrayCodec>(new TransposeCodec(std::move(perm), 0));
}

}  // namespace lsio::codec::internal
