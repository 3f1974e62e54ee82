#pragma once

// Walking the box of a chunk as contiguous runs, and grouping runs into L1-sized blocks.
// Private to the compute layer.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "lsio/compute/chunk_box.h"
#include "src/compute/kernels.h"

namespace lsio::compute::internal {

// Calls fn(const std::byte* data, size_t length) for every maximal contiguous run of elements
// of `box`, in C order. Trailing axes that the box covers completely are folded into the run,
// so a whole chunk is one run. Precondition: ValidateChunkBox(chunk, box).ok().
template <typename Fn>
void ForEachRun(const ChunkView& chunk, const Box& box, Fn&& fn) {
  const size_t rank = chunk.shape.size();
  const size_t width = ByteWidth(chunk.dtype);
  if (rank == 0) {
    fn(chunk.bytes.data(), size_t{1});
    return;
  }
  for (size_t i = 0; i < rank; ++i) {
    if (box.start[i] == box.stop[i]) return;
  }
  int64_t stride[kMaxRank];
  stride[rank - 1] = 1;
  for (size_t i = rank - 1; i > 0; --i) stride[i - 1] = stride[i] * chunk.shape[i];
  size_t k = rank - 1;  // the run axis: axes after it are covered completely
  while (k > 0 && box.start[k] == 0 && box.stop[k] == chunk.shape[k]) --k;
  const size_t run_length = static_cast<size_t>((box.stop[k] - box.start[k]) * stride[k]);
  int64_t idx[kMaxRank];
  for (size_t i = 0; i < k; ++i) idx[i] = box.start[i];
  const std::byte* base = chunk.bytes.data();
  while (true) {
    int64_t offset = box.start[k] * stride[k];
    for (size_t i = 0; i < k; ++i) offset += idx[i] * stride[i];
    fn(base + static_cast<size_t>(offset) * width, run_length);
    // Odometer over the outer axes 0..k-1.
    size_t i = k;
    while (i > 0) {
      --i;
      if (++idx[i] < box.stop[i]) break;
      idx[i] = box.start[i];
      if (i == 0) return;
    }
    if (k == 0) return;
  }
}

// Groups runs into blocks of at most `max_elements` elements and hands each block to
// sink(std::span<const Run>). Long runs are split; runs shorter than kShortRun elements are
// copied into a packed buffer so that a box with a narrow inner extent still yields blocks of
// a few long runs. Call Flush() after the last Add.
template <typename Sink>
class BlockBuilder {
 public:
  BlockBuilder(size_t element_size, size_t max_elements, Sink sink)
      : element_size_(element_size),
        max_elements_(max_elements),
        pack_capacity_(std::min(max_elements, kPackBytes / element_size)),
        sink_(sink) {}

  void Add(const std::byte* data, size_t length) {
    while (length > 0) {
      if (length < kShortRun) {
        if (total_ + length > max_elements_ || packed_ + length > pack_capacity_) Flush();
        std::memcpy(pack_ + packed_ * element_size_, data, length * element_size_);
        packed_ += length;
        total_ += length;
        return;
      }
      const size_t room = max_elements_ - total_;
      if (room < kShortRun || num_runs_ == kMaxRuns) {
        Flush();
        continue;
      }
      const size_t take = std::min(length, room);
      runs_[num_runs_++] = Run{data, take};
      total_ += take;
      data += take * element_size_;
      length -= take;
    }
  }

  void Flush() {
    if (total_ == 0) return;
    if (packed_ > 0) runs_[num_runs_++] = Run{pack_, packed_};
    sink_(std::span<const Run>(runs_, num_runs_));
    num_runs_ = 0;
    packed_ = 0;
    total_ = 0;
  }

 private:
  static constexpr size_t kMaxRuns = 64;
  static constexpr size_t kShortRun = 16;
  static constexpr size_t kPackBytes = kBlockBytes;

  const size_t element_size_;
  const size_t max_elements_;
  const size_t pack_capacity_;
  Sink sink_;
  Run runs_[kMaxRuns + 1];  // + the packed run
  size_t num_runs_ = 0;
  size_t total_ = 0;
  size_t packed_ = 0;
  alignas(64) std::byte pack_[kPackBytes];
};

}  // namespace lsio::compute::internal
