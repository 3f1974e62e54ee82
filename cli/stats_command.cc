// `lsio stats`: flag parsing, the progress bar, and output; the work is ops::ComputeStats.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "lsio/array/selection.h"
#include "lsio/format/write.h"
#include "lsio/io/read_files.h"
#include "lsio/ops/stats.h"

namespace lsio::cli {

namespace {

struct StatsFlags {
  std::vector<std::string> paths;
  std::vector<std::string> vars, over, isel, sel;
  std::string groupby, resample;
  std::string stats, out, io = "auto", max_memory = "256MiB", on_error = "fail";
  std::string out_codec = "zstd:3";
  bool json = false, quiet = false, no_fused = false;
  std::shared_ptr<StorageFlags> storage = std::make_shared<StorageFlags>();
  int threads = 0, out_format = 3;
};

std::string Duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--:--";
  const long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

// One line, redrawn in place: "[#######.......]  48%  1.21/2.52 GB  1.9 GB/s  ETA 0:01".
void DrawProgress(const ops::StatsProgress& p) {
  const double frac =
      p.bytes_total ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(frac * kWidth);
  const double rate = p.seconds > 0 ? static_cast<double>(p.bytes_done) / p.seconds : 0;
  const double eta =
      rate > 0 ? static_cast<double>(p.bytes_total - p.bytes_done) / rate : -1;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::string pass = p.passes > 1 ? fmt::format(" pass {}/{}", p.pass, p.passes) : "";
  std::fprintf(stderr, "\r[%s] %3d%%  %.2f/%.2f GB  %.2f GB/s  ETA %s  chunks %llu/%llu%s\x1b[K",
               bar.c_str(), static_cast<int>(frac * 100), p.bytes_done / 1e9, p.bytes_total / 1e9,
               rate / 1e9, Duration(eta).c_str(), static_cast<unsigned long long>(p.chunks_done),
               static_cast<unsigned long long>(p.chunks_total), pass.c_str());
  std::fflush(stderr);
}

int RunStats(const StatsFlags& f) {
  ops::StatsRequest req;
  req.path = f.paths.front();
  req.more_paths.assign(f.paths.begin() + 1, f.paths.end());
  req.variables = f.vars;
  req.over = f.over;
  req.groupby = f.groupby;
  if (!f.resample.empty()) {
    const size_t eq = f.resample.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == f.resample.size()) {
      return ReportStatus(InvalidArgumentError("--resample: expected DIM=FREQ (time=1D), got '" +
                                               f.resample + "'"));
    }
    req.resample_dim = f.resample.substr(0, eq);
    req.resample_freq = f.resample.substr(eq + 1);
  }
  for (const std::string& a : f.isel) {
    Result<array::DimSelector> s = array::ParseIselArgument(a);
    if (!s.ok()) return ReportStatus(s.status().WithContext("--isel"));
    req.selectors.push_back(*s);
  }
  for (const std::string& a : f.sel) {
    Result<array::DimSelector> s = array::ParseSelArgument(a);
    if (!s.ok()) return ReportStatus(s.status().WithContext("--sel"));
    req.selectors.push_back(*s);
  }
  if (!f.stats.empty()) {
    Result<ops::StatsSelection> s = ops::ParseStatistics(f.stats);
    if (!s.ok()) return ReportStatus(s.status());
    req.statistics = *s;
  }
  Result<io::Backend> backend = io::ParseBackend(f.io);
  if (!backend.ok()) return ReportStatus(backend.status().WithContext("--io"));
  req.io_backend = *backend;
  Result<uint64_t> mem = io::ParseByteSize(f.max_memory);
  if (!mem.ok()) return ReportStatus(mem.status().WithContext("--max-memory"));
  req.max_memory = *mem;
  req.threads = f.threads;
  // One runtime context for the command: its CPU pool and readers serve every pass.
  runtime::ContextOptions co;
  co.threads = f.threads;
  co.io_backend = req.io_backend;
  co.max_memory = req.max_memory;
  Result<std::shared_ptr<runtime::Context>> context = runtime::Context::Make(co);
  if (!context.ok()) return ReportStatus(context.status().WithContext("--threads"));
  req.context = context->get();
  req.fused_decode = !f.no_fused;
  Result<std::map<std::string, std::string>> storage = StorageOptions(*f.storage);
  if (!storage.ok()) return ReportStatus(storage.status());
  req.storage_options = *std::move(storage);
  if (f.on_error == "skip") {
    req.on_error = ops::OnError::kSkip;
  } else if (f.on_error != "fail") {
    return ReportStatus(InvalidArgumentError("--on-error: expected fail or skip, got '" +
                                             f.on_error + "'"));
  }
  if (!f.out.empty() && f.over.empty() && f.groupby.empty() && f.resample.empty()) {
    return ReportStatus(InvalidArgumentError(
        "--out writes per-dimension results: add --over, --groupby or --resample"));
  }
  ops::StatsOutputOptions out_options;
  out_options.zarr_format = f.out_format;
  out_options.codecs = f.out_codec;
  // Bad output flags fail before the statistics are computed.
  if (f.out_format != 2 && f.out_format != 3) {
    return ReportStatus(InvalidArgumentError("--out-format: expected 2 or 3, got " +
                                             std::to_string(f.out_format)));
  }
  format::DatasetWriteOptions check;
  check.codecs = f.out_codec;
  if (Status s = format::CheckDatasetWriteOptions(check); !s.ok()) {
    return ReportStatus(s.WithContext("--out-codec"));
  }
  InstallInterruptHandler();
  req.cancelled = [] { return Interrupted(); };
  const bool bar = !f.quiet && isatty(STDERR_FILENO);
  if (bar) req.progress = DrawProgress;

  Result<ops::StatsReport> report = ops::ComputeStats(req);
  if (bar) std::fprintf(stderr, "\n");
  if (!report.ok()) return ReportStatus(report.status());
  if (!f.out.empty()) {
    Result<std::shared_ptr<kvstore::Store>> out = (*context)->OpenStore(f.out);
    if (!out.ok()) return ReportStatus(out.status().WithContext("--out"));
    if (int rc = ReportStatus(ops::WriteStatsZarr(*report, **out, out_options))) return rc;
  }
  if (f.json) {
    ops::WriteStatsJson(*report, std::cout);
  } else {
    ops::WriteStatsText(*report, std::cout);
    if (!f.out.empty()) std::cout << "wrote " << f.out << "\n";
  }
  if (!f.quiet) {
    const double s = report->seconds > 0 ? report->seconds : 1e-9;
    std::fprintf(stderr,
                 "read %.3f GB (%.3f GB decoded) in %.2f s: %.2f GB/s read, %.2f GB/s decoded "
                 "(%s, %d threads)\n",
                 report->bytes_read / 1e9, report->bytes_processed / 1e9, report->seconds,
                 report->bytes_read / 1e9 / s, report->bytes_processed / 1e9 / s,
                 report->io_backend.c_str(), report->threads);
  }
  return 0;
}

}  // namespace

void AddStatsCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<StatsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "stats", "Summary statistics of variables (Zarr, GRIB2), whole or along dimensions");
  cmd->add_option("paths", f->paths,
                  "Zarr store (group or array), or GRIB2 file(s), directory or glob (several "
                  "GRIB locations open as one dataset)")
      ->required();
  cmd->add_option("--var", f->vars, "Variable path (repeatable; default: all data variables)");
  cmd->add_option("--over", f->over,
                  "Reduce over this dimension only (repeatable); the result is per remaining "
                  "dimensions");
  cmd->add_option("--isel", f->isel, "Positional selection DIM=I:J or DIM=I (repeatable)");
  cmd->add_option("--sel", f->sel,
                  "Label selection DIM=A:B (inclusive) or DIM=A (repeatable), e.g. "
                  "time=2020-01-01:2020-12-31");
  cmd->add_option("--stats", f->stats,
                  "Statistics: count,nan_count,min,max,sum,mean,std,var,hist:N,all");
  cmd->add_option("--groupby", f->groupby,
                  "Statistics per group of a time dimension, as xarray's groupby: time.month, "
                  "time.season, time.dayofyear, time.hour or time.year (other dims kept)");
  cmd->add_option("--resample", f->resample,
                  "Statistics per time bin, as xarray's resample: time=1D, time=6h, time=W, "
                  "time=MS, time=YE, ... (pandas frequencies; other dims kept)");
  cmd->add_option("--out", f->out, "With --over: write the results as a Zarr store");
  cmd->add_option("--out-format", f->out_format, "Zarr format of --out: 3 (default) or 2");
  cmd->add_option("--out-codec", f->out_codec,
                  "Chunk compression of --out: zstd[:LEVEL] (default zstd:3), gzip[:LEVEL], lz4, "
                  "blosc[:CNAME[:CLEVEL[:SHUFFLE]]], crc32c, none, or a comma-separated list");
  cmd->add_flag("--json", f->json, "Print one JSON object on stdout");
  cmd->add_option("--threads", f->threads, "CPU threads (default: one per core)");
  cmd->add_option("--max-memory", f->max_memory, "Memory budget for data (default 256MiB)");
  cmd->add_option("--io", f->io, "IO backend: auto, uring or posix");
  cmd->add_option("--on-error", f->on_error,
                  "fail (default) or skip: continue past unreadable chunks and report them");
  cmd->add_flag("--quiet", f->quiet, "No progress bar or summary line on stderr");
  AddStorageFlags(cmd, f->storage);
  cmd->add_flag("--no-fused", f->no_fused,
                "Decode every chunk before reducing it (same results; for benchmarks)");
  cmd->callback([f, exit_code] { *exit_code = RunStats(*f); });
}

}  // namespace lsio::cli
