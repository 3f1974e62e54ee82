// decode_limit: how fast lsio's own codecs decode the chunks of one Zarr array on one thread,
// and how fast the statistics kernel consumes what they decode. bench/stats/run.py turns this
// into the "decode limit" of a dataset: single-thread decode rate x thread count.
//
//   decode_limit STORE --var NAME [--sample-bytes N] [--repeat N]
//
// The chunks sampled are every chunk (shard) whose first grid coordinate is a multiple of a
// stride chosen so that about --sample-bytes of decoded data is read (default 256 MiB): whole
// hyperslabs, so edge chunks come in the same proportion as in the whole array. Each chunk file
// is read into memory first (plain reads, page cache allowed: this measures decoding, not the
// disk); then every sampled chunk (inner chunk, when sharded) is decoded into one reused
// buffer, and consumed by compute::StatsAccumulator over its part inside the array, timing
// both with the thread's CPU clock (the machine is shared; wall time is printed too). Best of
// --repeat passes.
//
// Prints one JSON object: chunks, stored_bytes, decoded_bytes (whole chunks), logical_bytes
// (the parts inside the array), decode_cpu_s, decode_wall_s, stats_cpu_s, identity (the chain
// is a plain native-endian `bytes` codec: nothing to decode).

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/compute/chunk_box.h"
#include "lsio/compute/stats.h"
#include "lsio/format/zarr/metadata.h"
#include "lsio/format/zarr/shard_index.h"
#include "lsio/format/zarr/hierarchy.h"
#include "lsio/kvstore/file_store.h"

namespace {

using lsio::Buffer;
using lsio::Result;
using lsio::Status;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Result<std::vector<std::byte>> ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lsio::ErrnoToStatus(errno, "open " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return lsio::ErrnoToStatus(e, "fstat " + path);
  }
  std::vector<std::byte> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = n < 0 ? errno : EIO;
      ::close(fd);
      return lsio::ErrnoToStatus(e, "read " + path);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return bytes;
}

// One unit of decoding: encoded bytes (a span into a file read into memory), and the part of
// the decoded chunk that lies inside the array.
struct Unit {
  size_t file = 0;
  size_t offset = 0;
  size_t length = 0;
  std::vector<int64_t> stop;  // per axis, elements inside the array (start is 0)
};

struct Sample {
  std::vector<std::vector<std::byte>> files;
  std::vector<Unit> units;
  uint64_t stored_bytes = 0;
};

int64_t Product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Grid coordinates of every chunk (shard) whose first coordinate is a multiple of `stride`.
std::vector<std::vector<int64_t>> SampledGrid(const std::vector<int64_t>& grid, int64_t stride) {
  std::vector<std::vector<int64_t>> out;
  if (grid.empty()) return {{}};
  std::vector<int64_t> pos(grid.size(), 0);
  while (true) {
    if (pos[0] % stride == 0) out.push_back(pos);
    size_t d = grid.size();
    while (d > 0) {
      --d;
      if (++pos[d] < grid[d]) break;
      pos[d] = 0;
      if (d == 0) return out;
    }
  }
}

Result<Sample> LoadSample(const std::string& root, const lsio::zarr::Node& node,
                          uint64_t sample_bytes) {
  const lsio::zarr::ArrayMetadata& meta = *node.array;
  const std::vector<int64_t> grid = meta.grid_shape();
  const size_t elem = lsio::ByteWidth(meta.data_type.storage);
  const uint64_t hyperslab_bytes =
      static_cast<uint64_t>(Product(meta.chunk_shape)) * elem *
      static_cast<uint64_t>(grid.empty() ? 1 : Product(grid) / std::max<int64_t>(grid[0], 1));
  int64_t stride = 1;
  if (!grid.empty()) {
    const uint64_t slabs =
        std::max<uint64_t>(1, sample_bytes / std::max<uint64_t>(hyperslab_bytes, 1));
    stride = std::max<int64_t>(1, grid[0] / static_cast<int64_t>(slabs));
  }
  std::optional<lsio::codec::CodecChain> index_chain;
  if (meta.sharding) {
    LSIO_ASSIGN_OR_RETURN(lsio::codec::CodecChain c,
                          lsio::zarr::MakeShardIndexCodecChain(*meta.sharding));
    index_chain.emplace(std::move(c));
  }
  Sample sample;
  for (const std::vector<int64_t>& g : SampledGrid(grid, stride)) {
    std::string path = root;
    // Appended piecewise: GCC 12 warns falsely (-Wrestrict) about "/" + std::string here.
    if (!node.path.empty()) {
      path += '/';
      path += node.path;
    }
    path += '/';
    path += meta.ChunkKey(g);
    Result<std::vector<std::byte>> bytes = ReadWholeFile(path);
    if (!bytes.ok()) {
      if (bytes.status().code() == lsio::StatusCode::kNotFound) continue;  // fill value
      return bytes.status();
    }
    sample.stored_bytes += bytes->size();
    const size_t file = sample.files.size();
    sample.files.push_back(std::move(*bytes));
    const std::vector<std::byte>& data = sample.files.back();
    std::vector<int64_t> origin(g.size());
    for (size_t d = 0; d < g.size(); ++d) origin[d] = g[d] * meta.chunk_shape[d];
    if (!meta.sharding) {
      Unit u{file, 0, data.size(), {}};
      for (size_t d = 0; d < g.size(); ++d) {
        u.stop.push_back(std::min(meta.chunk_shape[d], meta.shape[d] - origin[d]));
      }
      sample.units.push_back(std::move(u));
      continue;
    }
    const lsio::zarr::ShardingSpec& spec = *meta.sharding;
    if (spec.nested) return lsio::NotSupportedError(path + ": nested sharding");
    LSIO_ASSIGN_OR_RETURN(lsio::zarr::ByteRange where,
                          lsio::zarr::ShardIndexByteRange(spec, data.size(), path));
    LSIO_ASSIGN_OR_RETURN(
        lsio::zarr::ShardIndex index,
        lsio::zarr::ShardIndex::Decode(std::span(data).subspan(where.offset, where.length),
                                       *index_chain, spec, data.size(), path));
    std::vector<int64_t> inner(g.size(), 0);
    while (true) {
      const lsio::zarr::ShardIndexEntry& e = index.entry(inner);
      if (!e.empty()) {
        Unit u{file, static_cast<size_t>(e.offset), static_cast<size_t>(e.nbytes), {}};
        bool inside = true;
        for (size_t d = 0; d < g.size(); ++d) {
          const int64_t o = origin[d] + inner[d] * spec.inner_chunk_shape[d];
          const int64_t n = std::min(spec.inner_chunk_shape[d], meta.shape[d] - o);
          inside = inside && n > 0;
          u.stop.push_back(std::max<int64_t>(n, 0));
        }
        if (inside) sample.units.push_back(std::move(u));
      }
      size_t d = g.size();
      bool done = true;
      while (d > 0) {
        --d;
        if (++inner[d] < spec.chunks_per_shard[d]) {
          done = false;
          break;
        }
        inner[d] = 0;
      }
      if (done) break;
    }
  }
  return sample;
}

struct PassTimes {
  double decode_cpu = 0, decode_wall = 0, stats_cpu = 0;
};

Status Run(const std::string& store, const std::string& var, uint64_t sample_bytes, int repeat) {
  LSIO_ASSIGN_OR_RETURN(lsio::zarr::Hierarchy h,
                        lsio::zarr::OpenHierarchy(*lsio::kvstore::MakeFileStore(store)));
  const lsio::zarr::Node* node = h.Find(var);
  if (node == nullptr || !node->is_array()) {
    return lsio::NotFoundError(store + ": no array '" + var + "'");
  }
  const lsio::zarr::ArrayMetadata& meta = *node->array;
  const lsio::DataType dtype = meta.data_type.storage;
  const std::vector<int64_t> chunk_shape = meta.read_chunk_shape();
  LSIO_ASSIGN_OR_RETURN(lsio::codec::CodecChain chain,
                        meta.sharding ? lsio::zarr::MakeInnerCodecChain(*meta.sharding, dtype)
                                      : lsio::zarr::MakeChunkCodecChain(meta));
  LSIO_ASSIGN_OR_RETURN(Sample sample, LoadSample(store, *node, sample_bytes));
  if (sample.units.empty()) return lsio::NotFoundError(store + ": no stored chunk sampled");

  const size_t chunk_bytes = static_cast<size_t>(Product(chunk_shape)) * lsio::ByteWidth(dtype);
  LSIO_ASSIGN_OR_RETURN(Buffer out, Buffer::Allocate(chunk_bytes));
  std::memset(out.mutable_data(), 0, out.size());  // fault the pages in before timing
  lsio::BufferPool scratch;
  LSIO_ASSIGN_OR_RETURN(lsio::compute::StatsAccumulator empty,
                        lsio::compute::StatsAccumulator::Make(dtype));
  uint64_t logical = 0;
  for (const Unit& u : sample.units) {
    logical += static_cast<uint64_t>(Product(u.stop)) * lsio::ByteWidth(dtype);
  }

  PassTimes best{std::numeric_limits<double>::infinity(), 0,
                 std::numeric_limits<double>::infinity()};
  double best_wall = std::numeric_limits<double>::infinity();
  const std::vector<int64_t> zeros(chunk_shape.size(), 0);
  for (int r = 0; r < repeat; ++r) {
    PassTimes t;
    lsio::compute::StatsAccumulator acc = empty;
    for (const Unit& u : sample.units) {
      const std::span<const std::byte> encoded =
          std::span(sample.files[u.file]).subspan(u.offset, u.length);
      std::span<const std::byte> decoded;
      const double c0 = ThreadCpuSeconds();
      const double w0 = WallSeconds();
      if (chain.is_identity() && encoded.size() == chunk_bytes) {
        decoded = encoded;  // what lsio does too: the bytes read are the chunk
      } else {
        LSIO_RETURN_IF_ERROR(chain.Decode(encoded, out.mutable_span(), scratch));
        decoded = out.span();
      }
      const double c1 = ThreadCpuSeconds();
      const double w1 = WallSeconds();
      const lsio::compute::ChunkView view{dtype, chunk_shape, decoded};
      const lsio::compute::Box box{zeros, u.stop};
      LSIO_RETURN_IF_ERROR(acc.Consume(view, box));
      const double c2 = ThreadCpuSeconds();
      t.decode_cpu += c1 - c0;
      t.decode_wall += w1 - w0;
      t.stats_cpu += c2 - c1;
    }
    best.decode_cpu = std::min(best.decode_cpu, t.decode_cpu);
    best_wall = std::min(best_wall, t.decode_wall);
    best.stats_cpu = std::min(best.stats_cpu, t.stats_cpu);
  }
  nlohmann::json j;
  j["store"] = store;
  j["var"] = var;
  j["codecs"] = lsio::zarr::DescribeCodecsJson(meta);
  j["chunks"] = sample.units.size();
  j["stored_bytes"] = sample.stored_bytes;
  j["decoded_bytes"] = static_cast<uint64_t>(sample.units.size()) * chunk_bytes;
  j["logical_bytes"] = logical;
  j["decode_cpu_s"] = best.decode_cpu;
  j["decode_wall_s"] = best_wall;
  j["stats_cpu_s"] = best.stats_cpu;
  j["identity"] = chain.is_identity();
  std::printf("%s\n", j.dump().c_str());
  return Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  std::string store, var;
  uint64_t sample_bytes = uint64_t{256} << 20;
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--var" && i + 1 < argc) {
      var = argv[++i];
    } else if (a == "--sample-bytes" && i + 1 < argc) {
      sample_bytes = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (store.empty() && !a.empty() && a[0] != '-') {
      store = a;
    } else {
      store.clear();
      break;
    }
  }
  if (store.empty()) {
    std::fprintf(stderr, "usage: %s STORE --var NAME [--sample-bytes N] [--repeat N]\n", argv[0]);
    return 2;
  }
  const Status st = Run(store, var, sample_bytes, repeat);
  if (!st.ok()) {
    std::fprintf(stderr, "decode_limit: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
