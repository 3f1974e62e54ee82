// The lsio._lsio extension: a thin layer over the library for the Python package (python/lsio),
// which builds the user-facing API on top of it. This file: the module, error translation and
// the operations (statistics); array_binding.cc: native dataset and array handles.
//
// Every blocking call releases the GIL. Errors cross into Python in one place
// (TranslateStatus): a Status becomes an exception from lsio.errors chosen by its code.
// Cancellation: long calls take a CancelToken that the Python side sets when Ctrl-C arrives.

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/base/json_util.h"
#include "lsio/base/status.h"
#include "lsio/base/version.h"
#include "lsio/compute/stats.h"
#include "lsio/format/open.h"
#include "lsio/io/engine.h"
#include "lsio/ops/rechunk.h"
#include "lsio/ops/stats.h"
#include "lsio/ops/stats_partial.h"
#include "lsio/ops/stats_partition.h"
#include "lsio/runtime/context.h"
#include "common.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace lsio::python {

namespace {

// The one place where a Status becomes a Python exception: lsio.errors.from_status picks the
// class from the code name.
void TranslateStatus(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const StatusError& e) {
    nb::object errors = nb::module_::import_("lsio.errors");
    const char* subject = e.subject() == ErrorSubject::kKey ? "key" : "";
    nb::object exc = errors.attr("from_status")(std::string(StatusCodeName(e.status().code())),
                                                e.status().message(), e.status().sys_errno(),
                                                subject);
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  }
}

Result<io::Backend> Backend(const std::string& name) { return io::ParseBackend(name); }

// Python selector tuples (built by lsio._selection):
//   (dim, "index", i) | (dim, "slice", start, stop, step)        positional
//   (dim, "label", L) | (dim, "range", L1, L2)                    by label
// with L = None | ("s", str) | ("n", float) | ("t", int nanoseconds).
array::Label ToLabel(nb::handle h) {
  nb::tuple t = nb::cast<nb::tuple>(h);
  const std::string kind = nb::cast<std::string>(t[0]);
  if (kind == "s") return nb::cast<std::string>(t[1]);
  if (kind == "n") return nb::cast<double>(t[1]);
  return array::DatetimeLabel{nb::cast<int64_t>(t[1])};
}

std::optional<array::Label> ToOptionalLabel(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return ToLabel(h);
}

std::optional<int64_t> ToOptionalInt(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return nb::cast<int64_t>(h);
}

std::vector<array::DimSelector> ToSelectors(const nb::list& selectors) {
  std::vector<array::DimSelector> out;
  for (nb::handle h : selectors) {
    nb::tuple t = nb::cast<nb::tuple>(h);
    array::DimSelector s;
    s.dim = nb::cast<std::string>(t[0]);
    const std::string kind = nb::cast<std::string>(t[1]);
    if (kind == "index") {
      s.value = nb::cast<int64_t>(t[2]);
    } else if (kind == "slice") {
      s.value = array::IndexSlice{ToOptionalInt(t[2]), ToOptionalInt(t[3]), ToOptionalInt(t[4])};
    } else if (kind == "label") {
      s.value = ToLabel(t[2]);
    } else if (kind == "range") {
      s.value = array::LabelSlice{ToOptionalLabel(t[2]), ToOptionalLabel(t[3])};
    } else {
      throw StatusError(InvalidArgumentError("unknown selector kind '" + kind + "'"));
    }
    out.push_back(std::move(s));
  }
  return out;
}

template <typename T>
nb::ndarray<nb::numpy, T> ToNumpy(std::vector<T> values, std::vector<size_t> shape) {
  auto* owned = new std::vector<T>(std::move(values));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T>(owned->data(), shape.size(), shape.data(), owner);
}

nb::object StatValue(const compute::Stats& s, ops::Statistic stat, int ddof) {
  using ops::Statistic;
  switch (stat) {
    case Statistic::kCount:
      return nb::int_(s.count);
    case Statistic::kNanCount:
      return nb::int_(s.nan_count);
    default:
      break;
  }
  if (s.exact && (stat == Statistic::kMin || stat == Statistic::kMax || stat == Statistic::kSum)) {
    const __int128 v = stat == Statistic::kMin ? s.exact_min
                       : stat == Statistic::kMax ? s.exact_max
                                                 : s.exact_sum;
    if (s.count == 0 && stat != Statistic::kSum) return nb::none();
    return nb::module_::import_("builtins").attr("int")(compute::Int128ToString(v));
  }
  if (s.count == 0 && stat != Statistic::kSum) return nb::none();
  switch (stat) {
    case Statistic::kMin:
      return nb::float_(s.min);
    case Statistic::kMax:
      return nb::float_(s.max);
    case Statistic::kSum:
      return nb::float_(s.sum);
    case Statistic::kMean:
      return nb::float_(s.mean);
    case Statistic::kStd:
      return nb::float_(s.stddev(ddof));
    case Statistic::kVar:
      return nb::float_(s.variance(ddof));
    default:
      return nb::none();
  }
}

// Takes the report: its per-cell maps move into the numpy arrays (a copy would double the
// answer's memory at its peak).
nb::dict ReportToDict(ops::StatsReport report) {
  nb::dict out;
  nb::list vars;
  const int ddof = report.statistics.ddof;
  for (ops::VariableStats& v : report.variables) {
    nb::dict d;
    d["name"] = v.name;
    d["dims"] = v.dims;
    d["shape"] = v.shape;
    d["attributes"] = internal::DumpJson(v.attributes, -1);
    d["elements"] = v.elements;
    if (v.dims.empty()) {
      nb::dict stats;
      for (ops::Statistic s : report.statistics.statistics) {
        stats[std::string(ops::StatisticName(s)).c_str()] = StatValue(v.stats, s, ddof);
      }
      d["stats"] = stats;
    } else {
      nb::dict maps;
      std::vector<size_t> shape(v.shape.begin(), v.shape.end());
      for (auto& [s, values] : v.maps) {
        const std::string key(ops::StatisticName(s));
        if (values.dtype == DataType::kFloat32) {
          maps[key.c_str()] = ToNumpy<float>(std::move(values.f32), shape);
        } else {
          maps[key.c_str()] = ToNumpy<double>(std::move(values.f64), shape);
        }
      }
      d["maps"] = maps;
      if (!v.quantile_maps.empty()) {
        std::vector<size_t> qshape = {report.statistics.quantiles.size()};
        qshape.insert(qshape.end(), shape.begin(), shape.end());
        d["quantile_maps"] = ToNumpy<double>(std::move(v.quantile_maps), qshape);
        nb::list qs;
        for (const auto& [key, q] : report.statistics.quantiles) qs.append(nb::make_tuple(key, q));
        d["quantile_keys"] = qs;
      }
      nb::list coords;
      for (const ops::OutputCoordinate& c : v.coordinates) {
        nb::dict cd;
        cd["name"] = c.name;
        cd["dtype"] = c.numpy_dtype;
        cd["values"] = nb::bytes(reinterpret_cast<const char*>(c.values.data()), c.values.size());
        cd["attributes"] = internal::DumpJson(c.attributes, -1);
        coords.append(cd);
      }
      d["coords"] = coords;
    }
    if (!v.quantiles.empty()) {
      nb::list q;
      for (const auto& [key, value] : v.quantiles) q.append(nb::make_tuple(key, value));
      d["quantiles"] = q;
    }
    if (!v.histogram_counts.empty()) {
      d["histogram_counts"] = ToNumpy<uint64_t>(v.histogram_counts, {v.histogram_counts.size()});
      d["histogram_edges"] = ToNumpy<double>(v.histogram_edges, {v.histogram_edges.size()});
    }
    d["skipped_chunks"] = v.skipped_chunks;
    d["skipped_elements"] = v.skipped_elements;
    vars.append(d);
  }
  out["variables"] = vars;
  nb::list stat_names;
  for (ops::Statistic s : report.statistics.statistics) {
    stat_names.append(std::string(ops::StatisticName(s)));
  }
  out["statistics"] = stat_names;
  out["notes"] = report.notes;
  out["bytes_read"] = report.bytes_read;
  out["bytes_processed"] = report.bytes_processed;
  out["seconds"] = report.seconds;
  out["chunks"] = report.chunks;
  out["missing_chunks"] = report.missing_chunks;
  out["io_backend"] = report.io_backend;
  out["threads"] = report.threads;
  return out;
}

ops::StatsRequest MakeRequest(const std::string& path, const std::vector<std::string>& vars,
                              const std::vector<std::string>& over, const nb::list& selectors,
                              const std::string& stats, int threads, uint64_t max_memory,
                              const std::string& io, const std::string& on_error,
                              const std::string& group = "",
                              const std::vector<std::string>& more_paths = {}) {
  ops::StatsRequest req;
  req.path = path;
  req.more_paths = more_paths;
  req.variables = vars;
  req.over = over;
  // "groupby:time.month" or "resample:time=1MS".
  if (group.rfind("groupby:", 0) == 0) {
    req.groupby = group.substr(8);
  } else if (group.rfind("resample:", 0) == 0) {
    const std::string r = group.substr(9);
    const size_t eq = r.find('=');
    if (eq == std::string::npos) {
      throw StatusError(InvalidArgumentError("resample: expected {dim: frequency}"));
    }
    req.resample_dim = r.substr(0, eq);
    req.resample_freq = r.substr(eq + 1);
  } else if (!group.empty()) {
    throw StatusError(InvalidArgumentError("unknown grouping '" + group + "'"));
  }
  req.selectors = ToSelectors(selectors);
  if (!stats.empty()) req.statistics = ValueOrThrow(ops::ParseStatistics(stats));
  req.threads = threads;
  if (max_memory > 0) req.max_memory = max_memory;
  req.io_backend = ValueOrThrow(Backend(io));
  if (on_error == "skip") {
    req.on_error = ops::OnError::kSkip;
  } else if (on_error != "fail") {
    throw StatusError(InvalidArgumentError("on_error: expected 'fail' or 'skip'"));
  }
  return req;
}

nb::dict ComputeStats(const std::string& path, const std::vector<std::string>& vars,
                      const std::vector<std::string>& over, const nb::list& selectors,
                      const std::string& stats, int threads, uint64_t max_memory,
                      const std::string& io, const std::string& on_error,
                      nb::object progress, CancelToken* cancel, const std::string& group,
                      const std::vector<std::string>& more_paths,
                      const std::map<std::string, std::string>& storage_options) {
  ops::StatsRequest req = MakeRequest(path, vars, over, selectors, stats, threads, max_memory, io,
                                      on_error, group, more_paths);
  req.storage_options = storage_options;
  if (cancel) req.cancelled = [cancel] { return cancel->cancelled(); };
  if (!progress.is_none()) {
    // Called on this (the calling) thread, which holds no GIL while the run goes on.
    req.progress = [progress](const ops::StatsProgress& p) {
      nb::gil_scoped_acquire gil;
      try {
        progress(p.bytes_done, p.bytes_total, p.chunks_done, p.chunks_total, p.pass, p.passes);
      } catch (nb::python_error& e) {
        e.discard_as_unraisable("lsio progress callback");
      }
    };
  }
  Result<ops::StatsReport> report = [&] {
    nb::gil_scoped_release release;
    return ops::ComputeStats(req);
  }();
  return ReportToDict(ValueOrThrow(std::move(report)));
}

// lsio.rechunk: the whole job on the process-wide context, GIL released; the summary as a dict.
nb::dict Rechunk(const std::string& source, const std::string& destination,
                 const std::map<std::string, int64_t>& chunks,
                 const std::map<std::string, int64_t>& shards,
                 const std::vector<std::string>& vars, const std::string& codec, int zarr_format,
                 uint64_t max_memory, int threads, bool resume, bool dry_run,
                 const std::string& temp, nb::object progress, CancelToken* cancel) {
  ops::RechunkRequest req;
  req.source = source;
  req.destination = destination;
  req.chunks = chunks;
  req.shards = shards;
  req.variables = vars;
  req.codecs = codec;
  req.zarr_format = zarr_format;
  if (max_memory != 0) req.max_memory = max_memory;
  req.threads = threads;
  req.resume = resume;
  req.temp = temp;
  if (cancel) req.cancelled = [cancel] { return cancel->cancelled(); };
  if (!progress.is_none()) {
    req.progress = [progress](const ops::RechunkProgress& p) {
      nb::gil_scoped_acquire gil;
      try {
        progress(p.bytes_done, p.bytes_total, p.units_done, p.units_total);
      } catch (nb::python_error& e) {
        e.discard_as_unraisable("lsio progress callback");
      }
    };
  }
  std::shared_ptr<runtime::Context> context = runtime::Context::Default();
  nb::dict d;
  if (dry_run) {
    std::string text;
    {
      nb::gil_scoped_release release;
      Result<std::shared_ptr<const array::Dataset>> ds = format::OpenDataset(*context, source);
      if (!ds.ok()) throw StatusError(ds.status());
      ops::RechunkPlan plan = ValueOrThrow(ops::PlanRechunk(
          **ds, req, threads > 0 ? std::min(threads, context->threads()) : context->threads()));
      std::ostringstream out;
      ops::WriteRechunkPlan(plan, out);
      text = out.str();
    }
    d["plan"] = text;
    return d;
  }
  Result<ops::RechunkResult> r = [&] {
    nb::gil_scoped_release release;
    return ops::Rechunk(*context, req);
  }();
  ops::RechunkResult result = ValueOrThrow(std::move(r));
  std::ostringstream out;
  ops::WriteRechunkPlan(result.plan, out);
  d["plan"] = out.str();
  d["bytes_read"] = result.bytes_read;
  d["bytes_written"] = result.bytes_written;
  d["units_written"] = result.units_written;
  d["units_fill"] = result.units_fill;
  d["units_resumed"] = result.units_resumed;
  d["temporaries_removed"] = result.temporaries_removed;
  d["seconds"] = result.seconds;
  return d;
}

// Partial statistics of a share of the work, for lsio.dask: an opaque byte string that
// MergePartials combines.
nb::bytes PartialStats(const std::string& path, const std::vector<std::string>& vars,
                       const std::vector<std::string>& over, const nb::list& selectors,
                       const std::string& stats, int threads, uint64_t max_memory,
                       const std::string& io, CancelToken* cancel) {
  ops::StatsRequest req =
      MakeRequest(path, vars, over, selectors, stats, threads, max_memory, io, "fail");
  if (cancel) req.cancelled = [cancel] { return cancel->cancelled(); };
  std::string blob;
  {
    nb::gil_scoped_release release;
    blob = ValueOrThrow(ops::ComputePartialStats(req));
  }
  return nb::bytes(blob.data(), blob.size());
}

// The shares lsio.dask.stats sends to workers (ops::PlanStatsPartitions): (variables,
// split_dim, [(start, stop), ...]).
nb::tuple PlanPartitions(const std::string& path, const std::vector<std::string>& vars,
                         const std::vector<std::string>& over, const nb::list& selectors,
                         const std::string& stats, const std::string& io, int parts,
                         const std::string& split_dim) {
  ops::StatsRequest req = MakeRequest(path, vars, over, selectors, stats, 0, 0, io, "fail");
  ops::StatsPartitionOptions options;
  options.parts = parts;
  options.split_dim = split_dim;
  Result<ops::StatsPartitionPlan> plan = [&] {
    nb::gil_scoped_release release;
    return ops::PlanStatsPartitions(req, options);
  }();
  ops::StatsPartitionPlan p = ValueOrThrow(std::move(plan));
  return nb::make_tuple(p.variables, p.split_dim, p.shares);
}

nb::dict MergePartials(const std::vector<nb::bytes>& parts) {
  std::vector<std::string> blobs;
  for (const nb::bytes& b : parts) blobs.emplace_back(b.c_str(), b.size());
  Result<ops::StatsReport> report = [&] {
    nb::gil_scoped_release release;
    return ops::MergePartialStats(blobs);
  }();
  return ReportToDict(ValueOrThrow(std::move(report)));
}

}  // namespace

std::vector<array::DimSelector> ToSelectorList(const nb::list& selectors) {
  return ToSelectors(selectors);
}

}  // namespace lsio::python

NB_MODULE(_lsio, m) {
  using namespace lsio::python;
  m.doc() = "lsio native extension (use the lsio package, not this module directly)";
  m.attr("__version__") = std::string(lsio::kVersion);
  nb::register_exception_translator(TranslateStatus);

  nb::class_<CancelToken>(m, "CancelToken", "Cancels a running lsio call from another thread.")
      .def(nb::init<>())
      .def("cancel", &CancelToken::cancel, "Asks the call to stop as soon as it can.")
      .def("cancelled", &CancelToken::cancelled, "Whether cancel() was called.");

  RegisterArrayBindings(m);
  RegisterOpsBindings(m);
  RegisterStoreBindings(m);
  m.def("compute_stats", &ComputeStats, "path"_a, "variables"_a, "over"_a, "selectors"_a,
        "stats"_a, "threads"_a, "max_memory"_a, "io"_a, "on_error"_a, "progress"_a.none(),
        "cancel"_a.none(), "group"_a = "", "more_paths"_a = std::vector<std::string>(),
        "storage_options"_a = std::map<std::string, std::string>(),
        "Summary statistics; see lsio.stats.");
  m.def("rechunk", &Rechunk, "source"_a, "destination"_a, "chunks"_a, "shards"_a, "variables"_a,
        "codec"_a, "zarr_format"_a, "max_memory"_a, "threads"_a, "resume"_a, "dry_run"_a,
        "temp"_a, "progress"_a.none(), "cancel"_a.none(), "Rechunks a dataset; see lsio.rechunk.");
  m.def("partial_stats", &PartialStats, "path"_a, "variables"_a, "over"_a, "selectors"_a,
        "stats"_a, "threads"_a, "max_memory"_a, "io"_a, "cancel"_a.none(),
        "Partial statistics of a share of the work, as bytes for merge_partials.");
  m.def("plan_partitions", &PlanPartitions, "path"_a, "variables"_a, "over"_a, "selectors"_a,
        "stats"_a, "io"_a, "parts"_a, "split_dim"_a,
        "The shares of a statistics request for lsio.dask.stats: (variables, split_dim, "
        "[(start, stop), ...]) along split_dim, aligned to storage chunks.");
  m.def("merge_partials", &MergePartials, "parts"_a,
        "Merges partial_stats results (in the order given) into a finished report.");
}
