// Native handles for the Python package (lsio.open, the xarray engine, lsio.to_dask): a
// DatasetHandle holds an opened array::Dataset, an ArrayHandle one array of it through an
// array::ArrayHandle. Metadata is parsed once per open; datasets live in the process-wide
// array::DatasetCache keyed by location and open options, so a handle unpickled on a dask worker
// re-opens its dataset once per process; every read goes straight to array::ReadInto on the
// process-wide runtime::Context with the GIL released, after ArraySource::StillCurrent (a small
// read) has confirmed that the store still holds the array the handle describes.
//
// Format-neutral: only format::OpenDataset knows which format a location holds.

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.h"
#include "lsio/array/cf.h"
#include "lsio/base/json_util.h"
#include "lsio/array/dataset.h"
#include "lsio/array/dataset_cache.h"
#include "lsio/array/partition.h"
#include "lsio/array/read.h"
#include "lsio/format/open.h"
#include "lsio/io/engine.h"
#include "lsio/runtime/context.h"

namespace lsio::python {

using namespace nb::literals;

nb::object JsonToPython(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return nb::none();
    case nlohmann::json::value_t::boolean:
      return nb::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return nb::int_(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return nb::steal(PyLong_FromUnsignedLongLong(j.get<uint64_t>()));
    case nlohmann::json::value_t::number_float:
      return nb::float_(j.get<double>());
    case nlohmann::json::value_t::string: {
      const std::string& text = j.get_ref<const std::string&>();
      return nb::str(text.c_str(), text.size());
    }
    case nlohmann::json::value_t::array: {
      nb::list out;
      for (const auto& v : j) out.append(JsonToPython(v));
      return out;
    }
    case nlohmann::json::value_t::object: {
      nb::dict out;
      for (auto it = j.begin(); it != j.end(); ++it) {
        out[nb::str(it.key().c_str(), it.key().size())] = JsonToPython(it.value());
      }
      return out;
    }
    default:
      return nb::none();
  }
}

namespace {

// numpy, looked up once (the module holds references for the process's lifetime).
struct Numpy {
  nb::object empty, dtype, uint8;
};
Numpy& np() {
  static Numpy* n = [] {
    nb::module_ numpy = nb::module_::import_("numpy");
    auto* out = new Numpy{numpy.attr("empty"), numpy.attr("dtype"), numpy.attr("uint8")};
    return out;
  }();
  return *n;
}

// Where and how a dataset is opened: what a pickled handle carries to re-open it elsewhere, and
// the key of the process-wide dataset cache.
struct OpenSpec {
  std::string location;
  std::string io = "auto";
  bool consolidated = true;
  std::map<std::string, std::string> storage_options;

  std::string Key() const {
    std::string k = location + '\n' + io + (consolidated ? "\n1" : "\n0");
    for (const auto& [name, value] : storage_options) k += '\n' + name + '=' + value;
    return k;
  }

  array::DatasetOpener Opener() const {
    OpenSpec spec = *this;
    return [spec]() -> Result<std::shared_ptr<const array::Dataset>> {
      format::DatasetOptions o;
      LSIO_ASSIGN_OR_RETURN(o.io_backend, io::ParseBackend(spec.io));
      o.storage_options = spec.storage_options;
      o.use_consolidated = spec.consolidated;
      return format::OpenDataset(*runtime::Context::Default(), spec.location, o);
    };
  }

  nb::tuple ToTuple() const {
    nb::dict options;
    for (const auto& [name, value] : storage_options) options[name.c_str()] = value;
    return nb::make_tuple(location, io, consolidated, options);
  }
};

// Bytes in flight of a handle's read. Enough to keep a local disk busy; small, because a reader
// keeps this much of freed buffers for its next run and dask runs a read per worker thread at
// once. One value for every read, so that idle readers are reused.
constexpr uint64_t kReadBudget = uint64_t{16} << 20;

nb::tuple ToTuple(const std::vector<int64_t>& v) {
  nb::list l;
  for (int64_t x : v) l.append(x);
  return nb::tuple(l);
}

nb::bytes ToBytes(std::span<const std::byte> b) {
  return nb::bytes(reinterpret_cast<const char*>(b.data()), b.size());
}

std::vector<std::byte> FromBytes(const nb::bytes& b) {
  const auto* p = static_cast<const std::byte*>(b.data());
  return std::vector<std::byte>(p, p + b.size());
}

// numpy basic indexing (ints, slices, Ellipsis) of an array of `shape` -> one DimRange per
// dimension. Raises IndexError / TypeError as numpy does.
std::vector<array::DimRange> KeyToRanges(nb::handle key, const std::vector<int64_t>& shape) {
  std::vector<nb::handle> items;
  if (nb::isinstance<nb::tuple>(key)) {
    for (nb::handle h : nb::borrow<nb::tuple>(key)) items.push_back(h);
  } else {
    items.push_back(key);
  }
  const size_t rank = shape.size();
  size_t ellipses = 0;
  for (nb::handle h : items) ellipses += h.is(nb::ellipsis()) ? 1 : 0;
  if (ellipses > 1) throw nb::index_error("an index can only have a single ellipsis ('...')");
  if (items.size() - ellipses > rank) {
    throw nb::index_error(("too many indices: array has " + std::to_string(rank) +
                           " dimensions, " + std::to_string(items.size() - ellipses) +
                           " were indexed")
                              .c_str());
  }
  std::vector<array::DimRange> out;
  out.reserve(rank);
  for (nb::handle h : items) {
    if (h.is(nb::ellipsis())) {
      const size_t fill = rank - (items.size() - 1);
      for (size_t i = 0; i < fill; ++i) out.push_back(array::FullRange(shape[out.size()]));
      continue;
    }
    const int64_t n = shape[out.size()];
    if (PySlice_Check(h.ptr())) {
      Py_ssize_t start = 0, stop = 0, step = 0;
      if (PySlice_Unpack(h.ptr(), &start, &stop, &step) != 0) throw nb::python_error();
      const Py_ssize_t count = PySlice_AdjustIndices(static_cast<Py_ssize_t>(n), &start, &stop,
                                                     step);
      // numpy gives an empty selection a start inside the dimension; so does this.
      out.push_back(array::DimRange{count > 0 ? start : 0, step, count, false});
    } else if (!PyBool_Check(h.ptr()) && PyIndex_Check(h.ptr())) {
      const Py_ssize_t i = PyNumber_AsSsize_t(h.ptr(), PyExc_IndexError);
      if (i == -1 && PyErr_Occurred()) throw nb::python_error();
      if (i < -n || i >= n) {
        throw nb::index_error(("index " + std::to_string(i) + " is out of bounds for axis " +
                               std::to_string(out.size()) + " with size " + std::to_string(n))
                                  .c_str());
      }
      out.push_back(array::DimRange{i < 0 ? i + n : i, 1, 1, true});
    } else {
      throw nb::type_error(
          ("lsio arrays take ints, slices and Ellipsis, not " +
           nb::cast<std::string>(nb::repr(h)))
              .c_str());
    }
  }
  while (out.size() < rank) out.push_back(array::FullRange(shape[out.size()]));
  return out;
}

// A (start, step, count, drop) tuple per dimension (lsio._selection's form).
std::vector<array::DimRange> TuplesToRanges(const nb::sequence& ranges, size_t rank) {
  std::vector<array::DimRange> out;
  for (nb::handle h : ranges) {
    nb::tuple t = nb::cast<nb::tuple>(h);
    out.push_back(array::DimRange{nb::cast<int64_t>(t[0]), nb::cast<int64_t>(t[1]),
                                  nb::cast<int64_t>(t[2]), nb::cast<bool>(t[3])});
  }
  if (out.size() != rank) {
    throw StatusError(InvalidArgumentError("selection has " + std::to_string(out.size()) +
                                           " dimensions, the array " + std::to_string(rank)));
  }
  return out;
}

class DatasetHandle;

class ArrayHandle {
 public:
  ArrayHandle(OpenSpec spec, std::shared_ptr<array::ArrayHandle> handle)
      : ArrayHandle(std::move(spec), handle->info()) {
    handle_ = std::move(handle);
  }
  // A handle that opens its dataset at first use (unpickled: a dask scheduler deserializing a
  // graph never opens anything, and a changed store is an error of the task that reads it).
  ArrayHandle(OpenSpec spec, array::ArrayInfo expected)
      : spec_(std::move(spec)), info_(std::move(expected)) {
    readable_ = info_.element.DecodeSupport();
    dtype_ = np().dtype(readable_.ok() ? array::NumpyTypeString(info_.element).c_str() : "O");
    shape_ = ToTuple(info_.shape);
  }

  const array::ArrayInfo& info() const { return info_; }
  const OpenSpec& spec() const { return spec_; }
  nb::object dtype() const { return dtype_; }
  nb::tuple shape() const { return shape_; }

  nb::object readable() const {
    if (readable_.ok()) return nb::none();
    return nb::str(readable_.message().c_str());
  }

  nb::object attrs() const {
    if (!attrs_.is_valid()) attrs_ = JsonToPython(info().attributes);
    return attrs_;
  }

  std::string encoding() {
    std::shared_ptr<array::ArrayHandle> h;
    {
      nb::gil_scoped_release release;
      h = ValueOrThrow(Handle());
    }
    return h->Last().array->DescribeEncoding();
  }

  nb::object mask_value() const {
    if (!info().mask_value) return nb::none();
    return ToBytes(*info().mask_value);
  }

  // Reads `ranges` into a new numpy array of the selection's shape (dropped dimensions removed).
  nb::object ReadRanges(const std::vector<array::DimRange>& ranges, int threads) {
    if (!readable_.ok()) {
      throw StatusError(readable_.WithContext("array '" + info().path + "'"));
    }
    nb::list shape;
    uint64_t elements = 1;
    for (const array::DimRange& r : ranges) {
      if (!r.drop) shape.append(r.count);
      elements *= static_cast<uint64_t>(r.count);
    }
    const size_t nbytes = static_cast<size_t>(elements) * info().element_size();
    nb::object buffer = np().empty(nbytes, np().uint8);
    if (nbytes > 0) {
      auto bytes = nb::cast<nb::ndarray<uint8_t, nb::ndim<1>, nb::c_contig>>(buffer);
      std::span<std::byte> out(reinterpret_cast<std::byte*>(bytes.data()), nbytes);
      MainThreadInterrupt interrupt;
      array::ReadIntoOptions options;
      options.threads = threads;
      options.max_bytes_in_flight = kReadBudget;
      options.cancelled = interrupt.Poll();
      Status st;
      {
        nb::gil_scoped_release release;
        st = Read(ranges, out, options);
      }
      interrupt.RaiseIfInterrupted();
      ThrowIfError(st);
    }
    return buffer.attr("view")(dtype_).attr("reshape")(nb::tuple(shape));
  }

  nb::object GetItem(nb::handle key) { return ReadRanges(KeyToRanges(key, info().shape), 0); }

  nb::object ReadTuples(const nb::sequence& ranges, int threads) {
    return ReadRanges(TuplesToRanges(ranges, info().rank()), threads);
  }

  nb::tuple PreferredChunks(uint64_t min_bytes, uint64_t target_bytes, uint64_t max_bytes) const {
    array::BlockOptions o;
    o.min_bytes = min_bytes;
    o.target_bytes = target_bytes;
    o.max_bytes = max_bytes;
    return ToTuple(ValueOrThrow(array::PreferredBlockShape(info(), o)));
  }

  // The decoded coordinate of dimension `dim` seen from this array's group (CF-decoded as
  // xarray decodes it: datetime64[ns] for CF times, the CF-decoded dtype otherwise), or None.
  nb::object Coordinate(const std::string& dim) {
    std::shared_ptr<const array::Dataset::CoordinateData> data;
    std::string numpy_type;
    {
      nb::gil_scoped_release release;
      std::shared_ptr<array::ArrayHandle> handle = ValueOrThrow(Handle());
      array::ArrayHandle::Pinned pinned = ValueOrThrow(handle->Current());
      const array::ArraySource* c =
          pinned.dataset->CoordinateOf(array::Dataset::GroupOf(info().path), dim);
      if (c != nullptr) {
        // The coordinate may have been rewritten while this array was not.
        std::shared_ptr<array::ArrayHandle> coordinate = ValueOrThrow(array::ArrayHandle::Make(
            array::DatasetCache::Default(), spec_.Key(), spec_.Opener(), pinned.dataset,
            c->info().path));
        array::ArrayHandle::Pinned current = ValueOrThrow(coordinate->Current());
        data = ValueOrThrow(
            current.dataset->ReadCoordinate(*current.array, *runtime::Context::Default()));
        if (data->decoded.kind == array::Coordinate::Kind::kNumeric) {
          const array::CfMaskAndScale cf =
              ValueOrThrow(array::ResolveCfMaskAndScale(current.array->info()));
          array::ElementType t;
          t.storage = cf.decoded;
          numpy_type = array::NumpyTypeString(t);
        }
      }
    }
    if (!data) return nb::none();
    const array::Coordinate& decoded = data->decoded;
    if (decoded.kind == array::Coordinate::Kind::kDatetime) {
      nb::object out = np().empty(decoded.datetime_ns.size(), np().dtype("<M8[ns]"));
      nb::object raw = out.attr("view")(np().dtype("<i8"));
      auto v = nb::cast<nb::ndarray<int64_t, nb::ndim<1>, nb::c_contig>>(raw);
      std::copy(decoded.datetime_ns.begin(), decoded.datetime_ns.end(), v.data());
      return out;
    }
    nb::object out = np().empty(decoded.numeric.size(), np().dtype("<f8"));
    auto v = nb::cast<nb::ndarray<double, nb::ndim<1>, nb::c_contig>>(out);
    std::copy(decoded.numeric.begin(), decoded.numeric.end(), v.data());
    if (numpy_type != "<f8") return out.attr("astype")(np().dtype(numpy_type.c_str()));
    return out;
  }

  // What a pickled handle carries: how to open the dataset, and what the array was (checked on
  // the other side: a handle never silently reads another array).
  nb::tuple State() const {
    const array::ArrayInfo& i = info();
    const array::ElementType& e = i.element;
    nb::tuple element = nb::make_tuple(static_cast<int>(e.kind), static_cast<int>(e.storage),
                                       static_cast<int>(e.endian), e.item_size, e.time_unit,
                                       e.time_scale, e.name);
    return nb::make_tuple(spec_.ToTuple(), i.path, i.shape, i.dims, element,
                          internal::DumpJson(i.attributes, -1), ToBytes(i.fill_value), mask_value());
  }

 private:
  // The native handle, opened at first use for an unpickled one. Call without the GIL.
  Result<std::shared_ptr<array::ArrayHandle>> Handle() {
    std::lock_guard lock(*mu_);
    if (!handle_) {
      LSIO_ASSIGN_OR_RETURN(handle_,
                            array::ArrayHandle::Reopen(array::DatasetCache::Default(),
                                                       spec_.Key(), spec_.Opener(), info_));
    }
    return handle_;
  }

  Status Read(const std::vector<array::DimRange>& ranges, std::span<std::byte> out,
              const array::ReadIntoOptions& options) {
    LSIO_ASSIGN_OR_RETURN(std::shared_ptr<array::ArrayHandle> handle, Handle());
    LSIO_ASSIGN_OR_RETURN(array::ArrayHandle::Pinned pinned, handle->Current());
    return array::ReadInto(*pinned.array, ranges, out, *runtime::Context::Default(), options);
  }

  OpenSpec spec_;
  array::ArrayInfo info_;
  std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
  std::shared_ptr<array::ArrayHandle> handle_;
  Status readable_;
  nb::object dtype_;
  nb::tuple shape_;
  mutable nb::object attrs_;
};

class DatasetHandle {
 public:
  DatasetHandle(OpenSpec spec, std::shared_ptr<const array::Dataset> dataset)
      : spec_(std::move(spec)), dataset_(std::move(dataset)) {}

  const OpenSpec& spec() const { return spec_; }
  std::string location() const { return dataset_->location(); }
  std::string format() const { return dataset_->source().format_name(); }
  std::vector<std::string> groups() const { return dataset_->source().groups(); }

  std::vector<std::string> arrays() const {
    std::vector<std::string> out;
    for (const array::ArraySource* a : dataset_->Arrays()) out.push_back(a->info().path);
    return out;
  }

  nb::object group_attrs(const std::string& path) const {
    return JsonToPython(dataset_->source().group_attributes(path));
  }

  bool is_coordinate(const std::string& path) const {
    return dataset_->IsCoordinate(*ValueOrThrow(dataset_->FindArray(path)));
  }

  ArrayHandle array(const std::string& path) const {
    return ArrayHandle(spec_, ValueOrThrow(array::ArrayHandle::Make(
                                  array::DatasetCache::Default(), spec_.Key(), spec_.Opener(),
                                  dataset_, path)));
  }

 private:
  OpenSpec spec_;
  std::shared_ptr<const array::Dataset> dataset_;
};

OpenSpec MakeSpec(std::string location, std::string io, bool consolidated,
                  std::map<std::string, std::string> storage_options) {
  ValueOrThrow(io::ParseBackend(io));  // a clear error before anything is opened
  return OpenSpec{std::move(location), std::move(io), consolidated, std::move(storage_options)};
}

// An explicit open: the dataset as the store holds it now (replacing what the cache had).
DatasetHandle OpenDatasetHandle(std::string location, std::string io, bool consolidated,
                                std::map<std::string, std::string> storage_options) {
  OpenSpec spec = MakeSpec(std::move(location), std::move(io), consolidated,
                           std::move(storage_options));
  std::shared_ptr<const array::Dataset> dataset;
  {
    nb::gil_scoped_release release;
    dataset = ValueOrThrow(array::DatasetCache::Default().Reload(spec.Key(), spec.Opener()));
  }
  return DatasetHandle(std::move(spec), std::move(dataset));
}

// The other side of ArrayHandle::State: a handle whose first use finds the dataset in the
// process-wide cache (opened once per process) and checks the array against what the handle
// described.
ArrayHandle ReopenArrayHandle(const nb::tuple& state) {
  if (state.size() != 8) throw StatusError(InvalidArgumentError("malformed lsio array state"));
  nb::tuple s = nb::cast<nb::tuple>(state[0]);
  OpenSpec spec =
      MakeSpec(nb::cast<std::string>(s[0]), nb::cast<std::string>(s[1]), nb::cast<bool>(s[2]),
               nb::cast<std::map<std::string, std::string>>(s[3]));
  array::ArrayInfo expected;
  expected.path = nb::cast<std::string>(state[1]);
  expected.shape = nb::cast<std::vector<int64_t>>(state[2]);
  expected.dims = nb::cast<std::vector<std::string>>(state[3]);
  nb::tuple e = nb::cast<nb::tuple>(state[4]);
  expected.element.kind = static_cast<array::DataTypeKind>(nb::cast<int>(e[0]));
  expected.element.storage = static_cast<DataType>(nb::cast<int>(e[1]));
  expected.element.endian = static_cast<Endian>(nb::cast<int>(e[2]));
  expected.element.item_size = nb::cast<size_t>(e[3]);
  expected.element.time_unit = nb::cast<std::string>(e[4]);
  expected.element.time_scale = nb::cast<int64_t>(e[5]);
  expected.element.name = nb::cast<std::string>(e[6]);
  const std::string attrs = nb::cast<std::string>(state[5]);
  Result<nlohmann::json> parsed = internal::ParseJson(attrs, "lsio array state");
  if (parsed.ok()) expected.attributes = *std::move(parsed);
  if (!parsed.ok()) {
    throw StatusError(InvalidArgumentError("malformed lsio array state (attributes)"));
  }
  expected.fill_value = FromBytes(nb::cast<nb::bytes>(state[6]));
  if (!state[7].is_none()) expected.mask_value = FromBytes(nb::cast<nb::bytes>(state[7]));
  return ArrayHandle(std::move(spec), std::move(expected));
}

}  // namespace

void RegisterArrayBindings(nb::module_& m) {
  nb::class_<ArrayHandle>(m, "ArrayHandle",
                          "One array of an opened dataset (use lsio.open; lsio.Array wraps it).")
      .def_prop_ro("path", [](const ArrayHandle& a) { return a.info().path; })
      .def_prop_ro("location", [](const ArrayHandle& a) { return a.spec().location; })
      .def_prop_ro("spec", [](const ArrayHandle& a) { return a.spec().ToTuple(); },
                   "(location, io, consolidated, storage_options): how the dataset was opened.")
      .def_prop_ro("shape", &ArrayHandle::shape)
      .def_prop_ro("dtype", &ArrayHandle::dtype)
      .def_prop_ro("dims", [](const ArrayHandle& a) { return a.info().dims; })
      .def_prop_ro("chunks", [](const ArrayHandle& a) { return ToTuple(a.info().chunk_shape); },
                   "The unit of decoding (inner chunks when sharded).")
      .def_prop_ro("storage_chunks",
                   [](const ArrayHandle& a) { return ToTuple(a.info().storage_chunk_shape); },
                   "The unit of storage (shards when sharded).")
      .def_prop_ro("attrs", &ArrayHandle::attrs)
      .def_prop_ro("fill_value",
                   [](const ArrayHandle& a) { return ToBytes(a.info().fill_value); },
                   "One element, native byte order.")
      .def_prop_ro("mask_value", &ArrayHandle::mask_value,
                   "A fill value of the format's own that xarray masks as _FillValue (Zarr v2), "
                   "as bytes, or None.")
      .def_prop_ro("fill_value_attr_base64",
                   [](const ArrayHandle& a) {
                     return a.info().fill_value_attr ==
                            array::FillValueAttrEncoding::kBase64Double;
                   })
      .def_prop_ro("encoding", &ArrayHandle::encoding, "How chunks are stored (codecs).")
      .def_prop_ro("readable", &ArrayHandle::readable,
                   "None, or why the array's elements cannot be read.")
      .def("__getitem__", &ArrayHandle::GetItem, "key"_a,
           "numpy basic indexing (ints, slices, Ellipsis); reads with the GIL released.")
      .def("read", &ArrayHandle::ReadTuples, "ranges"_a, "threads"_a = 0,
           "Reads (start, step, count, drop) per dimension.")
      .def("preferred_chunks", &ArrayHandle::PreferredChunks, "min_bytes"_a, "target_bytes"_a,
           "max_bytes"_a, "Block shape for dask (array::PreferredBlockShape).")
      .def("coordinate", &ArrayHandle::Coordinate, "dim"_a,
           "The decoded coordinate of a dimension, or None.")
      .def("state", &ArrayHandle::State, "What reopen_array needs (pickling).");

  nb::class_<DatasetHandle>(m, "DatasetHandle", "An opened dataset (use lsio.open).")
      .def_prop_ro("location", &DatasetHandle::location)
      .def_prop_ro("spec", [](const DatasetHandle& d) { return d.spec().ToTuple(); })
      .def_prop_ro("format", &DatasetHandle::format)
      .def("groups", &DatasetHandle::groups)
      .def("arrays", &DatasetHandle::arrays)
      .def("group_attrs", &DatasetHandle::group_attrs, "path"_a)
      .def("is_coordinate", &DatasetHandle::is_coordinate, "path"_a)
      .def("array", &DatasetHandle::array, "path"_a);

  m.def("open_dataset", &OpenDatasetHandle, "location"_a, "io"_a = "auto",
        "consolidated"_a = true,
        "storage_options"_a = std::map<std::string, std::string>{},
        "Opens the dataset at `location` (as the store holds it now) into the process-wide "
        "dataset cache.");
  m.def("reopen_array", &ReopenArrayHandle, "state"_a,
        "An ArrayHandle from ArrayHandle.state(): its dataset from the process-wide cache "
        "(opened once per process), the array checked against the state.");
  m.def("dataset_cache_opens", [] { return array::DatasetCache::Default().opens(); },
        "How many times this process opened a dataset for handles (tests).");
}

}  // namespace lsio::python
