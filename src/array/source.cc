#include "lsio/array/source.h"

namespace lsio::array {

int64_t ArrayInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

uint64_t ArrayInfo::chunk_bytes() const {
  uint64_t n = element_size();
  for (int64_t c : chunk_shape) n *= static_cast<uint64_t>(c);
  return n;
}

bool ConcatTaskSource::Next(sched::ReadTask* out) {
  while (current_ < sources_.size()) {
    if (sources_[current_]->Next(out)) return true;
    ++current_;
  }
  return false;
}

}  // namespace lsio::array
