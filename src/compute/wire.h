#pragma once

// A minimal little-endian byte format for sending accumulator state between processes
// (lsio.dask): values are appended as their bytes, and read back with bounds checks.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "lsio/base/result.h"
#include "lsio/compute/missing_values.h"

namespace lsio::compute::internal {

class WireWriter {
 public:
  template <typename T>
  void Put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void PutBytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  void PutMissing(const MissingValues& m) {
    for (const std::optional<MissingValue>* v : {&m.fill_value, &m.missing_value}) {
      Put<uint8_t>(v->has_value());
      if (v->has_value()) {
        Put<uint8_t>(static_cast<uint8_t>((*v)->kind));
        Put((*v)->signed_value);
        Put((*v)->unsigned_value);
        Put((*v)->float_value);
      }
    }
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class WireReader {
 public:
  WireReader(std::string_view in, std::string_view what) : in_(in), what_(what) {}

  template <typename T>
  Status Get(T* v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (in_.size() - pos_ < sizeof(T)) return Truncated();
    std::memcpy(v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::OK();
  }
  Status GetBytes(void* p, size_t n) {
    if (in_.size() - pos_ < n) return Truncated();
    if (n == 0) return Status::OK();  // `p` may be null then (an empty vector's data())
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return Status::OK();
  }
  Status GetMissing(MissingValues* m) {
    for (std::optional<MissingValue>* v : {&m->fill_value, &m->missing_value}) {
      uint8_t has = 0;
      LSIO_RETURN_IF_ERROR(Get(&has));
      if (!has) {
        v->reset();
        continue;
      }
      MissingValue mv;
      uint8_t kind = 0;
      LSIO_RETURN_IF_ERROR(Get(&kind));
      if (kind > 2) return CorruptDataError(std::string(what_) + ": bad missing-value kind");
      mv.kind = static_cast<MissingValue::Kind>(kind);
      LSIO_RETURN_IF_ERROR(Get(&mv.signed_value));
      LSIO_RETURN_IF_ERROR(Get(&mv.unsigned_value));
      LSIO_RETURN_IF_ERROR(Get(&mv.float_value));
      *v = mv;
    }
    return Status::OK();
  }
  Status ExpectEnd() const {
    if (pos_ != in_.size()) return CorruptDataError(std::string(what_) + ": trailing bytes");
    return Status::OK();
  }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  Status Truncated() const { return CorruptDataError(std::string(what_) + ": truncated state"); }
  std::string_view in_;
  std::string_view what_;
  size_t pos_ = 0;
};

}  // namespace lsio::compute::internal
