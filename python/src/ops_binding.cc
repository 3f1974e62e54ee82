// User functions on chunks for the Python package (lsio.map_reduce, lsio.map_blocks): the
// operations' bindings over ops::ForEachBlock / ops::MapBlocks.
//
// A block reaches Python as a numpy array that owns its bytes (the run asks for owned blocks,
// so the array may outlive the call), built on a CPU worker that holds the GIL only to call the
// Python side: `call(block, ordinal, index)`, with `index` a (start, step, count, out_start,
// dropped) tuple per dimension of the array. numpy kernels and numba nogil functions release
// the GIL, so the other workers keep reading and decoding meanwhile.
//
// Lock order: the ordered combiner's lock is taken without the GIL and may take the GIL inside
// (combine runs Python); no code holds the GIL while waiting for that lock.

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common.h"
#include "lsio/array/dataset.h"
#include "lsio/array/element_type.h"
#include "lsio/format/open.h"
#include "lsio/format/write.h"
#include "lsio/io/engine.h"
#include "lsio/ops/c_map_reduce.h"
#include "lsio/ops/map_blocks.h"
#include "lsio/ops/map_reduce.h"
#include "lsio/runtime/context.h"

namespace lsio::python {

using namespace nb::literals;

namespace {

// A strong reference to a Python object that may be moved and destroyed on any thread (it
// takes the GIL to release the reference).
class PyRef {
 public:
  PyRef() = default;
  // With the GIL held.
  explicit PyRef(nb::object o) : p_(o.release().ptr()) {}
  PyRef(PyRef&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  PyRef& operator=(PyRef&& o) noexcept {
    if (this != &o) {
      Reset();
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  PyRef(const PyRef&) = delete;
  PyRef& operator=(const PyRef&) = delete;
  ~PyRef() { Reset(); }

  void Reset() {
    if (p_ == nullptr) return;
    nb::gil_scoped_acquire gil;
    Py_DECREF(p_);
    p_ = nullptr;
  }
  // With the GIL held.
  nb::object Take() { return nb::steal(std::exchange(p_, nullptr)); }

 private:
  PyObject* p_ = nullptr;
};

// What a block is handed to Python with: its values as a numpy array that owns the block's
// buffer, and its position. Call with the GIL held.
nb::object BlockArray(const ops::Block& block, nb::handle dtype) {
  auto* owned = new Buffer(block.owned);
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<Buffer*>(p); });
  size_t n = owned->size();
  nb::object bytes = nb::cast(nb::ndarray<nb::numpy, uint8_t, nb::ndim<1>>(
      const_cast<std::byte*>(owned->data()), 1, &n, owner));
  nb::list shape;
  for (int64_t s : block.shape) shape.append(s);
  return bytes.attr("view")(dtype).attr("reshape")(nb::tuple(shape));
}

nb::tuple BlockIndex(const ops::Block& block) {
  nb::list index;
  for (const ops::BlockDim& d : block.dims) {
    index.append(nb::make_tuple(d.start, d.step, d.count, d.out_start, d.dropped));
  }
  return nb::tuple(index);
}

// The Python side raised: its message (the Python wrapper re-raises the exception itself).
Status PythonError(nb::python_error& e) {
  return InvalidArgumentError(std::string("the function raised ") + e.what());
}

struct OpenedArray {
  std::shared_ptr<const array::Dataset> dataset;
  const array::ArraySource* array = nullptr;
  std::vector<array::DimRange> ranges;
};

// Opens `path`, finds `var` (or the only data variable) and resolves the selectors on it.
// Without the GIL.
Result<OpenedArray> Open(runtime::Context& context, const std::string& path,
                         const std::string& var, const std::vector<array::DimSelector>& selectors,
                         const std::string& io, const std::function<bool()>& cancelled) {
  format::DatasetOptions o;
  LSIO_ASSIGN_OR_RETURN(o.io_backend, io::ParseBackend(io));
  o.cancelled = cancelled;
  OpenedArray out;
  LSIO_ASSIGN_OR_RETURN(out.dataset, format::OpenDataset(context, path, o));
  if (var.empty()) {
    std::vector<const array::ArraySource*> data = out.dataset->DataVariables();
    if (data.size() != 1) {
      std::string names;
      for (const array::ArraySource* a : data) {
        names += (names.empty() ? "" : ", ") + ("'" + a->info().path + "'");
      }
      return InvalidArgumentError(path + ": give var (data variables: " +
                                  (names.empty() ? "none" : names) + ")");
    }
    out.array = data.front();
  } else {
    LSIO_ASSIGN_OR_RETURN(out.array, out.dataset->FindArray(var));
  }
  const array::ArrayInfo& info = out.array->info();
  for (const array::DimSelector& s : selectors) {
    if (std::find(info.dims.begin(), info.dims.end(), s.dim) == info.dims.end()) {
      std::string dims;
      for (const std::string& d : info.dims) dims += (dims.empty() ? "'" : ", '") + d + "'";
      return NotFoundError(std::string(s.is_label() ? "sel" : "isel") + ": variable '" +
                           info.path + "' has no dimension '" + s.dim + "' (dimensions: " +
                           dims + ")");
    }
  }
  LSIO_ASSIGN_OR_RETURN(out.ranges, out.dataset->ResolveSelection(*out.array, selectors, context));
  return out;
}

std::function<void(const ops::PassProgress&)> ProgressCallback(nb::object progress) {
  if (progress.is_none()) return {};
  return [progress](const ops::PassProgress& p) {
    nb::gil_scoped_acquire gil;
    try {
      progress(p.bytes_done, p.bytes_total, p.chunks_done, p.chunks_total);
    } catch (nb::python_error& e) {
      e.discard_as_unraisable("lsio progress callback");
    }
  };
}

nb::object NumpyDtype(const array::ElementType& element) {
  return nb::module_::import_("numpy").attr("dtype")(array::NumpyTypeString(element));
}

nb::dict PassSummary(const ops::PassResult& r) {
  nb::dict d;
  d["bytes_read"] = r.bytes_read;
  d["bytes_processed"] = r.bytes_decoded;
  d["chunks"] = r.chunks;
  d["missing_chunks"] = r.missing_chunks;
  d["threads"] = r.threads;
  d["io_backend"] = r.io_backend;
  d["seconds"] = r.seconds;
  return d;
}

// lsio.map_reduce: call(block, ordinal, index) on every block, combine(a, b) over the results
// in chunk order; (result or None, summary).
nb::tuple MapReduce(const std::string& path, const std::string& var, const nb::list& selectors,
                    nb::object call, nb::object combine, int threads, uint64_t max_memory,
                    const std::string& io, nb::object progress, CancelToken* cancel) {
  std::vector<array::DimSelector> sel = ToSelectorList(selectors);
  std::function<bool()> cancelled;
  if (cancel) cancelled = [cancel] { return cancel->cancelled(); };
  runtime::Context& context = *runtime::Context::Default();
  Result<OpenedArray> opened = [&] {
    nb::gil_scoped_release release;
    return Open(context, path, var, sel, io, cancelled);
  }();
  OpenedArray a = ValueOrThrow(std::move(opened));
  ThrowIfError(a.array->info().element.DecodeSupport().WithContext(
      "variable '" + a.array->info().path + "'"));
  nb::object dtype = NumpyDtype(a.array->info().element);

  ops::BlockPassOptions options;
  options.threads = threads;
  if (max_memory > 0) options.max_memory = max_memory;
  options.owned_blocks = true;
  options.cancelled = cancelled;
  options.progress = ProgressCallback(progress);
  std::function<Result<PyRef>(const ops::Block&)> map =
      [&](const ops::Block& block) -> Result<PyRef> {
    nb::gil_scoped_acquire gil;
    try {
      return PyRef(call(BlockArray(block, dtype), block.ordinal, BlockIndex(block)));
    } catch (nb::python_error& e) {
      return PythonError(e);
    } catch (const std::exception& e) {
      return InternalError(std::string("map_reduce: ") + e.what());
    }
  };
  std::function<Result<PyRef>(PyRef, PyRef)> reduce = [&](PyRef earlier,
                                                          PyRef later) -> Result<PyRef> {
    nb::gil_scoped_acquire gil;
    try {
      return PyRef(combine(earlier.Take(), later.Take()));
    } catch (nb::python_error& e) {
      return PythonError(e).WithContext("combine");
    } catch (const std::exception& e) {
      return InternalError(std::string("map_reduce: combine: ") + e.what());
    }
  };
  Result<std::optional<PyRef>> result = [&] {
    nb::gil_scoped_release release;
    return ops::MapReduce<PyRef>(context, *a.array, a.ranges, map, reduce, options);
  }();
  std::optional<PyRef> value = ValueOrThrow(std::move(result));
  nb::object out = value ? value->Take() : nb::none();
  return nb::make_tuple(out, nb::none());
}

// lsio.map_reduce with C functions (ops::CMapReduce): the addresses of `map` and `combine`
// (c_map_reduce.h's signatures) and the result's size; the run holds no GIL (only the progress
// callback takes it, on the coordinating thread). The result's bytes, or None.
nb::object MapReduceC(const std::string& path, const std::string& var, const nb::list& selectors,
                      uintptr_t map, uintptr_t combine, size_t result_bytes, int threads,
                      uint64_t max_memory, const std::string& io, nb::object progress,
                      CancelToken* cancel) {
  std::vector<array::DimSelector> sel = ToSelectorList(selectors);
  std::function<bool()> cancelled;
  if (cancel) cancelled = [cancel] { return cancel->cancelled(); };
  runtime::Context& context = *runtime::Context::Default();
  ops::BlockPassOptions options;
  options.threads = threads;
  if (max_memory > 0) options.max_memory = max_memory;
  options.cancelled = cancelled;
  options.progress = ProgressCallback(progress);
  ops::CMapReduceFunctions fns;
  fns.map = reinterpret_cast<lsio_block_map_fn>(map);
  fns.combine = reinterpret_cast<lsio_combine_fn>(combine);
  fns.result_bytes = result_bytes;
  Result<std::optional<std::vector<std::byte>>> result = [&] {
    nb::gil_scoped_release release;
    Result<OpenedArray> a = Open(context, path, var, sel, io, cancelled);
    if (!a.ok()) return Result<std::optional<std::vector<std::byte>>>(a.status());
    return ops::CMapReduce(context, *a->array, a->ranges, fns, options);
  }();
  std::optional<std::vector<std::byte>> value = ValueOrThrow(std::move(result));
  if (!value) return nb::none();
  return nb::steal(PyBytes_FromStringAndSize(reinterpret_cast<const char*>(value->data()),
                                             static_cast<Py_ssize_t>(value->size())));
}

// lsio.map_blocks: call(block, ordinal, index) returns the block's output values (a
// C-contiguous numpy array of the output dtype and the block's shape, checked by the Python
// side); written to `out`.
nb::dict MapBlocks(const std::string& path, const std::string& var, const nb::list& selectors,
                   nb::object call, const std::string& out, const std::string& dtype,
                   const std::vector<int64_t>& chunks, const std::string& name, int zarr_format,
                   const std::string& codecs, bool replace, int threads, uint64_t max_memory,
                   const std::string& io, nb::object progress, CancelToken* cancel) {
  std::vector<array::DimSelector> sel = ToSelectorList(selectors);
  std::function<bool()> cancelled;
  if (cancel) cancelled = [cancel] { return cancel->cancelled(); };
  runtime::Context& context = *runtime::Context::Default();
  ops::MapBlocksOptions options;
  options.pass.threads = threads;
  if (max_memory > 0) options.pass.max_memory = max_memory;
  options.pass.owned_blocks = true;
  options.pass.cancelled = cancelled;
  options.pass.progress = ProgressCallback(progress);
  options.name = name;
  options.chunk_shape = chunks;
  options.write.zarr_format = zarr_format;
  options.write.codecs = codecs;
  options.write.replace = replace;
  if (!dtype.empty()) options.type = ValueOrThrow(format::ParseNumpyTypeString(dtype));
  struct Opened {
    OpenedArray array;
    std::shared_ptr<kvstore::Store> store;
  };
  Result<Opened> opened = [&]() -> Result<Opened> {
    nb::gil_scoped_release release;
    Opened o;
    LSIO_ASSIGN_OR_RETURN(o.array, Open(context, path, var, sel, io, cancelled));
    LSIO_ASSIGN_OR_RETURN(o.store, context.OpenStore(out));
    return o;
  }();
  Opened o = ValueOrThrow(std::move(opened));
  ThrowIfError(o.array.array->info().element.DecodeSupport().WithContext(
      "variable '" + o.array.array->info().path + "'"));
  nb::object in_dtype = NumpyDtype(o.array.array->info().element);

  ops::BlockTransform fn = [&](const ops::Block& block, std::span<std::byte> values) -> Status {
    nb::gil_scoped_acquire gil;
    try {
      nb::object r = call(BlockArray(block, in_dtype), block.ordinal, BlockIndex(block));
      Py_buffer view;
      if (PyObject_GetBuffer(r.ptr(), &view, PyBUF_C_CONTIGUOUS) != 0) throw nb::python_error();
      const size_t got = static_cast<size_t>(view.len);
      if (got != values.size()) {
        PyBuffer_Release(&view);
        return InternalError("map_blocks: the function's result has " + std::to_string(got) +
                             " bytes, the block needs " + std::to_string(values.size()));
      }
      {
        nb::gil_scoped_release release;
        std::memcpy(values.data(), view.buf, got);
      }
      PyBuffer_Release(&view);
      return Status::OK();
    } catch (nb::python_error& e) {
      return PythonError(e);
    } catch (const std::exception& e) {
      return InternalError(std::string("map_blocks: ") + e.what());
    }
  };
  Result<ops::MapBlocksResult> result = [&] {
    nb::gil_scoped_release release;
    return ops::MapBlocks(context, *o.array.dataset, *o.array.array, o.array.ranges, fn,
                          *o.store, options);
  }();
  ops::MapBlocksResult r = ValueOrThrow(std::move(result));
  nb::dict d = PassSummary(r.pass);
  d["name"] = r.name;
  d["dims"] = r.dims;
  d["shape"] = r.shape;
  d["chunks"] = r.chunk_shape;
  d["coordinates"] = r.coordinates;
  d["assembled_chunks"] = r.assembled_chunks;
  return d;
}

// The selection a call resolves to, and the coordinates of its kept dimensions (for the
// regions lsio.map_reduce hands out): (dims, [(start, step, count, drop)], dtype str).
nb::tuple Describe(const std::string& path, const std::string& var, const nb::list& selectors,
                   const std::string& io) {
  std::vector<array::DimSelector> sel = ToSelectorList(selectors);
  runtime::Context& context = *runtime::Context::Default();
  Result<OpenedArray> opened = [&] {
    nb::gil_scoped_release release;
    return Open(context, path, var, sel, io, {});
  }();
  OpenedArray a = ValueOrThrow(std::move(opened));
  nb::list ranges;
  for (const array::DimRange& r : a.ranges) {
    ranges.append(nb::make_tuple(r.start, r.step, r.count, r.drop));
  }
  return nb::make_tuple(a.array->info().path, a.array->info().dims, ranges,
                        array::NumpyTypeString(a.array->info().element));
}

}  // namespace

void RegisterOpsBindings(nb::module_& m) {
  m.def("map_reduce", &MapReduce, "path"_a, "var"_a, "selectors"_a, "call"_a, "combine"_a,
        "threads"_a, "max_memory"_a, "io"_a, "progress"_a.none(), "cancel"_a.none(),
        "call(block, ordinal, index) on every block, combine(a, b) in chunk order; see "
        "lsio.map_reduce.");
  m.def("map_reduce_c", &MapReduceC, "path"_a, "var"_a, "selectors"_a, "map"_a, "combine"_a,
        "result_bytes"_a, "threads"_a, "max_memory"_a, "io"_a, "progress"_a.none(),
        "cancel"_a.none(),
        "C functions (addresses; lsio/ops/c_map_reduce.h) on every block without the GIL; the "
        "result's bytes or None. See lsio.map_reduce.");
  m.def("map_blocks", &MapBlocks, "path"_a, "var"_a, "selectors"_a, "call"_a, "out"_a,
        "dtype"_a, "chunks"_a, "name"_a, "zarr_format"_a, "codecs"_a, "replace"_a, "threads"_a,
        "max_memory"_a, "io"_a, "progress"_a.none(), "cancel"_a.none(),
        "call(block, ordinal, index) -> the block's output, written to a new Zarr store; see "
        "lsio.map_blocks.");
  m.def("describe_selection", &Describe, "path"_a, "var"_a, "selectors"_a, "io"_a,
        "(variable path, dims, [(start, step, count, drop)], dtype) of a selection.");
}

}  // namespace lsio::python
