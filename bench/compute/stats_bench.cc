// compute_bench: throughput of the one-pass statistics kernels, the axis-reduction kernel and a
// plain streaming read of the same memory, measured in one run. Prints one JSON object.
//
//   compute_bench [--mib=256] [--repeat=5] [--per-target]
//
// --per-target repeats the statistics measurements with the kernels forced onto every SIMD
// target this CPU supports (AVX3 ... SCALAR), which shows what the dynamic dispatch buys.
// bench/compute/run_bench.py runs this next to numpy and writes the comparison table.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include <sys/mman.h>

#include "lsio/base/buffer.h"
#include "lsio/compute/axis_reduction.h"
#include "lsio/compute/histogram.h"
#include "lsio/compute/stats.h"
#include "src/compute/kernels.h"

namespace {

using Clock = std::chrono::steady_clock;
using lsio::Buffer;
using lsio::DataType;
namespace compute = lsio::compute;

struct Timing {
  double best_s = 1e300;
  double median_s = 0;
  double best_cpu_s = 1e300;  // CPU time of this thread: what a busy, shared machine took away
};

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <typename Fn>
Timing Time(int repeat, Fn fn) {
  std::vector<double> t;
  double best_cpu = 1e300;
  for (int i = 0; i < repeat; ++i) {
    const double cpu = ThreadCpuSeconds();
    const auto start = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    best_cpu = std::min(best_cpu, ThreadCpuSeconds() - cpu);
  }
  std::sort(t.begin(), t.end());
  return Timing{t.front(), t[t.size() / 2], best_cpu};
}

// Defeats dead-code elimination of benchmark results.
volatile double g_sink;

// A streaming read of every byte: four independent 64-bit sums, so the loop is bound by memory,
// not by the latency of one addition chain.
uint64_t StreamingRead(const Buffer& b) {
  const uint64_t* p = reinterpret_cast<const uint64_t*>(b.data());
  const size_t n = b.size() / 8;
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  return s0 + s1 + s2 + s3;
}

// numpy asks for transparent huge pages on large arrays (madvise(MADV_HUGEPAGE)); the
// benchmark's arrays get the same, so that both sides read memory under the same TLB conditions.
Buffer AllocateHuge(size_t bytes) {
  Buffer b = Buffer::Allocate(bytes).value();
  (void)madvise(b.mutable_data(), bytes, MADV_HUGEPAGE);  // advisory; fine if refused
  return b;
}

double StatsOnce(DataType t, const Buffer& b) {
  auto acc = compute::StatsAccumulator::Make(t).value();
  if (!acc.Consume(b.span()).ok()) std::abort();
  const compute::Stats s = acc.Finalize();
  return s.min + s.max + s.sum + s.m2;
}

std::string Json(const char* name, double bytes, const Timing& t) {
  char buf[320];
  std::snprintf(buf, sizeof(buf),
                "\"%s\": {\"bytes\": %.0f, \"best_s\": %.6f, \"median_s\": %.6f, "
                "\"best_gbps\": %.3f, \"median_gbps\": %.3f, \"cpu_gbps\": %.3f}",
                name, bytes, t.best_s, t.median_s, bytes / t.best_s / 1e9,
                bytes / t.median_s / 1e9, bytes / t.best_cpu_s / 1e9);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = 256;
  int repeat = 5;
  bool per_target = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--mib=", 0) == 0) {
      mib = std::stoul(a.substr(6));
    } else if (a.rfind("--repeat=", 0) == 0) {
      repeat = std::stoi(a.substr(9));
    } else if (a == "--per-target") {
      per_target = true;
    } else {
      std::fprintf(stderr, "usage: %s [--mib=256] [--repeat=5] [--per-target]\n", argv[0]);
      return 2;
    }
  }
  const size_t bytes = mib << 20;
  std::mt19937_64 rng(1);

  Buffer f32 = AllocateHuge(bytes);
  {
    std::normal_distribution<float> normal(5.0f, 3.0f);
    float* p = reinterpret_cast<float*>(f32.mutable_data());
    for (size_t i = 0; i < bytes / 4; ++i) p[i] = normal(rng);
  }
  Buffer i16 = AllocateHuge(bytes);
  {
    int16_t* p = reinterpret_cast<int16_t*>(i16.mutable_data());
    for (size_t i = 0; i < bytes / 2; ++i) p[i] = static_cast<int16_t>(rng());
  }

  std::vector<std::string> out;
  out.push_back(std::string("\"kernel_target\": \"") + compute::internal::KernelTargetName() +
                "\"");
  // Warm-up (page faults, dispatch), then the measurements, the bandwidth probe first and last.
  g_sink = StreamingRead(f32) + StreamingRead(i16) + StatsOnce(DataType::kFloat32, f32);
  const Timing bw1 = Time(repeat, [&] { g_sink = StreamingRead(f32); });
  const Timing st_f32 = Time(repeat, [&] { g_sink = StatsOnce(DataType::kFloat32, f32); });
  const Timing st_i16 = Time(repeat, [&] { g_sink = StatsOnce(DataType::kInt16, i16); });
  const Timing bw2 = Time(repeat, [&] { g_sink = StreamingRead(i16); });
  const Timing bw = bw1.best_s < bw2.best_s ? bw1 : bw2;
  out.push_back(Json("stream_read", static_cast<double>(bytes), bw));
  out.push_back(Json("stats_float32", static_cast<double>(bytes), st_f32));
  out.push_back(Json("stats_int16", static_cast<double>(bytes), st_i16));

  // Mean over time per pixel: chunks of (8, 512, 512) float32 reduced over axis 0 into one
  // 512 x 512 grid; the chunks are consecutive slices of the float32 buffer (8 MiB each), so
  // the data come from memory, not cache.
  {
    const std::vector<int64_t> shape = {8, 512, 512}, start = {0, 0, 0}, origin = {0, 0};
    const std::vector<int64_t> grid_shape = {512, 512};
    const std::vector<size_t> axes = {0};
    const size_t chunk_bytes = 8 * 512 * 512 * 4;
    const size_t chunks = bytes / chunk_bytes;
    auto grid = compute::ReductionGrid::Make(DataType::kFloat32, 3, axes, grid_shape).value();
    auto run = [&] {
      for (size_t c = 0; c < chunks; ++c) {
        const compute::ChunkView view{DataType::kFloat32, shape,
                                      f32.span().subspan(c * chunk_bytes, chunk_bytes)};
        if (!grid.Consume(view, compute::Box{start, shape}, origin).ok()) std::abort();
      }
    };
    run();
    out.push_back(Json("reduce_time_8x512x512_float32",
                       static_cast<double>(chunks * chunk_bytes), Time(repeat, run)));
    // The same over x (the innermost axis): a (8, 512) grid per chunk.
    const std::vector<size_t> axes_x = {2};
    const std::vector<int64_t> grid_x = {8, 512}, origin_x = {0, 0};
    auto grid2 = compute::ReductionGrid::Make(DataType::kFloat32, 3, axes_x, grid_x).value();
    auto run_x = [&] {
      for (size_t c = 0; c < chunks; ++c) {
        const compute::ChunkView view{DataType::kFloat32, shape,
                                      f32.span().subspan(c * chunk_bytes, chunk_bytes)};
        if (!grid2.Consume(view, compute::Box{start, shape}, origin_x).ok()) std::abort();
      }
    };
    run_x();
    out.push_back(Json("reduce_x_8x512x512_float32", static_cast<double>(chunks * chunk_bytes),
                       Time(repeat, run_x)));
  }

  // Chunks with 64 time steps: the grid's 64-byte cell state is read and written once per
  // chunk, so deeper chunks spend less of the memory traffic on it.
  {
    const std::vector<int64_t> shape = {64, 128, 512}, start = {0, 0, 0}, origin = {0, 0};
    const std::vector<int64_t> grid_shape = {128, 512};
    const std::vector<size_t> axes = {0};
    const size_t chunk_bytes = 64 * 128 * 512 * 4;
    const size_t chunks = bytes / chunk_bytes;
    auto grid = compute::ReductionGrid::Make(DataType::kFloat32, 3, axes, grid_shape).value();
    auto run = [&] {
      for (size_t c = 0; c < chunks; ++c) {
        const compute::ChunkView view{DataType::kFloat32, shape,
                                      f32.span().subspan(c * chunk_bytes, chunk_bytes)};
        if (!grid.Consume(view, compute::Box{start, shape}, origin).ok()) std::abort();
      }
    };
    run();
    out.push_back(Json("reduce_time_64x128x512_float32",
                       static_cast<double>(chunks * chunk_bytes), Time(repeat, run)));
  }

  // numpy.histogram-compatible binning, 100 bins over the data's bulk.
  {
    compute::HistogramOptions options;
    options.bins = 100;
    options.lo = -10;
    options.hi = 20;
    auto run = [&] {
      auto h = compute::HistogramAccumulator::Make(DataType::kFloat32, options).value();
      if (!h.Consume(f32.span()).ok()) std::abort();
      g_sink = static_cast<double>(h.counts()[50]);
    };
    out.push_back(Json("histogram_float32_100_bins", static_cast<double>(bytes),
                       Time(repeat, run)));
  }

  if (per_target) {
    std::string targets = "\"per_target\": {";
    bool first = true;
    for (int64_t t : compute::internal::AvailableKernelTargets()) {
      compute::internal::ForceKernelTarget(t);
      const std::string name = compute::internal::KernelTargetName();
      const Timing a = Time(repeat, [&] { g_sink = StatsOnce(DataType::kFloat32, f32); });
      const Timing b = Time(repeat, [&] { g_sink = StatsOnce(DataType::kInt16, i16); });
      targets += (first ? "" : ", ") + std::string("\"") + name + "\": {" +
                 Json("stats_float32", static_cast<double>(bytes), a) + ", " +
                 Json("stats_int16", static_cast<double>(bytes), b) + "}";
      first = false;
    }
    compute::internal::ForceKernelTarget(0);
    out.push_back(targets + "}");
  }

  std::printf("{");
  for (size_t i = 0; i < out.size(); ++i) std::printf("%s%s", i ? ", " : "", out[i].c_str());
  std::printf("}\n");
  return 0;
}
