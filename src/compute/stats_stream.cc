#include "lsio/compute/stats_stream.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "src/compute/kernels.h"
#include "src/compute/runs.h"

namespace lsio::compute {

namespace {

using internal::Run;

// BlockBuilder's constants (runs.h): the decisions below must be the same as its.
constexpr size_t kShortRun = 16;
constexpr size_t kMaxRuns = 64;

// The runs ForEachRun (runs.h) visits, as element offsets, one at a time.
class RunWalker {
 public:
  RunWalker(std::span<const int64_t> shape, const Box& box) : rank_(shape.size()) {
    if (rank_ == 0) return;
    for (size_t i = 0; i < rank_; ++i) {
      if (box.start[i] == box.stop[i]) {
        done_ = true;
        return;
      }
    }
    stride_[rank_ - 1] = 1;
    for (size_t i = rank_ - 1; i > 0; --i) stride_[i - 1] = stride_[i] * shape[i];
    k_ = rank_ - 1;
    while (k_ > 0 && box.start[k_] == 0 && box.stop[k_] == shape[k_]) --k_;
    run_length_ = static_cast<size_t>((box.stop[k_] - box.start[k_]) * stride_[k_]);
    for (size_t i = 0; i < rank_; ++i) {
      start_[i] = box.start[i];
      stop_[i] = box.stop[i];
      idx_[i] = box.start[i];
    }
  }

  // The next run: its first element's offset in the chunk and its length; false when done.
  bool Next(uint64_t* offset, size_t* length) {
    if (done_) return false;
    if (rank_ == 0) {
      done_ = true;
      *offset = 0;
      *length = 1;
      return true;
    }
    int64_t off = start_[k_] * stride_[k_];
    for (size_t i = 0; i < k_; ++i) off += idx_[i] * stride_[i];
    *offset = static_cast<uint64_t>(off);
    *length = run_length_;
    // Odometer over the outer axes 0..k-1.
    size_t i = k_;
    done_ = true;
    while (i > 0) {
      --i;
      if (++idx_[i] < stop_[i]) {
        done_ = false;
        break;
      }
      idx_[i] = start_[i];
    }
    return true;
  }

 private:
  size_t rank_;
  size_t k_ = 0;
  size_t run_length_ = 0;
  bool done_ = false;
  int64_t stride_[kMaxRank] = {};
  int64_t start_[kMaxRank] = {};
  int64_t stop_[kMaxRank] = {};
  int64_t idx_[kMaxRank] = {};
};

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};

std::byte* AlignedBytes(size_t n) {
  return static_cast<std::byte*>(std::aligned_alloc(64, std::max<size_t>(64, (n + 63) / 64 * 64)));
}

}  // namespace

struct StatsStream::State {
  StatsAccumulator* acc;
  size_t width;
  size_t max_elements;
  size_t pack_capacity;
  size_t chunk_bytes;
  size_t received = 0;
  RunWalker walker;

  // The current run's remainder.
  uint64_t run_offset = 0;  // elements
  size_t run_left = 0;      // elements

  // The block being assembled, as BlockBuilder holds it.
  Run runs[kMaxRuns + 1];
  bool in_piece[kMaxRuns + 1];  // points into the caller's current piece
  size_t num_runs = 0;
  size_t total = 0;   // elements
  size_t packed = 0;  // elements
  std::unique_ptr<std::byte, FreeDeleter> staging;
  size_t staged = 0;  // bytes
  std::unique_ptr<std::byte, FreeDeleter> pack;

  // A segment whose bytes have partly arrived: the rest goes to `pending_dst`.
  std::byte* pending_dst = nullptr;
  size_t pending_left = 0;

  State(StatsAccumulator& a, std::span<const int64_t> shape, const Box& box)
      : acc(&a),
        width(ByteWidth(a.dtype())),
        max_elements(StatsAccumulator::BlockElements(a.dtype())),
        pack_capacity(std::min(max_elements, internal::kBlockBytes / width)),
        chunk_bytes(static_cast<size_t>(ElementCount(shape)) * width),
        walker(shape, box) {}

  void FlushBlock() {
    if (total == 0) return;
    if (packed > 0) runs[num_runs++] = Run{pack.get(), packed};
    acc->ConsumeBlock(std::span<const Run>(runs, num_runs));
    num_runs = 0;
    total = 0;
    packed = 0;
    staged = 0;
  }

  Status Feed(std::span<const std::byte> piece) {
    const size_t w0 = received;
    if (piece.size() > chunk_bytes - w0) {
      return CorruptDataError("data decodes to more than the " + std::to_string(chunk_bytes) +
                              " bytes the chunk holds");
    }
    const size_t w1 = w0 + piece.size();
    auto at = [&](size_t byte) { return piece.data() + (byte - w0); };
    received = w1;
    if (pending_left > 0) {
      const size_t n = std::min(pending_left, piece.size());
      std::memcpy(pending_dst, piece.data(), n);
      pending_dst += n;
      pending_left -= n;
      if (pending_left > 0) return Status::OK();
      if (total == max_elements) FlushBlock();
    }
    while (true) {
      if (run_left == 0 && !walker.Next(&run_offset, &run_left)) break;
      const size_t start = static_cast<size_t>(run_offset) * width;
      if (start >= w1) break;  // not here yet
      if (run_left < kShortRun) {
        if (total + run_left > max_elements || packed + run_left > pack_capacity) FlushBlock();
        std::byte* dst = pack.get() + packed * width;
        const size_t bytes = run_left * width;
        const size_t n = std::min(bytes, w1 - start);
        std::memcpy(dst, at(start), n);
        packed += run_left;
        total += run_left;
        run_left = 0;
        if (n < bytes) {
          pending_dst = dst + n;
          pending_left = bytes - n;
          break;
        }
        continue;
      }
      const size_t room = max_elements - total;
      if (room < kShortRun || num_runs == kMaxRuns) {
        FlushBlock();
        continue;
      }
      const size_t take = std::min(run_left, room);
      const size_t bytes = take * width;
      const std::byte* src = at(start);
      if (start + bytes <= w1 && reinterpret_cast<uintptr_t>(src) % width == 0) {
        runs[num_runs] = Run{src, take};
        in_piece[num_runs] = true;
      } else {
        // Crosses the end of the piece (or lies misaligned in it): assemble it in staging.
        std::byte* dst = staging.get() + staged;
        const size_t n = std::min(bytes, w1 - start);
        std::memcpy(dst, src, n);
        staged += bytes;
        runs[num_runs] = Run{dst, take};
        in_piece[num_runs] = false;
        if (n < bytes) {
          pending_dst = dst + n;
          pending_left = bytes - n;
        }
      }
      ++num_runs;
      total += take;
      run_offset += take;
      run_left -= take;
      if (pending_left > 0) break;
      // A full block is flushed by whatever comes next in BlockBuilder; do it now, while its
      // runs are still in the piece.
      if (total == max_elements) FlushBlock();
    }
    // The piece goes away: the open block's runs that point into it move to staging.
    for (size_t i = 0; i < num_runs; ++i) {
      if (!in_piece[i]) continue;
      std::byte* dst = staging.get() + staged;
      const size_t bytes = runs[i].length * width;
      std::memcpy(dst, runs[i].data, bytes);
      staged += bytes;
      runs[i].data = dst;
      in_piece[i] = false;
    }
    return Status::OK();
  }
};

Result<StatsStream> StatsStream::Make(StatsAccumulator& acc, std::span<const int64_t> shape,
                                      const Box& box) {
  LSIO_RETURN_IF_ERROR(ValidateShapeBox(acc.dtype(), shape, box));
  auto state = std::make_unique<State>(acc, shape, box);
  state->staging.reset(AlignedBytes(state->max_elements * state->width));
  state->pack.reset(AlignedBytes(state->pack_capacity * state->width));
  if (!state->staging || !state->pack) {
    return ResourceExhaustedError("statistics stream: out of memory for block staging");
  }
  return StatsStream(std::move(state));
}

StatsStream::StatsStream(std::unique_ptr<State> state) : state_(std::move(state)) {}
StatsStream::StatsStream(StatsStream&&) noexcept = default;
StatsStream& StatsStream::operator=(StatsStream&&) noexcept = default;
StatsStream::~StatsStream() = default;

Status StatsStream::Feed(std::span<const std::byte> piece) {
  if (piece.empty()) return Status::OK();
  return state_->Feed(piece);
}

Status StatsStream::Finish() {
  if (state_->received != state_->chunk_bytes) {
    return CorruptDataError("data decodes to " + std::to_string(state_->received) +
                            " bytes where the chunk holds " +
                            std::to_string(state_->chunk_bytes));
  }
  state_->FlushBlock();
  return Status::OK();
}

size_t StatsStream::chunk_bytes() const { return state_->chunk_bytes; }
size_t StatsStream::received() const { return state_->received; }

}  // namespace lsio::compute
