// `lsio rechunk`: flag parsing, the progress bar and the summary; the work is ops::Rechunk.
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "lsio/format/open.h"
#include "lsio/io/read_files.h"
#include "lsio/ops/rechunk.h"

namespace lsio::cli {

namespace {

struct RechunkFlags {
  std::string source, destination;
  std::vector<std::string> chunks, shards, vars;
  std::string codec = "zstd:3", max_memory = "256MiB", io = "auto", temp;
  int format = 0, threads = 0;
  bool resume = false, dry_run = false, quiet = false;
};

std::string Duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--:--";
  const long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

void DrawProgress(const ops::RechunkProgress& p) {
  const double frac =
      p.bytes_total ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(frac * kWidth);
  const double rate = p.seconds > 0 ? static_cast<double>(p.bytes_done) / p.seconds : 0;
  const double eta = rate > 0 ? static_cast<double>(p.bytes_total - p.bytes_done) / rate : -1;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r[%s] %3d%%  %.2f/%.2f GB  %.2f GB/s  ETA %s  units %llu/%llu\x1b[K",
               bar.c_str(), static_cast<int>(frac * 100), p.bytes_done / 1e9, p.bytes_total / 1e9,
               rate / 1e9, Duration(eta).c_str(), static_cast<unsigned long long>(p.units_done),
               static_cast<unsigned long long>(p.units_total));
  std::fflush(stderr);
}

Result<std::map<std::string, int64_t>> JoinSizes(const std::vector<std::string>& items,
                                                 const char* flag) {
  std::string all;
  for (const std::string& s : items) all += (all.empty() ? "" : ",") + s;
  Result<std::map<std::string, int64_t>> r = ops::ParseDimSizes(all);
  if (!r.ok()) return r.status().WithContext(flag);
  return r;
}

int RunRechunk(const RechunkFlags& f) {
#ifdef __GLIBC__
  // glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB), after
  // which buffers of several MiB (decoded chunks, encoded shards) come from its arenas, which
  // keep the memory once freed. Fixed at 1 MiB (setting it is what stops the adjustment): a
  // sharded two-stage run under 160 MiB peaked at 201-251 MiB before, 134 MiB after (185-229
  // MiB at 4 MiB); at glibc's starting 128 KiB the codecs' scratch of a few hundred KiB per unit
  // is mapped and faulted in each time (+0.9 s system time in 5 s; +0.4 s at 1 MiB). Set here,
  // in lsio's own process, not in the library: in a Python process it would change how every
  // other allocation (numpy's) is served. See docs/architecture.md.
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  // Fixing the mmap threshold also stops glibc from raising its trim threshold (it stays at
  // 128 KiB), so the heap top freed after each unit (c-blosc makes and frees a zstd context and
  // its scratch on every call, a few hundred KiB) went back to the kernel and was faulted in
  // again for the next unit: 345,000 page faults and 2.4 s of system time in a 3.2 s rechunk
  // of 1 GiB on tmpfs. Trimming only beyond 4 MiB: 85,000 faults, 0.7-1.1 s system time, the
  // same peak RSS at 1 GiB (at 256 MiB, 178 instead of 160 MiB: each arena keeps up to 4 MiB
  // of free top, and never more than it once held); each stage still ends with malloc_trim
  // (ReleaseCachedMemory).
  ::mallopt(M_TRIM_THRESHOLD, 4 << 20);
#endif
  ops::RechunkRequest req;
  req.source = f.source;
  req.destination = f.destination;
  Result<std::map<std::string, int64_t>> chunks = JoinSizes(f.chunks, "--chunks");
  if (!chunks.ok()) return ReportStatus(chunks.status());
  req.chunks = *chunks;
  Result<std::map<std::string, int64_t>> shards = JoinSizes(f.shards, "--shards");
  if (!shards.ok()) return ReportStatus(shards.status());
  req.shards = *shards;
  req.variables = f.vars;
  req.codecs = f.codec;
  req.zarr_format = f.format;
  Result<uint64_t> mem = io::ParseByteSize(f.max_memory);
  if (!mem.ok()) return ReportStatus(mem.status().WithContext("--max-memory"));
  req.max_memory = *mem;
  req.threads = f.threads;
  req.resume = f.resume;
  req.temp = f.temp;
  Result<io::Backend> backend = io::ParseBackend(f.io);
  if (!backend.ok()) return ReportStatus(backend.status().WithContext("--io"));
  runtime::ContextOptions co;
  co.threads = f.threads;
  co.io_backend = *backend;
  co.max_memory = req.max_memory;
  Result<std::shared_ptr<runtime::Context>> context = runtime::Context::Make(co);
  if (!context.ok()) return ReportStatus(context.status().WithContext("--threads"));
  if (f.dry_run) {
    Result<std::shared_ptr<const array::Dataset>> ds =
        format::OpenDataset(**context, req.source);
    if (!ds.ok()) return ReportStatus(ds.status());
    Result<ops::RechunkPlan> plan = ops::PlanRechunk(**ds, req, (*context)->threads());
    if (!plan.ok()) return ReportStatus(plan.status());
    ops::WriteRechunkPlan(*plan, std::cout);
    return 0;
  }
  InstallInterruptHandler();
  req.cancelled = [] { return Interrupted(); };
  const bool bar = !f.quiet && isatty(STDERR_FILENO);
  if (bar) req.progress = DrawProgress;
  Result<ops::RechunkResult> r = ops::Rechunk(**context, req);
  if (bar) std::fprintf(stderr, "\n");
  if (!r.ok()) return ReportStatus(r.status());
  if (!f.quiet) {
    const double s = r->seconds > 0 ? r->seconds : 1e-9;
    std::fprintf(stderr,
                 "read %.3f GB, wrote %.3f GB (%llu units stored, %llu all fill value, %llu "
                 "finished earlier) in %.2f s: %.2f GB/s decoded\n",
                 r->bytes_read / 1e9, r->bytes_written / 1e9,
                 static_cast<unsigned long long>(r->units_written),
                 static_cast<unsigned long long>(r->units_fill),
                 static_cast<unsigned long long>(r->units_resumed), r->seconds,
                 r->plan.bytes / 1e9 / s);
    if (r->temporaries_removed > 0) {
      std::fprintf(stderr, "removed %llu temporaries an interrupted run left\n",
                   static_cast<unsigned long long>(r->temporaries_removed));
    }
  }
  return 0;
}

}  // namespace

void AddRechunkCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<RechunkFlags>();
  CLI::App* cmd = app.add_subcommand(
      "rechunk", "Write a dataset again as Zarr with new chunks (bounded memory, resumable)");
  cmd->add_option("source", f->source, "Dataset to read (Zarr, GRIB2)")->required();
  cmd->add_option("destination", f->destination, "Zarr store to write (must not exist)")
      ->required();
  cmd->add_option("--chunks", f->chunks,
                  "New chunks DIM=N,... (-1: full length; other dims keep the source's)")
      ->required();
  cmd->add_option("--shards", f->shards,
                  "Shards DIM=N,... (Zarr v3; multiples of the chunks; other dims: one chunk)");
  cmd->add_option("--var", f->vars,
                  "Variable to rechunk (repeatable; default: all; coordinates always come)");
  cmd->add_option("--codec", f->codec,
                  "Compression: zstd[:LEVEL] (default zstd:3), gzip[:LEVEL], lz4, "
                  "blosc[:CNAME[:CLEVEL[:SHUFFLE]]], crc32c, none, or a comma-separated list");
  cmd->add_option("--format", f->format, "Zarr format 2 or 3 (default: the source's)");
  cmd->add_option("--max-memory", f->max_memory, "Memory budget (default 256MiB)");
  cmd->add_option("--temp", f->temp,
                  "Intermediate store of a two-stage plan (default: DESTINATION.lsio-stage)");
  cmd->add_option("--threads", f->threads, "CPU threads (default: one per core)");
  cmd->add_option("--io", f->io, "IO backend: auto, uring or posix");
  cmd->add_flag("--resume", f->resume, "Finish an interrupted rechunk into DESTINATION");
  cmd->add_flag("--dry-run", f->dry_run, "Print the plan and exit");
  cmd->add_flag("--quiet", f->quiet, "No progress bar or summary line on stderr");
  cmd->callback([f, exit_code] { *exit_code = RunRechunk(*f); });
}

}  // namespace lsio::cli
