#pragma once

// Rechunking a dataset: every variable of a source dataset (any format OpenDataset reads)
// written again as Zarr with new chunks (and optionally shards), in bounded memory, atomically
// per write unit and resumably.
//
// Plan (PlanRechunk): per array, the output's write units (a chunk, or a whole shard) are
// processed in blocks: a block is a box of whole write units, and one block is one pass over
// the input chunks it touches (ops::RunPass), each decoded input chunk scattered into the
// block's units, each unit encoded and written as soon as its last element arrives, and its
// buffer freed. Blocks are chosen as large as the memory budget allows, preferring blocks
// aligned to the input chunks (then every input chunk is decoded exactly once). When the
// budget cannot hold a block aligned to the input chunks, input chunks that straddle blocks
// are decoded once per block they touch: the plan states that factor
// (RechunkArrayPlan::decode_factor), which is bounded by the number of blocks one input chunk
// touches. When that costs more than writing and reading the data once more, the plan has two
// stages through an intermediate store whose chunks are aligned to both sides (the smaller of
// the source's chunk and the output's unit per dimension, grown towards 1 MiB), so that each
// stage decodes every chunk once (RechunkPlan::stages).
//
// Pipelining: a finished unit is encoded by a task on the CPU pool (at most one per worker at
// once), not by the worker that completed it, and written by IO threads of the writer (the
// workers go on encoding meanwhile), so that while one block's units are encoded and written
// the next block's chunks are read and decoded. Two blocks are in
// flight when blocks planned in half the block budget decode no more source chunks than blocks
// planned in all of it (RechunkArrayPlan::blocks_in_flight); else one, and block k+1 is read
// only once block k is written. Unit buffers are recycled between blocks (their pages are
// touched once per run, not once per unit).
//
// Memory: the budget holds the blocks in flight's unit buffers, the encode scratch of each
// worker and its encoded units being written, the decoded chunks and the reads in flight
// (ops::PlanMemory's split); a budget too small for one write unit is refused up front with
// the minimum needed. After each block the codecs' cached buffers, and after each stage also
// the context's idle readers and malloc's free arena memory, are given back to the system.
//
// Atomicity and resume: each unit is written with Store::Write (a temporary name, then a
// rename on local files). The destination holds no metadata document until every unit has
// landed (it does not open as a dataset before that), only `.lsio-rechunk/plan.json` (what is
// being done) and `.lsio-rechunk/journal/*` (units finished). The metadata is written last, the
// root's document last of all, and then `.lsio-rechunk/` is removed. A run killed mid-write
// leaves temporaries (kvstore::Store::RemoveAbandonedTemporaries); the next run over the same
// destination (resumed, or new when they are all it holds) removes them first. With `resume`, a
// destination holding the same plan skips the units in its journal; a different plan is
// refused. Without `resume`, a destination that is not empty is refused.
//
// Thread safety: Rechunk blocks; it may run beside other runs on the same Context.

#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/dataset.h"
#include "lsio/base/result.h"
#include "lsio/ops/memory_plan.h"
#include "lsio/runtime/context.h"

namespace lsio::ops {

struct RechunkProgress {
  uint64_t bytes_done = 0;  // decoded bytes placed into output units
  uint64_t bytes_total = 0;
  uint64_t units_done = 0;  // output units finished (written, all-fill, or from the journal)
  uint64_t units_total = 0;
  double seconds = 0;
};

struct RechunkRequest {
  // Where to read (anything format::OpenDataset opens) and where to write (a store location).
  std::string source;
  std::string destination;
  // Chunk size by dimension name; -1: the dimension's full length. Dimensions not named keep
  // the source's chunk (its unit of decoding).
  std::map<std::string, int64_t> chunks;
  // Shard size by dimension name (Zarr v3): a multiple of the chunk, -1 the full length
  // (rounded up to whole chunks). Empty: not sharded. Dimensions not named: one chunk.
  std::map<std::string, int64_t> shards;
  // Variables to rechunk (paths); empty: every array. The coordinates of their dimensions are
  // always written.
  std::vector<std::string> variables;
  // Output compression (format::DatasetWriteOptions::codecs).
  std::string codecs = "zstd:3";
  // 2 or 3; 0: the source's Zarr format, 3 for other formats.
  int zarr_format = 0;
  uint64_t max_memory = uint64_t{256} << 20;
  // Chunk shapes by array path (one per dimension), overriding `chunks` for those arrays (what
  // the stages of a two-stage plan are given).
  std::map<std::string, std::vector<int64_t>> array_chunks;
  // A two-stage plan through an intermediate store when it moves fewer bytes than one pass
  // that re-decodes straddling source chunks. The intermediate is `temp`, or, when empty,
  // "<destination>.lsio-stage" (Zarr in the output's format, lz4, chunks between the source's
  // and the output's); it is resumed like the destination and deleted once used.
  bool multi_stage = true;
  std::string temp;
  // CPU workers; 0: the context's pool size.
  int threads = 0;
  bool resume = false;
  // Internal (a two-stage run's second stage): keep `.lsio-rechunk/` when done, marked
  // finished, until the intermediate is removed.
  bool keep_state = false;
  std::function<bool()> cancelled;
  // Called about 10 times a second from the coordinating thread.
  std::function<void(const RechunkProgress&)> progress;
};

struct RechunkArrayPlan {
  std::string path;
  std::string dtype;
  std::vector<std::string> dims;
  std::vector<int64_t> shape;
  size_t element_size = 0;
  // The source's unit of decoding, and the output's chunk and write unit (chunk or shard).
  std::vector<int64_t> source_chunk;
  std::vector<int64_t> chunk;
  std::vector<int64_t> shard;  // empty when not sharded
  std::vector<int64_t> unit;
  // Write units per block along each dimension, the block's elements, and the blocks.
  std::vector<int64_t> block_units;
  std::vector<int64_t> block_shape;
  uint64_t blocks = 0;
  // Blocks holding memory at once: 2 when a block's units are encoded and written while the
  // next block is read and decoded (the budget holds two blocks), else 1.
  int blocks_in_flight = 1;
  uint64_t units = 0;
  // Source chunks the array touches, and decodes the plan performs (>= the former).
  uint64_t source_chunks = 0;
  uint64_t chunk_decodes = 0;
  // The source decodes the rows a block takes for about their share of a chunk
  // (ArraySource::decodes_rows_in_part: blosc), so that a chunk decoded for several blocks
  // apart along any dimension but the last costs its reads but about one decoding.
  bool source_decodes_rows_in_part = false;
  // How far ahead the source's store reads (kvstore::Store::read_ahead_bytes): the reads in
  // flight that each pass plans for.
  uint64_t source_read_ahead = kMaxIoBudget;
  double decode_factor() const {
    return source_chunks == 0 ? 1.0 : static_cast<double>(chunk_decodes) / source_chunks;
  }
  // Bytes of the array decoded (elements x size), of the source chunks the plan decodes, and
  // of one block's unit buffers.
  uint64_t bytes = 0;
  uint64_t bytes_decoded = 0;
  uint64_t block_bytes = 0;
  // Memory this array's passes plan for (the largest over blocks).
  uint64_t peak_memory = 0;
};

struct RechunkPlan {
  std::string source;
  std::string destination;
  int zarr_format = 3;
  std::string codecs;
  uint64_t max_memory = 0;
  int threads = 1;
  std::vector<RechunkArrayPlan> arrays;
  uint64_t bytes = 0;          // decoded bytes of every array (read once each, written once)
  uint64_t bytes_decoded = 0;  // decoded bytes of the source chunks the plan decodes
  uint64_t peak_memory = 0;    // the largest pass's planned memory
  // 2: `arrays` is the second stage (intermediate -> destination) and `first_stage` the first
  // (source -> intermediate).
  int stages = 1;
  std::string intermediate;
  std::vector<RechunkArrayPlan> first_stage;
};

// Plans the rechunking of `dataset` (RechunkRequest::source opened). Errors: an unknown
// dimension in chunks/shards, an unknown variable, a chunk size < 1 (other than -1), a shard
// that is not a multiple of its chunk, shards with Zarr v2, a data type that cannot be read,
// and kInvalidArgument "--max-memory X is too small: at least Y is needed ..." when the budget
// cannot hold one write unit of some array.
Result<RechunkPlan> PlanRechunk(const array::Dataset& dataset, const RechunkRequest& request,
                                int threads);

// The plan as text (`lsio rechunk --dry-run`): per array, chunks, units, blocks, decodes, bytes
// and memory.
void WriteRechunkPlan(const RechunkPlan& plan, std::ostream& out);

struct RechunkResult {
  RechunkPlan plan;
  uint64_t bytes_read = 0;      // from the source store
  uint64_t bytes_written = 0;   // encoded bytes written (units and metadata)
  uint64_t units_written = 0;   // units stored
  uint64_t units_fill = 0;      // units equal to the fill value (not stored)
  uint64_t units_resumed = 0;   // units found finished in the journal (not redone)
  // Temporaries a killed run left in the destination (or intermediate), removed at the start.
  uint64_t temporaries_removed = 0;
  double seconds = 0;
};

// "time=1024,lat=32,lon=-1" (what --chunks and --shards take; also repeated flags joined with
// ','). Errors: kInvalidArgument naming the malformed item.
Result<std::map<std::string, int64_t>> ParseDimSizes(std::string_view text);

// Runs the whole rechunk. Errors: PlanRechunk's; kInvalidArgument "... already exists" for a
// destination that is not empty without `resume`, or that holds another plan with it; read,
// decode and write errors naming the variable, the chunk or unit, and the location. After an
// error the destination is resumable (or empty).
Result<RechunkResult> Rechunk(runtime::Context& context, const RechunkRequest& request);

}  // namespace lsio::ops
