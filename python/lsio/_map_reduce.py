"""lsio.map_reduce and lsio.map_blocks: your own function on every chunk, run on lsio's workers
while the reads and decodes of later chunks go on."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import _lsio
from ._run import run_cancellable
from ._selection import selectors
from ._stats import parse_size

__all__ = ["map_reduce", "map_blocks", "Region", "C_MAP_SIGNATURE", "C_COMBINE_SIGNATURE"]


class Region:
    """Where a block lies in the array.

    Attributes
    ----------
    ordinal: the chunk's number, 0, 1, ... in the C order of the selection's chunks.
    dims: the array's dimension names.
    index: per array dimension, a ``slice`` of array indices (an ``int`` for a dimension
        selected by a scalar, which the block does not have): ``array[region.index]`` is the
        block.
    out_index: the same as positions in the selection (what ``lsio.open(...)[...][sel]``
        would return; dropped dimensions omitted): ``selected[region.out_index]`` is the block.
    coords: ``{dim: values}`` of the block's coordinate values for the dimensions that have a
        coordinate variable (datetime64 for CF times), a scalar for dropped dimensions.
    """

    __slots__ = ("ordinal", "dims", "index", "out_index", "_raw", "_coords", "_coord_cache")

    def __init__(self, ordinal: int, dims: Sequence[str], raw: tuple, coords: Mapping):
        self.ordinal = ordinal
        self.dims = tuple(dims)
        self._raw = raw
        self._coords = coords
        self._coord_cache = None
        index: list[Any] = []
        out: list[slice] = []
        for start, step, count, out_start, dropped in raw:
            if dropped:
                index.append(start)
                continue
            last = start + (count - 1) * step
            stop = last + (1 if step > 0 else -1)
            index.append(slice(start, None if stop < 0 else stop, step))
            out.append(slice(out_start, out_start + count))
        self.index = tuple(index)
        self.out_index = tuple(out)

    @property
    def coords(self) -> dict[str, Any]:
        if self._coord_cache is None:
            c = {}
            for dim, i in zip(self.dims, self.index):
                values = self._coords.get(dim)
                if values is not None:
                    c[dim] = values[i]
            self._coord_cache = c
        return self._coord_cache

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(count for _, _, count, _, dropped in self._raw if not dropped)

    def __repr__(self) -> str:
        parts = []
        for dim, i in zip(self.dims, self.index):
            if isinstance(i, slice):
                step = "" if i.step == 1 else f":{i.step}"
                parts.append(f"{dim}={i.start}:{'' if i.stop is None else i.stop}{step}")
            else:
                parts.append(f"{dim}={i}")
        return f"<lsio.Region chunk {self.ordinal}: {', '.join(parts)}>"


def _location(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        p = os.fspath(source)
        if "://" not in p and not any(c in p for c in "*?[") and not os.path.exists(p):
            raise FileNotFoundError(2, "No such file or directory", p)
        return p
    store_path = getattr(source, "store_path", None)  # an lsio.Group
    if isinstance(store_path, str):
        return store_path
    raise TypeError(f"source: a path or an lsio.Group, not {type(source).__name__}")


def _coordinates(path: str, var_path: str, dims: Sequence[str], io: str) -> dict:
    """The decoded 1-D coordinates of `dims` as xarray decodes them (read once, before the run:
    a function must not call into lsio from lsio's own workers)."""
    root = _lsio.open_dataset(path, io=io)
    handle = root.array(var_path)
    out = {}
    for dim in dims:
        c = handle.coordinate(dim)
        if c is not None:
            out[dim] = c
    return out


# The C ABI of map_reduce's C functions (include/lsio/ops/c_map_reduce.h), as numba signatures
# would spell them; used to check a numba cfunc's signature before its address is called.
C_MAP_SIGNATURE = "int32(voidptr, CPointer(int64), CPointer(int64), int32, int32, voidptr)"
C_COMBINE_SIGNATURE = "int32(voidptr, voidptr)"


def _c_address(fn: Any, what: str, nargs: int) -> int | None:
    """The address of a C function given as a numba ``cfunc``, a ctypes function pointer or a
    cffi function; None for anything else (a Python callable). Checks the signature where the
    object declares one."""
    import ctypes

    if isinstance(fn, ctypes._CFuncPtr):
        argtypes = getattr(fn, "argtypes", None)
        if argtypes is not None and len(argtypes) != nargs:
            raise TypeError(f"map_reduce: the C {what} function takes {len(argtypes)} arguments; "
                            f"the signature is {_signature(what)}")
        if fn.restype not in (ctypes.c_int32, ctypes.c_int):
            raise TypeError(f"map_reduce: the C {what} function must return int32 (set "
                            f"restype = ctypes.c_int32); the signature is {_signature(what)}")
        return ctypes.cast(fn, ctypes.c_void_p).value
    if "_cffi_backend" in sys.modules and type(fn).__module__ == "_cffi_backend":
        import cffi

        ffi = cffi.FFI()
        if not isinstance(fn, ffi.CData):
            return None
        ctype = ffi.typeof(fn)
        if ctype.kind != "function":
            raise TypeError(f"map_reduce: {what}: a cffi {ctype.cname}, not a function")
        if len(ctype.args) != nargs or ctype.result.cname not in ("int32_t", "int"):
            raise TypeError(f"map_reduce: the C {what} function is {ctype.cname}; the signature "
                            f"is {_signature(what)}")
        return int(ffi.cast("uintptr_t", fn))
    address = getattr(fn, "address", None)
    sig = getattr(fn, "_sig", None)
    if isinstance(address, int) and sig is not None and hasattr(fn, "native_name"):  # numba
        from numba.core import sigutils

        want = C_MAP_SIGNATURE if what == "map" else C_COMBINE_SIGNATURE
        args, ret = sigutils.normalize_signature(want)
        if tuple(sig.args) != tuple(args) or sig.return_type != ret:
            raise TypeError(f"map_reduce: the numba cfunc for {what} has the signature {sig}; "
                            f"lsio calls it as {want}")
        return address
    return None


def _signature(what: str) -> str:
    if what == "map":
        return ("int32_t map(const void* data, const int64_t* shape, const int64_t* origin, "
                "int32_t ndim, int32_t dtype, void* result)")
    return "int32_t combine(void* earlier, const void* later)"


class _Calls:
    """The function as the extension calls it, remembering the first exception it raised (the
    caller re-raises that one, not the extension's summary of it)."""

    def __init__(self, fn: Callable, dims: Sequence[str], coords: Mapping, check=None):
        self.fn = fn
        self.dims = dims
        self.coords = coords
        self.check = check
        self.error: tuple[BaseException, Region] | None = None

    def __call__(self, block: np.ndarray, ordinal: int, raw: tuple):
        region = Region(ordinal, self.dims, raw, self.coords)
        try:
            result = self.fn(block, region)
            if self.check is not None:
                result = self.check(result, block, region)
            return result
        except BaseException as e:
            if self.error is None:
                self.error = (e, region)
            raise


def _reraise(calls: _Calls, what: str, var: str) -> None:
    if calls.error is not None:
        e, region = calls.error
        e.add_note(f"lsio.{what}: raised by the function on variable '{var}', {region!r}")
        raise e


def _progress_bar(progress: bool, what: str):
    if not progress:
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=0, unit="B", unit_scale=True, desc=f"lsio {what}")

    def callback(done, total, chunks_done, chunks_total):
        if bar.total != total:
            bar.reset(total=total)
        bar.n = done
        bar.set_postfix_str(f"chunks {chunks_done}/{chunks_total}", refresh=False)
        bar.refresh()
    return bar, callback


def map_reduce(source: Any, var: str | None, fn: Callable[[np.ndarray, Region], Any],
               combine: Callable[[Any, Any], Any], *,
               result: Any = None,
               sel: Mapping[str, Any] | None = None,
               isel: Mapping[str, Any] | None = None,
               threads: int | None = None,
               progress: bool = False,
               max_memory: int | str | None = None,
               io: str = "auto") -> Any:
    """Applies ``fn(block, region)`` to every chunk of a variable and combines the results.

    Parameters
    ----------
    source: the dataset (a path or URL as ``lsio.open`` takes, or an ``lsio.Group``).
    var: the variable's path; None when the dataset has one data variable.
    fn: called once per chunk with ``block``, the chunk's part of the selection as a numpy
        array (the values as stored: no CF masking or scaling, as ``lsio.open(...)[var][...]``
        returns them; a missing chunk is its fill value), and ``region`` (:class:`Region`:
        where the block lies, with its coordinate values). Returns any value. Calls run on
        lsio's CPU workers, several at once, while reads and decodes continue: numpy releases
        the GIL inside its kernels, and a numba function compiled with ``nogil=True`` runs
        without it, so such functions run truly in parallel. ``block`` may be kept. ``fn``
        should not call lsio itself (it runs on the workers such a call would wait for); read
        what it needs before the call (``region.coords`` has the block's coordinates).
    combine: ``combine(a, b)`` merges two results, ``a`` from earlier chunks than ``b``. It
        must be associative; results are combined as a balanced tree over the chunks in chunk
        order, so the answer is the same for any thread count and any order of completion.
        Calls are serialised.
    result: with C functions only: the numpy dtype of the result (``"i8"``, ``("f8", 2)``,
        a structured dtype, ...; anything ``numpy.dtype`` takes).
    sel, isel: selections as ``lsio.stats`` takes them.
    threads: CPU workers (default: one per core).
    progress: a tqdm progress bar.
    max_memory: budget for data in flight and decoded chunks (default "256MiB"); results
        waiting for an earlier chunk's are held in memory on top of it.

    C functions
    -----------
    ``fn`` and ``combine`` may instead both be C functions: numba ``cfunc`` objects, ctypes
    function pointers or cffi functions, with these signatures (``lsio.C_MAP_SIGNATURE`` and
    ``lsio.C_COMBINE_SIGNATURE`` in numba's spelling)::

        int32_t map(const void* data, const int64_t* shape, const int64_t* origin,
                    int32_t ndim, int32_t dtype, void* result);
        int32_t combine(void* earlier, const void* later);

    They are called straight from lsio's C++ workers, with no GIL at all and nothing
    allocated per call but the result. ``map`` gets the block's values (``prod(shape)``
    elements, C order, contiguous, the storage type in native byte order), its shape and its
    origin (the position of its first element in the selection) over ``ndim`` dimensions,
    ``dtype`` as numpy's type number (``numpy.dtype(...).num``: 11 float32, 12 float64, 7
    int64, ...) and ``result``: ``result.itemsize`` zeroed bytes to write this block's result
    into. ``combine`` merges ``later`` into ``earlier`` in place, in chunk order as above.
    Either returns 0, or an error code that stops the run: the call raises
    :class:`lsio.errors.InvalidArgumentError` naming the variable, the chunk and the code.
    The pointers are valid only during the call. In numba::

        @numba.cfunc(lsio.C_MAP_SIGNATURE, nogil=True)
        def count(data, shape, origin, ndim, dtype, out):
            n = 1
            for d in range(ndim):
                n *= shape[d]
            v = numba.carray(data, (n,), np.float32)
            c = numba.carray(out, (1,), np.int64)
            for x in v:
                c[0] += x > 15
            return 0

        @numba.cfunc(lsio.C_COMBINE_SIGNATURE, nogil=True)
        def add(a, b):
            numba.carray(a, (1,), np.int64)[0] += numba.carray(b, (1,), np.int64)[0]
            return 0

        lsio.map_reduce("data.zarr", "t2m", count, add, result="i8")

    Returns
    -------
    The combination of every chunk's result; None when the selection is empty. With C
    functions: a numpy scalar of ``result``'s dtype (an array for a subarray dtype, a record
    for a structured one).

    Raises
    ------
    The exception ``fn`` or ``combine`` raised (the run stops at the first; a note names the
    variable and chunk); KeyboardInterrupt on Ctrl-C (the run stops after the calls in
    progress and leaves no threads behind); lsio.errors.Error subclasses for read errors,
    naming the chunk and file.
    """
    path = _location(source)
    io_name = io
    sels = selectors(isel=isel, sel=sel)
    c_map = _c_address(fn, "map", 6)
    c_combine = _c_address(combine, "combine", 2)
    if c_map is not None or c_combine is not None:
        if c_map is None or c_combine is None:
            raise TypeError("map_reduce: fn and combine must both be C functions (numba cfunc, "
                            "ctypes or cffi) or both Python callables")
        if result is None:
            raise TypeError("map_reduce: with C functions, give result= (the numpy dtype of "
                            "the result the functions write)")
        rdtype = np.dtype(result)
        if rdtype.itemsize == 0 or rdtype.hasobject:
            raise TypeError(f"map_reduce: result dtype {rdtype} has no fixed-size bytes")
        bar, callback = _progress_bar(progress, "map_reduce")
        try:
            raw = run_cancellable(_lsio.map_reduce_c, path, var or "", sels, c_map, c_combine,
                                  rdtype.itemsize, int(threads or 0), parse_size(max_memory),
                                  io_name, callback)
        finally:
            if bar is not None:
                bar.close()
        if raw is None:
            return None
        return np.frombuffer(raw, dtype=rdtype)[0].copy()
    if result is not None:
        raise TypeError("map_reduce: result= is for C functions only")
    var_path, dims, _, _ = _lsio.describe_selection(path, var or "", sels, io_name)
    coords = _coordinates(path, var_path, dims, io_name)
    calls = _Calls(fn, dims, coords)

    def merge(a, b):
        try:
            return combine(a, b)
        except BaseException as e:
            if calls.error is None:
                e.add_note(f"lsio.map_reduce: raised by combine on variable '{var_path}'")
                calls.error = (e, None)
            raise

    bar, callback = _progress_bar(progress, "map_reduce")
    try:
        result, _ = run_cancellable(_lsio.map_reduce, path, var or "", sels, calls, merge,
                                    int(threads or 0), parse_size(max_memory), io_name, callback)
    except BaseException as e:
        if calls.error is not None and not isinstance(e, KeyboardInterrupt):
            err, region = calls.error
            if region is None:
                raise err from None
            _reraise(calls, "map_reduce", var_path)
        raise
    finally:
        if bar is not None:
            bar.close()
    return result


def map_blocks(source: Any, var: str | None, fn: Callable[[np.ndarray, Region], np.ndarray], *,
               out: str | os.PathLike,
               dtype: Any = None,
               chunks: Sequence[int] | Mapping[str, int] | None = None,
               sel: Mapping[str, Any] | None = None,
               isel: Mapping[str, Any] | None = None,
               name: str | None = None,
               zarr_format: int = 3,
               codecs: str = "zstd:3",
               overwrite: bool = False,
               threads: int | None = None,
               progress: bool = False,
               max_memory: int | str | None = None,
               io: str = "auto") -> dict:
    """Writes ``fn(block, region)`` of every chunk of a variable as a new Zarr store.

    ``fn`` gets blocks as in :func:`map_reduce` and returns an array of the block's shape. The
    output at ``out`` (a new Zarr v3 store by default, ``zarr_format=2`` for v2) holds the
    variable (named ``name``, default the input's) over the selection's dimensions, the
    coordinates of those dimensions (their selected values, as stored, with their attributes:
    xarray decodes them as the input's), the variable's and its group's attributes. It is
    written chunk by chunk in bounded memory and appears only when complete (nothing is left
    at ``out`` when the run fails); an existing ``out`` is an error unless ``overwrite``.

    dtype: the output's dtype (default: the input's). A result of another dtype is converted
        when numpy's ``same_kind`` casting allows it, else the run fails naming the chunk.
    chunks: output chunk shape, a tuple over the output's dimensions or ``{dim: size}``
        (default: the input's chunks, so every block is one output chunk).
    codecs: compression as ``lsio stats --out-codec`` takes it ("zstd:3", "none", "blosc", ...).

    Returns a dict: the variable written, its dims, shape and chunks, the coordinates written,
    bytes read and processed, seconds.
    """
    path = _location(source)
    sels = selectors(isel=isel, sel=sel)
    var_path, dims, ranges, in_dtype = _lsio.describe_selection(path, var or "", sels, io)
    out_dims = [d for d, r in zip(dims, ranges) if not r[3]]
    out_dtype = np.dtype(in_dtype if dtype is None else dtype)
    if out_dtype.byteorder == ">":
        out_dtype = out_dtype.newbyteorder("<")
    chunk_list: list[int] = []
    if chunks is not None:
        if isinstance(chunks, Mapping):
            unknown = set(chunks) - set(out_dims)
            if unknown:
                raise KeyError(f"chunks: no output dimension {sorted(unknown)} "
                               f"(dimensions: {out_dims})")
            defaults = _default_chunks(path, var_path, ranges)
            chunk_list = [int(chunks.get(d, c)) for d, c in zip(out_dims, defaults)]
        else:
            chunk_list = [int(c) for c in chunks]
    coords = _coordinates(path, var_path, dims, io)

    def check(result, block, region):
        a = np.asarray(result)
        if a.shape != block.shape:
            raise ValueError(f"map_blocks: the function returned shape {a.shape} for a block of "
                             f"shape {block.shape}")
        if a.dtype != out_dtype:
            if not np.can_cast(a.dtype, out_dtype, casting="same_kind"):
                raise TypeError(f"map_blocks: the function returned {a.dtype}, which does not "
                                f"cast safely to the output dtype {out_dtype}; pass dtype=")
            a = a.astype(out_dtype)
        return np.ascontiguousarray(a)

    calls = _Calls(fn, dims, coords, check=check)
    bar, callback = _progress_bar(progress, "map_blocks")
    try:
        summary = run_cancellable(
            _lsio.map_blocks, path, var or "", sels, calls, os.fspath(out), out_dtype.str,
            chunk_list, name or "", int(zarr_format), codecs, bool(overwrite),
            int(threads or 0), parse_size(max_memory), io, callback)
    except BaseException as e:
        if calls.error is not None and not isinstance(e, KeyboardInterrupt):
            _reraise(calls, "map_blocks", var_path)
        raise
    finally:
        if bar is not None:
            bar.close()
    return summary


def _default_chunks(path: str, var_path: str, ranges) -> list[int]:
    handle = _lsio.open_dataset(path).array(var_path)
    return [max(1, min(c, r[2])) for c, r in zip(handle.chunks, ranges) if not r[3]]
