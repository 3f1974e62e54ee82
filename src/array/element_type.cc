#include "lsio/array/element_type.h"

namespace lsio::array {

Status ElementType::StatisticsSupport() const {
  if ((kind == DataTypeKind::kNumeric && IsRealNumeric(storage)) ||
      kind == DataTypeKind::kDatetime64 || kind == DataTypeKind::kTimedelta64) {
    return Status::OK();
  }
  return NotSupportedError("statistics not supported: dtype " + name);
}

Status ElementType::DecodeSupport() const {
  if (is_fixed_size_number()) return Status::OK();
  return NotSupportedError("reading dtype " + name + " is not supported");
}

std::string NumpyTypeString(const ElementType& t) {
  if (t.kind == DataTypeKind::kDatetime64 || t.kind == DataTypeKind::kTimedelta64) {
    std::string s = t.kind == DataTypeKind::kDatetime64 ? "<M8[" : "<m8[";
    if (t.time_scale != 1) s += std::to_string(t.time_scale);
    return s + t.time_unit + "]";
  }
  const DataType d = t.storage;
  const std::string size = std::to_string(ByteWidth(d));
  if (d == DataType::kBool) return "|b1";
  if (IsFloat(d)) return "<f" + size;
  if (IsComplex(d)) return "<c" + size;
  if (IsSignedInteger(d)) return (ByteWidth(d) == 1 ? "|i" : "<i") + size;
  return (ByteWidth(d) == 1 ? "|u" : "<u") + size;
}

}  // namespace lsio::array
